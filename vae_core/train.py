"""The training loop: a generator of small progress records (the UI subscribes; nothing prints).

Batches are slices of one in-memory tensor, shuffled by an explicit ``torch.Generator``; weights,
shuffling, the reparameterization noise and the test noise are all seeded per run, each from its
own stream (``seeds.stream_seed``), so the same configs give the same history even when several
runs share one process.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterator, Protocol

import torch

from vae_core.analysis.collapse import check_model
from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import ImageDataset, as_float_images
from vae_core.losses import loss_terms
from vae_core.models import LatentModel, build_model
from vae_core.analysis.outcomes import (LOSS_NOT_FINITE, STOPPED_BY_USER, TEST_LOSS_NOT_FINITE,
                                        TRAINED, WEIGHTS_NOT_FINITE, join, render)
from vae_core.seeds import stream_seed
from vae_core.store.snapshots import DEFAULT_SNAPSHOTS, SnapshotTaker

Record = dict[str, Any]
# What one training step minimises: (model, x, beta, generator) -> loss_terms-style dict.
Objective = Callable[[LatentModel, torch.Tensor, float, torch.Generator], dict[str, torch.Tensor]]
RECORDS_PER_EPOCH = 20  # enough points for a smooth live curve…
MAX_STEP_RECORDS = 400  # …and few enough over a whole run to keep run.json small


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class TermAverages:
    """Running per-image means of loss, recon and KL since the last progress record."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss = self.recon = self.kl = 0.0  # sums of per-image values times batch size
        self.images = 0

    def add(self, loss: float, recon: float, kl: float, batch: int) -> None:
        self.loss += loss * batch
        self.recon += recon * batch
        self.kl += kl * batch
        self.images += batch

    def take(self) -> dict[str, float]:
        """The means so far, then start over."""
        n = max(1, self.images)
        means = {"loss": self.loss / n, "recon": self.recon / n, "kl": self.kl / n}
        self.reset()
        return means


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" picks CUDA, then Apple MPS, then the CPU."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def kl_weight(train_cfg: TrainConfig, epoch_progress: float) -> float:
    """beta, ramped linearly from 0 over the first ``kl_warmup_epochs`` when warm-up is on."""
    if train_cfg.kl_warmup_epochs <= 0:
        return train_cfg.beta
    return train_cfg.beta * min(1.0, epoch_progress / train_cfg.kl_warmup_epochs)


@torch.no_grad()
def evaluate(model: LatentModel, x: torch.Tensor, beta: float = 1.0, batch_size: int = 2048,
             seed: int = 0) -> dict[str, float]:
    """Mean per-image ``recon``, ``kl`` and ``loss`` over ``x`` (one seeded z sample per image)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    totals = torch.zeros(3, dtype=torch.float64)
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        terms = loss_terms(model(xb, generator=gen), xb, beta)
        totals += torch.stack([terms["recon"], terms["kl"], terms["loss"]]).double().cpu() * len(xb)
    model.train(was_training)
    recon, kl, loss = (totals / max(1, len(x))).tolist()
    return {"recon": recon, "kl": kl, "loss": loss}


def make_optimizer(model: LatentModel, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with its fused kernel where PyTorch has one (CPU, CUDA): one pass over each parameter
    instead of about ten elementwise ops; on the CPU this took Adam from ~1 ms to ~0.3 ms per step
    of the 784-400-20 MLP. Same algorithm and hyper-parameters, equal up to float rounding."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(model.parameters(), lr=lr, fused=fused or None)


def elbo(model: LatentModel, x: torch.Tensor, beta: float,
         generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The objective ``train`` minimises unless told otherwise: the (beta-)ELBO of
    ``losses.loss_terms`` on one forward pass (the loss lab passes deliberately wrong ones)."""
    return loss_terms(model(x, generator=generator), x, beta)


def final_status(model: LatentModel, x_test: torch.Tensor, beta: float, status: str,
                 reason: str) -> tuple[str, str]:
    """The end record's status and reason once training is over: non-finite weights make a run
    "diverged"; a finished VAE whose posterior collapsed on the test split is "collapsed" (one
    stopped after a few steps has not learned yet, which is not collapse)."""
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return "diverged", join(reason, render(WEIGHTS_NOT_FINITE))
    if status == "finished" and model.kind == "vae" and len(x_test) >= 2:
        check = check_model(model, x_test, beta)
        if check.collapsed:
            return "collapsed", join(reason, check.reason)
    return status, reason


def train(model_cfg: ModelConfig, train_cfg: TrainConfig, dataset: ImageDataset,
          stop: StopFlag | None = None, snapshots: int = DEFAULT_SNAPSHOTS,
          objective: Objective = elbo) -> Iterator[Record]:
    """Train one model, yielding progress records.

    Records have ``type`` "step" (train ``recon``/``kl``/``loss`` averaged since the last record)
    or "epoch" (adds ``test_recon``/``test_kl``/``test_loss``, the test loss with the record's
    ``beta``, the KL weight in force), with ``step``, ``epoch``,
    ``samples_seen``, ``progress`` (0..1), ``seconds`` and ``beta`` (the KL weight in force).
    The last record has ``type`` "end", ``status`` ("finished", "stopped", "collapsed" or
    "diverged"), ``reason``, ``history`` (all earlier records) and ``model`` (on the CPU, eval
    mode). A "diverged" model is returned only so it can be listed as such: never use it as a good
    one. "collapsed" (a VAE that trained all its epochs and whose posterior collapsed on the
    test split, see ``collapse.py``) is a valid model, kept so pages can show collapse; its
    ``reason`` names the cures. The end record also carries ``epochs_trained`` (epochs completed).
    Setting ``stop`` ends the run between steps and keeps what was trained so far.
    The end record also holds ``snapshots``: about ``snapshots`` copies of the weights
    (``snapshots.Snapshot``), geometrically spaced in steps from the initial weights to the final
    ones, fewer for models too large for ``snapshots.MAX_SNAPSHOT_BYTES`` (0 turns them off).
    ``objective`` is what each step minimises: the correct ``elbo`` unless a lesson swaps it.
    """
    if tuple(model_cfg.input_shape) != tuple(dataset.image_shape):
        raise ValueError(f"model input_shape {model_cfg.input_shape} does not match the data "
                         f"set's images {dataset.image_shape}")
    device = resolve_device(train_cfg.device)
    model = build_model(model_cfg, seed=train_cfg.seed).to(device)
    model.train()
    optimizer = make_optimizer(model, train_cfg.lr, device)
    shuffle_gen = torch.Generator().manual_seed(train_cfg.seed)
    noise_gen = torch.Generator(device=device).manual_seed(stream_seed(train_cfg.seed, "noise"))
    x_train = dataset.train_x.to(device)
    x_test = dataset.test_x
    n, bs = len(x_train), train_cfg.batch_size
    steps_per_epoch = math.ceil(n / bs)
    total_steps = steps_per_epoch * train_cfg.epochs
    log_every = max(1, steps_per_epoch // RECORDS_PER_EPOCH,
                    math.ceil(total_steps / MAX_STEP_RECORDS))

    snapshot_taker = SnapshotTaker(model, total_steps, steps_per_epoch, snapshots)
    snapshot_taker.after(model, 0)

    history: list[Record] = []
    status, reason = "finished", render(TRAINED, epochs=train_cfg.epochs)
    step = samples_seen = 0
    since_record = TermAverages()
    t0 = time.perf_counter()

    def record(kind: str, epoch: int, beta: float) -> Record:
        return {"type": kind, "step": step, "epoch": epoch, "samples_seen": samples_seen,
                "progress": step / total_steps, "seconds": time.perf_counter() - t0,
                **since_record.take(), "beta": beta}

    for epoch in range(1, train_cfg.epochs + 1):
        perm = torch.randperm(n, generator=shuffle_gen).to(device)
        for i, start in enumerate(range(0, n, bs)):
            if stop is not None and stop.is_set():
                status, reason = "stopped", render(STOPPED_BY_USER, step=step, epoch=epoch)
                break
            beta = kl_weight(train_cfg, epoch - 1 + i / steps_per_epoch)
            # index_select: 4x faster than x[idx] on CPU; uint8 images become floats per batch
            xb = as_float_images(x_train.index_select(0, perm[start:start + bs]))
            terms = objective(model, xb, beta, noise_gen)
            loss_value, recon_value, kl_value = torch.stack(
                [terms["loss"], terms["recon"], terms["kl"]]).tolist()  # one device sync
            if not math.isfinite(loss_value):
                status = "diverged"
                reason = render(LOSS_NOT_FINITE, loss=loss_value, step=step + 1, epoch=epoch,
                                lr=train_cfg.lr)
                break
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            step += 1
            samples_seen += len(xb)
            since_record.add(loss_value, recon_value, kl_value, len(xb))
            snapshot_taker.after(model, step)
            if i + 1 < steps_per_epoch and step % log_every == 0:
                history.append(record("step", epoch, beta))
                yield history[-1]
        if status != "finished":
            break
        beta_now = kl_weight(train_cfg, epoch)
        rec = record("epoch", epoch, beta_now)
        # The β in force, as in the training loss: during a KL warm-up the two curves compare
        # like with like (full β on the test split made its loss jump above training's).
        test = evaluate(model, x_test, beta_now, seed=stream_seed(train_cfg.seed, "test_noise"))
        rec.update({f"test_{k}": v for k, v in test.items()})
        if not all(math.isfinite(v) for v in test.values()):
            status = "diverged"
            reason = render(TEST_LOSS_NOT_FINITE, loss=test["loss"], epoch=epoch)
        history.append(rec)
        yield rec
        if status != "finished":
            break

    model = model.cpu().eval()
    status, reason = final_status(model, x_test, train_cfg.beta, status, reason)
    yield {"type": "end", "status": status, "reason": reason, "step": step,
           "epochs_trained": sum(r["type"] == "epoch" for r in history),
           "samples_seen": samples_seen, "seconds": time.perf_counter() - t0,
           "history": history, "model": model, "snapshots": snapshot_taker.finish(model, step)}


def run_to_end(records: Iterator[Record]) -> Record:
    """Exhaust a ``train`` generator and return its final record (for scripts and tests)."""
    last: Record = {}
    for last in records:
        pass
    return last
