"""Test functions the Ray lab tests run on the cluster's workers.

They live apart from the test module because workers import the module of a
function they run, and the test modules import conftest, which points DATA_DIR
and the caches of whoever imports it at a throwaway folder.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from structure_net_data.lab_tasks import train_mlp


def _node() -> str:
    return os.environ.get("SND_TEST_NODE", "driver")


def marked_training(experiment, data):
    """train_mlp, leaving start/done markers (node, pid) and holding the CPU a while."""
    markers = Path(experiment.parameters["markers"])
    stem = f"{experiment.id}.{_node()}.{os.getpid()}"
    (markers / f"{stem}.start").touch()
    time.sleep(float(experiment.parameters.get("hold", 0)))
    out = train_mlp(experiment, data)
    (markers / f"{stem}.done").touch()
    return out


def dying(experiment, data):
    """Kills its own worker: always, on the first attempt only, or raises instead."""
    mode = experiment.parameters["mode"]
    markers = Path(experiment.parameters["markers"])
    attempt = len(list(markers.glob(f"{experiment.id}.*"))) + 1
    (markers / f"{experiment.id}.{attempt}").touch()
    if mode == "always" or (mode == "first" and attempt == 1):
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "raise":
        raise RuntimeError("boom inside the Ray task")
    return {"metrics": {"accuracy": 0.5}}


def sleeping(experiment, data):
    """Records its pid, then sleeps far longer than the test waits."""
    (Path(experiment.parameters["markers"]) / f"{os.getpid()}.pid").touch()
    time.sleep(300)
    return {"metrics": {"accuracy": 0.0}}
