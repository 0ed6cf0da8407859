"""Headless Chromium on the Latent remote control and the Class gallery, in English and Korean:
a slider moved with the keyboard redraws that model's decoding in the browser, the gallery shows this class's
runs with the wall. Screenshots go to tests/screenshots/ (and $VAE_LAB_SHOTS when set)."""
from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

from helpers import REPO
from streamlit_server import streamlit_server
from test_browser import chromium, no_exception, settle, sync_api  # noqa: F401
from test_browser_beyond import shoot
from test_browser_live_decode import sent_frames
from vae_core import load_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(pair_root, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A server with the tiny latent-2 pair and the shipped latent-8 pair, all trained 'now'."""
    tmp = tmp_path_factory.mktemp("remote-gallery")
    root = tmp / "checkpoints"
    shutil.copytree(pair_root, root)
    for kind in ("ae", "vae"):
        dst = root / f"z8-{kind}"
        shutil.copytree(REPO / "checkpoints" / f"demo-digits-z8-{kind}", dst)
        meta = json.loads((dst / "run.json").read_text())
        meta.update(name=dst.name, group="z8", read_only=False, created=time.time())
        (dst / "run.json").write_text(json.dumps(meta))
    with streamlit_server(root, tmp / "streamlit.log") as (url, _, _):
        yield url, root


@pytest.fixture
def app(server) -> str:
    return server[0]


@pytest.fixture
def page():
    with chromium() as b:
        yield b.new_page(viewport={"width": 1400, "height": 2000})


REMOTE = "(k) => { const s = (window.__vaeLiveDecode || {})[k]; if (!s || !s.ready) return null; " \
         "return {zs: s.zs, times: s.times, " \
         "images: Object.fromEntries(Object.entries(s.images).map(([l, a]) => [l, Array.from(a)]))}; }"


def decode(root: Path, name: str, z: list[float]) -> np.ndarray:
    model = load_run(root / name).model
    with torch.inference_mode():
        return torch.sigmoid(model.decode(torch.tensor([z], dtype=torch.float32)))[0].numpy().ravel()


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_remote_control_sliders_decode_in_the_browser(server, page, lang):
    """A VAE slider moved with the keyboard redraws the VAE's image (equal to model.decode of the
    z within 1e-4), leaves the AE's alone, and sends nothing to the server."""
    url, root = server
    sent = sent_frames(page)
    page.goto(f"{url}/Latent_remote?lang={lang}")
    settle(page, 120_000)
    no_exception(page)
    title = "Latent remote control" if lang == "en" else "잠재 리모컨"
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    page.locator("[data-testid=vae-live-decode]").first.wait_for(timeout=60_000)
    page.wait_for_function("() => (window.__vaeLiveDecode || {}).remote_live?.ready", timeout=30_000)
    # The latent-8 pair is preferred: 8 dims each, the VAE's inactive dims greyed last.
    vae = page.locator("input[type=range][data-model=VAE]")
    assert page.locator("input[type=range][data-model=AE]").count() == vae.count() == 8
    assert page.locator("label.off input[data-model=VAE]").count() > 0
    before = page.evaluate(REMOTE, "remote_live")
    for label, name in (("AE", "z8-ae"), ("VAE", "z8-vae")):  # the start: the test image's code
        assert np.abs(np.asarray(before["images"][label]) - decode(root, name, before["zs"][label])).max() < 1e-4
    page.wait_for_timeout(500)
    frames = sent[0]
    vae.first.focus()  # the VAE's most used dim
    for _ in range(40):
        page.keyboard.press("ArrowRight")
    after = page.evaluate(REMOTE, "remote_live")
    dim = int(vae.first.get_attribute("data-dim"))
    assert after["zs"]["VAE"][dim] > before["zs"]["VAE"][dim] and len(after["times"]) >= 40
    assert after["zs"]["AE"] == before["zs"]["AE"] and after["images"]["AE"] == before["images"]["AE"]
    assert after["images"]["VAE"] != before["images"]["VAE"]
    assert np.abs(np.asarray(after["images"]["VAE"]) - decode(root, "z8-vae", after["zs"]["VAE"])).max() < 1e-4
    assert sent[0] == frames, "the page talked to the server while the slider moved"
    print(f"\nremote ({lang}): median {statistics.median(after['times']):.3f} ms per move "
          "(decode one latent-8 MLP decoder + draw)")
    # The reset goes back to the code, in the browser too.
    reset = "Back to the test image's code" if lang == "en" else "테스트 이미지의 잠재 코드로 되돌리기"
    page.locator(".vae-live button").filter(has_text=reset).click()
    assert page.evaluate(REMOTE, "remote_live")["zs"] == before["zs"]
    assert sent[0] == frames
    # The server's traversal grids stay.
    page.locator("[data-testid=stImage]").first.wait_for(timeout=30_000)
    no_exception(page)
    vae.first.focus()
    for _ in range(40):
        page.keyboard.press("ArrowRight")
    shoot(page, f"remote_control_{lang}")


def test_remote_control_of_a_mismatched_pair_decodes_each_model_at_its_own_size(odd_root, tmp_path, page):
    """AE latent 1 beside VAE latent 3: one slider for the AE, three for the VAE, each decoding
    its own z in the browser."""
    root = tmp_path / "checkpoints"
    shutil.copytree(odd_root, root)
    with streamlit_server(root, tmp_path / "streamlit.log") as (url, _, _):
        sent = sent_frames(page)
        page.goto(f"{url}/Latent_remote")
        settle(page, 120_000)
        no_exception(page)
        page.wait_for_function("() => (window.__vaeLiveDecode || {}).remote_live?.ready", timeout=60_000)
        assert page.locator("input[type=range][data-model=AE]").count() == 1
        assert page.locator("input[type=range][data-model=VAE]").count() == 3
        before = page.evaluate(REMOTE, "remote_live")
        page.wait_for_timeout(500)
        frames = sent[0]
        page.locator("input[type=range][data-model=AE]").focus()
        page.keyboard.press("End")
        after = page.evaluate(REMOTE, "remote_live")
        assert len(after["zs"]["AE"]) == 1 and after["zs"]["AE"] != before["zs"]["AE"]
        assert np.abs(np.asarray(after["images"]["AE"]) - decode(root, "odd-ae", after["zs"]["AE"])).max() < 1e-4
        assert after["images"]["VAE"] == before["images"]["VAE"]
        assert np.abs(np.asarray(after["images"]["VAE"]) - decode(root, "odd-vae", after["zs"]["VAE"])).max() < 1e-4
        assert sent[0] == frames


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_gallery_shows_the_class(app, page, lang):
    page.goto(f"{app}/Class_gallery?lang={lang}")
    settle(page, 120_000)
    no_exception(page)
    page.locator("[data-testid=stImage] img").first.wait_for(timeout=60_000)  # the wall
    page.locator("[data-testid=stPlotlyChart] .main-svg").first.wait_for(timeout=30_000)
    text = page.locator("[data-testid=stMain]").inner_text()
    assert ("**" not in text) and (("4 runs" in text) if lang == "en" else ("실행 4개" in text))
    assert (page.get_by_role("heading", name="Class gallery" if lang == "en" else "학급 갤러리")
            .count() == 1)
    page.wait_for_timeout(800)  # plotly draws after the script ends
    shoot(page, f"class_gallery_{lang}")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_generate_from_the_fitted_mixture(app, page, lang):
    page.goto(f"{app}/Generate?lang={lang}&generate_source=mixture")
    settle(page, 180_000)
    no_exception(page)
    caption = ("A mixture of 10 Gaussians fitted to the AE's codes" if lang == "en"
               else "가우시안 10개의 혼합")
    page.get_by_text(caption).first.wait_for(timeout=120_000)
    label = ("a 10-Gaussian mixture fitted to its codes" if lang == "en"
             else "잠재 코드에 맞춘 가우시안 10개 혼합")
    radio = page.get_by_role("radio", name=label)
    assert radio.is_checked()
    page.locator("[data-testid=stPlotlyChart] .main-svg").first.wait_for(timeout=60_000)
    page.wait_for_timeout(800)
    shoot(page, f"generate_mixture_{lang}")


def test_gallery_refreshes_when_a_run_lands(server, page):
    """The fragment reruns every few seconds: a run saved while the page is open appears."""
    url, root = server
    page.goto(f"{url}/Class_gallery")
    settle(page, 120_000)
    page.get_by_text("4 runs").first.wait_for(timeout=60_000)
    src = root / "demo-vae"
    dst = root / "late-vae"
    shutil.copytree(src, dst)
    meta = json.loads((dst / "run.json").read_text())
    meta.update(name="late-vae", group=None, created=time.time())
    (dst / "run.json").write_text(json.dumps(meta))
    try:
        page.get_by_text("5 runs").first.wait_for(timeout=30_000)  # the table is a canvas
    finally:
        shutil.rmtree(dst)
