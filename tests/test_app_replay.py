"""AppTest of the Training replay page: a pair with snapshots, a run without, a broken file."""
from __future__ import annotations

import json

import numpy as np
from streamlit.testing.v1 import AppTest

from helpers import page_app

from test_app_views import values
from vae_core import load_run
from vae_core.latent_tools import subset_indices
from vae_core.replay import SNAPSHOTS_FILE, load_snapshots

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
    last = spec["frames"][-1]["data"]
    n_classes = len(np.unique(digits.test_y.numpy()[idx]))
    vae_traces = last[n_classes:2 * n_classes]  # AE classes, then VAE classes, then the cursor
    xs = np.sort(np.concatenate([values(t["x"]) for t in vae_traces]))
    np.testing.assert_allclose(xs, np.sort(mu[:, 0]), rtol=1e-6)
    assert "snapshot" not in " ".join(w.value for w in at.warning)  # both runs have snapshots
    # scrubbing to the first snapshot redraws the grids and samples below the chart
    before = [im.proto.imgs[0].url for im in at.get("image")]
    at.select_slider(key="replay_snapshot").set_value(0).run()
    assert not at.exception
    assert animation(at)["layout"]["sliders"][0]["active"] == 0
    assert [im.proto.imgs[0].url for im in at.get("image")] != before


def test_run_without_or_with_broken_snapshots_is_still_shown(checkpoints, fresh_streamlit_cache):
    (checkpoints / "demo-ae" / SNAPSHOTS_FILE).unlink()
    (checkpoints / "demo-vae" / SNAPSHOTS_FILE).write_bytes(b"not a safetensors file")
    at = run_page()
    text = " ".join(w.value for w in at.warning)
    assert "no training snapshots" in text and "not a valid safetensors file" in text
    assert not at.get("plotly_chart")
