"""The in-browser decoder's maths, without a browser: the exported layer records run in numpy
(``export_weights.reference_forward``) and in Node (the component's own ``ui/live_decode.js``)
must equal ``model.decode`` on both architectures."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vae_core import ModelConfig, build_model, load_run
from vae_core.viz.export_weights import decoder_export, export_bytes, reference_forward

JS = Path(__file__).resolve().parent.parent / "ui" / "live_decode.js"
CONFIGS = {
    "mlp-digits": ModelConfig(kind="vae", latent_dim=2, arch="mlp", hidden=(128, 64), input_shape=(1, 8, 8)),
    "conv-digits": ModelConfig(kind="vae", latent_dim=2, arch="conv", hidden=(32, 64), input_shape=(1, 8, 8)),
    # 28 -> 14 -> 7 -> 4: odd sizes need output_padding 0, even ones 1
    "conv-mnist-3": ModelConfig(kind="ae", latent_dim=3, arch="conv", hidden=(8, 16, 16), input_shape=(1, 28, 28)),
    "conv-rgb": ModelConfig(kind="vae", latent_dim=4, arch="conv", hidden=(8, 16), input_shape=(3, 12, 10)),
}


def torch_images(model, z: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return torch.sigmoid(model.decode(torch.as_tensor(z, dtype=torch.float32))).numpy()


def codes(model, n: int = 5) -> np.ndarray:
    return (2.5 * torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(1))).numpy()


@pytest.mark.parametrize("name", CONFIGS)
def test_exported_records_decode_like_the_model(name):
    model = build_model(CONFIGS[name], seed=3).eval()
    export = decoder_export(model)
    z = codes(model)
    ours = np.stack([reference_forward(export, zi) for zi in z])
    assert np.abs(ours - torch_images(model, z)).max() < 1e-5
    n_params = sum(p.numel() for p in model.decoder.parameters())
    assert export_bytes(export) == 4 * n_params  # every weight goes, once


def test_a_layer_the_browser_lacks_is_refused():
    model = build_model(CONFIGS["mlp-digits"])
    model.decoder.net.append(nn.Tanh())
    with pytest.raises(ValueError, match="Tanh"):
        decoder_export(model)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("name", CONFIGS)
def test_the_components_javascript_decodes_like_the_model(name, tmp_path):
    model = build_model(CONFIGS[name], seed=4).eval()
    z = codes(model)
    (tmp_path / "in.json").write_text(json.dumps({"spec": decoder_export(model), "z": z.tolist()}))
    script = ("import {makeDecoder} from " + json.dumps(JS.as_uri()) + ";\n"
              "import {readFileSync} from 'fs';\n"
              f"const d = JSON.parse(readFileSync({json.dumps(str(tmp_path / 'in.json'))}));\n"
              "const dec = makeDecoder(d.spec);\n"
              "console.log(JSON.stringify(d.z.map((z) => Array.from(dec(z)))));\n")
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    js = np.asarray(json.loads(out)).reshape(torch_images(model, z).shape)
    assert np.abs(js - torch_images(model, z)).max() < 1e-5


# --- what the pages send (AppTest) -------------------------------------------------------------

def components(at) -> list[dict]:
    from helpers import live_payloads

    return live_payloads(at)


def test_latent_space_sends_each_decoder_with_a_plane_that_maps_back_to_its_codes(
        checkpoints, digits, fresh_streamlit_cache):
    from helpers import no_exception, open_page
    from ui import navigation
    from vae_core import load_run

    at = no_exception(open_page(navigation.LATENT_SPACE.file, timeout=60))
    (live,) = components(at)  # the pair's maps; no sweep in this folder, so no β slider
    assert any("No β sweep yet" in i.value for i in at.info)
    assert [m["label"] for m in live["models"]] == ["AE", "VAE"]
    for m, name in zip(live["models"], ("demo-ae", "demo-vae")):
        model = load_run(checkpoints / name).model
        z = codes(model)
        sent = np.stack([reference_forward(m["decoder"], zi) for zi in z])
        assert np.abs(sent - torch_images(model, z)).max() < 1e-5  # the weights of this run
        # The plotted plane's points are the projections of the codes the browser decodes back.
        comps, mean = np.asarray(m["projection"]["components"]), np.asarray(m["projection"]["mean"])
        xy = np.frombuffer(base64.b64decode(m["xy"]), "<f4").reshape(-1, 2)
        mu = model.encode_all(digits.test_x)[0].numpy()
        assert np.abs(xy - (mu - mean) @ comps.T).max() < 1e-4


def test_a_session_is_sent_each_decoder_codes_and_labels_once(checkpoints, fresh_streamlit_cache):
    """A rerun sends what this session's browser already keeps (decoders, codes, labels) as
    references; resolved as the browser does, the payload is the same. A browser that lacks a part
    (the component's "missing" trigger clears the record) is sent everything again."""
    from helpers import live_payloads, no_exception, open_page
    from ui import navigation
    from ui.live_decode import _SENT

    at = no_exception(open_page(navigation.LATENT_SPACE.file, timeout=60))
    sizes = lambda: sum(len(e.proto.bytes) for e in at.get("bidi_component"))  # noqa: E731
    kept: dict = {}
    first, full = live_payloads(at, kept), sizes()
    no_exception(at.run())
    assert sizes() < full / 10
    assert live_payloads(at, kept) == first
    with pytest.raises(KeyError):
        live_payloads(at, {})  # a new browser could not draw this: it needs the parts in full
    at.session_state[_SENT] = set()
    no_exception(at.run())
    assert sizes() == full and live_payloads(at, {}) == first


def test_decoders_too_large_to_send_are_not_sent(checkpoints, fresh_streamlit_cache, monkeypatch):
    import ui.live_decode
    from helpers import no_exception, open_page
    from ui import navigation

    monkeypatch.setattr(ui.live_decode, "MAX_SEND_BYTES", 1000)
    at = no_exception(open_page(navigation.LATENT_SPACE.file, timeout=60))
    assert not components(at)
    assert any("too large to send to the browser" in i.value for i in at.info)


def test_a_sweep_a_user_trains_gets_the_beta_slider(checkpoints, digits, fresh_streamlit_cache):
    from helpers import no_exception, open_page, train_and_save
    from ui import navigation
    from vae_core import TrainConfig

    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32,), input_shape=digits.image_shape)
    for beta in (2.0, 0.0):  # names as plan_runs("sweep") gives them, out of β order on disk
        train_and_save(checkpoints, f"mine-b{beta:g}", cfg,
                       TrainConfig(epochs=2, batch_size=128, beta=beta, seed=0), digits, group="mine")
    at = no_exception(open_page(navigation.LATENT_SPACE.file, timeout=60))
    assert at.selectbox(key="latent_sweep").value == "mine"
    _, sweep = components(at)
    members = sweep["sweep"]["members"]
    assert sweep["sweep"]["betas"] == [0.0, 2.0]
    for member, name in zip(members, ("mine-b0", "mine-b2")):
        run = load_run(checkpoints / name)
        assert member["rate"] == run.final["kl"] and member["distortion"] == run.final["recon"]
        z = codes(run.model)
        sent = np.stack([reference_forward(member["decoder"], zi) for zi in z])
        assert np.abs(sent - torch_images(run.model, z)).max() < 1e-5

    # A run whose logged KL is not a number (run.json may hold "nan") gets no point; the
    # payload stays JSON the browser can parse.
    meta = json.loads((checkpoints / "mine-b2" / "run.json").read_text())
    meta["final"]["kl"] = "nan"  # as runs._json_safe writes a NaN
    (checkpoints / "mine-b2" / "run.json").write_text(json.dumps(meta))
    at = no_exception(open_page(navigation.LATENT_SPACE.file, timeout=60))
    assert [m["rate"] for m in components(at)[1]["sweep"]["members"]] == [members[0]["rate"], None]


def test_numbers_that_are_not_finite_give_a_warning_not_a_traceback():
    from streamlit.testing.v1 import AppTest

    def script():
        from ui.live_decode import _mount

        _mount("k", {"models": [], "range": [float("nan"), 1.0]})

    at = AppTest.from_function(script).run(timeout=60)
    assert not at.exception and not at.get("bidi_component")
    assert "not finite" in at.warning[0].value
