"""Hosting for a class: fair sharing through the pages, who may delete which run, IDX uploads.

AppTest gives every test session the same id ("test session id"), so runs "of another session"
are saved here with another owner token. A hosted server is simulated by setting
``server.address`` (the repo's config binds to localhost, where the single user owns every run).
"""
from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit import config as st_config

import vae_core.store.idx as idx_module
from helpers import REPO, open_page
from helpers import no_exception as ok
from ui.access import delete_refusal, owner_token
from ui.navigation import OVERVIEW, TRAIN
from vae_core import DatasetError, list_runs, load_dataset
from vae_core.data import check_run_dataset
from vae_core.store.idx import save_idx_upload

TIMEOUT = 60
THIS_SESSION = owner_token("test session id")  # AppTest's session id


@pytest.fixture
def hosted():
    """The app as a server reachable from other machines (--server.address 0.0.0.0)."""
    old = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    yield
    st_config.set_option("server.address", old)


def set_meta(run: Path, **fields) -> None:
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(meta | fields))


def wait_until(condition, job, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, (job.state, job.error)
        time.sleep(0.05)


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def ask_delete(at, label: str):
    ok(at.multiselect(key="train_delete_names").set_value([label]).run())
    return ok(at.button(key="train_delete").click().run())


# --- owner and read-only fields ------------------------------------------------------------------

def test_shipped_demo_runs_are_read_only_and_owner_fields_are_validated(checkpoints):
    shipped = {r.name: r for r in list_runs(REPO / "checkpoints")}
    assert shipped and all(r.read_only for r in shipped.values() if r.name.startswith("demo-"))
    set_meta(checkpoints / "demo-ae", owner=THIS_SESSION)
    set_meta(checkpoints / "demo-vae", owner=["not", "text"], read_only="yes")
    infos = {r.name: r for r in list_runs(checkpoints)}
    assert infos["demo-ae"].owner == THIS_SESSION and not infos["demo-ae"].read_only
    assert infos["demo-vae"].status == "broken" and "owner" in infos["demo-vae"].reason


def test_delete_rules(checkpoints):
    run = {r.name: r for r in list_runs(checkpoints)}["demo-ae"]
    run.owner = THIS_SESSION
    assert delete_refusal(run, THIS_SESSION, everything=False) is None
    assert "another browser session" in delete_refusal(run, owner_token("other"), False)
    assert delete_refusal(run, owner_token("other"), everything=True) is None  # the teacher
    run.read_only = True
    assert "read-only" in delete_refusal(run, THIS_SESSION, everything=True)


# --- deleting through the Train page -------------------------------------------------------------

def test_hosted_delete_refused_for_another_sessions_run_and_demo_runs(checkpoints, hosted,
                                                                      fresh_streamlit_cache):
    set_meta(checkpoints / "demo-ae", owner=owner_token("another session"))
    set_meta(checkpoints / "demo-vae", read_only=True)
    at = ok(open_page(TRAIN.file, timeout=TIMEOUT))
    assert not at.get("expander")  # no teacher password configured: no teacher box
    ask_delete(at, "demo-ae")
    assert any("another browser session" in e for e in errors(at)), errors(at)
    assert "train_delete_pending" not in at.session_state
    ask_delete(at, "demo-vae")
    assert any("read-only" in e for e in errors(at)), errors(at)
    assert (checkpoints / "demo-ae").is_dir() and (checkpoints / "demo-vae").is_dir()


def test_teacher_password_unlocks_deleting_any_run_but_demo_runs(checkpoints, hosted,
                                                                  fresh_streamlit_cache):
    set_meta(checkpoints / "demo-ae", owner=owner_token("another session"))
    set_meta(checkpoints / "demo-vae", read_only=True)
    at = open_page(TRAIN.file, timeout=TIMEOUT)
    at.secrets["teacher_password"] = "s3cret"
    ok(at.run())
    at.text_input(key="access_password").set_value("wrong")
    ok(at.button(key="access_unlock").click().run())
    assert "Wrong teacher password." in errors(at)
    at.text_input(key="access_password").set_value("s3cret")
    ok(at.button(key="access_unlock").click().run())
    assert any("Teacher mode" in c.value for c in at.caption)
    ask_delete(at, "demo-ae")
    ok(at.button(key="train_delete_yes").click().run())
    assert not (checkpoints / "demo-ae").exists()
    ask_delete(at, "demo-vae")
    assert any("read-only" in e for e in errors(at)) and (checkpoints / "demo-vae").is_dir()


def test_localhost_without_password_owns_every_run_but_demo_runs(checkpoints,
                                                                 fresh_streamlit_cache):
    set_meta(checkpoints / "demo-ae", owner=owner_token("a session before a restart"))
    set_meta(checkpoints / "demo-vae", read_only=True)
    at = ok(open_page(TRAIN.file, timeout=TIMEOUT))
    ask_delete(at, "demo-ae")
    ok(at.button(key="train_delete_yes").click().run())
    assert not (checkpoints / "demo-ae").exists()
    ask_delete(at, "demo-vae")
    assert any("read-only" in e for e in errors(at)) and (checkpoints / "demo-vae").is_dir()


# --- fair sharing through the pages --------------------------------------------------------------

@pytest.mark.slow
def test_one_job_per_session_then_the_session_owns_and_deletes_its_runs(checkpoints, hosted,
                                                                          fresh_streamlit_cache):
    at = ok(open_page(TRAIN.file, timeout=TIMEOUT))
    at.number_input(key="train_epochs").set_value(500)  # long enough to still run below
    ok(at.button(key="train_submit").click().run())
    job = at.session_state["train_job"]
    assert job.owner == THIS_SESSION and job.active
    at.switch_page(OVERVIEW.file)
    ok(at.run())
    ok(at.button(key="overview_quick").click().run())  # the same session, another page
    assert any("already have a training job" in e for e in errors(at)), errors(at)
    assert "overview_job" not in at.session_state
    wait_until(lambda: any(job.records.values()), job)  # something trained, so something saved
    job.stop.set()
    wait_until(lambda: not job.active, job)
    saved = [r for r in list_runs(checkpoints) if r.owner == THIS_SESSION]
    assert {r.name for r in saved} == {"pair-ae", "pair-vae"}, job.error
    assert THIS_SESSION in (checkpoints / "pair-ae" / "run.json").read_text()
    assert "test session id" not in (checkpoints / "pair-ae" / "run.json").read_text()
    at.switch_page(TRAIN.file)
    ok(at.run())
    ask_delete(at, "pair-ae")
    ok(at.button(key="train_delete_yes").click().run())
    assert not (checkpoints / "pair-ae").exists() and not errors(at)


def test_full_queue_is_refused_with_a_clear_message(checkpoints, monkeypatch,
                                                    fresh_streamlit_cache):
    monkeypatch.setenv("VAE_LAB_MAX_QUEUED", "0")
    at = ok(open_page(TRAIN.file, timeout=TIMEOUT))
    ok(at.button(key="train_submit").click().run())
    assert any("queue is full" in e for e in errors(at)), errors(at)
    assert "train_job" not in at.session_state


# --- IDX uploads ---------------------------------------------------------------------------------

def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def digit_idx_files(digits) -> dict[str, bytes]:
    """Real digits as IDX files: the images gzipped, the labels plain."""
    images = (digits.test_x[:, 0].numpy() * 255).round()
    labels = digits.test_y.numpy()
    return {"t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(images, 2051)),
            "t10k-labels-idx1-ubyte": idx_bytes(labels, 2049)}


def test_uploaded_idx_files_are_saved_under_the_data_root(tmp_path, digits, digit_idx_files):
    spec = save_idx_upload(digit_idx_files, tmp_path)
    folder = Path(spec.removeprefix("idx:"))
    assert folder.parent == tmp_path.resolve() / "uploads"
    assert check_run_dataset(spec, tmp_path) == spec  # a saved run may name it later
    data = load_dataset(spec)
    assert len(data.train_x) + len(data.test_x) == len(digits.test_x)
    assert data.image_shape == (1, 8, 8)
    assert save_idx_upload(digit_idx_files, tmp_path) == spec  # the same upload: one folder
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == [folder.name]


def test_bad_uploads_are_refused_and_leave_nothing(tmp_path, digit_idx_files, monkeypatch):
    images = digit_idx_files["t10k-images-idx3-ubyte.gz"]
    for files, message in (({"../../etc/t10k-images-idx3-ubyte.gz": images}, "not an IDX file name"),
                           ({"t10k-images-idx3-ubyte.gz": images}, "no matching labels"),
                           ({"t10k-images-idx3-ubyte.gz": b"junk",
                             "t10k-labels-idx1-ubyte": b"junk"}, "cannot read"),
                           ({}, "Upload the IDX files")):
        with pytest.raises(DatasetError, match=message):
            save_idx_upload(files, tmp_path)
    monkeypatch.setattr(idx_module, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(DatasetError, match="at most"):
        save_idx_upload(digit_idx_files, tmp_path)
    uploads = tmp_path / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_hosted_train_page_takes_uploads_not_server_paths(checkpoints, hosted,
                                                          fresh_streamlit_cache):
    at = ok(open_page(TRAIN.file, timeout=TIMEOUT))
    ok(at.selectbox(key="train_dataset").set_value("idx").run())
    assert at.get("file_uploader") and not [t for t in at.text_input if t.key == "train_idx_path"]
    assert at.button(key="train_submit").disabled  # nothing uploaded yet
