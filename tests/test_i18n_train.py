"""The Train page and the training texts in every language (issue #12): the page walked in the
``qps`` pseudo-locale in the states a student reaches — default, a job queued or running, its
results (a collapsed VAE with its reason), the delete section, refusals and input errors — shows no
word outside the catalogs (the messages themselves, from their ids: tests/test_outcomes.py)."""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from helpers import no_exception as ok
from helpers import page_app
from test_classroom import hosted, set_meta  # noqa: F401 (hosted is a fixture)
from i18n_walk import assert_translated
from ui.access import owner_token
from ui.i18n import PSEUDO_LANGUAGE, translate
from ui.navigation import TRAIN
from vae_core.analysis.outcomes import STATUS_WORDS

TIMEOUT = 60  # the first run of a page imports torch and loads the data set


def pseudo(message: str) -> str:
    return translate(message, PSEUDO_LANGUAGE)


def korean(message: str) -> str:
    return translate(message, "ko")






def train_page(lang: str = PSEUDO_LANGUAGE) -> AppTest:
    at = page_app(TRAIN.file, TIMEOUT)
    at.query_params["lang"] = lang
    return ok(at.run())




def wait(job, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while job.active:
        assert time.time() < deadline, f"job still {job.state} after {seconds} s"
        time.sleep(0.05)


# --- the page ------------------------------------------------------------------------------------

@pytest.mark.slow  # two real jobs through the engine (~30 s on a busy 2-core machine)
def test_a_job_from_settings_to_results_and_deleting_in_qps(checkpoints, fresh_streamlit_cache):
    at = train_page()
    assert_translated(at, checkpoints)
    at.number_input(key="train_epochs").set_value(500)  # still training when the page redraws
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    assert job.active and at.button(key="train_stop")
    assert_translated(at, checkpoints, *[r.name for r in job.runs])  # progress, stop button
    ok(at.button(key="train_stop").click().run())
    wait(job)
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
    wait(job)
    assert job.state == "finished", job.error
    ok(at.run())
    assert any(job.results[n]["status"] == "collapsed" for n in names), job.results
    assert at.warning and all(w.value.startswith("⟦") for w in at.warning)
    assert_translated(at, checkpoints)  # results table, reasons, curves, saved runs
    ok(at.multiselect(key="train_delete_names").set_value(["demo-ae"]).run())
    ok(at.button(key="train_delete").click().run())
    assert at.button(key="train_delete_yes")
    assert_translated(at, checkpoints)


def test_finished_results_in_korean(checkpoints, fresh_streamlit_cache):
    at = page_app(TRAIN.file, TIMEOUT)
    at.session_state["lang"] = "ko"  # the switch's value (the URL form changed on main)
    ok(at.run())
    at.number_input(key="train_epochs").set_value(1)
    ok(at.button(key="train_submit").click().run())
    wait(at.session_state["train_job"])
    ok(at.run())
    statuses = at.dataframe[0].value["상태"].tolist()  # the results table, Korean headers
    assert set(statuses) <= {korean(STATUS_WORDS[s]) for s in ("finished", "collapsed")}
    reasons = " ".join(at.dataframe[0].value["사유"])
    assert korean("trained {epochs} epochs").format(epochs=1) in reasons, reasons
    assert "trained" not in reasons


@pytest.mark.parametrize("mode, name, betas, expect", [
    ("pair", "a b", None, "Invalid run name"),
    ("pair", "demo", None, "Run name already used"),
    ("sweep", "sweep", "0, lots", "Betas must be numbers"),
])
def test_input_errors_in_qps(checkpoints, fresh_streamlit_cache, mode, name, betas, expect):
    at = train_page()
    ok(at.button_group(key="train_mode").set_value(mode).run())
    at.text_input(key="train_name").set_value(name)
    if betas is not None:
        at.text_input(key="train_betas").set_value(betas)
    ok(at.button(key="train_submit").click().run())
    assert any(expect in e.value for e in at.error), [e.value for e in at.error]
    assert "train_job" not in at.session_state
    assert_translated(at, checkpoints, name)


def test_delete_refusals_in_qps(checkpoints, hosted, fresh_streamlit_cache):  # noqa: F811
    set_meta(checkpoints / "demo-ae", owner=owner_token("another session"))
    set_meta(checkpoints / "demo-vae", read_only=True)
    at = train_page()
    ok(at.multiselect(key="train_delete_names").set_value(["demo-ae", "demo-vae"]).run())
    ok(at.button(key="train_delete").click().run())
    assert len(at.error) == 2 and "train_delete_pending" not in at.session_state
    assert_translated(at, checkpoints)


def test_a_broken_run_in_the_table_in_qps(checkpoints, fresh_streamlit_cache):
    set_meta(checkpoints / "demo-ae", created="yesterday")  # a hand-edited run.json
    at = train_page()
    runs = next(d for d in at.dataframe if "⟦group⟧" in d.value.columns).value
    assert "⟦broken⟧" in set(runs["⟦status⟧"])
    assert_translated(at, checkpoints)


def test_full_queue_refusal_in_qps(checkpoints, monkeypatch, fresh_streamlit_cache):
    monkeypatch.setenv("VAE_LAB_MAX_QUEUED", "0")
    at = train_page()
    ok(at.button(key="train_submit").click().run())
    assert any("queue is full" in e.value for e in at.error)
    assert_translated(at, checkpoints)


def test_data_set_choices_in_qps(empty_checkpoints, tmp_path, monkeypatch, fresh_streamlit_cache):
    monkeypatch.setenv("VAE_LAB_DATA", str(tmp_path / "no-data"))
    at = train_page()
    assert_translated(at, empty_checkpoints)  # no saved runs yet
    ok(at.selectbox(key="train_dataset").set_value("idx").run())
    assert_translated(at, empty_checkpoints)  # the IDX folder box
    ok(at.selectbox(key="train_dataset").set_value("mnist").run())
    if not at.error:
        pytest.skip("this machine is online: MNIST downloaded")
    assert_translated(at, empty_checkpoints)  # the offline advice


def test_hosted_upload_choice_in_qps(empty_checkpoints, hosted, fresh_streamlit_cache):  # noqa: F811
    at = train_page()
    ok(at.selectbox(key="train_dataset").set_value("idx").run())
    assert at.get("file_uploader")
    assert_translated(at, empty_checkpoints)
