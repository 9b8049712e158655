"""Shared fixtures for the Python test suite.

Every test runs with its own data, decoded-cache and metadata folders (set
through the environment, so subprocesses inherit them) and leaves
``DATASET_CACHE`` empty. The generators below write datasets in their real
on-disk formats (MNIST IDX, CIFAR python pickles and binary batches, the
archives the mirrors serve) from seeded random pixels, and return the arrays
they wrote so tests can compare what the library loads against an independent
numpy computation.
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import io
import os
import pickle
import shutil
import socket
import struct
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

# Point the data, decoded-cache and metadata folders at a throwaway place
# before anything loads the library (the Go core can snapshot its environment
# at load time): no test may read or write the user's real caches. The
# autouse fixture below then gives every test folders of its own.
_ENV_DIRS = (
    ("DATA_DIR", "data"),
    ("SND_CACHE_DIR", "decoded"),
    ("SND_METADATA_DIR", "metadata"),
    ("SND_CHROMA_DIR", "chroma"),
    ("SND_TIMESERIES_DIR", "timeseries"),
)
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="snd-tests-"))
atexit.register(shutil.rmtree, _SESSION_DIR, ignore_errors=True)
for _var, _sub in _ENV_DIRS:
    os.environ[_var] = str(_SESSION_DIR / _sub)

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)


# ---- environment isolation ---------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Per-test DATA_DIR / SND_CACHE_DIR / SND_METADATA_DIR, and an empty DATASET_CACHE afterwards."""
    base = tmp_path_factory.mktemp("env")
    for var, sub in _ENV_DIRS:
        (base / sub).mkdir()
        monkeypatch.setenv(var, str(base / sub))
    yield
    from structure_net_data import factory

    factory.clear_dataset_cache()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty torchvision-style data root."""
    d = tmp_path / "data"
    d.mkdir()
    return d


# ---- expected values -----------------------------------------------------------


def normalize(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(x/255 - mean)/std per channel of uint8 NCHW images, in float32 like ToTensor + Normalize."""
    m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    return (images.astype(np.float32) / np.float32(255) - m) / s


def denormalize(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """Inverse of :func:`normalize`, rounded back to uint8 (exact for unaugmented samples)."""
    m = np.asarray(mean, dtype=np.float64).reshape(1, -1, 1, 1)
    s = np.asarray(std, dtype=np.float64).reshape(1, -1, 1, 1)
    return np.rint((np.asarray(images, dtype=np.float64) * s + m) * 255).clip(0, 255).astype(np.uint8)


def md5_of(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# ---- MNIST IDX -----------------------------------------------------------------


@dataclass
class Split:
    images: np.ndarray  # uint8 NCHW
    labels: np.ndarray  # int64
    coarse: np.ndarray | None = None


@dataclass
class Generated:
    train: Split
    test: Split
    files: list[Path] = field(default_factory=list)

    def split(self, name: str) -> Split:
        return self.train if name == "train" else self.test


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: magic 0x0803 (images) or 0x0801 (labels), big-endian dims, bytes."""
    array = np.asarray(array, dtype=np.uint8)
    magic = {3: 0x00000803, 1: 0x00000801}[array.ndim]
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def write_mnist(
    root: Path, n_train: int = 300, n_test: int = 100, *, gz: bool = False, seed: int = 0, size: int = 28
) -> Generated:
    """Writes random digits as root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    files = []
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            path = raw / f"{prefix}-{kind}-ubyte"
            data = idx_bytes(arr)
            if gz:
                path = path.with_name(path.name + ".gz")
                data = gzip.compress(data, mtime=0)
            path.write_bytes(data)
            files.append(path)
        out[split] = Split(images[:, None, :, :], labels.astype(np.int64))
    return Generated(out["train"], out["test"], files)


def read_idx(path: Path) -> np.ndarray:
    """An independent IDX reader (raw or .gz) for checking files other code wrote."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic = struct.unpack(">I", data[:4])[0]
    assert magic >> 8 == 0x08, f"{path}: not an unsigned-byte IDX file (magic {magic:#x})"
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim :], dtype=np.uint8).reshape(dims)


# ---- CIFAR -----------------------------------------------------------------------


def _cifar_images(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)


def cifar_pickle_bytes(entry: dict, *, bytes_keys: bool = True) -> bytes:
    """Pickles a batch dict at protocol 2, as the official files are.

    With ``bytes_keys`` the keys are ``b'data'`` etc. (what ``pickle.load(f,
    encoding='bytes')`` returns for the official files); otherwise ``str`` keys
    (what torchvision's ``encoding='latin1'`` load returns).
    """
    if bytes_keys:
        entry = {k.encode(): (v.encode() if isinstance(v, str) else v) for k, v in entry.items()}
    return pickle.dumps(entry, protocol=2)


def write_cifar10(
    root: Path, per_batch: int = 20, n_test: int = 30, *, seed: int = 0, binary: bool = False, bytes_keys: bool = True
) -> Generated:
    """CIFAR-10 in torchvision's python layout (cifar-10-batches-py/data_batch_1..5, test_batch)
    or, with ``binary``, the binary layout (cifar-10-batches-bin/*.bin: 1 label byte + 3072 pixels)."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / ("cifar-10-batches-bin" if binary else "cifar-10-batches-py")
    folder.mkdir(parents=True, exist_ok=True)
    parts: dict[str, list] = {"train": [], "test": []}
    files = []
    for name, n, split in [(f"data_batch_{i}", per_batch, "train") for i in range(1, 6)] + [
        ("test_batch", n_test, "test")
    ]:
        images = _cifar_images(rng, n)
        labels = rng.integers(0, 10, size=n).astype(np.int64)
        if binary:
            path = folder / f"{name}.bin"
            records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(n, -1)], axis=1)
            path.write_bytes(records.tobytes())
        else:
            path = folder / name
            entry = {
                "batch_label": f"{name} of 5",
                "labels": [int(v) for v in labels],
                "data": images.reshape(n, 3072),
                "filenames": [f"img_{i}.png" for i in range(n)],
            }
            path.write_bytes(cifar_pickle_bytes(entry, bytes_keys=bytes_keys))
        files.append(path)
        parts[split].append((images, labels))
    if not binary:
        meta = {"num_cases_per_batch": per_batch, "label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}
        (folder / "batches.meta").write_bytes(cifar_pickle_bytes(meta, bytes_keys=bytes_keys))
    train = Split(np.concatenate([p[0] for p in parts["train"]]), np.concatenate([p[1] for p in parts["train"]]))
    test = Split(*parts["test"][0])
    return Generated(train, test, files)


def write_cifar100(
    root: Path, n_train: int = 100, n_test: int = 40, *, seed: int = 0, binary: bool = False
) -> Generated:
    """CIFAR-100 as cifar-100-python/{train,test} pickles with fine_labels and coarse_labels,
    or, with ``binary``, cifar-100-binary/{train,test}.bin (coarse byte, fine byte, 3072 pixels)."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / ("cifar-100-binary" if binary else "cifar-100-python")
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    files = []
    for split, n in (("train", n_train), ("test", n_test)):
        images = _cifar_images(rng, n)
        fine = rng.integers(0, 100, size=n).astype(np.int64)
        coarse = rng.integers(0, 20, size=n).astype(np.int64)
        if binary:
            path = folder / f"{split}.bin"
            records = np.concatenate(
                [coarse.astype(np.uint8)[:, None], fine.astype(np.uint8)[:, None], images.reshape(n, -1)], axis=1
            )
            path.write_bytes(records.tobytes())
        else:
            path = folder / split
            entry = {
                "filenames": [f"img_{i}.png" for i in range(n)],
                "batch_label": f"{split} batch",
                "fine_labels": [int(v) for v in fine],
                "coarse_labels": [int(v) for v in coarse],
                "data": images.reshape(n, 3072),
            }
            path.write_bytes(cifar_pickle_bytes(entry))
        files.append(path)
        out[split] = Split(images, fine, coarse)
    return Generated(out["train"], out["test"], files)


def make_tar_gz(archive: Path, root: Path, members: list[str]) -> Path:
    """Packs root/<member> folders into a .tar.gz, as the CIFAR mirrors serve them."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for m in members:
            tar.add(Path(root) / m, arcname=m)
    archive.write_bytes(buf.getvalue())
    return archive


# ---- a local HTTP mirror -------------------------------------------------------------


@dataclass
class HTTPMirror:
    """A static file server on 127.0.0.1 serving ``root``; ``requests`` logs the paths asked for."""

    root: Path
    url: str
    requests: list[str]


@pytest.fixture
def http_mirror(tmp_path: Path) -> Iterator[HTTPMirror]:
    root = tmp_path / "mirror"
    root.mkdir()
    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            requests.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield HTTPMirror(root, f"http://127.0.0.1:{server.server_address[1]}", requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def closed_port_url() -> str:
    """A URL on a local port nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mirror"


# ---- registry hygiene --------------------------------------------------------------------


@pytest.fixture
def unregister() -> Iterator[list[str]]:
    """Names appended to the yielded list are unregistered (config and Python loader) after the test."""
    names: list[str] = []
    yield names
    from structure_net_data import config, datasets

    for name in names:
        datasets._LOADERS.pop(name, None)
        try:
            config.unregister_dataset(name)
        except KeyError:
            pass


def collect(loader) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of a loader as (images, labels) numpy copies, concatenated."""
    images, labels = [], []
    for x, y in loader:
        images.append(x.numpy().copy())
        labels.append(y.numpy().copy())
    return np.concatenate(images), np.concatenate(labels)
