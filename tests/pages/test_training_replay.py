"""The Training replay page (AppTest through the frame), in every language: both maps animated
from the snapshots to the saved codes, a snapshot named by a link, runs without snapshots or with a
broken snapshot file."""
from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from helpers import as_shown, values
from i18n_walk import LANGS, in_language, opened, tr
from ui.navigation import TRAINING_REPLAY
from vae_core import load_run
from vae_core.analysis.latent_tools import subset_indices
from vae_core.store.replay import NO_SNAPSHOTS, SNAPSHOTS_FILE, load_snapshots

REPLAY = TRAINING_REPLAY.file


def animation(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_replay_animates_both_maps_and_ends_at_the_saved_codes(pair_view, digits):
    at = in_language(opened(REPLAY, "en"), "en")
    spec = animation(at)
    vae = load_run(pair_view / "demo-vae")
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


@pytest.mark.parametrize("lang", LANGS)
def test_the_player_and_a_snapshot_named_by_a_link(lang, pair_view):
    """A link's ?replay_snapshot= is the optimizer step itself, not a worded label: the same link
    opens the same snapshot in every language."""
    _ = tr(lang)
    at = in_language(opened(REPLAY, lang), lang, pair_view)
    layout = animation(at)["layout"]
    assert [b["label"] for b in layout["updatemenus"][0]["buttons"]] == [_("▶ Play"), _("❚❚ Pause")]
    assert layout["sliders"][0]["currentvalue"]["prefix"] == _("optimizer step ")
    steps = [s["label"] for s in layout["sliders"][0]["steps"]]
    for i in (2, len(steps) // 2):
        at = in_language(opened(REPLAY, lang, replay_snapshot=steps[i]), lang, pair_view)
        assert animation(at)["layout"]["sliders"][0]["active"] == i
    assert animation(opened(REPLAY, lang, replay_snapshot="nonsense"))["layout"]["sliders"][0]["active"] > 2


@pytest.mark.parametrize("lang", LANGS)
def test_runs_without_or_with_broken_snapshots_are_still_shown(lang, checkpoints, fresh_streamlit_cache):
    _ = tr(lang)
    (checkpoints / "demo-ae" / SNAPSHOTS_FILE).unlink()
    at = in_language(opened(REPLAY, lang), lang, checkpoints)
    assert [as_shown(w.value) for w in at.warning] == [
        _("{model} run {run}: replay unavailable. {detail}", model="AE", run="demo-ae", detail=_(NO_SNAPSHOTS))]
    assert len(at.get("plotly_chart")) >= 1  # the VAE is still replayed
    # While the server runs (not served from the cache): a file that is not safetensors.
    (checkpoints / "demo-vae" / SNAPSHOTS_FILE).write_bytes(b"not a safetensors file")
    at = in_language(opened(REPLAY, lang), lang, checkpoints)
    assert len(at.warning) == 2 and not at.get("plotly_chart")
    assert "not a valid safetensors file" in at.warning[1].value  # vae_core's words, as written
    if lang == "ko":
        assert "학습 스냅샷이 없어요" in at.warning[0].value
    else:
        assert "no training snapshots" in at.warning[0].value
    # And a run without any snapshots, like the AE.
    (checkpoints / "demo-vae" / SNAPSHOTS_FILE).unlink()
    at = in_language(opened(REPLAY, lang), lang, checkpoints)
    assert [as_shown(w.value) for w in at.warning][1] == _(
        "{model} run {run}: replay unavailable. {detail}", model="VAE", run="demo-vae", detail=_(NO_SNAPSHOTS))
    assert not at.get("plotly_chart")
