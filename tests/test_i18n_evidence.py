"""The Overview and Evidence pages in the ``qps`` pseudo-locale, in the states a person can reach
(runs or none, a β sweep with a collapsed member, a one-kind or latent-3 pick, every section,
training errors): no visible word outside the catalogs (``tests/i18n_walk.py``). And the section
radio, bound to the URL with translated labels, round-trips in Korean as in English."""
from __future__ import annotations

import json
import shutil

import pytest

from helpers import no_exception, page_app, train_and_save
from i18n_walk import assert_translated, opened
from ui.i18n import translate
from ui.navigation import EVIDENCE, OVERVIEW
from ui.state import EVIDENCE_SECTION, SWEEP_SECTION, run_choice_key
from vae_core import ModelConfig, TrainConfig
from vae_core.jobs import Job

SECTIONS = ("Scorecard", SWEEP_SECTION, "True posterior")  # the radio's values (ids)








def show_section(at, section: str):
    # Through session state: AppTest calls a widget's format_func outside the script run, where
    # ``_`` cannot see the session's language, so ``radio.set_value`` only works in English.
    at.session_state[EVIDENCE_SECTION] = section
    return no_exception(at.run())


def walk_sections(at, root) -> None:
    """Each section of the Evidence page, checked in turn."""
    for section in SECTIONS:
        show_section(at, section)
        assert at.radio(key=EVIDENCE_SECTION).value == section
        assert_translated(at, root)


def test_overview_with_a_pair(checkpoints, fresh_streamlit_cache):
    at = opened(OVERVIEW.file, "qps")
    assert len(at.get("plotly_chart")) == 2 and len(at.table) == 1  # the claims table is drawn
    assert_translated(at, checkpoints)


def test_overview_without_runs_and_after_training_errors(empty_checkpoints, fresh_streamlit_cache):
    at = opened(OVERVIEW.file, "qps")
    assert any("⟦No trained runs yet" in i.value for i in at.info)
    assert_translated(at, empty_checkpoints)
    # The engine refused the job (an EngineError's text, English from vae_core, framed).
    at.session_state["overview_job_error"] = "no Dask scheduler at tcp://10.0.0.9:8786"
    no_exception(at.run())
    assert_translated(at, empty_checkpoints)
    # A job that ran and failed.
    at.session_state["overview_job"] = Job(runs=[], dataset="digits", root=str(empty_checkpoints),
                                           state="failed", error="loss is nan at epoch 2")
    no_exception(at.run())
    assert at.button(key="overview_retry")
    assert_translated(at, empty_checkpoints)


def test_evidence_with_the_pair_every_section(checkpoints, fresh_streamlit_cache):
    at = opened(EVIDENCE.file, "qps")
    assert at.table and at.metric  # the scorecard and the judge's accuracy
    assert_translated(at, checkpoints)
    walk_sections(at, checkpoints)  # no sweep yet; the posterior of the demo VAE
    assert [m.label for m in at.metric][:1] == ["⟦Bernoulli log p(x), grid⟧"]
    no_exception(at.number_input(key="evidence_image").set_value(3).run())
    assert_translated(at, checkpoints)


@pytest.mark.slow
def test_evidence_with_a_sweep_and_a_collapsed_vae(checkpoints, digits, fresh_streamlit_cache):
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32,), input_shape=digits.image_shape)
    for beta, warm in ((0.5, 0), (40.0, 1)):  # β = 40: the posterior collapses
        train_and_save(checkpoints, f"sw-b{beta:g}", cfg,
                       TrainConfig(epochs=3, beta=beta, seed=0, kl_warmup_epochs=warm), digits,
                       group="sw")
    at = opened(EVIDENCE.file, "qps")
    at.session_state[run_choice_key("vae")] = "sw-b40"  # the collapsed run
    no_exception(at.run())
    assert at.warning  # the collapse warning over the scorecard
    assert_translated(at, checkpoints)
    show_section(at, SWEEP_SECTION)
    assert at.error and at.dataframe  # collapse flagged at β = 40; the sweep's table
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "⟦KL warm-up, collapsed⟧" in {t.get("name") for t in spec["data"]}
    assert_translated(at, checkpoints)
    walk_sections(at, checkpoints)


def test_evidence_with_one_kind_and_latent_3(checkpoints, digits, fresh_streamlit_cache):
    shutil.rmtree(checkpoints / "demo-ae")
    cfg = ModelConfig(kind="vae", latent_dim=3, hidden=(32,), input_shape=digits.image_shape)
    train_and_save(checkpoints, "z3-vae", cfg, TrainConfig(epochs=2, seed=0), digits)
    at = opened(EVIDENCE.file, "qps")
    assert at.warning  # only one kind of run
    assert_translated(at, checkpoints)
    walk_sections(at, checkpoints)  # the posterior asks for latent size 2


def test_evidence_without_runs(empty_checkpoints, fresh_streamlit_cache):
    at = opened(EVIDENCE.file, "qps")
    assert_translated(at, empty_checkpoints)
    walk_sections(at, empty_checkpoints)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_section_link_opens_in_each_language(lang, checkpoints, fresh_streamlit_cache):
    """The radio is bound to the URL with translated labels: a link holds the label in its own
    language (``?lang=`` travels with it) and opens that section. (AppTest does not write bound
    values back to the URL, so the link is written here as the browser would.)"""
    at = page_app(EVIDENCE.file)
    at.query_params.update({"lang": lang, EVIDENCE_SECTION: translate("β sweep", lang)})
    no_exception(at.run())
    assert at.radio(key=EVIDENCE_SECTION).value == SWEEP_SECTION
