"""What each process of the torchrun tests runs (``torchrun ... torchrun_worker.py MODE OUT DATA_DIR``).

``shards``: records, per epoch, which training samples this rank's loader
yields (identified by their pixels), once with an explicit seed and once
with the default seed. ``train``: trains the MNIST MLP with DDP and reports
the final training loss, test accuracy and a checksum of the weights.
Each rank writes ``OUT/<mode>-rank<r>.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from structure_net_data import create_dataset

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def train_images(data_dir: Path) -> np.ndarray:
    raw = (data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte").read_bytes()
    n = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 28 * 28)


def epoch_indices(loader, index_of: dict[bytes, int]) -> list[int]:
    out = []
    for images, _ in loader:
        pixels = np.rint((images.numpy().reshape(len(images), -1) * MNIST_STD + MNIST_MEAN) * 255).astype(np.uint8)
        out.extend(index_of[row.tobytes()] for row in pixels)
    return out


def shards(data_dir: Path) -> dict:
    index_of = {img.tobytes(): i for i, img in enumerate(train_images(data_dir))}
    report: dict = {}
    for name, seed in (("explicit", 7), ("default", None)):
        ds = create_dataset("mnist", batch_size=50, data_dir=data_dir, download=False, progress=False, seed=seed)
        loader = ds["train_loader"]
        epochs = {}
        for epoch in range(3):
            loader.set_epoch(epoch)
            epochs[epoch] = epoch_indices(loader, index_of)
        report[name] = {
            "seed": loader.seed,
            "num_samples": len(loader.dataset),
            "num_batches": len(loader),
            "epochs": epochs,
            "test_samples": len(ds["test_loader"].dataset),
        }
    return report


def train(data_dir: Path) -> dict:
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    world = dist.get_world_size()
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    torch.set_num_threads(1)
    ds = create_dataset("mnist", batch_size=64 // world, data_dir=data_dir, download=False, progress=False, seed=3)
    model = DistributedDataParallel(nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(3):
        ds["train_loader"].set_epoch(epoch)
        model.train()
        total = torch.zeros(2, dtype=torch.float64)
        for images, labels in ds["train_loader"]:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            total += torch.tensor([loss.item() * len(labels), len(labels)], dtype=torch.float64)
    dist.all_reduce(total)
    model.eval()
    counts = torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for images, labels in ds["test_loader"]:  # each rank scores its shard of the test split
            counts += torch.tensor([(model(images).argmax(1) == labels).sum().item(), len(labels)], dtype=torch.float64)
    dist.all_reduce(counts)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    return {
        "final_epoch_loss": float(total[0] / total[1]),
        "test_accuracy": float(counts[0] / counts[1]),
        "test_scored": int(counts[1]),
        "weights_checksum": float(weights.double().sum()),
        "batches_per_epoch": len(ds["train_loader"]),
    }


def main() -> None:
    mode, out, data_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    dist.init_process_group("gloo")
    report = shards(data_dir) if mode == "shards" else train(data_dir)
    report.update(rank=dist.get_rank(), world_size=dist.get_world_size())
    (out / f"{mode}-rank{dist.get_rank()}.json").write_text(json.dumps(report))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
