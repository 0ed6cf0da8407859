"""Issue #12 on the Reparameterization and Training replay pages beyond their first view: every
state a student can reach (other slider values, a collapsed VAE, another snapshot, an old run
without snapshots) walked in the ``qps`` pseudo-locale, where any visible word that skipped the
catalogs shows (``tests/i18n_walk.py``); plus the σ-not-σ² note and replay links in both languages."""
from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from helpers import as_shown
from i18n_walk import assert_translated, opened
from vae_core.store.replay import SNAPSHOTS_FILE

REPARAM = "pages/5_Reparameterization.py"
REPLAY = "pages/7_Training_replay.py"








def animation(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def sigma_note(at: AppTest) -> str:
    """The info box that explains z = μ + σ·ε against the blog post's σ²ε."""
    notes = [i.value for i in at.info if "σ²·ε" in i.value]
    assert len(notes) == 1, [i.value for i in at.info]
    return notes[0]


def test_reparameterization_page_states_are_translated(checkpoints, fresh_streamlit_cache):
    at = opened(REPARAM, "qps")
    assert_translated(at, checkpoints)
    assert sigma_note(at).startswith("⟦**Why σ·ε and not σ²·ε?**")
    steps = [lambda: at.slider(key="reparam_mu").set_value(-2.0),
             lambda: at.slider(key="reparam_sigma").set_value(2.0),
             lambda: at.select_slider(key="reparam_n").set_value(10000),
             lambda: at.number_input(key="reparam_seed").set_value(7),
             lambda: at.selectbox(key="reparam_image_class").set_value(3),
             lambda: at.slider(key="reparam_k").set_value(4),
             lambda: at.number_input(key="reparam_sample_seed").set_value(5),
             lambda: at.toggle(key="reparam_zoom").set_value(False)]
    for change in steps:
        change().run()
        assert_translated(at, checkpoints)
    # every Plotly legend, axis and title of the page went through the catalog too
    names = [t.get("name") for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]]
    assert "⟦4 draws z = μ + σ·ε⟧" in names
    assert "⟦10000 draws of z⟧" in names


def test_sigma_note_reads_its_numbers_from_the_draws(checkpoints, fresh_streamlit_cache):
    """The note's check is computed: at σ = 2 the draws' spread is σ, not σ² = 4."""
    at = opened(REPARAM, "en", reparam_sigma="2.0", reparam_n="10000")
    note = sigma_note(at)
    assert '"VAE 핵심 요약"' in note and "σ = exp(0.5·logvar)" in note
    sd = float(re.search(r"standard deviation (\d+\.\d+), for σ = 2\.00 \(σ² = 4\.000\)", note).group(1))
    assert sd == pytest.approx(2.0, rel=0.05)


def test_sigma_note_in_korean_names_the_blog_post(checkpoints, fresh_streamlit_cache):
    at = opened(REPARAM, "ko")
    note = sigma_note(at)
    assert "「VAE 핵심 요약」" in note and "표준편차" in note and "σ = exp(0.5·logvar)" in note
    assert "$Z = \\mu + \\sigma^2 \\epsilon$" in note  # the formula as the post writes it, unchanged
    assert at.title[0].value == "재매개변수화 트릭과 KL"


def test_collapsed_vae_on_the_reparameterization_page_is_translated(collapsed):
    at = opened(REPARAM, "qps")
    at.selectbox(key="vae_run").set_value("b8-vae").run()
    assert any(c.value.startswith("⟦This VAE collapsed") for c in at.caption)
    assert_translated(at, collapsed)


def test_replay_page_and_another_snapshot_are_translated(checkpoints, fresh_streamlit_cache):
    at = opened(REPLAY, "qps")
    assert_translated(at, checkpoints)
    layout = animation(at)["layout"]
    assert [b["label"] for b in layout["updatemenus"][0]["buttons"]] == ["⟦▶ Play⟧", "⟦❚❚ Pause⟧"]
    assert layout["sliders"][0]["currentvalue"]["prefix"] == "⟦optimizer step ⟧"
    steps = [s["label"] for s in layout["sliders"][0]["steps"]]
    middle = steps[len(steps) // 2]
    at = opened(REPLAY, "qps", replay_snapshot=middle)
    assert animation(at)["layout"]["sliders"][0]["active"] == len(steps) // 2
    assert_translated(at, checkpoints)


def test_a_replay_link_opens_the_same_snapshot_in_both_languages(checkpoints, fresh_streamlit_cache):
    """A link's ?replay_snapshot= is the optimizer step itself, not a worded label."""
    step = animation(opened(REPLAY, "en"))["layout"]["sliders"][0]["steps"][2]["label"]
    for lang in ("en", "ko"):
        at = opened(REPLAY, lang, replay_snapshot=step)
        assert animation(at)["layout"]["sliders"][0]["active"] == 2
    assert animation(opened(REPLAY, "en", replay_snapshot="nonsense"))["layout"]["sliders"][0]["active"] > 2

def test_replay_of_old_runs_without_snapshots_is_translated(checkpoints, fresh_streamlit_cache):
    (checkpoints / "demo-ae" / SNAPSHOTS_FILE).unlink()
    at = opened(REPLAY, "qps")
    assert [as_shown(w.value) for w in at.warning] == [
        "⟦{model} run {run}: replay unavailable. {detail}⟧".format(
            model="AE", run="demo-ae",
            detail="⟦This run has no training snapshots (it was saved before replay existed, or its model "
                   "was too large to keep any). Train it again to replay it.⟧")]
    assert len(at.get("plotly_chart")) >= 1  # the VAE is still replayed
    assert_translated(at, checkpoints)
    (checkpoints / "demo-vae" / SNAPSHOTS_FILE).unlink()  # while the server runs: not served from the cache
    at = opened(REPLAY, "ko")
    assert len(at.warning) == 2 and all("학습 스냅샷이 없어요" in w.value for w in at.warning)
    assert not at.get("plotly_chart")
    at = opened(REPLAY, "qps")
    assert_translated(at, checkpoints)
