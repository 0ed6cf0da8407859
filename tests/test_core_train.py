"""A short real training run on digits: loss falls, seeds reproduce, Stop and NaN are handled."""
from __future__ import annotations

import math
import threading

import pytest
import torch

from vae_core import ModelConfig, TrainConfig, run_to_end, train

SMALL = dict(latent_dim=2, hidden=(32,), input_shape=(1, 8, 8))


def losses(history, key="test_loss"):
    return [r[key] for r in history if r["type"] == "epoch"]


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_loss_falls_on_digits(digits, kind):
    end = run_to_end(train(ModelConfig(kind=kind, **SMALL), TrainConfig(epochs=6, lr=3e-3), digits))
    assert end["status"] == "finished" and end["model"] is not None
    test = losses(end["history"])
    assert len(test) == 6
    assert test[-1] < test[0] - 3.0  # nats per image: a real drop, not noise
    assert not end["model"].training
    steps = [r for r in end["history"] if r["type"] == "step"]
    assert steps and all(r["recon"] > 0 for r in steps)
    if kind == "ae":
        assert all(r["kl"] == 0 for r in end["history"])


def test_same_seed_same_history_other_seed_differs(digits):
    cfg, tcfg = ModelConfig(kind="vae", **SMALL), TrainConfig(epochs=2, seed=7)
    a = run_to_end(train(cfg, tcfg, digits))["history"]
    b = run_to_end(train(cfg, tcfg, digits))["history"]
    c = run_to_end(train(cfg, TrainConfig(epochs=2, seed=8), digits))["history"]
    key = lambda h: [(r["step"], r["loss"], r["recon"], r["kl"]) for r in h]  # noqa: E731
    assert key(a) == key(b)
    assert key(a) != key(c)


def test_records_are_well_formed(digits):
    records = list(train(ModelConfig(kind="vae", **SMALL), TrainConfig(epochs=2, batch_size=100), digits))
    assert records[-1]["type"] == "end" and records[-1]["history"] == records[:-1]
    progress = [r["progress"] for r in records[:-1]]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert records[-2]["samples_seen"] == 2 * len(digits.train_x)
    assert {"test_recon", "test_kl", "test_loss"} <= set(records[-2])


def test_stop_flag_keeps_what_was_trained(digits):
    stop = threading.Event()
    records = []
    for rec in train(ModelConfig(kind="vae", **SMALL), TrainConfig(epochs=50), digits, stop=stop):
        records.append(rec)
        if rec["type"] == "epoch" and rec["epoch"] == 2:
            stop.set()
    end = records[-1]
    assert end["status"] == "stopped" and "stopped" in end["reason"]
    assert end["model"] is not None
    assert max(r["epoch"] for r in end["history"]) == 2  # no further epoch finished


def test_nan_loss_stops_with_reason(digits):
    end = run_to_end(train(ModelConfig(kind="vae", **SMALL), TrainConfig(epochs=20, lr=1e6), digits))
    assert end["status"] == "diverged"
    assert "learning rate" in end["reason"]
    assert all(math.isfinite(r["loss"]) for r in end["history"])  # no NaN recorded as progress


def test_kl_warmup_ramps_beta(digits):
    hist = run_to_end(train(ModelConfig(kind="vae", **SMALL),
                            TrainConfig(epochs=4, beta=2.0, kl_warmup_epochs=2), digits))["history"]
    epoch_beta = {r["epoch"]: r["beta"] for r in hist if r["type"] == "epoch"}
    assert epoch_beta[1] == pytest.approx(1.0) and epoch_beta[2] == epoch_beta[4] == 2.0
    first_step = next(r for r in hist if r["type"] == "step")
    assert first_step["beta"] < 1.0


def test_input_shape_mismatch_is_refused(digits):
    with pytest.raises(ValueError, match="input_shape"):
        next(train(ModelConfig(kind="ae", latent_dim=2, hidden=(8,), input_shape=(1, 28, 28)),
                   TrainConfig(epochs=1), digits))


def test_seed_streams_are_independent_of_each_other_and_of_the_weights():
    """Issue 16.11: with seed + 1 / seed + 2 the training noise replayed the encoder's init stream
    (build_model seeds it with seed*3 + 1) and the test noise the decoder's (seed*3 + 2)."""
    from vae_core.seeds import STREAMS, stream_seed

    for seed in range(50):
        weights = {seed * 3 + 1, seed * 3 + 2, seed * 3 + 3, seed}  # inits and the shuffle
        streams = {stream_seed(seed, s) for s in STREAMS}
        assert len(streams) == len(STREAMS) and not streams & weights
    noise = torch.Generator().manual_seed(stream_seed(0, "noise"))
    encoder_init = torch.Generator().manual_seed(1)
    assert not torch.equal(torch.randn(8, generator=noise), torch.randn(8, generator=encoder_init))


def test_test_loss_uses_the_beta_in_force_during_warm_up(digits):
    """Issue 16.11: during a KL warm-up the test loss used full β while the training loss used the
    ramped β, so the two curves were not comparable."""
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32,), input_shape=digits.image_shape)
    end = run_to_end(train(cfg, TrainConfig(epochs=2, batch_size=128, beta=2.0,
                                            kl_warmup_epochs=4, seed=0), digits))
    epochs = [r for r in end["history"] if r["type"] == "epoch"]
    assert [r["beta"] for r in epochs] == pytest.approx([0.5, 1.0])
    for r in epochs:
        assert r["test_kl"] > 0
        assert r["test_loss"] == pytest.approx(r["test_recon"] + r["beta"] * r["test_kl"], rel=1e-6)


def test_the_teaching_core_does_not_import_the_run_store():
    """Issue 20: train, models, losses and data read like pytorch/examples; what they import,
    transitively, holds no run store (train imported it for ``epochs_trained``) and no job engine."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    seen: set[str] = set()
    todo = ["vae_core.train", "vae_core.models", "vae_core.losses", "vae_core.data"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = root / (name.replace(".", "/") + ".py")
        if not path.exists():
            continue  # a package: its __init__ re-exports the public API and is not followed
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vae_core"):
                todo += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.startswith("vae_core")]
    assert "vae_core.train" in seen and "vae_core.store.snapshots" in seen
    assert not {m for m in seen if m.startswith(("vae_core.store.runs", "vae_core.jobs"))}, seen


@pytest.mark.slow
def test_the_shipped_demo_vae_is_what_train_trains_today(digits):
    """The shipped demo runs were trained by this code: the demo VAE, retrained on the CPU from its
    own run.json, comes out bit for bit (a refactor of models/losses/train must not move it)."""
    from dataclasses import replace

    from safetensors.torch import load_file

    from helpers import REPO
    from vae_core import load_run

    name = "demo-digits-vae"
    run = load_run(REPO / "checkpoints" / name)
    end = run_to_end(train(run.model_config, replace(run.train_config, device="cpu"), digits,
                           snapshots=0))
    shipped = load_file(str(REPO / "checkpoints" / name / "model.safetensors"))
    trained = end["model"].state_dict()
    assert shipped.keys() == trained.keys()
    assert all(torch.equal(trained[k], shipped[k]) for k in shipped)
