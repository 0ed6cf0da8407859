"""Background training jobs on a small worker pool shared by every user of one server.

A job trains one or more runs (an AE+VAE pair, a beta sweep) and saves each to ``checkpoints/``
as it ends. The pool runs at most ``max_workers`` jobs at once; the rest wait in a visible FIFO
queue. Workers touch no UI: each job is a plain object whose ``records`` lists grow while the UI
polls them, and whose ``stop`` event a Stop button sets. Closing the browser does not lose work:
the job finishes and saves for everyone.
"""
from __future__ import annotations

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
from .train import Record, train

DEFAULT_WORKERS = 2  # this is a 2-core machine class; more would only slow every job down


@dataclass(frozen=True)
class RunSpec:
    """One model to train inside a job, and the name to save it under."""

    name: str
    model_config: ModelConfig
    train_config: TrainConfig


@dataclass
class Job:
    """A queued or running training job. Written by one worker thread, read by the UI."""

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
    stop: threading.Event = field(default_factory=threading.Event)
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


def _save(job: Job, spec: RunSpec, end: Record) -> dict[str, Any]:
    """Save a finished/stopped/diverged run; on a name clash (another session) take a free one."""
    name = spec.name
    for attempt in range(3):
        try:
            path = save_run(end["model"], spec.model_config, spec.train_config, end["history"],
                            name, job.root, dataset=job.dataset, status=end["status"],
                            reason=end["reason"], pair=job.pair)
            return {"status": end["status"], "reason": end["reason"], "path": str(path),
                    "name": name, "seconds": end["seconds"]}
        except RunError:
            if attempt == 2:
                raise
            name = unique_run_name(spec.name, job.root)
    raise AssertionError("unreachable")


def run_job(job: Job, dataset: ImageDataset) -> None:
    """Train every run of ``job`` on ``dataset`` (in the calling thread) and save each."""
    gens = {spec.name: train(spec.model_config, spec.train_config, dataset, stop=job.stop)
            for spec in job.runs}
    specs = {spec.name: spec for spec in job.runs}
    for name in gens:
        job.records[name] = []
    order = list(gens) if not job.interleave else None
    live = list(gens)
    while live:
        current = live if order is None else live[:1]
        for name in list(current):
            rec = next(gens[name])
            if rec["type"] == "end":
                job.results[name] = _save(job, specs[name], rec)
                live.remove(name)
            else:
                job.records[name].append(rec)


class TrainingPool:
    """A fixed number of worker threads and a FIFO queue of jobs, shared by all sessions."""

    def __init__(self, max_workers: int = DEFAULT_WORKERS,
                 load: Callable[[str], ImageDataset] = load_dataset):
        self.max_workers = max_workers
        self._load = load
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
        job = Job(runs=list(runs), dataset=dataset, root=root, pair=pair, interleave=interleave)
        with self._lock:
            self._jobs.append(job)
        self._executor.submit(self._work, job)
        return job

    def _work(self, job: Job) -> None:
        if job.stop.is_set():  # stopped while still queued: nothing to train or save
            job.state, job.finished = "done", time.time()
            return
        job.state, job.started = "running", time.time()
        try:
            run_job(job, self._load(job.dataset))
            job.state = "done"
        except (DatasetError, RunError, ValueError) as e:
            job.state, job.error = "failed", str(e)
        except Exception as e:  # keep the worker alive and tell the user what broke
            job.state = "failed"
            job.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
        finally:
            job.finished = time.time()

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


QUICK_PAIR_EPOCHS = 100
QUICK_PAIR_HIDDEN = (128, 64)  # 256-128 scored alike and doubles the shipped demo's size
QUICK_PAIR_BATCH = 64
QUICK_PAIR_LR = 3e-3


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
