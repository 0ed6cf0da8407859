"""Caption builders: sentences computed from the numbers of real tiny models, flipping with them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ui.captions import (interpolation_caption, prior_draws_note, collapse_warning, decoder_grid_caption, generation_caption,
                         latent_space_caption, marginals_caption, scale_note, span_text,
                         verdict_label)
from vae_core import ModelConfig, TrainConfig, load_run, run_to_end, train
from vae_core.analysis.classifier import load_or_train
from vae_core.analysis.generation import decoder_codes, generation_scores, generation_tests
from vae_core.analysis.scorecard import code_stats

REPO = Path(__file__).resolve().parent.parent


def numbers(model, digits, judge) -> dict:
    """What a page would pass: code stats plus the generation keys of one model."""
    mu, logvar = model.encode_all(digits.test_x)
    stats = code_stats(mu, logvar)
    stats.update(generation_scores(generation_tests(model, decoder_codes(mu, logvar), judge, n=300)))
    return stats


@pytest.fixture(scope="module")
def real(pair_root, digits):
    judge = load_or_train(digits, root=None)
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(64, 32), input_shape=digits.image_shape)
    collapsed = run_to_end(train(cfg, TrainConfig(epochs=8, lr=3e-3, beta=8.0), digits))["model"]
    return {"ae": numbers(load_run(pair_root / "demo-ae").model, digits, judge),
            "vae": numbers(load_run(pair_root / "demo-vae").model, digits, judge),
            "collapsed": numbers(collapsed, digits, judge)}


def test_captions_need_no_streamlit():
    code = "import sys, ui.captions; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_latent_caption_states_this_pairs_spans(real):
    ae, vae = real["ae"], real["vae"]
    text = latent_space_caption(ae, vae)
    assert f"the AE's codes span {span_text(ae['code_span'])}" in text
    assert f"the VAE's {span_text(vae['code_span'])}" in text
    assert "pulls the VAE's codes" in text and f"{vae['centring']:.2f} from 0" in text
    assert collapse_warning(vae) is None and collapse_warning(ae) is None


def test_collapsed_vae_flips_every_caption(real):
    ae, vae = real["ae"], real["collapsed"]
    assert vae["collapsed"]
    warning = collapse_warning(vae)
    assert "collapsed" in warning and f"0 of {vae['latent_dim']} latent dims" in warning
    assert "lower β" in warning and "Alemi et al. 2018" in warning
    latent = latent_space_caption(ae, vae)
    assert "has not packed" in latent and "pulls" not in latent
    assert "cannot show the lesson" in generation_caption(ae, vae)
    assert "every tile is the same image" in decoder_grid_caption(ae["code_span"], vae["code_span"],
                                                                   3.0, vae_collapsed=True)
    # No "5000x narrower" ratio for a cloud that is one dot, no "close to N(0, 1)" marginals.
    note = scale_note(ae["code_span"], vae["code_span"], shared_axes=False, vae_collapsed=True)
    assert "narrower" not in note and "collapsed" in note
    assert "spike at 0" in marginals_caption(vae, codes="mean")
    assert "only because its posterior collapsed" in marginals_caption(vae)
    assert "come close" not in marginals_caption(vae)
    ok = real["vae"]  # 12 epochs on digits
    expected = ("come close" if ok["scale_error"] < 0.25 and ok["centring"] < 0.5
                else f"are off (mean {ok['centring']:.2f} from 0")
    assert expected in marginals_caption(ok)
    assert "come close" in marginals_caption({"collapsed": False, "centring": 0.03, "scale_error": 0.05})


def test_marginals_describe_sampled_codes_not_means(real):
    """Issue 16.2: the caption blamed the KL for μ's spread being off unit, which μ is by design
    (Var μ + E σ² ≈ 1). It quotes z ~ q(z|x); the μ view says why μ is narrower."""
    vae = real["vae"]
    assert vae["codes"] == "z ~ q(z|x)" and vae["scale_error"] < vae["scale_error_mu"]
    text = marginals_caption(vae)
    assert f"{vae['scale_error']:.2f}" in text and "z ~ q(z|x)" in text
    means = marginals_caption(vae, codes="mean")
    assert "narrower than the prior by design" in means and f"{vae['scale_error_mu']:.2f}" in means


def test_generation_caption_quotes_the_draws(real):
    ae, vae = real["ae"], real["vae"]
    text = generation_caption(ae, vae)
    assert (f"the AE's samples cover {ae['prior_classes_covered']} of 10 classes "
            f"({100 * ae['prior_confident_raw']:.0f}% judged confidently; "
            f"{100 * ae['prior_confident']:.0f}% when each class counts") in text
    assert f"the VAE's {vae['prior_classes_covered']} " in text
    assert f"covers {ae['fitted_classes_covered']} of 10 classes" in text
    assert f"{100 * ae['fitted_in_gaps']:.0f}% of those draws land in gaps" in text


def gen(prior_cov, prior_ok, fitted_cov=5, fitted_ok=0.5, fitted_gaps=0.2, prior_gaps=0.06,
        collapsed=False):
    return {"prior_classes_covered": prior_cov, "prior_confident_raw": prior_ok,
            "prior_in_gaps": prior_gaps, "prior_class_counts": [0] * 10,
            "fitted_classes_covered": fitted_cov, "fitted_confident_raw": fitted_ok,
            "fitted_in_gaps": fitted_gaps, "collapsed": collapsed}


def test_generation_caption_flips_with_coverage():
    vae = gen(9, 0.6)
    crisp_few = generation_caption(gen(3, 0.8), vae)
    assert "look fine, yet they reach only the 3 classes" in crisp_few
    varied = generation_caption(gen(10, 0.7), vae)
    assert "claim does not hold" in varied and "look fine" not in varied
    junk = generation_caption(gen(2, 0.2), vae)
    assert "junk" in junk and "does not hold" not in junk
    fitted_wins = generation_caption(gen(3, 0.8, fitted_cov=10, fitted_ok=0.7), vae)
    assert "about as well as the VAE" in fitted_wins and "Ghosh et al. 2020" in fitted_wins
    assert "not that an AE can never generate" in fitted_wins  # issue 16.6: the real nuance
    assert "about as well" not in generation_caption(gen(3, 0.8, fitted_cov=4, fitted_ok=0.3), vae)
    assert generation_caption({}, vae) == ""  # no numbers, no claim


def test_latent_caption_flips_for_a_centred_ae_and_partial_collapse():
    vae = {"code_span": 2.5, "centring": 0.05, "scale_error": 0.1, "collapsed": False,
           "active_units": 1, "latent_dim": 2}
    centred = latent_space_caption({"code_span": 3.0, "centring": 0.2, "scale_error": 0.1}, vae)
    assert "happens to be centred" in centred and "close to unit" in centred
    assert "Only 1 of the VAE's 2 latent dims are active" in centred
    far = latent_space_caption({"code_span": 19.4, "centring": 6.3, "scale_error": 8.0}, vae)
    assert "Nothing pulls the AE's codes: their mean sits 6.3 from 0" in far
    assert "happens" not in far and "±19" in far


def test_decoder_grid_caption_follows_the_grid_width():
    assert "shows only the middle" in decoder_grid_caption(19.4, 2.6, 3.0)
    assert "holds all the AE's codes" in decoder_grid_caption(19.4, 2.6, 20.0)
    fit = decoder_grid_caption(19.4, 2.6, None)
    assert "Each grid spans its own model's codes: the AE's ±19, the VAE's ±2.6" in fit
    assert "tiles beyond that" in decoder_grid_caption(19.4, 2.6, 3.0)
    assert "tiles beyond that" not in decoder_grid_caption(19.4, 2.6, 2.0)


def test_scale_note_and_verdict_label():
    assert "7× farther" in scale_note(19.0, 2.6, shared_axes=True)
    assert "same scale" in scale_note(2.0, 2.6, shared_axes=True)
    assert "7.3× narrower" in scale_note(19.0, 2.6, shared_axes=False)
    assert scale_note(19.0, 0.0, shared_axes=False) == ""
    assert verdict_label("collapsed").startswith("none") and verdict_label("") == "—"
    assert (span_text(19.4), span_text(2.63)) == ("±19", "±2.6")


def test_interpolation_caption_says_what_each_frame_shows():
    """Issue 16.6: "the VAE's frames morph smoothly" was said of a 0→1 strip that never reaches a 1."""
    never = interpolation_caption("VAE", list("0006666666"), [0.99] * 10, "0", "1", 0.9)
    assert "0 0 0 6 6 6 6 6 6 6" in never and "never reaches a 1" in never
    assert "passes through 6" in never and "smooth" not in never
    blur = interpolation_caption("AE", list("0000111111"), [0.99] * 4 + [0.3] * 2 + [0.99] * 4,
                                 "0", "1", 0.9)
    assert "0 0 0 0 ? ? 1 1 1 1" in blur and "frame 7 of 10" in blur and "2 of 10 frames are unsure" in blur
    smooth = interpolation_caption("VAE", list("0000011111"), [0.95] * 10, "0", "1", 0.9)
    assert "smooth morph" in smooth and "frame 6 of 10" in smooth
    assert "same average image" in interpolation_caption("VAE", list("8888"), [0.5] * 4, "0", "1",
                                                         0.9, collapsed=True)


def test_overview_states_the_measured_share_of_plausible_draws(real):
    """Issue 16.6: "any z drawn from N(0, I) decodes to a plausible image" was stated, not measured."""
    ae, vae = real["ae"], real["vae"]
    text = prior_draws_note(ae, vae)
    # The number of draws is the measured one (300 here), not the scorecard's default 1,000.
    assert vae["generation_n"] == 300
    assert f"{100 * vae['prior_confident_raw']:.0f}% of the VAE's 300 N(0, I) draws" in text
    assert f"{100 * vae['prior_in_gaps']:.0f}% land in gaps" in text and "Ghosh et al. 2020" in text
    assert prior_draws_note(ae, {}) == ""
    overview = (REPO / "pages" / "0_Overview.py").read_text(encoding="utf-8")
    assert "any z drawn from N(0, I) decodes to a plausible image" not in overview
