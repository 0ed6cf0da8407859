"""Scorecard metrics on constructed cases with known answers, the judge's cache, the CLI."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from vae_core import ModelConfig, evaluate, list_runs, load_run, run_to_end, train
from vae_core.__main__ import main
from vae_core.analysis.classifier import CACHE_DIR, load_or_train
from ui.scorecard import compare_rows
from vae_core.analysis.codes import (centring, coverage, largest_gap, prior_kl, scale_error,
                                     view_basis)
from vae_core.analysis.collapse import active_units
from vae_core.analysis.generation import generation_test
from vae_core.analysis.scorecard import CLAIMS, METRICS, scorecard, smoothness, winner
from vae_core.analysis.sweep import sweep_groups, sweep_run_name
from vae_core.jobs import quick_pair_specs
from vae_core.models import build_model

REPO = Path(__file__).resolve().parent.parent
CONTRACT_KEYS = {"centring", "scale_error", "prior_kl", "coverage", "largest_gap", "smoothness",
                 "prior_confident", "prior_confident_raw", "prior_class_entropy", "recon", "kl",
                 "elbo", "iwae_nll", "kl_per_dim", "active_units", "run", "kind", "dataset",
                 "n_images", "latent_dim", "view", "iwae_k", "seed", "classifier_accuracy", "seconds"}


def normal_codes(n=20000, d=2, seed=0):
    return torch.randn((n, d), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def judge_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("judge-cache")


@pytest.fixture(scope="module")
def judge(digits, judge_root):
    """Trained once for the module, into a cache folder the cache test starts from."""
    return load_or_train(digits, judge_root)


def test_prior_codes_score_near_zero():
    codes = normal_codes()
    assert centring(codes) < 0.03
    assert scale_error(codes) < 0.02
    assert prior_kl(codes) < 1e-3
    assert coverage(codes) > 0.97
    assert largest_gap(codes) < 0.25


def test_shifted_squeezed_cloud_scores_high():
    codes = 3.0 + 0.1 * normal_codes()
    assert centring(codes) == pytest.approx(3 * math.sqrt(2), abs=0.01)
    assert scale_error(codes) == pytest.approx(0.9, abs=0.01)
    assert prior_kl(codes) > 10
    assert coverage(codes) == 0.0  # the cloud sits outside the 2-sigma disk
    assert largest_gap(codes) > 2.5


def test_prior_kl_matches_torch_oracle():
    g = torch.Generator().manual_seed(1)
    a = torch.tensor([[1.5, 0.0, 0.0], [0.4, 0.7, 0.0], [0.1, -0.2, 0.3]])
    m = torch.tensor([0.5, -1.0, 0.2])
    codes = (torch.randn((200_000, 3), generator=g) @ a.T + m).double()
    mean, cov = codes.mean(0), torch.cov(codes.T)
    oracle = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(mean, cov),
        torch.distributions.MultivariateNormal(torch.zeros(3, dtype=torch.float64),
                                               torch.eye(3, dtype=torch.float64)))
    assert prior_kl(codes) == pytest.approx(float(oracle), rel=1e-4)


def test_coverage_half_disk_and_gap_geometry():
    codes = normal_codes(50000)
    right = codes[codes[:, 0] > 0]
    assert coverage(right) == pytest.approx(0.5, abs=0.06)
    # An empty disk of radius 1 around the origin: the largest gap is at least 1.
    ring = codes[codes.norm(dim=1) > 1.0]
    assert largest_gap(ring) >= 1.0 - 1e-6
    assert largest_gap(ring) < 1.2


def test_view_basis_pca_and_first():
    codes = normal_codes(5000, 4) * torch.tensor([0.1, 0.1, 3.0, 2.0])
    first = view_basis(codes, "first")
    assert torch.equal(first, torch.eye(4, 2))
    pca = view_basis(codes, "pca")
    assert pca.shape == (4, 2)
    assert abs(float(pca[2, 0])) > 0.99 and abs(float(pca[3, 1])) > 0.99
    with pytest.raises(ValueError):
        view_basis(codes, "bogus")


def _constant_decoder(digits, logit: float):
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=digits.image_shape)
    model = build_model(cfg)
    last = model.decoder.net[-2]  # Linear before Unflatten
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(logit)
    return model.eval()


@pytest.mark.parametrize("logit", [0.0, -4.0, 3.0])
def test_constant_decoder_perfectly_smooth_and_never_confident(digits, judge, logit):
    model = _constant_decoder(digits, logit)
    s = smoothness(model, torch.eye(2))
    assert s == {"mean": 0.0, "max": 0.0}
    conf = generation_test(model, model.encode_all(digits.test_x)[0], judge.model, "prior")
    assert conf.confident_capped == 0.0 and conf.confident_raw == 0.0
    assert conf.class_entropy == 0.0  # one image -> one class


def test_prior_confidence_caps_each_class(digits, judge):
    """A decoder that always draws the same real digit is confident but covers one class."""
    cfg = ModelConfig(kind="ae", latent_dim=2, hidden=(16,), input_shape=digits.image_shape)
    model = build_model(cfg)
    last = model.decoder.net[-2]
    image = digits.test_x[0].flatten().clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.log(image / (1 - image)))
    conf = generation_test(model.eval(), model.encode_all(digits.test_x)[0], judge.model, "prior")
    assert conf.confident_raw == 1.0
    assert conf.confident_capped == pytest.approx(0.1, abs=0.001)  # uniform cap: 1/10


@pytest.mark.slow
def test_judge_cache_roundtrip_and_corrupt_file(tmp_path, digits, judge, judge_root):
    import shutil

    first = judge
    assert first.trained_now and first.accuracy > 0.9
    shutil.copytree(judge_root / CACHE_DIR, tmp_path / CACHE_DIR)
    files = sorted((tmp_path / CACHE_DIR).iterdir())
    assert [f.suffix for f in files] == [".json", ".safetensors"]
    second = load_or_train(digits, tmp_path)
    assert not second.trained_now and second.accuracy == first.accuracy
    x = digits.test_x[:50]
    assert torch.allclose(first.model.probs(x), second.model.probs(x))
    files[1].write_bytes(b"\x80\x04 not safetensors")  # a hostile/corrupt cache file
    third = load_or_train(digits, tmp_path)
    assert third.trained_now and third.accuracy == pytest.approx(first.accuracy)
    assert list_runs(tmp_path) == []  # the cache folder is never listed as a run


def test_scorecard_keys_and_json(pair_root, digits, judge):
    vae_model = load_run(pair_root / "demo-vae").model
    ae = scorecard(load_run(pair_root / "demo-ae").model, digits, judge, iwae_k=20)
    vae = scorecard(vae_model, digits, judge, iwae_k=20)
    for card in (ae, vae):
        assert CONTRACT_KEYS <= set(card)
        json.loads(json.dumps(card, allow_nan=False))
        assert card["n_images"] == len(digits.test_x)
        assert 0 <= card["coverage"] <= 1 and 0 <= card["prior_confident"] <= 1
    assert all(ae[k] is None for k in ("kl", "elbo", "iwae_nll", "kl_per_dim", "active_units"))
    assert len(vae["kl_per_dim"]) == 2 and sum(vae["kl_per_dim"]) == pytest.approx(vae["kl"])
    # The ELBO from 20 samples per image agrees with the training loop's one-sample estimate.
    assert -vae["elbo"] == pytest.approx(evaluate(vae_model, digits.test_x)["loss"], rel=0.02)
    assert vae["iwae_nll"] <= -vae["elbo"] + 1e-6  # IWAE is a tighter bound than the ELBO
    rows = compare_rows(ae, vae)
    assert [r["metric"] for r in rows] == [c["metric"] for c in CLAIMS]
    assert {r["winner"] for r in rows} <= {"AE", "VAE", "tie", ""}


def test_active_units_and_winner():
    mu = torch.cat([normal_codes(1000, 1), torch.full((1000, 1), 0.3)], 1)
    assert active_units(mu) == 1
    assert winner("centring", 3.0, 0.1) == "VAE"
    assert winner("coverage", 0.2, 0.8) == "VAE"
    assert winner("recon", 20.0, 22.0) == "AE"
    assert winner("kl", None, 2.0) == ""
    assert winner("smoothness", {"mean": 0.1, "max": 1}, {"mean": 0.1, "max": 2}) == "tie"


def test_claims_table_is_well_formed():
    from ui.navigation import CLAIM_PAGES, PAGES

    for c in CLAIMS:
        assert set(c) == {"claim", "metric"}
        assert c["metric"] in METRICS
        assert CLAIM_PAGES[c["metric"]] in PAGES and (REPO / CLAIM_PAGES[c["metric"]].file).is_file()
    assert {"centring", "prior_kl", "coverage", "prior_confident"} <= {c["metric"] for c in CLAIMS}


@pytest.mark.slow
def test_vae_beats_ae_on_digits_with_fixed_seed(digits, judge):
    """The default settings (the one-click pair, seed 0). Checked for seeds 0-4: the closest
    margins were coverage 0.68 vs 0.51 and prior_confident 0.59 vs 0.39 (per-class capped)."""
    cards = {}
    for spec in quick_pair_specs("t", digits.image_shape):
        end = run_to_end(train(spec.model_config, spec.train_config, digits))
        assert end["status"] == "finished"
        cards[spec.model_config.kind] = scorecard(end["model"], digits, judge, iwae_k=10)
    ae, vae = cards["ae"], cards["vae"]
    assert vae["centring"] < ae["centring"]
    assert vae["prior_kl"] < ae["prior_kl"]
    assert vae["coverage"] > ae["coverage"]
    assert vae["prior_confident"] > ae["prior_confident"]
    assert vae["prior_class_entropy"] > ae["prior_class_entropy"]


def test_sweep_and_evaluate_cli(tmp_path, capsys):
    root = tmp_path / "ck"
    code = main(["sweep", "--betas", "0,50", "--epochs", "4", "--hidden", "32", "--root", str(root),
                 "--name", "sw", "--quiet", "--kl-warmup", "1", "--plot", str(tmp_path / "s.html")])
    assert code == 0
    out = capsys.readouterr().out
    assert "sweep sw" in out and "posterior collapse" in out  # beta 50 leaves no active unit
    infos = list_runs(root)
    assert {r.name for r in infos} == {sweep_run_name("sw", 0), sweep_run_name("sw", 50)}
    assert all(r.group == "sw" for r in infos)
    assert [r.beta for r in sweep_groups(infos)["sw"]] == [0.0, 50.0]
    assert load_run(root / "sw-b50").train_config.kl_warmup_epochs == 1
    assert (tmp_path / "s.html").stat().st_size > 1000
    assert main(["evaluate", "sw-b0", "--root", str(root), "--json", "--iwae-k", "5", "--quiet"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert CONTRACT_KEYS <= set(card) and card["run"] == "sw-b0" and card["iwae_k"] == 5
    assert main(["evaluate", str(root / "sw-b50"), "--root", str(root), "--quiet"]) == 0
    assert "active_units" in capsys.readouterr().out
    assert main(["evaluate", "no-such-run", "--root", str(root)]) == 2
    assert "No run folder" in capsys.readouterr().err


@pytest.fixture(scope="module")
def latent3_pair(digits):
    """A latent-3 AE+VAE pair (seed 0, 40 epochs); the VAE's idle dim is moved to dim 0."""
    from torch import nn

    from vae_core import TrainConfig
    from vae_core.losses import kl_per_dim

    models = {}
    for kind in ("ae", "vae"):
        cfg = ModelConfig(kind=kind, latent_dim=3, hidden=(128, 64), input_shape=digits.image_shape)
        end = run_to_end(train(cfg, TrainConfig(epochs=40, batch_size=64, lr=3e-3, seed=0), digits))
        models[kind] = end["model"]
    vae = models["vae"]
    mu, logvar = vae.encode_all(digits.test_x)
    kl = kl_per_dim(mu, logvar).mean(0)
    order = torch.argsort(kl)  # the idle dim first
    assert kl[order[0]] < 0.05 and kl[order[1:]].min() > 0.5  # one dim unused, two used
    d = vae.latent_dim
    first = next(m for m in vae.decoder.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        vae.head.weight.copy_(torch.cat([vae.head.weight[:d][order], vae.head.weight[d:][order]]))
        vae.head.bias.copy_(torch.cat([vae.head.bias[:d][order], vae.head.bias[d:][order]]))
        first.weight.copy_(first.weight[:, order])
    assert kl_per_dim(*vae.encode_all(digits.test_x)).mean(0)[0] < 0.05
    return models["ae"], vae


def test_latent3_verdicts_are_judged_on_the_used_dims(latent3_pair, digits, judge):
    """Issue 16.1: dims 0 and 1 by default judged a latent-3 VAE on an unused dim (its μ there is
    one value), handing coverage to the AE. The default view is the codes' PCA plane, named."""
    ae, vae = latent3_pair
    cards = {k: scorecard(m, digits, judge, iwae_k=2, bootstrap=20) for k, m in
             (("ae", ae), ("vae", vae))}
    assert cards["ae"]["view"] == cards["vae"]["view"] == "pca"
    rows = {r["metric"]: r["winner"] for r in compare_rows(cards["ae"], cards["vae"])}
    assert rows["coverage"] == "VAE"
    assert rows["largest_gap"] in ("VAE", "tie")
    old = scorecard(vae, digits, judge, iwae_k=2, bootstrap=0, view="first", codes="mean")
    assert old["view"] == "dims 0,1" and old["coverage"] < cards["vae"]["coverage"] - 0.2


def test_vae_shape_numbers_describe_sampled_codes(latent3_pair, digits, judge):
    """Issue 16.2: what should match N(0, I) is the aggregate posterior, z ~ q(z|x), not μ (whose
    idle dim has no spread at all). μ stays available, labelled."""
    _, vae = latent3_pair
    card = scorecard(vae, digits, judge, iwae_k=2, bootstrap=0)
    means = scorecard(vae, digits, judge, iwae_k=2, bootstrap=0, codes="mean")
    assert card["codes"] == "z ~ q(z|x)" and means["codes"] == "mu"
    assert card["scale_error"] < 0.1 < 0.25 < means["scale_error"]
    assert card["prior_kl"] < 0.1 < 1.0 < means["prior_kl"]


def test_winner_needs_a_margin():
    """Issue 16.7: any difference used to earn a tick; overlapping 95% intervals are a tie."""
    assert winner("coverage", 0.652, 0.696) == "VAE"  # no intervals: the bare comparison
    assert winner("coverage", 0.652, 0.696, ae_interval=[0.60, 0.70],
                  vae_interval=[0.65, 0.74]) == "tie"
    assert winner("coverage", 0.357, 0.696, ae_interval=[0.30, 0.40],
                  vae_interval=[0.65, 0.74]) == "VAE"


def test_scale_free_numbers_ignore_the_codes_scale(pair_root, digits, judge):
    """Issue 16.7: gaps and smoothness were measured on a fixed grid, so a wider space scored
    differently for being wide. An AE whose codes are 7x wider (head x7, decoder's first layer
    /7: the same function) gets the same scale-free numbers; only the prior-disk coverage, whose
    claim is about scale, changes."""
    import copy

    from torch import nn

    ae = load_run(pair_root / "demo-ae").model
    wide = copy.deepcopy(ae)
    first = next(m for m in wide.decoder.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        wide.head.weight.mul_(7)
        wide.head.bias.mul_(7)
        first.weight.div_(7)
    a = scorecard(ae, digits, judge, bootstrap=0)
    b = scorecard(wide, digits, judge, bootstrap=0)
    assert b["largest_gap"] == pytest.approx(a["largest_gap"], rel=1e-3)
    assert b["coverage_standardised"] == pytest.approx(a["coverage_standardised"], abs=0.01)
    assert b["smoothness"]["mean"] == pytest.approx(a["smoothness"]["mean"], rel=1e-3)
    assert b["coverage"] != pytest.approx(a["coverage"], abs=0.01)


def test_intervals_cover_every_compared_number(pair_root, digits, judge):
    ae = scorecard(load_run(pair_root / "demo-ae").model, digits, judge, iwae_k=2, bootstrap=30)
    vae = scorecard(load_run(pair_root / "demo-vae").model, digits, judge, iwae_k=2, bootstrap=30)
    for card in (ae, vae):
        for c in CLAIMS:
            value, interval = card[c["metric"]], card["intervals"].get(c["metric"])
            if value is None:
                continue
            value = value["mean"] if isinstance(value, dict) else value
            assert interval is not None and interval[0] <= value <= interval[1], c["metric"]
    assert 0 < ae["recon_floor"] < ae["recon"]  # grey pixels: a floor above 0 nats
