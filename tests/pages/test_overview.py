"""The Overview page (AppTest through the frame), in every language: the story and its schematics
without runs, the newest pair's maps and claims table, the one-click pair, training errors."""
from __future__ import annotations

import re
import time

import pytest

import vae_core.jobs.plan as plan  # quick_pair_specs lives there: patched there
from helpers import chart_specs, wait_for
from helpers import no_exception as ok
from i18n_walk import LANGS, in_language, opened, tr
from ui.navigation import CLAIM_PAGES, OVERVIEW
from vae_core.analysis.scorecard import CLAIMS
from vae_core.jobs import Job

TIMEOUT = 60  # the first run of a page imports torch and loads the data set


@pytest.mark.parametrize("lang", LANGS)
def test_overview_without_runs_shows_story_schematics_button_and_training_errors(
        lang, empty_checkpoints, fresh_streamlit_cache):
    _ = tr(lang)
    at = in_language(opened(OVERVIEW.file, lang, TIMEOUT), lang, empty_checkpoints)
    assert len(at.latex) >= 3 and any(r"\sigma \odot \varepsilon" in x.value for x in at.latex)
    assert any(i.value == _("No trained runs yet: the pictures above are schematic. One click trains "
                            "a real pair.") for i in at.info)
    titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
    assert titles[:2] == [_("AE: one point per image"), _("VAE: one Gaussian per image")]
    assert at.button(key="overview_quick").label == _("Train an AE+VAE pair on digits")
    # The engine refused the job (an EngineError's text, English from vae_core, framed).
    at.session_state["overview_job_error"] = "no Dask scheduler at tcp://10.0.0.9:8786"
    in_language(at.run(), lang, empty_checkpoints)
    # A job that ran and failed.
    at.session_state["overview_job"] = Job(runs=[], dataset="digits", root=str(empty_checkpoints),
                                           state="failed", error="loss is nan at epoch 2")
    in_language(at.run(), lang, empty_checkpoints)
    assert any(e.value == _("Training failed: {error}", error="loss is nan at epoch 2") for e in at.error)
    assert at.button(key="overview_retry")


@pytest.mark.parametrize("lang", LANGS)
def test_overview_draws_newest_pair_and_claims(lang, pair_view):
    _ = tr(lang)
    at = opened(OVERVIEW.file, lang, TIMEOUT)
    titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
    assert len(titles) == 2 and len(at.table) == 1  # the claims table is drawn at once
    for title, kind in zip(titles, ("AE", "VAE")):  # "AE: demo-ae (codes span ±…)"
        whole = _("{kind}: {run} (codes span {span})", kind=kind, run=f"demo-{kind.lower()}", span="±")
        assert title.startswith(whole[:whole.index("±") + 1]), title
    in_language(at, lang, pair_view)
    # The scorecards are computed in the background: the first view never waits for them; the
    # page says so and looks again (a fragment in the browser; here, reruns) until they are in.
    deadline = time.monotonic() + TIMEOUT
    while any(c.value == _("Computing this pair's numbers…") for c in at.caption):
        assert time.monotonic() < deadline, "the scorecards never arrived"
        time.sleep(0.2)
        ok(at.run())
    table = at.table[0].value  # st.table: long cells wrap instead of being cut off
    claim_column = _("Claim (and where to see it)")
    # Each claim names the page that shows it.
    assert list(table[claim_column]) == [_("{claim} → *{page}*", claim=_(c["claim"]),
                                           page=_(CLAIM_PAGES[c["metric"]].title)) for c in CLAIMS]
    assert list(table[claim_column])[0].endswith(f"*{_('Latent space')}*" + ("⟧" if lang == "qps" else ""))
    # Each claim shows the current pair's numbers and verdict (the Evidence scorecard's).
    assert list(table.columns) == [claim_column, _("Metric"), "AE", "VAE", _("Verdict here")]
    assert "`centring`" in set(table[_("Metric")])
    numbers = [v for v in list(table["AE"]) + list(table["VAE"]) if re.match(r"^-?\d+\.\d+", v)]
    assert len(numbers) >= len(CLAIMS)  # AE and VAE values (the AE has none for VAE-only metrics)
    assert sum(v == "VAE" for v in table[_("Verdict here")]) >= 3  # the demo VAE wins the latent claims
    in_language(at, lang, pair_view)


@pytest.mark.slow
def test_overview_one_click_trains_a_pair_then_opens_latent_space(empty_checkpoints,
                                                                  fresh_streamlit_cache,
                                                                  monkeypatch):
    real = plan.quick_pair_specs
    monkeypatch.setattr(plan, "quick_pair_specs", lambda name, shape: real(name, shape, epochs=1))
    at = ok(opened(OVERVIEW.file, "en", TIMEOUT))
    ok(at.button(key="overview_quick").click().run())
    job = at.session_state["overview_job"]
    assert job.group == "quick" and [r.name for r in job.runs] == ["quick-ae", "quick-vae"]
    wait_for(job)
    assert job.state == "finished", job.error
    assert {p.name for p in empty_checkpoints.iterdir()} == {"quick-ae", "quick-vae"}
    ok(at.run())
    assert "overview_job" not in at.session_state  # switched to the Latent space page once
    assert at.title[0].value == "Latent space"
