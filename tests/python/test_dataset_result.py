"""create_dataset's result: the guide's dict, with typed keys, attributes and a short repr."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import structure_net_data as snd
from conftest import write_mnist
from structure_net_data.config import DatasetConfig
from structure_net_data.dataset_result import DatasetResult
from structure_net_data.loader import BatchLoader
from structure_net_data.metadata import DatasetMetadata

REPO = Path(__file__).resolve().parents[2]
KEYS = ["config", "train_loader", "test_loader", "metadata", "input_size", "num_classes", "input_shape"]


def test_result_is_the_guides_dict(data_dir: Path) -> None:
    write_mnist(data_dir, n_train=300, n_test=100)
    ds = snd.create_dataset("mnist", batch_size=64, data_dir=data_dir, seed=1, progress=False)
    assert isinstance(ds, dict) and isinstance(ds, DatasetResult)
    # Everything the guide's dict did: keys in the same order, in, get, len, iteration, items, equality.
    assert list(ds) == KEYS and list(ds.keys()) == KEYS and len(ds) == 7
    assert "train_loader" in ds and "nope" not in ds and ds.get("nope", 5) == 5
    assert dict(ds.items()) == dict(ds) and ds == dict(ds) and {**ds}["num_classes"] == 10
    with pytest.raises(KeyError):
        ds["nope"]
    # The values, through [] and through attributes alike.
    assert isinstance(ds["train_loader"], BatchLoader) and ds.train_loader is ds["train_loader"]
    assert isinstance(ds["test_loader"], BatchLoader) and ds.test_loader is ds["test_loader"]
    assert isinstance(ds.config, DatasetConfig) and ds.config.name == "mnist"
    assert isinstance(ds.metadata, DatasetMetadata)
    assert ds.input_size == 784 and ds.num_classes == 10 and ds.input_shape == (1, 28, 28)
    assert len(ds.train_loader.dataset) == 300 and len(ds.train_loader) == 5
    images, labels = next(iter(ds["train_loader"]))
    assert tuple(images.shape) == (64, 1, 28, 28) and labels.dtype.is_floating_point is False
    # Still a mutable dict, as before.
    ds["note"] = "mine"
    assert ds["note"] == "mine" and len(ds) == 8


def test_repr_is_one_short_line(data_dir: Path) -> None:
    generated = write_mnist(data_dir, n_train=300, n_test=100)
    ds = snd.create_dataset("mnist", batch_size=64, data_dir=data_dir, seed=1, progress=False)
    text = repr(ds)
    assert text == (
        "DatasetResult('mnist', train=300 samples/5 batches, test=100 samples/2 batches, "
        "input_shape=(1, 28, 28), num_classes=10)"
    )
    assert str(ds) == text
    # What the dict's repr dumped (config twice, every file's sha256) stays out.
    assert "sha256" not in text and "\n" not in text and len(text) < 200
    assert not any(str(p) in text for p in generated.files)
    ds["extra"] = np.zeros(3)
    assert repr(ds).endswith("num_classes=10, extra_keys=['extra'])")
    empty = DatasetResult(config=None, train_loader=None, test_loader=object())
    assert repr(empty) == "DatasetResult('?', train=None, test=object, input_shape=(), num_classes=None)"


def test_type_checkers_see_the_types(tmp_path: Path) -> None:
    """mypy, on the guide's snippet: each key has its own type, unknown keys are Any,
    and misuse is reported."""
    snippet = tmp_path / "guide_snippet.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from data_factory import create_dataset

            dataset = create_dataset("mnist", batch_size=64)
            reveal_type(dataset)
            reveal_type(dataset["train_loader"])
            reveal_type(dataset["test_loader"])
            reveal_type(dataset["config"])
            reveal_type(dataset["metadata"])
            reveal_type(dataset["num_classes"])
            reveal_type(dataset["input_shape"])
            reveal_type(dataset.train_loader)
            reveal_type(dataset["anything_else"])
            wrong: int = dataset["config"]
            """
        )
    )
    config = tmp_path / "mypy.ini"
    # Follow our package, not torch & co. (their stubs take a minute to analyse).
    config.write_text(
        "[mypy]\nfollow_imports = silent\nignore_missing_imports = True\n"
        "[mypy-torch.*,torchvision.*,numpy.*,pyarrow.*,pandas.*,matplotlib.*,tqdm.*,h5py.*]\nfollow_imports = skip\n"
    )
    env = dict(os.environ, MYPYPATH=str(REPO / "python"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
            str(snippet),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    revealed = re.findall(r'Revealed type is "([^"]+)"', out.stdout)
    assert revealed == [
        "structure_net_data.dataset_result.DatasetResult",
        "structure_net_data.loader.BatchLoader",
        "structure_net_data.loader.BatchLoader",
        "structure_net_data.config.DatasetConfig",
        "structure_net_data.metadata.DatasetMetadata",
        "int",
        "tuple[int, ...]",
        "structure_net_data.loader.BatchLoader",
        "Any",
    ], out.stdout + out.stderr
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and 'expression has type "DatasetConfig", variable has type "int"' in errors[0], out.stdout
    assert out.returncode == 1
