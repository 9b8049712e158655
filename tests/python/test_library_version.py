"""The library carries the package's version, stamped by the build from the
one version source, and Python refuses a library of another version."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import structure_net_data
from structure_net_data import _lib, _version

ROOT = Path(__file__).resolve().parents[2]


def test_one_version_source() -> None:
    assert structure_net_data.__version__ == _version.__version__
    assert _lib.version()["version"] == _version.__version__
    pyproject = (ROOT / "python" / "pyproject.toml").read_text()
    assert not re.search(r"^version\s*=", pyproject, re.M), "the version lives in _version.py only"
    assert re.search(r'^dynamic = \["version"\]$', pyproject, re.M)
    assert re.search(r'^\[tool\.hatch\.version\]\npath = "structure_net_data/_version\.py"$', pyproject, re.M)


def _load_in_child(library: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SND_LIBRARY=str(library), PYTHONPATH=str(ROOT / "python"))
    code = "from structure_net_data import _lib; _lib.lib(); print('loaded')"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_a_library_of_another_version_is_refused(tmp_path: Path) -> None:
    go = shutil.which("go")
    assert go, "the Go toolchain builds the library; it is needed for this test"
    other = tmp_path / "libsnd-other.so"
    subprocess.run(
        [go, "build", "-buildmode=c-shared", "-ldflags", "-X main.Version=0.0.1-other", "-o", str(other), "./capi"],
        cwd=ROOT,
        check=True,
        env=dict(os.environ, CGO_ENABLED="1"),
        timeout=600,
    )
    run = _load_in_child(other)
    assert run.returncode != 0 and "loaded" not in run.stdout
    assert "InternalError" in run.stderr
    assert "built as version 0.0.1-other, but this package is version " + _version.__version__ in run.stderr
    assert "make build" in run.stderr
    # The library the build stamped loads.
    assert _load_in_child(_lib.library_path()).stdout.strip() == "loaded"
