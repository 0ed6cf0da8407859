"""What to train: ``plan_runs`` turns a mode ("ae", "vae", "pair", "sweep") into ``RunSpec``s, one
planner for the CLI and the dashboard; the engine's limits and settings (environment variables
and their defaults) and the errors it raises for the user. Imports no Dask."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from vae_core.analysis import outcomes
from vae_core.config import ModelConfig, TrainConfig, env_number
from vae_core.store.runs import sweep_run_name

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
RECONNECT_S = 5.0
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


class EngineUnavailable(EngineError):
    """The Dask cluster cannot be reached (or is still starting and failed)."""


@dataclass(frozen=True)
class RunSpec:
    """One model to train inside a job, and the name to save it under."""

    name: str
    model_config: ModelConfig
    train_config: TrainConfig
    objective: str | None = None  # a loss-lab variant (analysis.lab.VARIANTS): trains that arm


def max_job_epochs() -> int:
    """The dashboard's per-job epoch cap (``VAE_LAB_MAX_JOB_EPOCHS``), read without an engine: a
    page bounds its inputs by it before anything is submitted (the engine enforces it)."""
    return env_number(MAX_JOB_EPOCHS_ENV, DEFAULT_MAX_JOB_EPOCHS, 1, 10_000_000, integer=True)


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
    named ``name-b<beta>`` (``runs.sweep_run_name``), grouped under ``name``.
    """
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
