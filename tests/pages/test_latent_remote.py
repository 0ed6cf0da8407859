"""The Latent remote control page (AppTest through the frame), in every language: both decoders
and their sliders go to the browser, in the page's order, for pairs of latent 2, 3 and 8 (8: the
shipped demo pair) and a mismatched pair; inactive dims greyed and said why; a payload too large
to send; the one-click latent-8 pair."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import vae_core.jobs.plan as plan  # quick_pair_specs lives there: patched there
from helpers import REPO, live_payloads
from helpers import no_exception as ok
from i18n_walk import LANGS, hangul, in_language, opened, tr
from test_classroom import set_meta
from ui.navigation import LATENT_REMOTE
from vae_core import load_run
from vae_core.analysis.latent_tools import first_of_class
from vae_core.analysis.traversal import dim_infos, slider_order
from vae_core.viz.export_weights import reference_forward

TIMEOUT = 90


@pytest.fixture
def pair_of(request, tmp_path, monkeypatch, pair_root, latent3_root, fresh_streamlit_cache):
    """A checkpoints folder holding one pair of latent ``request.param`` (2, 3 or 8)."""
    root = tmp_path / "checkpoints"
    if request.param == 8:
        root.mkdir()
        for kind in ("ae", "vae"):
            shutil.copytree(REPO / "checkpoints" / f"demo-digits-z8-{kind}", root / f"z8-{kind}")
    else:
        shutil.copytree(pair_root if request.param == 2 else latent3_root, root)
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    return request.param


def open_in(lang: str = "en", **params):
    return ok(opened(LATENT_REMOTE.file, lang, TIMEOUT, **params))


def remote(at) -> dict:
    """What the page sends the in-browser remote control (one component)."""
    (sent,) = live_payloads(at)
    return sent


@pytest.mark.parametrize("pair_of", [2, 3, 8], indirect=True)
def test_remote_control_sends_both_decoders_and_their_sliders(pair_of, digits):
    """Both decoders go to the browser with one slider per dim, in the page's order (active
    first, by KL or spread), over ±3σ of the codes, starting at the chosen image's code."""
    dims = pair_of
    root = Path(os.environ["VAE_LAB_CHECKPOINTS"])
    names = {"AE": next(root.glob("*-ae")).name, "VAE": next(root.glob("*-vae")).name}
    for start_class in (0, 7):
        at = open_in(remote_start_class=str(start_class))
        assert at.title[0].value == "Latent remote control"
        assert not at.slider  # no server-side slider: a move sends nothing to the server
        sent = remote(at)
        assert [m["label"] for m in sent["sliders"]] == ["AE", "VAE"]
        image = int(first_of_class(digits.test_y, start_class))
        for m in sent["sliders"]:
            model = load_run(root / names[m["label"]]).model
            mu, logvar = model.encode_all(digits.test_x)
            mu_np = mu.numpy()
            infos = dim_infos(mu_np, None if m["label"] == "AE" else logvar.numpy())
            assert [s["dim"] for s in m["dims"]] == slider_order(infos) and len(m["dims"]) == dims
            for s in m["dims"]:
                info = infos[s["dim"]]
                assert (s["low"], s["high"], s["active"]) == pytest.approx((info.low, info.high, info.active))
                assert ("KL" in s["label"]) == (m["label"] == "VAE")
            assert np.abs(np.asarray(m["start"]) - mu_np[image]).max() < 1e-6
            z = np.asarray(m["start"], np.float32)[None]
            with torch.inference_mode():
                want = torch.sigmoid(model.decode(torch.as_tensor(z)))[0].numpy()
            assert np.abs(reference_forward(m["decoder"], z[0]) - want).max() < 1e-5  # this run's weights
    text = " ".join(m.value for m in at.markdown)
    assert "VAE: sweeping" in text and "AE: sweeping" in text  # the server's traversals stay
    assert any("positions are not in the page's link" in c.value for c in at.caption)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("pair_of", [8], indirect=True)
def test_remote_control_greys_inactive_dims_and_says_why(pair_of, lang):
    _ = tr(lang)
    root = Path(os.environ["VAE_LAB_CHECKPOINTS"])
    at = in_language(open_in(lang), lang, root)
    assert at.title[0].value == _("Latent remote control")
    sent = remote(at)
    vae = sent["sliders"][1]["dims"]
    active = [s["active"] for s in vae]
    assert 0 < active.count(False) < 8 and active == sorted(active, reverse=True)  # inactive last
    inactive = _("{text} · inactive: the decoder ignores it", text="|").split("|")[1]
    assert all((inactive in s["label"]) != s["active"] for s in vae)
    text = " ".join(m.value for m in at.markdown)
    assert _("**{model}** ({run}): {active} of {dims} dims active", model="VAE", run="z8-vae",
             active=active.count(True), dims=8) in text
    if lang == "ko":
        assert all(hangul(c.value) for c in at.caption)
        labels = [s["label"] for m in sent["sliders"] for s in m["dims"]]
        assert all(label.endswith("nat") or hangul(label) for label in labels)
        assert all(hangul(sent["text"][k]) for k in ("reset",)) and hangul(sent["sliders"][0]["caption"])
        assert "차원은 아무것도 바꾸지 않" in text
    else:
        assert "do nothing: they are inactive" in text


@pytest.mark.parametrize("pair_of", [8], indirect=True)
def test_remote_control_too_large_to_send_keeps_the_traversals(pair_of, monkeypatch):
    import ui.live_decode

    monkeypatch.setattr(ui.live_decode, "MAX_SEND_BYTES", 1000)
    at = open_in()
    assert not at.get("bidi_component")
    assert any("so the sliders are off for them" in i.value for i in at.info)
    assert "VAE: sweeping" in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize("pair_of", [2], indirect=True)
def test_remote_prefers_a_pair_with_more_dims(pair_of, latent3_root):
    root = Path(os.environ["VAE_LAB_CHECKPOINTS"])
    for name in ("l3-ae", "l3-vae"):  # older than the latent-2 pair, still preferred here
        shutil.copytree(latent3_root / name, root / name)
        set_meta(root / name, created=1.0)
    at = open_in()
    assert len(remote(at)["sliders"][1]["dims"]) == 3
    assert "l3-vae" in " ".join(m.value for m in at.markdown)


@pytest.mark.slow
@pytest.mark.parametrize("pair_of", [2], indirect=True)
def test_remote_one_click_trains_a_latent8_pair_through_the_engine(pair_of, monkeypatch):
    real = plan.quick_pair_specs
    monkeypatch.setattr(plan, "quick_pair_specs",
                        lambda name, shape, latent_dim: real(name, shape, epochs=2,
                                                             latent_dim=latent_dim))
    at = open_in()
    ok(at.button(key="remote_train").click().run())
    job = at.session_state["remote_job"]
    assert [r.name for r in job.runs] == ["remote-z8-ae", "remote-z8-vae"]
    assert {r.model_config.latent_dim for r in job.runs} == {8}
    deadline = time.time() + 120
    while job.active:
        assert time.time() < deadline, job.state
        time.sleep(0.1)
    assert job.state == "finished", job.error
    ok(at.run())
    assert "remote_job" not in at.session_state
    text = " ".join(m.value for m in at.markdown)
    assert "**VAE** (remote-z8-vae)" in text and "**AE** (remote-z8-ae)" in text


def test_remote_control_with_a_mismatched_pair(odd_checkpoints, fresh_streamlit_cache):
    """AE latent 1 beside VAE latent 3: each model gets its own sliders, start and traversal."""
    at = open_in()
    ae, vae = remote(at)["sliders"]
    assert (len(ae["dims"]), len(ae["start"]), len(vae["dims"]), len(vae["start"])) == (1, 1, 3, 3)
    assert "AE: sweeping" in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize("pair_of", [8], indirect=True)
def test_remote_control_start_opens_from_a_link(pair_of):
    """The starting image is in the URL (slider positions live only in the browser)."""
    at = open_in()
    shared = open_in(remote_start_class="3")  # what the browser's URL holds
    assert remote(shared)["sliders"][1]["start"] != remote(at)["sliders"][1]["start"]
    assert shared.selectbox(key="remote_start_class").value == 3
