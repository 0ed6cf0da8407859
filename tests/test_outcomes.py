"""How training went, in words (``vae_core.analysis.outcomes``, issue 20): a reason or an engine
message is made from message ids and values, saved in run.json as ids, and said in the reader's
language from the ids; nothing is parsed back from English, except run.json files written before
the ids (legacy, the shipped demo runs among them). Hostile stored messages give a clear sentence.
"""
from __future__ import annotations

import json
from pathlib import Path

from distributed.protocol import deserialize, serialize
import pytest

from helpers import REPO
from i18n_walk import hangul, words_outside_catalog
from ui.i18n import PSEUDO_LANGUAGE, translate
from ui.links import md
from vae_core import ModelConfig, TrainConfig, build_model, run_to_end, save_run, train
from vae_core.analysis.outcomes import (ENGINE_UNAVAILABLE, LOCAL_WORKERS_FAILED, LOSS_NOT_FINITE,
                                        MAX_PARTS, MAX_VALUE_CHARS, MESSAGES, STATUS_WORDS, TRAINED,
                                        WEIGHTS_NOT_FINITE, Message, error_text, from_english,
                                        from_json, join, render, say, status_word, to_json)
from vae_core.jobs import parse_betas
from vae_core.store.runs import run_info

TINY = ModelConfig(kind="vae", latent_dim=2, hidden=(8,), input_shape=(1, 8, 8))
TINY_TRAIN = TrainConfig(epochs=1, batch_size=8, lr=1e-3, beta=1.0, seed=0)


def pseudo(message: str) -> str:
    return translate(message, PSEUDO_LANGUAGE)


def korean(message: str) -> str:
    return translate(message, "ko")


def sample_values(template: str) -> dict[str, float]:
    from ui.i18n import placeholders

    return {name: 7.0 for name in placeholders(template)}


@pytest.mark.parametrize("id_", sorted(MESSAGES))
def test_every_message_is_said_in_each_language_and_survives_run_json(id_):
    message = render(MESSAGES[id_], **sample_values(MESSAGES[id_]))
    assert say(message) == message == MESSAGES[id_].format(**sample_values(MESSAGES[id_]))
    assert words_outside_catalog(say(message, pseudo)) == []
    assert say(message, korean) != message and hangul(say(message, korean)) > 0
    stored = json.loads(json.dumps(to_json(message)))
    assert stored == [{"id": id_, "values": sample_values(MESSAGES[id_])}]
    back = from_json(stored)
    assert back == message and back.parts == message.parts and say(back, korean) == say(message, korean)


def test_sentences_join_as_before_and_travel_through_dask():
    diverged = join(render(LOSS_NOT_FINITE, loss=float("nan"), step=12, epoch=1, lr=0.5),
                    render(WEIGHTS_NOT_FINITE))
    assert diverged == ("the loss became nan at step 12 (epoch 1); the weights before that step "
                        "were kept. Try a smaller learning rate than 0.5. The weights are no "
                        "longer finite.")
    assert say(diverged, pseudo).count("⟦") == 2
    assert to_json(diverged)[0]["values"]["loss"] == "nan"  # JSON has no NaN
    assert from_json(to_json(diverged)) == diverged
    mixed = join(render(TRAINED, epochs=3), "OSError: disk full")  # an exception's own words
    assert mixed == "trained 3 epochs OSError: disk full" and say(mixed, pseudo).count("⟦") == 1
    nested = render(ENGINE_UNAVAILABLE, what=render(LOCAL_WORKERS_FAILED), error=OSError("disk gone"),
                    seconds=5)
    assert say(nested, pseudo).count("⟦") == 2 and "disk gone" in say(nested, pseudo)
    # The engine's messages cross Dask: its own serialization keeps them Messages.
    again = deserialize(*serialize(nested))
    assert isinstance(again, Message) and again.parts == nested.parts
    assert say("not a Message", pseudo) == "not a Message"


def test_errors_raised_with_a_message_are_said_in_korean():
    with pytest.raises(ValueError) as raised:
        parse_betas("x, y")
    assert "x, y" in str(raised.value) and hangul(error_text(raised.value, korean)) > 0
    assert error_text(OSError("disk full"), korean) == "disk full"


def test_a_collapsed_run_saves_its_reason_as_ids_and_reads_it_in_korean(digits, tmp_path):
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32, 16), input_shape=digits.image_shape)
    train_cfg = TrainConfig(epochs=2, batch_size=64, lr=3e-3, beta=8.0, seed=0)
    end = run_to_end(train(cfg, train_cfg, digits, snapshots=0))
    assert end["status"] == "collapsed", end["reason"]
    kl = end["reason"].split("(test KL) of ")[1].split(" ")[0]  # as the English sentence wrote it
    path = save_run(end["model"], cfg, train_cfg, end["history"], "b8", tmp_path,
                    status=end["status"], reason=end["reason"])
    meta = json.loads((path / "run.json").read_text())
    assert meta["reason"] == end["reason"]  # the English stays in the file, for people
    assert [m["id"] for m in meta["reason_messages"]] == ["trained", "posterior_collapse",
                                                          "collapse_at_high_beta"]
    reason = run_info(path).reason
    assert reason == end["reason"] and isinstance(reason, Message)
    text = say(reason, korean)
    assert "사후 분포 붕괴" in text and kl in text and "에포크 2회 학습함" in text, text


def _saved(root: Path, name: str, **meta_changes) -> Path:
    path = save_run(build_model(TINY, seed=0), TINY, TINY_TRAIN, [], name, root,
                    reason=render(TRAINED, epochs=1))
    meta = json.loads((path / "run.json").read_text())
    meta.update(meta_changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    (path / "run.json").write_text(json.dumps(meta))
    return path


def test_run_json_without_ids_is_read_the_legacy_way(tmp_path):
    old = ("the loss became nan at step 12 (epoch 1); the weights before that step were kept. "
           "Try a smaller learning rate than 0.5. The weights are no longer finite.")
    reason = run_info(_saved(tmp_path, "old", reason=old, reason_messages=None)).reason
    assert reason == old and words_outside_catalog(say(reason, pseudo)) == []
    assert "0.5" in say(reason, korean) and "12" in say(reason, korean)
    # An exception's own words match no template: kept as written, with all that follows.
    odd = "OSError: disk full; trained 3 epochs"
    assert say(from_english(odd), pseudo) == odd
    # The shipped demo runs hold English only: they still show, translated.
    shipped = run_info(REPO / "checkpoints" / "demo-digits-sweep-b4")
    assert shipped.status == "collapsed" and "reason_messages" not in json.loads(
        (shipped.path / "run.json").read_text())
    assert "사후 분포 붕괴" in say(shipped.reason, korean) and "β = 4" in say(shipped.reason, korean)


@pytest.mark.parametrize("stored, expect", [
    ("trained 3 epochs", "must be a list"),
    ([{"id": "trained", "values": {"epochs": 1}}] * (MAX_PARTS + 1), "must be a list"),
    ([["trained", {"epochs": 1}]], 'must be an object with "id" and "values"'),
    ([{"id": "no_such_id", "values": {}}], "unknown message id 'no_such_id'"),
    ([{"id": 3, "values": {}}], "unknown message id 3"),
    ([{"id": "trained", "values": [1]}], "values must be an object"),
    ([{"id": "trained", "values": {}}], "exactly the keys ['epochs']"),
    ([{"id": "trained", "values": {"epochs": 1, "x": 2}}], "exactly the keys ['epochs']"),
    ([{"id": "trained", "values": {"epochs": {"a": 1}}}], "must be a number or a text"),
    ([{"id": "trained", "values": {"epochs": True}}], "must be a number or a text"),
    ([{"id": "trained", "values": {"epochs": "9" * (MAX_VALUE_CHARS + 1)}}], "must be a number"),
    ([{"id": "posterior_collapse", "values": {"active": 0, "dims": 2, "kl": "lots"}}],
     "do not fit message 'posterior_collapse'"),
])
def test_hostile_stored_messages_list_the_run_as_broken_with_a_clear_sentence(tmp_path, stored,
                                                                              expect):
    info = run_info(_saved(tmp_path, "bad", reason_messages=stored))
    assert info.status == "broken" and "reason_messages" in info.reason and expect in info.reason
    assert str(tmp_path) not in info.reason  # no server path


def test_markdown_in_stored_values_is_shown_literally(tmp_path):
    stored = [{"id": "trained", "values": {"epochs": "**3** [x](javascript:alert(1))"}}]
    reason = run_info(_saved(tmp_path, "md", reason_messages=stored)).reason
    shown = md(say(reason, korean))
    assert "\\*\\*3\\*\\*" in shown and "\\[x\\]" in shown


def test_status_words():
    assert status_word("finished") == "finished" and status_word("odd") == "odd"
    assert status_word("collapsed", korean) == "사후 분포 붕괴됨" and status_word("diverged", korean) == "발산함"
    assert all(hangul(status_word(s, korean)) for s in STATUS_WORDS)
