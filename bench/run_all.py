#!/usr/bin/env python3
"""Runs every benchmark (bench/bench_*.py) and collects their sections into BENCHMARKS.md.

``--quick`` passes --quick to each; ``--collect-only`` only rebuilds BENCHMARKS.md from bench/results.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = """# Benchmarks

Written by `make bench` (`bench/run_all.py` collects `bench/results/*.md`). Each section measures our
implementation and the tool a user would otherwise pick in the same run, on the same machine.
"""


def main() -> None:
    quick = ["--quick"] if "--quick" in sys.argv else []
    failed = []
    scripts = [] if "--collect-only" in sys.argv else sorted(HERE.glob("bench_*.py"))
    for script in scripts:
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script), *quick]).returncode != 0:
            failed.append(script.name)
    sections = [p.read_text() for p in sorted((HERE / "results").glob("*.md"))]
    (HERE.parent / "BENCHMARKS.md").write_text(HEADER + "\n" + "\n".join(sections))
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
