"""Metadata on a SQL server (issue 10): one contract for SQLite and a real
PostgreSQL server, eight writer processes on two "nodes", a server restart
mid-run, and errors that name the server but never the password."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import conftest_postgres
import pytest
from conftest import write_mnist
from structure_net_data.errors import InvalidArgumentError, UnavailableError, UnsupportedError

postgres_server = conftest_postgres.postgres_server


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_uri(request, tmp_path, monkeypatch) -> str:
    """A fresh database of each backend, made the process default through $SND_METADATA_URI."""
    if request.param == "sqlite":
        uri = "sqlite://" + str(tmp_path / "meta" / "metadata.db")
    else:
        uri = request.getfixturevalue("postgres_server").fresh_database()
    monkeypatch.setenv("SND_METADATA_URI", uri)
    return uri


def test_guide_snippet_and_statistics(backend_uri):
    from data_factory.metadata import (
        DatasetMetadata,
        get_dataset_metadata,
        get_dataset_statistics,
        get_dataset_usage_history,
        track_dataset_usage,
    )

    metadata = DatasetMetadata(
        dataset_name="custom_dataset",
        version="1.0.0",
        source="local_files",
        preprocessing_steps=["normalize", "augment"],
        statistics={"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    )
    usage_id = track_dataset_usage(
        experiment_id="exp_123", dataset_metadata=metadata, subset_info={"size": 5000, "split": "validation"}
    )
    history = get_dataset_usage_history(experiment_id="exp_123")
    assert [u.usage_id for u in history] == [usage_id]
    assert (history[0].samples_used, history[0].subset_used) == (5000, "validation")
    assert history[0].transformations_applied == ["normalize", "augment"]
    assert get_dataset_metadata("custom_dataset").statistics["std"] == [0.229, 0.224, 0.225]
    track_dataset_usage("e1", dataset_name="mnist", subset_used="train", samples_used=100)
    track_dataset_usage("e1", dataset_name="mnist", subset_used="test", samples_used=20)
    track_dataset_usage("e2", dataset_name="mnist", subset_used="train", samples_used=50)
    stats = get_dataset_statistics("mnist")
    assert (stats["total_uses"], stats["unique_experiments"], stats["total_samples_used"]) == (3, 2, 170)
    assert stats["subset_distribution"] == {"train": 2, "test": 1}
    if backend_uri.startswith("sqlite://"):  # the file the URI names, not the default folder
        assert Path(backend_uri[len("sqlite://") :]).exists()


def test_create_dataset_records_usage_in_the_configured_store(backend_uri, data_dir):
    from data_factory import create_dataset
    from data_factory.metadata import get_dataset_metadata, get_dataset_usage_history

    write_mnist(data_dir, n_train=120, n_test=40)
    ds = create_dataset("mnist", batch_size=32, data_dir=data_dir, download=False, seed=1, experiment_id="exp_pg")
    usage = get_dataset_usage_history(dataset_name="mnist", experiment_id="exp_pg")
    assert sorted((u.subset_used, u.samples_used) for u in usage) == [("test", 40), ("train", 120)]
    assert get_dataset_metadata("mnist").checksum == ds["metadata"].checksum


def test_metadata_config_selects_the_database_and_hides_the_password(backend_uri, monkeypatch, tmp_path):
    from structure_net_data import metadata

    monkeypatch.setenv("SND_METADATA_URI", "sqlite://" + str(tmp_path / "elsewhere.db"))
    config = metadata.MetadataConfig(uri=backend_uri)
    metadata.configure_metadata(config)
    try:
        metadata.track_dataset_usage("by_config", dataset_name="mnist")
        store = metadata.MetadataStore(config=config)
        assert [u.experiment_id for u in store.history("mnist")] == ["by_config"]
        store.close()
    finally:
        metadata.configure_metadata(None)
    assert metadata.get_dataset_usage_history("mnist") == []  # the environment's database again
    assert conftest_postgres.PASSWORD not in repr(config)
    assert conftest_postgres.PASSWORD not in repr(metadata.MetadataStore(config=config))


def test_a_newer_schema_is_refused_and_left_untouched(backend_uri, request):
    from structure_net_data.metadata import MetadataConfig, MetadataStore

    with MetadataStore(config=MetadataConfig(uri=backend_uri)) as store:
        store.track({"experiment_id": "e", "dataset_name": "mnist"})
    tamper = "INSERT INTO snd_schema_version(version, applied_at) VALUES (7, 'later')"
    if backend_uri.startswith("sqlite://"):
        with sqlite3.connect(backend_uri[len("sqlite://") :]) as db:
            db.execute(tamper)
    else:
        request.getfixturevalue("postgres_server").psql(tamper, database=backend_uri.rsplit("/", 1)[1])
    with pytest.raises(UnsupportedError, match="schema version 7.*upgrade"):
        MetadataStore(config=MetadataConfig(uri=backend_uri))


_WRITER = textwrap.dedent(
    """
    import sys
    from structure_net_data.metadata import track_dataset_usage
    name, n, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    import time
    failed = 0
    for i in range(n):
        time.sleep(pause)
        try:
            track_dataset_usage(f"{name}_{i}", dataset_name="cifar10", subset_used="train", samples_used=1)
            print("OK", f"{name}_{i}", flush=True)
        except Exception as e:
            print("FAILED", f"{name}_{i}", e, flush=True)
            failed += 1
    sys.exit(1 if failed else 0)
    """
)


def _start_writers(tmp_path: Path, n: int, pause: float) -> list[tuple[str, subprocess.Popen]]:
    """Eight writer processes in two groups, each group a "node" with its own
    HOME, data and cache folders; all share the database of $SND_METADATA_URI."""
    procs = []
    for node in ("nodeA", "nodeB"):
        home = tmp_path / node
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), HOME=str(home))
        env.update(DATA_DIR=str(home / "data"), SND_CACHE_DIR=str(home / "decoded"), SND_METADATA_DIR=str(home / "m"))
        for p in range(4):
            name = f"{node}_p{p}"
            cmd = [sys.executable, "-c", _WRITER, name, str(n), str(pause)]
            procs.append((name, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    return procs


def _stored(uri: str) -> dict[str, int]:
    from structure_net_data.metadata import MetadataConfig, MetadataStore

    with MetadataStore(config=MetadataConfig(uri=uri)) as store:
        counts: dict[str, int] = {}
        for u in store.history("cifar10"):
            counts[u.experiment_id] = counts.get(u.experiment_id, 0) + 1
        return counts


def test_server_restart_mid_run_loses_nothing(postgres_server, monkeypatch, tmp_path):
    """Eight processes on two "nodes" write while the server restarts: every
    write retries and succeeds, each record is stored exactly once. (The Go
    contract suite runs eight writer processes against both backends.)"""
    from structure_net_data.metadata import MetadataConfig, MetadataStore

    uri = postgres_server.fresh_database()
    monkeypatch.setenv("SND_METADATA_URI", uri)
    MetadataStore(config=MetadataConfig(uri=uri)).close()  # the schema exists before the writers start
    n = 150
    procs = _start_writers(tmp_path, n, 0.02)
    deadline = time.monotonic() + 180
    while {name.rsplit("_", 1)[0] for name in _stored(uri)} != {name for name, _ in procs}:
        assert time.monotonic() < deadline, "the writers did not start"  # every writer is up and writing
        time.sleep(0.2)
    postgres_server.stop()
    time.sleep(1.0)
    postgres_server.start()
    assert sum(_stored(uri).values()) < 8 * n, "the restart did not happen mid-run"
    outputs = {name: p.communicate(timeout=300)[0].decode() for name, p in procs}
    reported_ok = {line.split()[1] for out in outputs.values() for line in out.splitlines() if line.startswith("OK")}
    failed = [line for out in outputs.values() for line in out.splitlines() if line.startswith("FAILED")]
    stored = _stored(uri)
    assert not failed, failed
    assert all(p.returncode == 0 for _, p in procs), outputs
    assert set(stored) == reported_ok and len(stored) == 8 * n
    assert set(stored.values()) == {1}  # a retried write is never stored twice


def test_a_write_fails_loudly_naming_the_record_when_the_server_stays_down(postgres_server):
    from structure_net_data.metadata import MetadataConfig, MetadataStore

    uri = postgres_server.fresh_database()
    store = MetadataStore(config=MetadataConfig(uri=uri, retry_seconds=1.5))
    store.track({"experiment_id": "before", "dataset_name": "mnist"})
    postgres_server.stop()
    try:
        with pytest.raises(UnavailableError) as caught:
            store.track({"usage_id": "u-lost-7", "experiment_id": "during", "dataset_name": "mnist"})
    finally:
        postgres_server.start()
    message = str(caught.value)
    assert "u-lost-7" in message and '"during"' in message and f"127.0.0.1:{postgres_server.port}" in message
    assert conftest_postgres.PASSWORD not in message
    store.track({"experiment_id": "after", "dataset_name": "mnist"})  # the same handle works again
    assert [u.experiment_id for u in store.history("mnist")] == ["before", "after"]
    store.close()


def test_wrong_credentials_and_unreachable_server_name_host_and_port_not_the_password(postgres_server):
    from structure_net_data.metadata import MetadataConfig, MetadataStore

    wrong = "Wr0ng-pass-word-xyz"
    with pytest.raises(InvalidArgumentError) as bad_password:
        MetadataStore(config=MetadataConfig(uri=postgres_server.uri(password=wrong)))
    closed = conftest_postgres.free_port()
    with pytest.raises(UnavailableError) as unreachable:
        MetadataStore(config=MetadataConfig(uri=postgres_server.uri(port=closed)))
    for caught, port in ((bad_password, postgres_server.port), (unreachable, closed)):
        text = caught.exconly() + repr(caught.value) + repr(caught.value.__cause__)
        assert f"127.0.0.1:{port}" in str(caught.value)
        assert wrong not in text and conftest_postgres.PASSWORD not in text
