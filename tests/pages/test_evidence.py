"""The Evidence page (AppTest through the frame), in every language: the scorecard, the β sweep
(with a collapsed member) and the true posterior; no runs, one kind of run, latent 3, a diverged
or collapsed VAE. The section radio is bound to the URL with translated labels."""
from __future__ import annotations

import json
import re

import pytest

from helpers import page_app, page_text
from helpers import no_exception as ok
from i18n_walk import LANGS, in_language, opened, tr
from ui.navigation import EVIDENCE
from ui.state import EVIDENCE_SECTION, SWEEP_SECTION, run_choice_key

SECTIONS = ("Scorecard", SWEEP_SECTION, "True posterior")  # the radio's values (ids)
POSTERIOR_METRICS = ("Bernoulli log p(x), grid", "ELBO", "gap = KL(q ‖ p(z|x))")


def show_section(at, section: str):
    # Through session state: AppTest calls a widget's format_func outside the script run, where
    # ``_`` cannot see the session's language, so ``radio.set_value`` only works in English.
    at.session_state[EVIDENCE_SECTION] = section
    return ok(at.run())


def walk_sections(at, lang: str, root) -> None:
    """Each section of the Evidence page, checked in turn."""
    for section in SECTIONS:
        show_section(at, section)
        assert at.radio(key=EVIDENCE_SECTION).value == section
        in_language(at, lang, root)


def says(at, lang: str, english: str) -> None:
    """``english`` is on the page (inside ⟦ ⟧ in qps; Korean has its own words, checked by
    ``in_language``)."""
    if lang != "ko":
        assert english in page_text(at), page_text(at)[:500]


def posterior_gap(at, lang: str) -> float:
    _ = tr(lang)
    labels = [m.label for m in at.metric]
    assert {_(m) if m != "ELBO" else m for m in POSTERIOR_METRICS} <= set(labels)
    gap = at.metric[labels.index(_("gap = KL(q ‖ p(z|x))"))].value
    return float(re.search(r"-?\d+\.\d+", gap).group())


@pytest.mark.parametrize("lang", LANGS)
def test_scorecard_sweep_with_a_collapsed_member_and_posterior(lang, collapsing_sweep):
    _ = tr(lang)
    at = in_language(opened(EVIDENCE.file, lang), lang, collapsing_sweep)
    table = at.table[0].value  # st.table: long cells wrap instead of being cut off
    assert list(table.columns[:4]) == [_("Claim"), _("Metric"), "AE", "VAE"]
    assert "`centring`" in set(table[_("Metric")]) and len(table) == 14  # the metric key, as code
    # Each value carries its margin in its cell: "0.357 [0.31, 0.40]" (the AE has no KL: "—");
    # a worst case in words: "(max 0.018)", "(최대 0.018)".
    assert all(re.fullmatch(r"\S+( \(\S+ \S+\))?( ✓)? \[\S+, \S+\]", re.sub("[⟦⟧]", "", v))
               for v in table["AE"] if v != "—"), "; ".join(table["AE"])
    assert set(table[_("Winner")]) <= {"AE", "VAE", _("tie"), "—"}
    assert at.metric[0].label == _("Judge classifier test accuracy")
    assert float(at.metric[0].value.rstrip("%")) > 90
    at.session_state[run_choice_key("vae")] = "sw-b40"  # the collapsed run
    ok(at.run())
    assert at.warning  # the collapse warning over the scorecard
    in_language(at, lang, collapsing_sweep)
    # The sweep section: one group, its figure (rate vs distortion + active units), collapse flagged.
    show_section(at, SWEEP_SECTION)
    assert at.selectbox(key="evidence_sweep").value == "sw"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in spec["data"]}
    assert _("recon + KL = const") in names and _("KL warm-up, collapsed") in names
    assert at.error  # collapse flagged at β = 40
    says(at, lang, "Posterior collapse (no active unit; the decoder ignores z) at β = 40")
    assert list(at.dataframe[0].value[_("run")]) == ["sw-b0", "sw-b40"]
    in_language(at, lang, collapsing_sweep)
    walk_sections(at, lang, collapsing_sweep)
    # The posterior section (last walked): grid log p(x), ELBO, gap.
    assert posterior_gap(at, lang) > -0.05
    ok(at.number_input(key="evidence_image").set_value(5).run())
    in_language(at, lang, collapsing_sweep)


@pytest.mark.parametrize("lang", LANGS)
def test_the_pair_every_section(lang, pair_view):
    at = in_language(opened(EVIDENCE.file, lang), lang, pair_view)
    assert at.table and at.metric  # the scorecard and the judge's accuracy
    walk_sections(at, lang, pair_view)  # no sweep yet; the posterior of the demo VAE
    assert [m.label for m in at.metric][:1] == [tr(lang)("Bernoulli log p(x), grid")]
    assert posterior_gap(at, lang) > -0.05
    ok(at.number_input(key="evidence_image").set_value(3).run())
    in_language(at, lang, pair_view)


@pytest.mark.parametrize("lang", LANGS)
def test_no_runs(lang, empty_checkpoints, fresh_streamlit_cache):
    at = in_language(opened(EVIDENCE.file, lang), lang, empty_checkpoints)
    says(at, lang, "No trained runs yet")
    assert len(at.dataframe) == 0
    show_section(at, SWEEP_SECTION)
    says(at, lang, "No β sweep yet")
    in_language(at, lang, empty_checkpoints)
    show_section(at, "True posterior")
    says(at, lang, "needs a VAE run")
    walk_sections(at, lang, empty_checkpoints)


@pytest.mark.parametrize("lang", LANGS)
def test_one_kind_only_and_latent_3(lang, one_kind):
    at = in_language(opened(EVIDENCE.file, lang), lang, one_kind)
    assert at.warning  # only one kind of run
    says(at, lang, "Only one kind of run")
    table = at.table[0].value
    assert set(table[tr(lang)("Winner")]) == {"—"} and (table["AE"] == "—").all()
    show_section(at, "True posterior")
    says(at, lang, "needs latent size 2")  # the newest VAE has latent 3
    walk_sections(at, lang, one_kind)


def test_diverged_runs_are_not_offered(checkpoints, fresh_streamlit_cache):
    meta_path = checkpoints / "demo-vae" / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["status"] = "diverged"
    meta_path.write_text(json.dumps(meta))
    at = ok(opened(EVIDENCE.file, "en"))
    assert "No usable VAE run" in page_text(at)
    assert all("demo-vae" not in str(o) for s in at.selectbox for o in s.options)


def test_collapsed_vae_wins_no_claim(collapsed):
    at = ok(opened(EVIDENCE.file, "en"))
    winners = set(at.table[0].value["Winner"])
    assert "VAE" not in winners and "none: the VAE's lead comes from collapse" in winners


def test_sweep_point_opens_latent_page_with_the_section_in_the_url(sweep_checkpoints):
    """The chosen sweep run is preselected in the Latent space page's VAE picker, also when the
    browser's URL holds the bound section (``st.switch_page`` refused to clear it)."""
    at = ok(page_app(EVIDENCE.file).run())
    ok(at.radio(key=EVIDENCE_SECTION).set_value("β sweep").run())
    at.selectbox(key="evidence_sweep_run").set_value("sw-b2")
    at.query_params[EVIDENCE_SECTION] = "β sweep"  # AppTest drops it after a run; a browser keeps it
    ok(at.button(key="evidence_open_latent").click().run())
    assert at.title[0].value == "Latent space"
    assert at.selectbox(key=run_choice_key("vae")).value == "sw-b2"  # the run name


@pytest.mark.parametrize("lang", LANGS)
def test_section_link_opens_in_each_language(lang, pair_view):
    """The radio is bound to the URL with translated labels: a link holds the label in its own
    language (``?lang=`` travels with it) and opens that section. (AppTest does not write bound
    values back to the URL, so the link is written here as the browser would.)"""
    at = ok(opened(EVIDENCE.file, lang, **{EVIDENCE_SECTION: tr(lang)("β sweep")}))
    assert at.radio(key=EVIDENCE_SECTION).value == SWEEP_SECTION
