"""The lab on a real multi-node Ray cluster (issue 10), all on loopback:
nodes with their own temp dir, data and cache folders and one CPU each,
experiments as Ray tasks, a node killed mid-run, workers that die, Ctrl-C on
the driver, and the same results as the local executor.

One cluster serves the module (starting Ray is slow on two cores); the test
that kills a node adds its own node to kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import conftest_postgres
import pytest
from conftest import write_mnist
from conftest_search import free_port
from ray_lab_tasks import dying, marked_training, sleeping
from structure_net_data.errors import UnavailableError
from structure_net_data.lab_tasks import train_mlp

# Ray picks the machine's interface address unless told it is a single-machine
# cluster; this keeps every node, the driver and the workers on 127.0.0.1. It
# is read when ray is imported, which happens in the fixtures below.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

ROOT = Path(__file__).resolve().parents[2]
postgres_server = conftest_postgres.postgres_server
MNIST = {"n_train": 256, "n_test": 64, "seed": 5}  # the same files on every node


# ---- the cluster -----------------------------------------------------------------------------


def _node_args(base: Path, name: str) -> dict:
    """One node: its own Ray temp dir, DATA_DIR (with the MNIST files), decoded cache
    and metadata folders, one CPU; workers find this package and ray_lab_tasks."""
    home = base / name
    write_mnist(home / "data", **MNIST)
    env = {
        "SND_TEST_NODE": name,
        "DATA_DIR": str(home / "data"),
        "SND_CACHE_DIR": str(home / "decoded"),
        "SND_METADATA_DIR": str(home / "metadata"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "python"), str(ROOT / "tests" / "python")]),
    }
    return {
        "num_cpus": 1,
        "object_store_memory": 80 * 1024 * 1024,
        "node_ip_address": "127.0.0.1",
        "temp_dir": str(home / "ray"),
        "env_vars": env,
    }


@pytest.fixture(scope="module")
def ray_cluster():
    from ray.cluster_utils import Cluster

    # Directly under /tmp: Ray's socket paths must stay short.
    base = Path(tempfile.mkdtemp(prefix="snd-ray-"))
    head = _node_args(base, "head")
    client_port = free_port()
    head.update(
        include_dashboard=False,
        ray_client_server_port=client_port,  # for ray://host:port drivers (Ray Client)
        # Notice a dead node within seconds, not the default half minute.
        _system_config={"health_check_period_ms": 500, "health_check_failure_threshold": 4},
    )
    cluster = Cluster(initialize_head=True, head_node_args=head)
    cluster.add_node(**_node_args(base, "node1"))
    cluster.wait_for_nodes()
    cluster.base = base
    cluster.client_address = f"ray://127.0.0.1:{client_port}"
    try:
        yield cluster
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
        import shutil

        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def disconnected():
    """Each test's lab connects by itself (and leaves no connection behind)."""
    import ray

    ray.shutdown()
    yield
    ray.shutdown()


def _lab(cluster, **config):
    from neural_architecture_lab import LabConfig, NeuralArchitectureLab

    return NeuralArchitectureLab(LabConfig(executor="ray", ray_address=cluster.address, **config))


# ---- tests -------------------------------------------------------------------------------------


def test_an_unreachable_cluster_fails_at_once_naming_the_address(disconnected, closed_port_url):
    from neural_architecture_lab import Hypothesis, LabConfig, NeuralArchitectureLab

    port = closed_port_url.split(":")[2].split("/")[0]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        lab = NeuralArchitectureLab(LabConfig(executor="ray", ray_address=address))
        lab.register_hypothesis(Hypothesis(id="h", test_function=train_mlp))
        with pytest.raises(UnavailableError, match=f"cannot reach the Ray cluster at {address}"):
            asyncio.run(lab.test_hypothesis("h"))
    with pytest.raises(ValueError, match="executor"):
        LabConfig(executor="slurm")


def test_ray_and_local_executors_give_identical_results(ray_cluster, disconnected, tmp_path):
    from neural_architecture_lab import Hypothesis, LabConfig, NeuralArchitectureLab

    hypothesis = dict(
        id="same",
        test_function=train_mlp,
        control_parameters={"dataset": "mnist", "epochs": 2, "batch_size": 32, "max_batches": 4}
        | {"architecture": [784, 16, 10]},
        parameter_space={"seed": [1, 2]},
    )
    write_mnist(tmp_path / "data", **MNIST)
    local = NeuralArchitectureLab(LabConfig(max_parallel_experiments=2, data_dir=str(tmp_path / "data")))
    on_ray = _lab(ray_cluster)
    runs = []
    for lab in (local, on_ray):
        lab.register_hypothesis(Hypothesis(**hypothesis))
        result = asyncio.run(lab.test_hypothesis("same"))
        assert result.successful_experiments == 2, [r.error for r in result.experiment_results]
        runs.append({r.experiment_id: r for r in result.experiment_results})
    local_results, ray_results = runs
    assert sorted(local_results) == sorted(ray_results)
    for experiment_id, mine in local_results.items():
        theirs = ray_results[experiment_id]
        assert theirs.metrics == mine.metrics  # bit-identical: same seeds, same data, one thread
        assert theirs.training_history == mine.training_history
        assert theirs.model_parameters == mine.model_parameters
    assert len({r.metrics["loss"] for r in ray_results.values()}) == 2  # the seeds really differ


def test_a_ray_client_driver_runs_the_lab_and_workers_record_usage_in_postgres(
    ray_cluster, disconnected, postgres_server, monkeypatch
):
    from neural_architecture_lab import Hypothesis, LabConfig, NeuralArchitectureLab
    from structure_net_data.metadata import get_dataset_usage_history

    # The driver's metadata database is passed on to its tasks (the nodes' own
    # SND_METADATA_DIR would otherwise keep their records apart).
    monkeypatch.setenv("SND_METADATA_URI", postgres_server.fresh_database())

    lab = NeuralArchitectureLab(LabConfig(executor="ray", ray_address=ray_cluster.client_address))
    lab.register_hypothesis(
        Hypothesis(
            id="client",
            test_function=train_mlp,
            control_parameters={"dataset": "mnist", "batch_size": 32, "max_batches": 2},
            parameter_space={"seed": [1, 2]},
        )
    )
    result = asyncio.run(lab.test_hypothesis("client"))
    assert result.successful_experiments == 2, [r.error for r in result.experiment_results]
    assert all(len(r.training_history) == 1 for r in result.experiment_results)
    for r in result.experiment_results:
        usage = get_dataset_usage_history(experiment_id=r.experiment_id)
        assert sorted(u.subset_used for u in usage) == ["test", "train"]


def test_dead_workers_are_retried_then_reported_failed(ray_cluster, disconnected, tmp_path):
    from neural_architecture_lab import Hypothesis

    lab = _lab(ray_cluster, max_retries=1)
    lab.register_hypothesis(
        Hypothesis(
            id="dying",
            test_function=dying,
            control_parameters={"dataset": "mnist", "batch_size": 32, "markers": str(tmp_path)},
            parameter_space={"mode": ["always", "first", "raise", "never"]},
        )
    )
    result = asyncio.run(lab.test_hypothesis("dying"))
    by = {r.parameters["mode"]: r for r in result.experiment_results}
    attempts = {mode: len(list(tmp_path.glob(f"{r.experiment_id}.*"))) for mode, r in by.items()}
    assert not by["always"].succeeded and "died" in by["always"].error and "2 attempt(s)" in by["always"].error
    assert attempts["always"] == 2  # the first run and one retry
    assert by["first"].succeeded and attempts["first"] == 2
    assert not by["raise"].succeeded and "boom inside the Ray task" in by["raise"].error
    assert attempts["raise"] == 1  # an exception of the test is a result, not a crash: no retry
    assert by["never"].succeeded and attempts["never"] == 1
    assert (result.successful_experiments, result.failed_experiments) == (2, 2)


def test_a_node_killed_mid_run_loses_no_experiment_and_indexes_none_twice(ray_cluster, disconnected, tmp_path):
    from neural_architecture_lab import Hypothesis, LabConfig
    from structure_net_data.nal_integration import create_memory_efficient_nal

    victim = ray_cluster.add_node(**_node_args(ray_cluster.base, "victim"))
    ray_cluster.wait_for_nodes()
    markers = tmp_path / "markers"
    markers.mkdir()
    config = LabConfig(executor="ray", ray_address=ray_cluster.address, results_dir=str(tmp_path / "results"))
    lab, integration = create_memory_efficient_nal(config)
    lab.register_hypothesis(
        Hypothesis(
            id="survive",
            test_function=marked_training,
            control_parameters={"dataset": "mnist", "batch_size": 32, "max_batches": 3, "hold": 2.0}
            | {"markers": str(markers)},
            parameter_space={"seed": list(range(1, 10))},
        )
    )

    killed = threading.Event()

    def kill_victim_once_it_runs_an_experiment() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if list(markers.glob("*.victim.*.start")):
                ray_cluster.remove_node(victim, allow_graceful=False)
                killed.set()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_victim_once_it_runs_an_experiment, daemon=True)
    killer.start()
    result = asyncio.run(lab.test_hypothesis("survive"))
    killer.join(10)
    assert killed.is_set(), "no experiment ever started on the victim node"

    # Some experiment was interrupted on the victim: started there, never finished there.
    started = {p.name.split(".")[0] for p in markers.glob("*.victim.*.start")}
    finished = {p.name.split(".")[0] for p in markers.glob("*.victim.*.done")}
    interrupted = started - finished
    assert interrupted

    # Every experiment ended, succeeded or failed with a reason; none was lost.
    summaries = {s["experiment_id"]: s for s in result.summaries}
    ids = [e.id for e in lab.generate_experiments(lab.hypotheses["survive"])]
    assert sorted(summaries) == sorted(ids) and result.num_experiments == 9
    for s in summaries.values():
        assert s["status"] == "completed" or (s["status"] == "failed" and s["error"]), s
    for experiment_id in interrupted:  # retried elsewhere, or failed saying why
        s = summaries[experiment_id]
        assert s["status"] == "completed" or "died" in s["error"], s
    succeeded = {i for i, s in summaries.items() if s["status"] == "completed"}
    assert succeeded  # the rest of the hypothesis went on

    # The search index holds each experiment exactly once, succeeded ones as such.
    assert sorted(integration.indexed) == sorted(ids)
    hits = integration.searcher.search_by_hypothesis("survive")
    assert sorted(h["id"] for h in hits) == sorted(ids)
    stored = {i: integration.storage.retrieve_experiment(i) for i in ids}
    assert {i for i, doc in stored.items() if doc["status"] == "completed"} == succeeded


def test_ctrl_c_on_the_driver_cancels_its_ray_tasks(ray_cluster, disconnected, tmp_path):
    from neural_architecture_lab import Hypothesis

    lab = _lab(ray_cluster)
    lab.register_hypothesis(
        Hypothesis(
            id="sleepers",
            test_function=sleeping,
            control_parameters={"dataset": "mnist", "batch_size": 32, "markers": str(tmp_path)},
            parameter_space={"n": [1, 2]},
        )
    )

    def interrupt_when_both_run() -> None:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("*.pid"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    threading.Thread(target=interrupt_when_both_run, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(lab.test_hypothesis("sleepers"))
    pids = [int(p.name.split(".")[0]) for p in tmp_path.glob("*.pid")]
    assert len(pids) == 2
    deadline = time.monotonic() + 60
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        time.sleep(0.1)
    assert not alive, f"Ray workers {alive} still run the cancelled experiments"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has finished
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False
