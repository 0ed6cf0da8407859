"""The training texts in every language (issue #12): saved reasons and engine messages, written in
English by vae_core, are read back and translated (``vae_core.analysis.outcomes.localize``), old
run.json wording included. (The Train page itself, in every language: tests/pages/test_train.py.)"""
from __future__ import annotations

import pytest

from i18n_walk import hangul, words_outside_catalog
from ui.i18n import PSEUDO_LANGUAGE, translate
from vae_core import ModelConfig, TrainConfig, run_to_end, train
from vae_core.analysis.outcomes import (ENGINE_UNAVAILABLE, LOCAL_WORKERS_FAILED, STATUS_WORDS,
                                        TEMPLATES, localize, render, status_word)


def pseudo(message: str) -> str:
    return translate(message, PSEUDO_LANGUAGE)


def korean(message: str) -> str:
    return translate(message, "ko")


# --- reasons and engine messages -----------------------------------------------------------------

def sample_values(template: str) -> dict[str, float]:
    from ui.i18n import placeholders

    return {name: 7.0 for name in placeholders(template)}


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_is_read_back_and_translated(template):
    english = render(template, **sample_values(template))
    assert localize(english) == english  # English stays English, byte for byte
    assert words_outside_catalog(localize(english, pseudo)) == []
    assert localize(english, korean) != english and hangul(localize(english, korean)) > 0


def test_a_collapsed_runs_reason_in_korean_keeps_its_numbers(digits):
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32, 16), input_shape=digits.image_shape)
    end = run_to_end(train(cfg, TrainConfig(epochs=2, batch_size=64, lr=3e-3, beta=8.0, seed=0),
                           digits, snapshots=0))
    assert end["status"] == "collapsed", end["reason"]
    kl = end["reason"].split("(test KL) of ")[1].split(" ")[0]  # as the English sentence wrote it
    assert localize(end["reason"]) == end["reason"]
    assert words_outside_catalog(localize(end["reason"], pseudo)) == []
    text = localize(end["reason"], korean)
    assert "사후 분포 붕괴" in text and kl in text and "에포크 2회 학습함" in text, text


def test_old_run_json_wording_and_unknown_text():
    # Written by the code before vae_core.analysis.outcomes existed (run.json keeps it forever).
    old = ("the loss became nan at step 12 (epoch 1); the weights before that step were kept. "
           "Try a smaller learning rate than 0.5. The weights are no longer finite.")
    assert words_outside_catalog(localize(old, pseudo)) == []
    assert "0.5" in localize(old, korean) and "12" in localize(old, korean)
    # An exception's own words match no template: kept as written, with all that follows.
    odd = "OSError: disk full; trained 3 epochs"
    assert localize(odd, pseudo) == odd
    # A sentence inside a sentence is translated too.
    nested = render(ENGINE_UNAVAILABLE, what=LOCAL_WORKERS_FAILED, error="OSError: x", seconds=5)
    assert localize(nested, pseudo).count("⟦") == 2 and "OSError: x" in localize(nested, pseudo)


def test_status_words():
    assert status_word("finished") == "finished" and status_word("odd") == "odd"
    assert status_word("collapsed", korean) == "사후 분포 붕괴됨" and status_word("diverged", korean) == "발산함"
    assert all(hangul(status_word(s, korean)) for s in STATUS_WORDS)
