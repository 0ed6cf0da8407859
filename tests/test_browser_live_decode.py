"""Headless Chromium: the Latent space page decodes the z under the mouse in the browser.

For an MLP pair and a conv pair, the mouse moves over the latent map; at each position the
browser's images (both decoders) must equal ``sigmoid(model.decode(z))`` within 1e-4 at the z the
browser reports, no websocket message may leave the page while the mouse moves or the β slider
scrubs, and the median time the component spends per move (decode both, draw) is printed and
held to one frame (16 ms). Screenshots go to tests/screenshots/ (and $VAE_LAB_SHOTS when set).
"""
from __future__ import annotations

import shutil
import statistics
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

from helpers import REPO, train_and_save
from streamlit_server import streamlit_server
from test_browser import chromium, no_exception, settle, sync_api  # noqa: F401
from test_browser_beyond import shoot
from vae_core import ModelConfig, TrainConfig, load_run

pytestmark = pytest.mark.browser

STATE = "(k) => { const s = (window.__vaeLiveDecode || {})[k]; if (!s || !s.ready) return null; " \
        "return {z: s.z, beta: s.beta, times: s.times, frames: s.frames, " \
        "images: Object.fromEntries(Object.entries(s.images).map(([l, a]) => [l, Array.from(a)]))}; }"


@pytest.fixture(scope="module")
def conv_root(tmp_path_factory, digits) -> Path:
    """A small conv AE+VAE pair on digits (the conv decoder: linear, then two transposed convs)."""
    root = tmp_path_factory.mktemp("conv-checkpoints")
    cfg = ModelConfig(kind="vae", latent_dim=2, arch="conv", hidden=(8, 16), input_shape=digits.image_shape)
    tcfg = TrainConfig(epochs=3, batch_size=64, lr=3e-3, beta=1.0, seed=0)
    train_and_save(root, "conv-ae", cfg.with_kind("ae"), tcfg, digits, group="conv")
    train_and_save(root, "conv-vae", cfg, tcfg, digits, group="conv")
    return root


@pytest.fixture
def page():
    with chromium() as b:
        yield b.new_page(viewport={"width": 1400, "height": 2600})


def serve(src: Path, tmp_path: Path, sweep: bool) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "checkpoints"
    shutil.copytree(src, root)
    if sweep:  # the shipped β sweep of the demo
        for run in (REPO / "checkpoints").glob("demo-digits-sweep-b*"):
            shutil.copytree(run, root / run.name)
    with streamlit_server(root, tmp_path / "streamlit.log") as (url, _, _):
        yield url, root


def decode(root: Path, name: str, z: list[float]) -> np.ndarray:
    model = load_run(root / name).model
    with torch.inference_mode():
        return torch.sigmoid(model.decode(torch.tensor([z], dtype=torch.float32)))[0].numpy().ravel()


def sent_frames(page) -> list[int]:
    """A counter of websocket frames the page sends to the server (reruns, widget values)."""
    sent = [0]
    page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.__setitem__(0, sent[0] + 1)))
    return sent


def open_latent(page, url: str):
    page.goto(f"{url}/Latent_space")
    settle(page, 180_000)
    no_exception(page)
    page.locator("[data-testid=vae-live-decode]").first.wait_for(timeout=60_000)
    page.wait_for_function("() => window.__vaeLiveDecode && window.__vaeLiveDecode.latent_live "
                           "&& window.__vaeLiveDecode.latent_live.ready", timeout=30_000)


def hover_and_check(page, root: Path, pairs: dict[str, str], moves: int = 60) -> tuple[float, float, float]:
    """Move over the first map; every 10th position compare both decoders with torch. Returns
    (max abs error, median ms the component works per move, median ms from the input event to
    the next frame)."""
    canvas = page.locator("canvas[aria-label='latent map: move the mouse to decode']").first
    box = canvas.bounding_box()
    worst = 0.0
    rng = np.random.default_rng(0)
    page.evaluate("() => { const s = window.__vaeLiveDecode.latent_live; s.times = []; s.frames = []; }")
    for i in range(moves):
        fx, fy = rng.uniform(0.05, 0.95, 2)
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        if i % 10 == 0:
            state = page.evaluate(STATE, "latent_live")
            assert set(state["images"]) == set(pairs)
            for label, name in pairs.items():
                err = float(np.abs(np.asarray(state["images"][label]) - decode(root, name, state["z"])).max())
                worst = max(worst, err)
    page.wait_for_timeout(200)
    state = page.evaluate(STATE, "latent_live")
    assert len(state["times"]) >= moves  # every move was decoded in the browser
    return worst, statistics.median(state["times"]), statistics.median(state["frames"])


def decodes_like_torch(page, url: str, root: Path, pairs: dict[str, str], arch: str) -> tuple[list, int]:
    """Open Latent space, hover its maps and check both decoders against torch (≤ 1e-4, ≤ 16 ms
    a move); returns the page's sent-frame counter and its value before the mouse moved."""
    sent = sent_frames(page)
    open_latent(page, url)
    page.wait_for_timeout(500)
    before = sent[0]
    worst, ms, frame = hover_and_check(page, root, pairs)
    print(f"\n{arch}: max |browser - torch| = {worst:.2e}, median {ms:.3f} ms per move "
          f"(decode both + draw), {frame:.1f} ms from the input event to the next frame")
    assert worst < 1e-4
    assert ms <= 16
    return sent, before


def test_mlp_pair_decodes_in_the_browser_and_the_beta_slider_scrubs(pair_root, tmp_path, page):
    for url, root in serve(pair_root, tmp_path, sweep=True):
        sent, before = decodes_like_torch(page, url, root, {"AE": "demo-ae", "VAE": "demo-vae"}, "MLP")

        # The β slider: scrub from β = 1 to the ends; the map, grid and point change in the page.
        slider = page.locator("input[aria-label='β of the sweep run shown']")
        slider.focus()
        betas = []
        for key in ["Home"] + ["ArrowRight"] * 7:
            page.keyboard.press(key)
            betas.append(page.evaluate(STATE, "latent_sweep_live")["beta"])
        assert betas == [0, 0.1, 0.25, 0.5, 1, 2, 4, 8]
        # Hover the sweep's map at β = 8: its decoder is the shipped β = 8 run's.
        sweep_map = page.locator("canvas[aria-label='latent map: move the mouse to decode']").nth(2)
        box = sweep_map.bounding_box()
        page.mouse.move(box["x"] + 40, box["y"] + 50)
        state = page.evaluate(STATE, "latent_sweep_live")
        assert np.abs(np.asarray(state["images"]["VAE"]) -
                      decode(root, "demo-digits-sweep-b8", state["z"])).max() < 1e-4
        assert sent[0] == before, "the page talked to the server while the mouse moved"
        shoot(page, "latent_live_decode")

        # A rerun that changes the component's data (shared axes) keeps the β shown.
        page.get_by_text("Shared axes (same scale for both panels)").click()
        settle(page, 60_000)
        no_exception(page)
        page.wait_for_timeout(500)
        state = page.evaluate(STATE, "latent_sweep_live")
        assert state["beta"] == 8 and state["times"] == []  # remounted (a fresh state), same β

        # A browser that lost what the session was sent once (decoders, codes) asks for it again:
        # the next rerun's references do not resolve, the component's "missing" trigger reruns
        # the page with everything in full, and the maps decode as before.
        page.evaluate("() => { globalThis.__vaeOnce.clear(); window.__vaeLiveDecode.latent_live.ready = false; }")
        page.get_by_text("Shared axes (same scale for both panels)").click()
        settle(page, 60_000)
        page.wait_for_function("() => window.__vaeLiveDecode.latent_live.ready", timeout=30_000)
        no_exception(page)
        assert hover_and_check(page, root, {"AE": "demo-ae", "VAE": "demo-vae"}, moves=20)[0] < 1e-4


def test_conv_pair_decodes_in_the_browser(conv_root, tmp_path, page):
    for url, root in serve(conv_root, tmp_path, sweep=False):
        sent, before = decodes_like_torch(page, url, root, {"AE": "conv-ae", "VAE": "conv-vae"}, "conv")
        assert sent[0] == before


def drag(page, canvas, start: list[float], by: tuple[float, float]) -> None:
    box = canvas.bounding_box()
    x, y = box["x"] + start[0], box["y"] + start[1]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + by[0], y + by[1], steps=8)
    page.mouse.up()


def open_live(page, url: str, key: str, sent: list[int]) -> int:
    """Open ``url`` and wait for its live-decode component ``key``; the websocket frames sent so far."""
    page.goto(url)
    settle(page, 180_000)
    no_exception(page)
    page.wait_for_function(f"() => (window.__vaeLiveDecode || {{}}).{key}?.ready", timeout=60_000)
    return sent[0]


def drag_live(page, key: str, z: list[float], by: tuple[int, int]) -> None:
    """Drag the point ``z`` on the VAE's map (the second) of component ``key`` by ``by`` pixels."""
    maps = page.locator("canvas[aria-label='latent map: move the mouse to decode']")
    start = page.evaluate(f"(z) => window.__vaeLiveDecode.{key}.pixelOf(1, z)", z)
    maps.nth(1).scroll_into_view_if_needed()
    drag(page, maps.nth(1), start, by)


def test_interpolation_ends_and_reparameterization_mu_are_dragged_in_the_browser(pair_root, tmp_path, page):
    for url, root in serve(pair_root, tmp_path, sweep=False):
        sent = sent_frames(page)
        key = "interp_live"
        before_frames = open_live(page, f"{url}/Generate", key, sent)
        ends = page.evaluate(f"() => window.__vaeLiveDecode.{key}.paths.VAE.ends")
        drag_live(page, key, ends[1], (-30, 25))
        path = page.evaluate(f"() => {{ const p = window.__vaeLiveDecode.{key}.paths.VAE; "
                             "return {ends: p.ends, images: p.images.map((a) => Array.from(a))}; }")
        assert path["ends"][0] == ends[0] and path["ends"][1] != ends[1]  # the end moved, the start not
        a, b = np.asarray(path["ends"])
        frames = len(path["images"])
        for f, image in enumerate(path["images"]):
            t = f / (frames - 1)
            assert np.abs(np.asarray(image) - decode(root, "demo-vae", list((1 - t) * a + t * b))).max() < 1e-4
        assert sent[0] == before_frames
        shoot(page, "generate_live_paths")

        key = "reparam_live"
        before_frames = open_live(page, f"{url}/Reparameterization", key, sent)
        mu = page.evaluate(f"() => window.__vaeLiveDecode.{key}.draws.mu")
        drag_live(page, key, mu, (40, -20))
        draws = page.evaluate(f"() => {{ const d = window.__vaeLiveDecode.{key}.draws; "
                              "return {mu: d.mu, z: d.z, images: d.images.map((a) => Array.from(a))}; }")
        assert draws["mu"] != mu and len(draws["images"]) == 16
        for z, image in zip(draws["z"], draws["images"]):
            assert np.abs(np.asarray(image) - decode(root, "demo-vae", z)).max() < 1e-4
        assert sent[0] == before_frames
        shoot(page, "reparameterization_live_draws")


def test_a_3d_latent_space_is_decoded_on_its_pca_plane_and_a_1d_one_on_its_axis(odd_root, digits,
                                                                                tmp_path, page):
    """odd-ae has latent 1, odd-vae latent 3 (shown on its PCA plane): the z under the mouse on
    the VAE's map is the codes' mean plus a point of the plane, and only decoders of its size
    decode it."""
    from vae_core.analysis.latent_tools import pca_2d

    for url, root in serve(odd_root, tmp_path, sweep=False):
        open_latent(page, url)
        assert "held at the codes' mean" in page.locator(".vae-live").first.inner_text()
        maps = page.locator("canvas[aria-label='latent map: move the mouse to decode']")
        vae = load_run(root / "odd-vae").model
        proj = pca_2d(vae.encode_all(digits.test_x)[0].numpy())
        for which, (fx, fy) in ((1, (0.3, 0.7)), (1, (0.8, 0.2)), (0, (0.6, 0.5))):
            box = maps.nth(which).bounding_box()
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            state = page.evaluate(STATE, "latent_live")
            if which == 1:
                z = np.asarray(state["z"])
                assert len(z) == 3
                off_plane = (z - proj.mean) - proj.components.T @ (proj.components @ (z - proj.mean))
                assert np.abs(off_plane).max() < 1e-6
                assert np.abs(np.asarray(state["images"]["VAE"]) - decode(root, "odd-vae", list(z))).max() < 1e-4
            else:  # the AE's 1-d axis: its own decoder; the 3-d VAE's cannot take that z
                assert len(state["z"]) == 1
                assert np.abs(np.asarray(state["images"]["AE"]) - decode(root, "odd-ae", state["z"])).max() < 1e-4
                assert "VAE: —" in page.locator("[data-testid=vae-live-decode]").first.inner_text()
                assert "VAE" not in state["images"]  # no stale image from the last move
