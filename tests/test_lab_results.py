"""The Loss-convention lab's shipped results: read back exactly, hostile files refused cleanly,
and the page reads them without training."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from vae_core.seeds import stream_seed
from vae_core.analysis.lab import LAB_TRAIN, VARIANTS, lab_numbers
from vae_core.analysis.lab_results import (LAB_RESULTS_FILE, SHIPPED_EPOCHS, LabResultsError,
                                           load_lab_results, ship_lab_results)

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / LAB_RESULTS_FILE


def test_shipped_results_hold_every_arm_and_their_numbers_are_those_of_their_weights(digits):
    results = load_lab_results(SHIPPED)
    assert sorted(results) == sorted(SHIPPED_EPOCHS) and LAB_TRAIN.epochs in results
    for arms in results.values():
        assert set(arms) == set(VARIANTS)
    arm = results[LAB_TRAIN.epochs]["sigma_squared"]
    again = lab_numbers(arm.model, VARIANTS["sigma_squared"], digits,
                        seed=stream_seed(LAB_TRAIN.seed, "test_noise"))  # as train_variant measures
    for key in ("recon", "kl", "recon_gap", "active_units"):
        assert again[key] == pytest.approx(arm.numbers[key], rel=1e-5, abs=1e-6)


def test_a_round_trip_of_a_tiny_results_file(tmp_path, digits):
    path = tmp_path / LAB_RESULTS_FILE
    arms = ship_lab_results(digits, str(path), epochs=(1,))
    back = load_lab_results(path)[1]
    assert {k: back[k].numbers for k in back} == {k: json.loads(json.dumps(arms[f"1/{k}"]["numbers"]))
                                                 for k in back}


@pytest.mark.parametrize("damage", ["bytes", "format", "reason", "missing_tensor"])
def test_damaged_results_are_refused_with_a_message(tmp_path, damage):
    path = tmp_path / LAB_RESULTS_FILE
    if damage == "bytes":
        path.write_bytes(b"not safetensors")
    else:
        from safetensors import safe_open

        with safe_open(str(SHIPPED), framework="pt") as f:
            meta = dict(f.metadata())
        tensors = load_file(str(SHIPPED))
        if damage == "format":
            meta["format_version"] = "99"
        elif damage == "reason":  # a format string that would read attributes when filled in
            arms = json.loads(meta["arms"])
            arms["60/kl_sign"]["reason_message"] = "{epochs.__class__}"
            meta["arms"] = json.dumps(arms)
        else:
            tensors.pop(next(k for k in tensors if k.startswith("e60/correct/")))
        save_file(tensors, str(path), metadata=meta)
    with pytest.raises(LabResultsError) as e:
        load_lab_results(path)
    assert str(tmp_path) not in str(e.value)


def test_the_lab_page_never_trains(monkeypatch, fresh_streamlit_cache):
    import vae_core.analysis.lab as lab
    import vae_core.analysis.lab_results as lab_results
    from helpers import no_exception, page_app

    def refuse(*args, **kwargs):
        raise AssertionError("the web process trained a lab arm")

    for module, name in ((lab, "train_variant"), (lab, "train"), (lab_results, "train_variant")):
        monkeypatch.setattr(module, name, refuse)
    at = no_exception(page_app("pages/9_Loss_lab.py").run())
    assert at.table and len(at.get("plotly_chart")) == 3


def test_the_overview_promises_a_measured_duration(checkpoints, fresh_streamlit_cache):
    """No "about 10 s": the time shown is the displayed pair's recorded training time."""
    from helpers import no_exception, open_page

    from vae_core import load_run

    at = no_exception(open_page())
    seconds = sum([r for r in load_run(checkpoints / name).history if r["type"] == "epoch"][-1]["seconds"]
                  for name in ("demo-ae", "demo-vae"))
    text = " ".join(c.value for c in at.caption)
    assert f"took {seconds:.0f} s of training steps" in text and "about 10 s" not in text
