"""Training jobs on Dask distributed, one path for the CLI and the dashboard.

``plan`` (what to train: ``RunSpec``, ``plan_runs``, limits), ``worker`` (the task a Dask worker
runs: ``train_stage``, progress events), ``cluster`` (the embedded TLS ``LocalCluster`` or an
external scheduler), ``job`` (the ``Job`` pages poll, saving a run), ``engine``
(``TrainingEngine``: fair sharing, futures and callbacks) and its ``watchdog`` thread.
"""
from vae_core.jobs.cluster import (check_scheduler_address, close_local_cluster,
                                   default_local_workers, local_cluster, local_cluster_running)
from vae_core.jobs.engine import TrainingEngine
from vae_core.jobs.job import EngineStatus, Job, StopRequest
from vae_core.jobs.plan import (DEFAULT_SWEEP_BETAS, MODES, ORPHAN_GRACE_ENV, QUICK_PAIR_BATCH,
                                QUICK_PAIR_EPOCHS, QUICK_PAIR_HIDDEN, QUICK_PAIR_LR,
                                SCHEDULER_ENV, ClientBusyError, EngineError, EngineUnavailable,
                                JobTooBigError, OwnerBusyError, QueueFullError, RunSpec,
                                parse_betas, plan_runs, quick_pair_specs)

__all__ = ["DEFAULT_SWEEP_BETAS", "MODES", "ORPHAN_GRACE_ENV", "QUICK_PAIR_BATCH",
           "QUICK_PAIR_EPOCHS", "QUICK_PAIR_HIDDEN", "QUICK_PAIR_LR", "SCHEDULER_ENV",
           "ClientBusyError", "EngineError", "EngineStatus", "EngineUnavailable", "Job",
           "JobTooBigError", "OwnerBusyError", "QueueFullError", "RunSpec", "StopRequest",
           "TrainingEngine", "check_scheduler_address", "close_local_cluster",
           "default_local_workers", "local_cluster", "local_cluster_running", "parse_betas",
           "plan_runs", "quick_pair_specs"]
