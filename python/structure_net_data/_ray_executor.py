"""The lab's Ray executor: each experiment is a Ray task on whichever node has
the resources it asks for.

The task opens its dataset with ``create_dataset`` on its node (that node's
``DATA_DIR`` and decoded cache), trains, and returns the result and the
training history to the driver through Ray's object store. Everything else
(hooks, indexing, time-series storage, summaries, spooling) stays in the
driver, exactly as with the local executor.

Failures: Ray re-runs a task whose worker process or node died, up to
``max_retries`` times; after that the experiment is reported failed with
the reason. Cancelling the driver's coroutine (Ctrl-C under ``asyncio.run``)
cancels the Ray tasks it started. Ray is imported only when this executor is
used (``pip install 'structure-net-data[ray]'``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from .errors import UnavailableError, UnsupportedError

__all__ = ["RayExecutor"]

# resources_per_experiment keys that are ray.remote options; others are custom resources.
_RAY_OPTIONS = ("num_cpus", "num_gpus", "memory", "accelerator_type")


def _experiment_task(test_function: Any, experiment: Any, data_options: dict[str, Any], env: dict[str, str]) -> dict:
    """Runs on a Ray worker: the local executor's worker body, with the driver's forwarded settings."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        from .lab import _run_experiment

        return _run_experiment(test_function, experiment, data_options)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_reachable(address: str) -> None:
    """Fails at once, naming the address, when nothing listens there."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise UnavailableError(f"Ray cluster address {address!r} is not host:port, ray://host:port or 'auto'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as e:
        raise UnavailableError(f"cannot reach the Ray cluster at {address}: {e}") from None


class RayExecutor:
    """Submits experiments to a Ray cluster and awaits their results."""

    def __init__(self, address: str | None, resources: dict[str, Any], max_retries: int, timeout: float | None) -> None:
        self.address = address
        self.options: dict[str, Any] = {k: v for k, v in resources.items() if k in _RAY_OPTIONS}
        custom = {k: float(v) for k, v in resources.items() if k not in _RAY_OPTIONS}
        if custom:
            self.options["resources"] = custom
        self.max_retries = max_retries
        self.timeout = timeout
        self._remote: Any = None

    def connect(self) -> None:
        """Connects to the cluster; an unreachable address fails at once, naming it."""
        try:
            import ray
        except ImportError:
            raise UnsupportedError(
                "executor='ray' needs Ray: pip install 'structure-net-data[ray]' (or pip install ray)"
            ) from None
        if not ray.is_initialized():  # else the process's own ray.init() connection is used
            # None: $RAY_ADDRESS (set by `ray job submit`), else a Ray of our own on this machine,
            # never whichever cluster another user started here last.
            address = self.address or os.environ.get("RAY_ADDRESS") or "local"
            if address not in ("auto", "local"):
                _check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
                raise UnavailableError(f"cannot connect to the Ray cluster at {address}: {e}") from None
        if self._remote is None:
            self._remote = ray.remote(_experiment_task)

    async def run(self, test_function: Any, experiment: Any, data_options: dict[str, Any]) -> dict[str, Any]:
        """One experiment as a Ray task; returns the worker's raw result dict."""
        import ray

        from .metadata import explicit_metadata_uri

        # The driver's metadata database, when it chose one, is the tasks' too; folders
        # (DATA_DIR, the decoded cache) are each node's own and never passed on.
        shared = explicit_metadata_uri()
        env = {"SND_METADATA_URI": shared} if shared else {}
        ref = self._remote.options(
            **self.options, max_retries=self.max_retries, retry_exceptions=False, name=f"experiment {experiment.id}"
        ).remote(test_function, experiment, data_options, env)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(ref.future()), self.timeout)
        except asyncio.TimeoutError:
            ray.cancel(ref, force=True)
            return {"status": "failed", "error": f"timed out after {self.timeout}s (Ray task cancelled)"}
        except asyncio.CancelledError:
            ray.cancel(ref, force=True)  # Ctrl-C / cancel on the driver stops the task on the cluster
            raise
        except ray.exceptions.TaskCancelledError:
            return {"status": "failed", "error": "the Ray task was cancelled"}
        except ray.exceptions.RayError as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            died = (
                ray.exceptions.WorkerCrashedError,
                ray.exceptions.NodeDiedError,
                ray.exceptions.OwnerDiedError,
                ray.exceptions.ObjectLostError,
            )
            if isinstance(e, died):
                what = f"worker process or node died ({type(e).__name__}) after {self.max_retries + 1} attempt(s)"
            else:
                what = f"the Ray task failed ({type(e).__name__})"
            return {"status": "failed", "error": f"{what}: {reason}"}
