"""A compact Neural Architecture Lab (NAL): hypotheses, experiments generated
from a parameter space, run in parallel worker processes with the data loaders
of the dataset the hypothesis names.

Workers are started with the "spawn" method (the Go core cannot run in a forked
child), or run as Ray tasks on a cluster with ``LabConfig(executor="ray")``
(see ``_ray_executor``). Each worker opens its dataset through ``create_dataset``: the decoded
samples are memory-mapped from the shared cache, so N parallel experiments hold
one copy of the dataset in the page cache, not N.

A test function is a module-level (picklable) callable
``test_function(experiment: Experiment, data: dict) -> dict | ExperimentResult``
where ``data`` is what ``create_dataset`` returned (``train_loader``,
``test_loader``, ``config``...). A returned dict may carry ``metrics``,
``primary_metric``, ``training_history`` (a list of per-epoch dicts),
``model_parameters``, ``model_architecture`` and ``observations``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import itertools
import json
import multiprocessing
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

__all__ = [
    "HypothesisCategory",
    "Hypothesis",
    "LabConfig",
    "Experiment",
    "ExperimentStatus",
    "ExperimentResult",
    "HypothesisResult",
    "NeuralArchitectureLab",
    "experiment_id_for",
]


class HypothesisCategory(Enum):
    ARCHITECTURE = "architecture"
    GROWTH = "growth"
    SPARSITY = "sparsity"
    TRAINING = "training"
    OPTIMIZATION = "optimization"
    REGULARIZATION = "regularization"
    INITIALIZATION = "initialization"
    DATA = "data"
    OTHER = "other"


@dataclass
class Hypothesis:
    """A question tested by running experiments over a parameter space."""

    id: str
    name: str = ""
    description: str = ""
    category: HypothesisCategory = HypothesisCategory.ARCHITECTURE
    question: str = ""
    prediction: str = ""
    test_function: Callable[..., Any] | None = None
    parameter_space: dict[str, list[Any]] = field(default_factory=dict)
    control_parameters: dict[str, Any] = field(default_factory=dict)
    success_metrics: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise ValueError("a hypothesis needs a non-empty string id")
        for key, values in self.parameter_space.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ValueError(f"parameter_space[{key!r}] must be a non-empty list of values")


@dataclass
class LabConfig:
    """How the lab runs experiments."""

    max_parallel_experiments: int = 4
    save_best_models: bool = False
    results_dir: str = field(default_factory=lambda: os.path.join(tempfile.gettempdir(), "nal_results"))
    min_experiments_per_hypothesis: int = 1
    max_experiments_per_hypothesis: int | None = None
    experiment_timeout: float | None = None
    default_dataset: str = "mnist"
    device: str = "cpu"
    data_dir: str | None = None
    #: "local": spawned processes on this machine (the default); "ray": Ray tasks on a cluster.
    executor: str = "local"
    #: Ray only: "host:port" (the head's GCS), "ray://host:port" (Ray Client), "auto" (the cluster
    #: started on this machine), or None: $RAY_ADDRESS, else a Ray of its own on this machine.
    #: With Ray, the cluster's resources set the parallelism; max_parallel_experiments is not used.
    ray_address: str | None = None
    #: Ray only: what each experiment's task asks for (num_cpus, num_gpus, memory, custom resources).
    resources_per_experiment: dict[str, Any] = field(default_factory=lambda: {"num_cpus": 1, "num_gpus": 0})
    #: Ray only: how often an experiment whose worker or node died is run again before it is reported failed.
    max_retries: int = 1

    def __post_init__(self) -> None:
        if self.max_parallel_experiments < 1:
            raise ValueError("max_parallel_experiments must be at least 1")
        if self.executor not in ("local", "ray"):
            raise ValueError(f"executor must be 'local' or 'ray', got {self.executor!r}")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative integer, got {self.max_retries!r}")


class ExperimentStatus(Enum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class Experiment:
    id: str
    hypothesis_id: str
    parameters: dict[str, Any]
    index: int = 0


@dataclass
class ExperimentResult:
    experiment_id: str
    hypothesis_id: str
    parameters: dict[str, Any] = field(default_factory=dict)
    status: ExperimentStatus = ExperimentStatus.COMPLETED
    metrics: dict[str, float] = field(default_factory=dict)
    primary_metric: float = 0.0
    model_architecture: list[int] | None = None
    model_parameters: int = 0
    training_time: float = 0.0
    training_history: list[dict[str, Any]] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)
    error: str | None = None
    timestamp: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    @property
    def succeeded(self) -> bool:
        return self.status is ExperimentStatus.COMPLETED

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d


@dataclass
class HypothesisResult:
    hypothesis_id: str
    num_experiments: int
    successful_experiments: int
    failed_experiments: int
    best_parameters: dict[str, Any] | None
    best_metric: float | None
    experiment_results: list[ExperimentResult] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0

    @property
    def success_rate(self) -> float:
        return self.successful_experiments / self.num_experiments if self.num_experiments else 0.0


def experiment_id_for(hypothesis_id: str, parameters: dict[str, Any], index: int) -> str:
    """A deterministic, collision-free id: the hypothesis, the position and a
    digest of the parameters (the same run always gets the same id)."""
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{hypothesis_id}-{index:04d}-{digest}"


def _run_experiment(test_function: Callable[..., Any], experiment: Experiment, data_options: dict[str, Any]) -> dict:
    """Runs in a spawned worker: loads the data, runs the test, returns a plain dict."""
    started = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(1)
        seed = experiment.parameters.get("seed")
        if seed is not None:
            torch.manual_seed(int(seed))
        from .factory import create_dataset

        data = create_dataset(**data_options)
        out = test_function(experiment, data)
        if isinstance(out, ExperimentResult):
            out = out.to_dict()
        if not isinstance(out, dict):
            raise TypeError(f"test_function returned {type(out).__name__}, expected a dict or ExperimentResult")
        out = dict(out)
        out.setdefault("training_time", time.perf_counter() - started)
        out["status"] = ExperimentStatus.COMPLETED.value
        return out
    except Exception as e:
        return {
            "status": ExperimentStatus.FAILED.value,
            "error": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}",
            "training_time": time.perf_counter() - started,
        }


class NeuralArchitectureLab:
    """Registers hypotheses and tests them by running their experiments in parallel.

    Hooks: ``on_experiment_complete(result, hypothesis_id)`` callables run in the
    lab process as each experiment finishes; if one returns a dict, that dict
    (a small summary) replaces the full result in the lab's memory.
    """

    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config or LabConfig()
        os.makedirs(self.config.results_dir, exist_ok=True)
        self.hypotheses: dict[str, Hypothesis] = {}
        self.results: dict[str, HypothesisResult] = {}
        self.on_experiment_complete: list[Callable[[ExperimentResult, str], Any]] = []
        self.on_hypothesis_complete: list[Callable[[Hypothesis, HypothesisResult], Any]] = []
        self._ray: Any = None  # the RayExecutor, once connected

    def register_hypothesis(self, hypothesis: Hypothesis) -> None:
        if hypothesis.id in self.hypotheses:
            raise ValueError(f"hypothesis {hypothesis.id!r} is already registered")
        if hypothesis.test_function is None:
            raise ValueError(f"hypothesis {hypothesis.id!r} has no test_function")
        self.hypotheses[hypothesis.id] = hypothesis

    def generate_experiments(self, hypothesis: Hypothesis) -> list[Experiment]:
        """Every combination of the parameter space over the control parameters
        (parameter-space values win), padded with seed copies up to the minimum."""
        keys = sorted(hypothesis.parameter_space)
        grid = itertools.product(*(hypothesis.parameter_space[k] for k in keys))
        combos = [dict(zip(keys, values, strict=True)) for values in grid]
        combos = combos or [{}]
        params = [{**hypothesis.control_parameters, **c} for c in combos]
        base = len(params)
        i = 0
        while len(params) < self.config.min_experiments_per_hypothesis:
            params.append({**params[i % base], "seed": i // base + 1})
            i += 1
        if self.config.max_experiments_per_hypothesis:
            params = params[: self.config.max_experiments_per_hypothesis]
        return [Experiment(experiment_id_for(hypothesis.id, p, n), hypothesis.id, p, n) for n, p in enumerate(params)]

    def _data_options(self, parameters: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {
            "dataset_name": parameters.get("dataset", self.config.default_dataset),
            "batch_size": parameters.get("batch_size"),
            "seed": parameters.get("data_seed", parameters.get("seed", 0)),
            "progress": False,
            "threads": parameters.get("loader_threads", 1),
        }
        if parameters.get("quick_test"):
            options["subset_fraction"] = 0.1
        for key in ("subset_size", "subset_fraction", "data_dir"):
            if parameters.get(key) is not None:
                options[key] = parameters[key]
        if "data_dir" not in options and self.config.data_dir:
            options["data_dir"] = self.config.data_dir
        return options

    def _ray_executor(self) -> Any:
        """Connects to the Ray cluster on first use; an unreachable one fails here, at once."""
        if self._ray is None:
            from ._ray_executor import RayExecutor

            c = self.config
            executor = RayExecutor(c.ray_address, c.resources_per_experiment, c.max_retries, c.experiment_timeout)
            executor.connect()
            self._ray = executor
        return self._ray

    async def _run_one(self, hypothesis: Hypothesis, experiment: Experiment, gate: asyncio.Semaphore) -> Any:
        if self.config.executor == "ray":
            options = self._data_options(experiment.parameters)
            options["experiment_id"] = experiment.id
            raw = await self._ray_executor().run(hypothesis.test_function, experiment, options)
            return self._finish(hypothesis, experiment, raw)
        async with gate:
            ctx = multiprocessing.get_context("spawn")
            options = self._data_options(experiment.parameters)
            options["experiment_id"] = experiment.id
            # One process per experiment: a crash or kill fails that experiment only.
            with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                future = pool.submit(_run_experiment, hypothesis.test_function, experiment, options)
                try:
                    raw = await asyncio.wait_for(asyncio.wrap_future(future), self.config.experiment_timeout)
                except asyncio.TimeoutError:
                    for proc in list(getattr(pool, "_processes", {}).values()):
                        proc.kill()
                    raw = {"status": "failed", "error": f"timed out after {self.config.experiment_timeout}s"}
                except concurrent.futures.process.BrokenProcessPool as e:
                    raw = {"status": "failed", "error": f"worker process died: {e}"}
        return self._finish(hypothesis, experiment, raw)

    def _finish(self, hypothesis: Hypothesis, experiment: Experiment, raw: dict[str, Any]) -> Any:
        """Runs the hooks on a finished experiment (in this process, whatever the executor)."""
        result = _to_result(experiment, raw)
        kept: Any = result
        for hook in self.on_experiment_complete:
            out = hook(result, hypothesis.id)
            if isinstance(out, dict):
                kept = out
        return kept

    async def test_hypothesis(self, hypothesis_id: str) -> HypothesisResult:
        """Runs every experiment of a hypothesis; failures are recorded, not raised."""
        if hypothesis_id not in self.hypotheses:
            raise KeyError(f"unknown hypothesis {hypothesis_id!r}; registered: {sorted(self.hypotheses)}")
        hypothesis = self.hypotheses[hypothesis_id]
        started = time.perf_counter()
        if self.config.executor == "ray":
            self._ray_executor()  # an unreachable cluster fails before anything runs
        gate = asyncio.Semaphore(self.config.max_parallel_experiments)
        experiments = self.generate_experiments(hypothesis)
        outcomes = await asyncio.gather(*(self._run_one(hypothesis, e, gate) for e in experiments))
        full = [o for o in outcomes if isinstance(o, ExperimentResult)]
        summaries = [o for o in outcomes if isinstance(o, dict)]
        rows = [(r.status.value, r.primary_metric, r.parameters) for r in full] + [
            (s.get("status"), s.get("primary_metric"), s.get("parameters")) for s in summaries
        ]
        ok = [(m, p) for status, m, p in rows if status == ExperimentStatus.COMPLETED.value]
        best = max(ok, key=lambda mp: mp[0] if mp[0] is not None else float("-inf"), default=(None, None))
        result = HypothesisResult(
            hypothesis_id=hypothesis_id,
            num_experiments=len(rows),
            successful_experiments=len(ok),
            failed_experiments=len(rows) - len(ok),
            best_parameters=best[1],
            best_metric=best[0],
            experiment_results=full,
            summaries=summaries,
            duration=time.perf_counter() - started,
        )
        self.results[hypothesis_id] = result
        for hook in self.on_hypothesis_complete:
            hook(hypothesis, result)
        return result


def _to_result(experiment: Experiment, raw: dict[str, Any]) -> ExperimentResult:
    metrics = {k: float(v) for k, v in (raw.get("metrics") or {}).items() if isinstance(v, (int, float))}
    primary = raw.get("primary_metric")
    if primary is None:
        primary = metrics.get("accuracy", metrics.get("test_accuracy", 0.0))
    return ExperimentResult(
        experiment_id=experiment.id,
        hypothesis_id=experiment.hypothesis_id,
        parameters=dict(experiment.parameters),
        status=ExperimentStatus(raw.get("status", "failed")),
        metrics=metrics,
        primary_metric=float(primary),
        model_architecture=raw.get("model_architecture") or experiment.parameters.get("architecture"),
        model_parameters=int(raw.get("model_parameters") or 0),
        training_time=float(raw.get("training_time") or 0.0),
        training_history=list(raw.get("training_history") or []),
        observations=list(raw.get("observations") or []),
        error=raw.get("error"),
    )
