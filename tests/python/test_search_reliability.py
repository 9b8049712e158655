"""Failure cases of experiment search: a Chroma server that is down or dies
mid-batch (a real process kill), and several processes writing one embedded
store at once."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import conftest_search
import pytest
from structure_net_data import errors
from structure_net_data.search import (
    ChromaConfig,
    ExperimentSearcher,
    PartialWriteError,
    get_chroma_client,
    reset_chroma_client,
)

fresh_chroma_server = conftest_search.fresh_chroma_server


@pytest.fixture(autouse=True)
def _forget_clients() -> None:
    reset_chroma_client()
    yield
    reset_chroma_client()


def test_server_down_is_a_clear_error() -> None:
    cfg = ChromaConfig(host="127.0.0.1", port=conftest_search.free_port(), max_retries=1)
    start = time.monotonic()
    with pytest.raises(errors.UnavailableError, match="unreachable") as info:
        ExperimentSearcher(cfg)
    assert isinstance(info.value, ConnectionError)
    assert time.monotonic() - start < 15


def experiment(i: int) -> dict:
    return {
        "architecture": [784, 32 + i % 200, 10],
        "final_performance": {"accuracy": (i % 1000) / 1000},
        "config": {"dataset": "mnist", "seed": i},
    }


def test_server_killed_mid_batch_reports_what_was_written(fresh_chroma_server: conftest_search.ChromaServer) -> None:
    server = fresh_chroma_server
    cfg = ChromaConfig(
        host=server.host, port=server.port, collection_name="midbatch", batch_size=100, max_retries=1, timeout=5
    )
    searcher = ExperimentSearcher(cfg)
    watcher = get_chroma_client(ChromaConfig(host=server.host, port=server.port, collection_name="midbatch"))
    batch = [(f"e{i:05d}", experiment(i)) for i in range(6000)]
    outcome: dict = {}

    def index() -> None:
        try:
            searcher.index_experiments_batch(batch)
        except Exception as exc:  # handed to the main thread
            outcome["error"] = exc

    thread = threading.Thread(target=index)
    thread.start()
    while watcher.count() < 300:
        assert thread.is_alive(), f"the batch ended before the kill: {outcome}"
        time.sleep(0.02)
    server.kill()  # SIGKILL mid-batch
    thread.join(120)
    err = outcome.get("error")
    assert isinstance(err, PartialWriteError), repr(err)
    assert isinstance(err, errors.UnavailableError)
    ids = [i for i, _ in batch]
    assert err.written_ids and err.unconfirmed_ids
    assert err.written_ids + err.unconfirmed_ids == ids
    assert "not confirmed" in str(err)
    # Nothing that was reported written is lost.
    server.restart()
    reset_chroma_client()
    again = ExperimentSearcher(ChromaConfig(host=server.host, port=server.port, collection_name="midbatch"))
    stored = again.client.get(ids=err.written_ids, include=())
    assert len(stored["ids"]) == len(err.written_ids)
    assert again.get_experiment(err.written_ids[-1]) == dict(batch)[err.written_ids[-1]]
    # Upserts are idempotent: sending the unconfirmed ones completes the batch.
    rest = dict(batch)
    again.index_experiments_batch([(i, rest[i]) for i in err.unconfirmed_ids])
    assert again.count() == len(batch)


def _writer(directory: str, worker: int, n: int) -> None:
    """A child process: indexes its own experiments in small batches, searching in between."""
    from structure_net_data.search import ChromaConfig, ExperimentSearcher

    searcher = ExperimentSearcher(ChromaConfig(persist_directory=directory))
    for start in range(0, n, 10):
        searcher.index_experiments_batch(
            [(f"w{worker}-{i:04d}", dict(experiment(i), worker=worker)) for i in range(start, start + 10)]
        )
        searcher.search_similar_experiments(experiment(start), n_results=5, filters={"config.seed": {"$lt": 50}})
    searcher.client.close()


def test_four_processes_write_one_embedded_store(tmp_path: Path) -> None:
    directory = str(tmp_path / "shared")
    reader = ExperimentSearcher(ChromaConfig(persist_directory=directory))
    assert reader.count() == 0
    ctx = multiprocessing.get_context("spawn")  # Go cannot run in a forked child
    procs = [ctx.Process(target=_writer, args=(directory, w, 250)) for w in range(4)]
    for p in procs:
        p.start()
    # Read while they write.
    while any(p.is_alive() for p in procs):
        reader.search_by_performance(min_accuracy=0.1, n_results=5)
        time.sleep(0.01)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert reader.count() == 1000
    for w in range(4):
        for i in (0, 137, 249):
            assert reader.get_experiment(f"w{w}-{i:04d}") == dict(experiment(i), worker=w)
    everything = reader.search_by_performance(n_results=None)
    assert len(everything) == 1000 and len(set(everything.ids())) == 1000
    assert len(reader.search_by_architecture([784, 40, 10], n_results=2000)) == 1000
