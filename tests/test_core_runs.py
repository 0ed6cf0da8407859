"""Saved runs: round trip, atomic saves under a crash, hostile files refused, broken runs listed."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from vae_core import (InvalidRunName, ModelConfig, RunError, TrainConfig, build_model, delete_run,
                      list_runs, load_run, save_run, unique_run_name, validate_run_name)
from vae_core.store import runs as runs_module

CFG = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 8, 8))
TCFG = TrainConfig(epochs=1)
HISTORY = [{"type": "epoch", "step": 1, "epoch": 1, "loss": 30.0, "recon": 28.0, "kl": 2.0,
            "test_loss": 31.0, "test_recon": 29.0, "test_kl": 2.0}]


def save(root: Path, name: str = "run", model=None, **kw) -> Path:
    return save_run(model or build_model(CFG, seed=1), CFG, TCFG, HISTORY, name, root, **kw)


def test_round_trip(tmp_path):
    model = build_model(CFG, seed=1)
    path = save(tmp_path, "my-run_1.0", model, dataset="digits", group="p")
    run = load_run(path)
    assert run.name == "my-run_1.0" and run.model_config == CFG and run.train_config == TCFG
    assert run.history == HISTORY and run.dataset == "digits" and run.group == "p"
    assert run.status == "finished" and run.final == {"recon": 29.0, "kl": 2.0, "loss": 31.0}
    assert not run.model.training
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(run.model.encode(x)[0], model.encode(x)[0])
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "run.json"]


def test_runs_saved_before_the_group_rename_keep_their_group(tmp_path):
    """Files written before the rename call the group "pair" (the demo runs shipped before
    issue 16's retraining did); they are listed and loaded with that group."""
    meta_path = save(tmp_path, "old-vae", group="old") / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["pair"] = meta.pop("group")
    meta_path.write_text(json.dumps(meta))
    assert {r.name: r.group for r in list_runs(tmp_path)} == {"old-vae": "old"}
    assert load_run(tmp_path / "old-vae").group == "old"


def test_existing_run_is_never_overwritten_by_default(tmp_path):
    save(tmp_path, "keep")
    before = (tmp_path / "keep" / "model.safetensors").read_bytes()
    with pytest.raises(RunError, match="already exists"):
        save(tmp_path, "keep", build_model(CFG, seed=2))
    assert (tmp_path / "keep" / "model.safetensors").read_bytes() == before
    save(tmp_path, "keep", build_model(CFG, seed=2), overwrite=True)
    assert (tmp_path / "keep" / "model.safetensors").read_bytes() != before


@pytest.mark.parametrize("overwrite", [False, True])
def test_crash_mid_save_leaves_nothing_half_written(tmp_path, monkeypatch, overwrite):
    if overwrite:
        save(tmp_path, "run")
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} if overwrite else None

    def crash(*args, **kwargs):
        raise OSError("simulated crash: disk full")

    monkeypatch.setattr(runs_module.json, "dump", crash)  # dies after the weights were written
    with pytest.raises(RunError, match="simulated crash"):
        save(tmp_path, "run", build_model(CFG, seed=5), overwrite=overwrite)
    monkeypatch.undo()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    if overwrite:
        assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before
        load_run(tmp_path / "run")
    else:
        assert not (tmp_path / "run").exists()
    # A process killed outright leaves a hidden temp folder: it is never listed as a run.
    (tmp_path / ".tmp-ghost-1234").mkdir()
    (tmp_path / ".tmp-ghost-1234" / "model.safetensors").write_bytes(b"\x00" * 10)
    assert all(not r.name.startswith(".") for r in list_runs(tmp_path))


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_hostile_pickle_disguised_as_run_is_refused_and_not_executed(tmp_path):
    path = save(tmp_path, "evil")
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _Exploit(marker)})
    (path / "model.safetensors").write_bytes(payload)
    with pytest.raises(RunError, match="not a valid safetensors"):
        load_run(path)
    torch.save({"w": _Exploit(marker)}, path / "model.safetensors")  # a torch.save zip pickle too
    with pytest.raises(RunError):
        load_run(path)
    assert not marker.exists()
    [info] = list_runs(tmp_path)
    assert info.status == "broken" and "safetensors" in info.reason
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".hidden", "", "tab\tname", "x" * 81,
                                  "new\nline", "a b", "-dash", "name..x"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(InvalidRunName):
        validate_run_name(name)
    with pytest.raises(InvalidRunName):
        save(tmp_path, name)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RunError):  # not an entry of the root (or not a name at all)
        delete_run(name, tmp_path)


def _corrupt(path: Path, how: str) -> None:
    weights, meta = path / "model.safetensors", path / "run.json"
    if how == "truncated":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif how == "garbage-json":
        meta.write_text("{not json")
    elif how == "future-version":
        d = json.loads(meta.read_text()); d["format_version"] = 99; meta.write_text(json.dumps(d))
    elif how == "shape-mismatch":
        d = json.loads(meta.read_text()); d["model_config"]["latent_dim"] = 3; meta.write_text(json.dumps(d))
    elif how == "unknown-config-key":
        d = json.loads(meta.read_text()); d["model_config"]["__class__"] = "os.system"; meta.write_text(json.dumps(d))
    elif how == "missing-weights":
        weights.unlink()
    elif how == "empty-folder":
        weights.unlink(); meta.unlink()


@pytest.mark.parametrize("how", ["truncated", "garbage-json", "future-version", "shape-mismatch",
                                 "unknown-config-key", "missing-weights", "empty-folder"])
def test_broken_runs_raise_one_error_type_and_are_listed_as_broken(tmp_path, how):
    save(tmp_path, "good")
    bad = save(tmp_path, "bad")
    _corrupt(bad, how)
    with pytest.raises(RunError):
        load_run(bad)
    infos = {r.name: r for r in list_runs(tmp_path)}
    assert infos["good"].status == "finished" and infos["good"].usable
    assert infos["bad"].status == "broken" and infos["bad"].reason and not infos["bad"].usable


def test_nan_weights_load_as_diverged(tmp_path):
    model = build_model(CFG)
    with torch.no_grad():
        model.decoder.net[0].weight.fill_(float("nan"))
    run = load_run(save(tmp_path, "nan", model))
    assert run.status == "diverged"


def test_delete_and_unique_names(tmp_path):
    save(tmp_path, "pair-ae")
    assert unique_run_name("pair", tmp_path) == "pair-2"
    assert unique_run_name("fresh", tmp_path) == "fresh"
    delete_run("pair-ae", tmp_path)
    assert list_runs(tmp_path) == []
    with pytest.raises(RunError, match="No run"):
        delete_run("pair-ae", tmp_path)
    assert list_runs(tmp_path / "missing") == []
