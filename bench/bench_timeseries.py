"""Benchmark: training-history storage, ours against what a competent h5py or parquet user writes, in one
run on one machine.

* ours: ``TimeSeriesStorage`` (Go core, HDF5, summaries kept on write);
* h5py: one chunked dataset per metric with the same chunk size and filters as ours (shuffle + gzip level 4,
  or shuffle + LZF), summaries computed at write time and kept as attributes; the last 10 rows read by
  hyperslab (``f[k][-10:]``), summaries read from the attributes;
* parquet (pyarrow, snappy): ``Table.from_pylist`` + ``write_table(row_group_size=...)``, summaries kept in the
  schema metadata; the last 10 rows read from the last row group only.

Reads in three regimes, like with like: warm (file or store kept open), reopen (opened and closed per call, same
process) and cold (a new process with the libraries loaded, then open + read; the page cache stays warm).

    PYTHONPATH=python python3 bench/bench_timeseries.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from structure_net_data.time_series_storage import TimeSeriesConfig, TimeSeriesStorage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = Path(__file__).resolve().parent
N_METRICS = 20
CHUNK = 1000  # rows per chunk: ours' default, used for h5py too
PARQUET_GROUP = 100_000  # rows per parquet row group
COLD_REPEATS = 3


def make_history(n: int, seed: int = 0) -> tuple[list[dict], dict[str, np.ndarray]]:
    """epoch, a step learning-rate schedule and 18 noisy loss- and accuracy-like curves."""
    rng = np.random.default_rng(seed)
    epoch = np.arange(n, dtype=np.int64)
    t = epoch / max(1, n)
    cols: dict[str, np.ndarray] = {"epoch": epoch, "lr": 0.1 * 0.5 ** np.floor(4 * t)}
    for j in range(9):
        cols[f"loss_{j}"] = (2.3 - j * 0.1) * np.exp(-3 * t) + 0.05 + rng.normal(0, 0.01, n)
        cols[f"accuracy_{j}"] = np.clip(1 - 0.9 * np.exp(-3 * t) - j * 0.01 + rng.normal(0, 0.005, n), 0, 1)
    names = list(cols)
    lists = [cols[k].tolist() for k in names]
    rows = [dict(zip(names, vals, strict=True)) for vals in zip(*lists, strict=True)]
    return rows, cols


def timed(fn: Callable[[], object]) -> float:
    # As timeit does: a collection of the millions of row dicts alive would
    # land inside whichever measurement triggers it.
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def median_time(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(timed(fn) for _ in range(repeats))


# ---- ours ----------------------------------------------------------------------------------


def write_ours(folder: Path, rows: list[dict], cols: dict[str, np.ndarray]) -> dict[str, float]:
    out: dict[str, float] = {}
    with TimeSeriesStorage(TimeSeriesConfig(storage_dir=str(folder), chunk_size=CHUNK)) as s:
        out["write_rows_s"] = timed(lambda: s.store_training_history("run", rows))
        out["write_cols_s"] = timed(lambda: s.store_training_history("run_cols", cols))
        out["size"] = s.history_path("run").stat().st_size
    # The same write with LZF, the fast filter h5py also reads (parquet uses snappy).
    with TimeSeriesStorage(TimeSeriesConfig(storage_dir=str(folder / "lzf"), compression="lzf")) as s:
        out["write_rows_lzf_s"] = timed(lambda: s.store_training_history("run", rows))
        out["size_lzf"] = s.history_path("run").stat().st_size
    return out


def read_ours(folder: Path, n: int, repeats: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with TimeSeriesStorage(TimeSeriesConfig(storage_dir=str(folder))) as s:
        last, _ = s.retrieve_training_history("run", epochs=slice(-10, None))
        assert [r["epoch"] for r in last] == list(range(n - 10, n))
        out["last10_warm_s"] = median_time(lambda: s.retrieve_training_history("run", epochs=slice(-10, None)), repeats)
        out["summary_warm_s"] = median_time(lambda: s.get_summary_statistics("run"), repeats)
        assert s.get_summary_statistics("run")["num_epochs"] == n
    with TimeSeriesStorage(TimeSeriesConfig(storage_dir=str(folder), max_in_memory_cache=0)) as s:
        out["last10_open_s"] = median_time(lambda: s.retrieve_training_history("run", epochs=slice(-10, None)), repeats)
        out["summary_open_s"] = median_time(lambda: s.get_summary_statistics("run"), repeats)
    return out


def bench_streaming(folder: Path, epochs: int = 500) -> dict[str, float]:
    """Per-epoch appends through the writer (each durable when it returns)."""
    rows, _ = make_history(epochs, seed=1)
    with TimeSeriesStorage(TimeSeriesConfig(storage_dir=str(folder))) as s:
        times = []
        w = s.writer("stream")
        for row in rows:
            t0 = time.perf_counter()
            w.append(row)
            times.append(time.perf_counter() - t0)
        close_s = timed(w.close)
    return {
        "append_median_s": statistics.median(times),
        "append_p99_s": float(np.percentile(times, 99)),
        "writer_close_s": close_s,
    }


# ---- h5py, as a competent user writes it ------------------------------------------------------------------------


def summaries(cols: dict[str, np.ndarray]) -> dict[str, float]:
    out: dict[str, float] = {"num_epochs": len(next(iter(cols.values())))}
    for k, d in cols.items():
        out[f"{k}_final"], out[f"{k}_min"], out[f"{k}_max"] = float(d[-1]), float(d.min()), float(d.max())
        out[f"{k}_mean"] = float(d.mean())
    return out


def h5py_write(path: Path, rows: list[dict], compression: str) -> None:
    """One chunked dataset per metric with the same filters as ours (shuffle + gzip level 4, or shuffle + LZF),
    summaries computed once and kept as attributes."""
    cols = {k: np.array([r.get(k, np.nan) for r in rows]) for k in rows[0]}
    opts = {"compression_opts": 4} if compression == "gzip" else {}
    with h5py.File(path, "w") as f:
        for k, d in cols.items():
            f.create_dataset(k, data=d, chunks=(min(CHUNK, len(d)),), shuffle=True, compression=compression, **opts)
        f.attrs.update(summaries(cols))


def h5py_last10_open(f: h5py.File) -> list[dict]:
    """The last 10 rows by hyperslab: only the last chunk of each dataset is read."""
    cols = {k: f[k][-10:] for k in f.keys()}
    return [{k: v[i].item() for k, v in cols.items()} for i in range(len(cols["epoch"]))]


def h5py_last10(path: Path) -> list[dict]:
    with h5py.File(path, "r") as f:
        return h5py_last10_open(f)


def h5py_summary(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: v.item() for k, v in f.attrs.items()}


def write_h5py(folder: Path, rows: list[dict]) -> dict[str, float]:
    path = folder / "run.h5"
    out = {"write_rows_s": timed(lambda: h5py_write(path, rows, "gzip")), "size": path.stat().st_size}
    lzf = folder / "run-lzf.h5"
    out["write_rows_lzf_s"] = timed(lambda: h5py_write(lzf, rows, "lzf"))
    out["size_lzf"] = lzf.stat().st_size
    return out


def read_h5py(folder: Path, n: int, repeats: int) -> dict[str, float]:
    path = folder / "run.h5"
    assert [r["epoch"] for r in h5py_last10(path)] == list(range(n - 10, n))
    assert h5py_summary(path)["num_epochs"] == n
    out = {
        "last10_open_s": median_time(lambda: h5py_last10(path), repeats),
        "summary_open_s": median_time(lambda: h5py_summary(path), repeats),
    }
    with h5py.File(path, "r") as f:
        out["last10_warm_s"] = median_time(lambda: h5py_last10_open(f), repeats)
        out["summary_warm_s"] = median_time(lambda: {k: v.item() for k, v in f.attrs.items()}, repeats)
    return out


# ---- parquet, as a competent user writes it ----------------------------------------------------------------------


def parquet_write(path: Path, rows: list[dict]) -> None:
    """pyarrow from the list of dicts, row groups of PARQUET_GROUP rows, summaries in the schema metadata."""
    table = pa.Table.from_pylist(rows)
    summary = {"num_epochs": table.num_rows}
    for name in table.column_names:
        col = table[name]
        mm = pc.min_max(col)
        summary.update(
            {
                f"{name}_final": col[-1].as_py(),
                f"{name}_min": mm["min"].as_py(),
                f"{name}_max": mm["max"].as_py(),
                f"{name}_mean": pc.mean(col).as_py(),
            }
        )
    table = table.replace_schema_metadata({"summary": json.dumps(summary)})
    pq.write_table(table, path, row_group_size=PARQUET_GROUP)


def parquet_last10_open(pf: pq.ParquetFile) -> list[dict]:
    """Reads only the last row group (and the one before when the last has under 10 rows)."""
    g = pf.metadata.num_row_groups
    groups = [g - 1] if pf.metadata.row_group(g - 1).num_rows >= 10 or g == 1 else [g - 2, g - 1]
    table = pf.read_row_groups(groups)
    return table.slice(max(0, table.num_rows - 10)).to_pylist()


def parquet_last10(path: Path) -> list[dict]:
    with pq.ParquetFile(path) as pf:
        return parquet_last10_open(pf)


def parquet_summary(path: Path) -> dict:
    return json.loads(pq.read_schema(path).metadata[b"summary"])


def write_parquet(folder: Path, rows: list[dict]) -> dict[str, float]:
    path = folder / "run.parquet"
    out = {"write_rows_s": timed(lambda: parquet_write(path, rows))}
    out["size"] = path.stat().st_size
    return out


def read_parquet(folder: Path, n: int, repeats: int) -> dict[str, float]:
    path = folder / "run.parquet"
    assert [r["epoch"] for r in parquet_last10(path)] == list(range(n - 10, n))
    assert parquet_summary(path)["num_epochs"] == n
    out = {
        "last10_open_s": median_time(lambda: parquet_last10(path), repeats),
        "summary_open_s": median_time(lambda: parquet_summary(path), repeats),
    }
    with pq.ParquetFile(path) as pf:
        out["last10_warm_s"] = median_time(lambda: parquet_last10_open(pf), repeats)
        out["summary_warm_s"] = median_time(lambda: json.loads(pf.schema_arrow.metadata[b"summary"]), repeats)
    return out


# ---- cold: a new process, libraries imported, then open + read, timed -------------------------------------------

COLD = {
    "ours_last10": "s = TimeSeriesStorage(TimeSeriesConfig(storage_dir=D)); "
    "r = s.retrieve_training_history('run', epochs=slice(-10, None)); s.close()",
    "ours_summary": "s = TimeSeriesStorage(TimeSeriesConfig(storage_dir=D)); "
    "r = s.get_summary_statistics('run'); s.close()",
    "h5py_last10": "r = h5py_last10(Path(D) / 'run.h5')",
    "h5py_summary": "r = h5py_summary(Path(D) / 'run.h5')",
    "parquet_last10": "r = parquet_last10(Path(D) / 'run.parquet')",
    "parquet_summary": "r = parquet_summary(Path(D) / 'run.parquet')",
}


def cold(name: str, folder: Path, repeats: int) -> float:
    """Median over fresh processes of open + operation (imports and library loading happen before the clock)."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
        "from bench_timeseries import *; "
        "TimeSeriesStorage(TimeSeriesConfig(storage_dir=sys.argv[3])).close(); "  # loads libsnd + libhdf5
        "D = sys.argv[2]; t = time.perf_counter(); " + COLD[name] + "; print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as scratch:
            run = subprocess.run(
                [sys.executable, "-c", code, str(ROOT), str(folder), scratch],
                capture_output=True,
                text=True,
                check=True,
            )
        times.append(float(run.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


# ---- report ------------------------------------------------------------------------------------------------


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_rate(values: int, s: float) -> str:
    return f"{values / s / 1e6:.2f} M/s"


def fmt_size(b: float) -> str:
    return f"{b / 1e6:.2f} MB" if b >= 1e5 else f"{b / 1e3:.1f} kB"


def x(anchor: float, ours: float) -> str:
    """anchor / ours: above 1 means ours is faster (times) or smaller (sizes)."""
    return f"{anchor / ours:.2f}×"


def report(results: dict[int, dict[str, dict[str, float]]], stream: dict[str, float]) -> str:
    with TimeSeriesStorage(TimeSeriesConfig(storage_dir=tempfile.mkdtemp())) as s:
        ours_hdf5 = s.info()["hdf5_version"]
    lines = common.run_header(
        "Training histories (`bench/bench_timeseries.py`)",
        "1 Python thread for every arm (ours compresses chunks on every core inside the Go core when writing)",
        ["h5py", "pyarrow", "numpy"],
        extra=f"HDF5: ours links libhdf5 {ours_hdf5}; h5py ships HDF5 {h5py.version.hdf5_version}.",
    )
    lines += [
        f"Each history has {N_METRICS} columns (epoch, a learning-rate schedule, 18 noisy loss/accuracy curves), "
        "given as a list of per-epoch dicts (the guide's API). *h5py* is what a competent user writes: one chunked "
        f"dataset per metric, {CHUNK}-row chunks and the same filters as ours (shuffle + gzip level 4; the LZF row: "
        "shuffle + LZF), summaries (final/min/max/mean per metric, epoch count) computed at write time and kept as "
        "attributes, the last 10 rows read by hyperslab `f[k][-10:]`. *parquet*: `pa.Table.from_pylist(rows)`, "
        f"summaries in the schema metadata, `write_table(row_group_size={PARQUET_GROUP:,})` (snappy, the default); "
        "the last 10 rows from the last row group only. Reads: *warm* keeps the store / file open; *reopen* opens "
        "and closes per call in the same process; *cold* is a new process + fresh open (libraries already imported "
        f"and loaded; median of {COLD_REPEATS} processes; the page cache is not dropped, since that needs the "
        "whole shared machine). Times are medians; ratios are anchor / ours (above 1: ours is faster or smaller).",
        "",
    ]
    for n, r in results.items():
        o, h, p = r["ours"], r["h5py"], r["parquet"]
        v = n * N_METRICS

        def both(key: str, o=o, h=h, p=p) -> str:
            return f"{x(h[key], o[key])} | {x(p[key], o[key])}"

        lines += [
            f"### {n:,} epochs × {N_METRICS} metrics ({v:,} values)",
            "",
            "| | ours | h5py | parquet | ours vs h5py | ours vs parquet |",
            "|---|---|---|---|---|---|",
            f"| write, list of dicts (values/s): gzip, gzip, snappy | {fmt_rate(v, o['write_rows_s'])} | "
            f"{fmt_rate(v, h['write_rows_s'])} | {fmt_rate(v, p['write_rows_s'])} | {both('write_rows_s')} |",
            f"| write, list of dicts (values/s): LZF, LZF | {fmt_rate(v, o['write_rows_lzf_s'])} | "
            f"{fmt_rate(v, h['write_rows_lzf_s'])} | | {x(h['write_rows_lzf_s'], o['write_rows_lzf_s'])} | |",
            f"| write, dict of numpy columns (values/s) | {fmt_rate(v, o['write_cols_s'])} | | | | |",
        ]
        for op, label in (("last10", "read last 10 epochs"), ("summary", "summary statistics")):
            for regime in ("warm", "open", "cold"):
                key = f"{op}_{regime}_s"
                if key not in o:
                    continue
                name = {"warm": "warm (kept open)", "open": "reopen per call", "cold": "cold: new process + open"}
                lines.append(
                    f"| {label}, {name[regime]} | {fmt_time(o[key])} | {fmt_time(h[key])} | {fmt_time(p[key])} "
                    f"| {both(key)} |"
                )
        lines += [
            f"| file size: gzip, gzip, snappy | {fmt_size(o['size'])} | {fmt_size(h['size'])} | {fmt_size(p['size'])} "
            f"| {both('size')} |",
            f"| file size: LZF, LZF | {fmt_size(o['size_lzf'])} | {fmt_size(h['size_lzf'])} | | "
            f"{x(h['size_lzf'], o['size_lzf'])} | |",
            "",
        ]
    lines += [
        "### Streaming (training-loop appends)",
        "",
        "500 epochs appended one by one through `storage.writer(...)`; each append is durable when it returns "
        "(flushed, crash-safe under SWMR).",
        "",
        "| per-epoch append, median | p99 | closing the writer (compaction of 500 epochs) |",
        "|---|---|---|",
        f"| {fmt_time(stream['append_median_s'])} | {fmt_time(stream['append_p99_s'])} | "
        f"{fmt_time(stream['writer_close_s'])} |",
        "",
    ]
    n = max(results)
    o, h, p = results[n]["ours"], results[n]["h5py"], results[n]["parquet"]
    v = n * N_METRICS
    worst_summary = max(max(r["ours"]["summary_open_s"], r["ours"].get("summary_cold_s", 0)) for r in results.values())
    lines += [
        f"### Targets at {n:,} epochs, computed",
        "",
        common.target(
            "Issue 13: last-10 read on a cold open vs the competent h5py anchor",
            h["last10_cold_s"] / o["last10_cold_s"],
            ">=",
            3,
            "×",
        ),
        common.target(
            "Issue 13: summary on a cold open vs the competent h5py anchor",
            h["summary_cold_s"] / o["summary_cold_s"],
            ">=",
            3,
            "×",
        ),
        common.target(
            "Issue 13: list-of-dicts writes (ours, default gzip) vs parquet (default snappy), rate ratio",
            p["write_rows_s"] / o["write_rows_s"],
            ">=",
            1,
            "×",
        ),
        f"  (ours with LZF, the fast filter: {x(p['write_rows_s'], o['write_rows_lzf_s'])} parquet's rate)",
        common.target("Earlier target: last 10 epochs, reopen per read", o["last10_open_s"] * 1e3, "<", 2, " ms"),
        common.target(
            "Earlier target: summaries at any length (worst reopen or cold)", worst_summary * 1e3, "<", 1, " ms"
        ),
        common.target("Earlier target: writes from numpy columns", v / o["write_cols_s"] / 1e6, ">=", 5, " M values/s"),
        common.target(
            "Earlier target: writes from a list of dicts", v / o["write_rows_s"] / 1e6, ">=", 5, " M values/s"
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1k and 100k epochs only")
    args = ap.parse_args()
    sizes = [1_000, 100_000] if args.quick else [1_000, 100_000, 1_000_000]
    work = Path(tempfile.mkdtemp(prefix="bench-ts-"))
    results: dict[int, dict[str, dict[str, float]]] = {}
    try:
        # Warm-up, untimed: first-call costs (library loading, pyarrow.compute kernels) are no arm's write rate.
        rows, cols = make_history(20)
        for name in ("ours", "h5py", "parquet"):
            (work / "warm" / name).mkdir(parents=True)
        write_ours(work / "warm" / "ours", rows, cols)
        write_h5py(work / "warm" / "h5py", rows)
        write_parquet(work / "warm" / "parquet", rows)
        for n in sizes:
            rows, cols = make_history(n)
            repeats = 50 if n <= 100_000 else 20
            dirs = {name: work / f"{name}-{n}" for name in ("ours", "h5py", "parquet")}
            for d in dirs.values():
                d.mkdir()
            r = {
                "ours": write_ours(dirs["ours"], rows, cols),
                "h5py": write_h5py(dirs["h5py"], rows),
                "parquet": write_parquet(dirs["parquet"], rows),
            }
            # Reads run without the million row dicts alive, for every arm.
            del rows, cols
            gc.collect()
            r["ours"].update(read_ours(dirs["ours"], n, repeats))
            r["h5py"].update(read_h5py(dirs["h5py"], n, repeats))
            r["parquet"].update(read_parquet(dirs["parquet"], n, repeats))
            if n == sizes[-1]:
                for name, d in dirs.items():
                    for op in ("last10", "summary"):
                        r[name][f"{op}_cold_s"] = cold(f"{name}_{op}", d, COLD_REPEATS)
            for name, d in dirs.items():
                print(f"{n:>9,} {name:8} " + "  ".join(f"{k}={v:.4g}" for k, v in r[name].items()), flush=True)
                shutil.rmtree(d, ignore_errors=True)
            results[n] = r
        stream = bench_streaming(work / "stream")
        print("streaming", stream, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    common.write_section("timeseries", report(results, stream))


if __name__ == "__main__":
    sys.exit(main())
