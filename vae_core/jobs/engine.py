"""Training jobs on Dask distributed: what to train (``plan_runs``) and the engine that trains it.

One path for the CLI and the dashboard: ``plan_runs`` turns a mode ("ae", "vae", "pair",
"sweep") into ``RunSpec``s, and ``TrainingEngine.submit`` queues them as one ``Job``. The engine
runs on a Dask cluster: by default a ``LocalCluster`` it starts itself (worker processes with one
thread each, torch pinned to one thread), or an existing scheduler given by address
(``VAE_LAB_SCHEDULER`` / ``--scheduler``). Workers only compute: they stream progress records
back as Dask events (``Worker.log_event``, about four batches a second) and return each run's
weights as safetensors bytes plus its history; the engine, in this process, saves the run
(``runs.save_run``, atomic), so workers need no shared disk. Stop and the per-job time limit reach
the worker through a ``distributed.Event`` it polls between steps; a job that ignores them (blocked
reading a FIFO, say) is cancelled after a grace period and its worker restarted.

Fair sharing lives here, not in the UI: one active job per ``owner``, a cap on waiting jobs, a
FIFO whose positions and ETAs the pages show, finished jobs forgotten after a while. Every engine
thread is plain Python: nothing here calls Streamlit.

Data: "digits" is bundled and loads on any worker; "mnist"/"fashion-mnist" load from the worker's
``VAE_LAB_DATA`` folder (else the app's data root); an ``idx:`` folder is read by this process and
its tensors shipped to the worker (``client.scatter``), so uploaded files need not exist there.
"""
from __future__ import annotations

import functools
import heapq
import logging
import os
import queue as queue_module
import threading
import time
import uuid
import weakref
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable

from vae_core.analysis import outcomes
from vae_core.config import ModelConfig, TrainConfig, env_number
from vae_core.data import DIGITS, NAMED_DATASETS, ImageDataset, as_float_images, load_dataset
from vae_core.store.runs import (MAX_OWNER_CHARS, RunError, save_run, unique_run_name,
                                 validate_run_name)
from vae_core.store.validate import text as validate_text

if TYPE_CHECKING:  # torch-using modules are imported where a job runs: pages import this without torch
    from vae_core.train import Record

log = logging.getLogger(__name__)

SCHEDULER_ENV = "VAE_LAB_SCHEDULER"  # tcp:// or tls://host:port of an existing Dask scheduler
WORKERS_ENV = "VAE_LAB_WORKERS"  # size of the embedded LocalCluster
TIME_LIMIT_ENV = "VAE_LAB_TIME_LIMIT"  # seconds per job
MAX_QUEUED_ENV = "VAE_LAB_MAX_QUEUED"
MAX_PER_CLIENT_ENV = "VAE_LAB_MAX_PER_CLIENT"  # active jobs per client address (all its tabs)
MAX_JOB_RUNS_ENV = "VAE_LAB_MAX_JOB_RUNS"  # models per job (a sweep's betas)
MAX_JOB_EPOCHS_ENV = "VAE_LAB_MAX_JOB_EPOCHS"  # epochs per job, summed over its models
ORPHAN_GRACE_ENV = "VAE_LAB_ORPHAN_GRACE"  # seconds a closed tab's job keeps training
DEFAULT_TIME_LIMIT_S = 15 * 60.0  # a big MNIST conv job on a laptop fits; a runaway one ends
DEFAULT_GRACE_S = 30.0  # a stop is seen between steps; an MNIST test pass can take seconds
DEFAULT_MAX_QUEUED = 64  # a class of 60, one job each, plus a few CLI jobs
# The dashboard's limits (the CLI has none): two tabs per computer may train at once; a sweep of
# 16 betas; the default sweep (7 x 100 epochs) and a long MNIST pair fit under 2,000 epochs.
DEFAULT_MAX_PER_CLIENT = 2
DEFAULT_MAX_JOB_RUNS = 16
DEFAULT_MAX_JOB_EPOCHS = 2000
ORPHAN_GRACE_S = 60.0  # a closed tab's job is stopped this long after its session ended
KEEP_FINISHED_S = 600.0  # finished jobs are forgotten by the engine after this
RECORD_INTERVAL_S = 0.25  # progress batches per second per job: 4 (pages redraw at 2)
STOP_POLL_S = 0.2  # how often a worker asks the scheduler whether its job was stopped
RECONNECT_S = 5.0
PACK_CHUNK = 4096  # images converted at a time when a data set is packed for the workers
MODES = ("ae", "vae", "pair", "sweep")  # one AE, one VAE, a fair AE+VAE pair, a beta sweep
DEFAULT_SWEEP_BETAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class EngineError(RuntimeError):
    """A job the engine refuses or cannot run; the message is meant for the user."""


class OwnerBusyError(EngineError):
    """The owner (a browser session) already has a queued or running job."""


class QueueFullError(EngineError):
    """Too many jobs wait already; try again in a minute."""


class ClientBusyError(EngineError):
    """The client (a computer, whatever its number of tabs) has its limit of active jobs."""


class JobTooBigError(EngineError):
    """More models or epochs than this engine's per-job limits."""


def check_scheduler_address(address: str) -> str:
    """``address`` if it reads as ``tcp://HOST:PORT`` or ``tls://HOST:PORT``, else ``EngineError``
    (a Dask ``Client`` given anything else waits 20 s in its finaliser, then prints a traceback)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        scheme, location = parse_address(address, strict=True)
        parse_host_port(location)
    except (ValueError, TypeError) as e:
        raise EngineError(f"not a Dask scheduler address: {address!r} ({e}); use "
                          "tcp://HOST:PORT or tls://HOST:PORT") from None
    if scheme not in ("tcp", "tls"):
        raise EngineError(f"not a Dask scheduler address: {address!r}; use tcp://HOST:PORT or "
                          "tls://HOST:PORT")
    return address


class EngineUnavailable(EngineError):
    """The Dask cluster cannot be reached (or is still starting and failed)."""


@dataclass(frozen=True)
class RunSpec:
    """One model to train inside a job, and the name to save it under."""

    name: str
    model_config: ModelConfig
    train_config: TrainConfig


# --- what to train: one planner for the CLI and the dashboard ---------------------------------

def parse_betas(text: str) -> list[float]:
    """"0, 0.25, 1" -> [0.0, 0.25, 1.0]; raises ValueError with a message for the user."""
    try:
        betas = [float(t) for t in text.replace(";", ",").split(",") if t.strip()]
    except ValueError:
        raise ValueError(outcomes.render(outcomes.BETAS_NOT_NUMBERS, text=text)) from None
    if not betas or any(not 0 <= b < float("inf") for b in betas):
        raise ValueError(outcomes.render(outcomes.BETAS_NONE))
    if len(set(betas)) != len(betas):
        raise ValueError(outcomes.render(outcomes.BETAS_REPEATED))
    return betas


def plan_runs(mode: str, name: str, model_cfg: ModelConfig, train_cfg: TrainConfig,
              betas: Iterable[float] = ()) -> tuple[list[RunSpec], str | None]:
    """The runs of one job and the group they are saved under (None for a single run).

    "ae"/"vae": one run named ``name``. "pair": ``name-ae`` and ``name-vae`` with the same seed,
    data and architecture (the only difference is the bottleneck). "sweep": one VAE per beta
    named ``name-b<beta>`` (``metrics.sweep_run_name``), grouped under ``name``.
    """
    from vae_core.analysis.metrics import sweep_run_name

    if mode in ("ae", "vae"):
        return [RunSpec(name, model_cfg.with_kind(mode), train_cfg)], None
    if mode == "pair":
        return [RunSpec(f"{name}-ae", model_cfg.with_kind("ae"), train_cfg),
                RunSpec(f"{name}-vae", model_cfg.with_kind("vae"), train_cfg)], name
    if mode == "sweep":
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
                     epochs: int = QUICK_PAIR_EPOCHS, latent_dim: int = 2) -> list[RunSpec]:
    """The one-click AE+VAE pair (``NAME-ae``, ``NAME-vae``): latent 2 (the remote control's
    button: 8), same seed and net.

    Measured on the 2-core CPU with digits: about 3 s per model, final VAE test KL 2.71 nats
    (latent 8: 3.27). These specs are the shipped demo pairs' (``train --kind pair``): they
    reproduce their weights exactly. Fewer epochs (or beta=1 with a smaller lr) leave the 2-D VAE
    briefly collapsed (KL near 0) and its latent map looks like noise.
    """
    cfg = ModelConfig(kind="vae", latent_dim=latent_dim, arch="mlp", hidden=QUICK_PAIR_HIDDEN,
                      input_shape=image_shape)
    tcfg = TrainConfig(epochs=epochs, batch_size=QUICK_PAIR_BATCH, lr=QUICK_PAIR_LR, beta=1.0,
                       seed=0)
    return plan_runs("pair", name, cfg, tcfg)[0]


# --- the job the pages poll ---------------------------------------------------------------------

class StopRequest:
    """The Stop button's flag: ``set()`` is local and instant (the engine forwards it to the
    worker), ``is_set()`` never touches the network, so a page can poll it freely."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.at: float | None = None  # monotonic time of the request
        self.reason = ""  # why, when not the user's own Stop (the teacher, a closed tab)

    def set(self, reason: str = "") -> None:
        if not self._event.is_set():
            self.at = time.monotonic()
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass(eq=False)  # compared by identity: the queue looks jobs up with list.index
class Job:
    """One submitted job. Written by the engine's thread only, read by pages and the CLI."""

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


# --- the worker side: runs inside a Dask worker process -----------------------------------------

def _warm_plugin() -> Any:
    """A worker plugin: import torch and vae_core, pin torch to one thread (one task thread per
    worker process already; more would only oversubscribe the cores) and train a tiny model on
    the digits once, so a job's first record comes within a second of its submission. Built
    here so that importing this module does not import distributed (the CLI's --help stays quick)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmWorker(WorkerPlugin):
        name = "vae-lab-warm"
        idempotent = True  # registered by every engine; set up once per worker process

        def setup(self, worker: Any) -> None:
            _warm_up()

    return WarmWorker()


def _warm_up() -> float:
    t0 = time.perf_counter()
    import torch

    from vae_core.train import run_to_end, train

    torch.set_num_threads(1)
    data = _worker_dataset(DIGITS, "data")
    tiny = ModelConfig(kind="vae", latent_dim=2, hidden=(8,), input_shape=data.image_shape)
    small = ImageDataset(data.name, data.train_x[:64], data.train_y[:64], data.test_x[:16],
                         data.test_y[:16], data.class_names)
    run_to_end(train(tiny, TrainConfig(epochs=1, batch_size=64), small))  # first-call costs
    return time.perf_counter() - t0


@functools.lru_cache(maxsize=2)
def _worker_dataset(spec: str, data_root: str) -> ImageDataset:
    """Named data sets only (not idx: folders, whose files may change under the same name)."""
    return load_dataset(spec, root=os.environ.get("VAE_LAB_DATA", data_root))


def _pack_dataset(data: ImageDataset) -> dict[str, Any]:
    """Plain numpy arrays for shipping (uint8 when exact: IDX pixels are k/255)."""
    payload: dict[str, Any] = {"name": data.name, "class_names": list(data.class_names),
                               "note": data.described()}
    import torch

    for key in ("train_x", "test_x"):
        x = getattr(data, key)
        x8 = torch.empty(x.shape, dtype=torch.uint8)
        exact = True
        for i in range(0, len(x), PACK_CHUNK):  # float temporaries of one chunk, not the whole set
            chunk = x[i:i + PACK_CHUNK]
            x8[i:i + PACK_CHUNK] = (chunk * 255).round_().clamp_(0, 255)
            exact = exact and bool((x8[i:i + PACK_CHUNK].float().div_(255) == chunk).all())
            if not exact:
                break
        payload[key] = (x8 if exact else x).numpy()
    payload["train_y"], payload["test_y"] = data.train_y.numpy(), data.test_y.numpy()
    return payload


def _unpack_dataset(payload: dict[str, Any]) -> ImageDataset:
    """The shipped data set; uint8 training images stay uint8 (a quarter of float32's memory on
    the worker): ``train`` turns each batch into floats (``data.as_float_images``)."""
    import numpy as np
    import torch

    def images(a: np.ndarray, keep_uint8: bool = False) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t if keep_uint8 and t.dtype == torch.uint8 else as_float_images(t)

    return ImageDataset(payload["name"], images(payload["train_x"], keep_uint8=True),
                        torch.from_numpy(payload["train_y"]).long(), images(payload["test_x"]),
                        torch.from_numpy(payload["test_y"]).long(),
                        tuple(payload["class_names"]), payload["note"])


class _WorkerStop:
    """The stop flag a worker's training loop polls: the job's ``distributed.Event`` (asked at
    most every ``STOP_POLL_S``) or the job's deadline on the worker's own clock."""

    def __init__(self, event_name: str, seconds_left: float | None):
        self.event_name = event_name
        self.deadline = None if seconds_left is None else time.monotonic() + seconds_left
        self.timed_out = False
        self._stopped = False
        self._event: Any = None
        self._last = time.monotonic()  # the first ask waits one interval: the first record first

    def is_set(self) -> bool:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            self.timed_out = True
            return True
        if not self._stopped and now - self._last >= STOP_POLL_S:
            self._last = now
            try:
                if self._event is None:
                    from distributed import Event

                    self._event = Event(self.event_name)
                self._stopped = self._event.is_set()
            except Exception:  # the scheduler is gone: nothing could be delivered anyway
                self._stopped = True
        return self._stopped


class _Progress:
    """Batches a job's records and sends them as Dask events, at most every RECORD_INTERVAL_S
    (the first at once, so the first point of a curve shows up immediately)."""

    def __init__(self, worker: Any, topic: str, job_id: str, stage: int):
        self.worker, self.topic, self.job_id, self.stage = worker, topic, job_id, stage
        self.buffer: dict[str, list[Record]] = {}
        self.last = 0.0

    def send(self, kind: str, **msg: Any) -> None:
        self.worker.log_event(self.topic, {"job": self.job_id, "stage": self.stage, "kind": kind,
                                           **msg})

    def add(self, run: str, rec: Record) -> None:
        self.buffer.setdefault(run, []).append(rec)
        if time.monotonic() - self.last >= RECORD_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.send("records", records=self.buffer)
            self.buffer = {}
        self.last = time.monotonic()


def train_stage(job_id: str, stage: int, topic: str, stop_event: str, specs: list[RunSpec],
                dataset_spec: str, data_root: str, shipped: dict[str, Any] | None,
                interleave: bool, seconds_left: float | None) -> dict[str, Any]:
    """A Dask task: train ``specs`` (in turn, step by step, when ``interleave``), streaming
    records to ``topic``; return per run its status, reason, history and safetensors weights."""
    from distributed import get_worker
    from safetensors.torch import save

    from vae_core.store.replay import pack_snapshots
    from vae_core.train import train

    worker = get_worker()
    progress = _Progress(worker, topic, job_id, stage)
    progress.send("start", worker=worker.address)  # before loading data: a hang there is visible
    data = _unpack_dataset(shipped) if shipped is not None else _worker_dataset(dataset_spec,
                                                                               data_root)
    stop = _WorkerStop(stop_event, seconds_left)
    gens = {s.name: train(s.model_config, s.train_config, data, stop=stop) for s in specs}
    live, out = list(gens), {}
    while live:
        for name in list(live if interleave else live[:1]):
            rec = next(gens[name])
            if rec["type"] != "end":
                progress.add(name, rec)
                continue
            live.remove(name)
            reason = rec["reason"]
            if stop.timed_out and rec["status"] == "stopped":
                reason = outcomes.render(outcomes.STOPPED_AT_TIME_LIMIT, seconds=seconds_left,
                                         step=rec["step"])
            model = rec.pop("model")
            snapshots = pack_snapshots(rec.pop("snapshots", None) or [])
            out[name] = {key: rec[key] for key in rec if key != "type"} | {
                "reason": reason, "weights": save(model.state_dict()), "snapshots": snapshots}
    progress.flush()
    return {"worker": worker.address, "runs": out}


# --- the engine: this process's side --------------------------------------------------------------

def _names(job: Job) -> set[str]:
    """The run and group names ``job`` will save."""
    return {r.name for r in job.runs} | ({job.group} if job.group else set())


_LOCAL_LOCK = threading.Lock()
_LOCAL: dict[str, Any] = {}  # "cluster": the embedded LocalCluster, one per process


def _spawn_workers_without_main() -> None:
    """Streamlit runs each page as a fake ``__main__`` module (``__file__`` = the page script) and
    leaves it installed, and a spawned process re-runs ``__main__``'s file: every worker started
    (or restarted) by the Nanny would run a page script, call st.* without a session and try to
    start its own cluster. Dask worker processes need nothing from ``__main__`` (tasks live in
    vae_core.jobs.engine), so their preparation data drops it; other processes are untouched."""
    import multiprocessing.spawn as spawn

    if getattr(spawn.get_preparation_data, "vae_lab", False):
        return
    original = spawn.get_preparation_data

    def get_preparation_data(name: str) -> dict[str, Any]:
        data = original(name)
        if str(name).startswith("Dask Worker process"):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    get_preparation_data.vae_lab = True  # type: ignore[attr-defined]
    spawn.get_preparation_data = get_preparation_data


def local_cluster(n_workers: int | None = None) -> Any:
    """The process's embedded ``LocalCluster``, started on first use with ``n_workers`` worker
    processes (later calls get the same cluster, whatever size they ask for): every engine of a
    process (the dashboard's, one per cleared cache, a test's) shares these warm workers."""
    import dask
    from distributed import LocalCluster, Security

    with _LOCAL_LOCK:
        cluster = _LOCAL.get("cluster")
        if cluster is not None and cluster.status.name == "running":
            return cluster
        _spawn_workers_without_main()
        with dask.config.set({
                # a dead worker fails its job at once (not silently retried elsewhere)
                "distributed.scheduler.allowed-failures": 0,
                # progress events the scheduler keeps (all topics), not 100,000
                "distributed.admin.low-level-log-length": 2000,
                "distributed.scheduler.worker-saturation": 1.0}):
            # TLS with a throw-away certificate held in memory: without it any local account
            # could connect to the scheduler and run code in this process and on the workers.
            cluster = LocalCluster(n_workers=n_workers or default_local_workers(),
                                   threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=logging.ERROR,
                                   security=Security.temporary())
        _LOCAL["cluster"] = cluster
        return cluster


def local_cluster_running() -> bool:
    cluster = _LOCAL.get("cluster")
    return cluster is not None and cluster.status.name == "running"


def close_local_cluster() -> None:
    """End the embedded cluster (the CLI at exit, test fixtures); the next use starts anew."""
    with _LOCAL_LOCK:
        cluster = _LOCAL.pop("cluster", None)
    if cluster is not None:
        cluster.close()


def default_local_workers() -> int:
    """Worker processes of the embedded cluster: one core stays free for the server's own page
    threads (encoding, drawing); a 2-core laptop gets one worker. ``VAE_LAB_WORKERS`` overrides."""
    return env_number(WORKERS_ENV, max(1, min(8, (os.cpu_count() or 1) - 1)), 1, 256, integer=True)


@dataclass
class _Flight:
    """A job on the cluster: its current stage's future and the bookkeeping around it."""

    job: Job
    stages: list[list[RunSpec]]
    stage: int = 0
    future: Any = None
    event_name: str = ""
    starts: int = 0  # "start" messages of this stage: a second means the first worker died
    stop_sent: bool = False
    end_asked: float | None = None  # monotonic time a stop or the time limit was due
    deadline: float | None = None  # monotonic end of the job's time limit
    shipped: dict[str, Any] | None = None  # an idx: data set's arrays, for every stage
    abandoned: bool = False


class TrainingEngine:
    """Queues jobs and trains them on a Dask cluster; see the module docstring.

    ``scheduler``: "tcp://host:port" or "tls://host:port" of an existing cluster (``security``: a
    ``distributed.Security`` with the certificates; None reads Dask's own configuration, e.g.
    ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``), or None for an embedded TLS ``LocalCluster`` of
    ``n_workers`` processes (started in the background at construction; jobs submitted meanwhile
    wait in the queue). Limits, None = none: ``max_per_client`` active jobs per client address,
    ``max_runs`` models and ``max_job_epochs`` epochs (summed over its models) per job. A job
    submitted with ``alive`` is stopped ``orphan_grace_s`` after ``alive()`` turns False (its
    browser tab closed). Thread-safe; pages call it from many sessions.
    """

    def __init__(self, scheduler: str | None = None, *, n_workers: int | None = None,
                 data_root: str = "data", time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
                 grace_s: float = DEFAULT_GRACE_S, max_queued: int = DEFAULT_MAX_QUEUED,
                 keep_finished_s: float = KEEP_FINISHED_S, security: Any = None,
                 max_per_client: int | None = None, max_runs: int | None = None,
                 max_job_epochs: int | None = None, orphan_grace_s: float = ORPHAN_GRACE_S):
        self.scheduler = scheduler
        self.security = security
        self.max_per_client, self.max_runs = max_per_client, max_runs
        self.max_job_epochs, self.orphan_grace_s = max_job_epochs, orphan_grace_s
        self._gone_since: dict[str, float] = {}  # job id -> monotonic time its session was gone
        self.n_workers = n_workers or default_local_workers()
        self.data_root = str(data_root)
        self.time_limit_s = time_limit_s
        self.grace_s = grace_s
        self.max_queued = max_queued
        self.keep_finished_s = keep_finished_s
        self.topic = f"vae-lab-{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._pending: deque[Job] = deque()  # FIFO, not yet on the cluster
        self._jobs: list[Job] = []  # every job not yet pruned
        self._flights: dict[str, _Flight] = {}  # job id -> flight (engine thread only)
        self._inbox: queue_module.SimpleQueue = queue_module.SimpleQueue()
        self._durations: deque[float] = deque(maxlen=20)
        self._capacity = 0
        self._workers: list[str] = []  # worker addresses, as of the last refresh
        self._restarting: set[str] = set()  # workers restarted after a blocked job
        self._state, self._message = "starting", outcomes.render(outcomes.ENGINE_STARTING)
        self._address: str | None = scheduler
        self._client: Any = None
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vae-engine", daemon=True)
        self._thread.start()

    @classmethod
    def from_env(cls, data_root: str = "data") -> "TrainingEngine":
        """The dashboard's engine: ``VAE_LAB_SCHEDULER``, ``VAE_LAB_WORKERS``,
        ``VAE_LAB_TIME_LIMIT`` (seconds, 0 = none), ``VAE_LAB_MAX_QUEUED``,
        ``VAE_LAB_MAX_PER_CLIENT``, ``VAE_LAB_MAX_JOB_RUNS``, ``VAE_LAB_MAX_JOB_EPOCHS`` and
        ``VAE_LAB_ORPHAN_GRACE`` from the env (a bad value is logged and the default used: ``config.env_number``)."""
        limit = env_number(TIME_LIMIT_ENV, DEFAULT_TIME_LIMIT_S, 0, 7 * 24 * 3600)
        return cls(os.environ.get(SCHEDULER_ENV) or None, data_root=data_root,
                   time_limit_s=limit or None,
                   max_queued=env_number(MAX_QUEUED_ENV, DEFAULT_MAX_QUEUED, 0, 100_000,
                                         integer=True),
                   max_per_client=env_number(MAX_PER_CLIENT_ENV, DEFAULT_MAX_PER_CLIENT, 1,
                                             1000, integer=True),
                   max_runs=env_number(MAX_JOB_RUNS_ENV, DEFAULT_MAX_JOB_RUNS, 1, 1000,
                                       integer=True),
                   max_job_epochs=env_number(MAX_JOB_EPOCHS_ENV, DEFAULT_MAX_JOB_EPOCHS, 1,
                                             10_000_000, integer=True),
                   orphan_grace_s=env_number(ORPHAN_GRACE_ENV, ORPHAN_GRACE_S, 0, 24 * 3600))

    # -- what pages and the CLI call -----------------------------------------------------------

    def submit(self, runs: list[RunSpec], dataset: str, root: str = "checkpoints",
               group: str | None = None, interleave: bool = True, *, owner: str | None = None,
               data: ImageDataset | None = None, time_limit_s: float | None | str = "default",
               overwrite: bool = False, ship_data: bool = True, client: str | None = None,
               alive: Any = None) -> Job:
        """Queue a job and return it at once. Names are validated now. ``owner`` (an opaque
        token of a browser session, saved in the runs' run.json)
        may have one active job (``OwnerBusyError``); at most ``max_queued`` jobs wait
        (``QueueFullError``); ``EngineUnavailable`` while the cluster cannot be reached.
        A data set other than the named ones (digits, mnist, fashion-mnist), i.e. an IDX folder,
        is read here (or taken from ``data``) and its tensors shipped to the worker, unless
        ``ship_data`` is False (every worker sees the same path). ``time_limit_s``: seconds, None
        for no limit, default the engine's. On a name clash at save time the run takes a free
        name, unless ``overwrite``. ``client``: the submitting computer's address, at most
        ``max_per_client`` active jobs each (``ClientBusyError``); ``alive``: see the class. A run
        or group name that an active job of the same folder will save is refused (two sessions
        choosing one name at once would mix their runs in one group)."""
        if not runs:
            raise ValueError("a job needs at least one run")
        epochs = sum(r.train_config.epochs for r in runs)
        if self.max_runs is not None and len(runs) > self.max_runs:
            raise JobTooBigError(outcomes.render(outcomes.JOB_TOO_MANY_RUNS, limit=self.max_runs,
                                                 runs=len(runs)))
        if self.max_job_epochs is not None and epochs > self.max_job_epochs:
            raise JobTooBigError(outcomes.render(outcomes.JOB_TOO_MANY_EPOCHS,
                                                 limit=self.max_job_epochs, epochs=epochs))
        for spec in runs:
            validate_run_name(spec.name)
        if owner is not None:
            validate_text(owner, "owner", MAX_OWNER_CHARS)
        if len({s.name for s in runs}) != len(runs):
            raise ValueError("run names inside one job must differ")
        limit = self.time_limit_s if time_limit_s == "default" else time_limit_s
        job = Job(runs=list(runs), dataset=dataset, root=str(root), group=group,
                  interleave=interleave, owner=owner, client=client, alive=alive,
                  time_limit_s=limit, overwrite=overwrite, _engine=weakref.ref(self))
        shipped = None
        if ship_data and dataset.strip().lower() not in NAMED_DATASETS:
            shipped = _pack_dataset(data or load_dataset(dataset, root=self.data_root))
        with self._lock:
            if self._state == "unavailable":
                raise EngineUnavailable(self._message)
            active = [j for j in self._jobs if j.active]
            if owner is not None and any(j.owner == owner for j in active):
                raise OwnerBusyError(outcomes.render(outcomes.OWNER_BUSY))
            mine = sum(j.client == client for j in active) if client is not None else 0
            if self.max_per_client is not None and mine >= self.max_per_client:
                raise ClientBusyError(outcomes.render(outcomes.CLIENT_BUSY, jobs=mine,
                                                      limit=self.max_per_client))
            clash = _names(job) & set().union(*(_names(j) for j in active if j.root == job.root))
            if clash:
                raise EngineError(outcomes.render(outcomes.NAME_IN_TRAINING, name=min(clash)))
            if len(self._pending) >= self.max_queued:
                raise QueueFullError(outcomes.render(outcomes.QUEUE_FULL, waiting=self.max_queued))
            # The flight exists before the job is visible in the queue to the engine thread.
            self._flights[job.id] = _Flight(job, [list(job.runs)] if job.interleave
                                            else [[r] for r in job.runs], shipped=shipped)
            self._jobs.append(job)
            self._pending.append(job)
        self._inbox.put(("wake",))  # dispatch now, not at the next tick
        return job

    @property
    def max_workers(self) -> int:
        """Jobs that can train at once (worker threads on the cluster; before it is up, the
        embedded cluster's planned size)."""
        return self._capacity or (self.n_workers if self.scheduler is None else 0)

    def counts(self) -> dict[str, int]:
        with self._lock:
            jobs = list(self._jobs)
        return {"running": sum(j.state == "running" for j in jobs),
                "queued": sum(j.state == "queued" for j in jobs)}

    def queue_position(self, job: Job) -> int:
        """How many jobs wait ahead of ``job`` (0 when it runs or is next)."""
        with self._lock:
            return self._pending.index(job) if job in self._pending else 0

    def queue_eta(self, job: Job) -> float | None:
        """Seconds until ``job`` finishes if queued: each worker frees when its job's pace says
        so, the jobs ahead take the mean of recent job durations each, then ``job`` does."""
        with self._lock:
            if not self._durations or job not in self._pending:
                return None
            mean = sum(self._durations) / len(self._durations)
            ahead = self._pending.index(job)
            running = [j for j in self._jobs if j.state == "running"]
        slots = max(1, self.max_workers)
        free = [min(mean, j.eta() or mean) for j in running][:slots]
        free += [0.0] * (slots - len(free))
        heapq.heapify(free)
        for _ in range(ahead):
            heapq.heappush(free, heapq.heappop(free) + mean)
        return heapq.heappop(free) + mean

    def recent_duration(self) -> float | None:
        """Mean seconds from a worker's start to the saved runs over the last jobs finished here
        (None before the first): a measured duration a page can promise."""
        with self._lock:
            return sum(self._durations) / len(self._durations) if self._durations else None

    def status(self) -> EngineStatus:
        return EngineStatus(self._state, self._message, self.max_workers, self._address)

    def jobs(self) -> list[Job]:
        """Every job not yet forgotten, oldest first (the teacher's view)."""
        with self._lock:
            return list(self._jobs)

    def cancel(self, job_id: str, reason: str = outcomes.render(outcomes.STOPPED_BY_TEACHER)) -> bool:
        """Stop the active job ``job_id`` (what was trained is kept), saying ``reason``; False
        when no such job is active."""
        with self._lock:
            job = next((j for j in self._jobs if j.id == job_id and j.active), None)
        if job is None:
            return False
        job.stop.set(reason)
        self._inbox.put(("wake",))
        return True

    def shutdown(self, wait: bool = True) -> None:
        """Stop every job and close this engine's client (the process's embedded cluster stays
        up for other engines: ``close_local_cluster`` ends it)."""
        with self._lock:
            for job in self._jobs:
                job.stop.set()
        self._closing.set()
        if wait:
            self._thread.join(timeout=60)

    # -- the engine thread ----------------------------------------------------------------------

    def _loop(self) -> None:
        next_connect = 0.0
        next_info = 0.0
        while not self._closing.is_set():
            try:
                if self._client is None and time.monotonic() >= next_connect:
                    if not self._connect():
                        next_connect = time.monotonic() + RECONNECT_S
                try:
                    item = self._inbox.get(timeout=0.1)
                except queue_module.Empty:
                    item = None
                while item is not None:
                    self._handle(item)
                    try:
                        item = self._inbox.get_nowait()
                    except queue_module.Empty:
                        item = None
                self._stop_orphans()
                self._drop_stopped()
                if self._client is not None:
                    if self._client.status not in ("running", "newly-created"):
                        self._lost_scheduler()
                        next_connect = time.monotonic() + RECONNECT_S
                        continue
                    if time.monotonic() >= next_info:  # often only while there is work
                        self._refresh_capacity()
                        busy = self._flights or self._pending
                        next_info = time.monotonic() + (1.0 if busy else 10.0)
                    self._check_flights()
                    self._dispatch()
                self._prune()
            except Exception:  # the engine thread must survive anything a job or Dask throws
                log.exception("training engine loop")
                time.sleep(0.5)
        self._close()

    def _connect(self) -> bool:
        from distributed import Client

        try:
            if self.scheduler is None:
                cluster = local_cluster(self.n_workers)
                self._address = cluster.scheduler_address
                self._client = Client(cluster, set_as_default=False)  # the cluster's certificate
            else:
                check_scheduler_address(self.scheduler)
                self._client = Client(self.scheduler, set_as_default=False, timeout=10,
                                      security=self.security)
            self._client.subscribe_topic(self.topic, lambda event: self._inbox.put(("event",
                                                                                    event[1])))
            self._client.register_plugin(_warm_plugin())
            self._refresh_capacity()
            self._state = "ready"
            self._message = outcomes.render(outcomes.ENGINE_READY, workers=self.max_workers,
                                            address=self._address)
            return True
        except Exception as e:
            self._close()
            self._state = "unavailable"
            what = (outcomes.render(outcomes.SCHEDULER_UNREACHABLE, address=self.scheduler)
                    if self.scheduler else outcomes.render(outcomes.LOCAL_WORKERS_FAILED))
            self._message = outcomes.render(outcomes.ENGINE_UNAVAILABLE, what=what,
                                            error=f"{type(e).__name__}: {e}", seconds=RECONNECT_S)
            return False

    def _refresh_capacity(self) -> None:
        try:
            workers = self._client.scheduler_info(n_workers=-1)["workers"]
            self._workers = list(workers)
            self._capacity = sum(int(w.get("nthreads", 1)) for w in workers.values())
        except Exception:
            return
        if self._state == "ready":
            self._message = (outcomes.render(outcomes.ENGINE_READY, workers=self._capacity,
                                             address=self._address)
                             if self._capacity else outcomes.render(outcomes.ENGINE_NO_WORKERS))

    def _lost_scheduler(self) -> None:
        where = self._address or self.scheduler
        for flight in [f for f in self._flights.values() if f.future is not None]:
            self._finish(flight, "failed", outcomes.render(outcomes.JOB_LOST_SCHEDULER,
                                                           address=where))
        self._close()
        self._state = "unavailable"
        self._message = outcomes.render(outcomes.SCHEDULER_GONE, address=where,
                                        seconds=RECONNECT_S)

    def _close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
        self._client = None
        self._capacity = 0
        self._restarting.clear()

    def _handle(self, item: tuple) -> None:
        if item[0] == "restarted":
            self._restarting.discard(item[1])
            if self._client is not None:
                self._refresh_capacity()
            return
        if item[0] != "event":
            return
        msg = item[1]
        flight = self._flights.get(msg.get("job"))
        if flight is None or flight.abandoned or msg.get("stage") != flight.stage:
            return
        job = flight.job
        if msg["kind"] == "start":
            flight.starts += 1
            job.worker = msg["worker"]
            if job.state == "queued":
                job.started = time.time()
                for spec in job.runs:
                    job.records.setdefault(spec.name, [])
                job.state = "running"
        elif msg["kind"] == "records" and flight.starts == 1:
            for name, recs in msg["records"].items():
                job.records.setdefault(name, []).extend(recs)

    def _stop_orphans(self) -> None:
        """Stop the jobs whose browser session ended ``orphan_grace_s`` ago: no one can see or
        stop them any more (a reload starts a new session). What was trained is kept."""
        now = time.monotonic()
        with self._lock:
            watched = [j for j in self._jobs if j.active and j.alive is not None
                       and not j.stop.is_set()]
        for job in watched:
            try:
                alive = bool(job.alive())
            except Exception:  # a broken check must not stop anyone's job
                alive = True
            if alive:
                self._gone_since.pop(job.id, None)
                continue
            since = self._gone_since.setdefault(job.id, now)
            if now - since >= self.orphan_grace_s:
                job.stop.set(outcomes.render(outcomes.STOPPED_SESSION_GONE, seconds=now - since))
                self._gone_since.pop(job.id, None)

    def _drop_stopped(self) -> None:
        """Waiting jobs that were stopped end now (nothing to train or save)."""
        with self._lock:
            stopped = [j for j in self._pending if j.stop.is_set()]
            for job in stopped:
                self._pending.remove(job)
        for job in stopped:
            self._finish(self._flights[job.id], "stopped", "")

    def _dispatch(self) -> None:
        """Send waiting jobs to the cluster while it has free worker threads."""
        while True:
            in_flight = (sum(f.future is not None for f in self._flights.values())
                         + len(self._restarting))
            with self._lock:
                if not self._pending or in_flight >= self._capacity:
                    return
                job = self._pending.popleft()
            try:
                self._submit_stage(self._flights[job.id])
            except Exception:
                with self._lock:  # keep its place; the loop reports the error and retries
                    self._pending.appendleft(job)
                raise

    def _submit_stage(self, flight: _Flight) -> None:
        job = flight.job
        if flight.stage == 0:
            flight.event_name = f"vae-lab-stop-{job.id}"
            flight.deadline = (None if job.time_limit_s is None
                               else time.monotonic() + job.time_limit_s)
        left = None if flight.deadline is None else max(0.0, flight.deadline - time.monotonic())
        flight.starts = 0
        healthy = [w for w in self._workers if w not in self._restarting]
        flight.future = self._client.submit(
            train_stage, job.id, flight.stage, self.topic, flight.event_name,
            flight.stages[flight.stage], job.dataset, self.data_root,
            flight.shipped, job.interleave, left,
            key=f"vae-lab-{job.id}-{flight.stage}", pure=False,
            workers=healthy if self._restarting and healthy else None)

    def _check_flights(self) -> None:
        for flight in list(self._flights.values()):
            if flight.future is None:
                continue
            try:
                self._check_flight(flight)
            except Exception as e:  # one job's surprise must not stall the others
                log.exception("training job %s", flight.job.id)
                self._finish(flight, "failed", f"{type(e).__name__}: {e}")

    def _check_flight(self, flight: _Flight) -> None:
        job, now = flight.job, time.monotonic()
        if flight.starts > 1:  # the scheduler retried it elsewhere: its first worker died
            self._finish(flight, "failed", outcomes.render(outcomes.JOB_WORKER_DIED, worker=job.worker))
            self._in_background(self._send_stop, flight.event_name, flight.future)
            return
        if flight.future.done():
            self._stage_done(flight)
            return
        if job.stop.is_set() and not flight.stop_sent:
            flight.stop_sent = True
            flight.end_asked = job.stop.at or now
            self._in_background(self._send_stop, flight.event_name)
        if flight.end_asked is None and flight.deadline is not None and now > flight.deadline:
            flight.end_asked = flight.deadline
        if flight.end_asked is not None and now > flight.end_asked + self.grace_s:
            self._abandon(flight)

    @staticmethod
    def _in_background(fn: Any, *args: Any) -> None:
        """Calls that wait on the scheduler run off the engine thread, which must keep ticking."""
        threading.Thread(target=fn, args=args, daemon=True).start()

    def _send_stop(self, name: str, cancel: Any = None) -> None:
        try:
            from distributed import Event

            Event(name, client=self._client).set()
            if cancel is not None:
                self._client.cancel([cancel])
        except Exception:
            log.warning("could not forward a stop request", exc_info=True)

    def _abandon(self, flight: _Flight) -> None:
        """A job that ignored its stop or time limit for ``grace_s``: cancel it and restart its
        worker (a thread blocked in a read cannot be interrupted any other way)."""
        job, worker = flight.job, flight.job.worker
        why = outcomes.render(outcomes.BLOCKED_AFTER_STOP if job.stop.is_set()
                              else outcomes.BLOCKED_AFTER_TIME_LIMIT)
        message = outcomes.render(outcomes.JOB_BLOCKED, seconds=self.grace_s, why=why)
        client, future = self._client, flight.future
        self._finish(flight, "failed", message)
        if worker:  # its slot stays taken until the worker is back: no job may land there
            self._restarting.add(worker)

        def restart() -> None:
            try:
                client.cancel([future], force=True)
                if worker:
                    client.restart_workers([worker], timeout=120, raise_for_error=False)
            except Exception:
                log.warning("could not restart worker %s", worker, exc_info=True)
            self._inbox.put(("restarted", worker))

        self._in_background(restart)

    def _stage_done(self, flight: _Flight) -> None:
        job, future = flight.job, flight.future
        from safetensors import SafetensorError
        if future.status == "finished":
            try:
                payload = future.result(timeout=60)
            except Exception as e:
                return self._finish(flight, "failed",
                                    outcomes.render(outcomes.JOB_RESULTS_LOST, error=e))
            for spec in flight.stages[flight.stage]:
                outcome = payload["runs"][spec.name]
                job.records[spec.name] = list(outcome["history"])  # complete, whatever arrived
                try:
                    job.results[spec.name] = self._save(job, spec, outcome, payload["worker"])
                except (RunError, OSError, ValueError, SafetensorError) as e:  # e.g. a full disk
                    return self._finish(flight, "failed", outcomes.render(
                        outcomes.JOB_SAVE_FAILED, name=spec.name, error=e))
            flight.stage += 1
            if flight.stage < len(flight.stages) and not job.stop.is_set() and not any(
                    r["status"] == "stopped" for r in job.results.values()):
                flight.future = None
                self._submit_stage(flight)
                return
            stopped = job.stop.is_set() or any(r["status"] == "stopped"
                                               for r in job.results.values())
            return self._finish(flight, "stopped" if stopped else "finished", "")
        if future.status == "error":
            exc = future.exception()
            from distributed.scheduler import KilledWorker

            if isinstance(exc, KilledWorker):
                message = outcomes.render(outcomes.JOB_WORKER_DIED, worker=job.worker)
            else:
                message = f"{type(exc).__name__}: {exc}"
            return self._finish(flight, "failed", message)
        self._finish(flight, "failed", outcomes.render(outcomes.JOB_CANCELLED))

    def _save(self, job: Job, spec: RunSpec, outcome: dict[str, Any], worker: str) -> dict:
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
        from vae_core.store.replay import unpack_snapshots

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
                                snapshots=unpack_snapshots(outcome.get("snapshots")))
                return summary | {"path": str(path), "name": name}
            except RunError:
                if attempt == 2 or job.overwrite:
                    raise
                name = unique_run_name(spec.name, job.root)
        raise AssertionError("unreachable")

    def _finish(self, flight: _Flight, state: str, error: str) -> None:
        job = flight.job
        flight.abandoned = True
        self._flights.pop(job.id, None)
        self._gone_since.pop(job.id, None)
        job.error = error or (job.stop.reason if state == "stopped" else "")
        job.finished = time.time()
        if job.started is not None and state in ("finished", "stopped") and job.stop.at is None:
            with self._lock:
                self._durations.append(job.finished - job.started)
        job.state = state
        if flight.event_name and flight.stop_sent:
            self._in_background(self._clear_stop, flight.event_name)

    def _clear_stop(self, name: str) -> None:
        try:  # a cleared event with no waiters is deleted on the scheduler
            from distributed import Event

            Event(name, client=self._client).clear()
        except Exception:
            pass

    def _prune(self) -> None:
        cutoff = time.time() - self.keep_finished_s
        with self._lock:
            self._jobs = [j for j in self._jobs if j.active or (j.finished or 0) > cutoff]
