"""Posterior collapse: when a VAE's encoder says nothing about x, so its decoder ignores z.

One decision, used by training (the end record's status ``collapsed``), ``evaluate --json``
(``"collapsed"``), the scorecard's verdicts and the pages' warnings:

a VAE is **collapsed** when, on the test split, it has no active unit (no latent dim with
Var_x(E[z_d | x]) > ``ACTIVE_VAR``, Burda et al. 2016) **or** its mean KL(q(z|x) ‖ p(z)) per
image is below ``COLLAPSE_KL`` nats. The KL test stands on its own because the mean KL
upper-bounds the information z carries about x (I(x; z) ≤ E_x KL(q(z|x) ‖ p(z))): below 0.1 nat
(0.14 bit) the code cannot tell even two classes apart.

Measured on the bundled digits with the default config (latent 2, MLP 128-64, 100 epochs,
lr 3e-3, seed 0; the shipped demo VAE and its β sweep): β = 1 gives test KL 2.71 nats and
Var(mu) ≈ (0.89, 0.90) (2 active units); β = 4 gives KL 3.3e-5 nats and Var(mu) ≤ 4.2e-6; β = 8
gives KL 6.8e-6 and Var(mu) ≤ 1.2e-6. The healthy run sits 1.4 (KL) and 1.9 (Var) orders of
magnitude above the thresholds and the collapsed ones 3.4 to 4.2 below, so the verdict does not
hinge on their exact values. An AutoEncoder never collapses (it has no
posterior); it gets ``collapsed = False``. The loss lab (``lab.py``) uses this same rule.

What to do about it depends on β (``collapse_advice``; Alemi et al. 2018, "Fixing a Broken
ELBO", place β-VAEs on the rate–distortion plane: the objective's optimum moves to lower rates
as β grows, and a decoder that can model x alone makes zero rate optimal). Measured here (latent
2, 128-64): β = 8 with 20 warm-up epochs collapses, β = 8 with a 256-128 net and lr 3e-4
collapses, β = 4 with warm-up collapses: at these β collapse is the optimum on this data, not a
training accident, so only a lower β cures it. At β ≤ 1 a collapsed run got stuck (or its decoder
models the images alone): a warm-up, a smaller learning rate or a weaker decoder help.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vae_core.analysis.outcomes import (COLLAPSE_AT_HIGH_BETA, COLLAPSE_AT_LOW_BETA,
                                        COLLAPSE_AT_UNKNOWN_BETA, POSTERIOR_COLLAPSE, Message,
                                        join, render)

if TYPE_CHECKING:  # torch is imported where it is used: run listings read relabel_status without it
    import torch

ACTIVE_VAR = 0.01  # Var_x(E[z_d|x]) above this: the dim carries information (Burda et al. 2016)
COLLAPSE_KL = 0.1  # nats per image; bounds I(x; z) from above


def active_units(mu: torch.Tensor, threshold: float = ACTIVE_VAR) -> int:
    """Dims whose posterior mean varies across inputs: Var_x(E[z_d|x]) > threshold."""
    if len(mu) < 2:
        return 0
    return int((mu.double().var(0) > threshold).sum())


@dataclass(frozen=True)
class CollapseCheck:
    """The verdict and the two numbers behind it, for one model on one set of images."""

    collapsed: bool
    active_units: int | None  # None for an AE
    latent_dim: int
    kl: float | None  # mean KL(q(z|x) || p(z)) per image, nats; None for an AE
    beta: float | None = None  # the KL weight it was trained with, when known

    @property
    def reason(self) -> Message:
        """Two sentences for a status line or a warning: the numbers, then what helps at this β
        (empty when not collapsed; ``outcomes.say`` translates them)."""
        if not self.collapsed:
            return join()
        template, values = collapse_advice(self.beta)
        return join(render(POSTERIOR_COLLAPSE, active=self.active_units, dims=self.latent_dim,
                           kl=self.kl), render(template, **values))


def collapse_advice(beta: float | None) -> tuple[str, dict[str, float]]:
    """The advice template for a collapsed VAE trained with ``beta`` (None: unknown) and its
    values: above β = 1 only a lower β helps; at or below it, training (see the docstring)."""
    if beta is None:
        return COLLAPSE_AT_UNKNOWN_BETA, {}
    return (COLLAPSE_AT_HIGH_BETA if beta > 1 else COLLAPSE_AT_LOW_BETA), {"beta": float(beta)}


def is_collapsed(active: int | None, kl: float | None) -> bool:
    """The rule of the module docstring on its two numbers (None, None = an AE: False)."""
    if active is None and kl is None:
        return False
    return (active is not None and active == 0) or (kl is not None and kl < COLLAPSE_KL)


def check_codes(mu: torch.Tensor, logvar: torch.Tensor | None,
                beta: float | None = None) -> CollapseCheck:
    """Collapse verdict from encoded test images: ``mu`` (N, D) and ``logvar`` (None for an AE);
    ``beta`` (the training KL weight) only chooses the advice."""
    if logvar is None:
        return CollapseCheck(False, None, int(mu.shape[1]), None)
    from vae_core.losses import kl_per_dim

    active = active_units(mu)
    kl = float(kl_per_dim(mu, logvar).double().mean(0).sum())
    return CollapseCheck(is_collapsed(active, kl), active, int(mu.shape[1]), kl, beta)


def check_model(model: torch.nn.Module, x: torch.Tensor, beta: float | None = None) -> CollapseCheck:
    """Encode ``x`` (the test split) with ``model`` and check it (a no-op verdict for an AE)."""
    import torch

    with torch.no_grad():
        mu, logvar = model.encode_all(x)
    return check_codes(mu, logvar, beta)


def relabel_status(status: str, kind: str, final_kl: float | None) -> str:
    """A VAE saved as finished before this check existed, whose last test KL is below
    ``COLLAPSE_KL``, is listed as ``collapsed`` (the KL half of the rule needs no data). A stopped
    run keeps its status: after a few steps it has not learned yet, which is not collapse."""
    if (status == "finished" and kind == "vae" and final_kl is not None
            and is_collapsed(None, final_kl)):
        return "collapsed"
    return status
