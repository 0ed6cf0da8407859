"""Other epoch counts of the Loss-convention lab: trained as a job by the training engine (on a
Dask worker, never in the web process), added to the lab results file beside the runs (the shipped
file untouched), then offered by the page like the shipped counts."""
from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from pathlib import Path

import pytest

from helpers import REPO, no_exception, open_page
from ui.numbers import number_text
from vae_core.analysis.lab import LAB_TRAIN, VARIANTS, lab_numbers, train_variant
from vae_core.analysis.lab_results import (LAB_RESULTS_FILE, LAB_TRAINED_FILE, SHIPPED_EPOCHS,
                                           lab_job_specs, load_lab_results)
from vae_core.jobs import JobTooBigError, TrainingEngine
from vae_core.seeds import stream_seed

SHIPPED = REPO / "checkpoints" / LAB_RESULTS_FILE
LAB_PAGE = "pages/9_Loss_lab.py"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait(job, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while job.active:
        assert time.time() < deadline, f"job still {job.state} after {seconds} s"
        time.sleep(0.05)


def test_a_lab_job_past_the_epoch_cap_is_refused():
    specs = lab_job_specs(3)
    assert len(specs) == len(VARIANTS) and {s.objective for s in specs} == set(VARIANTS)
    engine = TrainingEngine("tcp://127.0.0.1:9", max_job_epochs=3 * len(VARIANTS) - 1)
    try:
        with pytest.raises(JobTooBigError):
            engine.submit(specs, "digits", lab_file="x", lab_base=str(SHIPPED))
        assert engine.jobs() == []
    finally:
        engine.shutdown(wait=False)


def test_the_page_trains_another_epoch_count_as_a_job_and_shows_it(empty_checkpoints, monkeypatch,
                                                                   fresh_streamlit_cache, digits):
    import vae_core.analysis.lab_results as lab_results

    monkeypatch.setattr(lab_results, "OTHER_EPOCHS", (2, 5))
    monkeypatch.setenv("VAE_LAB_MAX_JOB_EPOCHS", str(2 * len(VARIANTS)))  # every arm's epochs count
    shipped_before = digest(SHIPPED)
    at = no_exception(open_page(LAB_PAGE))
    assert 2 not in at.select_slider(key="lab_epochs").options  # shipped counts only
    assert at.selectbox(key="lab_new_epochs").options == ["2"]  # 5 x 7 arms is past the cap
    at.selectbox(key="lab_new_epochs").set_value(2)
    no_exception(at.button(key="lab_train").click().run())
    job = at.session_state["lab_job"]
    assert {s.objective for s in job.runs} == set(VARIANTS)
    assert all(s.train_config.epochs == 2 for s in job.runs)
    wait(job)
    assert job.state == "finished", job.error
    trained = empty_checkpoints / LAB_TRAINED_FILE
    assert trained.is_file() and digest(SHIPPED) == shipped_before  # the shipped file is only read
    results = load_lab_results(trained)
    assert sorted(results) == sorted({*SHIPPED_EPOCHS, 2})  # the shipped counts kept
    shipped = load_lab_results(SHIPPED)
    assert shipped[60]["kl_sign"].numbers == results[60]["kl_sign"].numbers

    no_exception(at.run())
    slider = at.select_slider(key="lab_epochs")
    assert 2 in [int(o) for o in slider.options] and int(slider.value) == 2
    correct = results[2]["correct"]
    again = lab_numbers(correct.model, VARIANTS["correct"], digits,
                        seed=stream_seed(LAB_TRAIN.seed, "test_noise"))
    table = at.table[0].value
    row = table[table.iloc[:, 0].str.startswith("ELBO per image")].iloc[0]
    assert row.iloc[1] == number_text(again["elbo"])  # the page's number, from the returned weights
    # The worker trained exactly what lab.train_variant trains (same seed, data, objective).
    direct = train_variant("correct", digits, train_cfg=replace(LAB_TRAIN, epochs=2))
    assert correct.history[-1]["test_loss"] == pytest.approx(direct.history[-1]["test_loss"],
                                                             rel=1e-3)


def test_a_lab_job_in_training_is_not_offered_twice_and_a_stopped_one_adds_nothing(empty_checkpoints, monkeypatch, fresh_streamlit_cache):
    import vae_core.analysis.lab_results as lab_results

    monkeypatch.setattr(lab_results, "OTHER_EPOCHS", (200,))
    at = no_exception(open_page(LAB_PAGE))
    no_exception(at.button(key="lab_train").click().run())
    job = at.session_state["lab_job"]
    deadline = time.time() + 60
    while not any(job.records.values()):
        assert time.time() < deadline and job.active, "the lab job did not start"
        time.sleep(0.05)
    other = no_exception(open_page(LAB_PAGE))  # another session: the count is not offered twice
    assert not [b for b in other.selectbox if b.key == "lab_new_epochs"]
    no_exception(at.button(key="lab_stop").click().run())
    wait(job, 60)
    assert job.state == "stopped"
    assert not (empty_checkpoints / LAB_TRAINED_FILE).exists()
    no_exception(at.run())
    assert 200 not in [int(o) for o in at.select_slider(key="lab_epochs").options]
    assert any("nothing was added" in i.value for i in at.info)


def test_the_writer_adds_replaces_and_bounds_epoch_counts_and_refuses_foreign_weights(
        tmp_path, monkeypatch, digits):
    import torch
    from safetensors.torch import save

    import vae_core.analysis.lab_results as lab_results

    from vae_core.analysis.lab import variant_objective
    from vae_core.train import run_to_end, train

    def arms(epochs: int) -> dict:
        out = {}
        for spec in lab_job_specs(epochs):
            t0 = time.perf_counter()
            end = run_to_end(train(spec.model_config, spec.train_config, digits, snapshots=0,
                                   objective=variant_objective(spec.objective)))
            a = lab_results.arm_outcome(spec.objective, end, digits, spec.train_config, t0)
            out[spec.objective] = (a["weights"], a["arm"])
        return out

    path = tmp_path / LAB_TRAINED_FILE
    one = arms(1)
    lab_results.add_lab_results(path, SHIPPED, 1, one)
    lab_results.add_lab_results(path, SHIPPED, 1, one)  # the same count again: replaced, not doubled
    assert sorted(load_lab_results(path)) == sorted({*SHIPPED_EPOCHS, 1})
    monkeypatch.setattr(lab_results, "MAX_TRAINED_EPOCH_SETS", 1)
    lab_results.add_lab_results(path, SHIPPED, 2, arms(2))  # the oldest trained count goes first
    assert sorted(load_lab_results(path)) == sorted({*SHIPPED_EPOCHS, 2})
    before = digest(path)
    foreign = one | {"correct": (save({"w": torch.zeros(3)}), one["correct"][1])}
    with pytest.raises(lab_results.LabResultsError):
        lab_results.add_lab_results(path, SHIPPED, 3, foreign)
    assert digest(path) == before and not list(tmp_path.glob(".tmp-*"))
    path.write_bytes(b"damaged")  # a damaged trained file is written anew from the shipped one
    lab_results.add_lab_results(path, SHIPPED, 1, one)
    assert sorted(load_lab_results(path)) == sorted({*SHIPPED_EPOCHS, 1})


def test_a_damaged_trained_file_falls_back_to_the_shipped_results(empty_checkpoints,
                                                                  fresh_streamlit_cache):
    (empty_checkpoints / LAB_TRAINED_FILE).write_bytes(b"not safetensors")
    at = no_exception(open_page(LAB_PAGE))
    assert at.warning and str(empty_checkpoints) not in at.warning[0].value
    assert sorted(int(o) for o in at.select_slider(key="lab_epochs").options) == sorted(SHIPPED_EPOCHS)
    assert at.table
