"""Moving between pages (AppTest through the frame): the in-app buttons that switch pages, the
pair of runs that follows the student from page to page, links that name a run in either
language, and the language switch keeping every pick.

A browser keeps a URL-bound widget's value in the address bar when it differs from the default;
AppTest has no browser, so these tests put those values into ``at.query_params`` as the browser
would. ``st.switch_page`` raised "Cannot clear query parameters – bound to widgets" on such a URL.
"""
from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

import vae_core.jobs.plan as plan  # quick_pair_specs lives there: patched there
from helpers import as_shown, open_page, page_app, wait_for
from helpers import no_exception as ok
from ui import navigation
from ui.i18n import translate
from ui.state import run_choice_key

TIMEOUT = 90
SVG_URL = {"export_format": "SVG", "lang": "ko"}
DRAW = navigation.DRAW_A_DIGIT.file


def title(at: AppTest) -> str:
    return at.title[0].value


@pytest.fixture
def two_vaes(checkpoints):
    """The demo pair plus a second VAE, so a picker has a choice that is not its default."""
    shutil.copytree(checkpoints / "demo-vae", checkpoints / "demo-vae-2")
    return checkpoints


# --- the buttons that crashed (and Train's sweep button: tests/pages/test_train.py) ----------------------------------------------------------------

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
    wait_for(at.session_state["overview_job"])
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
def test_a_link_naming_a_run_keeps_it_in_the_address_bar(link, sweep_checkpoints):
    """By bare name, or by its label in the other language: the view opens on that run, and the
    address bar names it in this session's words, so copying the address opens it again."""
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


def test_a_pick_on_one_page_is_the_pick_on_every_page(sweep_checkpoints):
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


# --- links naming a run, and the language switch ------------------------------------------------

@pytest.mark.parametrize("made_in, opened_in", [("en", "ko"), ("ko", "en")])
def test_a_run_link_opens_the_same_run_in_the_other_language(made_in, opened_in, two_vaes,
                                                            fresh_streamlit_cache):
    at = ok(open_page(DRAW, timeout=120, lang=made_in))
    box = at.selectbox(key="vae_run")
    assert box.value == "demo-vae-2"  # the newest VAE is the default: pick the other one
    box.set_value("demo-vae").run()
    url = at.selectbox(key="vae_run").format_func("demo-vae")  # what the browser writes
    assert url.startswith("demo-vae (digits, ") and ("latent 2" in url) == (made_in == "en")

    shared = ok(open_page(DRAW, timeout=120, lang=opened_in, vae_run=url))
    assert shared.selectbox(key="vae_run").value == "demo-vae" and not shared.warning
    shown = shared.selectbox(key="vae_run").format_func("demo-vae")
    assert ("잠재" in shown) == (opened_in == "ko")
    # the next rerun puts the label of this language in the URL, and the choice stays
    shared.run()
    assert shared.query_params.get("vae_run") == shown
    assert shared.selectbox(key="vae_run").value == "demo-vae"


def test_a_link_may_name_the_bare_run_and_an_unknown_one_falls_back(two_vaes, fresh_streamlit_cache):
    at = ok(open_page(DRAW, timeout=120, lang="ko", vae_run="demo-vae", ae_run="deleted-run"))
    assert at.selectbox(key="vae_run").value == "demo-vae"
    assert at.selectbox(key="ae_run").value == "demo-ae"
    shown = as_shown(at.warning[0].value) if len(at.warning) == 1 else ""
    assert "'deleted-run'" in shown and "demo-ae" in shown
    assert "링크" in at.warning[0].value


def test_switching_the_language_keeps_the_picked_runs_and_updates_the_url(two_vaes, fresh_streamlit_cache):
    at = ok(open_page(DRAW, timeout=120))
    at.selectbox(key="vae_run").set_value("demo-vae").run()
    at.radio(key="draw_source").set_value("A test image").run()
    at.selectbox(key="draw_test_class").set_value(3).run()
    for lang, word in (("ko", "잠재"), ("en", "latent"), ("ko", "잠재")):
        # the sidebar switch's value (AppTest drops the frame's sidebar from its tree after the
        # first run, so the switch is set through its key, as its click would)
        at.session_state["lang"] = lang
        at.run()
        ok(at)
        vae = at.selectbox(key="vae_run")
        assert vae.value == "demo-vae" and word in vae.format_func("demo-vae")
        assert at.radio(key="draw_source").value == "A test image"
        assert at.selectbox(key="draw_test_class").value == 3
        # the browser is told the label of the new language, so the URL keeps the choice
        assert at.query_params.get("vae_run") == vae.format_func("demo-vae")
        at.run()  # a later rerun (the browser now sends the new label) keeps it too
        assert at.selectbox(key="vae_run").value == "demo-vae"
        assert at.selectbox(key="draw_test_class").value == 3
