"""Dataset metadata and usage tracking."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["DatasetMetadata", "track_dataset_usage", "get_dataset_usage_history", "dataset_metadata_for"]


@dataclass
class DatasetMetadata:
    """What was loaded: identity, provenance, size and preprocessing."""

    dataset_name: str
    version: str = "1.0"
    source: str = ""
    preprocessing_steps: list[str] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    size_bytes: int = 0
    num_samples: int = 0
    shape: list[int] = field(default_factory=list)
    checksum: str = ""
    download_timestamp: str = ""
    files: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset_version(self) -> str:
        return self.version

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _metadata_dir() -> Path:
    env = os.environ.get("SND_METADATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "structure-net-data" / "metadata"


def dataset_metadata_for(dataset: Any, train_loader: Any, test_loader: Any) -> DatasetMetadata:
    """Metadata with real values: files, decoded size, samples after subsetting, transforms."""
    config = dataset.config
    samples = sum(len(loader.dataset) for loader in (train_loader, test_loader) if loader is not None)
    steps = list(getattr(train_loader, "transforms", []) or [])
    stats = {}
    if config.mean is not None:
        stats = {"mean": list(config.mean), "std": list(config.std or ())}
    files = list(getattr(dataset, "files", []) or [])
    return DatasetMetadata(
        dataset_name=config.name,
        version=config.version,
        source=os.path.dirname(files[0]) if files else ("decoded cache" if dataset.from_cache else "memory"),
        preprocessing_steps=steps,
        statistics=stats,
        size_bytes=int(getattr(dataset, "size_bytes", 0)),
        num_samples=samples,
        shape=list(config.input_shape),
        files=files,
        config=config.to_json(),
    )


def track_dataset_usage(
    experiment_id: str, dataset_metadata: DatasetMetadata | None = None, subset_info: dict[str, Any] | None = None
) -> str:
    """Records that ``experiment_id`` used a dataset; returns the usage id.

    Records are appended, one JSON line each, under an exclusive file lock,
    so concurrent processes never interleave or lose records.
    """
    usage_id = uuid.uuid4().hex[:12]
    record = {
        "usage_id": usage_id,
        "experiment_id": experiment_id,
        "dataset_name": dataset_metadata.dataset_name if dataset_metadata else None,
        "dataset_version": dataset_metadata.version if dataset_metadata else None,
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "subset_info": subset_info or {},
    }
    path = _metadata_dir() / "usage.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, allow_nan=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return usage_id


def get_dataset_usage_history(dataset_name: str | None = None, experiment_id: str | None = None) -> list[dict]:
    """Usage records, optionally filtered by dataset or experiment."""
    path = _metadata_dir() / "usage.jsonl"
    if not path.exists():
        return []
    out = []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if dataset_name is not None and rec["dataset_name"] != dataset_name:
                continue
            if experiment_id is not None and rec["experiment_id"] != experiment_id:
                continue
            out.append(rec)
    return out
