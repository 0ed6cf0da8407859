"""The training engine: ``TrainingEngine.submit`` queues a job (``plan.RunSpec``s) and trains it
on a Dask cluster (``cluster``), with the fair-sharing rules of a classroom server.

Dask does the work and reports back: each stage of a job is one ``client.submit`` of
``worker.train_stage``; its ``Future.add_done_callback`` saves the runs (``runs.save_run``,
atomic, in this process: workers need no shared disk) and submits the next stage or the next
waiting job; progress records arrive as Dask events (``subscribe_topic``); a Stop sets the job's
``distributed.Event`` (sent on the client's own event loop, the worker polls it between steps); a
dead worker fails its task with Dask's ``KilledWorker``; an uploaded data set is sent once per job
(``client.scatter``). A job that ignores its stop or time limit (blocked reading a FIFO, say) is
cancelled after a grace period and its worker restarted.

Fair sharing lives here, not in the UI: one active job per ``owner``, a few per client address,
a cap on waiting jobs, positions and ETAs the pages show, finished jobs forgotten after a while.
The waiting list stays in the engine rather than in Dask's scheduler queue: Dask queues only
"root-ish" task groups larger than the cluster, and only with ``worker-saturation`` 1.0 (a
teacher's scheduler defaults to 1.1: two jobs on a one-thread worker); a job handed to a busy
worker would wait there and die with it. So a job goes to the cluster when a worker thread is free
(one task per thread), and the queue positions the pages show are true. A small watchdog thread
connects, notices a lost scheduler, enforces the grace period and stops a closed tab's job.
Nothing here calls Streamlit.
"""
from __future__ import annotations

import functools
import heapq
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vae_core.analysis import outcomes
from vae_core.config import env_number
from vae_core.data import NAMED_DATASETS, ImageDataset, load_dataset
import vae_core.jobs.cluster as dask_cluster
from vae_core.jobs.job import EngineStatus, Flight, Job, save_lab_outcomes, save_outcome, saved_names
from vae_core.jobs.plan import (
    DEFAULT_GRACE_S, DEFAULT_MAX_JOB_RUNS, DEFAULT_MAX_PER_CLIENT,
    DEFAULT_MAX_QUEUED, DEFAULT_TIME_LIMIT_S, KEEP_FINISHED_S, MAX_JOB_RUNS_ENV,
    MAX_PER_CLIENT_ENV, MAX_QUEUED_ENV, ORPHAN_GRACE_ENV, ORPHAN_GRACE_S, SCHEDULER_ENV,
    TIME_LIMIT_ENV, ClientBusyError, EngineError, EngineUnavailable, JobTooBigError,
    OwnerBusyError, QueueFullError, RunSpec, max_job_epochs)
from vae_core.jobs.watchdog import Watchdog
from vae_core.jobs.worker import pack_dataset, train_stage
from vae_core.store.runs import MAX_OWNER_CHARS, RunError, validate_run_name
from vae_core.store.validate import text as validate_text

log = logging.getLogger(__name__)


async def _quietly(call: Any, **kwargs: Any) -> None:
    """A scheduler call sent from the client's event loop; a lost scheduler is reported elsewhere."""
    try:
        await call(**kwargs)
    except Exception:
        log.debug("scheduler call failed", exc_info=True)


class TrainingEngine(Watchdog):
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
        self.scheduler, self.security = scheduler, security
        self.max_per_client, self.max_runs = max_per_client, max_runs
        self.max_job_epochs, self.orphan_grace_s = max_job_epochs, orphan_grace_s
        self.n_workers = n_workers or dask_cluster.default_local_workers()
        self.data_root = str(data_root)
        self.time_limit_s, self.grace_s = time_limit_s, grace_s
        self.max_queued, self.keep_finished_s = max_queued, keep_finished_s
        self.topic = f"vae-lab-{uuid.uuid4().hex[:8]}"
        self._lock = threading.RLock()
        self._waiting: list[Job] = []  # oldest first, not yet on the cluster
        self._jobs: list[Job] = []  # every job not yet pruned
        self._flights: dict[str, Flight] = {}  # job id -> flight, for every active job
        self._gone_since: dict[str, float] = {}  # job id -> monotonic time its session was gone
        self._durations: deque[float] = deque(maxlen=20)
        self._capacity = 0
        self._workers: list[str] = []  # worker addresses, as of the last refresh
        self._restarting: set[str] = set()  # workers restarted after a blocked job
        self._state, self._message = "starting", outcomes.render(outcomes.ENGINE_STARTING)
        self._address: str | None = scheduler
        self._client: Any = None
        self._restarts = ThreadPoolExecutor(1, thread_name_prefix="vae-engine-restart")
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="vae-engine", daemon=True)
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
                   max_job_epochs=max_job_epochs(),
                   orphan_grace_s=env_number(ORPHAN_GRACE_ENV, ORPHAN_GRACE_S, 0, 24 * 3600))

    # -- what pages and the CLI call -----------------------------------------------------------

    def submit(self, runs: list[RunSpec], dataset: str, root: str = "checkpoints",
               group: str | None = None, interleave: bool = True, *, owner: str | None = None,
               data: ImageDataset | None = None, time_limit_s: float | None | str = "default",
               overwrite: bool = False, ship_data: bool = True, client: str | None = None,
               alive: Any = None, lab_file: str | None = None, lab_base: str | None = None) -> Job:
        """Queue a job and return it at once. Names are validated now. ``owner`` (an opaque
        token of a browser session, saved in the runs' run.json)
        may have one active job (``OwnerBusyError``); at most ``max_queued`` jobs wait
        (``QueueFullError``); ``EngineUnavailable`` while the cluster cannot be reached.
        A data set other than the named ones (digits, mnist, fashion-mnist), i.e. an IDX folder,
        is read here (or taken from ``data``) and its tensors scattered to the cluster, unless
        ``ship_data`` is False (every worker sees the same path). ``time_limit_s``: seconds, None
        for no limit, default the engine's. On a name clash at save time the run takes a free
        name, unless ``overwrite``. ``client``: the submitting computer's address, at most
        ``max_per_client`` active jobs each (``ClientBusyError``); ``alive``: see the class. A run
        or group name that an active job of the same folder will save is refused (two sessions
        choosing one name at once would mix their runs in one group). ``lab_file``: a loss-lab
        job (``lab_results.lab_job_specs``) adds its arms to this results file, made from
        ``lab_base`` if it does not exist yet, instead of saving runs."""
        if not runs:
            raise ValueError("a job needs at least one run")
        if lab_file is not None and not interleave:
            raise ValueError("a lab job trains its arms in one stage (interleave=True)")
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
                  time_limit_s=limit, overwrite=overwrite, lab_file=lab_file, lab_base=lab_base,
                  _engine=weakref.ref(self))
        packed = None
        if ship_data and dataset.strip().lower() not in NAMED_DATASETS:
            packed = pack_dataset(data or load_dataset(dataset, root=self.data_root))
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
            clash = saved_names(job) & set().union(*(saved_names(j) for j in active if j.root == job.root))
            if clash:
                raise EngineError(outcomes.render(outcomes.NAME_IN_TRAINING, name=min(clash)))
            if len(self._waiting) >= self.max_queued:
                raise QueueFullError(outcomes.render(outcomes.QUEUE_FULL, waiting=self.max_queued))
            flight = Flight(job, [list(job.runs)] if job.interleave else [[r] for r in job.runs],
                             packed=packed, event_name=f"vae-lab-stop-{job.id}")
            self._flights[job.id] = flight
            self._jobs.append(job)
            self._waiting.append(job)
        job.stop.listener = functools.partial(self._stop_requested, flight)
        self._dispatch()
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
            return self._waiting.index(job) if job in self._waiting else 0

    def queue_eta(self, job: Job) -> float | None:
        """Seconds until ``job`` finishes if queued: each worker frees when its job's pace says
        so, the jobs ahead take the mean of recent job durations each, then ``job`` does."""
        with self._lock:
            if not self._durations or job not in self._waiting:
                return None
            mean = sum(self._durations) / len(self._durations)
            ahead = self._waiting.index(job)
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
        return True

    def shutdown(self, wait: bool = True) -> None:
        """Stop every job and close this engine's client (the process's embedded cluster stays
        up for other engines: ``close_local_cluster`` ends it)."""
        with self._lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.stop.set()
        self._closing.set()
        if wait:
            self._thread.join(timeout=60)
        self._restarts.shutdown(wait=False)

    # -- Dask's side: dispatch, events, callbacks --------------------------------------------------

    def _dispatch(self) -> None:
        """Send waiting jobs to the cluster while it has free worker threads (called on submit,
        when a job ends, when workers come or come back)."""
        while True:
            with self._lock:
                client, busy = self._client, sum(f.on_cluster for f in self._flights.values())
                if (client is None or not self._waiting
                        or busy + len(self._restarting) >= self._capacity):
                    return
                job = self._waiting.pop(0)
                flight = self._flights[job.id]
                flight.on_cluster = True  # its worker thread is taken from now on
                if job.time_limit_s is not None:
                    flight.deadline = time.monotonic() + job.time_limit_s
            try:
                if flight.packed is not None:  # once per job, whatever its number of stages
                    [flight.data] = client.scatter([flight.packed], hash=False)
                    flight.packed = None
                self._submit_stage(flight, client)
            except Exception as e:  # the scheduler went away meanwhile, say
                self._finish(flight, "failed", f"{type(e).__name__}: {e}")

    def _submit_stage(self, flight: Flight, client: Any) -> None:
        job = flight.job
        left = None if flight.deadline is None else max(0.0, flight.deadline - time.monotonic())
        with self._lock:
            healthy = [w for w in self._workers if w not in self._restarting]
            avoid = bool(self._restarting)
        future = client.submit(
            train_stage, job.id, flight.stage, self.topic, flight.event_name,
            flight.stages[flight.stage], job.dataset, self.data_root, flight.data,
            job.interleave, left, key=f"vae-lab-{job.id}-{flight.stage}", pure=False,
            workers=healthy if avoid and healthy else None)
        flight.future = future
        future.add_done_callback(functools.partial(self._stage_done, flight, flight.stage))

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker's "start" or "records" message (runs on the client's event loop: quick)."""
        msg = event[1]
        with self._lock:
            flight = self._flights.get(msg.get("job"))
            if flight is None or flight.done or msg.get("stage") != flight.stage:
                return
            job = flight.job
            if msg["kind"] == "start":
                job.worker = msg["worker"]
                if flight.started_stage == flight.stage:  # Dask re-ran it (a cluster that
                    for spec in flight.stages[flight.stage]:  # allows failures): from scratch
                        job.records[spec.name] = []
                flight.started_stage = flight.stage
                if job.state == "queued":
                    job.started = time.time()
                    for spec in job.runs:
                        job.records.setdefault(spec.name, [])
                    job.state = "running"
            elif msg["kind"] == "records":
                for name, recs in msg["records"].items():
                    if name not in job.results:
                        job.records.setdefault(name, []).extend(recs)

    def _stop_requested(self, flight: Flight) -> None:
        """``job.stop.set()``: a waiting job ends now; a dispatched one is told through its
        ``distributed.Event`` (sent on the client's event loop: this returns at once)."""
        with self._lock:
            waiting = flight.job in self._waiting
            if waiting:
                self._waiting.remove(flight.job)
            elif flight.end_asked is None:
                flight.end_asked = flight.job.stop.at
            client = self._client
        if waiting:
            self._finish(flight, "stopped", "")
        elif client is not None and flight.on_cluster:
            self._send(client, client.scheduler.event_set, name=flight.event_name)

    @staticmethod
    def _send(client: Any, call: Any, **kwargs: Any) -> None:
        try:
            client.loop.add_callback(_quietly, call, **kwargs)
        except Exception:  # a closed client: nothing to tell
            pass

    def _stage_done(self, flight: Flight, stage: int, future: Any) -> None:
        """``Future.add_done_callback`` (Dask's callback thread): save the stage's runs, then
        submit the next stage or end the job."""
        if flight.done or flight.stage != stage:
            return
        try:
            self._stage_result(flight, future)
        except Exception as e:  # one job's surprise must not stall the others
            log.exception("training job %s", flight.job.id)
            self._finish(flight, "failed", f"{type(e).__name__}: {e}")

    def _stage_result(self, flight: Flight, future: Any) -> None:
        from distributed.scheduler import KilledWorker
        from safetensors import SafetensorError

        job = flight.job
        if future.status == "error":
            exc = future.exception()
            return self._finish(flight, "failed", outcomes.render(
                outcomes.JOB_WORKER_DIED, worker=job.worker) if isinstance(exc, KilledWorker)
                else f"{type(exc).__name__}: {exc}")
        if future.status != "finished":  # cancelled on the cluster, or the scheduler is gone
            lost = not self._closing.is_set() and (  # not this engine's own shutdown
                self._client is None or self._client.status not in ("running", "newly-created"))
            return self._finish(flight, "failed", outcomes.render(
                outcomes.JOB_LOST_SCHEDULER, address=self._address or self.scheduler)
                if lost else outcomes.render(outcomes.JOB_CANCELLED))
        try:
            payload = future.result(timeout=60)
        except Exception as e:
            return self._finish(flight, "failed", outcomes.render(outcomes.JOB_RESULTS_LOST,
                                                                  error=e))
        specs = flight.stages[flight.stage]
        for spec in specs:
            with self._lock:  # complete, whatever arrived
                job.records[spec.name] = list(payload["runs"][spec.name]["history"])
        name = os.path.basename(job.lab_file or "")
        try:
            if job.lab_file is not None:  # a loss-lab job: every arm into its results file, at once
                job.results.update(save_lab_outcomes(job, specs, payload))
            for spec in specs if job.lab_file is None else []:
                name = spec.name
                job.results[name] = save_outcome(job, spec, payload["runs"][name], payload["worker"])
        except (RunError, OSError, ValueError, SafetensorError) as e:  # e.g. a full disk
            return self._finish(flight, "failed", outcomes.render(
                outcomes.JOB_SAVE_FAILED, name=name, error=e))
        stopped = job.stop.is_set() or any(r["status"] == "stopped" for r in job.results.values())
        with self._lock:
            flight.stage += 1
            more = flight.stage < len(flight.stages) and not stopped and not flight.done
        if more:
            self._submit_stage(flight, self._client)  # the job keeps its worker thread
        else:
            self._finish(flight, "stopped" if stopped else "finished", "")

    def _finish(self, flight: Flight, state: str, error: str) -> None:
        """End ``flight``'s job (once, whichever thread gets here first) and hand its worker
        thread to the next waiting job."""
        job = flight.job
        with self._lock:
            if flight.done:
                return
            flight.done = True
            self._flights.pop(job.id, None)
            self._gone_since.pop(job.id, None)
            if job in self._waiting:
                self._waiting.remove(job)
            job.error = error or (job.stop.reason if state == "stopped" else "")
            job.finished = time.time()
            if job.started is not None and state in ("finished", "stopped") and job.stop.at is None:
                self._durations.append(job.finished - job.started)
            job.state = state
            client = self._client
        if client is not None and flight.on_cluster and job.stop.is_set():
            # a cleared event with no waiters is deleted on the scheduler
            self._send(client, client.scheduler.event_clear, name=flight.event_name)
        flight.data = None  # the scattered data set is released with its last reference
        self._dispatch()
