#!/usr/bin/env python3
"""Runs the benchmarks (bench/bench_*.py) and collects their sections into BENCHMARKS.md.

    make bench                      # every section, one run, one commit (bench/.venv/bin/python bench/run_all.py)
    make bench ONLY=loader,images   # a subset, for iterating: the other sections keep their last results

``--quick`` passes --quick to each script; ``--collect-only`` only rebuilds BENCHMARKS.md from bench/results.
The header states, computed from the section files, whether every section came from one run of one commit.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import commit, machine  # noqa: E402

SECTIONS = ["loader", "images", "search", "timeseries", "lab", "scale"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--collect-only", action="store_true")
    args = ap.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or SECTIONS
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        sys.exit(f"unknown section(s) {unknown}; known: {SECTIONS}")
    run_id = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    command = "make bench" + (f" ONLY={','.join(chosen)}" if args.only else "") + (" (--quick)" if args.quick else "")
    env = dict(os.environ, SND_BENCH_RUN=run_id, SND_BENCH_COMMAND=command)
    failed, took = [], {}
    if not args.collect_only:
        for name in chosen:
            script = HERE / f"bench_{name}.py"
            print(f"== {script.name}", flush=True)
            t = time.perf_counter()
            rc = subprocess.run([sys.executable, str(script), *(["--quick"] if args.quick else [])], env=env).returncode
            took[name] = time.perf_counter() - t
            if rc != 0:
                failed.append(script.name)
    collect(run_id if not args.collect_only else None, took)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


def collect(run_id: str | None, took: dict[str, float]) -> None:
    sections, origins = [], []
    for name in SECTIONS:
        path = HERE / "results" / f"{name}.md"
        if not path.exists():
            continue
        text = path.read_text()
        m = re.search(r"<!-- bench-run: (\S+) commit: (.+?) -->", text)
        origins.append((name, m.group(1) if m else "unknown", m.group(2) if m else "unknown"))
        sections.append(text)
    runs = {r for _, r, _ in origins}
    commits = {c for _, _, c in origins}
    if len(runs) == 1 and len(commits) == 1 and "unknown" not in runs and "+" not in next(iter(commits)):
        run, sha = next(iter(runs)), next(iter(commits))
        provenance = f"All {len(origins)} sections come from one run ({run}) of commit {sha}."
    else:
        provenance = "Sections come from different runs or an uncommitted tree: " + "; ".join(
            f"{n}: run {r}, commit {c}" for n, r, c in origins
        )
    timing = ""
    if took:
        timing = (
            " This run took "
            + ", ".join(f"{n} {s / 60:.1f} min" for n, s in took.items())
            + f" (total {sum(took.values()) / 60:.1f} min)."
        )
    header = f"""# Benchmarks

Written by `make bench` (`bench/run_all.py` runs `bench/bench_*.py` in `bench/.venv` and collects
`bench/results/*.md`). Each section measures ours and the strongest tool a user would otherwise pick in the
same run, on the same machine, with the same work, threads and repetitions; every verdict below is computed
from the numbers in its table. {provenance}{timing}
Machine: {machine()}. Collected at commit {commit()}.
"""
    (HERE.parent / "BENCHMARKS.md").write_text(header + "\n" + "\n".join(sections))
    print(header)


if __name__ == "__main__":
    main()
