"""Hostile files and inputs (issue 9): one regression test per finding, Hypothesis fuzzing of
run.json, weights and IDX files, and kill -9 trials of an overwrite.

Every page-facing reader (``list_runs``, ``run_info``, ``load_run``, ``load_idx_folder``) must
either work or raise its one error type (``RunError`` / ``DatasetError``) naming the file.
"""
from __future__ import annotations

import gzip
import importlib.util
import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import REPO, open_page
from vae_core import (DatasetError, ModelConfig, RunError, TrainConfig, build_model, delete_run,
                      list_runs, load_run, save_run, validate_run_name)
from vae_core.store import runs as runs_module
from vae_core.__main__ import main
from vae_core.analysis.classifier import Classifier, _load, classifier_shapes, dataset_fingerprint
from vae_core.data import check_run_dataset, load_idx_folder
from vae_core.store.run_format import run_info
from ui import navigation
from vae_core.store.validate import (MAX_HEADER_BYTES, MAX_PARAMETERS, json_depth, parameter_count,
                                     safetensors_header, state_shapes, weights_finite)

_spec = importlib.util.spec_from_file_location("hostile_runs", REPO / "benchmarks" / "hostile_runs.py")
hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile)

TINY, TINY_TRAIN, TINY_HISTORY = hostile.TINY, hostile.TINY_TRAIN, hostile.TINY_HISTORY
FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_counter = itertools.count()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One good tiny run folder to spoil in copies."""
    root = tmp_path_factory.mktemp("template")
    return save_run(build_model(TINY, seed=1), TINY, TINY_TRAIN, TINY_HISTORY, "tiny", root)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scratch")


def spoiled_copy(template: Path, scratch: Path, spoil) -> Path:
    root = scratch / f"root{next(_counter)}"
    root.mkdir()
    folder = root / "run"
    shutil.copytree(template, folder)
    spoil(folder)
    return folder


def reads_cleanly(folder: Path) -> tuple[str, str]:
    """The one contract: listing never raises; loading works or raises RunError; a run listed as
    usable loads (and the other way round, a run that loads is never listed as broken)."""
    info = run_info(folder)
    listed = list_runs(folder.parent)
    assert [r.name for r in listed] == [folder.name]
    try:
        run = load_run(folder)
    except RunError as e:
        assert str(folder) in str(e) or folder.name in str(e)  # the message names the file
        assert not info.usable, f"listed as usable but does not load: {e}"
        return info.status, "RunError"
    assert info.status == run.status != "broken"
    return info.status, "loaded"


# --- 1. one bad run.json broke everything ------------------------------------------------------

# Valid runs: pages refuse the data set of the first two; the last one's metrics refuse to run.
NOT_BROKEN = {"dataset-etc", "dataset-dev-zero", "weights-overflow"}
DIVERGED = {"weights-nan-finished", "weights-inf-finished"}


@pytest.mark.parametrize("case", sorted(hostile.hostile_cases()))
def test_each_hostile_run_is_listed_as_broken_and_never_raises(template, scratch, case):
    folder = spoiled_copy(template, scratch, hostile.hostile_cases()[case])
    t0 = time.perf_counter()
    status, outcome = reads_cleanly(folder)
    assert time.perf_counter() - t0 < 2.0  # no memory bomb, no hang on a FIFO
    if case in DIVERGED:
        assert (status, outcome) == ("diverged", "loaded")
    elif case in NOT_BROKEN:
        assert (status, outcome) == ("finished", "loaded")
    else:
        assert (status, outcome) == ("broken", "RunError")


def test_one_bad_run_leaves_the_others_and_the_cli_working(template, scratch, capsys):
    folder = spoiled_copy(template, scratch, hostile.hostile_cases()["created-text"])
    shutil.copytree(template, folder.parent / "good")
    infos = {r.name: r for r in list_runs(folder.parent)}
    assert infos["good"].usable and infos["run"].status == "broken"
    assert "created must be a number" in infos["run"].reason and "run.json" in infos["run"].reason
    assert main(["list", "--root", str(folder.parent)]) == 0
    out = capsys.readouterr().out
    assert "good" in out and "broken" in out


def test_deep_json_is_measured_without_recursion():
    assert json_depth('{"a": [[1], {"b": "[[[[["}], "c": "\\"["}') == 3
    assert json_depth("[" * 200_000 + "]" * 200_000) == 200_000


# --- 2. memory bombs from a small config ---------------------------------------------------------

@pytest.mark.parametrize("cfg", [
    dict(hidden=(16, 24), arch="mlp", kind="vae"), dict(hidden=(5,), arch="mlp", kind="ae"),
    dict(hidden=(4, 6), arch="conv", kind="vae", input_shape=(1, 9, 7)),
    dict(hidden=(3, 5, 2), arch="conv", kind="ae", input_shape=(2, 16, 16), latent_dim=3),
    dict(hidden=(32, 64), arch="conv", kind="vae", input_shape=(3, 28, 28), latent_dim=8)])
def test_state_shapes_from_the_meta_device_match_built_models(cfg):
    c = ModelConfig(**cfg)
    built = {k: tuple(v.shape) for k, v in build_model(c).state_dict().items()}
    assert state_shapes(c) == built
    assert parameter_count(c) == sum(v.numel() for v in build_model(c).state_dict().values())


def test_classifier_shapes_match_the_classifier():
    built = {k: tuple(v.shape) for k, v in Classifier((1, 8, 8), 10, 7).state_dict().items()}
    assert classifier_shapes((1, 8, 8), 10, 7) == built


@pytest.mark.parametrize("kw, message", [
    (dict(hidden=[8192] * 4), "parameters"), (dict(input_shape=[1, 4096, 4096]), "input_shape"),
    (dict(input_shape=[1, 1024, 1024], hidden=[64]), "parameters"),
    (dict(hidden=[1] * 17), "hidden"), (dict(latent_dim=True), "latent_dim")])
def test_model_size_is_bounded_before_anything_is_built(kw, message):
    tracemalloc.start()
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20


def test_a_header_longer_than_any_we_write_is_refused_before_the_library_parses_it(tmp_path):
    # Valid safetensors (the library would read up to 100 MB of header), but a header of more than
    # MAX_HEADER_BYTES is refused from its 8-byte length alone.
    from safetensors import safe_open

    header = b"{}" + b" " * (MAX_HEADER_BYTES - 1)
    path = tmp_path / "padded-header.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with safe_open(str(path), framework="numpy") as f:
        assert list(f.keys()) == []
    with pytest.raises(RunError, match=f"a header of {len(header):,} bytes"):
        safetensors_header(path, RunError, 4 * MAX_HEADER_BYTES)
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")  # a length beyond the file
    with pytest.raises(RunError, match="a header of"):
        safetensors_header(path, RunError, 4 * MAX_HEADER_BYTES)


def test_finite_scan_reads_slices_not_whole_tensors(tmp_path):
    from safetensors.numpy import save_file

    weights = np.zeros((1024, 4096), np.float32)  # 16 MB in one tensor
    weights[-1, -1] = np.nan  # in the last slice
    save_file({"w": weights, "b": np.zeros(3, np.float32)}, str(tmp_path / "w.safetensors"))
    tracemalloc.start()
    finite = weights_finite(tmp_path / "w.safetensors", RunError)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not finite and peak < 8 << 20
    weights[-1, -1] = 0.0
    save_file({"w": weights}, str(tmp_path / "w.safetensors"))
    assert weights_finite(tmp_path / "w.safetensors", RunError)


def test_listing_is_cached_by_file_state_and_builds_no_model(template, scratch):
    folder = spoiled_copy(template, scratch, lambda f: None)
    first = list_runs(folder.parent)
    assert list_runs(folder.parent)[0] is first[0]  # same object: nothing was read again
    meta = json.loads((folder / "run.json").read_text())
    meta["status"] = "stopped"
    (folder / "run.json").write_text(json.dumps(meta))
    again = list_runs(folder.parent)[0]
    assert again is not first[0] and again.status == "stopped"


def test_hostile_classifier_cache_is_refused_from_its_header(digits, tmp_path):
    fp = dataset_fingerprint(digits)
    cache = tmp_path / ".classifiers"
    cache.mkdir()
    (cache / f"{fp}.json").write_text(json.dumps({"version": 1, "fingerprint": fp, "hidden": 8_000_000,
                                                  "accuracy": 0.9}))
    from safetensors.torch import save_file

    save_file({k: v for k, v in Classifier(digits.image_shape, 10).state_dict().items()},
              str(cache / f"{fp}.safetensors"))
    tracemalloc.start()
    with pytest.raises(RunError, match="hidden"):
        _load(cache / f"{fp}.safetensors", cache / f"{fp}.json", digits, fp)
    (cache / f"{fp}.json").write_text(json.dumps({"version": 1, "fingerprint": fp, "hidden": 4000,
                                                  "accuracy": 0.9}))
    with pytest.raises(RunError, match=r"net\.\d\.(weight|bias) has shape"):
        _load(cache / f"{fp}.safetensors", cache / f"{fp}.json", digits, fp)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20


# --- 3. data loader: overflow, gzip bombs, FIFOs, devices, paths named by a run -----------------

def idx_bytes(magic: int, dims: list[int], payload: bytes) -> bytes:
    return struct.pack(">I", magic)[:3] + bytes([len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def write_idx_pair(folder: Path, images: bytes, labels: bytes, gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (folder / name).write_bytes(data)


GOOD_LABELS = idx_bytes(2049, [10], bytes(range(10)))


def test_idx_dims_that_overflow_numpy_are_refused(tmp_path):
    write_idx_pair(tmp_path, idx_bytes(2051, [2**31, 2**31, 4], b"\x00" * 64), GOOD_LABELS)
    with pytest.raises(DatasetError, match="at most"):
        load_idx_folder(tmp_path)


def test_gzip_bomb_stops_at_what_the_header_claims(tmp_path):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    zeros = bytes(1 << 20)
    bomb = packer.compress(idx_bytes(2051, [10, 8, 8], b"\x00" * 640))
    bomb += b"".join(packer.compress(zeros) for _ in range(64)) + packer.flush()  # 64 MB inside
    assert len(bomb) < 400_000
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(bomb)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(GOOD_LABELS)
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(DatasetError, match="padded"):
        load_idx_folder(tmp_path)
    assert time.perf_counter() - t0 < 1.0
    assert tracemalloc.get_traced_memory()[1] < 16 << 20
    tracemalloc.stop()


def test_gzip_header_claiming_more_than_deflate_can_hold_is_refused_unread(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(2051, [60000, 100, 100], b"")))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(GOOD_LABELS)
    with pytest.raises(DatasetError, match="truncated"):
        load_idx_folder(tmp_path)


@pytest.mark.parametrize("which", ["images", "labels"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_idx_files_must_be_regular_files(tmp_path, which, kind):
    write_idx_pair(tmp_path, idx_bytes(2051, [10, 8, 8], b"\x01" * 640), GOOD_LABELS)
    target = tmp_path / f"t10k-{which}-idx{3 if which == 'images' else 1}-ubyte"
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()
    outcome: list = []
    t = threading.Thread(target=lambda: outcome.append(_catch(load_idx_folder, tmp_path)), daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "the loader hung"
    assert isinstance(outcome[0], DatasetError), outcome


def _catch(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # the test asserts the type
        return e


def test_a_run_names_only_known_data_sets_or_folders_in_the_data_root(tmp_path):
    data_root = tmp_path / "data"
    (data_root / "mine").mkdir(parents=True)
    (data_root / "escape").symlink_to("/etc")
    for ok in ("digits", "MNIST", "fashion-mnist", f"idx:{data_root / 'mine'}", str(data_root / "mine")):
        assert check_run_dataset(ok, data_root) == ok
    for bad in ("idx:/etc", "/dev", f"idx:{data_root}/../..", f"idx:{data_root / 'escape'}", "idx:mine",
                "idx:~"):
        with pytest.raises(DatasetError, match="data folder"):
            check_run_dataset(bad, data_root)


# --- 4. NaN weights saved as "finished" ---------------------------------------------------------

def test_nan_weights_are_diverged_whatever_the_file_claims(template, scratch):
    folder = spoiled_copy(template, scratch, hostile.hostile_cases()["weights-nan-finished"])
    assert json.loads((folder / "run.json").read_text())["status"] == "finished"
    info = run_info(folder)
    assert info.status == "diverged" and not info.usable and "NaN" in info.reason
    assert load_run(folder).status == "diverged"


@pytest.mark.slow  # Evidence trains its judge classifier (a few seconds)
def test_evidence_and_latent_pages_skip_a_nan_run(checkpoints, fresh_streamlit_cache):
    from streamlit.testing.v1 import AppTest

    newest = checkpoints / "nan-vae"
    shutil.copytree(checkpoints / "demo-vae", newest)
    meta = json.loads((newest / "run.json").read_text())
    meta["created"] += 1000  # the newest run: it would be the default pick if it were usable
    (newest / "run.json").write_text(json.dumps(meta))
    hostile._nan_weights(float("nan"))(newest)
    for page in (navigation.EVIDENCE.file, navigation.LATENT_SPACE.file):
        at = open_page(page, timeout=60)
        assert not at.exception, [e.value for e in at.exception]
        boxes = [s for s in at.selectbox if s.label == "VAE run"]
        assert boxes and "nan-vae" not in boxes[0].options
        assert boxes[0].value == "demo-vae"  # options are run names


@pytest.mark.slow  # evaluate trains its judge classifier first (a few seconds)
def test_weights_that_overflow_give_a_clear_error_not_a_crash(template, scratch, digits, capsys):
    from vae_core.analysis.scorecard import scorecard

    folder = spoiled_copy(template, scratch, hostile.hostile_cases()["weights-overflow"])
    run = load_run(folder)
    with pytest.raises(ValueError, match="not finite"):
        scorecard(run.model, digits, Classifier(digits.image_shape, 10), run=run.name)
    assert main(["evaluate", str(folder), "--root", str(folder.parent), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not finite" in err


# --- 5. crash-safe overwrite --------------------------------------------------------------------

def test_a_crash_between_the_two_renames_is_recovered_on_the_next_listing(template, scratch):
    folder = spoiled_copy(template, scratch, lambda f: None)
    root = folder.parent
    before = (folder / "model.safetensors").read_bytes()
    os.rename(folder, root / ".trash-run-0badc0de")  # the old run moved away, then the crash
    shutil.copytree(template, root / ".tmp-run-12345678")  # the new one never renamed in
    shutil.copytree(template, root / ".deleted-0badc0de")  # a delete that died half way
    assert [r.name for r in list_runs(root)] == ["run"]
    assert (folder / "model.safetensors").read_bytes() == before
    assert sorted(os.listdir(root)) == ["run"]
    shutil.copytree(template, root / ".trash-run-feedf00d")  # its run exists: just removed
    list_runs(root)
    assert sorted(os.listdir(root)) == ["run"]


def test_concurrent_overwrites_take_turns_without_raw_errors(tmp_path):
    import multiprocessing

    save_run(build_model(TINY, seed=0), TINY, TINY_TRAIN, TINY_HISTORY, "shared", tmp_path)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_overwrite_n, args=(str(tmp_path), 8, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert load_run(tmp_path / "shared").status == "finished"
    assert sorted(os.listdir(tmp_path)) == ["shared"]


def _overwrite_n(root: str, n: int, seed: int) -> None:
    torch.set_num_threads(1)
    for i in range(n):
        save_run(build_model(TINY, seed=seed * 100 + i), TINY, TINY_TRAIN, TINY_HISTORY, "shared",
                 root, overwrite=True)


@pytest.mark.slow
def test_kill_9_at_random_points_of_overwrite_loses_no_run(tmp_path):
    counts = hostile.kill9_overwrite_trials(tmp_path, 20, seed=0)
    assert (counts["trials"], counts["lost"]) == (20, 0), counts
    assert not [p for p in os.listdir(tmp_path) if p.startswith((".tmp-", ".trash-", ".deleted-"))]


# --- 6 and 10. names outside the rules, not UTF-8, links out of the root: listed, deletable ------

def test_odd_folders_are_listed_broken_and_deletable(template, tmp_path):
    root, outside = tmp_path / "runs", tmp_path / "outside"
    root.mkdir()
    shutil.copytree(template, outside / "elsewhere")
    shutil.copytree(template, root / os.fsdecode(b"bad-\xff-name"))
    shutil.copytree(template, root / "demo\n")
    shutil.copytree(template, root / "has space")
    (root / "link-out").symlink_to(outside / "elsewhere")
    infos = {r.name: r for r in list_runs(root)}
    assert len(infos) == 4 and all(r.status == "broken" for r in infos.values())
    assert "symbolic link" in infos["link-out"].reason
    labels = sorted(r.label for r in infos.values())
    assert "bad-\\xff-name" in labels and all(lab.encode("utf-8") for lab in labels)
    for name in infos:
        delete_run(name, root)
    assert sorted(os.listdir(root)) == []
    assert (outside / "elsewhere" / "run.json").is_file()  # the link went, never its target
    with pytest.raises(RunError):
        delete_run("../outside", root)


def test_train_page_lists_and_deletes_every_broken_entry(checkpoints, fresh_streamlit_cache):
    from streamlit.testing.v1 import AppTest

    shutil.copytree(checkpoints / "demo-vae", checkpoints / os.fsdecode(b"odd-\xfe"))
    (checkpoints / "link-etc").symlink_to("/etc")
    hostile._set(["created"], [1, 2])(Path(shutil.copytree(checkpoints / "demo-ae", checkpoints / "bad-created")))
    at = open_page(navigation.TRAIN.file, timeout=60)
    assert not at.exception, [e.value for e in at.exception]
    box = at.multiselect(key="train_delete_names")
    assert {"odd-\\xfe", "link-etc", "bad-created"} <= set(box.options)
    box.set_value(["odd-\\xfe", "link-etc", "bad-created"]).run()
    at.button(key="train_delete").click().run()
    at.button(key="train_delete_yes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert sorted(p for p in os.listdir(checkpoints) if not p.startswith(".")) == ["demo-ae", "demo-vae"]


# --- 7. trailing newline ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["demo-digits-vae\n", "demo\r", "a\x00b", "demo\u2028"])
def test_run_names_with_line_ends_are_refused(name, tmp_path):
    with pytest.raises(RunError, match="Invalid run name"):
        validate_run_name(name)
    with pytest.raises(RunError, match="Invalid run name"):
        save_run(build_model(TINY), TINY, TINY_TRAIN, TINY_HISTORY, name, tmp_path)


# --- 8. CLI: one line, exit 2, before training ---------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--device", "foo"], "not a device"), (["--device", "cuda:7"], "not available"),
    (["--root", "/etc/hostname"], "not a folder"), (["--seed", str(2**63)], "seed"),
    (["--epochs", "0"], "epochs"), (["--batch-size", "-1"], "batch_size"), (["--lr", "inf"], "lr"),
    (["--beta", "nan"], "beta"), (["--latent-dim", "0"], "latent_dim"),
    (["--hidden", "8192", "8192", "8192", "8192"], "parameters"), (["--kl-warmup", "-3"], "kl_warmup"),
    (["--name", "taken"], "already used"), (["--name", "x\n"], "Invalid run name")])
def test_cli_user_errors_are_one_line_and_found_before_training(tmp_path, capsys, argv, message):
    root = tmp_path / "runs"
    (root / "taken-vae").mkdir(parents=True)
    args = ["train", "--root", str(root), "--epochs", "200", "--quiet", *argv]
    if "--root" in argv:
        args = ["train", "--epochs", "200", "--quiet", *argv]
    t0 = time.perf_counter()
    assert main(args) == 2
    assert time.perf_counter() - t0 < 3.0  # refused before 200 epochs of training
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert sorted(os.listdir(root)) == ["taken-vae"]


def test_cli_sweep_checks_every_name_first(tmp_path, capsys):
    (tmp_path / "sw-b2").mkdir()
    assert main(["sweep", "--name", "sw", "--betas", "0,2", "--root", str(tmp_path), "--quiet"]) == 2
    assert "sw-b2" in capsys.readouterr().err and sorted(os.listdir(tmp_path)) == ["sw-b2"]


def test_cli_evaluate_on_a_broken_run_is_one_line(template, scratch, capsys):
    folder = spoiled_copy(template, scratch, hostile.hostile_cases()["hidden-infinity"])
    assert main(["evaluate", str(folder), "--root", str(folder.parent)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "run.json" in err


@pytest.mark.parametrize("field, value", [("epochs", True), ("batch_size", 2.0), ("seed", -1),
                                          ("seed", 2**63), ("lr", float("nan")), ("beta", "1"),
                                          ("kl_warmup_epochs", False), ("device", 3)])
def test_train_config_refuses_booleans_and_out_of_range(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


# --- fuzzing: run.json and weights mutations ----------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)
META_PATHS = [("created",), ("status",), ("reason",), ("dataset",), ("pair",), ("format_version",),
              ("final",), ("final", "recon"), ("history",), ("history", 0), ("history", 0, "kl"),
              ("model_config",), ("model_config", "kind"), ("model_config", "latent_dim"),
              ("model_config", "arch"), ("model_config", "hidden"), ("model_config", "hidden", 0),
              ("model_config", "input_shape"), ("model_config", "input_shape", 1),
              ("train_config",), ("train_config", "epochs"), ("train_config", "lr"),
              ("train_config", "beta"), ("train_config", "seed"), ("train_config", "device"), ()]


def _mutate(meta, path, value, delete):
    if not path:
        return value
    d = meta
    for k in path[:-1]:
        d = d[k]
    if delete and isinstance(d, dict):
        d.pop(path[-1], None)
    else:
        d[path[-1]] = value
    return meta


@pytest.mark.slow
@FUZZ
@given(path=st.sampled_from(META_PATHS), value=json_values, delete=st.booleans())
def test_fuzz_run_json_field_mutations(template, scratch, path, value, delete):
    def spoil(folder: Path) -> None:
        meta = _mutate(json.loads((folder / "run.json").read_text()), path, value, delete)
        (folder / "run.json").write_text(json.dumps(meta, allow_nan=True))
    reads_cleanly(spoiled_copy(template, scratch, spoil))


@FUZZ
@given(file=st.sampled_from(["run.json", "model.safetensors"]), cut=st.floats(0, 1),
       offset=st.floats(0, 1), junk=st.binary(min_size=0, max_size=16))
def test_fuzz_run_file_truncations_and_corruptions(template, scratch, file, cut, offset, junk):
    def spoil(folder: Path) -> None:
        data = bytearray((folder / file).read_bytes())
        at = int(offset * len(data))
        data[at:at + len(junk)] = junk
        (folder / file).write_bytes(bytes(data[: max(1, int(cut * len(data))) if cut < 0.5 else len(data)]))
    reads_cleanly(spoiled_copy(template, scratch, spoil))


@FUZZ
@given(header=st.dictionaries(st.sampled_from(["head.weight", "head.bias", "x", "__metadata__"]),
                              st.fixed_dictionaries({"dtype": st.sampled_from(["F32", "F64", "I8", "??"]),
                                                     "shape": st.lists(st.integers(-1, 2**40), max_size=4),
                                                     "data_offsets": st.lists(st.integers(-1, 2**40),
                                                                              max_size=3)}) | json_values,
                              max_size=4),
       length_lie=st.one_of(st.none(), st.integers(0, 2**64 - 1)), tail=st.binary(max_size=64))
def test_fuzz_safetensors_headers(template, scratch, header, length_lie, tail):
    def spoil(folder: Path) -> None:
        raw = json.dumps(header, allow_nan=True).encode()
        n = len(raw) if length_lie is None else length_lie
        (folder / "model.safetensors").write_bytes(struct.pack("<Q", n) + raw + tail)
    status, outcome = reads_cleanly(spoiled_copy(template, scratch, spoil))
    assert (status, outcome) == ("broken", "RunError")


# --- fuzzing: IDX headers and truncations -------------------------------------------------------

@FUZZ
@given(magic=st.sampled_from([2051, 2049, 2052, 0, 2**24 + 2051]),
       dims=st.lists(st.one_of(st.integers(0, 12), st.integers(0, 2**32 - 1)), max_size=4),
       payload=st.integers(0, 3000), cut=st.one_of(st.none(), st.integers(0, 40)), gz=st.booleans(),
       n_labels=st.integers(0, 12))
def test_fuzz_idx_headers_and_truncations(scratch, magic, dims, payload, cut, gz, n_labels):
    images = idx_bytes(magic, dims, bytes(np.arange(payload, dtype=np.uint8)))
    if cut is not None:
        images = images[:cut]
    folder = scratch / f"idx{next(_counter)}"
    write_idx_pair(folder, images, idx_bytes(2049, [n_labels], bytes(n_labels)), gz=gz)
    try:
        ds = load_idx_folder(folder)
    except DatasetError as e:
        assert str(folder) in str(e)
        return
    assert ds.train_x.shape[1:] == ds.test_x.shape[1:] and len(ds.train_x) == len(ds.train_y)
    assert float(ds.train_x.max()) <= 1.0
