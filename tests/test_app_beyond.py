"""AppTest of the Latent remote control, the Class gallery and Generate's mixture generator, in
English and Korean, through the frame. The remote control is checked on pairs of latent 2, 3 and 8
(8: the shipped demo pair)."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import vae_core.jobs.plan as plan  # quick_pair_specs lives there: patched there
from helpers import REPO, live_payloads, page_app, train_and_save
from helpers import no_exception as ok
from i18n_walk import assert_translated, hangul
from test_classroom import THIS_SESSION, hosted, set_meta  # noqa: F401 (fixture)
from ui.navigation import CLASS_GALLERY, GENERATE, LATENT_REMOTE
from vae_core import ModelConfig, TrainConfig, load_run
from vae_core.viz.export_weights import reference_forward
from vae_core.analysis.latent_tools import first_of_class
from vae_core.analysis.traversal import dim_infos, slider_order
from vae_core.viz.gallery import HIDDEN_FILE

TIMEOUT = 90


@pytest.fixture(scope="module")
def latent3_root(tmp_path_factory, digits) -> Path:
    root = tmp_path_factory.mktemp("latent3")
    cfg = ModelConfig(kind="vae", latent_dim=3, hidden=(32,), input_shape=digits.image_shape)
    tcfg = TrainConfig(epochs=3, batch_size=128, seed=0)
    train_and_save(root, "l3-ae", cfg.with_kind("ae"), tcfg, digits, group="l3")
    train_and_save(root, "l3-vae", cfg, tcfg, digits, group="l3")
    return root


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


def open_in(page: str, lang: str = "en", **params):
    at = page_app(page, TIMEOUT)
    at.query_params.update({"lang": lang, **params})
    return ok(at.run())


def images(at) -> dict[str, str]:
    """Caption -> URL of each image (the URL is a hash of the pixels)."""
    return {im.proto.imgs[0].caption: im.proto.imgs[0].url for im in at.get("image")}


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
        at = open_in(LATENT_REMOTE.file, remote_start_class=str(start_class))
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


@pytest.mark.parametrize("pair_of", [8], indirect=True)
def test_remote_control_greys_inactive_dims_and_says_why(pair_of):
    at = open_in(LATENT_REMOTE.file)
    vae = remote(at)["sliders"][1]["dims"]
    active = [s["active"] for s in vae]
    assert 0 < active.count(False) < 8 and active == sorted(active, reverse=True)  # inactive last
    assert all(("inactive: the decoder ignores it" in s["label"]) != s["active"] for s in vae)
    text = " ".join(m.value for m in at.markdown)
    assert "do nothing: they are inactive" in text
    assert f"**VAE** (z8-vae): {active.count(True)} of 8 dims active" in text


@pytest.mark.parametrize("pair_of", [8], indirect=True)
def test_remote_control_in_korean(pair_of):
    at = open_in(LATENT_REMOTE.file, "ko")
    assert at.title[0].value == "잠재 리모컨"
    assert all(hangul(c.value) for c in at.caption)
    sent = remote(at)
    labels = [s["label"] for m in sent["sliders"] for s in m["dims"]]
    assert all(label.endswith("nat") or hangul(label) for label in labels)
    assert all(hangul(sent["text"][k]) for k in ("reset",)) and hangul(sent["sliders"][0]["caption"])
    assert "차원은 아무것도 바꾸지 않" in " ".join(m.value for m in at.markdown)
    root = Path(os.environ["VAE_LAB_CHECKPOINTS"])
    assert_translated(open_in(LATENT_REMOTE.file, "qps"), root)


@pytest.mark.parametrize("pair_of", [8], indirect=True)
def test_remote_control_too_large_to_send_keeps_the_traversals(pair_of, monkeypatch):
    import ui.live_decode

    monkeypatch.setattr(ui.live_decode, "MAX_SEND_BYTES", 1000)
    at = open_in(LATENT_REMOTE.file)
    assert not at.get("bidi_component")
    assert any("so the sliders are off for them" in i.value for i in at.info)
    assert "VAE: sweeping" in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize("pair_of", [2], indirect=True)
def test_remote_prefers_a_pair_with_more_dims(pair_of, latent3_root):
    root = Path(os.environ["VAE_LAB_CHECKPOINTS"])
    for name in ("l3-ae", "l3-vae"):  # older than the latent-2 pair, still preferred here
        shutil.copytree(latent3_root / name, root / name)
        set_meta(root / name, created=1.0)
    at = open_in(LATENT_REMOTE.file)
    assert len(remote(at)["sliders"][1]["dims"]) == 3
    assert "l3-vae" in " ".join(m.value for m in at.markdown)


@pytest.mark.slow
@pytest.mark.parametrize("pair_of", [2], indirect=True)
def test_remote_one_click_trains_a_latent8_pair_through_the_engine(pair_of, monkeypatch):
    real = plan.quick_pair_specs
    monkeypatch.setattr(plan, "quick_pair_specs",
                        lambda name, shape, latent_dim: real(name, shape, epochs=2,
                                                             latent_dim=latent_dim))
    at = open_in(LATENT_REMOTE.file)
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


# --- Class gallery ------------------------------------------------------------------------------

def test_gallery_lists_this_class_and_marks_mine(checkpoints, fresh_streamlit_cache):
    set_meta(checkpoints / "demo-vae", owner=THIS_SESSION)
    set_meta(checkpoints / "demo-ae", created=time.time() - 3 * 3600)  # trained before class
    at = open_in(CLASS_GALLERY.file)
    assert at.title[0].value == "Class gallery"
    table = at.dataframe[0].value
    assert list(table["run"]) == ["demo-vae"] and list(table["yours"]) == [True]
    assert "**1 runs** (1 VAEs, 0 AEs); 1 of them yours." in [m.value for m in at.markdown]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    vae = next(t for t in spec["data"] if t["name"] == "VAE")
    assert vae["customdata"] == ["demo-vae"] and vae["marker"]["size"] == [15]
    assert len(at.get("image")) == 1  # the wall
    ok(at.selectbox(key="gallery_window").set_value(0.0).run())
    assert set(at.dataframe[0].value["run"]) == {"demo-vae", "demo-ae"}


def test_gallery_empty_window_says_so(checkpoints, fresh_streamlit_cache):
    for name in ("demo-ae", "demo-vae"):
        set_meta(checkpoints / name, created=time.time() - 5 * 3600)
    at = open_in(CLASS_GALLERY.file)
    assert any("No runs in the last 2 hours" in i.value for i in at.info)
    assert not at.get("image")


def test_gallery_teacher_hides_and_exports(checkpoints, hosted, fresh_streamlit_cache):
    at = open_in(CLASS_GALLERY.file)
    assert not at.get("download_button") and not at.get("multiselect")  # a student
    at.secrets["teacher_password"] = "s3cret"
    ok(at.run())
    at.text_input(key="access_password").set_value("s3cret")
    ok(at.button(key="access_unlock").click().run())
    assert len(at.get("download_button")) == 2
    ok(at.multiselect(key="gallery_hide").set_value(["demo-ae"]).run())
    ok(at.button(key="gallery_hide_save").click().run())
    assert json.loads((checkpoints / HIDDEN_FILE).read_text()) == ["demo-ae"]
    assert list(at.dataframe[0].value["run"]) == ["demo-vae"]


def test_gallery_in_korean(checkpoints, fresh_streamlit_cache):
    at = open_in(CLASS_GALLERY.file, "ko")
    assert at.title[0].value == "학급 갤러리"
    assert all(hangul(c.value) for c in at.caption)
    assert "내 실행" in at.dataframe[0].value.columns
    assert_translated(open_in(CLASS_GALLERY.file, "qps"), checkpoints)


# --- Generate: the AE plus a fitted mixture ---------------------------------------------------------

MIXTURE_EN = "a 10-Gaussian mixture fitted to its codes"


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_generate_offers_the_fitted_mixture(checkpoints, fresh_streamlit_cache, lang):
    at = open_in(GENERATE.file, lang, generate_source=MIXTURE_EN)
    assert at.radio(key="generate_source").value == "mixture"
    text = " ".join(m.value for m in at.markdown)
    assert ("A mixture of 10 Gaussians fitted to the AE's codes" in text if lang == "en"
            else "가우시안 10개의 혼합" in text)
    table = at.table[0].value  # st.table: the Generate numbers wrap instead of being cut
    assert len(table) == 7 and (table.iloc[:, 0] == "AE").sum() == 4  # the mixture: AE only
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    assert ("mixture" in title) if lang == "en" else ("혼합" in title)


def test_remote_control_with_a_mismatched_pair(odd_checkpoints, fresh_streamlit_cache):
    """AE latent 1 beside VAE latent 3: each model gets its own sliders, start and traversal."""
    at = open_in(LATENT_REMOTE.file)
    ae, vae = remote(at)["sliders"]
    assert (len(ae["dims"]), len(ae["start"]), len(vae["dims"]), len(vae["start"])) == (1, 1, 3, 3)
    assert "AE: sweeping" in " ".join(m.value for m in at.markdown)


def test_new_pages_without_runs(empty_checkpoints, fresh_streamlit_cache):
    at = open_in(LATENT_REMOTE.file)
    assert any("No trained runs yet" in i.value for i in at.info) and not at.get("bidi_component")
    at = open_in(CLASS_GALLERY.file)
    assert any("No runs in the last 2 hours" in i.value for i in at.info)


def test_gallery_leaves_out_a_broken_run(checkpoints, fresh_streamlit_cache):
    (checkpoints / "demo-ae" / "model.safetensors").write_bytes(b"not weights")
    at = open_in(CLASS_GALLERY.file)
    assert list(at.dataframe[0].value["run"]) == ["demo-vae"]  # listed as broken: not shown
    assert len(at.get("image")) == 1


def test_gallery_says_why_hiding_failed(checkpoints, fresh_streamlit_cache, monkeypatch):
    import vae_core.viz.gallery as gallery

    def refuse(root, names):
        raise PermissionError(13, "Permission denied", str(root))

    monkeypatch.setattr(gallery, "write_hidden", refuse)
    at = open_in(CLASS_GALLERY.file)  # localhost, no password: the single user is the teacher
    ok(at.multiselect(key="gallery_hide").set_value(["demo-ae"]).run())
    ok(at.button(key="gallery_hide_save").click().run())
    errors = [e.value for e in at.error]
    assert errors == ["The hidden runs could not be saved: Permission denied"]
    assert str(checkpoints) not in errors[0]


@pytest.mark.parametrize("pair_of", [8], indirect=True)
def test_remote_control_start_opens_from_a_link(pair_of):
    """The starting image is in the URL (slider positions live only in the browser)."""
    at = open_in(LATENT_REMOTE.file)
    shared = open_in(LATENT_REMOTE.file, remote_start_class="3")  # what the browser's URL holds
    assert remote(shared)["sliders"][1]["start"] != remote(at)["sliders"][1]["start"]
    assert shared.selectbox(key="remote_start_class").value == 3
