"""Ready-made test functions for the lab (module-level, so spawn workers can import them)."""

from __future__ import annotations

from typing import Any

__all__ = ["train_mlp", "dataset_memory"]


def train_mlp(experiment: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Trains an MLP on the experiment's dataset and reports test accuracy per epoch.

    Parameters read from ``experiment.parameters``: ``architecture`` (layer widths;
    the first and last are replaced by the dataset's input size and class count),
    ``epochs`` (default 1), ``lr`` (default 1e-3), ``max_batches`` (per epoch, default all),
    ``log_steps`` (record every optimizer step in the history, not only epochs).
    """
    import torch
    from torch import nn

    params = experiment.parameters
    config = data["config"]
    widths = list(params.get("architecture") or [config.input_size, 128, config.num_classes])
    widths[0], widths[-1] = config.input_size, config.num_classes
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(params.get("lr", 1e-3)))
    loss_fn = nn.CrossEntropyLoss()
    max_batches = params.get("max_batches")
    history = []
    log_steps = bool(params.get("log_steps"))
    for epoch in range(int(params.get("epochs", 1))):
        model.train()
        total_loss, batches = 0.0, 0
        for images, labels in data["train_loader"]:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            batches += 1
            if log_steps:
                history.append(
                    {"epoch": epoch, "step": batches, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"]}
                )
            if max_batches and batches >= max_batches:
                break
        data["train_loader"].set_epoch(epoch + 1)
        model.eval()
        correct = seen = 0
        with torch.no_grad():
            for images, labels in data["test_loader"]:
                correct += (model(images).argmax(1) == labels).sum().item()
                seen += len(labels)
        history.append({"epoch": epoch, "loss": total_loss / max(1, batches), "test_accuracy": correct / max(1, seen)})
    epochs_only = [row for row in history if "test_accuracy" in row]
    final = epochs_only[-1] if epochs_only else {"loss": 0.0, "test_accuracy": 0.0}
    return {
        "metrics": {"accuracy": final["test_accuracy"], "loss": final["loss"]},
        "primary_metric": final["test_accuracy"],
        "training_history": history,
        "model_parameters": sum(p.numel() for p in model.parameters()),
        "model_architecture": widths,
    }


def dataset_memory(experiment: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Touches every training sample, waits ``hold`` seconds (so parallel workers
    overlap), and reports the resident and proportional memory of the mapped
    decoded-cache files (``/proc/self/smaps``): shared pages count once in Pss."""
    import time
    from pathlib import Path

    for _ in data["train_loader"]:
        pass
    time.sleep(float(experiment.parameters.get("hold", 2.0)))
    rss = pss = 0
    in_cache = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and "-" in fields[0] and not fields[0].endswith(":"):  # a mapping header line
            in_cache = fields[-1].endswith(".arrow")
        elif in_cache and fields[0] == "Rss:":
            rss += int(fields[1])
        elif in_cache and fields[0] == "Pss:":
            pss += int(fields[1])
    return {"metrics": {"accuracy": 0.0, "cache_rss_kb": rss, "cache_pss_kb": pss}}
