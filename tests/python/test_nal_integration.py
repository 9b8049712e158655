"""Memory-efficient NAL (issue 6): finished experiments go to the search index
and time-series storage, the lab keeps summaries, failures of the stores lose
nothing, and the guide's snippets run."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import pytest
from conftest import write_mnist
from structure_net_data.lab_tasks import train_mlp


def long_history(experiment, data):
    """A cheap test function with a 120-epoch history (above the 50-epoch threshold)."""
    width = experiment.parameters["width"]
    peak = 0.5 + width / 1000
    history = [{"epoch": i, "loss": 1.0 / (i + 1), "test_accuracy": peak * i / 119} for i in range(120)]
    return {
        "metrics": {"accuracy": history[-1]["test_accuracy"], "loss": history[-1]["loss"]},
        "training_history": history,
        "model_parameters": 784 * width + width * 10,
        "model_architecture": [784, width, 10],
    }


@pytest.fixture
def stores(tmp_path):
    from data_factory.search import ChromaConfig
    from data_factory.time_series_storage import TimeSeriesConfig

    return (
        ChromaConfig(persist_directory=str(tmp_path / "chroma"), collection_name="nal_experiments"),
        TimeSeriesConfig(storage_dir=str(tmp_path / "timeseries"), use_hdf5=True, compression="gzip"),
    )


def test_guide_snippet_and_real_training_are_offloaded(tmp_path, data_dir, stores):
    from data_factory.nal_integration import create_memory_efficient_nal
    from neural_architecture_lab import Hypothesis
    from neural_architecture_lab.core import LabConfig

    write_mnist(data_dir, n_train=256, n_test=64)
    chroma_config, timeseries_config = stores
    nal_config = LabConfig(
        max_parallel_experiments=2, save_best_models=False, results_dir=str(tmp_path / "nal"), data_dir=str(data_dir)
    )
    nal, chroma_integration = create_memory_efficient_nal(nal_config, chroma_config, timeseries_config)
    nal.register_hypothesis(
        Hypothesis(
            id="mlp_width",
            test_function=train_mlp,
            control_parameters={"dataset": "mnist", "epochs": 2, "batch_size": 64},
            parameter_space={"architecture": [[784, 16, 10], [784, 48, 10]]},
        )
    )
    result = asyncio.run(nal.test_hypothesis("mlp_width"))
    assert result.successful_experiments == 2
    assert result.experiment_results == []  # nothing heavy kept in the lab
    assert {s["status"] for s in result.summaries} == {"completed"}
    ids = sorted(s["experiment_id"] for s in result.summaries)
    hits = chroma_integration.searcher.search_by_hypothesis("mlp_width")
    assert sorted(h["id"] for h in hits) == ids
    doc = chroma_integration.storage.retrieve_experiment(ids[0], include_training_history=True)
    assert len(doc["training_history"]) == 2  # short histories stay inline
    summary = chroma_integration.get_hypothesis_summary("mlp_width")
    assert summary["total_experiments"] == 2
    assert 0.0 <= summary["min_accuracy"] <= summary["max_accuracy"] <= 1.0


def test_long_histories_go_to_timeseries_and_come_back(tmp_path, data_dir, stores):
    from data_factory.nal_integration import create_memory_efficient_nal
    from neural_architecture_lab import Hypothesis, LabConfig

    write_mnist(data_dir, n_train=64, n_test=32)
    nal, integration = create_memory_efficient_nal(
        LabConfig(max_parallel_experiments=2, results_dir=str(tmp_path / "nal"), data_dir=str(data_dir)), *stores
    )
    nal.register_hypothesis(
        Hypothesis(
            id="long",
            test_function=long_history,
            control_parameters={"dataset": "mnist"},
            parameter_space={"width": [32, 64, 128]},
        )
    )
    result = asyncio.run(nal.test_hypothesis("long"))
    assert result.successful_experiments == 3
    for s in result.summaries:
        doc = integration.storage.retrieve_experiment(s["experiment_id"])
        assert "training_history" not in doc and doc["training_history_key"]
        full = integration.storage.retrieve_experiment(s["experiment_id"], include_training_history=True)
        assert [row["epoch"] for row in full["training_history"]] == list(range(120))
        assert integration.timeseries.get_summary_statistics(doc["training_history_key"])["num_epochs"] == 120
    best = integration.searcher.search_by_performance(min_accuracy=0.0, dataset="mnist", n_results=1)
    assert best[0]["architecture"] == "[784, 128, 10]"
    similar = integration.search_nal_experiments({"architecture": [784, 120, 10], "target_accuracy": 0.99})
    assert len(similar) == 3


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unavailable_store_spools_and_retries(tmp_path, stores):
    from data_factory.search import ChromaConfig
    from structure_net_data.lab import ExperimentResult
    from structure_net_data.nal_integration import NALChromaIntegration

    down = ChromaConfig(host="127.0.0.1", port=_closed_port(), collection_name="nal_experiments")
    integration = NALChromaIntegration(None, down, stores[1], results_dir=tmp_path / "nal")
    results = [
        ExperimentResult(f"h-{i}", "h", {"dataset": "mnist"}, metrics={"accuracy": 0.5 + i / 10}, primary_metric=0.5)
        for i in range(3)
    ]
    for r in results:
        integration.index_experiment_result(r, "h")
    assert integration.indexed == []
    assert len(integration.pending_path.read_text().splitlines()) == 3
    assert integration.retry_pending() == 3  # still down: kept, not dropped
    # The store comes back (here: the embedded one); the spool drains.
    working = NALChromaIntegration(None, stores[0], stores[1], results_dir=tmp_path / "nal")
    assert working.retry_pending() == 0
    assert sorted(working.indexed) == ["h-0", "h-1", "h-2"]
    assert working.pending_path.read_text() == ""
    assert working.searcher.get_experiment("h-2")["metrics"]["accuracy"] == pytest.approx(0.7)


def test_duck_typed_lab_is_wrapped(tmp_path, stores):
    from structure_net_data.lab import ExperimentResult
    from structure_net_data.nal_integration import NALChromaIntegration

    class OtherLab:
        async def test_hypothesis(self, hypothesis_id):
            runs = [
                ExperimentResult(f"{hypothesis_id}-{i}", hypothesis_id, {"i": i}, metrics={"accuracy": i / 4})
                for i in range(4)
            ]
            return SimpleNamespace(experiment_results=runs)

    integration = NALChromaIntegration(None, *stores, results_dir=tmp_path / "nal")
    lab = integration.attach(OtherLab())
    out = asyncio.run(lab.test_hypothesis("duck"))
    assert out.experiment_results == []
    assert integration.searcher.count() == 4
    assert integration.get_hypothesis_summary("duck")["best_experiment"] == "duck-3"
