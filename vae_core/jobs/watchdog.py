"""The engine's watchdog thread (a base class of ``TrainingEngine``): it connects to the cluster
(and again after a loss), tells the jobs of a lost scheduler, refreshes the number of worker
threads, abandons a job still running ``grace_s`` after its stop or time limit (cancelled, its
worker restarted), stops the job of a closed browser tab, forgets old jobs. Everything else the
engine does is driven by Dask: futures' callbacks, events, ``distributed.Event``."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vae_core.analysis import outcomes
import vae_core.jobs.cluster as dask_cluster
from vae_core.jobs.job import Flight, Job
from vae_core.jobs.plan import RECONNECT_S
from vae_core.jobs.worker import warm_plugin

log = logging.getLogger(__name__)
WATCH_S = 0.25  # the watchdog's tick: grace periods, closed tabs, a lost scheduler


class Watchdog:
    """The housekeeping half of ``TrainingEngine`` (which sets these attributes and defines
    ``_dispatch``, ``_finish`` and ``_on_event``)."""

    scheduler: str | None
    security: Any
    n_workers: int
    topic: str
    grace_s: float
    orphan_grace_s: float
    keep_finished_s: float
    _lock: threading.RLock
    _jobs: list[Job]
    _flights: dict[str, Flight]
    _gone_since: dict[str, float]
    _capacity: int
    _workers: list[str]
    _restarting: set[str]
    _state: str
    _message: str
    _address: str | None
    _client: Any
    _restarts: ThreadPoolExecutor
    _closing: threading.Event

    def _watch(self) -> None:
        next_connect = next_info = 0.0
        while True:
            try:
                now = time.monotonic()
                if self._client is None:
                    if now >= next_connect and not self._connect():
                        next_connect = time.monotonic() + RECONNECT_S
                elif self._client.status not in ("running", "newly-created"):
                    self._lost_scheduler()
                    next_connect = time.monotonic() + RECONNECT_S
                else:
                    if now >= next_info:  # workers that joined or left (often only while busy)
                        self._refresh_capacity()
                        next_info = now + (1.0 if self._flights else 10.0)
                        self._dispatch()
                    self._check_overdue()
                self._stop_orphans()
                self._prune()
            except Exception:  # the watchdog must survive anything a job or Dask throws
                log.exception("training engine watchdog")
            if self._closing.wait(WATCH_S):
                break
        self._close()

    def _connect(self) -> bool:
        try:
            client, address = dask_cluster.connect(self.scheduler, self.security, self.n_workers)
            with self._lock:
                self._client, self._address = client, address
            client.subscribe_topic(self.topic, self._on_event)
            client.register_plugin(warm_plugin())
            self._state = "ready"
            self._refresh_capacity()
        except Exception as e:
            self._close()
            self._state = "unavailable"
            what = (outcomes.render(outcomes.SCHEDULER_UNREACHABLE, address=self.scheduler)
                    if self.scheduler else outcomes.render(outcomes.LOCAL_WORKERS_FAILED))
            self._message = outcomes.render(outcomes.ENGINE_UNAVAILABLE, what=what,
                                            error=f"{type(e).__name__}: {e}", seconds=RECONNECT_S)
            return False
        self._dispatch()
        return True

    def _refresh_capacity(self) -> None:
        try:
            workers = self._client.scheduler_info(n_workers=-1)["workers"]
        except Exception:
            return
        with self._lock:
            self._workers = list(workers)
            self._capacity = sum(int(w.get("nthreads", 1)) for w in workers.values())
        if self._state == "ready":
            self._message = (outcomes.render(outcomes.ENGINE_READY, workers=self._capacity,
                                             address=self._address)
                             if self._capacity else outcomes.render(outcomes.ENGINE_NO_WORKERS))

    def _lost_scheduler(self) -> None:
        where = self._address or self.scheduler
        with self._lock:
            flights = [f for f in self._flights.values() if f.on_cluster]
        self._close()  # first: the jobs still waiting must not be sent to the dead client
        for flight in flights:
            self._finish(flight, "failed", outcomes.render(outcomes.JOB_LOST_SCHEDULER,
                                                           address=where))
        self._state = "unavailable"
        self._message = outcomes.render(outcomes.SCHEDULER_GONE, address=where,
                                        seconds=RECONNECT_S)

    def _close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            self._capacity = 0
            self._restarting.clear()
        if client is not None:
            try:
                client.close()
            except Exception:
                pass

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

    def _check_overdue(self) -> None:
        """A job still on the cluster ``grace_s`` after its stop or time limit is abandoned."""
        now = time.monotonic()
        with self._lock:
            flights = [f for f in self._flights.values() if f.on_cluster and not f.done]
        for flight in flights:
            due = flight.end_asked
            if due is None and flight.deadline is not None and now > flight.deadline:
                due = flight.end_asked = flight.deadline
            if due is not None and now > due + self.grace_s:
                self._abandon(flight)

    def _abandon(self, flight: Flight) -> None:
        """A job that ignored its stop or time limit for ``grace_s``: cancel it, then restart its
        worker (a thread blocked in a read cannot be interrupted any other way). Cancelled first,
        so that Dask cannot run it again elsewhere; until the worker is back the engine sends no
        job there (its thread is still taken)."""
        job, worker = flight.job, flight.job.worker
        why = outcomes.render(outcomes.BLOCKED_AFTER_STOP if job.stop.is_set()
                              else outcomes.BLOCKED_AFTER_TIME_LIMIT)
        with self._lock:
            client, future = self._client, flight.future
            if worker:
                self._restarting.add(worker)
        self._finish(flight, "failed", outcomes.render(outcomes.JOB_BLOCKED, seconds=self.grace_s,
                                                       why=why))
        self._restarts.submit(self._restart, client, future, worker)

    def _restart(self, client: Any, future: Any, worker: str | None) -> None:
        try:
            if future is not None:
                client.cancel([future], force=True)
        except Exception:
            log.warning("could not cancel a blocked job", exc_info=True)
        if worker and not dask_cluster.restart_worker(client, worker):
            log.warning("worker %s did not restart", worker)
        with self._lock:
            self._restarting.discard(worker)
        if self._client is client:
            self._refresh_capacity()
            self._dispatch()

    def _prune(self) -> None:
        cutoff = time.time() - self.keep_finished_s
        with self._lock:
            self._jobs = [j for j in self._jobs if j.active or (j.finished or 0) > cutoff]
