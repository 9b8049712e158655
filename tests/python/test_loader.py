"""Batch loaders through the real library: the zero-copy handoff, memory,
ordering (subsets, epochs, shards, resume), transforms, lifecycle, fork
safety and custom dataset loaders."""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import structure_net_data as snd
import torch
from conftest import MNIST_MEAN, MNIST_STD, collect, denormalize, normalize, write_cifar100
from conftest import write_mnist as _write_mnist
from structure_net_data import _lib, factory
from structure_net_data.errors import ClosedError, DatasetNotFoundError, InvalidArgumentError


def write_mnist(root: Path, n_train: int = 300, n_test: int = 100, seed: int = 0):
    gen = _write_mnist(root, n_train, n_test, seed=seed)
    # Random 28x28 images never repeat, so a loaded image identifies its sample.
    assert len({img.tobytes() for img in gen.train.images}) == n_train
    return gen


def mnist(root: Path, **kw):
    kw.setdefault("download", False)
    kw.setdefault("progress", False)
    return snd.create_dataset("mnist", data_dir=root, **kw)


def sample_ids(images: np.ndarray, source: np.ndarray) -> list[int]:
    """Which source sample each (unaugmented, normalised) loaded MNIST image is."""
    where = {img.tobytes(): i for i, img in enumerate(source)}
    return [where[img.tobytes()] for img in denormalize(images, MNIST_MEAN, MNIST_STD)]


def order(loader, source: np.ndarray) -> list[int]:
    return sample_ids(collect(loader)[0], source)


def live_bytes() -> int:
    gc.collect()
    return _lib.memory_stats()["live_bytes"]


# ---- zero-copy handoff ---------------------------------------------------------------------------


def test_tensors_share_the_exported_arrow_buffers(data_dir: Path) -> None:
    gen = write_mnist(data_dir)
    loader = mnist(data_dir, batch_size=32, seed=0)["test_loader"]
    seen = 0
    for batch in loader.iter_arrow():
        images, labels = loader.to_tensors(batch)
        image_col, label_col = batch.column(0), batch.column(1)
        values = image_col.values
        per = 28 * 28
        image_address = values.buffers()[1].address + (values.offset + image_col.offset * per) * 4
        assert images.data_ptr() == image_address
        assert labels.data_ptr() == label_col.buffers()[1].address + label_col.offset * 8
        assert images.dtype == torch.float32 and labels.dtype == torch.int64
        assert images.shape == (batch.num_rows, 1, 28, 28) and images.is_contiguous()
        n = batch.num_rows
        np.testing.assert_allclose(
            images.numpy(), normalize(gen.test.images[seen : seen + n], MNIST_MEAN, MNIST_STD), atol=1e-6
        )
        # Writable, and a write lands in the Arrow buffer itself: the same memory.
        images[0, 0, 0, 0] = 1234.5
        labels[-1] = 77
        assert np.frombuffer(values.buffers()[1], np.float32)[values.offset + image_col.offset * per] == 1234.5
        assert label_col.to_numpy()[-1] == 77
        seen += n
    assert seen == 100


def test_iterated_tensors_are_c_pool_memory(data_dir: Path) -> None:
    write_mnist(data_dir)
    loader = mnist(data_dir, batch_size=50, seed=0)["train_loader"]
    before = live_bytes()
    images, labels = next(iter(loader))
    # The batch was built in the core's pool (64-byte aligned C buffers), and the tensors are that memory.
    assert images.data_ptr() % 64 == 0 and labels.data_ptr() % 64 == 0
    batch_bytes = images.numel() * 4 + labels.numel() * 8
    assert live_bytes() >= before + batch_bytes
    expected = images.numpy() * 2
    images.mul_(2)  # in-place ops work on the shared buffer
    np.testing.assert_array_equal(images.numpy(), expected)
    loader.close()  # stops the producers and frees the prefetched batches, not ours
    assert live_bytes() == before + batch_bytes
    del images, labels
    assert live_bytes() == before


def test_memory_returns_to_baseline(data_dir: Path) -> None:
    gen = write_mnist(data_dir)
    base = live_bytes()
    loader = mnist(data_dir, batch_size=32, seed=0, shuffle=False)["test_loader"]
    kept = list(loader)
    held = sum(x.numel() * 4 + y.numel() * 8 for x, y in kept)
    loader.close()
    del loader
    # The tensors outlive the loader and keep their memory.
    assert live_bytes() - base >= held
    np.testing.assert_allclose(
        np.concatenate([x.numpy() for x, _ in kept]), normalize(gen.test.images, MNIST_MEAN, MNIST_STD), atol=1e-6
    )
    del kept
    assert live_bytes() == base

    # An epoch abandoned mid-way, with batches prefetched, also gives everything back on close.
    train = mnist(data_dir, batch_size=16, seed=0, prefetch=4)["train_loader"]
    it = iter(train)
    first = next(it)
    del it, first
    train.close()
    assert live_bytes() == base


def test_steady_state_reuses_pool_buffers(data_dir: Path) -> None:
    write_mnist(data_dir)
    loader = mnist(data_dir, batch_size=32, seed=0)["train_loader"]
    for _ in loader:
        pass
    before = _lib.memory_stats()
    for _ in range(3):
        for _ in loader:
            pass
    after = _lib.memory_stats()
    batches = 3 * len(loader)
    assert after["reuses"] - before["reuses"] >= batches  # images and labels buffers come back round
    assert after["mallocs"] - before["mallocs"] < batches


# ---- sizes -----------------------------------------------------------------------------------------


def test_len_batch_shapes_and_dtypes(data_dir: Path) -> None:
    write_mnist(data_dir)
    ds = mnist(data_dir, batch_size=64, seed=0)
    train, test = ds["train_loader"], ds["test_loader"]
    assert len(train) == 5 and len(test) == 2
    assert len(train.dataset) == 300 and len(test.dataset) == 100
    sizes = []
    for x, y in train:
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape[1:] == (1, 28, 28) and y.shape == (x.shape[0],)
        sizes.append(x.shape[0])
    assert sizes == [64, 64, 64, 64, 44]


def test_drop_last(data_dir: Path) -> None:
    write_mnist(data_dir)
    ds = mnist(data_dir, batch_size=64, seed=0, drop_last=True)
    assert len(ds["train_loader"]) == 4
    assert [x.shape[0] for x, _ in ds["train_loader"]] == [64] * 4
    assert len(ds["test_loader"]) == 2  # evaluation always sees every sample


def test_default_batch_size_comes_from_the_config(data_dir: Path) -> None:
    write_mnist(data_dir)
    loader = mnist(data_dir, seed=0)["train_loader"]
    assert loader.batch_size == 128 and len(loader) == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": -1}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"subset_size": 301}, "larger"),
        ({"subset_size": 0}, "subset_size"),
        ({"subset_size": -5}, "subset_size"),
        ({"subset_fraction": 0.0}, "subset_fraction"),
        ({"subset_fraction": 1.5}, "subset_fraction"),
        ({"subset_size": 10, "subset_fraction": 0.5}, "subset"),
        ({"seed": -1}, "seed"),
        ({"rank": 3, "world_size": 3}, "rank"),
    ],
)
def test_bad_arguments_raise(kwargs, match, data_dir: Path) -> None:
    write_mnist(data_dir)
    with pytest.raises(InvalidArgumentError, match=match):
        mnist(data_dir, **kwargs)


# ---- subsets ---------------------------------------------------------------------------------------


def test_subset_size_and_fraction(data_dir: Path) -> None:
    gen = write_mnist(data_dir)
    ds = mnist(data_dir, subset_size=50, seed=1, shuffle=False)
    train, test = ds["train_loader"], ds["test_loader"]
    assert len(train.dataset) == 50 and len(test.dataset) == round(50 * 100 / 300)
    ids = order(train, gen.train.images)
    assert len(set(ids)) == 50 and ids == sorted(ids)
    assert ds["metadata"].num_samples == 50 + len(test.dataset)

    frac = mnist(data_dir, subset_fraction=0.25, seed=1)
    assert len(frac["train_loader"].dataset) == 75 and len(frac["test_loader"].dataset) == 25


def test_subsets_are_seeded_and_ignore_global_rng(data_dir: Path) -> None:
    gen = write_mnist(data_dir)

    def pick(seed: int, global_seed: int) -> list[int]:
        np.random.seed(global_seed)
        torch.manual_seed(global_seed)
        random.seed(global_seed)
        return order(mnist(data_dir, subset_size=40, seed=seed, shuffle=True)["train_loader"], gen.train.images)

    a = pick(5, 0)
    assert pick(5, 12345) == a
    assert sorted(pick(6, 0)) != sorted(a)

    # Nothing the library does draws from (or reseeds) the global generators.
    np.random.seed(3)
    torch.manual_seed(3)
    random.seed(3)
    np_state, torch_state, py_state = np.random.get_state(), torch.get_rng_state(), random.getstate()
    collect(mnist(data_dir, subset_fraction=0.5, seed=None)["train_loader"])
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert random.getstate() == py_state


# ---- epochs and order --------------------------------------------------------------------------------


def test_set_epoch_is_deterministic(data_dir: Path) -> None:
    gen = write_mnist(data_dir)
    loader = mnist(data_dir, batch_size=50, seed=7)["train_loader"]
    loader.set_epoch(3)
    a = order(loader, gen.train.images)
    loader.set_epoch(3)
    assert order(loader, gen.train.images) == a
    loader.set_epoch(4)
    b = order(loader, gen.train.images)
    assert b != a and sorted(a) == sorted(b) == list(range(300))

    other = mnist(data_dir, batch_size=50, seed=7)["train_loader"]
    other.set_epoch(3)
    assert order(other, gen.train.images) == a
    reseeded = mnist(data_dir, batch_size=50, seed=8)["train_loader"]
    reseeded.set_epoch(3)
    assert order(reseeded, gen.train.images) != a


def test_successive_loops_advance_the_epoch(data_dir: Path) -> None:
    gen = write_mnist(data_dir)
    loader = mnist(data_dir, batch_size=64, seed=9)["train_loader"]
    assert loader.epoch == 0
    e0 = order(loader, gen.train.images)
    e1 = order(loader, gen.train.images)
    assert loader.epoch == 2
    assert e0 != e1 and sorted(e0) == sorted(e1)
    fresh = mnist(data_dir, batch_size=64, seed=9)["train_loader"]
    fresh.set_epoch(1)
    assert order(fresh, gen.train.images) == e1


def test_every_for_loop_is_a_full_pass_after_a_peek(data_dir: Path) -> None:
    write_mnist(data_dir)
    loader = mnist(data_dir, batch_size=64, seed=0)["train_loader"]
    next(iter(loader))
    assert sum(1 for _ in loader) == len(loader)


def test_shuffle_false_keeps_file_order(data_dir: Path) -> None:
    gen = write_mnist(data_dir)
    ds = mnist(data_dir, batch_size=64, shuffle=False, seed=0)
    assert order(ds["train_loader"], gen.train.images) == list(range(300))
    assert order(ds["test_loader"], gen.test.images) == list(range(100))


@pytest.mark.parametrize("drop_last, batch", [(False, 17), (True, 11)])
def test_rank_sharding_matches_distributed_sampler(drop_last: bool, batch: int, data_dir: Path) -> None:
    from torch.utils.data.distributed import DistributedSampler

    gen = write_mnist(data_dir, n_train=100, n_test=30)
    world = 3
    shards = []
    for rank in range(world):
        loader = mnist(
            data_dir, batch_size=batch, shuffle=False, seed=0, rank=rank, world_size=world, drop_last=drop_last
        )["train_loader"]
        ids = order(loader, gen.train.images)
        want = list(DistributedSampler(range(100), num_replicas=world, rank=rank, shuffle=False, drop_last=drop_last))
        assert ids == want
        assert len(loader.dataset) == len(want)
        shards.append(ids)

    shuffled = []
    for rank in range(world):
        loader = mnist(data_dir, batch_size=batch, seed=21, rank=rank, world_size=world, drop_last=drop_last)[
            "train_loader"
        ]
        loader.set_epoch(2)
        shuffled.append(order(loader, gen.train.images))
    for ranks in (shards, shuffled):
        flat = [i for ids in ranks for i in ids]
        if drop_last:  # disjoint, all but n % world samples
            assert len(flat) == len(set(flat)) == 99
        else:  # covering, padded with n % world repeats like DistributedSampler
            assert set(flat) == set(range(100)) and len(flat) == 102
    assert shuffled != shards


# ---- resuming ----------------------------------------------------------------------------------------


def _cifar100(root: Path, **kw):
    return snd.create_dataset("cifar100", data_dir=root, download=False, progress=False, **kw)


@pytest.mark.parametrize("stop_after", [4, 6, 9])
def test_state_dict_resumes_bit_identically(stop_after: int, data_dir: Path) -> None:
    write_cifar100(data_dir, 96, 16, seed=30)
    opts = {"batch_size": 16, "seed": 3}
    reference = _cifar100(data_dir, **opts)["train_loader"]
    assert reference.transforms[:2] == ["random_horizontal_flip", "random_crop"]  # random augmentation is on
    want = [(x.clone(), y.clone()) for _ in range(2) for x, y in reference]
    assert len(want) == 12

    first = _cifar100(data_dir, **opts)["train_loader"]
    got = []
    while len(got) < stop_after:
        for x, y in first:
            got.append((x.clone(), y.clone()))
            if len(got) == stop_after:
                break
    state = json.loads(json.dumps(first.state_dict()))  # survives a checkpoint file
    first.close()

    resumed = _cifar100(data_dir, **opts)["train_loader"]
    resumed.load_state_dict(state)
    while len(got) < 12:
        got.extend((x.clone(), y.clone()) for x, y in resumed)
    for i, ((gx, gy), (wx, wy)) in enumerate(zip(got, want, strict=True)):
        assert torch.equal(gx, wx) and torch.equal(gy, wy), f"batch {i} differs after resuming at {stop_after}"


def test_state_from_a_different_loader_is_rejected(data_dir: Path) -> None:
    write_cifar100(data_dir, 96, 16, seed=31)
    state = _cifar100(data_dir, batch_size=16, seed=3)["train_loader"].state_dict()
    with pytest.raises(InvalidArgumentError, match="seed"):
        _cifar100(data_dir, batch_size=16, seed=4)["train_loader"].load_state_dict(state)
    with pytest.raises(InvalidArgumentError):
        _cifar100(data_dir, batch_size=32, seed=3)["train_loader"].load_state_dict(state)


def test_thread_count_does_not_change_outputs(data_dir: Path) -> None:
    write_cifar100(data_dir, 96, 16, seed=32)
    runs = []
    for threads, prefetch in ((1, 1), (2, 8)):
        loader = _cifar100(data_dir, batch_size=10, seed=11, threads=threads, prefetch=prefetch)["train_loader"]
        runs.append([(x.clone(), y.clone()) for _ in range(2) for x, y in loader])
    assert len(runs[0]) == len(runs[1]) == 20
    for (ax, ay), (bx, by) in zip(*runs, strict=True):
        assert torch.equal(ax, bx) and torch.equal(ay, by)


# ---- torchvision transforms ---------------------------------------------------------------------------


def test_torchvision_compose_as_train_transform(data_dir: Path) -> None:
    from torchvision import transforms

    gen = write_mnist(data_dir)
    calls = []

    def spy(x: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return x

    tf = transforms.Compose([transforms.ToTensor(), transforms.Lambda(spy), transforms.Normalize([0.5], [0.5])])
    loader = mnist(data_dir, batch_size=64, shuffle=False, seed=0, train_transform=tf)["train_loader"]
    assert loader.transforms == ["to_tensor"]
    images, _ = collect(loader)
    # ToTensor (already done by the core) is skipped; the rest runs once per sample.
    assert calls == [(1, 28, 28)] * 300
    np.testing.assert_allclose(images, normalize(gen.train.images, (0.5,), (0.5,)), atol=1e-6)


def test_random_torchvision_transform_draws_per_sample(data_dir: Path) -> None:
    from torchvision import transforms

    gen = write_mnist(data_dir)
    tf = transforms.Compose([transforms.ToTensor(), transforms.RandomHorizontalFlip(p=0.5)])
    x, _ = next(iter(mnist(data_dir, batch_size=64, shuffle=False, seed=0, train_transform=tf)["train_loader"]))
    src = gen.train.images[:64].astype(np.float32) / 255
    same = np.all(np.abs(x.numpy() - src) <= 1e-6, axis=(1, 2, 3))
    mirrored = np.all(np.abs(x.numpy() - src[:, :, :, ::-1]) <= 1e-6, axis=(1, 2, 3))
    assert np.all(same | mirrored) and same.any() and mirrored.any()


def test_core_transform_specs(data_dir: Path) -> None:
    gen = write_mnist(data_dir)
    loader = mnist(
        data_dir,
        batch_size=100,
        shuffle=False,
        seed=0,
        test_transform=[{"name": "center_crop", "size": 20}, "normalize"],
    )["test_loader"]
    assert loader.shape == (1, 20, 20)
    x, _ = next(iter(loader))
    np.testing.assert_allclose(
        x.numpy(), normalize(gen.test.images[:, :, 4:24, 4:24], MNIST_MEAN, MNIST_STD), atol=1e-6
    )
    with pytest.raises(InvalidArgumentError, match="unknown transform"):
        mnist(data_dir, seed=0, test_transform=["sharpen"])


# ---- lifecycle -----------------------------------------------------------------------------------------


def test_close_twice_and_use_after_close(data_dir: Path) -> None:
    write_mnist(data_dir)
    ds = mnist(data_dir, batch_size=64, seed=0)
    loader = ds["train_loader"]
    next(iter(loader))
    loader.close()
    loader.close()
    with pytest.raises(ClosedError):
        next(iter(loader))
    with pytest.raises(ClosedError):
        loader.set_epoch(1)
    with pytest.raises(ClosedError):
        loader.state_dict()
    with pytest.raises(ClosedError):
        loader.load_state_dict({"epoch": 0})
    with ds["test_loader"] as test:
        assert len(list(test)) == 2
    with pytest.raises(ClosedError):
        list(test)

    dataset = factory.get_dataset("mnist", data_dir=data_dir)
    dataset.close()
    dataset.close()
    with pytest.raises(ClosedError):
        dataset.to_arrow("train")


def test_loader_keeps_its_dataset_alive(data_dir: Path) -> None:
    gen = write_mnist(data_dir)
    loader = mnist(data_dir, batch_size=100, shuffle=False, seed=0)["test_loader"]
    factory.clear_dataset_cache()  # closes the dataset the loader reads
    gc.collect()
    images, _ = collect(loader)
    np.testing.assert_allclose(images, normalize(gen.test.images, MNIST_MEAN, MNIST_STD), atol=1e-6)


def test_dataset_cache_keys_and_instant_reuse(data_dir: Path) -> None:
    import shutil

    from data_factory.factory import DATASET_CACHE

    assert DATASET_CACHE is factory.DATASET_CACHE
    gen = write_mnist(data_dir)
    first = mnist(data_dir, batch_size=50, shuffle=False, seed=0)
    assert list(DATASET_CACHE) == [f"mnist@{os.path.abspath(data_dir)}"]
    shutil.rmtree(data_dir)  # a cache hit needs no file
    t = time.perf_counter()
    second = mnist(data_dir, batch_size=50, shuffle=False, seed=0)
    elapsed = time.perf_counter() - t
    assert second["train_loader"]._dataset is first["train_loader"]._dataset
    assert elapsed < 0.5, f"cached create_dataset took {elapsed:.3f}s"
    images, _ = collect(second["test_loader"])
    np.testing.assert_allclose(images, normalize(gen.test.images, MNIST_MEAN, MNIST_STD), atol=1e-6)
    assert snd.clear_dataset_cache("mnist") == 1 and not DATASET_CACHE


def test_image_options_on_a_cached_array_dataset_raise(data_dir: Path) -> None:
    """Options an array dataset cannot honour are refused, also when it is cached."""
    write_mnist(data_dir)
    mnist(data_dir, batch_size=50)
    for options in ({"on_error": "skip"}, {"dct_scaling": False}):
        with pytest.raises(InvalidArgumentError, match="image folders"):
            mnist(data_dir, batch_size=50, **options)
    assert len(factory.DATASET_CACHE) == 1


# ---- fork safety ---------------------------------------------------------------------------------------------

_FORK_CHILD = textwrap.dedent(
    """
    import os, sys
    from structure_net_data import create_dataset
    from structure_net_data.errors import ForkError

    ds = create_dataset("mnist", data_dir=sys.argv[1], download=False, progress=False, batch_size=50, seed=0)
    next(iter(ds["train_loader"]))  # the Go runtime is up, its threads running
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        out = []
        for what, fn in (("create_dataset", lambda: create_dataset("mnist", data_dir=sys.argv[1])),
                         ("iterate", lambda: next(iter(ds["train_loader"])))):
            try:
                fn()
                out.append(what + ": no error")
            except ForkError as e:
                out.append(what + ": ForkError " + str(e))
            except BaseException as e:
                out.append(what + ": " + repr(e))
        os.write(w, "\\n".join(out).encode())
        os._exit(0)
    os.close(w)
    report = b""
    while chunk := os.read(r, 65536):
        report += chunk
    _, status = os.waitpid(pid, 0)
    print(report.decode())
    print("child status", status)
    x, y = next(iter(ds["train_loader"]))
    print("parent ok", tuple(x.shape))
    """
)


def test_fork_after_use_raises_fork_error(data_dir: Path) -> None:
    write_mnist(data_dir)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(snd.__file__).resolve().parents[1]), env.get("PYTHONPATH")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-c", _FORK_CHILD, str(data_dir)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("create_dataset: ForkError") and "spawn" in line for line in lines), proc.stdout
    assert any(line.startswith("iterate: ForkError") for line in lines), proc.stdout
    assert "child status 0" in lines
    assert "parent ok (50, 1, 28, 28)" in lines


# ---- custom dataset loaders ------------------------------------------------------------------------------------


def test_numpy_dataset_loader_goes_through_the_core(unregister) -> None:
    from data_factory.config import DatasetConfig, register_dataset
    from data_factory.datasets import DatasetLoader, register_loader

    rng = np.random.default_rng(40)
    train_x = rng.integers(0, 256, (90, 8, 8, 3), dtype=np.uint8)  # NHWC, as image stacks usually are
    train_y = rng.integers(0, 4, 90)
    test_x = rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    test_y = rng.integers(0, 4, 30)
    calls = []

    class ToyLoader(DatasetLoader):
        def load_data(self):
            calls.append(self.config.name)
            return (train_x, train_y), (test_x, test_y)

    unregister.append("toy_numpy")
    mean, std = (0.2, 0.4, 0.6), (0.3, 0.2, 0.1)
    register_dataset(
        DatasetConfig(
            "toy_numpy",
            input_shape=(3, 8, 8),
            num_classes=4,
            num_train_samples=90,
            num_test_samples=30,
            mean=mean,
            std=std,
            default_train_transforms=["normalize"],
            default_test_transforms=["normalize"],
        )
    )
    register_loader("toy_numpy", ToyLoader)
    ds = snd.create_dataset("toy_numpy", batch_size=32, shuffle=False, seed=0)
    assert isinstance(ds["train_loader"], snd.BatchLoader) and isinstance(ds["test_loader"], snd.BatchLoader)
    for split, x, y in (("train_loader", train_x, train_y), ("test_loader", test_x, test_y)):
        images, labels = collect(ds[split])
        np.testing.assert_allclose(images, normalize(x.transpose(0, 3, 1, 2), mean, std), atol=1e-6)
        np.testing.assert_array_equal(labels, y)
    assert len(ds["train_loader"]) == 3
    snd.create_dataset("toy_numpy", batch_size=8, seed=0)
    assert calls == ["toy_numpy"]  # the second call was served by DATASET_CACHE
    with pytest.raises(InvalidArgumentError, match="ToyLoader"):
        snd.create_dataset("toy_numpy", batch_size=8, seed=0, on_error="skip")  # never ignored


def test_non_array_dataset_loader_uses_torch_dataloader(unregister) -> None:
    from data_factory.config import DatasetConfig, register_dataset
    from data_factory.datasets import DatasetLoader, register_loader
    from torch.utils.data import DataLoader, TensorDataset

    class ListLoader(DatasetLoader):
        def load_data(self):
            train = [([float(i), float(i) * 2], i % 3) for i in range(40)]
            test = [([float(-i), 0.0], i % 3) for i in range(10)]
            return train, test

        def create_datasets(self, train_data, test_data):
            def to_ds(rows):
                return TensorDataset(torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows]))

            return to_ds(train_data), to_ds(test_data)

    unregister.append("toy_lists")
    register_dataset(DatasetConfig("toy_lists", input_shape=(2,), num_classes=3, num_train_samples=40))
    register_loader("toy_lists", ListLoader)
    ds = snd.create_dataset("toy_lists", batch_size=16, seed=5)
    train, test = ds["train_loader"], ds["test_loader"]
    assert isinstance(train, DataLoader) and not isinstance(train, snd.BatchLoader)
    xs = torch.cat([x for x, _ in train])
    assert xs.shape == (40, 2) and sorted(xs[:, 0].tolist()) == [float(i) for i in range(40)]
    assert torch.equal(torch.cat([x for x, _ in test])[:, 0], -torch.arange(10, dtype=torch.float32))
    first = [x for x, _ in snd.create_dataset("toy_lists", batch_size=16, seed=5)["train_loader"]]
    again = [x for x, _ in snd.create_dataset("toy_lists", batch_size=16, seed=5)["train_loader"]]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))  # seeded shuffle


def test_bad_custom_loaders(unregister) -> None:
    from data_factory.config import DatasetConfig, register_dataset
    from data_factory.datasets import DatasetLoader, register_loader

    class WrongShape(DatasetLoader):
        def load_data(self):
            return (np.zeros((5, 4, 4), np.uint8), np.zeros(5)), None

    class NoDatasets(DatasetLoader):
        def load_data(self):
            return ["a", "b"], ["c"]

    with pytest.raises(DatasetNotFoundError):
        register_loader("not_registered_yet", WrongShape)
    with pytest.raises(TypeError):
        register_loader("mnist", object)  # type: ignore[arg-type]
    for name, cls, exc in (
        ("toy_shape", WrongShape, InvalidArgumentError),
        ("toy_none", NoDatasets, NotImplementedError),
    ):
        unregister.append(name)
        register_dataset(DatasetConfig(name, input_shape=(1, 8, 8), num_classes=2))
        register_loader(name, cls)
        with pytest.raises(exc):
            snd.create_dataset(name)


# ---- the user guide's imports and snippets, verbatim --------------------------------------------------------

_GUIDE_IMPORTS = """
from data_factory import create_dataset, list_available_datasets
from data_factory import create_dataset
from data_factory import get_dataset_config
from data_factory.metadata import DatasetMetadata, track_dataset_usage
from data_factory.config import DatasetConfig, register_dataset
from data_factory.datasets import DatasetLoader, register_loader
from data_factory import create_dataset, DatasetNotFoundError
from data_factory.factory import DATASET_CACHE
"""

_GUIDE_SNIPPETS = '''
config = get_dataset_config('cifar10')
print(f"Input size for network: {config.input_size}")  # Flattened size
print(f"Number of classes: {config.num_classes}")

# Create custom metadata
metadata = DatasetMetadata(
    dataset_name="custom_dataset",
    version="1.0.0",
    source="local_files",
    preprocessing_steps=["normalize", "augment"],
    statistics={
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225]
    }
)

# Track usage
track_dataset_usage(
    experiment_id="exp_123",
    dataset_metadata=metadata,
    subset_info={"size": 5000, "split": "validation"}
)

# Define your dataset
MY_DATASET = DatasetConfig(
    name="mydataset",
    full_name="My Custom Dataset",
    description="Description of my dataset",
    input_shape=(3, 64, 64),  # C, H, W
    num_classes=50,
    num_train_samples=10000,
    num_test_samples=2000
)

# Register it
register_dataset(MY_DATASET)

class MyDatasetLoader(DatasetLoader):
    def load_data(self) -> Tuple[Any, Any]:
        """Load raw data from source."""
        # Implement data loading logic
        # Return (train_data, test_data)
        pass

    def get_transform(self, train: bool = True):
        """Define data transformations."""
        # Return torchvision transforms
        pass

    def create_datasets(self, train_data, test_data):
        """Create PyTorch datasets."""
        # Return (train_dataset, test_dataset)
        pass

# Register the loader
register_loader('mydataset', MyDatasetLoader)

try:
    dataset = create_dataset('unknown_dataset')
except DatasetNotFoundError as e:
    print(f"Dataset not found: {e}")
    print(f"Available datasets: {list_available_datasets()}")

print(f"Cached datasets: {list(DATASET_CACHE.keys())}")
'''


def test_guide_imports_and_snippets_run_verbatim(unregister, capsys) -> None:
    unregister.append("mydataset")
    namespace: dict = {}
    exec("from typing import Any, Tuple\n" + _GUIDE_IMPORTS, namespace)
    assert namespace["create_dataset"] is snd.create_dataset
    assert namespace["DatasetNotFoundError"] is snd.DatasetNotFoundError
    assert namespace["DatasetLoader"] is snd.DatasetLoader
    exec(_GUIDE_SNIPPETS, namespace)
    out = capsys.readouterr().out
    assert "Input size for network: 3072" in out and "Number of classes: 10" in out
    assert "Dataset not found:" in out and "unknown_dataset" in out and "mnist" in out
    assert snd.get_dataset_config("mydataset").input_size == 3 * 64 * 64
    from data_factory.metadata import get_dataset_usage_history

    history = get_dataset_usage_history(experiment_id="exp_123")
    assert len(history) == 1 and history[0].dataset_name == "custom_dataset"
    assert history[0].subset_info == {"size": 5000, "split": "validation"}
