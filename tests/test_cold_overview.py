"""A cold server's first Overview (issue 17): drawn from the demo pair's stored test codes
(``vae_core.store.stored_codes``, read with numpy) without importing torch, and the same picture
as the one drawn from the test set encoded by torch. Stale or hostile codes are not used."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO, chart_specs, page_app
from vae_core import load_dataset, load_run
from vae_core.analysis.latent_tools import encode_dataset
from vae_core.store.stored_codes import CODES_FILE, StoredCodes, read_codes, write_codes

DEMO = ("demo-digits-ae", "demo-digits-vae")

# Run in a fresh interpreter: this one has imported torch long ago.
FIRST_VIEW = """
import importlib.abc, json, os, sys, threading, time
from streamlit.testing.v1 import AppTest

class Watch(importlib.abc.MetaPathFinder):  # which thread imports torch first
    first = None
    def find_spec(self, name, path, target=None):
        if name == "torch" and Watch.first is None:
            Watch.first = threading.current_thread().name
        return None

sys.meta_path.insert(0, Watch())
at = AppTest.from_file(os.path.abspath("streamlit_app.py"), default_timeout=120).run()
charts = [e.proto.spec for e in at.get("plotly_chart")]
seen = {"exceptions": [e.message for e in at.exception],
        "titles": [json.loads(c)["layout"]["title"]["text"] for c in charts],
        "title": at.title[0].value if at.title else ""}
deadline = time.time() + 240  # later runs: torch warmed up in the background, then the numbers
while time.time() < deadline:
    at.run()
    columns = list(at.table[0].value.columns) if at.table else []
    if "VAE" in columns:
        break
    time.sleep(0.5)
seen.update(torch_later="torch" in sys.modules, columns=columns, importer=Watch.first,
            later_exceptions=[e.message for e in at.exception])
print(json.dumps(seen))
"""


def test_the_first_overview_of_a_cold_server_imports_no_torch_and_the_numbers_follow(tmp_path):
    root = tmp_path / "checkpoints"
    for name in DEMO:  # the shipped pair, with its stored codes
        shutil.copytree(REPO / "checkpoints" / name, root / name)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VAE_LAB_CHECKPOINTS": str(root),
           "VAE_LAB_DATA": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", FIRST_VIEW], cwd=REPO, env=env, text=True,
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["exceptions"] == [] and seen["title"].startswith("VAE Lab")
    assert [t.split(":")[0] for t in seen["titles"]] == ["AE", "VAE"], seen["titles"]
    assert "demo-digits-ae" in seen["titles"][0] and "demo-digits-vae" in seen["titles"][1]
    # The pictures came from the stored codes: the page imported no torch; the warm-up thread
    # did, once the page's script run had ended.
    assert seen["importer"] == "vae-lab-warm-torch"
    # Once the first view is out, torch loads in the background and the pair's numbers follow.
    assert seen["torch_later"] is True and seen["later_exceptions"] == []
    assert {"AE", "VAE"} <= set(seen["columns"]), seen["columns"]


@pytest.mark.parametrize("name", DEMO)
def test_the_shipped_codes_are_the_encoded_test_set(name, digits):
    run = load_run(REPO / "checkpoints" / name)
    codes = read_codes(run.path, run.kind, run.model_config.latent_dim)
    assert codes is not None, f"{name}: no usable {CODES_FILE} (refresh: python -m vae_core.store.stored_codes)"
    mu, logvar = encode_dataset(run.model, digits.test_x)
    np.testing.assert_allclose(codes.mu, mu, rtol=0, atol=1e-5)
    assert (logvar is None) == (codes.logvar is None)
    if logvar is not None:
        np.testing.assert_allclose(codes.logvar, logvar, rtol=0, atol=1e-5)
    assert np.array_equal(codes.labels, digits.test_y.numpy())
    assert codes.class_names == tuple(digits.class_names)


def _values(v) -> np.ndarray:
    """A trace's coordinates as numbers: Plotly sends arrays as ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v, dtype=float)


def _overview_charts() -> list[dict]:
    at = page_app(None, 120)  # the frame opens on the Overview
    at.run()
    assert not at.exception
    return chart_specs(at)


def test_stored_and_encoded_codes_draw_the_same_overview(tmp_path, monkeypatch,
                                                         fresh_streamlit_cache):
    root = tmp_path / "checkpoints"
    for name in DEMO:
        shutil.copytree(REPO / "checkpoints" / name, root / name)
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    stored = _overview_charts()
    for name in DEMO:
        (root / name / CODES_FILE).unlink()
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    encoded = _overview_charts()
    assert len(stored) == len(encoded) == 2
    for a, b in zip(stored, encoded):
        assert a["layout"]["title"] == b["layout"]["title"]
        assert a["layout"]["xaxis"]["range"] == pytest.approx(b["layout"]["xaxis"]["range"], abs=1e-4)
        assert len(a["data"]) == len(b["data"]) > 1
        points = 0
        for ta, tb in zip(a["data"], b["data"]):
            assert ta.get("name") == tb.get("name")
            for axis in ("x", "y"):
                xa, xb = _values(ta[axis]), _values(tb[axis])
                np.testing.assert_allclose(xa, xb, atol=1e-4)
                points += len(xa)
        assert points > 2 * 359  # the test codes are in it, not only the prior's circles


def test_stale_or_hostile_codes_are_not_used(tmp_path):
    run_path = shutil.copytree(REPO / "checkpoints" / "demo-digits-vae", tmp_path / "vae")
    good = read_codes(run_path, "vae", 2)
    assert good is not None
    assert read_codes(run_path, "ae", 2) is None and read_codes(run_path, "vae", 3) is None
    weights = run_path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # retrained or edited weights: the codes belong to others
    weights.write_bytes(bytes(data))
    assert read_codes(run_path, "vae", 2) is None
    write_codes(run_path, good)  # bound to these weights again
    assert read_codes(run_path, "vae", 2) is not None
    bad = {
        "nan": StoredCodes(np.full_like(good.mu, np.nan), good.logvar, good.labels, good.class_names),
        "label": StoredCodes(good.mu, good.logvar, good.labels + 10, good.class_names),
        "shape": StoredCodes(good.mu[:, :1], good.logvar[:, :1], good.labels, good.class_names),
        "no logvar": StoredCodes(good.mu, None, good.labels, good.class_names),
    }
    for why, codes in bad.items():
        write_codes(run_path, codes)
        assert read_codes(run_path, "vae", 2) is None, why
    (run_path / CODES_FILE).write_bytes(b"\x00" * 64)  # not safetensors
    assert read_codes(run_path, "vae", 2) is None
    (run_path / CODES_FILE).unlink()
    (run_path / CODES_FILE).symlink_to("/dev/zero")
    assert read_codes(run_path, "vae", 2) is None
