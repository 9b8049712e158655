"""Shared helpers for the benchmarks: timing, the run description, verdicts, result files.

Every section starts with ``run_header``: the exact command, the commit, the date, the CPU, thread counts and
package versions, so a reader can repeat it. Every verdict goes through ``target`` or ``ratio_words``: computed
from the measured numbers, never typed.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if ":" in line:
                k, v = (s.strip() for s in line.split(":", 1))
                fields.setdefault(k, v)
    except OSError:
        return "unknown CPU"
    name = fields.get("model name", "unknown CPU")
    return f"{name} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {cpu_model()}, {memory_gib():.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def commit() -> str:
    """The commit the run measures, with '+uncommitted changes' when the tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True)
        # The run itself rewrites bench/results and BENCHMARKS.md: those do not make the measured code differ.
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results", ":!BENCHMARKS.md"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    sha = head.stdout.strip() or "unknown"
    return sha + (" + uncommitted changes" if dirty.stdout.strip() else "")


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_header(title: str, threads: str, packages: list[str], extra: str = "") -> list[str]:
    """The title and the block every section starts with."""
    cmd = os.environ.get("SND_BENCH_COMMAND") or "PYTHONPATH=python " + shlex.join(
        [Path(sys.executable).name, *[os.path.relpath(a, REPO) if a.startswith("/") else a for a in sys.argv]]
    )
    script = os.path.relpath(Path(sys.argv[0]).resolve(), REPO)
    versions = ", ".join(f"{p} {version(p)}" for p in packages)
    run_id = os.environ.get("SND_BENCH_RUN", "standalone")
    lines = [
        f"## {title}",
        "",
        f"<!-- bench-run: {run_id} commit: {commit()} -->",
        f"- Command: `{cmd}` (this section: `{script}`); commit {commit()}; "
        f"run {run_id}; section finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"- Machine: {machine()}; shared with other jobs, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}.",
        f"- Threads: {threads}.",
        f"- Versions: {versions}.",
    ]
    if extra:
        lines.append(f"- {extra}")
    return [*lines, ""]


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """Minimum wall time of fn over repeat runs, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (VmRSS) or its peak (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def ratio_words(ours: float, anchor: float, higher_is_better: bool = True) -> str:
    """'2.3x faster' / '0.8x (slower)' from two measurements (rates, or times when higher_is_better=False)."""
    if ours <= 0 or anchor <= 0:
        return "n/a"
    r = ours / anchor if higher_is_better else anchor / ours
    return f"{r:.2f}x" if r >= 1 else f"{r:.2f}x (slower)"


def target(label: str, measured: float, op: str, goal: float, unit: str = "", fmt: str = "{:,.2f}") -> str:
    """A computed 'met' or 'missed' line with the gap: op is '>=', '>', '<=' or '<'."""
    ok = {">=": measured >= goal, ">": measured > goal, "<=": measured <= goal, "<": measured < goal}[op]
    m, g = fmt.format(measured) + unit, fmt.format(goal) + unit
    if ok:
        return f"- {label}: **met** (measured {m}, target {op} {g})."
    if op in (">=", ">"):
        gap = f"needs {goal / measured:.2f}x more" if measured > 0 and goal > 0 else f"short by {goal - measured:,.2f}"
    else:
        gap = f"needs {measured / goal:.2f}x less" if goal > 0 and measured > 0 else f"over by {measured - goal:,.2f}"
    return f"- {label}: **missed** (measured {m}, target {op} {g}; {gap})."


def write_section(name: str, markdown: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(markdown.rstrip() + "\n")
    print(markdown)
    return path
