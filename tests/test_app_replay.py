"""AppTest of the Training replay page: a pair with snapshots, a run without, a broken file."""
from __future__ import annotations

import json

import numpy as np
from streamlit.testing.v1 import AppTest

from helpers import page_app

from test_app_views import values
from vae_core import load_run
from vae_core.analysis.latent_tools import subset_indices
from vae_core.store.replay import SNAPSHOTS_FILE, load_snapshots

REPLAY = "pages/7_Training_replay.py"


def run_page() -> AppTest:
    at = page_app(REPLAY, 60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def animation(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_replay_animates_both_maps_and_ends_at_the_saved_codes(checkpoints, fresh_streamlit_cache, digits):
    at = run_page()
    spec = animation(at)
    vae = load_run(checkpoints / "demo-vae")
    snaps = load_snapshots(vae.path, vae.model_config, vae.model.state_dict())
    assert len(spec["frames"]) == len(snaps) >= 10
    assert len(spec["layout"]["sliders"][0]["steps"]) == len(snaps)
    assert spec["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"
    # the last frame's VAE points are the saved model's codes of the same test images
    idx = subset_indices(len(digits.test_x), 1000)
    mu = vae.model.encode_all(digits.test_x[idx])[0].numpy()
    last = spec["frames"][-1]["data"]  # AE map, VAE map, cursor, AE grid, VAE grid, prior draws
    np.testing.assert_allclose(values(last[1]["x"]), mu[:, 0], rtol=1e-6)
    assert "snapshot" not in " ".join(w.value for w in at.warning)  # both runs have snapshots
    # the decoders' images move with the same slider, in the browser: one per frame, all different
    images = [[t["source"] for t in f["data"][3:]] for f in spec["frames"]]
    assert all(len(i) == 3 and all(s.startswith("data:image/png;base64,") for s in i) for i in images)
    assert images[0] != images[-1]
    assert spec["layout"]["sliders"][0]["active"] == len(snaps) - 1
    assert spec["layout"]["sliders"][0]["steps"][0]["args"][1]["frame"]["redraw"] is True
    # a rerun (or another session) gets the same figure from the cache, nothing recomputed
    assert animation(at.run()) == spec


def test_run_without_or_with_broken_snapshots_is_still_shown(checkpoints, fresh_streamlit_cache):
    (checkpoints / "demo-ae" / SNAPSHOTS_FILE).unlink()
    (checkpoints / "demo-vae" / SNAPSHOTS_FILE).write_bytes(b"not a safetensors file")
    at = run_page()
    text = " ".join(w.value for w in at.warning)
    assert "no training snapshots" in text and "not a valid safetensors file" in text
    assert not at.get("plotly_chart")
