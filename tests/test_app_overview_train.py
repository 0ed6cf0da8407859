"""AppTest of the Overview and Train pages, plus the pure pieces they rely on.

The pages really train: epochs are patched down so a job takes a fraction of a second, and the
tests wait on the job object the page keeps in ``st.session_state`` (AppTest drives no timers).
"""
from __future__ import annotations

import json
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

import vae_core.jobs as jobs
import vae_core.jobs.plan as plan  # quick_pair_specs lives there: patched there
from helpers import chart_specs, open_page
from helpers import no_exception as ok
from ui.navigation import TRAIN
from vae_core import ModelConfig, TrainConfig
from vae_core.viz.figures import loss_curves
from vae_core.analysis.scorecard import CLAIMS

TIMEOUT = 60  # the first run of a page imports torch and loads the data set


def wait(job: jobs.Job, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while job.active:
        assert time.time() < deadline, f"job still {job.state} after {seconds} s"
        time.sleep(0.05)


def train_page() -> AppTest:
    return ok(open_page(TRAIN.file, timeout=TIMEOUT))


RUNS_TABLE, RESULTS_TABLE = "group", "seconds"  # a column only that table has


def table(at: AppTest, column: str):
    # st.dataframe without on_select carries no key in AppTest: find the table by a column.
    return next(d for d in at.dataframe if column in d.value.columns).value


# --- pure pieces ---------------------------------------------------------------------------------

def test_loss_curves_draws_recon_and_kl_of_both_members():
    rec = {"type": "step", "samples_seen": 64, "epoch": 1, "recon": 30.0, "kl": 1.0}
    end = {"type": "epoch", "samples_seen": 128, "epoch": 1, "recon": 25.0, "kl": 2.0,
           "test_recon": 26.0, "test_kl": 2.5}
    fig = loss_curves({"p-ae": [rec, end], "p-vae": [rec, end]}, {"p-ae": "ae", "p-vae": "vae"})
    by_axis = {(t.name, t.xaxis) for t in fig.data}
    for kind in ("train", "test"):
        assert {(f"p-ae {kind}", "x"), (f"p-vae {kind}", "x")} <= by_axis  # reconstruction panel
        assert (f"p-vae {kind}", "x2") in by_axis  # KL panel
        assert (f"p-ae {kind}", "x2") not in by_axis  # the AE has no KL term
    test_kl = next(t for t in fig.data if t.name == "p-vae test" and t.xaxis == "x2")
    assert list(test_kl.y) == [2.5] and list(test_kl.x) == [128]
    # Log KL axis: a beta = 0 run's KL of ~36 does not flatten the others' 1-5 nats.
    assert fig.layout.yaxis2.type == "log"


def test_plan_runs_modes_and_betas():
    cfg, tcfg = ModelConfig(), TrainConfig(beta=1.0)
    specs, group = jobs.plan_runs("pair", "p", cfg, tcfg)
    assert [(s.name, s.model_config.kind) for s in specs] == [("p-ae", "ae"), ("p-vae", "vae")]
    assert group == "p" and specs[0].train_config == specs[1].train_config
    specs, group = jobs.plan_runs("sweep", "s", cfg, tcfg, jobs.parse_betas("0, 0.25,8"))
    assert [(s.name, s.train_config.beta) for s in specs] == [("s-b0", 0.0), ("s-b0.25", 0.25),
                                                              ("s-b8", 8.0)]
    assert group == "s" and {s.model_config.kind for s in specs} == {"vae"}
    assert jobs.plan_runs("ae", "a", cfg, tcfg) == ([jobs.RunSpec("a", cfg.with_kind("ae"), tcfg)], None)
    for bad in ("", "1, x", "-1", "1, 1"):
        with pytest.raises(ValueError):
            jobs.parse_betas(bad)


def test_quick_pair_is_a_fair_2d_pair():
    ae, vae = jobs.quick_pair_specs("q", (1, 8, 8))
    assert (ae.name, vae.name) == ("q-ae", "q-vae")
    assert ae.model_config == vae.model_config.with_kind("ae") and ae.train_config == vae.train_config
    assert vae.model_config.latent_dim == 2 and vae.train_config.beta == 1.0


# --- Overview ------------------------------------------------------------------------------------

def test_overview_without_runs_shows_story_schematics_and_button(empty_checkpoints,
                                                                 fresh_streamlit_cache):
    at = ok(open_page(timeout=TIMEOUT))
    assert len(at.latex) >= 3 and any(r"\sigma \odot \varepsilon" in x.value for x in at.latex)
    assert any("No trained runs yet" in i.value for i in at.info)
    titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
    assert titles[:2] == ["AE: one point per image", "VAE: one Gaussian per image"]
    assert at.button(key="overview_quick").label == "Train an AE+VAE pair on digits"


def test_overview_draws_newest_pair_and_claims(checkpoints, fresh_streamlit_cache):
    at = ok(open_page(timeout=TIMEOUT))
    titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
    assert titles[0].startswith("AE: demo-ae (codes span ±") and titles[1].startswith("VAE: demo-vae")
    # The scorecards are computed in the background: the first view never waits for them; the
    # page says so and looks again (a fragment in the browser; here, reruns) until they are in.
    deadline = time.monotonic() + TIMEOUT
    while any(c.value == "Computing this pair's numbers…" for c in at.caption):
        assert time.monotonic() < deadline, "the scorecards never arrived"
        time.sleep(0.2)
        ok(at.run())
    table = at.table[0].value  # st.table: long cells wrap instead of being cut off
    claims = table["Claim (and where to see it)"]
    assert [c.split(" → ")[0] for c in claims] == [c["claim"] for c in CLAIMS]
    assert claims[0].endswith("→ *Latent space*")  # the page that shows the claim
    # Each claim shows the current pair's numbers and verdict (the Evidence scorecard's).
    assert list(table.columns) == ["Claim (and where to see it)", "Metric", "AE", "VAE", "Verdict here"]
    assert "`centring`" in set(table["Metric"])
    numbers = [v for v in list(table["AE"]) + list(table["VAE"]) if re.match(r"^-?\d+\.\d+", v)]
    assert len(numbers) >= len(CLAIMS)  # AE and VAE values (the AE has none for VAE-only metrics)
    assert sum(v == "VAE" for v in table["Verdict here"]) >= 3  # the demo VAE wins the latent claims


@pytest.mark.slow
def test_overview_one_click_trains_a_pair_then_opens_latent_space(empty_checkpoints,
                                                                  fresh_streamlit_cache,
                                                                  monkeypatch):
    real = plan.quick_pair_specs
    monkeypatch.setattr(plan, "quick_pair_specs", lambda name, shape: real(name, shape, epochs=1))
    at = ok(open_page(timeout=TIMEOUT))
    ok(at.button(key="overview_quick").click().run())
    job = at.session_state["overview_job"]
    assert job.group == "quick" and [r.name for r in job.runs] == ["quick-ae", "quick-vae"]
    wait(job)
    assert job.state == "finished", job.error
    assert {p.name for p in empty_checkpoints.iterdir()} == {"quick-ae", "quick-vae"}
    ok(at.run())
    assert "overview_job" not in at.session_state  # switched to the Latent space page once
    assert at.title[0].value == "Latent space"


# --- Train ---------------------------------------------------------------------------------------

def test_train_page_lists_runs_and_defaults_to_pair(checkpoints, fresh_streamlit_cache):
    at = train_page()
    runs = table(at, RUNS_TABLE)
    assert set(runs["name"]) == {"demo-ae", "demo-vae"}
    assert set(runs["status"]) == {"finished"} and set(runs["kind"]) == {"AE", "VAE"}
    assert at.button_group(key="train_mode").value == "pair"
    assert at.text_input(key="train_name").value == "pair"
    assert not at.select_slider(key="train_beta").disabled
    assert at.select_slider(key="train_beta").value == 1.0


def test_train_mode_toggle_changes_widgets(checkpoints, fresh_streamlit_cache):
    at = train_page()
    ok(at.button_group(key="train_mode").set_value("ae").run())
    assert at.select_slider(key="train_beta").disabled
    assert at.number_input(key="train_warmup").disabled
    assert at.text_input(key="train_name").value == "ae"
    ok(at.button_group(key="train_mode").set_value("sweep").run())
    assert not at.get("select_slider") or all(s.key != "train_beta" for s in at.select_slider)
    assert at.text_input(key="train_betas").value == "0, 0.25, 0.5, 1, 2, 4, 8"
    assert at.text_input(key="train_name").value == "sweep"


def test_invalid_or_taken_run_name_shows_error_and_submits_nothing(checkpoints,
                                                                   fresh_streamlit_cache):
    at = train_page()
    for bad, message in (("../evil", "Invalid run name"), ("has space", "Invalid run name"),
                         ("demo", "already used")):
        at.text_input(key="train_name").set_value(bad)
        ok(at.button(key="train_submit").click().run())
        assert any(message in e.value for e in at.error), (bad, [e.value for e in at.error])
        assert "train_job" not in at.session_state
    assert {p.name for p in checkpoints.iterdir()} == {"demo-ae", "demo-vae"}


def test_bad_idx_folder_shows_dataset_error_and_digits_still_works(checkpoints, tmp_path,
                                                                   fresh_streamlit_cache):
    at = train_page()
    ok(at.selectbox(key="train_dataset").set_value("idx").run())
    ok(at.text_input(key="train_idx_path").set_value(str(tmp_path / "nope")).run())
    assert any("not a folder" in e.value for e in at.error)
    assert at.button(key="train_submit").disabled
    ok(at.selectbox(key="train_dataset").set_value("digits").run())
    assert not at.error and not at.button(key="train_submit").disabled


def test_submitting_a_pair_trains_saves_and_shows_results(checkpoints, fresh_streamlit_cache):
    at = train_page()
    at.number_input(key="train_epochs").set_value(2)
    at.select_slider(key="train_beta").set_value(0.5)
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    assert [r.name for r in job.runs] == ["pair-ae", "pair-vae"] and job.group == "pair"
    assert job.runs[1].train_config.beta == 0.5  # the slider value, unchanged
    wait(job)
    assert job.state == "finished", job.error
    ok(at.run())
    results = table(at, RESULTS_TABLE)
    # 2 epochs leave a VAE near the prior: it may end "collapsed" (collapse.py), still saved.
    assert results["status"][0] == "finished" and results["status"][1] in ("finished", "collapsed")
    assert results["test KL"][0] == "—" and float(results["test KL"][1]) >= 0  # AE has no KL term
    assert results["beta"][0] == "—"
    runs = table(at, RUNS_TABLE)
    assert {"pair-ae", "pair-vae", "demo-ae", "demo-vae"} == set(runs["name"])
    saved = json.loads((checkpoints / "pair-vae" / "run.json").read_text())
    assert saved["group"] == "pair" and saved["train_config"]["beta"] == 0.5
    curves = next(s for s in chart_specs(at) if "images seen" in json.dumps(s["layout"]))
    names = {(t["name"], t.get("xaxis", "x")) for t in curves["data"]}
    assert {("pair-ae train", "x"), ("pair-vae train", "x"), ("pair-vae train", "x2")} <= names
    assert ("pair-ae train", "x2") not in names  # no KL curve for the AE
    assert at.text_input(key="train_name").value == "pair-2"  # a fresh name for the next job


def test_beta_sweep_submits_one_vae_per_beta_grouped(checkpoints, fresh_streamlit_cache):
    at = train_page()
    ok(at.button_group(key="train_mode").set_value("sweep").run())
    at.text_input(key="train_betas").set_value("0, 2")
    at.number_input(key="train_epochs").set_value(1)
    at.number_input(key="train_warmup").set_value(1)
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    assert [(r.name, r.train_config.beta) for r in job.runs] == [("sweep-b0", 0.0), ("sweep-b2", 2.0)]
    assert job.group == "sweep" and job.interleave is False
    assert {r.train_config.kl_warmup_epochs for r in job.runs} == {1}
    wait(job)
    assert job.state == "finished", job.error
    ok(at.run())
    assert {"sweep-b0", "sweep-b2"} <= {p.name for p in checkpoints.iterdir()}
    # The link opens Evidence on this sweep's section, not on the scorecard.
    ok(at.button(key="train_open_sweep").click().run())
    assert at.title[0].value == "Evidence"
    assert at.radio(key="evidence_section").value == "β sweep"
    assert at.selectbox(key="evidence_sweep").value == "sweep"


def test_bad_betas_show_an_error(checkpoints, fresh_streamlit_cache):
    at = train_page()
    ok(at.button_group(key="train_mode").set_value("sweep").run())
    at.text_input(key="train_betas").set_value("0, lots")
    ok(at.button(key="train_submit").click().run())
    assert any("Betas must be numbers" in e.value for e in at.error)
    assert "train_job" not in at.session_state


def test_delete_asks_then_removes(checkpoints, fresh_streamlit_cache):
    at = train_page()
    assert at.button(key="train_delete").disabled  # nothing selected yet
    ok(at.multiselect(key="train_delete_names").set_value(["demo-ae"]).run())
    ok(at.button(key="train_delete").click().run())
    assert any("Delete 1 run(s)" in w.value for w in at.warning)
    assert (checkpoints / "demo-ae").exists()  # nothing gone before the confirmation
    ok(at.button(key="train_delete_yes").click().run())
    assert not (checkpoints / "demo-ae").exists() and (checkpoints / "demo-vae").exists()
    assert set(table(at, RUNS_TABLE)["name"]) == {"demo-vae"}


def test_train_page_with_no_runs_is_not_empty(empty_checkpoints, fresh_streamlit_cache):
    at = train_page()
    assert any("No saved runs yet" in i.value for i in at.info)
    assert not at.button(key="train_submit").disabled
