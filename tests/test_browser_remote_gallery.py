"""Headless Chromium on the Latent remote control and the Class gallery, in English and Korean:
a slider moved with the keyboard redraws that model's decoding, the gallery shows this class's
runs with the wall. Screenshots go to tests/screenshots/ (and $VAE_LAB_SHOTS when set)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Iterator

import pytest

from helpers import REPO
from streamlit_server import streamlit_server
from test_browser import CHROMIUM, CHROMIUM_ARGS, no_exception, settle, sync_api  # noqa: F401
from test_browser_beyond import shoot

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
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b.new_page(viewport={"width": 1400, "height": 2000})
        finally:
            b.close()


def image_src(page, caption: str) -> str:
    figure = page.locator("[data-testid=stImage]").filter(has_text=caption).first
    return figure.locator("img").get_attribute("src")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_remote_control_sliders_redraw_each_model(app, page, lang):
    page.goto(f"{app}/Latent_remote?lang={lang}")
    settle(page, 120_000)
    no_exception(page)
    title = "Latent remote control" if lang == "en" else "잠재 리모컨"
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    ae_caption, vae_caption = (("AE decodes this z", "VAE decodes this z") if lang == "en" else
                               ("AE가 이 z를 디코딩한 결과", "VAE가 이 z를 디코딩한 결과"))
    sliders = page.get_by_role("slider")
    # The latent-8 pair is preferred: 8 dims each (the sliders appear as the script runs).
    deadline = time.time() + 60
    while sliders.count() != 16:
        assert time.time() < deadline, sliders.count()
        page.wait_for_timeout(250)
    settle(page, 120_000)
    ae_before, vae_before = image_src(page, ae_caption), image_src(page, vae_caption)
    sliders.nth(8).focus()  # the VAE's first slider: its most used dim
    for _ in range(40):
        page.keyboard.press("ArrowRight")
    settle(page)
    page.wait_for_function(
        "([c, old]) => [...document.querySelectorAll('[data-testid=stImage]')]"
        ".some(f => f.innerText.includes(c) && f.querySelector('img').src !== old)",
        arg=[vae_caption, vae_before], timeout=30_000)
    assert image_src(page, ae_caption) == ae_before
    no_exception(page)
    shoot(page, f"remote_control_{lang}")


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
