"""The Train page (AppTest through the frame), in every language where a state has words to check,
and the pure pieces it relies on (the loss curves, plan_runs).

The page really trains: epochs are set low so a job takes a fraction of a second, and the tests
wait on the job object the page keeps in ``st.session_state`` (AppTest drives no timers)."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

import vae_core.jobs as jobs
from helpers import chart_specs, page_app, table_with, wait_for
from helpers import no_exception as ok
from i18n_walk import LANGS, assert_translated, hangul, in_language, opened, tr
from test_classroom import set_meta
from ui.access import owner_token
from ui.navigation import TRAIN
from vae_core import ModelConfig, TrainConfig
from vae_core.analysis.classifier import CACHE_DIR
from vae_core.analysis.outcomes import STATUS_WORDS
from vae_core.viz.figures import loss_curves

TIMEOUT = 60  # the first run of a page imports torch and loads the data set
RUNS_TABLE, RESULTS_TABLE = "group", "seconds"  # a column only that table has
SWEEP_URL = {"train_mode": "β sweep", "train_betas": "0, 2", "train_epochs": "1"}


def train_page(lang: str = "en", **params: str) -> AppTest:
    return opened(TRAIN.file, lang, TIMEOUT, **params)


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


# --- settings ------------------------------------------------------------------------------------

def test_train_page_lists_runs_and_defaults_to_pair(pair_view):
    at = train_page()
    runs = table_with(at, RUNS_TABLE)
    assert set(runs["name"]) == {"demo-ae", "demo-vae"}
    assert set(runs["status"]) == {"finished"} and set(runs["kind"]) == {"AE", "VAE"}
    assert at.button_group(key="train_mode").value == "pair"
    assert at.text_input(key="train_name").value == "pair"
    assert not at.select_slider(key="train_beta").disabled
    assert at.select_slider(key="train_beta").value == 1.0


def test_train_mode_toggle_changes_widgets(pair_view):
    at = train_page()
    ok(at.button_group(key="train_mode").set_value("ae").run())
    assert at.select_slider(key="train_beta").disabled
    assert at.number_input(key="train_warmup").disabled
    assert at.text_input(key="train_name").value == "ae"
    ok(at.button_group(key="train_mode").set_value("sweep").run())
    assert not at.get("select_slider") or all(s.key != "train_beta" for s in at.select_slider)
    assert at.text_input(key="train_betas").value == "0, 0.25, 0.5, 1, 2, 4, 8"
    assert at.text_input(key="train_name").value == "sweep"


@pytest.mark.parametrize("lang", LANGS)
def test_input_errors_show_an_error_and_submit_nothing(lang, pair_view):
    at = in_language(train_page(lang), lang, pair_view)
    for mode, name, betas, expect in (("pair", "../evil", None, "Invalid run name"),
                                      ("pair", "has space", None, "Invalid run name"),
                                      ("pair", "demo", None, "Run name already used"),
                                      ("sweep", "sweep", "0, lots", "Betas must be numbers")):
        ok(at.button_group(key="train_mode").set_value(mode).run())
        at.text_input(key="train_name").set_value(name)
        if betas is not None:
            at.text_input(key="train_betas").set_value(betas)
        ok(at.button(key="train_submit").click().run())
        errors = [e.value for e in at.error]
        if lang == "ko":
            assert errors and all(hangul(e) for e in errors), errors
        else:  # the English sentence, inside ⟦ ⟧ in qps
            assert any(expect in e for e in errors), (name, errors)
        assert "train_job" not in at.session_state
        in_language(at, lang, pair_view, name)
    assert {p.name for p in pair_view.iterdir()} == {"demo-ae", "demo-vae", CACHE_DIR}


@pytest.mark.parametrize("lang", LANGS)
def test_data_set_choices_bad_idx_folder_and_offline_mnist(lang, empty_checkpoints, tmp_path, monkeypatch,
                                                           fresh_streamlit_cache):
    monkeypatch.setenv("VAE_LAB_DATA", str(tmp_path / "no-data"))
    _ = tr(lang)
    at = in_language(train_page(lang), lang, empty_checkpoints)  # no saved runs yet
    assert any(i.value == _("No saved runs yet.") for i in at.info)
    assert not at.button(key="train_submit").disabled
    ok(at.selectbox(key="train_dataset").set_value("idx").run())
    in_language(at, lang, empty_checkpoints)  # the IDX folder box
    ok(at.text_input(key="train_idx_path").set_value(str(tmp_path / "nope")).run())
    assert any("not a folder" in e.value for e in at.error)  # vae_core's DatasetError, as written
    assert at.button(key="train_submit").disabled
    ok(at.selectbox(key="train_dataset").set_value("digits").run())
    assert not at.error and not at.button(key="train_submit").disabled
    ok(at.selectbox(key="train_dataset").set_value("mnist").run())
    errors = " ".join(e.value for e in at.error)
    if not errors:
        pytest.skip("this machine is online: MNIST downloaded")
    in_language(at, lang, empty_checkpoints)  # the offline advice
    assert f"**{_('A folder of IDX files')}**" in errors  # the dashboard's choice, in its words
    assert "idx:" not in errors  # CLI syntax is for the command line, not the dashboard
    if lang != "ko":
        assert "Train page" in errors


def test_hosted_upload_choice_in_qps(empty_checkpoints, hosted, fresh_streamlit_cache):
    at = train_page("qps")
    ok(at.selectbox(key="train_dataset").set_value("idx").run())
    assert at.get("file_uploader")
    assert_translated(at, empty_checkpoints)


def test_full_queue_refusal_in_qps(checkpoints, monkeypatch, fresh_streamlit_cache):
    monkeypatch.setenv("VAE_LAB_MAX_QUEUED", "0")
    at = train_page("qps")
    ok(at.button(key="train_submit").click().run())
    assert any("queue is full" in e.value for e in at.error)
    assert_translated(at, checkpoints)


# --- jobs and their results ----------------------------------------------------------------------

def test_submitting_a_pair_trains_saves_and_shows_results(checkpoints, fresh_streamlit_cache):
    at = train_page()
    at.number_input(key="train_epochs").set_value(2)
    at.select_slider(key="train_beta").set_value(0.5)
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    assert [r.name for r in job.runs] == ["pair-ae", "pair-vae"] and job.group == "pair"
    assert job.runs[1].train_config.beta == 0.5  # the slider value, unchanged
    wait_for(job)
    assert job.state == "finished", job.error
    ok(at.run())
    results = table_with(at, RESULTS_TABLE)
    # 2 epochs leave a VAE near the prior: it may end "collapsed" (collapse.py), still saved.
    assert results["status"][0] == "finished" and results["status"][1] in ("finished", "collapsed")
    assert results["test KL"][0] == "—" and float(results["test KL"][1]) >= 0  # AE has no KL term
    assert results["beta"][0] == "—"
    runs = table_with(at, RUNS_TABLE)
    assert {"pair-ae", "pair-vae", "demo-ae", "demo-vae"} == set(runs["name"])
    saved = json.loads((checkpoints / "pair-vae" / "run.json").read_text())
    assert saved["group"] == "pair" and saved["train_config"]["beta"] == 0.5
    curves = next(s for s in chart_specs(at) if "images seen" in json.dumps(s["layout"]))
    names = {(t["name"], t.get("xaxis", "x")) for t in curves["data"]}
    assert {("pair-ae train", "x"), ("pair-vae train", "x"), ("pair-vae train", "x2")} <= names
    assert ("pair-ae train", "x2") not in names  # no KL curve for the AE
    assert at.text_input(key="train_name").value == "pair-2"  # a fresh name for the next job


def test_finished_results_in_korean(checkpoints, fresh_streamlit_cache):
    at = page_app(TRAIN.file, TIMEOUT)
    at.session_state["lang"] = "ko"  # the switch's value (the URL form changed on main)
    ok(at.run())
    at.number_input(key="train_epochs").set_value(1)
    ok(at.button(key="train_submit").click().run())
    wait_for(at.session_state["train_job"])
    ok(at.run())
    korean = tr("ko")
    statuses = at.dataframe[0].value["상태"].tolist()  # the results table, Korean headers
    assert set(statuses) <= {korean(STATUS_WORDS[s]) for s in ("finished", "collapsed")}
    reasons = " ".join(at.dataframe[0].value["사유"])
    assert korean("trained {epochs} epochs").format(epochs=1) in reasons, reasons
    assert "trained" not in reasons


def test_beta_sweep_submits_one_vae_per_beta_grouped_then_opens_evidence(checkpoints, fresh_streamlit_cache):
    """A sweep chosen in the address bar (bound widgets), one VAE per β; its button opens Evidence
    on this sweep although the URL holds bound values (``st.switch_page`` refused to clear them)."""
    at = page_app(TRAIN.file, TIMEOUT)
    at.query_params.update(SWEEP_URL)  # the student's address bar after choosing a sweep
    ok(at.run())
    assert at.button_group(key="train_mode").value == "sweep"
    at.number_input(key="train_warmup").set_value(1)
    name = at.text_input(key="train_name").value
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    assert [(r.name, r.train_config.beta) for r in job.runs] == [(f"{name}-b0", 0.0), (f"{name}-b2", 2.0)]
    assert job.group == name and job.interleave is False
    assert {r.train_config.kl_warmup_epochs for r in job.runs} == {1}
    assert {r.train_config.epochs for r in job.runs} == {1}
    wait_for(job)
    assert job.state == "finished", job.error
    ok(at.run())
    assert {f"{name}-b0", f"{name}-b2"} <= {p.name for p in checkpoints.iterdir()}
    # The link opens Evidence on this sweep's section, not on the scorecard.
    at.query_params.update(SWEEP_URL)  # AppTest drops them after a run; a browser keeps them
    ok(at.button(key="train_open_sweep").click().run())
    assert at.title[0].value == "Evidence"
    assert at.radio(key="evidence_section").value == "β sweep"
    assert at.selectbox(key="evidence_sweep").value == name


@pytest.mark.slow  # two real jobs through the engine (~30 s on a busy 2-core machine)
def test_a_job_from_settings_to_results_and_deleting_in_qps(checkpoints, fresh_streamlit_cache):
    at = train_page("qps")
    assert_translated(at, checkpoints)
    at.number_input(key="train_epochs").set_value(500)  # still training when the page redraws
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    assert job.active and at.button(key="train_stop")
    assert_translated(at, checkpoints, *[r.name for r in job.runs])  # progress, stop button
    ok(at.button(key="train_stop").click().run())
    wait_for(job)
    assert job.state == "stopped", job.error
    ok(at.run())
    # "stopped by the user at step …" (and, stopped before its first step, "nothing was saved")
    assert_translated(at, checkpoints, *[r.name for r in job.runs])

    # β = 8 for 2 epochs: the VAE collapses, so the results show a warning with its reason.
    at.select_slider(key="train_beta").set_value(8.0)
    at.number_input(key="train_epochs").set_value(2)
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    names = [r.name for r in job.runs]
    wait_for(job)
    assert job.state == "finished", job.error
    ok(at.run())
    assert any(job.results[n]["status"] == "collapsed" for n in names), job.results
    assert at.warning and all(w.value.startswith("⟦") for w in at.warning)
    assert_translated(at, checkpoints)  # results table, reasons, curves, saved runs
    ok(at.multiselect(key="train_delete_names").set_value(["demo-ae"]).run())
    ok(at.button(key="train_delete").click().run())
    assert at.button(key="train_delete_yes")
    assert_translated(at, checkpoints)


def test_train_page_lists_collapse_epochs_and_no_ae_kl(collapsed):
    at = train_page()
    runs = table_with(at, RUNS_TABLE).set_index("name")
    assert runs.loc["b8-vae", "status"] == "collapsed" and runs.loc["b8-vae", "epochs"] == "4/4"
    assert runs.loc["demo-ae", "test KL"] == "—" and runs.loc["demo-ae", "beta"] == "—"
    assert float(runs.loc["b8-vae", "test KL"]) < 0.1


def test_a_broken_run_in_the_table_in_qps(checkpoints, fresh_streamlit_cache):
    set_meta(checkpoints / "demo-ae", created="yesterday")  # a hand-edited run.json
    at = train_page("qps")
    runs = table_with(at, "⟦group⟧")
    assert "⟦broken⟧" in set(runs["⟦status⟧"])
    assert_translated(at, checkpoints)


# --- deleting ------------------------------------------------------------------------------------

def test_delete_asks_then_removes(checkpoints, fresh_streamlit_cache):
    at = train_page()
    assert at.button(key="train_delete").disabled  # nothing selected yet
    ok(at.multiselect(key="train_delete_names").set_value(["demo-ae"]).run())
    ok(at.button(key="train_delete").click().run())
    assert any("Delete 1 run(s)" in w.value for w in at.warning)
    assert (checkpoints / "demo-ae").exists()  # nothing gone before the confirmation
    ok(at.button(key="train_delete_yes").click().run())
    assert not (checkpoints / "demo-ae").exists() and (checkpoints / "demo-vae").exists()
    assert set(table_with(at, RUNS_TABLE)["name"]) == {"demo-vae"}


def test_delete_refusals_in_qps(checkpoints, hosted, fresh_streamlit_cache):
    set_meta(checkpoints / "demo-ae", owner=owner_token("another session"))
    set_meta(checkpoints / "demo-vae", read_only=True)
    at = train_page("qps")
    ok(at.multiselect(key="train_delete_names").set_value(["demo-ae", "demo-vae"]).run())
    ok(at.button(key="train_delete").click().run())
    assert len(at.error) == 2 and "train_delete_pending" not in at.session_state
    assert_translated(at, checkpoints)
