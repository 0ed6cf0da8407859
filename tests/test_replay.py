"""Training replay: snapshots are taken densely early, saved with the run, validated on load, and
the last one is the saved model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_core import ModelConfig, TrainConfig, build_model, load_run, run_to_end, save_run, train
from vae_core.store.replay import (SNAPSHOTS_FILE, ReplayUnavailable, load_snapshots, replay_codes,
                                   write_snapshots)
from vae_core.store.snapshots import snapshot_budget, snapshot_schedule

CFG = ModelConfig(kind="vae", latent_dim=2, hidden=(32, 16), input_shape=(1, 8, 8))
TCFG = TrainConfig(epochs=20, batch_size=64, lr=3e-3, seed=0, device="cpu")  # 20 CPU epochs: past the early collapse


@pytest.fixture(scope="module")
def trained(digits):
    return run_to_end(train(CFG, TCFG, digits))


@pytest.fixture
def saved(tmp_path, trained, digits) -> Path:
    return save_run(trained["model"], CFG, TCFG, trained["history"], "replay-vae", tmp_path,
                    dataset="digits", snapshots=trained["snapshots"])


def test_schedule_is_dense_early_and_spans_the_run():
    steps = snapshot_schedule(2300, 20)
    assert steps[0] == 0 and steps[-1] == 2300 and len(steps) <= 20 and len(steps) >= 15
    assert steps == sorted(set(steps))
    gaps = np.diff(steps)
    assert gaps[0] < gaps[-1] / 50  # geometric: the first gaps are much shorter than the last
    assert sum(s <= 230 for s in steps) > len(steps) / 2  # most of them in the first tenth
    assert snapshot_schedule(10, 2) == [0, 10] and snapshot_schedule(5, 0) == []


def test_budget_caps_the_total_size():
    small = build_model(CFG)
    big = build_model(ModelConfig(latent_dim=20, hidden=(400,), input_shape=(1, 28, 28)))
    assert snapshot_budget(small, 20) == 20
    assert 2 <= snapshot_budget(big, 20, max_bytes=8 * 2**20) < 20
    assert snapshot_budget(big, 20, max_bytes=2**20) == 0  # not even the first and last fit


def test_snapshots_run_from_the_initial_to_the_final_weights(trained):
    snaps = trained["snapshots"]
    assert snaps[0].step == 0 and snaps[-1].step == trained["step"]
    for name, t in build_model(CFG, seed=TCFG.seed).state_dict().items():
        torch.testing.assert_close(snaps[0].state[name], t, rtol=0, atol=0)
    for name, t in trained["model"].state_dict().items():
        torch.testing.assert_close(snaps[-1].state[name], t, rtol=0, atol=0)


def test_last_snapshot_codes_equal_the_saved_models(saved, digits):
    run = load_run(saved)
    snaps = load_snapshots(saved, run.model_config, run.model.state_dict())
    codes = replay_codes(snaps, run.model_config, digits.test_x)
    mu, logvar = run.model.encode_all(digits.test_x)
    np.testing.assert_array_equal(codes.mu[-1], mu.numpy())
    np.testing.assert_array_equal(codes.logvar[-1], logvar.numpy())
    assert codes.mu.shape == (len(snaps), len(digits.test_x), 2)
    # the codes do move during training: the first snapshot is not the last
    assert np.abs(codes.mu[0] - codes.mu[-1]).mean() > 0.01


def test_old_run_without_snapshots_still_loads(tmp_path, trained):
    path = save_run(trained["model"], CFG, TCFG, trained["history"], "old", tmp_path)
    assert not (path / SNAPSHOTS_FILE).exists()
    assert load_run(path).status == "finished"
    with pytest.raises(ReplayUnavailable, match="no training snapshots"):
        load_snapshots(path, CFG, load_run(path).model.state_dict())


def _rewrite(path: Path, tensors: dict, meta: dict) -> None:
    from safetensors.torch import save_file
    save_file(tensors, str(path / SNAPSHOTS_FILE), metadata=meta)


def _original(path: Path):
    from safetensors import safe_open
    with safe_open(str(path / SNAPSHOTS_FILE), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())


@pytest.mark.parametrize("damage", ["garbage", "truncated", "version", "steps", "shape", "nan",
                                    "missing-tensor", "other-config"])
def test_malformed_snapshots_disable_replay_but_not_the_run(saved, trained, damage):
    file = saved / SNAPSHOTS_FILE
    tensors, meta = _original(saved)
    first = sorted(tensors)[0]
    if damage == "garbage":
        file.write_bytes(b"\x00" * 64)
    elif damage == "truncated":
        file.write_bytes(file.read_bytes()[:-100])
    elif damage == "version":
        _rewrite(saved, tensors, {**meta, "format_version": "99"})
    elif damage == "steps":
        _rewrite(saved, tensors, {**meta, "steps": json.dumps(["a"])})
    elif damage == "shape":
        _rewrite(saved, {**tensors, first: torch.zeros(3)}, meta)
    elif damage == "nan":
        _rewrite(saved, {**tensors, first: torch.full_like(tensors[first], float("nan"))}, meta)
    elif damage == "missing-tensor":
        _rewrite(saved, {k: v for k, v in tensors.items() if k != first}, meta)
    elif damage == "other-config":
        other = ModelConfig(kind="vae", latent_dim=3, hidden=(8,), input_shape=(1, 8, 8))
        end = run_to_end(train(other, TrainConfig(epochs=1), __import__("vae_core").load_dataset("digits")))
        write_snapshots(file, end["snapshots"])
    with pytest.raises(ReplayUnavailable):
        load_snapshots(saved, CFG, load_run(saved).model.state_dict())
    assert load_run(saved).status == "finished"
