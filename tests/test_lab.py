"""The loss-convention lab: each wrong variant fails in the direction its diagnosis names, and the
correct arm is exactly the dashboard's loss."""
from __future__ import annotations

import inspect

import pytest
import torch

from vae_core import ModelConfig, TrainConfig, build_model, loss_terms
from vae_core.analysis.lab import VARIANTS, WRONG, diagnose, train_variant

FAST_MODEL = ModelConfig(kind="vae", latent_dim=2, hidden=(64, 32), input_shape=(1, 8, 8))
FAST_TRAIN = TrainConfig(epochs=15, batch_size=64, lr=3e-3, seed=0)


@pytest.fixture(scope="module")
def fast_correct(digits):
    return train_variant("correct", digits, FAST_MODEL, FAST_TRAIN)


@pytest.fixture(scope="module")
def lab_correct(digits):
    return train_variant("correct", digits)


def test_correct_arm_is_the_one_loss(digits):
    model = build_model(FAST_MODEL)
    x = digits.test_x[:32]
    v = VARIANTS["correct"]
    ours = v.objective(v.forward(model, x, torch.Generator().manual_seed(3)), x, 1.0)
    ref = loss_terms(model(x, generator=torch.Generator().manual_seed(3)), x, 1.0)
    for k in ("loss", "recon", "kl"):
        torch.testing.assert_close(ours[k], ref[k])
    # the wrong code exists only in the lab: the training path never imports it
    import vae_core.losses
    import vae_core.models
    import vae_core.train
    for module in (vae_core.losses, vae_core.train, vae_core.models):
        assert ".lab" not in inspect.getsource(module)


def test_sigma_squared_forward_uses_sigma_squared():
    model = build_model(FAST_MODEL)
    x = torch.rand(4, 1, 8, 8)
    mu, logvar = model.encode(x)
    out = VARIANTS["sigma_squared"].forward(model, x, torch.Generator().manual_seed(0))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.z, mu + logvar.exp() * eps)


@pytest.mark.parametrize("variant", ["mean_pixels", "mse_mean", "kl_sign", "uniform_eps"])
def test_fast_variants_fail_as_diagnosed(variant, digits, fast_correct):
    wrong = train_variant(variant, digits, FAST_MODEL, FAST_TRAIN)
    d = diagnose(wrong, fast_correct)
    assert d.holds, d.text
    n, c = wrong.numbers, fast_correct.numbers
    if variant in ("mean_pixels", "mse_mean"):  # collapse
        assert n["kl"] < 0.05 < c["kl"] and n["active_units"] == 0 < c["active_units"]
    elif variant == "kl_sign":  # KL explodes, codes leave the prior
        assert wrong.status == "diverged" or (n["kl"] > 100 * c["kl"] and n["centring"] > 10 * c["centring"])
    else:  # sampled properly, the decoder does much worse than on the noise it trained with
        assert n["recon_gap"] > 1.0 and abs(c["recon_gap"]) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("variant", WRONG)
def test_every_variant_fails_as_diagnosed_at_lab_settings(variant, digits, lab_correct):
    wrong = train_variant(variant, digits)
    d = diagnose(wrong, lab_correct)
    assert d.holds, d.text
    assert lab_correct.numbers["active_units"] == 2  # the reference itself is healthy
    assert wrong.numbers["elbo"] < lab_correct.numbers["elbo"] or wrong.status == "diverged"


def test_lab_uses_the_project_collapse_rule_and_measures_the_mse_factor(digits, fast_correct):
    """Issue 16.10: the lab had its own rule (KL < 0.05 and no active unit); it now uses
    collapse.is_collapsed, and "~1000x smaller" is a measured factor."""
    import vae_core.analysis.lab as lab
    from vae_core.analysis.collapse import COLLAPSE_KL

    assert not hasattr(lab, "COLLAPSE_KL")
    c = fast_correct.numbers
    assert c["recon_to_mse"] == pytest.approx(c["recon"] / c["mse"])
    assert 50 < c["recon_to_mse"] < 5000
    assert "~1000x" not in VARIANTS["mse_mean"].why
    # KL between the lab's old threshold and the project's, units still "active": collapsed by
    # the one rule (the KL bounds what z can carry), not by the old lab rule.
    probe = lab.LabRun("mean_pixels", fast_correct.model, [], "finished", "x", {},
                       {**c, "kl": (0.05 + COLLAPSE_KL) / 2, "active_units": 1})
    assert diagnose(probe, fast_correct).holds
    mse = diagnose(lab.LabRun("mse_mean", fast_correct.model, [], "finished", "x", {},
                              {**c, "kl": 0.001, "active_units": 0}), fast_correct)
    assert f"{c['recon_to_mse']:.0f}x its per-pixel MSE" in mse.text


def test_exp_logvar_sigma_is_named_a_consistent_log_sigma_model(digits, fast_correct):
    """Issue 16.10: the variant is a correct VAE in the log σ parametrisation, read the wrong way:
    its own ELBO is close to the correct VAE's, and only reading the head as log σ² breaks it."""
    wrong = train_variant("exp_logvar_sigma", digits, FAST_MODEL, FAST_TRAIN)
    d = diagnose(wrong, fast_correct)
    assert d.holds, d.text
    assert "log σ" in VARIANTS["exp_logvar_sigma"].title and "consistent" in d.symptom
    n, c = wrong.numbers, fast_correct.numbers
    assert abs(n["elbo_as_trained"] - c["elbo"]) < 2.0  # consistent: about the correct ELBO
    assert abs(n["kl"] - n["kl_as_trained"]) > 0.1  # read as log σ², the KL comes out wrong


def test_the_lab_trains_through_train_train_and_its_correct_arm_is_the_dashboards_vae(digits):
    """Issue 20: one training loop. The correct arm is ``train.train`` itself (same weights, same
    test curve); the lab's train points are the means over each epoch's images."""
    from dataclasses import replace

    from vae_core.train import run_to_end, train

    cfg = replace(FAST_TRAIN, epochs=3, seed=4)
    arm = train_variant("correct", digits, FAST_MODEL, cfg)
    end = run_to_end(train(FAST_MODEL, replace(cfg, device="cpu"), digits, snapshots=0))
    ours, theirs = arm.model.state_dict(), end["model"].state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    epochs = [r for r in end["history"] if r["type"] == "epoch"]
    assert [r["test_loss"] for r in arm.history] == [r["test_loss"] for r in epochs]
    assert [r["samples_seen"] for r in arm.history] == [r["samples_seen"] for r in epochs]

    steps: list[tuple[float, int]] = []  # what the objective saw: (loss, batch size) per step

    def recording(out, x, beta):
        terms = loss_terms(out, x, beta)
        steps.append((float(terms["loss"].detach()), len(x)))
        return terms

    v = VARIANTS["correct"]
    import vae_core.analysis.lab as lab

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(lab.VARIANTS, "correct", lab.Variant(v.key, v.title, v.code, v.why, v.forward, recording))
        arm = train_variant("correct", digits, FAST_MODEL, cfg)
    per_epoch = len(steps) // cfg.epochs
    for i, rec in enumerate(arm.history):
        epoch = steps[i * per_epoch:(i + 1) * per_epoch]
        mean = sum(loss * n for loss, n in epoch) / sum(n for _, n in epoch)
        assert rec["loss"] == pytest.approx(mean, rel=1e-6)


def test_a_lab_arm_whose_objective_breaks_is_diverged_with_the_step_named(digits):
    """The divergence rule is ``train.train``'s: a non-finite objective ends the run; the lab
    names the step (23 steps per epoch on the digits' 1,437 training images)."""
    import vae_core.analysis.lab as lab

    calls = []

    def breaks_at_31(out, x, beta):
        calls.append(1)
        terms = loss_terms(out, x, beta)
        return {**terms, "loss": terms["loss"] * (float("nan") if len(calls) == 31 else 1.0)}

    v = VARIANTS["correct"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(lab.VARIANTS, "boom", lab.Variant("boom", v.title, v.code, v.why, v.forward, breaks_at_31))
        run = train_variant("boom", digits, FAST_MODEL, FAST_TRAIN)
    assert run.status == "diverged" and len(run.history) == 1
    assert run.why_ended() == "the objective became non-finite at step 31 (epoch 2)"
    assert "recon" in run.numbers  # the weights before that step were kept and are measured
