"""The Dask cluster the engine trains on: the process's embedded ``LocalCluster`` (worker
processes with one thread each, TLS with a throw-away certificate, a dead worker failing its task
at once) or an existing scheduler given by address (``VAE_LAB_SCHEDULER`` / ``--scheduler``).
Dask is imported inside the functions, so that importing this module stays quick (the CLI's
``--help``)."""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from vae_core.config import env_number
from vae_core.jobs.plan import WORKERS_ENV, EngineError

_LOCAL_LOCK = threading.Lock()
_LOCAL: dict[str, Any] = {}  # "cluster": the embedded LocalCluster, one per process
_WORKER_PROCESS = "Dask Worker process"  # the Nanny's name for the processes it starts
LOST_WORKER_TIMEOUT_S = 180  # how long a restarting worker of the embedded cluster may take


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


def _spawn_workers_without_main() -> None:
    """Worker processes must not re-run Streamlit's page script.

    Why a patch of ``multiprocessing.spawn.get_preparation_data`` is still needed: Dask's Nanny
    starts each worker (and each restart) through ``multiprocessing``; with "spawn" and
    "forkserver" alike the child receives ``get_preparation_data(name)`` and re-runs
    ``__main__``'s file (``init_main_from_path``) before Dask's code, so ``preload`` comes too
    late, and "fork" is unsafe in the server's many threads. Streamlit runs each page as a fake
    ``__main__`` module (``__file__`` = the page script) and leaves it installed, so every worker
    would run a page, call st.* without a session and start its own cluster. Dask has no setting
    to skip ``__main__`` (tasks live in ``vae_core.jobs.worker``, not in it), so the preparation
    data of the Nanny's worker processes drops it; every other process is untouched."""
    import multiprocessing.spawn as spawn

    if getattr(spawn.get_preparation_data, "vae_lab", False):
        return
    original = spawn.get_preparation_data

    def get_preparation_data(name: str) -> dict[str, Any]:
        data = original(name)
        if str(name).startswith(_WORKER_PROCESS):
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
        # A LocalCluster closes the Nanny of a worker that left the scheduler and did not come
        # back within this timeout (default 15 s). A worker restarted after a blocked job comes
        # back in 4 s (graceful wait) + its start and warm-up, which on a loaded 2-core machine
        # took longer: its Nanny was closed, the cluster had no worker left and every later job
        # waited forever (the flaky blocked-job test). Read when a worker leaves, so set for the
        # process, not only while the cluster starts.
        dask.config.set({"distributed.deploy.lost-worker-timeout": f"{LOST_WORKER_TIMEOUT_S}s"})
        with dask.config.set({
                # a dead worker fails its task at once with KilledWorker (not retried elsewhere)
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


def connect(scheduler: str | None, security: Any, n_workers: int) -> tuple[Any, str]:
    """A ``distributed.Client`` and the scheduler's address: the embedded cluster's (with its
    certificate) when ``scheduler`` is None, else the scheduler at that address."""
    from distributed import Client

    if scheduler is None:
        cluster = local_cluster(n_workers)
        return Client(cluster, set_as_default=False), cluster.scheduler_address
    check_scheduler_address(scheduler)
    return Client(scheduler, set_as_default=False, timeout=10, security=security), scheduler


def restart_worker(client: Any, worker: str, tries: int = 3) -> bool:
    """Restart ``worker`` through its Nanny (the one way to end a thread blocked in a read) and
    wait until it has left the scheduler. A restart can fail on the way (once a
    ``CommClosedError`` while the old process went down): it is retried, and a worker that is
    still there after ``tries`` is told to exit (its Nanny starts a fresh one). True when gone."""
    for _ in range(tries):
        try:
            client.restart_workers([worker], timeout=120, raise_for_error=False)
        except Exception:
            logging.getLogger(__name__).warning("restarting worker %s", worker, exc_info=True)
        if _gone(client, worker):
            return True
    try:
        client.run(os._exit, 1, workers=[worker], wait=False)
    except Exception:
        pass
    return _gone(client, worker)


def _gone(client: Any, worker: str, wait_s: float = 10.0) -> bool:
    """Whether ``worker`` left the scheduler within ``wait_s`` (its removal follows its exit)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if worker not in client.scheduler_info(n_workers=-1)["workers"]:
                return True
        except Exception:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
