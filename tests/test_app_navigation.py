"""AppTest through the frame: the in-app buttons that move to another page, and the pair of runs
that follows the student from page to page.

A browser keeps a URL-bound widget's value in the address bar when it differs from the default;
AppTest has no browser, so these tests put those values into ``at.query_params`` as the browser
would. ``st.switch_page`` raised "Cannot clear query parameters – bound to widgets" on such a URL.
"""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

import vae_core.jobs as jobs
import vae_core.jobs.plan as plan  # quick_pair_specs lives there: patched there
from helpers import no_exception as ok
from helpers import page_app, train_and_save
from ui import navigation
from ui.i18n import translate
from ui.state import run_choice_key
from vae_core import ModelConfig, TrainConfig

TIMEOUT = 90
SWEEP_URL = {"train_mode": "β sweep", "train_betas": "0, 2", "train_epochs": "1"}
SVG_URL = {"export_format": "SVG", "lang": "ko"}


def wait(job: jobs.Job, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while job.active:
        assert time.time() < deadline, f"job still {job.state} after {seconds} s"
        time.sleep(0.05)


def sweep(root, digits, betas=(0.5, 2.0), group="sw") -> None:
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32,), input_shape=digits.image_shape)
    for beta in betas:
        train_and_save(root, f"{group}-b{beta:g}", cfg, TrainConfig(epochs=2, beta=beta), digits,
                       group=group)


def title(at: AppTest) -> str:
    return at.title[0].value


# --- the three buttons that crashed --------------------------------------------------------------

def test_train_sweep_button_opens_evidence_with_bound_widgets_in_the_url(checkpoints,
                                                                          fresh_streamlit_cache):
    at = page_app(navigation.TRAIN.file, TIMEOUT)
    # The student's address bar after choosing a sweep of one epoch.
    at.query_params.update(SWEEP_URL)
    ok(at.run())
    assert at.button_group(key="train_mode").value == "sweep"
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    wait(job)
    ok(at.run())
    at.query_params.update(SWEEP_URL)  # AppTest drops them after a run; a browser keeps them
    ok(at.button(key="train_open_sweep").click().run())
    assert title(at) == "Evidence"
    assert at.radio(key="evidence_section").value == "β sweep"
    assert at.selectbox(key="evidence_sweep").value == job.group


def test_evidence_open_latent_plot_with_the_sweep_section_in_the_url(checkpoints, digits,
                                                                     fresh_streamlit_cache):
    sweep(checkpoints, digits)
    at = page_app(navigation.EVIDENCE.file, TIMEOUT)
    at.query_params["evidence_section"] = "β sweep"
    ok(at.run())
    at.selectbox(key="evidence_sweep_run").set_value("sw-b2")
    at.query_params["evidence_section"] = "β sweep"
    ok(at.button(key="evidence_open_latent").click().run())
    assert title(at) == "Latent space"
    assert at.selectbox(key=run_choice_key("vae")).value == "sw-b2"


def test_overview_one_click_with_svg_charts_opens_latent_space(empty_checkpoints,
                                                               fresh_streamlit_cache, monkeypatch):
    real = plan.quick_pair_specs
    monkeypatch.setattr(plan, "quick_pair_specs", lambda name, shape: real(name, shape, epochs=1))
    at = page_app(timeout=TIMEOUT)
    at.query_params.update(SVG_URL)
    ok(at.run())
    assert at.radio(key="export_format").value == "svg"
    ok(at.button(key="overview_quick").click().run())
    # The student looks at Train while the pair trains, and comes back to the Overview.
    ok(at.switch_page(navigation.TRAIN.file).run())
    wait(at.session_state["overview_job"])
    at.query_params.update(SVG_URL)
    ok(at.switch_page(navigation.OVERVIEW.file).run())
    assert title(at) == translate("Latent space", "ko")  # the language stays
    assert at.query_params.get("lang") == "ko"
    # The new pair is the current one.
    assert at.selectbox(key=run_choice_key("vae")).value == "quick-vae"


# --- one current pair per session ----------------------------------------------------------------

PICKER_PAGES = [p.file for p in (navigation.LATENT_SPACE, navigation.DECODER_GRID, navigation.GENERATE,
                                 navigation.REPARAMETERIZATION, navigation.EVIDENCE,
                                 navigation.TRAINING_REPLAY, navigation.DRAW_A_DIGIT)]


@pytest.mark.parametrize("link", ["bare", "ko"])
def test_a_link_naming_a_run_keeps_it_in_the_address_bar(link, checkpoints, digits,
                                                         fresh_streamlit_cache):
    """By bare name, or by its label in the other language: the view opens on that run, and the
    address bar names it in this session's words, so copying the address opens it again."""
    sweep(checkpoints, digits)
    probe = ok(page_app(navigation.LATENT_SPACE.file, TIMEOUT).run())
    english = probe.selectbox(key=run_choice_key("vae")).format_func("sw-b0.5")  # not the newest
    at = page_app(navigation.LATENT_SPACE.file, TIMEOUT)
    if link == "ko":
        at.query_params["lang"] = "en"
        korean = ok(page_app(navigation.LATENT_SPACE.file, TIMEOUT))
        korean.query_params["lang"] = "ko"
        korean.run()
        at.query_params[run_choice_key("vae")] = korean.selectbox(key=run_choice_key("vae")).format_func(
            "sw-b0.5")
    else:
        at.query_params[run_choice_key("vae")] = "sw-b0.5"
    ok(at.run())
    assert at.selectbox(key=run_choice_key("vae")).value == "sw-b0.5"
    assert at.query_params.get(run_choice_key("vae")) == english


def test_a_pick_on_one_page_is_the_pick_on_every_page(checkpoints, digits, fresh_streamlit_cache):
    sweep(checkpoints, digits)
    at = ok(page_app(navigation.LATENT_SPACE.file, TIMEOUT).run())
    vae, ae = run_choice_key("vae"), run_choice_key("ae")
    assert at.selectbox(key=vae).value == "demo-vae"  # the newest pair (one group)
    ok(at.selectbox(key=vae).set_value("sw-b0.5").run())
    for page in PICKER_PAGES + [navigation.OVERVIEW.file, navigation.TRAIN.file] + PICKER_PAGES[:1]:
        ok(at.switch_page(page).run())
        if page in PICKER_PAGES:
            assert at.selectbox(key=vae).value == "sw-b0.5", page
            assert at.selectbox(key=ae).value == "demo-ae", page
    # The Overview's pictures and numbers are of the current pair too.
    ok(at.switch_page(navigation.OVERVIEW.file).run())
    assert any("VAE sw-b0.5" in c.value for c in at.caption)
    # A pick on another page changes it everywhere.
    ok(at.switch_page(navigation.GENERATE.file).run())
    ok(at.selectbox(key=vae).set_value("demo-vae").run())
    ok(at.switch_page(navigation.DECODER_GRID.file).run())
    assert at.selectbox(key=vae).value == "demo-vae"
