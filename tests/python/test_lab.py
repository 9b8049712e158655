"""The experiment lab (issue 6): hypotheses, parallel spawned workers with
data loaders from create_dataset, failures recorded, deterministic ids."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from conftest import write_mnist
from structure_net_data.lab_tasks import train_mlp


def exploding(experiment, data):
    if experiment.parameters.get("explode") == "raise":
        raise RuntimeError("boom from the test function")
    if experiment.parameters.get("explode") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    images, labels = next(iter(data["train_loader"]))
    return {"metrics": {"accuracy": float(labels.float().mean()) / 10}, "training_history": [{"epoch": 0}]}


def data_facts(experiment, data):
    images, labels = next(iter(data["train_loader"]))
    return {
        "metrics": {"accuracy": 0.5},
        "observations": [str(tuple(images.shape)), str(data["config"].name), str(len(data["train_loader"].dataset))],
    }


@pytest.fixture
def mnist_dir(data_dir):
    write_mnist(data_dir, n_train=256, n_test=64)
    return data_dir


def test_guide_imports_and_ids_are_deterministic():
    from neural_architecture_lab import Hypothesis, HypothesisCategory
    from neural_architecture_lab.core import LabConfig
    from neural_architecture_lab.lab import NeuralArchitectureLab

    h = Hypothesis(
        id="ids",
        name="ids",
        category=HypothesisCategory.ARCHITECTURE,
        test_function=data_facts,
        control_parameters={"dataset": "mnist", "epochs": 1},
        parameter_space={"lr": [0.1, 0.01], "width": [8, 16]},
    )
    lab = NeuralArchitectureLab(LabConfig(min_experiments_per_hypothesis=6))
    first = lab.generate_experiments(h)
    again = lab.generate_experiments(h)
    assert [e.id for e in first] == [e.id for e in again]
    assert len({e.id for e in first}) == 6  # 4 combinations + 2 seed copies, no collisions
    assert all(e.parameters["dataset"] == "mnist" for e in first)
    assert {(e.parameters["lr"], e.parameters["width"]) for e in first[:4]} == {
        (0.1, 8),
        (0.1, 16),
        (0.01, 8),
        (0.01, 16),
    }


def test_lab_runs_real_training_with_loaders_from_control_parameters(mnist_dir):
    from neural_architecture_lab import Hypothesis, LabConfig, NeuralArchitectureLab

    lab = NeuralArchitectureLab(LabConfig(max_parallel_experiments=2, data_dir=str(mnist_dir)))
    lab.register_hypothesis(
        Hypothesis(
            id="mlp",
            test_function=train_mlp,
            control_parameters={"dataset": "mnist", "epochs": 2, "batch_size": 64},
            parameter_space={"architecture": [[784, 32, 10], [784, 64, 10]]},
        )
    )
    result = asyncio.run(lab.test_hypothesis("mlp"))
    assert result.num_experiments == 2 and result.successful_experiments == 2, [
        r.error for r in result.experiment_results
    ]
    for r in result.experiment_results:
        assert len(r.training_history) == 2
        assert 0.0 <= r.primary_metric <= 1.0
        assert (
            r.model_parameters
            == 784 * r.model_architecture[1] + r.model_architecture[1] + r.model_architecture[1] * 10 + 10
        )
    assert result.best_parameters["architecture"] in ([784, 32, 10], [784, 64, 10])
    # Every worker recorded its dataset use under its experiment id.
    from data_factory.metadata import get_dataset_usage_history

    recorded = {u.experiment_id for u in get_dataset_usage_history("mnist")}
    assert recorded == {r.experiment_id for r in result.experiment_results}


def test_workers_get_the_hypothesis_dataset(mnist_dir):
    from neural_architecture_lab import Hypothesis, LabConfig, NeuralArchitectureLab

    lab = NeuralArchitectureLab(LabConfig(max_parallel_experiments=1, data_dir=str(mnist_dir)))
    lab.register_hypothesis(
        Hypothesis(
            id="facts",
            test_function=data_facts,
            control_parameters={"dataset": "mnist", "batch_size": 16, "subset_size": 100},
        )
    )
    result = asyncio.run(lab.test_hypothesis("facts"))
    assert result.experiment_results[0].observations == ["(16, 1, 28, 28)", "mnist", "100"]


def test_failures_are_recorded_and_do_not_stop_others(mnist_dir):
    from neural_architecture_lab import Hypothesis, LabConfig, NeuralArchitectureLab

    lab = NeuralArchitectureLab(LabConfig(max_parallel_experiments=3, data_dir=str(mnist_dir)))
    lab.register_hypothesis(
        Hypothesis(
            id="mixed",
            test_function=exploding,
            control_parameters={"dataset": "mnist", "batch_size": 32},
            parameter_space={"explode": ["no", "raise", "kill"]},
        )
    )
    result = asyncio.run(lab.test_hypothesis("mixed"))
    by = {r.parameters["explode"]: r for r in result.experiment_results}
    assert by["no"].succeeded and by["no"].error is None
    assert not by["raise"].succeeded and "boom from the test function" in by["raise"].error
    assert not by["kill"].succeeded and "died" in by["kill"].error
    assert (result.successful_experiments, result.failed_experiments) == (1, 2)


def test_unknown_hypothesis_and_bad_registration():
    from neural_architecture_lab import Hypothesis, NeuralArchitectureLab

    lab = NeuralArchitectureLab()
    with pytest.raises(KeyError, match="unknown hypothesis"):
        asyncio.run(lab.test_hypothesis("nope"))
    with pytest.raises(ValueError, match="test_function"):
        lab.register_hypothesis(Hypothesis(id="x"))
    with pytest.raises(ValueError, match="non-empty list"):
        Hypothesis(id="y", parameter_space={"lr": []})


def test_architecture_generator_from_dataset():
    from data_factory import list_available_datasets
    from seed_search.architecture_generator import ArchitectureGenerator

    for name in list_available_datasets():
        gen = ArchitectureGenerator.from_dataset(name)
        arch = gen.generate_seed_architecture()
        from data_factory import get_dataset_config

        config = get_dataset_config(name)
        assert arch[0] == config.input_size and arch[-1] == config.num_classes
        batch = gen.generate_systematic_batch(5)
        assert len(batch) == 5 and len({tuple(a) for a in batch}) == 5
        assert all(a[0] == config.input_size and a[-1] == config.num_classes for a in batch)
