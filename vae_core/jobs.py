"""Background training jobs on a small worker pool shared by every user of one server.

A job trains one or more runs (an AE+VAE pair, a beta sweep) and saves each to ``checkpoints/``
as it ends. The pool runs at most ``max_workers`` jobs at once; the rest wait in a visible FIFO
queue. Each job trains in its own child process: in a thread of the server, every torch call
had to win back the GIL from the threads drawing pages, and two sessions watching live curves
slowed a 1-second pair to 164 s (measured). A pool thread per job starts the child, copies its
progress records into the plain ``Job`` object that the UI polls, and reports a crash of the
child as a failed job. Closing the browser does not lose work: the job finishes and saves for
everyone; the ``stop`` event (a Stop button) ends it early, keeping what was trained.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .config import ModelConfig, TrainConfig
from .data import DatasetError, ImageDataset, load_dataset
from .runs import RunError, save_run, unique_run_name, validate_run_name
from .train import Record, StopFlag, train

DEFAULT_WORKERS = 2  # this is a 2-core machine class; more would only slow every job down
Emit = Callable[[tuple[str, str | None, Any]], None]


@dataclass(frozen=True)
class RunSpec:
    """One model to train inside a job, and the name to save it under."""

    name: str
    model_config: ModelConfig
    train_config: TrainConfig


@dataclass
class Job:
    """A queued or running training job. Written by one pool thread, read by the UI."""

    runs: list[RunSpec]
    dataset: str
    root: str
    pair: str | None = None
    interleave: bool = True  # pair: step both models in turn so their curves grow together
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "queued"  # queued | running | done | failed
    error: str = ""
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop: Any = field(default_factory=threading.Event)  # set() / is_set(), also across processes
    records: dict[str, list[Record]] = field(default_factory=dict)  # run name -> records
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # run name -> end summary

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
        """Seconds left, from the pace so far (None until there is a pace)."""
        p = self.progress()
        if self.state != "running" or p <= 0.02:
            return None
        return self.elapsed() * (1.0 - p) / p

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


def _save(spec: RunSpec, end: Record, root: str, dataset: str, pair: str | None) -> dict[str, Any]:
    """Save a finished/stopped/diverged run; on a name clash (another session) take a free one."""
    name = spec.name
    for attempt in range(3):
        try:
            path = save_run(end["model"], spec.model_config, spec.train_config, end["history"],
                            name, root, dataset=dataset, status=end["status"],
                            reason=end["reason"], pair=pair, snapshots=end.get("snapshots"))
            return {"status": end["status"], "reason": end["reason"], "path": str(path),
                    "name": name, "seconds": end["seconds"]}
        except RunError:
            if attempt == 2:
                raise
            name = unique_run_name(spec.name, root)
    raise AssertionError("unreachable")


def run_job(runs: list[RunSpec], dataset: ImageDataset, *, root: str, dataset_name: str,
            pair: str | None, interleave: bool, stop: StopFlag | None, emit: Emit) -> None:
    """Train every run on ``dataset`` in the calling thread, save each as it ends, and report
    ``("record", name, record)`` and ``("result", name, summary)`` through ``emit``."""
    gens = {spec.name: train(spec.model_config, spec.train_config, dataset, stop=stop)
            for spec in runs}
    specs = {spec.name: spec for spec in runs}
    live = list(gens)
    while live:
        for name in list(live if interleave else live[:1]):
            rec = next(gens[name])
            if rec["type"] == "end":
                if rec["step"] == 0:  # stopped before its first step: an untrained net is no run
                    summary = {"status": rec["status"], "path": None, "name": name,
                               "seconds": rec["seconds"],
                               "reason": rec["reason"] + "; nothing was trained, so nothing was saved"}
                else:
                    summary = _save(specs[name], rec, root, dataset_name, pair)
                emit(("result", name, summary))
                live.remove(name)
            else:
                emit(("record", name, rec))


def _child_main(runs: list[RunSpec], dataset_spec: str, data_root: str, root: str,
                pair: str | None, interleave: bool, threads: int, out: Any, stop: Any) -> None:
    """Entry point of a job's child process: train, save, and send everything to ``out``."""
    import torch

    torch.set_num_threads(threads)
    try:
        dataset = load_dataset(dataset_spec, root=data_root)
        run_job(runs, dataset, root=root, dataset_name=dataset_spec, pair=pair,
                interleave=interleave, stop=stop, emit=out.put)
        out.put(("done", None, None))
    except (DatasetError, RunError, ValueError) as e:
        out.put(("failed", None, str(e)))
    except Exception as e:  # the parent shows it; the server itself is never affected
        out.put(("failed", None, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"))


def _process_context() -> Any:
    """forkserver where there is one (children fork from a clean process with vae_core already
    imported, so a job starts in milliseconds); spawn elsewhere (Windows)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["vae_core.jobs"])
        return ctx
    return multiprocessing.get_context("spawn")


class TrainingPool:
    """A fixed number of worker slots and a FIFO queue of jobs, shared by all sessions."""

    def __init__(self, max_workers: int = DEFAULT_WORKERS, data_root: str = "data"):
        self.max_workers = max_workers
        self.data_root = str(data_root)
        self.threads_per_job = max(1, (os.cpu_count() or 1) // max_workers)
        self._ctx = _process_context()
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="vae-train")
        self._lock = threading.Lock()
        self._jobs: list[Job] = []

    def submit(self, runs: list[RunSpec], dataset: str, root: str = "checkpoints",
               pair: str | None = None, interleave: bool = True) -> Job:
        """Queue a job; names are validated now so a bad one fails before any training."""
        if not runs:
            raise ValueError("a job needs at least one run")
        for spec in runs:
            validate_run_name(spec.name)
        if len({s.name for s in runs}) != len(runs):
            raise ValueError("run names inside one job must differ")
        job = Job(runs=list(runs), dataset=dataset, root=root, pair=pair, interleave=interleave,
                  stop=self._ctx.Event())
        with self._lock:
            self._jobs.append(job)
        self._executor.submit(self._work, job)
        return job

    def _work(self, job: Job) -> None:
        if job.stop.is_set():  # stopped while still queued: nothing to train or save
            job.state, job.finished = "done", time.time()
            return
        job.state, job.started = "running", time.time()
        for spec in job.runs:
            job.records[spec.name] = []
        try:
            self._run_child(job)
        except Exception as e:  # keep the pool thread alive and tell the user what broke
            job.state, job.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            job.finished = time.time()

    def _run_child(self, job: Job) -> None:
        out = self._ctx.Queue()
        child = self._ctx.Process(
            target=_child_main, name=f"vae-train-{job.id}", daemon=True,
            args=(job.runs, job.dataset, self.data_root, job.root, job.pair, job.interleave,
                  self.threads_per_job, out, job.stop))
        child.start()
        outcome: tuple[str, str] | None = None
        while outcome is None:
            try:
                kind, name, payload = out.get(timeout=0.2)
            except queue_module.Empty:
                if child.is_alive():
                    continue
                try:  # it exited: read what it sent just before, if anything
                    kind, name, payload = out.get(timeout=1.0)
                except queue_module.Empty:
                    outcome = ("failed", f"the training process ended unexpectedly (exit code "
                                         f"{child.exitcode}); runs saved before that are kept")
                    break
            if kind == "record":
                job.records[name].append(payload)
            elif kind == "result":
                job.results[name] = payload
            else:
                outcome = (kind, payload or "")
        child.join(timeout=30)
        job.state, job.error = ("done", "") if outcome[0] == "done" else ("failed", outcome[1])

    def queue_position(self, job: Job) -> int:
        """How many jobs wait ahead of ``job`` (0 when it runs or is next)."""
        with self._lock:
            waiting = [j for j in self._jobs if j.state == "queued"]
        return waiting.index(job) if job in waiting else 0

    def counts(self) -> dict[str, int]:
        with self._lock:
            jobs = list(self._jobs)
        return {"running": sum(j.state == "running" for j in jobs),
                "queued": sum(j.state == "queued" for j in jobs)}

    def shutdown(self) -> None:
        with self._lock:
            for j in self._jobs:
                j.stop.set()
        self._executor.shutdown(wait=True, cancel_futures=False)


# --- what to train: the Train page's modes and the Overview's one-click pair ------------------

MODES = ("AE", "VAE", "AE+VAE pair", "Beta sweep")


def parse_betas(text: str) -> list[float]:
    """"0, 0.25, 1" -> [0.0, 0.25, 1.0]; raises ValueError with a message for the user."""
    try:
        betas = [float(t) for t in text.replace(";", ",").split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"Betas must be numbers separated by commas, got {text!r}") from None
    if not betas or any(not 0 <= b < float("inf") for b in betas):
        raise ValueError("Give at least one beta, each a number >= 0")
    if len(set(betas)) != len(betas):
        raise ValueError("Each beta may appear only once")
    return betas


def plan_runs(mode: str, name: str, model_cfg: ModelConfig, train_cfg: TrainConfig,
              betas: list[float] | tuple[float, ...] = ()) -> tuple[list[RunSpec], str | None]:
    """The runs of one job and the group (``pair``) they are saved under.

    "AE"/"VAE": one run named ``name``. "AE+VAE pair": ``name-ae`` and ``name-vae`` with the same
    seed, data and architecture (the only difference is the bottleneck). "Beta sweep": one VAE
    per beta named ``name-b<beta>`` (``metrics.sweep_run_name``), grouped under ``name``.
    """
    from dataclasses import replace

    from .metrics import sweep_run_name

    if mode == "AE":
        return [RunSpec(name, model_cfg.with_kind("ae"), train_cfg)], None
    if mode == "VAE":
        return [RunSpec(name, model_cfg.with_kind("vae"), train_cfg)], None
    if mode == "AE+VAE pair":
        return [RunSpec(f"{name}-ae", model_cfg.with_kind("ae"), train_cfg),
                RunSpec(f"{name}-vae", model_cfg.with_kind("vae"), train_cfg)], name
    if mode == "Beta sweep":
        return [RunSpec(sweep_run_name(name, b), model_cfg.with_kind("vae"),
                        replace(train_cfg, beta=float(b))) for b in betas], name
    raise ValueError(f"Unknown mode {mode!r}; use one of {MODES}")


# The one-click pair uses the config defaults (MLP 128-64: 256-128 scored alike and doubled the
# shipped demo's size).
QUICK_PAIR_EPOCHS = TrainConfig.epochs
QUICK_PAIR_HIDDEN = ModelConfig.hidden
QUICK_PAIR_BATCH = TrainConfig.batch_size
QUICK_PAIR_LR = TrainConfig.lr


def quick_pair_specs(name: str, image_shape: tuple[int, int, int],
                     epochs: int = QUICK_PAIR_EPOCHS) -> list[RunSpec]:
    """The one-click AE+VAE pair (``NAME-ae``, ``NAME-vae``): latent 2, same seed and net.

    Measured on the 2-core CPU with digits: about 3 s per model, final VAE test KL about
    2.8 nats. Fewer epochs (or beta=1 with a smaller lr) leave the 2-D VAE
    briefly collapsed (KL near 0) and its latent map looks like noise.
    """
    cfg = ModelConfig(kind="vae", latent_dim=2, arch="mlp", hidden=QUICK_PAIR_HIDDEN,
                      input_shape=image_shape)
    tcfg = TrainConfig(epochs=epochs, batch_size=QUICK_PAIR_BATCH, lr=QUICK_PAIR_LR, beta=1.0,
                       seed=0)
    return plan_runs("AE+VAE pair", name, cfg, tcfg)[0]
