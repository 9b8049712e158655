"""Datasets through the real library: the registry, the file formats, the
decoded cache, bad input and downloads from a local mirror."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import structure_net_data as snd
import torch
from conftest import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    MNIST_MEAN,
    MNIST_STD,
    collect,
    idx_bytes,
    make_tar_gz,
    md5_of,
    normalize,
    write_cifar10,
    write_cifar100,
    write_mnist,
)
from structure_net_data import config as cfgmod
from structure_net_data import factory
from structure_net_data.errors import (
    ChecksumError,
    ConflictError,
    CorruptDataError,
    DatasetNotFoundError,
    InvalidArgumentError,
    NotFoundError,
    StructureNetDataError,
    UnavailableError,
)

BUILTINS = ["mnist", "cifar10", "cifar100", "imagenet"]
MEAN_STD = {"mnist": (MNIST_MEAN, MNIST_STD), "cifar10": (CIFAR10_MEAN, CIFAR10_STD)}
MEAN_STD["cifar100"] = (CIFAR100_MEAN, CIFAR100_STD)


def load(name: str, root: Path, **kw):
    kw.setdefault("download", False)
    kw.setdefault("progress", False)
    kw.setdefault("seed", 0)
    return snd.create_dataset(name, data_dir=root, **kw)


# ---- registry --------------------------------------------------------------------------


def test_builtin_names_in_order() -> None:
    names = snd.list_available_datasets()
    assert names[:4] == BUILTINS


@pytest.mark.parametrize(
    "name, shape, classes, n_train, n_test, batch, mean, std",
    [
        ("mnist", (1, 28, 28), 10, 60000, 10000, 128, (0.1307,), (0.3081,)),
        ("cifar10", (3, 32, 32), 10, 50000, 10000, 128, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
        ("cifar100", (3, 32, 32), 100, 50000, 10000, 128, (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
        ("imagenet", (3, 224, 224), 1000, 1281167, 50000, 256, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ],
)
def test_builtin_constants(name, shape, classes, n_train, n_test, batch, mean, std) -> None:
    c = snd.get_dataset_config(name)
    assert c.name == name
    assert c.input_shape == shape
    assert c.num_classes == classes
    assert (c.num_train_samples, c.num_test_samples) == (n_train, n_test)
    assert c.default_batch_size == batch
    assert c.mean == pytest.approx(mean) and c.std == pytest.approx(std)
    assert c.input_size == int(np.prod(shape))
    assert c.task_type == "classification" and c.full_name and c.description and c.version


def test_config_constants_match_registry() -> None:
    from structure_net_data.config import CIFAR10_CONFIG, IMAGENET_CONFIG, MNIST_CONFIG

    assert MNIST_CONFIG == snd.get_dataset_config("mnist")
    assert CIFAR10_CONFIG.input_size == 3072
    assert snd.CIFAR100_CONFIG.num_classes == 100
    assert IMAGENET_CONFIG.input_size == 3 * 224 * 224
    assert cfgmod.get_dataset_input_size("mnist") == 784
    assert cfgmod.get_dataset_num_classes("cifar100") == 100
    assert cfgmod.get_dataset_shape("cifar10") == (3, 32, 32)


def test_returned_config_is_a_copy() -> None:
    c = snd.get_dataset_config("cifar10")
    c.num_classes = 3
    c.metadata["classes"] = []
    fresh = snd.get_dataset_config("cifar10")
    assert fresh.num_classes == 10
    assert len(fresh.metadata["classes"]) == 10


def test_input_size_is_product_of_shape() -> None:
    assert snd.DatasetConfig("toy", input_shape=(3, 5, 7)).input_size == 105
    assert snd.DatasetConfig("flat", input_shape=(20,)).input_size == 20


def test_register_duplicate_replace_unregister(unregister) -> None:
    unregister.append("toy_reg")
    config = snd.DatasetConfig("toy_reg", "Toy", "tiny", (1, 4, 4), 3, 10, 5, metadata={"k": [1, 2]})
    snd.register_dataset(config)
    assert "toy_reg" in snd.list_available_datasets()
    got = snd.get_dataset_config("toy_reg")
    assert (got.full_name, got.input_shape, got.num_classes, got.metadata) == ("Toy", (1, 4, 4), 3, {"k": [1, 2]})

    with pytest.raises(ConflictError, match="toy_reg"):
        snd.register_dataset(snd.DatasetConfig("toy_reg", input_shape=(1, 4, 4), num_classes=7))
    assert snd.get_dataset_config("toy_reg").num_classes == 3  # the first registration is untouched

    snd.register_dataset(snd.DatasetConfig("toy_reg", input_shape=(1, 4, 4), num_classes=7), replace=True)
    assert snd.get_dataset_config("toy_reg").num_classes == 7
    assert snd.list_available_datasets().count("toy_reg") == 1

    snd.unregister_dataset("toy_reg")
    assert "toy_reg" not in snd.list_available_datasets()
    with pytest.raises(DatasetNotFoundError):
        snd.get_dataset_config("toy_reg")


def test_builtins_cannot_be_unregistered() -> None:
    with pytest.raises(InvalidArgumentError):
        snd.unregister_dataset("mnist")
    assert "mnist" in snd.list_available_datasets()


def test_create_custom_dataset_config_registers(unregister) -> None:
    unregister.append("custom_cfg")
    c = cfgmod.create_custom_dataset_config("custom_cfg", (3, 8, 8), 5, 100, 20)
    assert snd.get_dataset_config("custom_cfg") == c
    assert c.input_size == 192 and c.full_name == "Custom_Cfg"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "bad/name"}, "plain name"),
        ({"name": "neg", "mean": (0.5,), "std": (0.0,)}, "std"),
        ({"name": "meanlen", "mean": (0.1, 0.2), "std": (0.3, 0.4)}, "mean"),
    ],
)
def test_core_rejects_invalid_configs(kwargs, message, unregister) -> None:
    unregister.append(kwargs["name"])
    with pytest.raises(InvalidArgumentError, match=message):
        snd.register_dataset(snd.DatasetConfig(input_shape=(1, 4, 4), num_classes=2, **kwargs))


def test_python_rejects_invalid_configs() -> None:
    with pytest.raises(ValueError):
        snd.DatasetConfig("x", num_classes=0)
    with pytest.raises(ValueError):
        snd.DatasetConfig("x", input_shape=(1, 0, 3))
    with pytest.raises(ValueError):
        snd.DatasetConfig("x", mean=(float("nan"),), std=(1.0,))


def test_unknown_dataset_lists_available_names() -> None:
    with pytest.raises(DatasetNotFoundError) as e:
        snd.get_dataset_config("no_such_set")
    assert isinstance(e.value, KeyError)
    text = str(e.value)
    assert "no_such_set" in text
    assert all(n in text for n in BUILTINS)
    with pytest.raises(KeyError):
        snd.create_dataset("no_such_set")
    with pytest.raises(DatasetNotFoundError, match="cifar10"):
        snd.create_dataset("no_such_set")


# ---- formats ---------------------------------------------------------------------------

FORMATS = {
    "mnist-raw": ("mnist", lambda r: write_mnist(r, 300, 100, seed=1)),
    "mnist-gz": ("mnist", lambda r: write_mnist(r, 300, 100, gz=True, seed=2)),
    "cifar10-pickle": ("cifar10", lambda r: write_cifar10(r, 20, 30, seed=3)),
    "cifar10-binary": ("cifar10", lambda r: write_cifar10(r, 20, 30, seed=4, binary=True)),
    "cifar100-pickle": ("cifar100", lambda r: write_cifar100(r, 100, 40, seed=5)),
    "cifar100-binary": ("cifar100", lambda r: write_cifar100(r, 100, 40, seed=6, binary=True)),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_loads_real_formats(fmt: str, data_dir: Path) -> None:
    name, write = FORMATS[fmt]
    gen = write(data_dir)
    ds = load(name, data_dir, batch_size=16)
    mean, std = MEAN_STD[name]
    assert ds["config"].name == name and ds["num_classes"] == ds["config"].num_classes
    assert ds["input_shape"] == ds["config"].input_shape == gen.test.images.shape[1:]
    assert ds["input_size"] == int(np.prod(gen.test.images.shape[1:]))
    assert len(ds["train_loader"].dataset) == len(gen.train.labels)
    assert len(ds["test_loader"].dataset) == len(gen.test.labels)

    images, labels = collect(ds["test_loader"])
    assert images.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_allclose(images, normalize(gen.test.images, mean, std), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(labels, gen.test.labels)
    # Every train sample arrives exactly once per epoch, with its own label.
    _, train_labels = collect(ds["train_loader"])
    assert np.array_equal(np.sort(train_labels), np.sort(gen.train.labels))
    assert ds["metadata"].num_samples == len(gen.train.labels) + len(gen.test.labels)
    assert sorted(Path(f).name for f in ds["metadata"].files) == sorted(f.name for f in gen.files)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_values_equal_torchvision_to_tensor_normalize(name: str, data_dir: Path) -> None:
    from torchvision import transforms

    gen = write_mnist(data_dir, 64, 50, seed=7) if name == "mnist" else write_cifar10(data_dir, 10, 50, seed=7)
    mean, std = MEAN_STD[name]
    tv = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    # ToTensor takes HWC uint8 images, as PIL or numpy.
    expected = torch.stack([tv(np.ascontiguousarray(img.transpose(1, 2, 0))) for img in gen.test.images])
    images, _ = collect(load(name, data_dir, batch_size=32)["test_loader"])
    torch.testing.assert_close(torch.from_numpy(images), expected, rtol=0, atol=1e-6)


def test_reads_the_files_torchvision_reads(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A torchvision root (str-keyed pickles, raw IDX) is reused as is, with the same samples."""
    import torchvision.datasets.cifar as tv_cifar
    from torchvision.datasets import CIFAR10, MNIST

    gen_c = write_cifar10(data_dir, 10, 25, seed=8, bytes_keys=False)
    gen_m = write_mnist(data_dir, 40, 30, seed=9)
    # Our generated files cannot have the official MD5s torchvision insists on.
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    for train in (True, False):
        tv = CIFAR10(str(data_dir), train=train, download=False)
        want = gen_c.split("train" if train else "test")
        np.testing.assert_array_equal(tv.data.transpose(0, 3, 1, 2), want.images)
        assert tv.targets == want.labels.tolist()
        tvm = MNIST(str(data_dir), train=train, download=False)
        np.testing.assert_array_equal(tvm.data.numpy()[:, None], gen_m.split("train" if train else "test").images)

    for name, gen in (("cifar10", gen_c), ("mnist", gen_m)):
        dataset = factory.get_dataset(name, data_dir=data_dir, download=False, progress=False)
        test = dataset.to_arrow("test")
        shape = gen.test.images.shape
        images = np.frombuffer(test.column("image").buffers()[1], dtype=np.uint8)[: int(np.prod(shape))]
        np.testing.assert_array_equal(images.reshape(shape), gen.test.images)
        np.testing.assert_array_equal(test.column("label").to_numpy(), gen.test.labels)


@pytest.mark.parametrize("binary", [False, True])
def test_cifar100_coarse_labels(binary: bool, data_dir: Path) -> None:
    gen = write_cifar100(data_dir, 60, 30, seed=10, binary=binary)
    dataset = factory.get_dataset("cifar100", data_dir=data_dir, download=False, progress=False)
    for split in ("train", "test"):
        batch = dataset.to_arrow(split)
        want = gen.split(split)
        assert batch.schema.names == ["image", "label", "coarse_label"]
        assert batch.schema.field("image").type == pa.binary(3072)
        np.testing.assert_array_equal(batch.column("label").to_numpy(), want.labels)
        np.testing.assert_array_equal(batch.column("coarse_label").to_numpy(), want.coarse)
        assert int(batch.column("coarse_label").to_numpy().max()) < 20
    # The loader yields the fine labels.
    _, labels = collect(load("cifar100", data_dir)["test_loader"])
    np.testing.assert_array_equal(labels, gen.test.labels)


def _flip_crop_candidates(src: np.ndarray, pad_value: np.ndarray, pad: int = 4) -> np.ndarray:
    """Every (flip, crop offset) result of RandomHorizontalFlip + RandomCrop(padding=pad) on one CHW image."""
    c, h, w = src.shape
    padded = np.broadcast_to(pad_value.reshape(c, 1, 1), (c, h + 2 * pad, w + 2 * pad)).copy()
    padded[:, pad : pad + h, pad : pad + w] = src
    out = []
    for img in (padded, padded[:, :, ::-1]):
        for top in range(2 * pad + 1):
            for left in range(2 * pad + 1):
                out.append(img[:, top : top + h, left : left + w])
    return np.stack(out)


def test_cifar100_train_augmentation_is_flip_and_padded_crop(data_dir: Path) -> None:
    gen = write_cifar100(data_dir, 64, 8, seed=11)
    ds = load("cifar100", data_dir, batch_size=32, shuffle=False, seed=123)
    loader = ds["train_loader"]
    assert [t.split("{")[0] for t in loader.transforms] == ["random_horizontal_flip", "random_crop", "normalize"]
    images, labels = collect(loader)
    np.testing.assert_array_equal(labels, gen.train.labels)
    source = normalize(gen.train.images, CIFAR100_MEAN, CIFAR100_STD)
    pad_value = normalize(np.zeros((1, 3, 1, 1), np.uint8), CIFAR100_MEAN, CIFAR100_STD).reshape(3)
    kinds = set()
    for i, img in enumerate(images):
        cands = _flip_crop_candidates(source[i], pad_value)
        match = np.flatnonzero(np.all(np.abs(cands - img) <= 1e-6, axis=(1, 2, 3)))
        assert match.size, f"sample {i} is not a flip/crop of its source image"
        kinds.add(int(match[0]))
    # Random, not a fixed transform: several distinct (flip, offset) choices, both flipped and not.
    assert len(kinds) > 10
    assert min(kinds) < 81 <= max(kinds)
    # Values are each a normalised source pixel or the padding value, never anything else.
    allowed = {float(v) for v in np.unique(source)} | {float(v) for v in pad_value}
    assert set(np.unique(images).tolist()) <= allowed


def test_cifar10_train_flips_test_does_not(data_dir: Path) -> None:
    gen = write_cifar10(data_dir, 12, 20, seed=12)
    ds = load("cifar10", data_dir, batch_size=20, shuffle=False, seed=5)
    images, _ = collect(ds["train_loader"])
    source = normalize(gen.train.images, CIFAR10_MEAN, CIFAR10_STD)
    same = np.all(np.abs(images - source) <= 1e-6, axis=(1, 2, 3))
    mirrored = np.all(np.abs(images - source[:, :, :, ::-1]) <= 1e-6, axis=(1, 2, 3))
    assert np.all(same | mirrored)
    assert same.any() and mirrored.any()


# ---- decoded cache -----------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import hashlib, json, sys, time
    from structure_net_data import create_dataset
    from structure_net_data.factory import DATASET_CACHE
    t = time.perf_counter()
    ds = create_dataset("cifar10", data_dir=sys.argv[1], download=False, progress=False,
                        seed=0, force_reload=sys.argv[2] == "1")
    seconds = time.perf_counter() - t
    h = hashlib.sha256()
    for x, y in ds["test_loader"]:
        h.update(x.numpy().tobytes()); h.update(y.numpy().tobytes())
    dataset = next(iter(DATASET_CACHE.values()))
    print(json.dumps({"from_cache": dataset.from_cache, "seconds": seconds, "digest": h.hexdigest(),
                      "train": len(ds["train_loader"].dataset), "files": dataset.files}))
    """
)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(snd.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _run_child(data_dir: Path, force_reload: bool = False) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data_dir), "1" if force_reload else "0"],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_decoded_cache_serves_a_new_process(data_dir: Path) -> None:
    gen = write_cifar10(data_dir, 200, 100, seed=13)  # 1,000 train images
    first = _run_child(data_dir)
    assert first["from_cache"] is False and first["train"] == 1000
    assert sorted(Path(f).name for f in first["files"]) == sorted(p.name for p in gen.files)

    # The cache is an Arrow IPC file under $SND_CACHE_DIR that pyarrow opens as is.
    caches = sorted(Path(os.environ["SND_CACHE_DIR"]).rglob("*.arrow"))
    assert [p.name.split("-")[0] for p in caches] == ["test", "train"]
    with pa.memory_map(str(caches[0])) as source:
        table = pa.ipc.open_file(source).read_all()
    assert table.num_rows == 100
    images = np.frombuffer(table.column("image").combine_chunks().buffers()[1], np.uint8)[: 100 * 3072]
    np.testing.assert_array_equal(images.reshape(100, 3, 32, 32), gen.test.images)

    # With the source files gone, only the cache can serve the second process.
    sources = data_dir / "cifar-10-batches-py"
    sources.rename(data_dir / "moved-away")
    second = _run_child(data_dir)
    assert second["from_cache"] is True
    assert second["digest"] == first["digest"]
    assert second["seconds"] < 1.0, f"second create_dataset took {second['seconds']:.2f}s"
    (data_dir / "moved-away").rename(sources)

    forced = _run_child(data_dir, force_reload=True)
    assert forced["from_cache"] is False and forced["digest"] == first["digest"]


def test_force_reload_and_dataset_cache(data_dir: Path) -> None:
    write_mnist(data_dir, 50, 20, seed=14)
    first = factory.get_dataset("mnist", data_dir=data_dir, download=False, progress=False)
    assert first.from_cache is False
    assert factory.get_dataset("mnist", data_dir=data_dir, download=False) is first
    factory.clear_dataset_cache()
    mapped = factory.get_dataset("mnist", data_dir=data_dir, download=False, progress=False)
    assert mapped is not first and mapped.from_cache is True
    rebuilt = factory.get_dataset("mnist", data_dir=data_dir, download=False, force_reload=True, progress=False)
    assert rebuilt is not mapped and rebuilt.from_cache is False
    assert factory.DATASET_CACHE[f"mnist@{os.path.abspath(data_dir)}"] is rebuilt


def test_changed_source_files_rebuild_the_cache(data_dir: Path) -> None:
    write_mnist(data_dir, 50, 20, seed=15)
    load("mnist", data_dir)
    factory.clear_dataset_cache()
    newer = write_mnist(data_dir, 50, 20, seed=16)  # same sizes, new pixels
    for f in newer.files:  # make the change visible even on coarse-mtime filesystems
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    ds = load("mnist", data_dir)
    assert ds["train_loader"]._dataset.from_cache is False
    images, _ = collect(ds["test_loader"])
    np.testing.assert_allclose(images, normalize(newer.test.images, MNIST_MEAN, MNIST_STD), atol=1e-6)


def test_corrupt_cache_file_is_rebuilt(data_dir: Path) -> None:
    gen = write_mnist(data_dir, 50, 20, seed=17)
    load("mnist", data_dir)
    factory.clear_dataset_cache()
    for cache in Path(os.environ["SND_CACHE_DIR"]).rglob("*.arrow"):
        cache.write_bytes(cache.read_bytes()[:200])
    ds = load("mnist", data_dir)
    images, _ = collect(ds["test_loader"])
    np.testing.assert_allclose(images, normalize(gen.test.images, MNIST_MEAN, MNIST_STD), atol=1e-6)


# ---- bad files -------------------------------------------------------------------------------------


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _mnist_raw(root: Path) -> Path:
    return root / "MNIST" / "raw"


def _cifar_label_out_of_range(root: Path) -> Path:
    path = root / "cifar-10-batches-py" / "data_batch_2"
    entry = pickle.loads(path.read_bytes(), encoding="bytes")
    entry[b"labels"][3] = 10
    path.write_bytes(pickle.dumps(entry, protocol=2))
    return path


def _cifar_label_count(root: Path) -> Path:
    path = root / "cifar-10-batches-py" / "test_batch"
    entry = pickle.loads(path.read_bytes(), encoding="bytes")
    entry[b"labels"] = entry[b"labels"][:-1]
    path.write_bytes(pickle.dumps(entry, protocol=2))
    return path


def _cifar_wrong_shape(root: Path) -> Path:
    path = root / "cifar-10-batches-py" / "data_batch_1"
    entry = pickle.loads(path.read_bytes(), encoding="bytes")
    entry[b"data"] = entry[b"data"][:, :1024]
    path.write_bytes(pickle.dumps(entry, protocol=2))
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


CORRUPTIONS = {
    "idx-truncated": ("mnist", False, lambda r: (_truncate(p := _mnist_raw(r) / "train-images-idx3-ubyte"), p)[1]),
    "idx-wrong-magic": (
        "mnist",
        False,
        lambda r: _write(
            _mnist_raw(r) / "t10k-images-idx3-ubyte", (_mnist_raw(r) / "t10k-labels-idx1-ubyte").read_bytes()
        ),
    ),
    "idx-count-mismatch": (
        "mnist",
        False,
        lambda r: _write(_mnist_raw(r) / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(19, np.uint8))),
    ),
    "idx-trailing-bytes": (
        "mnist",
        False,
        lambda r: _write(p := _mnist_raw(r) / "train-labels-idx1-ubyte", p.read_bytes() + b"\0\0"),
    ),
    "idx-empty": ("mnist", False, lambda r: _write(_mnist_raw(r) / "train-images-idx3-ubyte", b"")),
    "idx-gz-truncated": ("mnist", True, lambda r: (_truncate(p := _mnist_raw(r) / "t10k-images-idx3-ubyte.gz"), p)[1]),
    "idx-gz-garbage": (
        "mnist",
        True,
        lambda r: _write(
            _mnist_raw(r) / "train-labels-idx1-ubyte.gz", gzip.compress(b"\x00\x00\x08\x01")[:-3] + b"xyz"
        ),
    ),
    "pickle-truncated": (
        "cifar10",
        False,
        lambda r: (_truncate(p := r / "cifar-10-batches-py" / "data_batch_3"), p)[1],
    ),
    "pickle-garbage": (
        "cifar10",
        False,
        lambda r: _write(r / "cifar-10-batches-py" / "data_batch_5", np.random.default_rng(0).bytes(5000)),
    ),
    "pickle-label-range": ("cifar10", False, _cifar_label_out_of_range),
    "pickle-label-count": ("cifar10", False, _cifar_label_count),
    "pickle-data-shape": ("cifar10", False, _cifar_wrong_shape),
    "binary-partial-record": (
        "cifar10",
        True,
        lambda r: _write(p := r / "cifar-10-batches-bin" / "data_batch_4.bin", p.read_bytes()[:-100]),
    ),
    "binary-fine-label-range": (
        "cifar100",
        True,
        lambda r: _write(p := r / "cifar-100-binary" / "test.bin", p.read_bytes()[:1] + b"\x96" + p.read_bytes()[2:]),
    ),
}


CORRUPTIONS["idx-label-out-of-range"] = (
    "mnist",
    False,
    lambda r: _write(
        p := _mnist_raw(r) / "t10k-labels-idx1-ubyte", p.read_bytes()[:11] + b"\xc8" + p.read_bytes()[12:]
    ),
)
CORRUPTIONS["idx-not-28x28"] = (
    "mnist",
    False,
    lambda r: _write(_mnist_raw(r) / "train-images-idx3-ubyte", idx_bytes(np.zeros((30, 32, 32), np.uint8))),
)


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corrupt_files_raise_corrupt_data_error(case: str, data_dir: Path) -> None:
    name, variant, corrupt = CORRUPTIONS[case]
    if name == "mnist":
        write_mnist(data_dir, 30, 20, gz=variant, seed=18)
    elif name == "cifar10":
        write_cifar10(data_dir, 10, 20, seed=18, binary=variant)
    else:
        write_cifar100(data_dir, 30, 20, seed=18, binary=variant)
    bad = corrupt(data_dir)
    with pytest.raises(CorruptDataError) as e:
        load(name, data_dir)
    assert isinstance(e.value, ValueError)
    assert str(bad) in str(e.value), f"message does not name {bad}: {e.value}"
    assert not factory.DATASET_CACHE


def test_hostile_pickle_is_refused_without_running_code(data_dir: Path, tmp_path: Path) -> None:
    write_cifar10(data_dir, 10, 20, seed=19)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    target = data_dir / "cifar-10-batches-py" / "data_batch_1"
    target.write_bytes(pickle.dumps({b"data": Exploit(), b"labels": [0]}, protocol=2))
    with pytest.raises(StructureNetDataError) as e:
        load("cifar10", data_dir)
    assert str(target) in str(e.value)
    assert "system" in str(e.value)
    assert not marker.exists()


def test_missing_mnist_files_name_files_and_folder(data_dir: Path) -> None:
    with pytest.raises(NotFoundError) as e:
        load("mnist", data_dir)
    assert not isinstance(e.value, DatasetNotFoundError)
    text = str(e.value)
    assert "train-images-idx3-ubyte" in text and "train-labels-idx1-ubyte" in text
    assert str(data_dir / "MNIST" / "raw") in text


def test_missing_cifar_file_names_it_and_the_folder(data_dir: Path) -> None:
    write_cifar10(data_dir, 10, 20, seed=20)
    (data_dir / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(NotFoundError) as e:
        load("cifar10", data_dir)
    text = str(e.value)
    assert "data_batch_4" in text and "data_batch_1" not in text
    assert str(data_dir / "cifar-10-batches-py") in text
    assert "cifar-10-python.tar.gz" in text  # says what to copy there


# ---- downloads from a local mirror -------------------------------------------------------------------


def _serve_mnist(mirror_root: Path, tmp_path: Path, seed: int = 21):
    src = tmp_path / "mnist-src"
    gen = write_mnist(src, 60, 30, gz=True, seed=seed)
    for f in gen.files:
        (mirror_root / f.name).write_bytes(f.read_bytes())
    return gen, {f.name: md5_of(f) for f in gen.files}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".part" in p.name or ".tmp" in p.name)


def test_download_mnist_from_mirror(data_dir: Path, http_mirror, tmp_path: Path, capfd) -> None:
    gen, md5s = _serve_mnist(http_mirror.root, tmp_path)
    ds = load("mnist", data_dir, download=True, mirrors=[http_mirror.url], md5_override=md5s, progress=True)
    raw = data_dir / "MNIST" / "raw"
    for f in gen.files:
        assert (raw / f.name).read_bytes() == f.read_bytes()
    assert sorted(http_mirror.requests) == sorted(f"/{name}" for name in md5s)
    assert _leftovers(data_dir) == []
    assert "train-images-idx3-ubyte.gz" in capfd.readouterr().err  # the progress bar
    images, labels = collect(ds["test_loader"])
    np.testing.assert_allclose(images, normalize(gen.test.images, MNIST_MEAN, MNIST_STD), atol=1e-6)
    np.testing.assert_array_equal(labels, gen.test.labels)

    # Files in place are used, not fetched again.
    factory.clear_dataset_cache()
    load("mnist", data_dir, download=True, mirrors=[http_mirror.url], md5_override=md5s, force_reload=True)
    assert len(http_mirror.requests) == 4


def test_download_falls_back_to_the_next_mirror(data_dir: Path, http_mirror, tmp_path: Path, closed_port_url) -> None:
    gen, md5s = _serve_mnist(http_mirror.root, tmp_path, seed=22)
    ds = load("mnist", data_dir, download=True, mirrors=[closed_port_url, http_mirror.url], md5_override=md5s)
    _, labels = collect(ds["test_loader"])
    np.testing.assert_array_equal(labels, gen.test.labels)


def test_download_cifar10_archive(data_dir: Path, http_mirror, tmp_path: Path) -> None:
    src = tmp_path / "cifar-src"
    gen = write_cifar10(src, 10, 20, seed=23)
    archive = make_tar_gz(http_mirror.root / "cifar-10-python.tar.gz", src, ["cifar-10-batches-py"])
    ds = load(
        "cifar10",
        data_dir,
        download=True,
        mirrors=[http_mirror.url],
        md5_override={archive.name: md5_of(archive)},
    )
    assert http_mirror.requests == ["/cifar-10-python.tar.gz"]
    folder = data_dir / "cifar-10-batches-py"
    for f in gen.files:
        assert (folder / f.name).read_bytes() == f.read_bytes()
    assert not (data_dir / archive.name).exists()  # a fetched archive is removed once extracted
    assert _leftovers(data_dir) == [] and not list(data_dir.glob(".extract-*"))
    images, labels = collect(ds["test_loader"])
    np.testing.assert_allclose(images, normalize(gen.test.images, CIFAR10_MEAN, CIFAR10_STD), atol=1e-6)
    np.testing.assert_array_equal(labels, gen.test.labels)


def test_wrong_md5_leaves_no_file(data_dir: Path, http_mirror, tmp_path: Path) -> None:
    _, md5s = _serve_mnist(http_mirror.root, tmp_path, seed=24)
    md5s["train-images-idx3-ubyte.gz"] = "0" * 32
    with pytest.raises(ChecksumError) as e:
        load("mnist", data_dir, download=True, mirrors=[http_mirror.url], md5_override=md5s)
    assert "train-images-idx3-ubyte.gz" in str(e.value)
    raw = data_dir / "MNIST" / "raw"
    assert not (raw / "train-images-idx3-ubyte.gz").exists()
    assert _leftovers(data_dir) == []


def test_official_md5_is_checked_by_default(data_dir: Path, http_mirror, tmp_path: Path) -> None:
    src = tmp_path / "cifar-src"
    write_cifar10(src, 10, 20, seed=25)
    make_tar_gz(http_mirror.root / "cifar-10-python.tar.gz", src, ["cifar-10-batches-py"])
    with pytest.raises(ChecksumError, match="c58f30108f718f92721af3b95e74349a"):
        load("cifar10", data_dir, download=True, mirrors=[http_mirror.url])
    assert not (data_dir / "cifar-10-python.tar.gz").exists()
    assert not (data_dir / "cifar-10-batches-py").exists()
    assert _leftovers(data_dir) == []


def test_unreachable_mirror_names_file_and_folder(data_dir: Path, closed_port_url: str) -> None:
    with pytest.raises(UnavailableError) as e:
        load("mnist", data_dir, download=True, mirrors=[closed_port_url])
    assert isinstance(e.value, ConnectionError)
    text = str(e.value)
    assert "train-images-idx3-ubyte.gz" in text
    assert str(data_dir / "MNIST" / "raw") in text
    assert closed_port_url in text
    assert _leftovers(data_dir) == []


def test_mirror_without_the_file_is_unavailable(data_dir: Path, http_mirror) -> None:
    with pytest.raises(UnavailableError, match="404"):
        load("cifar10", data_dir, download=True, mirrors=[http_mirror.url])
    assert not (data_dir / "cifar-10-python.tar.gz").exists()


def test_data_dir_env_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    snd.list_available_datasets()  # the library is loaded before the environment changes
    root, cache = tmp_path / "late-data", tmp_path / "late-cache"
    monkeypatch.setenv("DATA_DIR", str(root))
    monkeypatch.setenv("SND_CACHE_DIR", str(cache))
    gen = write_mnist(root, 30, 20, seed=26)
    images, _ = collect(snd.create_dataset("mnist", download=False, progress=False, seed=0)["test_loader"])
    np.testing.assert_allclose(images, normalize(gen.test.images, MNIST_MEAN, MNIST_STD), atol=1e-6)
    assert list(cache.rglob("*.arrow"))
    # A new DATA_DIR is a different dataset folder, not a stale DATASET_CACHE hit.
    other = tmp_path / "other-data"
    monkeypatch.setenv("DATA_DIR", str(other))
    newer = write_mnist(other, 30, 20, seed=27)
    images, _ = collect(snd.create_dataset("mnist", download=False, progress=False, seed=0)["test_loader"])
    np.testing.assert_allclose(images, normalize(newer.test.images, MNIST_MEAN, MNIST_STD), atol=1e-6)
