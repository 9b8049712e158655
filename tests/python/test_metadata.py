"""Metadata tracking (issue 6): the guide's snippets, real values, durability,
concurrency, corruption, and the logging bridge."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_mnist
from structure_net_data.errors import CorruptDataError


def test_guide_manual_metadata_snippet_verbatim():
    from data_factory.metadata import DatasetMetadata, track_dataset_usage

    # Create custom metadata
    metadata = DatasetMetadata(
        dataset_name="custom_dataset",
        version="1.0.0",
        source="local_files",
        preprocessing_steps=["normalize", "augment"],
        statistics={"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    )

    # Track usage
    usage_id = track_dataset_usage(
        experiment_id="exp_123", dataset_metadata=metadata, subset_info={"size": 5000, "split": "validation"}
    )

    from data_factory.metadata import get_dataset_metadata, get_dataset_usage_history

    history = get_dataset_usage_history(experiment_id="exp_123")
    assert [u.usage_id for u in history] == [usage_id]
    assert history[0].dataset_name == "custom_dataset"
    assert history[0].dataset_version == "1.0.0"
    assert history[0].samples_used == 5000
    assert history[0].subset_used == "validation"
    assert history[0].transformations_applied == ["normalize", "augment"]
    stored = get_dataset_metadata("custom_dataset")
    assert stored.statistics == {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    assert stored.source == "local_files"


def test_original_keyword_form_and_statistics():
    from data_factory.metadata import get_dataset_statistics, track_dataset_usage

    track_dataset_usage("e1", dataset_name="mnist", dataset_version="1.0", subset_used="train", samples_used=100)
    track_dataset_usage("e1", dataset_name="mnist", dataset_version="1.0", subset_used="test", samples_used=20)
    track_dataset_usage("e2", dataset_name="mnist", dataset_version="1.0", subset_used="train", samples_used=50)
    stats = get_dataset_statistics("mnist")
    assert stats["total_uses"] == 3
    assert stats["unique_experiments"] == 2
    assert stats["total_samples_used"] == 170
    assert stats["subset_distribution"] == {"train": 2, "test": 1}
    assert stats["first_used"] <= stats["last_used"]
    assert get_dataset_statistics("never_used")["total_uses"] == 0
    with pytest.raises(TypeError):
        track_dataset_usage("e3", bogus=1)


def test_create_dataset_records_real_values(data_dir):
    from data_factory import create_dataset
    from data_factory.metadata import get_dataset_metadata, get_dataset_usage_history

    gen = write_mnist(data_dir, n_train=200, n_test=50)
    ds = create_dataset(
        "mnist", batch_size=32, data_dir=data_dir, download=False, subset_size=100, seed=3, experiment_id="exp_real"
    )
    meta = ds["metadata"]
    # The checksum is derived from the SHA-256 of the actual files.
    digest = hashlib.sha256()
    for path in sorted(gen.files, key=lambda p: meta.files.index(str(p))):
        digest.update(f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    assert meta.checksum == "sha256:" + digest.hexdigest()
    assert meta.num_samples == 100 + 25  # the subset, not the config's 70,000
    assert meta.size_bytes == 250 * 784 + 250 * 8
    assert meta.preprocessing_steps == ds["train_loader"].transforms
    assert meta.shape == [1, 28, 28]
    usage = get_dataset_usage_history(dataset_name="mnist", experiment_id="exp_real")
    assert sorted((u.subset_used, u.samples_used) for u in usage) == [("test", 25), ("train", 100)]
    assert all(u.loading_time is not None and u.loading_time >= 0 for u in usage)
    assert get_dataset_metadata("mnist").checksum == meta.checksum


_WRITER = textwrap.dedent(
    """
    import sys
    from data_factory.metadata import track_dataset_usage
    worker, n = int(sys.argv[1]), int(sys.argv[2])
    for i in range(n):
        track_dataset_usage(f"exp_{worker}_{i}", dataset_name="cifar10", dataset_version="1.0",
                            subset_used="train", samples_used=1)
    """
)


def test_four_processes_lose_nothing():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(w), "150"], env=env) for w in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    from data_factory.metadata import get_dataset_usage_history

    ids = {u.experiment_id for u in get_dataset_usage_history("cifar10")}
    assert len(ids) == 600
    assert ids == {f"exp_{w}_{i}" for w in range(4) for i in range(150)}


def test_corrupt_database_is_an_error_and_left_untouched(tmp_path, monkeypatch):
    from structure_net_data import metadata

    bad = tmp_path / "meta"
    bad.mkdir()
    garbage = b"this is definitely not an sqlite database" * 100
    (bad / "metadata.db").write_bytes(garbage)
    monkeypatch.setenv("SND_METADATA_DIR", str(bad))
    with pytest.raises(CorruptDataError, match="not a valid SQLite database"):
        metadata.track_dataset_usage("e", dataset_name="mnist")
    assert (bad / "metadata.db").read_bytes() == garbage


def test_metadata_dir_follows_environment(tmp_path, monkeypatch):
    from structure_net_data import metadata

    monkeypatch.setenv("SND_METADATA_DIR", str(tmp_path / "a"))
    metadata.track_dataset_usage("ea", dataset_name="mnist")
    monkeypatch.setenv("SND_METADATA_DIR", str(tmp_path / "b"))
    assert metadata.get_dataset_usage_history("mnist") == []
    assert (tmp_path / "a" / "metadata.db").exists()


def test_core_logs_reach_python_logging(data_dir, caplog):
    from data_factory import create_dataset

    write_mnist(data_dir, n_train=20, n_test=10)
    logging.getLogger("data_factory").setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="data_factory"):
            create_dataset("mnist", data_dir=data_dir, download=False)
            create_dataset("mnist", data_dir=data_dir, download=False, force_reload=True)
    finally:
        logging.getLogger("data_factory").setLevel(logging.NOTSET)
    core = [r for r in caplog.records if r.name == "data_factory.core"]
    assert any("decoded and cached" in r.getMessage() for r in core)
    assert all(r.core.get("dataset") == "mnist" for r in core if "decoded" in r.getMessage())


def test_debug_records_hidden_at_warning(data_dir, caplog):
    from data_factory import create_dataset

    write_mnist(data_dir, n_train=20, n_test=10)
    with caplog.at_level(logging.WARNING, logger="data_factory"):
        create_dataset("mnist", data_dir=data_dir, download=False)
    assert not [r for r in caplog.records if r.name == "data_factory.core" and r.levelno < logging.WARNING]


def test_dataset_cache_is_inspectable(data_dir):
    from data_factory import create_dataset
    from data_factory.factory import DATASET_CACHE

    write_mnist(data_dir, n_train=20, n_test=10)
    create_dataset("mnist", data_dir=data_dir, download=False)
    assert list(DATASET_CACHE.keys()) == [f"mnist@{Path(data_dir).resolve()}"]
