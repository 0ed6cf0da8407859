"""Training jobs on Dask distributed, one path for the CLI and the dashboard.

``plan`` (what to train: ``RunSpec``, ``plan_runs``, limits), ``worker`` (the task a Dask worker
runs: ``train_stage``, progress events), ``cluster`` (the embedded TLS ``LocalCluster`` or an
external scheduler), ``job`` (the ``Job`` pages poll, saving a run), ``engine``
(``TrainingEngine``: fair sharing, futures and callbacks) and its ``watchdog`` thread.

The names below are imported from their module on first use (PEP 562, as in ``vae_core``): a
page that only needs a limit or an error class does not import Dask's client or torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from vae_core.lazy import lazy_exports

_WHERE = {
    "vae_core.jobs.cluster": ("check_scheduler_address", "close_local_cluster",
                              "default_local_workers", "local_cluster", "local_cluster_running"),
    "vae_core.jobs.engine": ("TrainingEngine",),
    "vae_core.jobs.job": ("EngineStatus", "Job", "StopRequest"),
    "vae_core.jobs.plan": ("DEFAULT_SWEEP_BETAS", "MODES", "ORPHAN_GRACE_ENV", "QUICK_PAIR_BATCH",
                           "QUICK_PAIR_EPOCHS", "QUICK_PAIR_HIDDEN", "QUICK_PAIR_LR",
                           "SCHEDULER_ENV", "ClientBusyError", "EngineError", "EngineUnavailable",
                           "JobTooBigError", "OwnerBusyError", "QueueFullError", "RunSpec",
                           "parse_betas", "plan_runs", "quick_pair_specs"),
}
__all__ = ["ClientBusyError", "DEFAULT_SWEEP_BETAS", "EngineError", "EngineStatus",
           "EngineUnavailable", "Job", "JobTooBigError", "MODES", "ORPHAN_GRACE_ENV",
           "OwnerBusyError", "QUICK_PAIR_BATCH", "QUICK_PAIR_EPOCHS", "QUICK_PAIR_HIDDEN",
           "QUICK_PAIR_LR", "QueueFullError", "RunSpec", "SCHEDULER_ENV", "StopRequest",
           "TrainingEngine", "check_scheduler_address", "close_local_cluster",
           "default_local_workers", "local_cluster", "local_cluster_running", "parse_betas",
           "plan_runs", "quick_pair_specs"]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)


if TYPE_CHECKING:  # for type checkers and editors: the same names, eagerly
    from vae_core.jobs.cluster import (check_scheduler_address, close_local_cluster,
                                       default_local_workers, local_cluster, local_cluster_running)
    from vae_core.jobs.engine import TrainingEngine
    from vae_core.jobs.job import EngineStatus, Job, StopRequest
    from vae_core.jobs.plan import (DEFAULT_SWEEP_BETAS, MODES, ORPHAN_GRACE_ENV, QUICK_PAIR_BATCH,
                                    QUICK_PAIR_EPOCHS, QUICK_PAIR_HIDDEN, QUICK_PAIR_LR,
                                    SCHEDULER_ENV, ClientBusyError, EngineError, EngineUnavailable,
                                    JobTooBigError, OwnerBusyError, QueueFullError, RunSpec,
                                    parse_betas, plan_runs, quick_pair_specs)
