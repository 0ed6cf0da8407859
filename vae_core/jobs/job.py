"""A job as the pages and the CLI see it (``Job``: state, streamed records, progress, ETA; its
``StopRequest``), the engine's bookkeeping of one (``Flight``) and how a trained run is saved
(``save_outcome``: in the engine's process, from the weights a worker sent back)."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vae_core.analysis import outcomes
from vae_core.jobs.plan import DEFAULT_TIME_LIMIT_S, RunSpec
from vae_core.store.runs import RunError, save_run, unique_run_name

if TYPE_CHECKING:  # torch-using modules are imported where a run is saved: pages poll jobs without torch
    from vae_core.train import Record


class StopRequest:
    """The Stop button's flag: ``set()`` is local and instant (the engine is told through a
    listener and forwards it to the worker without waiting), ``is_set()`` never touches the
    network, so a page can poll it freely."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.at: float | None = None  # monotonic time of the request
        self.reason = ""  # why, when not the user's own Stop (the teacher, a closed tab)
        self.listener: Any = None  # () -> None, called once by the first set()

    def set(self, reason: str = "") -> None:
        if not self._event.is_set():
            self.at = time.monotonic()
            self.reason = reason
            self._event.set()
            if self.listener is not None:
                self.listener()

    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass(eq=False)  # compared by identity: the queue looks jobs up with list.index
class Job:
    """One submitted job. Written by the engine only, read by pages and the CLI."""

    runs: list[RunSpec]
    dataset: str
    root: str
    group: str | None = None  # the pair or sweep name the runs are saved under
    interleave: bool = True  # pair: step both models in turn so their curves grow together
    owner: str | None = None  # who submitted it (an opaque token); saved in run.json
    client: str | None = None  # the submitting computer's address (fair sharing, teacher view)
    alive: Any = field(default=None, repr=False)  # () -> bool: is the submitting session open?
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S
    overwrite: bool = False
    lab_file: str | None = None  # a loss-lab job: its arms go into this results file, not runs
    lab_base: str | None = None  # ... started from this (shipped) file when it does not exist
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "queued"  # queued | running | finished | failed | stopped
    error: str = ""
    worker: str | None = None  # address of the Dask worker training it now
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop: StopRequest = field(default_factory=StopRequest)
    records: dict[str, list[Record]] = field(default_factory=dict)  # run name -> records
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # run name -> end summary
    _engine: Any = field(default=None, repr=False)  # weakref to the engine, for the queue ETA

    def progress(self) -> float:
        """Fraction of all planned steps done, 0..1."""
        if not self.runs:
            return 1.0
        done = sum((self.records.get(r.name) or [{}])[-1].get("progress", 0.0)
                   if r.name not in self.results else 1.0 for r in self.runs)
        return min(1.0, done / len(self.runs))

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def eta(self) -> float | None:
        """Seconds left: from the pace so far while running, from the queue and recent job
        durations while queued; None when there is nothing to go on yet."""
        if self.state == "queued":
            engine = self._engine() if self._engine is not None else None
            return engine.queue_eta(self) if engine is not None else None
        p = self.progress()
        if self.state != "running" or p <= 0.02:
            return None
        return self.elapsed() * (1.0 - p) / p

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


@dataclass(frozen=True)
class EngineStatus:
    """What the sidebar says about training: ``state`` is "starting", "ready" or "unavailable"."""

    state: str
    message: str
    workers: int  # worker threads (= jobs that can train at once)
    address: str | None


@dataclass(eq=False)
class Flight:
    """A job's bookkeeping from submission to its end: its stages, the current stage's future."""

    job: Job
    stages: list[list[RunSpec]]
    packed: dict[str, Any] | None = None  # an idx: data set's arrays, until scattered
    data: Any = None  # the scattered data set (a Future), shared by the job's stages
    stage: int = 0
    started_stage: int = -1  # the last stage whose worker said "start"
    future: Any = None
    on_cluster: bool = False  # holds a worker thread (from its dispatch to its end)
    event_name: str = ""
    deadline: float | None = None  # monotonic end of the job's time limit
    end_asked: float | None = None  # monotonic time a stop or the time limit was due
    done: bool = False


def saved_names(job: Job) -> set[str]:
    """The run and group names ``job`` will save."""
    return {r.name for r in job.runs} | ({job.group} if job.group else set())


def save_outcome(job: Job, spec: RunSpec, outcome: dict[str, Any], worker: str) -> dict:
    """Rebuild the model from its safetensors bytes and save it atomically; on a clash with
    a run saved meanwhile (another session) take a free name, unless ``overwrite``."""
    if outcome["status"] == "stopped" and job.stop.reason:  # not the user's own Stop
        outcome = outcome | {"reason": outcomes.join(job.stop.reason, outcome["reason"])}
    summary = {"status": outcome["status"], "reason": outcome["reason"], "path": None,
               "name": spec.name, "seconds": outcome["seconds"], "worker": worker}
    if outcome["step"] == 0:  # stopped before its first step: an untrained net is no run
        summary["reason"] = outcomes.join(summary["reason"], outcomes.render(outcomes.NOTHING_SAVED))
        return summary
    from safetensors.torch import load

    from vae_core.models import build_model

    model = build_model(spec.model_config)
    model.load_state_dict(load(outcome["weights"]))
    model.eval()
    name = spec.name
    for attempt in range(3):
        try:
            path = save_run(model, spec.model_config, spec.train_config, outcome["history"],
                            name, job.root, dataset=job.dataset, status=outcome["status"],
                            reason=outcome["reason"], group=job.group, worker=worker,
                            owner=job.owner, overwrite=job.overwrite,
                            snapshots=_snapshots(outcome.get("snapshots")))
            return summary | {"path": str(path), "name": name}
        except RunError:
            if attempt == 2 or job.overwrite:
                raise
            name = unique_run_name(spec.name, job.root)
    raise AssertionError("unreachable")


def save_lab_outcomes(job: Job, specs: list[RunSpec], payload: dict[str, Any]) -> dict[str, dict]:
    """A lab job's arms (``RunSpec.objective``), trained and measured on the worker, added to
    ``job.lab_file`` in one atomic write (``lab_results.add_lab_results``) when every arm ran to
    its end; a stopped job adds nothing. Returns each arm's summary for ``job.results``."""
    runs = payload["runs"]
    summaries = {s.name: {"status": runs[s.name]["status"], "reason": runs[s.name]["reason"],
                          "path": None, "name": s.name, "seconds": runs[s.name]["seconds"],
                          "worker": payload["worker"]} for s in specs}
    arms = {s.objective: runs[s.name]["lab"] for s in specs}
    if all(a["arm"] is not None for a in arms.values()) and not job.stop.is_set():
        from vae_core.analysis.lab_results import add_lab_results

        epochs = specs[0].train_config.epochs
        add_lab_results(str(job.lab_file), str(job.lab_base), epochs,
                        {key: (a["weights"], a["arm"]) for key, a in arms.items()},
                        specs[0].model_config)
        for summary in summaries.values():
            summary["path"] = job.lab_file
    elif job.stop.is_set() and job.stop.reason:
        for summary in summaries.values():
            summary["reason"] = outcomes.join(job.stop.reason, summary["reason"])
    return summaries


def _snapshots(packed: Any) -> Any:
    from vae_core.store.replay import unpack_snapshots

    return unpack_snapshots(packed)
