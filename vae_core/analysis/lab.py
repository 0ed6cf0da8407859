"""The loss-convention lab: the correct VAE next to one deliberately wrong variant.

Each wrong variant is one mistake learners make again and again (issue threads of
pytorch/examples and keras: sigma vs sigma², the KL's sign, sum vs mean reduction, BCE vs MSE),
and the first is the formula of the blog post this project grew from. They live ONLY here: the
dashboard's models train through ``train.train`` and ``losses.loss_terms``, the one correct loss.
Every arm, the correct one included, trains through that same ``train.train``, with the variant
as its ``objective``, so they differ in the one line the variant names; the correct arm's step is
exactly ``train.elbo``. The shipped arms the page shows are in ``lab_results``.

A variant is a ``forward`` (how z is sampled) and an ``objective`` (what is minimised). After
training, every model is measured with the project's own, correct tools: ``train.evaluate``
(Bernoulli recon and KL of q(z|x) as the head's output reads, i.e. as log σ²) and the latent
statistics of ``metrics``; collapse is judged by ``collapse.is_collapsed``. ``diagnose`` turns
those numbers into a sentence and says whether the symptom the variant is known for is there.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch
import torch.nn.functional as F

from vae_core.analysis import codes
from vae_core.analysis.collapse import active_units, is_collapsed
from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import ImageDataset
from vae_core.losses import loss_terms
from vae_core.models import LatentModel, ModelOutput
from vae_core.text import N_, Translate, no_translation
from vae_core.seeds import stream_seed
from vae_core.train import evaluate, run_to_end, train

Forward = Callable[[LatentModel, torch.Tensor, torch.Generator], ModelOutput]
Objective = Callable[[ModelOutput, torch.Tensor, float], dict[str, torch.Tensor]]

# Trains in seconds on the bundled digits and gives the correct VAE 2 active units (latent 2).
LAB_MODEL = ModelConfig(kind="vae", latent_dim=2, hidden=(128, 64), input_shape=(1, 8, 8))
LAB_TRAIN = TrainConfig(epochs=60, batch_size=64, lr=3e-3, beta=1.0, seed=0)


# --- forwards: how z is drawn ---------------------------------------------------------------------

def correct_forward(model: LatentModel, x: torch.Tensor, gen: torch.Generator) -> ModelOutput:
    return model(x, generator=gen)  # z = mu + exp(0.5 * logvar) * eps, eps ~ N(0, I)


def _decoded(model: LatentModel, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> ModelOutput:
    return ModelOutput(model.decode(z), z, mu, logvar)


def sigma_squared_forward(model: LatentModel, x: torch.Tensor, gen: torch.Generator) -> ModelOutput:
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=gen, dtype=mu.dtype)
    return _decoded(model, mu + torch.exp(logvar) * eps, mu, logvar)  # sigma² * eps: the blog's formula


def exp_logvar_sigma_forward(model: LatentModel, x: torch.Tensor, gen: torch.Generator) -> ModelOutput:
    mu, s = model.encode(x)  # the head's output is called logvar but treated as log sigma
    eps = torch.randn(mu.shape, generator=gen, dtype=mu.dtype)
    # training is self-consistent (sigma = exp(s), KL written for that sigma: logvar = 2s), but
    # everything reading the saved model takes s for log sigma²
    return _decoded(model, mu + torch.exp(s) * eps, mu, 2 * s)


def uniform_eps_forward(model: LatentModel, x: torch.Tensor, gen: torch.Generator) -> ModelOutput:
    mu, logvar = model.encode(x)
    eps = torch.rand(mu.shape, generator=gen, dtype=mu.dtype)  # rand_like, not randn_like: U(0, 1)
    return _decoded(model, mu + torch.exp(0.5 * logvar) * eps, mu, logvar)


# --- objectives: what is minimised ----------------------------------------------------------------

def correct_objective(out: ModelOutput, x: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    return loss_terms(out, x, beta)


def mean_pixels_objective(out: ModelOutput, x: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    terms = loss_terms(out, x, beta)
    recon_mean = terms["recon"] / x[0].numel()  # averaged over pixels: the KL now weighs 64x more
    return {**terms, "loss": recon_mean + beta * terms["kl"]}


def kl_sign_objective(out: ModelOutput, x: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    terms = loss_terms(out, x, beta)
    return {**terms, "loss": terms["recon"] - beta * terms["kl"]}  # + KL, written with the wrong sign


def mse_objective(out: ModelOutput, x: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    terms = loss_terms(out, x, beta)
    mse = F.mse_loss(torch.sigmoid(out.recon_logits), x)  # mean over pixels and batch, ~0.05 nats' worth
    return {**terms, "loss": mse + beta * terms["kl"]}


# --- the variants ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    key: str
    title: str  # marked for the catalogs: a UI shows gettext(title)
    code: str  # the line as it is written in the wrong code
    why: str  # what it does to training (marked, like the title)
    forward: Forward
    objective: Objective


VARIANTS: dict[str, Variant] = {v.key: v for v in (
    Variant("correct", N_("Correct VAE"), "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)",
            N_("Bernoulli log-likelihood summed over pixels, KL(q(z|x) ‖ N(0, I)) summed over latent "
               "dims, both averaged over the batch (losses.loss_terms)."), correct_forward, correct_objective),
    Variant("sigma_squared", N_("z = mu + sigma² * eps (the blog post's formula)"),
            "z = mu + torch.exp(logvar) * torch.randn_like(mu)",
            N_("The noise has std σ² while the KL term believes it is σ: for σ < 1 the decoder is trained "
               "on narrower noise than q(z|x) claims, so sampling the way the model says is worse."),
            sigma_squared_forward, correct_objective),
    Variant("exp_logvar_sigma", N_("a log σ head read as log σ² (exp(logvar) used as sigma)"),
            "std = torch.exp(logvar)  # and the KL written for that std",
            N_("Training is consistent: σ = exp(head) and the KL is written for that σ, so this is a "
               "correct VAE whose head outputs log σ (its own ELBO matches the correct VAE's). The "
               "mistake is in reading it: every tool that takes the head for log σ², as the name "
               "logvar says (KL, ellipses, IWAE), gets the posterior's width wrong."),
            exp_logvar_sigma_forward, correct_objective),
    Variant("mean_pixels", N_("pixels averaged instead of summed"),
            "recon = F.binary_cross_entropy_with_logits(logits, x)  # reduction='mean'",
            N_("Averaging over 64 pixels divides the reconstruction by 64 while the KL stays summed: "
               "the KL is over-weighted 64x (like β = 64), and the posterior collapses to the prior."),
            correct_forward, mean_pixels_objective),
    Variant("kl_sign", N_("KL sign flipped"), "loss = recon - kl",
            N_("Minimising −KL rewards posteriors far from the prior: the KL grows without bound and the "
               "codes leave N(0, I)."), correct_forward, kl_sign_objective),
    Variant("uniform_eps", N_("eps with std ≠ 1 (torch.rand_like)"),
            "z = mu + std * torch.rand_like(std)  # U(0, 1): mean 0.5, std 0.29",
            N_("The noise is off-centre and 3.5x narrower than N(0, 1): the decoder learns codes shifted "
               "by +σ/2 with little spread, so sampling the way the model says is worse."),
            uniform_eps_forward, correct_objective),
    Variant("mse_mean", N_("MSE instead of BCE, at the wrong scale"),
            "recon = F.mse_loss(torch.sigmoid(logits), x)  # mean over pixels",
            N_("A per-pixel mean squared error is hundreds of times smaller than the summed Bernoulli "
               "−log p(x|z) (the diagnosis measures the factor), so the KL dominates and the "
               "posterior collapses to the prior."),
            correct_forward, mse_objective),
)}
WRONG = [k for k in VARIANTS if k != "correct"]


# --- training and measuring -----------------------------------------------------------------------

@dataclass
class LabRun:
    variant: str
    model: LatentModel
    history: list[dict[str, Any]]
    status: str  # "finished" or "diverged"
    reason_message: str  # why training ended: a sentence marked for the catalogs, {placeholders}
    reason_values: dict[str, Any] = field(default_factory=dict)  # ... filled from these
    numbers: dict[str, Any] = field(default_factory=dict)

    def why_ended(self, gettext: Translate = no_translation) -> str:
        return gettext(self.reason_message).format(**self.reason_values)

    @property
    def reason(self) -> str:
        return self.why_ended()


@torch.no_grad()
def as_trained(model: LatentModel, variant: Variant, x: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Recon and KL on ``x`` through the variant's own forward (how training saw the model)."""
    gen = torch.Generator().manual_seed(seed)
    out = variant.forward(model, x, gen)
    terms = loss_terms(out, x)
    return {"recon": float(terms["recon"]), "kl": float(terms["kl"])}


@torch.no_grad()
def lab_numbers(model: LatentModel, variant: Variant, dataset: ImageDataset, seed: int = 0) -> dict[str, Any]:
    """The measurements the diagnoses use, on the test split. ``recon``/``kl`` are the correct
    reading (``train.evaluate``: z = mu + σ·eps, σ² = exp(head's logvar)); ``*_as_trained`` go
    through the variant's own forward (``elbo_as_trained``: the model's own ELBO); ``mse`` is the
    per-pixel mean squared error of the decoded means and ``recon_to_mse`` = recon / mse; the rest
    are ``codes`` statistics of the codes."""
    model.eval()
    x = dataset.test_x
    correct = evaluate(model, x, seed=seed)
    trained = as_trained(model, variant, x, seed)
    mu, logvar = model.encode_all(x)
    # The per-pixel MSE of the mean image beside the summed Bernoulli recon: the factor by which
    # an MSE objective shrinks the reconstruction term against the KL.
    mse = float(F.mse_loss(torch.sigmoid(model.decode(mu)), x))
    return {"recon": correct["recon"], "kl": correct["kl"], "elbo": -(correct["recon"] + correct["kl"]),
            "recon_as_trained": trained["recon"], "kl_as_trained": trained["kl"],
            "elbo_as_trained": -(trained["recon"] + trained["kl"]),
            "recon_gap": correct["recon"] - trained["recon"], "mse": mse,
            "recon_to_mse": correct["recon"] / mse if mse > 0 else float("inf"),
            "mean_sigma": float(torch.exp(0.5 * logvar).mean()),
            "active_units": active_units(mu), "centring": codes.centring(mu),
            "scale_error": codes.scale_error(mu), "prior_kl": codes.prior_kl(mu)}


def variant_objective(variant: str) -> Callable[..., dict[str, torch.Tensor]]:
    """``train.train``'s ``objective`` for one arm: the variant's forward, then its objective."""
    v = VARIANTS[variant]

    def objective(model: LatentModel, x: torch.Tensor, beta: float,
                  gen: torch.Generator) -> dict[str, torch.Tensor]:
        return v.objective(v.forward(model, x, gen), x, beta)

    return objective


def train_variant(variant: str, dataset: ImageDataset, model_cfg: ModelConfig = LAB_MODEL,
                  train_cfg: TrainConfig = LAB_TRAIN) -> LabRun:
    """Train one arm of the lab on ``dataset`` (CPU) through ``train.train``, with the variant's
    forward and objective as its ``objective``, and measure it. The history is ``train``'s epoch
    records with ``recon``/``kl`` (as the variant's forward sees them) and ``loss`` (its own
    objective) averaged over the epoch; ``test_*`` from ``train.evaluate``."""
    t0 = time.perf_counter()
    end = run_to_end(train(model_cfg, replace(train_cfg, device="cpu"), dataset, snapshots=0,
                           objective=variant_objective(variant)))
    return lab_run(variant, end, dataset, train_cfg, t0)


def lab_run(variant: str, end: dict[str, Any], dataset: ImageDataset, train_cfg: TrainConfig,
            t0: float) -> LabRun:
    """The arm ``train``'s end record ``end`` describes, measured; ``t0``: when its training
    began (``time.perf_counter``), for its ``seconds``."""
    model, history = end["model"], _epoch_means(end["history"])
    # Collapse is judged by the diagnosis (the project's rule on the numbers below), not here.
    status = "diverged" if end["status"] == "diverged" else "finished"
    run = LabRun(variant, model, history, status, *_why_ended(end, status, train_cfg.epochs))
    if all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        run.numbers = lab_numbers(model, VARIANTS[variant], dataset,
                                  seed=stream_seed(train_cfg.seed, "test_noise"))
    run.numbers.update({"status": status, "seconds": time.perf_counter() - t0})
    return run


def _epoch_means(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``train``'s epoch records with the train terms averaged over the whole epoch (each of its
    records averages the images since the previous one): one point per epoch."""
    epochs, sums, images, seen = [], dict.fromkeys(("loss", "recon", "kl"), 0.0), 0, 0
    for r in history:
        n, seen = r["samples_seen"] - seen, r["samples_seen"]
        sums = {k: total + r[k] * n for k, total in sums.items()}
        images += n
        if r["type"] == "epoch":
            epochs.append({**r, **{k: total / max(1, images) for k, total in sums.items()}})
            sums, images = dict.fromkeys(sums, 0.0), 0
    return epochs


def _why_ended(end: dict[str, Any], status: str, epochs: int) -> tuple[str, dict[str, Any]]:
    """The lab's own sentence (marked for the catalogs) for how ``train``'s run ended."""
    done = end["epochs_trained"]
    if status == "finished":
        return N_("trained {epochs} epochs"), {"epochs": done}
    tests = [r["test_loss"] for r in end["history"] if r["type"] == "epoch"]
    if tests and not math.isfinite(tests[-1]):
        return N_("the test loss became non-finite after epoch {epoch}"), {"epoch": done}
    if done == epochs:  # every step's objective was finite: the last step broke the weights
        return (N_("the weights became non-finite at step {step} (epoch {epoch})"),
                {"step": end["step"], "epoch": done})
    return (N_("the objective became non-finite at step {step} (epoch {epoch})"),
            {"step": end["step"] + 1, "epoch": done + 1})


# --- diagnoses ------------------------------------------------------------------------------------

# Collapse is judged by the project's one rule (collapse.is_collapsed: no active unit or KL < 0.1).
GAP_NATS = 1.0  # recon lost by sampling the way the model claims, beyond which sampling is broken
KL_BLOWUP = 10.0  # times the correct VAE's KL
OWN_ELBO_NATS = 2.0  # a consistent model's own ELBO lies within this of the correct VAE's


@dataclass(frozen=True)
class Diagnosis:
    symptom: str  # what the variant is known to do
    holds: bool  # whether this run's numbers show it
    text: str  # the numbers that show it (or do not)


def _f(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e4 else f"{x:.2f}"


# What each variant is known to do, as the diagnosis names it.
SYMPTOMS = {
    "correct": N_("none: this is the reference"),
    "diverged": N_("the KL grows without bound"),
    "collapse": N_("posterior collapse: KL ≈ 0, no active latent units"),
    "kl_sign": N_("the KL grows without bound and the codes leave the prior"),
    "exp_logvar_sigma": N_("a consistent log σ model, read the wrong way as log σ²"),
    "noise": N_("the decoder was trained on other noise than q(z|x) describes"),
}


def diagnose(wrong: LabRun, correct: LabRun, gettext: Translate = no_translation) -> Diagnosis:
    """The symptom ``wrong.variant`` is known for, checked against ``correct``'s numbers; the
    sentences through ``gettext`` (each a whole message with named placeholders)."""
    w, c = wrong.numbers, correct.numbers
    key = wrong.variant

    def diagnosis(symptom: str, holds: bool, text: str, **values: Any) -> Diagnosis:
        return Diagnosis(gettext(SYMPTOMS[symptom]), holds, gettext(text).format(**values))

    if key == "correct":
        return diagnosis("correct", True, N_("Same code as the dashboard's VAE."))
    if "recon" not in w:  # the weights are not finite: nothing can be measured
        return diagnosis("diverged", key == "kl_sign",
                         N_("Training diverged ({reason}); the weights are no longer finite."),
                         reason=wrong.why_ended(gettext))
    d = wrong.model.latent_dim
    if key in ("mean_pixels", "mse_mean"):
        holds = is_collapsed(w["active_units"], w["kl"])
        text = (N_("KL {kl} nats per image (correct VAE {kl_correct}), {active} of {dims} latent units "
                   "active (correct {active_correct}): every image gets the prior as its posterior, so "
                   "the decoder draws one average image; recon {recon} vs {recon_correct} nats.")
                if holds else
                N_("KL {kl} nats per image (correct VAE {kl_correct}), {active} of {dims} latent units "
                   "active (correct {active_correct}): the posterior did not collapse in this run; "
                   "recon {recon} vs {recon_correct} nats."))
        values = dict(kl=_f(w["kl"]), kl_correct=_f(c["kl"]), active=w["active_units"], dims=d,
                      active_correct=c["active_units"], recon=_f(w["recon"]),
                      recon_correct=_f(c["recon"]))
        if key == "mse_mean" and "recon_to_mse" in c:
            # The factor, measured on the correct VAE, instead of a remembered "~1000x".
            text = (N_("KL {kl} nats per image (correct VAE {kl_correct}), {active} of {dims} latent "
                       "units active (correct {active_correct}): every image gets the prior as its "
                       "posterior, so the decoder draws one average image; recon {recon} vs "
                       "{recon_correct} nats. On the correct VAE the summed Bernoulli recon is "
                       "{ratio}x its per-pixel MSE ({mse}): that is how much MSE shrinks the "
                       "reconstruction against the KL.")
                    if holds else
                    N_("KL {kl} nats per image (correct VAE {kl_correct}), {active} of {dims} latent "
                       "units active (correct {active_correct}): the posterior did not collapse in "
                       "this run, although on the correct VAE the summed Bernoulli recon is {ratio}x "
                       "its per-pixel MSE ({mse}); recon {recon} vs {recon_correct} nats."))
            values.update(ratio=f"{c['recon_to_mse']:.0f}", mse=f"{c['mse']:.4f}")
        return diagnosis("collapse", holds, text, **values)
    if key == "kl_sign":
        holds = wrong.status == "diverged" or w["kl"] > KL_BLOWUP * max(c["kl"], 1.0)
        text = (N_("KL {kl} nats per image vs {kl_correct} for the correct VAE; the codes' mean lies "
                   "{centring} from 0 (correct {centring_correct}) and their std is off by {scale} "
                   "(correct {scale_correct}).")
                if holds else
                N_("KL {kl} nats per image vs {kl_correct} for the correct VAE; the codes' mean lies "
                   "{centring} from 0 (correct {centring_correct}) and their std is off by {scale} "
                   "(correct {scale_correct}): the KL did not blow up in this run."))
        return diagnosis("kl_sign", holds, text, kl=_f(w["kl"]), kl_correct=_f(c["kl"]),
                         centring=_f(w["centring"]), centring_correct=_f(c["centring"]),
                         scale=_f(w["scale_error"]), scale_correct=_f(c["scale_error"]))
    if key == "exp_logvar_sigma":
        # Its own reading (head = log σ) is a consistent VAE: its ELBO is about the correct one's.
        own_gap = abs(w["elbo_as_trained"] - c["elbo"])
        misread = abs(w["kl"] - w["kl_as_trained"]) > 0.1 * max(1.0, w["kl_as_trained"])
        holds = own_gap < OWN_ELBO_NATS and (misread or w["recon_gap"] > GAP_NATS)
        text = (N_("Read as its own model (head = log σ), its ELBO is {elbo_own} nats vs the correct "
                   "VAE's {elbo_correct}: a consistent VAE in another parametrisation. Read as log σ², "
                   "as the name logvar says and every tool here does, its KL becomes {kl} instead of "
                   "{kl_trained} and sampling with σ = exp(logvar / 2) makes recon {gap} nats worse "
                   "(correct VAE: {gap_correct}).")
                if holds else
                N_("Read as its own model (head = log σ), its ELBO is {elbo_own} nats vs the correct "
                   "VAE's {elbo_correct}; read as log σ², its KL becomes {kl} instead of {kl_trained} "
                   "and recon {gap} nats worse (correct VAE: {gap_correct}): not the expected "
                   "pattern in this run."))
        return diagnosis("exp_logvar_sigma", holds, text, elbo_own=_f(w["elbo_as_trained"]),
                         elbo_correct=_f(c["elbo"]), kl_trained=_f(w["kl_as_trained"]),
                         kl=_f(w["kl"]), gap=_f(w["recon_gap"]), gap_correct=_f(c["recon_gap"]))
    # sigma_squared, uniform_eps: the decoder was trained on other noise than q(z|x) describes
    holds = w["recon_gap"] > GAP_NATS + max(0.0, c["recon_gap"])
    text = (N_("Through its own sampling the recon is {recon_trained} nats, but drawing z ~ q(z|x) "
               "properly gives {recon}: {gap} nats worse (correct VAE: {gap_correct}); its ELBO is "
               "{elbo} vs {elbo_correct}.")
            if holds else
            N_("Through its own sampling the recon is {recon_trained} nats, but drawing z ~ q(z|x) "
               "properly gives {recon}: {gap} nats worse (correct VAE: {gap_correct}); its ELBO is "
               "{elbo} vs {elbo_correct}: the gap is smaller than expected."))
    return diagnosis("noise", holds, text, recon_trained=_f(w["recon_as_trained"]), recon=_f(w["recon"]),
                     gap=_f(w["recon_gap"]), gap_correct=_f(c["recon_gap"]), elbo=_f(w["elbo"]),
                     elbo_correct=_f(c["elbo"]))
