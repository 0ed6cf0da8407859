"""Hosting a class safely (issue 18): one regression test per finding, each failing on the code
before the fix. Uploads that lie about their size, the Dask cluster's TLS (embedded, and the
README's recipe for a real one, started here with certificates made here), fair sharing per
computer, markdown from links and files, crafted numbers in links, the Draw page's PNG, password
guessing, and the smaller CLI and settings findings.
"""
from __future__ import annotations

import gzip
import io
import logging
import math
import os
import re
import socket
import string
import subprocess
import sys
import time
import tomllib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import REPO, no_exception, page_app, train_and_save
from vae_core import DatasetError, ModelConfig, TrainConfig, list_runs
from vae_core.store import idx as idx_module
from vae_core.__main__ import main, printable
from vae_core.config import env_number
from vae_core.data import load_idx_folder
from vae_core.store.idx import DecodeBudget, check_idx_folder, save_idx_upload, upload_cost
from vae_core.analysis.drawing import DrawingError, image_from_data_url
from vae_core.jobs import (ClientBusyError, EngineError, JobTooBigError, RunSpec, plan_runs,
                           TrainingEngine, check_scheduler_address, close_local_cluster,
                           default_local_workers, local_cluster)
from vae_core.viz.notebook import run_notebook

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CFG = ModelConfig(kind="vae", latent_dim=2, hidden=(8,), input_shape=(1, 8, 8))


def idx(magic: int, array: np.ndarray) -> bytes:
    return (magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
            + array.astype(np.uint8).tobytes())


def header(magic: int, dims: list[int]) -> bytes:
    return magic.to_bytes(4, "big")[:3] + bytes([len(dims)]) + b"".join(
        d.to_bytes(4, "big") for d in dims)


def zeros_gz(dims: list[int]) -> bytes:
    """A gzip IDX images file of zeros: tiny on the wire, ``prod(dims)`` bytes inside."""
    packer = gzip.compress(header(2051, dims) + bytes(math.prod(dims)), compresslevel=9)
    return packer


def upload(images: bytes, n: int) -> dict[str, bytes]:
    return {"t10k-images-idx3-ubyte.gz": images,
            "t10k-labels-idx1-ubyte": idx(2049, np.arange(n) % 10)}


# --- 1. an upload's cost is bounded before decompressing ---------------------------------------

def test_a_kilobyte_upload_claiming_megapixels_is_refused_before_decompressing(tmp_path):
    bomb = upload(zeros_gz([4096, 64, 64]), 4096)  # 16 MB of pixels from ~20 KB
    assert sum(map(len, bomb.values())) < 40_000
    tracemalloc.start()
    with pytest.raises(DatasetError, match="per byte"):
        save_idx_upload(bomb, tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 << 20  # the headers were read, not the 16 MB
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


@FUZZ
@given(n=st.integers(2, 5000), h=st.integers(1, 64), w=st.integers(1, 64))
def test_fuzz_upload_cost_is_bounded_by_size_and_pixels(n, h, w):
    files = upload(gzip.compress(header(2051, [n, h, w]) + bytes(n * h * w)), n)
    size = sum(map(len, files.values()))
    try:
        cost = upload_cost(files)
    except DatasetError:
        return
    assert cost <= idx_module.MAX_PIXELS_PER_UPLOAD_BYTE * size
    assert cost <= idx_module.MAX_UPLOAD_PIXELS


def test_uploads_over_the_pixel_cap_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(idx_module, "MAX_UPLOAD_PIXELS", 10_000)
    rng = np.random.default_rng(0)  # noise: no ratio to blame
    images = gzip.compress(idx(2051, rng.integers(0, 255, (200, 8, 8))))
    with pytest.raises(DatasetError, match="per upload"):
        save_idx_upload(upload(images, 200), tmp_path)


def test_the_decode_budget_is_shared_and_refuses_when_full():
    budget = DecodeBudget(100, wait_s=0.2)
    with budget.hold(80):
        t0 = time.perf_counter()
        with pytest.raises(DatasetError, match="other data sets"):
            with budget.hold(30):
                pass
        assert time.perf_counter() - t0 >= 0.2  # it waited for room first
    with budget.hold(100):  # released: the whole budget is free again
        assert budget.used == 100
    with budget.hold(500):  # larger than the budget: runs alone...
        with pytest.raises(DatasetError):  # ...and nothing runs beside it
            with budget.hold(1):
                pass


def test_an_upload_is_checked_streaming_not_loaded(tmp_path):
    """The upload used to be loaded as float32 to validate it (then again by the page's cache)."""
    rng = np.random.default_rng(1)
    n = 3000
    images = idx(2051, rng.integers(0, 255, (n, 28, 28)))
    files = {"t10k-images-idx3-ubyte": images, "t10k-labels-idx1-ubyte": idx(2049, np.arange(n) % 10)}
    tracemalloc.start()
    spec = save_idx_upload(files, tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * n * 28 * 28  # less than the float32 images alone
    data = load_idx_folder(spec.removeprefix("idx:"))
    assert len(data.train_x) + len(data.test_x) == n


def test_upload_messages_name_no_server_folder(tmp_path):
    files = upload(gzip.compress(header(2051, [10, 8, 8]) + bytes(100)), 10)  # truncated
    with pytest.raises(DatasetError) as e:
        save_idx_upload(files, tmp_path)
    assert "t10k-images-idx3-ubyte.gz" in str(e.value)
    assert str(tmp_path) not in str(e.value) and "/" not in str(e.value).split(":")[0]


def test_upload_folders_share_a_quota_and_the_least_recently_used_go(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)

    def files(seed: int) -> dict[str, bytes]:
        x = np.random.default_rng(seed).integers(0, 255, (100, 8, 8))
        return {"t10k-images-idx3-ubyte": idx(2051, x), "t10k-labels-idx1-ubyte": idx(2049, np.arange(100) % 10)}

    del rng
    one = len(idx(2051, np.zeros((100, 8, 8)))) + len(idx(2049, np.zeros(100)))
    monkeypatch.setattr(idx_module, "UPLOADS_QUOTA_BYTES", 2 * one + 10)
    monkeypatch.setattr(idx_module, "UPLOAD_KEEP_S", 0.0)
    a = save_idx_upload(files(1), tmp_path)
    time.sleep(0.02)
    b = save_idx_upload(files(2), tmp_path)
    time.sleep(0.02)
    c = save_idx_upload(files(3), tmp_path, in_use={b})  # a is the oldest unused: it goes
    assert not Path(a[4:]).exists() and Path(b[4:]).is_dir() and Path(c[4:]).is_dir()
    with pytest.raises(DatasetError, match="space for uploads is full"):
        save_idx_upload(files(4), tmp_path, in_use={b, c})


def test_idx_images_of_zero_height_are_refused(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(header(2051, [10, 0, 8]))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx(2049, np.arange(10)))
    with pytest.raises(DatasetError, match="at least 1×1"):
        load_idx_folder(tmp_path)
    with pytest.raises(DatasetError):
        check_idx_folder(tmp_path)


# --- 2. the server's settings --------------------------------------------------------------------

def test_streamlit_config_caps_uploads_and_hides_tracebacks():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 <= idx_module.MAX_UPLOAD_BYTES
    assert config["client"]["showErrorDetails"] == "none"


@FUZZ
@given(raw=st.one_of(st.text(max_size=12), st.sampled_from(["nan", "inf", "-5", "1e400", "2.5", "0x10"])))
def test_fuzz_env_settings_never_raise(raw, monkeypatch):
    for name in ("VAE_LAB_TIME_LIMIT", "VAE_LAB_MAX_QUEUED", "VAE_LAB_WORKERS"):
        monkeypatch.setenv(name, raw.replace("\0", ""))
    value = env_number("VAE_LAB_MAX_QUEUED", 64, 0, 1000, integer=True)
    assert isinstance(value, int) and 0 <= value <= 1000
    limit = env_number("VAE_LAB_TIME_LIMIT", 900.0, 0, 86400)
    assert math.isfinite(limit) and 0 <= limit <= 86400
    assert default_local_workers() >= 1


# --- 3. fair sharing, caps, closed tabs, the teacher --------------------------------------------

@pytest.fixture(scope="module")
def engine():
    """A real engine on the embedded cluster, with the dashboard's limits."""
    eng = TrainingEngine(n_workers=1, max_per_client=2, max_runs=4, max_job_epochs=30_000,
                         orphan_grace_s=0.5, grace_s=3.0)
    deadline = time.monotonic() + 90
    while eng.status().state != "ready" and time.monotonic() < deadline:
        time.sleep(0.2)
    yield eng
    eng.shutdown()
    close_local_cluster()


def long_job(name: str, epochs: int = 10_000) -> list[RunSpec]:
    return [RunSpec(name, CFG, TrainConfig(epochs=epochs))]


def end(job, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while job.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not job.active, job.state


def test_one_computer_with_many_tabs_gets_its_share_not_the_queue(engine, tmp_path):
    accepted, refused = [], 0
    for tab in range(12):  # twelve tabs, twelve sessions, one computer
        try:
            accepted.append(engine.submit(long_job(f"flood{tab}"), "digits", root=str(tmp_path),
                                          owner=f"tab{tab}", client="10.0.0.66"))
        except ClientBusyError:
            refused += 1
    assert len(accepted) == 2 and refused == 10
    other = engine.submit(long_job("student", 1), "digits", root=str(tmp_path), owner="s",
                          client="10.0.0.7")  # another student is not blocked
    for job in accepted + [other]:
        job.stop.set()
    for job in accepted + [other]:
        end(job)


def test_a_jobs_models_and_epochs_are_capped(engine, tmp_path):
    with pytest.raises(JobTooBigError, match="at most 4 models"):
        engine.submit([RunSpec(f"b{i}", CFG, TrainConfig(epochs=1)) for i in range(5)], "digits",
                      root=str(tmp_path))
    with pytest.raises(JobTooBigError, match="30000 epochs"):
        engine.submit([RunSpec(f"c{i}", CFG, TrainConfig(epochs=10_000)) for i in range(4)],
                      "digits", root=str(tmp_path))


def test_two_sessions_cannot_train_one_name_at_once(engine, tmp_path):
    first = engine.submit(long_job("race-b1"), "digits", root=str(tmp_path), group="race",
                          owner="a", client="10.0.0.1")
    with pytest.raises(EngineError, match="race"):
        engine.submit(long_job("race-b2"), "digits", root=str(tmp_path), group="race", owner="b",
                      client="10.0.0.2")
    first.stop.set()
    end(first)


def test_a_closed_tabs_job_is_stopped_and_says_why(engine, tmp_path):
    open_tab = {"alive": True}
    job = engine.submit(long_job("orphan"), "digits", root=str(tmp_path), owner="o",
                        client="10.0.0.3", alive=lambda: open_tab["alive"])
    time.sleep(1.0)
    assert job.active  # alive: nothing happens
    open_tab["alive"] = False
    end(job, 60)
    assert job.state == "stopped" and "closed" in job.error


def test_the_teacher_lists_and_stops_anyones_job(engine, tmp_path):
    job = engine.submit(long_job("someone"), "digits", root=str(tmp_path), owner="x",
                        client="10.0.0.4")
    assert job in engine.jobs()
    deadline = time.monotonic() + 60
    while not job.records.get("someone") and time.monotonic() < deadline:
        time.sleep(0.1)  # training: a stop now keeps a run
    assert engine.cancel(job.id)
    end(job)
    assert job.state == "stopped" and "teacher" in job.error
    assert not engine.cancel(job.id)  # no longer active
    saved = list_runs(tmp_path)  # the run says who stopped it, not "stopped by the user"
    assert [r.status for r in saved] == ["stopped"] and "teacher" in saved[0].reason


def test_an_uploaded_set_ships_as_uint8_and_trains_in_float_batches(engine, tmp_path, digits):
    """Workers keep an IDX set's pixels as uint8 (a quarter of float32) and train on float
    batches: the same numbers as training on the float data set here."""
    from vae_core import run_to_end, train
    from vae_core.jobs.worker import pack_dataset, unpack_dataset

    x = (digits.test_x[:200, 0].numpy() * 255).round()
    spec = save_idx_upload({"t10k-images-idx3-ubyte": idx(2051, x),
                            "t10k-labels-idx1-ubyte": idx(2049, digits.test_y[:200].numpy())},
                           tmp_path / "data")
    data = load_idx_folder(spec[4:])
    shipped = unpack_dataset(pack_dataset(data))
    assert shipped.train_x.dtype == torch.uint8 and shipped.test_x.dtype == torch.float32
    tcfg = TrainConfig(epochs=2, seed=3)
    here = run_to_end(train(CFG, tcfg, data))["history"][-1]
    there = run_to_end(train(CFG, tcfg, shipped))["history"][-1]
    assert there["test_loss"] == pytest.approx(here["test_loss"], rel=1e-5)
    job = engine.submit([RunSpec("shipped", CFG, tcfg)], spec, root=str(tmp_path / "runs"),
                        data=data)
    end(job, 120)
    assert job.state == "finished", job.error
    assert job.records["shipped"][-1]["test_loss"] == pytest.approx(here["test_loss"], rel=1e-4)


def test_an_uploaded_set_is_scattered_once_not_sent_with_every_stage(engine, tmp_path, digits):
    """A two-beta sweep (one Dask task per beta) on an uploaded set: the set is scattered to the
    cluster once, so no stage's graph carries it (Dask warns "Sending large graph" above its
    threshold, here lowered below the set's size; inline it warned twice)."""
    import warnings

    import dask

    x = (np.tile(digits.train_x[:, 0].numpy(), (2, 1, 1))[:3000] * 255).round()  # 192 kB
    spec = save_idx_upload({"train-images-idx3-ubyte": idx(2051, x),
                            "train-labels-idx1-ubyte": idx(2049, np.zeros(len(x))),
                            "t10k-images-idx3-ubyte": idx(2051, x[:100]),
                            "t10k-labels-idx1-ubyte": idx(2049, np.zeros(100))}, tmp_path / "d")
    specs, group = plan_runs("sweep", "sw", CFG, TrainConfig(epochs=1), [0.5, 2.0])
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "64kB"}), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = engine.submit(specs, spec, root=str(tmp_path / "runs"), group=group,
                            interleave=False)
        end(job, 120)
    assert job.state == "finished", job.error
    assert sorted(r.name for r in list_runs(tmp_path / "runs")) == ["sw-b0.5", "sw-b2"]
    assert not [w for w in caught if "large graph" in str(w.message)]


# --- 4. the Dask cluster speaks TLS ---------------------------------------------------------------

def refused(address: str, **kwargs) -> bool:
    from distributed import Client

    try:
        Client(address, timeout=3, set_as_default=False, **kwargs).close()
    except Exception:
        return True
    return False


def test_the_embedded_cluster_refuses_clients_without_its_certificate():
    cluster = local_cluster(1)
    address = cluster.scheduler_address
    assert address.startswith("tls://127.0.0.1:")
    assert refused(address) and refused(address.replace("tls://", "tcp://"))


def make_certificates(folder: Path) -> dict[str, str]:
    """A CA and one certificate it signed (for 127.0.0.1), as the README's recipe makes them."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("vae-lab-ca")).issuer_name(name("vae-lab-ca"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("vae-lab")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return {k: str(v) for k, v in paths.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_readme_tls_cluster_recipe_trains_and_refuses_plain_clients(tmp_path):
    """README "Hosting for a class": a scheduler and a worker started with --tls-* certificates;
    a client without them is refused, the engine given them trains and saves a run."""
    from distributed import Security

    certs = make_certificates(tmp_path)
    tls = ["--tls-ca-file", certs["ca"], "--tls-cert", certs["cert"], "--tls-key", certs["key"]]
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "cluster.log", "wb")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard", *tls], cwd=tmp_path, env=env, stdout=log,
                              stderr=log)]
    try:
        time.sleep(3)
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads",
                                       "1", "--no-dashboard", "--host", "127.0.0.1", *tls],
                                      cwd=REPO, env=env, stdout=log, stderr=log))
        assert refused(address) and refused(address.replace("tls://", "tcp://"))
        security = Security(tls_ca_file=certs["ca"], tls_client_cert=certs["cert"],
                            tls_client_key=certs["key"], require_encryption=True)
        engine = TrainingEngine(address, security=security, grace_s=3.0)
        try:
            job = engine.submit([RunSpec("tls-run", CFG, TrainConfig(epochs=1))], "digits",
                                root=str(tmp_path / "runs"))
            end(job, 120)
            assert job.state == "finished", (job.error, (tmp_path / "cluster.log").read_text()[-2000:])
            assert [r.name for r in list_runs(tmp_path / "runs")] == ["tls-run"]
        finally:
            engine.shutdown()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


# --- 5. markdown from links, files and users -----------------------------------------------------

@FUZZ
@given(text=st.text(max_size=60))
def test_fuzz_md_leaves_no_markdown_syntax(text):
    from ui.links import md

    escaped = md(text)
    assert "\n" not in escaped and "\r" not in escaped
    # Every ASCII punctuation character is escaped, so nothing can start markdown syntax...
    assert not re.search(r"(?<!\\)(?:\\\\)*[" + re.escape(string.punctuation.replace("\\", ""))
                         + "]", escaped.replace("\\\\", ""))
    # ...and reading the escapes back gives the text (line breaks become spaces).
    assert re.sub(r"\\(.)", r"\1", escaped) == " ".join(text.splitlines())


def test_a_links_run_name_is_shown_as_text_not_markdown(checkpoints, fresh_streamlit_cache):
    at = page_app("pages/2_Latent_space.py")
    hostile = "[log in again](https://evil.example) ![](https://evil.example/x.png)"
    at.query_params["vae_run"] = hostile
    no_exception(at.run())
    warnings = [w.value for w in at.warning if "not available" in w.value]
    assert warnings, [w.value for w in at.warning]
    for text in warnings:
        assert "](" not in text and "\\[log in again\\]" in text


# --- 6. crafted links -----------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [("train_epochs", "inf"), ("generate_seed", "Infinity"),
                                        ("reparam_seed", "inf"), ("reparam_seed", "-1e999")])
def test_infinite_numbers_are_dropped_from_links_by_the_frame(checkpoints, fresh_streamlit_cache,
                                                               key, value):
    """Streamlit 1.67 crashes in ``int(inf)`` seeding an integer number_input from such a link
    (Train?train_epochs=inf, Generate?generate_seed=Infinity, ...): the frame drops the value, with
    a warning, before any page runs. (AppTest runs a page opened with switch_page without the
    frame after its first test, so the frame is checked on the Overview; a browser test opens the
    pages themselves.)"""
    at = page_app(None)
    at.query_params.update({key: value, "note": "kept"})
    no_exception(at.run())
    assert any("not a usable number" in w.value for w in at.warning)
    assert key not in at.query_params and at.query_params["note"] == "kept"


def test_replay_of_a_pair_on_two_data_sets_warns_instead_of_crashing(checkpoints, tmp_path,
                                                                     monkeypatch, digits,
                                                                     fresh_streamlit_cache):
    """A VAE on an uploaded set beside a digits AE: one animation cannot colour both."""
    monkeypatch.setenv("VAE_LAB_DATA", str(tmp_path / "data"))
    x = (digits.test_x[:150, 0].numpy() * 255).round()
    spec = save_idx_upload({"t10k-images-idx3-ubyte": idx(2051, x),
                            "t10k-labels-idx1-ubyte": idx(2049, digits.test_y[:150].numpy())},
                           tmp_path / "data")
    train_and_save(checkpoints, "upload-vae", CFG, TrainConfig(epochs=2), load_idx_folder(spec[4:]))
    import json

    meta = json.loads((checkpoints / "upload-vae" / "run.json").read_text())
    assert meta["dataset"] == spec
    at = page_app("pages/7_Training_replay.py")
    at.query_params.update({"ae_run": "demo-ae", "vae_run": "upload-vae"})
    no_exception(at.run())
    assert any("different data sets" in w.value for w in at.warning), [w.value for w in at.warning]


# --- 7. the Draw page: PNG only, bounded ---------------------------------------------------------

def data_url(raw: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(raw).decode()


@pytest.mark.parametrize("fmt", ["BMP", "GIF", "TIFF", "PPM", "JPEG", "WEBP"])
def test_draw_accepts_png_bytes_only(fmt):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (28, 28), 255).save(buf, format=fmt)
    with pytest.raises(DrawingError, match="PNG"):
        image_from_data_url(data_url(buf.getvalue()))


def test_draw_refuses_a_huge_png_from_its_header():
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    huge = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1024, 1025, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    with pytest.raises(DrawingError, match="larger"):
        image_from_data_url(data_url(huge))
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (280, 280), 0).save(buf, format="PNG")
    assert image_from_data_url(data_url(buf.getvalue())).shape == (280, 280)


# --- 8. password guessing --------------------------------------------------------------------------

@FUZZ
@given(guesses=st.lists(st.tuples(st.sampled_from("abcdefgh"), st.floats(0, 5)), max_size=80))
def test_fuzz_guess_limiter_holds_per_client_and_total(guesses):
    from ui.access import GuessLimiter

    now = [0.0]
    limiter = GuessLimiter(per_client=3, total=7, window_s=60.0, clock=lambda: now[0])
    allowed: list[tuple[float, str]] = []
    for client, dt in guesses:
        now[0] += dt
        if limiter.wait_s(client) <= 0:
            limiter.failed(client)
            allowed.append((now[0], client))
    for t, _c in allowed:  # in every 60 s window: at most 7 in all, 3 per client
        window = [c for s, c in allowed if t - 60.0 < s <= t]
        assert len(window) <= 7 and max(window.count(c) for c in set(window)) <= 3


def test_teacher_password_guesses_are_limited_and_logged(checkpoints, fresh_streamlit_cache,
                                                         monkeypatch, caplog):
    import ui.access

    monkeypatch.setattr(ui.access, "WRONG_PASSWORD_DELAY_S", 0.0)
    at = page_app("pages/1_Train.py")
    at.secrets["teacher_password"] = "s3cret"
    no_exception(at.run())
    with caplog.at_level(logging.WARNING, logger="vae_lab.access"):
        for _ in range(ui.access.GUESSES_PER_CLIENT):
            at.text_input(key="access_password").set_value("wrong")
            no_exception(at.button(key="access_unlock").click().run())
        at.text_input(key="access_password").set_value("s3cret")  # right, but too many tries
        no_exception(at.button(key="access_unlock").click().run())
    assert any("Too many wrong passwords" in e.value for e in at.error), [e.value for e in at.error]
    assert not at.session_state["access_teacher"] if "access_teacher" in at.session_state else True
    assert sum("wrong guess" in r.getMessage() for r in caplog.records) == ui.access.GUESSES_PER_CLIENT


@FUZZ
@given(hops=st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=4))
def test_fuzz_forwarded_address_is_trusted_only_from_the_proxy(hops):
    from ui.access import forwarded_for

    headers = {"X-Forwarded-For": ", ".join(hops)}
    assert forwarded_for(headers, "203.0.113.9", None) == "203.0.113.9"  # no proxy configured
    assert forwarded_for(headers, "203.0.113.9", "198.51.100.1") == "203.0.113.9"  # not the proxy
    assert forwarded_for(headers, "198.51.100.1", "198.51.100.1") == hops[-1]  # its own hop


# --- 9. smaller ------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--time-limit", "nan"], ["--time-limit", "-5"],
                                  ["--time-limit", "inf"], ["--scheduler", "garbage"],
                                  ["--scheduler", "http://host:1"]])
def test_cli_refuses_bad_time_limits_and_scheduler_addresses_at_once(tmp_path, capsys, argv):
    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "1", "--root", str(tmp_path), *argv])
    assert e.value.code == 2 and time.perf_counter() - t0 < 5
    assert "Traceback" not in capsys.readouterr().err
    assert list_runs(tmp_path) == []


def test_scheduler_addresses():
    assert check_scheduler_address("tls://10.0.0.5:8786") == "tls://10.0.0.5:8786"
    for bad in ("garbage", "tcp://host", "inproc://x", ""):
        with pytest.raises(EngineError):
            check_scheduler_address(bad)


def test_cli_list_shows_escape_sequences_in_folder_names_as_text(pair_root, tmp_path, capsys):
    import shutil

    shutil.copytree(pair_root, tmp_path / "r")
    shutil.copytree(pair_root / "demo-vae", tmp_path / "r" / "evil\x1b[2J\x1b]0;pwned\x07")
    assert main(["list", "--root", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out
    assert printable("a\nb") == "a\\nb"


def test_a_full_disk_fails_the_job_with_one_line(tmp_path, monkeypatch, capsys, caplog):
    from safetensors import SafetensorError

    import safetensors.torch

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with caplog.at_level(logging.ERROR, logger="vae_core.jobs"):
        code = main(["train", "--epochs", "1", "--root", str(tmp_path), "--name", "full",
                     "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "could not be saved" in err
    assert not [r for r in caplog.records if r.exc_info]  # no traceback logged


def test_a_notebook_of_a_run_with_a_nan_final_value_runs(capsys):
    nb = run_notebook("r", CFG, TrainConfig(epochs=1), "digits",
                      final={"recon": 1.0, "kl": float("nan"), "loss": float("inf")})
    last = "".join(nb["cells"][-1]["source"])
    line = next(l for l in last.splitlines() if l.startswith('print("saved run'))
    exec(compile(line, "<notebook>", "exec"), {})
    assert "nan" in capsys.readouterr().out


@pytest.mark.slow
def test_the_teacher_view_lists_every_job_and_stops_one(checkpoints, fresh_streamlit_cache):
    """Teacher mode on the Train page: a table of every active job on the server, and Stop."""
    student = page_app("pages/1_Train.py")
    no_exception(student.run())
    student.number_input(key="train_epochs").set_value(900)  # x2 models: under the 2,000 cap
    no_exception(student.button(key="train_submit").click().run())
    job = student.session_state["train_job"]
    assert job.active
    teacher = page_app("pages/1_Train.py")
    teacher.secrets["teacher_password"] = "s3cret"
    no_exception(teacher.run())
    teacher.text_input(key="access_password").set_value("s3cret")
    no_exception(teacher.button(key="access_unlock").click().run())
    assert [e for e in teacher.expander if "All training jobs on this server (1)" in e.label]
    no_exception(teacher.multiselect(key="teacher_stop_ids").select(job.id).run())
    no_exception(teacher.button(key="teacher_stop").click().run())
    assert any("1 job(s) stopped" in s.value for s in teacher.success)
    end(job, 60)
    assert job.state == "stopped" and "teacher" in job.error


def test_a_localhost_server_reached_through_a_proxy_counts_as_hosted_and_warns(
        checkpoints, fresh_streamlit_cache, monkeypatch):
    """A tunnel to a localhost server without a password let anyone delete anything."""
    import json

    import ui.access

    monkeypatch.setattr(ui.access, "behind_proxy", lambda: True)  # AppTest sends no headers
    meta = json.loads((checkpoints / "demo-ae" / "run.json").read_text())
    (checkpoints / "demo-ae" / "run.json").write_text(json.dumps(meta | {"owner": "someone else"}))
    at = page_app("pages/1_Train.py")
    no_exception(at.run())
    texts = [w.value for w in at.warning]
    assert any("proxy or tunnel" in t for t in texts) and any("VAE_LAB_TRUSTED_PROXY" in t for t in texts)
    no_exception(at.multiselect(key="train_delete_names").select("demo-ae").run())
    no_exception(at.button(key="train_delete").click().run())
    assert any("another browser session" in e.value for e in at.error)
    assert (checkpoints / "demo-ae").is_dir()
