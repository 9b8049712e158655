"""Training histories through the real library: types, selections, summaries,
h5py interoperability, the JSON backend's parity, and crash safety and
concurrency with real processes."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from structure_net_data import errors
from structure_net_data.time_series_storage import (
    History,
    TimeSeriesConfig,
    TimeSeriesStorage,
    default_storage_dir,
)

BACKENDS = ["hdf5", "json"]


def make_storage(path: Path, backend: str = "hdf5", **kw) -> TimeSeriesStorage:
    return TimeSeriesStorage(TimeSeriesConfig(storage_dir=str(path), use_hdf5=backend == "hdf5", **kw))


@pytest.fixture(params=BACKENDS)
def storage(request, tmp_path):
    s = make_storage(tmp_path / "ts", request.param)
    yield s
    s.close()


def loss(i: int) -> float:
    return 2.5 / (i + 1) + (i % 7) * 1e-3


def history(n: int, start: int = 0) -> list[dict]:
    """A realistic history: ints, floats, bools, a sometimes-present note and val_loss."""
    rows = []
    for i in range(start, start + n):
        row = {"epoch": i, "loss": loss(i), "accuracy": min(1.0, i / (n + start)), "best": i % 4 == 0}
        if i % 5 == 0:
            row["val_loss"] = loss(i) + 0.1
        if i % 3 == 0:
            row["note"] = f"epoch {i}"
        rows.append(row)
    return rows


def expected_row(row: dict) -> dict:
    """What a stored row comes back as: a missing float is NaN, others are left out."""
    out = dict(row)
    out.setdefault("val_loss", math.nan)
    return out


def same(a, b) -> bool:
    """Equality where NaN equals NaN and types must match (1 is not 1.0 or True)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def assert_rows(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert set(g) == set(w), f"row {i}: keys {sorted(g)} vs {sorted(w)}"
        for k in w:
            assert same(g[k], w[k]), f"row {i} {k!r}: {g[k]!r} ({type(g[k]).__name__}) vs {w[k]!r}"


# ---- the guide ----------------------------------------------------------------------


def test_guide_snippet_runs_verbatim(tmp_path, monkeypatch):
    monkeypatch.setenv("SND_TIMESERIES_DIR", str(tmp_path / "guide"))
    ns: dict = {}
    exec(
        textwrap.dedent(
            """
            from data_factory.time_series_storage import TimeSeriesStorage

            storage = TimeSeriesStorage()

            # Store large training history
            storage_key = storage.store_training_history(
                experiment_id="exp_001",
                epoch_data=[
                    {'epoch': 0, 'loss': 2.3, 'accuracy': 0.1},
                    {'epoch': 1, 'loss': 1.8, 'accuracy': 0.3},
                    # ... many more epochs
                ],
                metadata={'model': 'resnet50', 'dataset': 'imagenet'}
            )

            # Retrieve specific epochs efficiently
            recent_epochs, metadata = storage.retrieve_training_history(
                storage_key,
                epochs=slice(-10, None)  # Last 10 epochs
            )

            # Get summary without loading all data
            stats = storage.get_summary_statistics(storage_key)
            """
        ),
        ns,
    )
    assert ns["recent_epochs"] == [
        {"epoch": 0, "loss": 2.3, "accuracy": 0.1},
        {"epoch": 1, "loss": 1.8, "accuracy": 0.3},
    ]
    assert ns["metadata"] == {"model": "resnet50", "dataset": "imagenet"}
    stats = ns["stats"]
    assert stats["num_epochs"] == 2 and stats["loss_min"] == 1.8 and stats["accuracy_final"] == 0.3
    assert stats["best"]["accuracy"] == {"mode": "max", "value": 0.3, "index": 1}
    assert Path(stats["path"]).parent == tmp_path / "guide"
    ns["storage"].close()


def test_alias_module_is_the_same_module():
    import data_factory.time_series_storage as alias
    import structure_net_data.time_series_storage as real

    assert alias is real and alias.TimeSeriesStorage is TimeSeriesStorage


def test_default_directory_is_per_user_not_data(monkeypatch, tmp_path):
    monkeypatch.delenv("SND_TIMESERIES_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_storage_dir() == tmp_path / "cache" / "structure-net-data" / "timeseries"
    assert TimeSeriesConfig().storage_dir is None
    with TimeSeriesStorage() as s:
        assert s.storage_dir == tmp_path / "cache" / "structure-net-data" / "timeseries"
        assert s.storage_dir.is_dir()
    monkeypatch.setenv("SND_TIMESERIES_DIR", str(tmp_path / "env"))
    assert TimeSeriesConfig().resolved_storage_dir() == tmp_path / "env"


# ---- values and selections -----------------------------------------------------------


def test_round_trip_keeps_types_order_and_alignment(storage):
    rows = history(40)
    rows[7]["extra"] = {"lr_groups": [0.1, 0.01], "tag": "warm"}
    rows[31]["extra"] = [1, 2, 3]
    key = storage.store_training_history("types", rows, metadata={"model": "mlp", "layers": [784, 10]})
    assert key == "types"
    got, meta = storage.retrieve_training_history(key)
    assert meta == {"model": "mlp", "layers": [784, 10]}
    assert isinstance(got, History) and got.total_epochs == 40
    assert list(got[0]) == ["epoch", "loss", "accuracy", "best", "val_loss", "note"]
    assert_rows(got, [expected_row(r) for r in rows])
    # Non-numeric values stay on their own epochs (the original shifted them).
    assert got[7]["extra"] == {"lr_groups": [0.1, 0.01], "tag": "warm"} and got[31]["extra"] == [1, 2, 3]
    assert all("extra" not in r for i, r in enumerate(got) if i not in (7, 31))
    assert type(got[3]["epoch"]) is int and type(got[4]["best"]) is bool and type(got[3]["loss"]) is float


@pytest.mark.parametrize("backend", BACKENDS)
def test_epoch_selection_follows_python_indexing(tmp_path, backend):
    s = make_storage(tmp_path, backend, chunk_size=16)
    rows = history(100)
    s.store_training_history("sel", rows)
    want_all = [expected_row(r) for r in rows]
    rng = random.Random(0)
    bounds = [None, -150, -100, -37, -10, -1, 0, 1, 5, 50, 99, 100, 250]
    for _ in range(120):
        sl = slice(rng.choice(bounds), rng.choice(bounds), rng.choice([None, 1, 2, 3, 17, -1, -3]))
        got, _ = s.retrieve_training_history("sel", epochs=sl)
        assert_rows(got, want_all[sl])
    for i in (0, 5, -1, -100, 99):
        got, _ = s.retrieve_training_history("sel", epochs=i)
        assert_rows(got, [want_all[i]])
    picks = [5, -1, 5, 0, 63, 62, 61]
    got, _ = s.retrieve_training_history("sel", epochs=picks)
    assert_rows(got, [want_all[i] for i in picks])
    got, _ = s.retrieve_training_history("sel", epochs=np.array([3, 2]))
    assert_rows(got, [want_all[3], want_all[2]])
    for bad in (100, -101, [0, 100]):
        with pytest.raises(errors.InvalidArgumentError, match="out of range"):
            s.retrieve_training_history("sel", epochs=bad)
    for bad in (1.5, "3", True, slice(0, 5, 0), [1, "a"]):
        with pytest.raises(errors.InvalidArgumentError):
            s.retrieve_training_history("sel", epochs=bad)
    s.close()


def test_nan_inf_and_missing_values(storage):
    rows = [
        {"epoch": 0, "loss": float("nan"), "grad_norm": float("inf")},
        {"epoch": 1, "loss": 1.5, "grad_norm": -float("inf")},
        {"loss": 0.5, "grad_norm": 2.0},
        {"epoch": 3, "loss": None, "grad_norm": np.float32(4.0)},
    ]
    storage.store_training_history("nan", rows)
    got, _ = storage.retrieve_training_history("nan")
    assert math.isnan(got[0]["loss"]) and got[0]["grad_norm"] == math.inf and got[1]["grad_norm"] == -math.inf
    assert "epoch" not in got[2] and got[3]["epoch"] == 3 and math.isnan(got[3]["loss"])
    stats = storage.get_summary_statistics("nan")
    loss_stats = stats["columns"]["loss"]
    # Summaries ignore NaN (a missing float is NaN too).
    assert loss_stats["count"] == 2 and loss_stats["nan_count"] == 2
    assert stats["loss_min"] == 0.5 and stats["loss_max"] == 1.5 and stats["loss_mean"] == 1.0
    assert stats["loss_final"] == 0.5 and loss_stats["final_index"] == 2
    assert stats["columns"]["epoch"]["missing"] == 1 and stats["epoch_mean"] == pytest.approx(4 / 3)
    gn = stats["columns"]["grad_norm"]
    assert gn["min"] == -math.inf and gn["max"] == math.inf and math.isnan(gn["mean"])


def test_summary_statistics_match_numpy(storage):
    rng = np.random.default_rng(3)
    n = 5000
    data = {
        "epoch": np.arange(n),
        "train_loss": np.abs(rng.normal(1, 0.3, n)),
        "val_accuracy": rng.uniform(0, 1, n),
        "flag": rng.uniform(size=n) > 0.7,
    }
    data["train_loss"][rng.integers(0, n, 50)] = np.nan
    storage.store_training_history("stats", data)
    for _ in range(3):  # appends keep the stored statistics current
        storage.append_epochs("stats", {k: v[:100] for k, v in data.items()})
    storage.finish("stats")
    full = {k: np.concatenate([v] + [v[:100]] * 3) for k, v in data.items()}
    s = storage.get_summary_statistics("stats")
    assert s["num_epochs"] == n + 300
    tl = full["train_loss"]
    c = s["columns"]["train_loss"]
    assert c["count"] == int(np.sum(~np.isnan(tl))) and c["nan_count"] == int(np.sum(np.isnan(tl)))
    assert c["min"] == np.nanmin(tl) and c["max"] == np.nanmax(tl)
    assert c["mean"] == pytest.approx(np.nanmean(tl), rel=1e-13)
    assert c["argmin"] == int(np.nanargmin(tl)) and c["argmax"] == int(np.nanargmax(tl))
    va = full["val_accuracy"]
    assert s["best"]["val_accuracy"] == {"mode": "max", "value": va.max(), "index": int(va.argmax())}
    assert s["best"]["train_loss"]["mode"] == "min" and s["best"]["train_loss"]["index"] == int(np.nanargmin(tl))
    assert s["columns"]["flag"]["mean"] == pytest.approx(full["flag"].mean(), rel=1e-13)
    assert s["epoch_final"] == 99 and s["epoch_max"] == n - 1 and type(s["epoch_max"]) is int


def test_json_and_hdf5_give_identical_results(tmp_path):
    results = {}
    for backend in BACKENDS:
        with make_storage(tmp_path / backend, backend) as s:
            s.store_training_history("p", history(60), metadata={"seed": 1})
            for row in history(5, start=60):
                s.append_epoch("p", row)
            s.append_epoch("p", {"epoch": 65, "lr": 1})
            s.append_epoch("p", {"epoch": 66, "lr": 0.5, "cfg": {"depth": 3}})
            s.finish()
            rows, meta = s.retrieve_training_history("p")
            picked, _ = s.retrieve_training_history("p", epochs=[-1, 3, 64])
            stats = s.get_summary_statistics("p")
            for k in ("backend", "path", "storage_time", "updated"):
                stats.pop(k)
            results[backend] = (rows, meta, picked, stats, s.list_histories())
    h, j = results["hdf5"], results["json"]
    assert_rows(h[0], j[0])
    assert h[1] == j[1] == {"seed": 1}
    assert_rows(h[2], j[2])
    assert json.dumps(h[3], sort_keys=True) == json.dumps(j[3], sort_keys=True)
    assert h[4] == j[4] == ["p"]
    assert h[0][65]["lr"] == 1.0 and type(h[0][65]["lr"]) is float  # int lr promoted when a float arrived
    assert h[0][66]["cfg"] == {"depth": 3} and "cfg" not in h[0][65]


def test_columnar_and_dataframe_input(storage):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"epoch": np.arange(5, dtype=np.int32), "loss": np.linspace(1, 0, 5), "ok": [True] * 5})
    storage.store_training_history("df", df)
    got, _ = storage.retrieve_training_history("df")
    assert got[4] == {"epoch": 4, "loss": 0.0, "ok": True} and type(got[4]["epoch"]) is int
    out = got.to_pandas()
    assert list(out.columns) == ["epoch", "loss", "ok"]
    assert out["epoch"].dtype == np.int64 and out["loss"].dtype == np.float64 and out["ok"].dtype == bool
    storage.store_training_history("mixed", history(12))
    frame = storage.retrieve_training_history("mixed")[0].to_pandas()
    assert str(frame["note"].dtype) == "object" and frame["note"][0] == "epoch 0" and frame["note"][1] is None
    assert math.isnan(frame["val_loss"][1]) and frame["val_loss"][5] == loss(5) + 0.1
    storage.store_training_history("holes", [{"step": 1, "ok": True}, {"lr": 0.1}, {"step": 3, "ok": False}])
    frame = storage.retrieve_training_history("holes")[0].to_pandas()
    assert str(frame["step"].dtype) == "Int64" and frame["step"].tolist() == [1, pd.NA, 3]
    assert str(frame["ok"].dtype) == "boolean" and frame["ok"].tolist() == [True, pd.NA, False]


def test_empty_history(storage):
    storage.store_training_history("empty", [])
    rows, meta = storage.retrieve_training_history("empty", epochs=slice(-10, None))
    assert rows == [] and meta == {}
    stats = storage.get_summary_statistics("empty")
    assert stats["num_epochs"] == 0 and stats["columns"] == {}
    with pytest.raises(errors.InvalidArgumentError):
        storage.retrieve_training_history("empty", epochs=0)
    storage.store_training_history("rows-without-keys", [{}, {}])
    rows, _ = storage.retrieve_training_history("rows-without-keys")
    assert rows == [{}, {}]


def test_type_changes(storage):
    storage.append_epoch("t", {"epoch": 0, "lr": 1, "ok": True, "phase": "warmup"})
    storage.append_epoch("t", {"epoch": 1, "lr": 0.1, "ok": False, "phase": "train"})  # int -> float
    with pytest.raises(errors.InvalidArgumentError, match='"ok" holds bool'):
        storage.append_epoch("t", {"epoch": 2, "ok": 3})
    with pytest.raises(errors.InvalidArgumentError, match='"epoch" holds int64'):
        storage.append_epoch("t", {"epoch": "two"})
    with pytest.raises(errors.InvalidArgumentError, match="mixes numbers and text"):
        storage.append_epochs("t", [{"x": 1}, {"x": "a"}])
    with pytest.raises(errors.InvalidArgumentError, match="mixes bools and numbers"):
        storage.append_epochs("t", [{"y": True}, {"y": 2}])
    storage.finish("t")
    rows, _ = storage.retrieve_training_history("t")
    assert rows == [
        {"epoch": 0, "lr": 1.0, "ok": True, "phase": "warmup"},
        {"epoch": 1, "lr": 0.1, "ok": False, "phase": "train"},
    ]


def test_bad_input_gives_clear_errors(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match="compression"):
        TimeSeriesConfig(compression="zstd")
    with pytest.raises(errors.InvalidArgumentError, match="chunk_size"):
        TimeSeriesConfig(chunk_size=0)
    s = make_storage(tmp_path)
    for bad in ("not rows", 42, [1, 2], [{1: 2}]):
        with pytest.raises(errors.InvalidArgumentError):
            s.store_training_history("x", bad)
    with pytest.raises(errors.InvalidArgumentError, match="metadata"):
        s.store_training_history("x", [{"a": 1}], metadata=["not", "a", "dict"])
    with pytest.raises(errors.InvalidArgumentError, match="int64 range"):
        s.store_training_history("x", [{"a": 2**70}])
    with pytest.raises(errors.InvalidArgumentError, match="cannot be stored as JSON"):
        s.store_training_history("x", [{"obj": object()}])
    with pytest.raises(errors.InvalidArgumentError, match="empty"):
        s.store_training_history("", [{"a": 1}])
    with pytest.raises(errors.NotFoundError, match="no training history"):
        s.retrieve_training_history("missing")
    with pytest.raises(errors.NotFoundError):
        s.get_summary_statistics("missing")
    with pytest.raises(errors.NotFoundError):
        s.delete_training_history("missing")
    with pytest.raises(KeyError):  # NotFoundError is also a KeyError
        s.retrieve_training_history("missing")
    s.close()
    s.close()
    with pytest.raises(errors.ClosedError):
        s.list_histories()


@pytest.mark.parametrize("compression", ["lzf", "gzip", "none"])
def test_every_compression_is_readable_by_h5py(tmp_path, compression):
    rng = np.random.default_rng(11)
    data = {
        "epoch": np.arange(5500),
        "noise": rng.normal(size=5500),
        "flat": np.zeros(5500),
        "ok": rng.random(5500) > 0.5,
    }
    with make_storage(tmp_path, compression=compression) as s:
        assert s.info()["filters"][compression] is True
        s.store_training_history("z", data)  # whole chunks compressed in parallel, the tail by libhdf5
        for i in range(3):  # a streamed history is compacted with the same filter
            s.append_epoch("stream", {"epoch": i, "noise": float(data["noise"][i])})
        s.finish()
        paths = s.history_path("z"), s.history_path("stream")
    with h5py.File(paths[0], "r") as f:
        assert f["noise"].compression == (None if compression == "none" else compression)
        for k, v in data.items():
            np.testing.assert_array_equal(f[k][:], v)
    with h5py.File(paths[1], "r") as f:
        assert f["noise"].compression == (None if compression == "none" else compression)
        np.testing.assert_array_equal(f["noise"][:], data["noise"][:3])


# ---- ids, listing, deleting -----------------------------------------------------------------


HOSTILE = ["../../etc/x", "/etc/passwd", "a/b\\c", "..", ".", "exp:001?*", "ünïcødé-实验-🚀", "x" * 3000, "-rf", "a\nb"]


def test_hostile_ids_stay_inside_the_folder(tmp_path, storage):
    for i, exp_id in enumerate(HOSTILE):
        assert storage.store_training_history(exp_id, history(i + 1)) == exp_id
    assert storage.list_histories() == sorted(HOSTILE)
    for i, exp_id in enumerate(HOSTILE):
        rows, _ = storage.retrieve_training_history(exp_id)
        assert len(rows) == i + 1
        path = storage.history_path(exp_id)
        assert path.parent == storage.storage_dir and len(path.name) < 100
    assert {p.name for p in tmp_path.iterdir()} == {"ts"}
    for exp_id in HOSTILE:
        storage.delete_training_history(exp_id)
    assert storage.list_histories() == []
    assert not [p for p in storage.storage_dir.iterdir() if p.suffix in (".h5", ".jsonl", ".id")]
    with pytest.raises(ValueError, match="NUL"):
        storage.store_training_history("a\x00b", history(1))


# ---- h5py reads our files ------------------------------------------------------------------------


def test_h5py_and_pandas_read_our_files_without_this_package(tmp_path):
    s = make_storage(tmp_path, chunk_size=100)
    rows = history(1000)
    s.store_training_history("exp/7", rows, metadata={"model": "resnet18", "lr": 0.1})
    path = s.history_path("exp/7")
    s.close()  # a plain (non-SWMR) h5py open needs no writer around
    with h5py.File(path, "r") as f:
        assert list(f.keys()) == ["epoch", "loss", "accuracy", "best", "val_loss", "note", "_snd_masks"]
        assert f["epoch"].dtype == np.int64 and f["loss"].dtype == np.float64 and f["best"].dtype == np.bool_
        assert f["loss"].compression == "gzip" and f["loss"].shuffle and f["loss"].chunks == (100,)
        assert f["loss"].maxshape == (None,)
        np.testing.assert_array_equal(f["epoch"][:], np.arange(1000))
        np.testing.assert_array_equal(f["loss"][:], [loss(i) for i in range(1000)])
        np.testing.assert_array_equal(f["best"][:], [i % 4 == 0 for i in range(1000)])
        vl = f["val_loss"][:]
        assert vl[5] == loss(5) + 0.1 and np.isnan(vl[6])
        notes, mask = f["note"].asstr()[:], f["_snd_masks/note"][:]
        assert mask.dtype == np.bool_ and list(mask[:4]) == [True, False, False, True]
        assert notes[3] == "epoch 3" and notes[4] == ""
        assert f.attrs["experiment_id"] == "exp/7" and f.attrs["format"] == "structure-net-data/timeseries"
        assert json.loads(f.attrs["metadata"]) == {"model": "resnet18", "lr": 0.1}
        cols = json.loads(f.attrs["columns"])
        assert [c["name"] for c in cols] == ["epoch", "loss", "accuracy", "best", "val_loss", "note"]
        assert f.attrs["snd_rows"] == 1000
        summary = f.attrs["snd_summary"]
        assert summary.dtype.names[:3] == ("rows", "count", "missing")
        assert summary["min"][1] == min(loss(i) for i in range(1000)) and summary["count"][5] == 334
        import pandas as pd

        frame = pd.DataFrame({c["name"]: f[c["dataset"]][:] for c in cols if c["kind"] in ("int64", "float64")})
        assert frame.shape == (1000, 4) and frame["loss"].iloc[-1] == loss(999)


def test_streamed_file_is_readable_by_h5py_during_and_after_writing(tmp_path):
    s = make_storage(tmp_path)
    with s.writer("live", {"model": "cnn"}) as w:
        for row in history(25):
            w.append(row)
        path = s.history_path("live")
        with h5py.File(path, "r", swmr=True) as f:
            assert f.attrs["layout"] == "streaming" and f["loss"].compression is None
            np.testing.assert_array_equal(f["loss"][: f.attrs["snd_rows"]], [loss(i) for i in range(25)])
    # Closing the writer compacted the file with the configured compression.
    with h5py.File(path, "r") as f:
        assert f.attrs["layout"] == "compact" and f["loss"].compression == "gzip" and f["loss"].shape == (25,)
    assert s.get_summary_statistics("live")["num_epochs"] == 25
    s.close()


# ---- writers, crashes, concurrency (real processes) -----------------------------------------------


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from structure_net_data.time_series_storage import TimeSeriesConfig, TimeSeriesStorage
    from structure_net_data.errors import ConflictError

    folder, backend, exp_id, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    storage = TimeSeriesStorage(TimeSeriesConfig(storage_dir=folder, use_hdf5=backend == "hdf5"))
    try:
        start = storage.get_summary_statistics(exp_id)["num_epochs"]
    except KeyError:
        start = 0
    try:
        writer = storage.writer(exp_id, {"writer": "script"})
    except ConflictError as e:
        print("conflict:", e, flush=True)
        sys.exit(0)
    i = start
    while n <= 0 or i < n:
        writer.append({"epoch": i, "loss": 2.5 / (i + 1) + (i % 7) * 1e-3, "ok": i % 2 == 0,
                       "note": "n%d" % i if i % 3 == 0 else None})
        print(i + 1, flush=True)
        i += 1
        if n < 0:
            time.sleep(3600)
    writer.close()
    """
)


def check_script_rows(rows, n):
    assert len(rows) == n
    for i, r in enumerate(rows):
        assert r["epoch"] == i and r["loss"] == 2.5 / (i + 1) + (i % 7) * 1e-3 and r["ok"] is (i % 2 == 0)
        assert r.get("note") == (f"n{i}" if i % 3 == 0 else None)


def start_writer(tmp_path, folder, backend, exp_id, n):
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    return subprocess.Popen(
        [sys.executable, str(script), str(folder), backend, exp_id, str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_mid_stream_loses_at_most_the_epoch_being_written(tmp_path, backend):
    folder = tmp_path / "ts"
    rng = random.Random(7)
    for trial in range(6):
        p = start_writer(tmp_path, folder, backend, "crash", 0)
        target = rng.randint(3, 150)
        acked = 0
        for line in p.stdout:
            acked = int(line)
            if acked >= target:
                break
        time.sleep(rng.uniform(0, 0.004))
        p.send_signal(signal.SIGKILL)
        # Through the same buffered reader: lines it already buffered count too.
        rest, err = p.stdout.read(), p.stderr.read()
        p.wait()
        for line in rest.split():
            acked = int(line)
        assert acked >= target, err
        with make_storage(folder, backend) as s:
            rows, meta = s.retrieve_training_history("crash")
            assert acked <= len(rows) <= acked + 1, f"trial {trial}: {len(rows)} rows, {acked} acknowledged"
            check_script_rows(rows, len(rows))
            assert meta == {"writer": "script"}
            assert s.get_summary_statistics("crash")["num_epochs"] == len(rows)
    # A new writer recovers the file and continues.
    p = start_writer(tmp_path, folder, backend, "crash", len(rows) + 5)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    with make_storage(folder, backend) as s:
        check_script_rows(s.retrieve_training_history("crash")[0], len(rows) + 5)


def _kill_mid_stream(tmp_path, folder, exp_id, target):
    """Starts a writer process, SIGKILLs it mid-append; returns the epochs it acknowledged."""
    p = start_writer(tmp_path, folder, "hdf5", exp_id, 0)
    acked = 0
    for line in p.stdout:
        acked = int(line)
        if acked >= target:
            break
    p.send_signal(signal.SIGKILL)
    rest, err = p.stdout.read(), p.stderr.read()
    p.wait()
    for line in rest.split():
        acked = int(line)
    assert acked >= target, err
    return acked


def _read_plain(path):
    """What a user does: h5py without swmr=True."""
    with h5py.File(path, "r") as f:
        return f["epoch"][()].tolist(), f["loss"][()].tolist()


def _check_plain(path, rows):
    epochs, losses = _read_plain(path)
    assert epochs == list(range(rows))
    assert losses == [2.5 / (i + 1) + (i % 7) * 1e-3 for i in range(rows)]


def test_killed_writer_file_opens_with_plain_h5py_after_repair(tmp_path):
    folder = tmp_path / "ts"
    acked = _kill_mid_stream(tmp_path, folder, "crash", 120)
    with make_storage(folder) as s:
        path = s.history_path("crash")
        with pytest.raises(OSError, match="already open for write"):
            _read_plain(path)  # the state the killed writer left
        report = s.repair("crash")
        assert report["repaired"] and "open for writing" in report["damage"], report
        assert acked <= report["rows"] <= acked + 1 and report["path"] == str(path)
        _check_plain(path, report["rows"])  # every committed epoch, nothing else
        assert s.repair("crash") == {**report, "damage": "", "repaired": False}
        assert s.recover("crash")["repaired"] is False
        with pytest.raises(errors.NotFoundError):
            s.repair("never-written")


def test_reopening_a_killed_writers_file_clears_its_open_state(tmp_path):
    folder = tmp_path / "ts"
    acked = _kill_mid_stream(tmp_path, folder, "crash", 40)
    with make_storage(folder) as s:
        with pytest.raises(OSError, match="already open for write"):
            _read_plain(s.history_path("crash"))
        with s.writer("crash") as w:  # our writer reopens it...
            rows = s.get_summary_statistics("crash")["num_epochs"]
            assert acked <= rows <= acked + 1
            w.append({"epoch": rows, "loss": 2.5 / (rows + 1) + (rows % 7) * 1e-3, "ok": rows % 2 == 0})
        _check_plain(s.history_path("crash"), rows + 1)  # ...and leaves it closed


def test_history_repair_command(tmp_path):
    folder = tmp_path / "ts"
    acked = _kill_mid_stream(tmp_path, folder, "crashed", 30)
    live = start_writer(tmp_path, folder, "hdf5", "live", -1)  # one epoch, then it waits
    try:
        assert live.stdout.readline().strip() == "1"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))

        def snd(*args):
            cmd = [sys.executable, "-m", "structure_net_data", "history", "repair", "--storage-dir", str(folder)]
            return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, env=env)

        out = snd("crashed")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("crashed: repaired (") and " epochs kept in " in out.stdout
        with make_storage(folder) as s:
            rows = s.get_summary_statistics("crashed")["num_epochs"]
            assert acked <= rows <= acked + 1
            _check_plain(s.history_path("crashed"), rows)
        # A live writer's file is marked open too, rightly: named, and left alone.
        out = snd("live")
        assert out.returncode == 1 and "being written by another writer" in out.stderr and out.stdout == ""
        out = snd("--all", "--json")
        assert out.returncode == 0, out.stderr
        reports = {r["id"]: r for r in json.loads(out.stdout)}
        assert reports["crashed"]["repaired"] is False and reports["crashed"]["rows"] == rows
        assert f"pid {live.pid}" in reports["live"]["in_use"]
        assert snd().returncode == 2  # neither keys nor --all
    finally:
        live.kill()
        live.wait()


def test_reader_in_another_process_follows_a_live_writer(tmp_path):
    folder = tmp_path / "ts"
    p = start_writer(tmp_path, folder, "hdf5", "live", 400)
    seen = 0
    with make_storage(folder) as s:
        deadline = time.time() + 60
        while seen < 400 and time.time() < deadline:
            try:
                rows, _ = s.retrieve_training_history("live", epochs=slice(-5, None))
                stats = s.get_summary_statistics("live")
            except errors.NotFoundError:
                continue
            total = rows.total_epochs
            assert total >= seen and stats["num_epochs"] >= total
            assert [r["epoch"] for r in rows] == list(range(max(0, total - 5), total))
            seen = total
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert seen == 400


def test_processes_write_different_experiments_in_parallel_and_conflict_on_one(tmp_path):
    folder = tmp_path / "ts"
    procs = [start_writer(tmp_path, folder, "hdf5", f"exp-{k}", 120) for k in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with make_storage(folder) as s:
        assert s.list_histories() == ["exp-0", "exp-1", "exp-2"]
        for k in range(3):
            check_script_rows(s.retrieve_training_history(f"exp-{k}")[0], 120)

    holder = start_writer(tmp_path, folder, "hdf5", "shared", -1)  # writes one epoch, then holds the lock
    assert holder.stdout.readline().strip() == "1"
    try:
        second = start_writer(tmp_path, folder, "hdf5", "shared", 10)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert out.startswith("conflict:") and "being written by another writer" in out and f"pid {holder.pid}" in out
        with make_storage(folder) as s:
            with pytest.raises(errors.ConflictError):
                s.store_training_history("shared", history(2))
            with pytest.raises(errors.ConflictError):
                s.append_epoch("shared", {"epoch": 9})
            rows, _ = s.retrieve_training_history("shared")  # reading is never blocked
            assert [r["epoch"] for r in rows] == [0]
    finally:
        holder.kill()
        holder.communicate()
    with make_storage(folder) as s:  # the kernel released the dead holder's lock
        s.append_epoch("shared", {"epoch": 1, "loss": 0.5, "ok": False, "note": None})
        s.finish()
        assert [r["epoch"] for r in s.retrieve_training_history("shared")[0]] == [0, 1]


def test_writers_in_one_process_conflict_too(storage):
    w = storage.writer("one")
    w.append({"epoch": 0})
    with pytest.raises(errors.ConflictError):
        storage.writer("one")
    with pytest.raises(FileExistsError):  # ConflictError is also a FileExistsError
        storage.delete_training_history("one")
    w.close()
    w.close()
    with pytest.raises(errors.ClosedError):
        w.append({"epoch": 1})
    storage.append_epoch("one", {"epoch": 1})
    assert [r["epoch"] for r in storage.retrieve_training_history("one")[0]] == [0, 1]


# ---- scale ----------------------------------------------------------------------------------------


def test_ten_million_epochs_store_and_last_ten(tmp_path):
    n = 10_000_000
    s = make_storage(tmp_path)
    data = {"epoch": np.arange(n, dtype=np.int64), "loss": 1.0 / (np.arange(n) + 1.0), "acc": np.linspace(0, 1, n)}
    t0 = time.perf_counter()
    s.store_training_history("big", data)
    store_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows, _ = s.retrieve_training_history("big", epochs=slice(-10, None))
    last10_s = time.perf_counter() - t0
    assert [r["epoch"] for r in rows] == list(range(n - 10, n))
    assert rows[-1]["loss"] == 1.0 / n and rows[-1]["acc"] == 1.0
    t0 = time.perf_counter()
    stats = s.get_summary_statistics("big")
    summary_s = time.perf_counter() - t0
    assert stats["num_epochs"] == n and stats["epoch_max"] == n - 1 and stats["acc_mean"] == pytest.approx(0.5)
    # Generous bounds for a shared 2-core machine; bench_timeseries.py measures properly.
    assert store_s < 60 and last10_s < 0.5 and summary_s < 0.5, (store_s, last10_s, summary_s)
    # Appending to it streams without rewriting the ten million rows per epoch.
    t0 = time.perf_counter()
    for i in range(20):
        s.append_epoch("big", {"epoch": n + i, "loss": 0.0, "acc": 1.0})
    rows, _ = s.retrieve_training_history("big", epochs=-1)
    assert rows[0]["epoch"] == n + 19
    s.close()


# ---- plotting -------------------------------------------------------------------------------------


def test_plot_history_returns_a_figure(storage):
    from matplotlib.figure import Figure

    storage.store_training_history("plot", history(30))
    fig = storage.plot_history("plot")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["loss", "accuracy", "val_loss"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.arange(30))
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [loss(i) for i in range(30)])
    fig = storage.plot_history("plot", columns=["loss"], epochs=slice(10, 20))
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["loss"]
    with pytest.raises(errors.InvalidArgumentError, match="not numeric"):
        storage.plot_history("plot", columns=["note"])
    with pytest.raises(errors.InvalidArgumentError, match="no column"):
        storage.plot_history("plot", columns=["nope"])


def test_environment_override_for_storage_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SND_TIMESERIES_DIR", str(tmp_path / "from-env"))
    with TimeSeriesStorage({"compression": None}) as s:
        assert s.storage_dir == tmp_path / "from-env" and s.config.compression == "none"
        s.store_training_history("e", history(3))
        with h5py.File(s.history_path("e"), "r", swmr=True) as f:
            assert f["loss"].compression is None
    assert os.listdir(tmp_path / "from-env")
