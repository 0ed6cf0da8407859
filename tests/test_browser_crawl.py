"""The student's path in headless Chromium, in English and Korean: open every page through the
sidebar, click every button, page link, radio option, segmented-control option and tab it shows
(and the sidebar's settings), and fail on any exception on screen. Then the three page-to-page
buttons that once crashed, with URL-bound widgets off their defaults; and a layout check that no
button label, page link, table cell or code block is cut (its text wider than its box) at
1400×1000 and 1024×768.

The runs folder holds the demo pair and a small β sweep. Buttons that start or stop training or
delete runs are not clicked blindly (the Train button is pressed once, for a one-epoch sweep).
"""
from __future__ import annotations

import shutil
from urllib.parse import unquote_plus
from pathlib import Path
from typing import Iterator

import pytest

from helpers import train_and_save
from streamlit_server import streamlit_server
from test_browser import CHROMIUM, CHROMIUM_ARGS, IDLE, no_exception, sync_api  # noqa: F401
from ui.i18n import translate
from ui.navigation import EVIDENCE, LATENT_SPACE, PAGES, TRAIN
from vae_core import ModelConfig, TrainConfig

pytestmark = pytest.mark.browser
PAGE_TIMEOUT_MS = 300_000  # a first visit may fill caches (Evidence's judge, the Loss lab's VAEs)
LANGS = ("en", "ko")
# Keys of buttons the crawl leaves alone: they train, stop training or delete runs.
NOT_CLICKED = {"train_submit", "train_stop", "train_delete", "train_delete_yes", "overview_quick",
               "overview_retry", "overview_numbers", "lab_train", "lab_stop"}
SIZES = ((1400, 1000), (1024, 768))


@pytest.fixture(scope="module")
def app(tmp_path_factory, pair_root, digits) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("crawl")
    root = tmp / "checkpoints"
    shutil.copytree(pair_root, root)
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32,), input_shape=digits.image_shape)
    for beta in (0.5, 4.0):  # a small sweep: the Evidence page's β-sweep section has something
        train_and_save(root, f"crawl-b{beta:g}", cfg, TrainConfig(epochs=2, beta=beta, seed=0),
                       digits, group="crawl")
    with streamlit_server(root, tmp / "streamlit.log") as (url, _, _):
        yield url


def settle(page) -> None:
    page.wait_for_timeout(250)  # let the rerun begin, else the old idle state matches at once
    page.wait_for_selector(IDLE, timeout=PAGE_TIMEOUT_MS)


def check(page, what: str) -> None:
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, f"{what}: {errors.first.inner_text()[:2000]}"


def go_to(page, index: int) -> None:
    """Open ``PAGES[index]`` by its sidebar link (a link keeps the session; a URL load would not)."""
    page.locator("[data-testid=stSidebarNavLink]").nth(index).click()
    settle(page)
    page.locator("[data-testid=stMain] h1").first.wait_for(timeout=PAGE_TIMEOUT_MS)


def title(page) -> str:
    return page.locator("[data-testid=stMain] h1").first.inner_text().strip()


def wait_for_title(page, text: str) -> None:
    """A page switch ends one run and starts another: wait for the new page's title."""
    page.locator("[data-testid=stMain] h1", has_text=text).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    settle(page)


def key_of(el) -> str:
    """The widget key of a clicked element (Streamlit marks its container ``st-key-<key>``)."""
    return el.evaluate("e => (e.closest('[class*=st-key-]')?.className.match(/st-key-(\\S+)/) "
                       "|| [])[1] || ''")


def click_when_stable(page, el, what: str, tries: int = 3) -> None:
    """Click ``el`` (a locator, found again on each try). A rerun still drawing (a fragment that
    reruns every few seconds, a slow page on a loaded machine) may replace the element between
    Playwright finding it and clicking it; then wait for the app to be idle and try again."""
    for attempt in range(tries):
        try:
            el.scroll_into_view_if_needed(timeout=20_000)
            el.click(timeout=20_000)
            return
        except sync_api.TimeoutError:
            if attempt == tries - 1:
                raise AssertionError(f"{what}: not clickable after {tries} tries "
                                     f"(on {title(page)!r})") from None
            settle(page)


def click_each(page, selector: str, what: str, skip=lambda key: False, after=lambda key: None) -> int:
    """Click every enabled element matching ``selector`` in turn, each found again after the
    rerun the previous click caused (the page may have changed), calling ``after(key)`` after each.
    Returns how many were clicked."""
    clicked, i = 0, 0
    while i < page.locator(selector).count():
        el = page.locator(selector).nth(i)
        i += 1
        key = key_of(el)
        if skip(key) or not el.is_visible() or el.is_disabled():
            continue
        label = el.inner_text().strip()[:60]
        click_when_stable(page, el, f"{what} {label!r} ({key})")
        settle(page)
        check(page, f"{what} {label!r} ({key})")
        clicked += 1
        after(key)
    return clicked


def crawl_page(page, index: int) -> dict[str, int]:
    """Every control of ``PAGES[index]``: the buttons it shows at first and after each radio option
    or segment (each button once), radio options, segments, tabs, then its page links."""
    main = "[data-testid=stMain]"
    go_to(page, index)
    check(page, f"opening {PAGES[index].file}")
    here = title(page)
    pressed: set[str] = set()
    counts = {"buttons": 0, "page links": 0}

    def buttons(_key: str = "") -> None:
        n = click_each(page, f"{main} [data-testid=stButton] button, "
                             f"{main} [data-testid=stDownloadButton] button", "button",
                       skip=lambda key: key in NOT_CLICKED or key in pressed, after=pressed.add)
        counts["buttons"] += n
        if title(page) != here:  # a button moved to another page: come back (bound widgets stay)
            go_to(page, index)

    buttons()
    counts["radio options"] = click_each(page, f"{main} [data-testid=stRadio] label", "radio option",
                                         after=buttons)
    counts["segments"] = click_each(page, f"{main} [data-testid=stButtonGroup] button", "segment",
                                    after=buttons)
    counts["tabs"] = click_each(page, f"{main} [role=tab]", "tab", after=buttons)
    # Page links: each target once (the Overview links one page per claim).
    targets = page.locator(f"{main} [data-testid=stPageLink] a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    for href in dict.fromkeys(targets):
        link = page.locator(f"{main} [data-testid=stPageLink] a[href='{href}']").first
        link.scroll_into_view_if_needed()
        link.click()
        settle(page)
        check(page, f"page link {href} on {PAGES[index].file}")
        counts["page links"] += 1
        go_to(page, index)
    return counts


CUT_TEXT_JS = """
() => {
  // Text wider than the box that shows it: a cut label (ellipsis, hidden overflow or a scrollbar).
  const boxes = document.querySelectorAll(
    '[data-testid=stMain] button, [data-testid=stSidebar] button, [data-testid=stPageLink] a, ' +
    '[data-testid=stTable] th, [data-testid=stTable] td, [data-testid=stMain] pre, ' +
    '[data-testid=stMetricValue], [data-testid=stMetricLabel], [data-testid=stRadio] label, ' +
    '[data-testid=stWidgetLabel], [data-testid=stButtonGroup], [data-testid=stTable]');
  const cut = [];
  for (const box of boxes) {
    if (!box.offsetParent) continue;  // hidden
    for (const el of [box, ...box.querySelectorAll('*')]) {
      if (el.closest('svg') || el.tagName === 'INPUT' || el.clientWidth <= 2) continue;
      const style = getComputedStyle(el);
      if (style.overflowX === 'visible' && el !== box) continue;
      if (el.scrollWidth > el.clientWidth + 1) {
        cut.push(`${box.tagName.toLowerCase()}: "${box.innerText.trim().slice(0, 80)}" ` +
                 `(${el.scrollWidth} > ${el.clientWidth} px)`);
        break;
      }
    }
  }
  // A word of a table cell drawn on two lines is broken (Korean "우\\n세", one syllable a
  // line, when a column was squeezed): cut as well. Words end at spaces, hyphens, brackets, | and
  // /: a formula may break there.
  for (const cell of document.querySelectorAll('[data-testid=stTable] th, [data-testid=stTable] td')) {
    if (!cell.offsetParent) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.textContent.matchAll(/[^\\s\\-|/()]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) cut.push(`${cell.tagName.toLowerCase()}: the word "${m[0]}" is broken`);
      }
    }
  }
  return [...new Set(cut)];
}
"""


def cut_texts(page) -> list[str]:
    return page.evaluate(CUT_TEXT_JS)


def shown_run(page) -> str:
    """The VAE picker's shown option."""
    return page.locator(".st-key-vae_run input").input_value()


def browser_page(p, lang: str, size=(1400, 1000)):
    b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    locale = "ko-KR" if lang == "ko" else "en-US"
    return b, b.new_page(viewport={"width": size[0], "height": size[1]}, locale=locale)


def open_app(page, url: str, lang: str) -> None:
    page.goto(f"{url}/?lang={lang}")
    page.locator("[data-testid=stMain] h1").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(1000)  # a fresh server's first visit reruns once (ui/__init__)
    settle(page)


@pytest.mark.parametrize("lang", LANGS)
def test_click_everything(app, lang):
    with sync_api.sync_playwright() as p:
        b, page = browser_page(p, lang)
        try:
            open_app(page, app, lang)
            # The sidebar's settings first: every page below then runs with them off their
            # defaults (SVG charts; the language switched away and back).
            sidebar = "[data-testid=stSidebar]"
            click_each(page, f"{sidebar} [data-testid=stRadio] label", "sidebar setting")
            click_each(page, f"{sidebar} [data-testid=stButtonGroup] button", "language")
            page.locator(f"{sidebar} [data-testid=stButtonGroup] button").nth(
                LANGS.index(lang)).click()
            settle(page)
            assert f"lang={lang}" in page.url or lang == "en"
            totals: dict[str, int] = {}
            for index in range(len(PAGES)):
                for kind, n in crawl_page(page, index).items():
                    totals[kind] = totals.get(kind, 0) + n
            # The crawl reached every kind of control at least once, in this language too.
            assert translate(PAGES[-1].title, lang) == title(page)
            assert all(totals[k] > 0 for k in ("buttons", "page links", "radio options",
                                                   "segments")), totals  # the app has no tabs
        finally:
            b.close()


def test_the_buttons_that_move_between_pages(app):
    """Train → a one-epoch sweep → its plot on Evidence → a sweep run's latent plot, with the
    sweep settings and SVG charts in the URL (each step crashed with "Cannot clear query
    parameters"), in Korean; the language and the picked run follow."""
    with sync_api.sync_playwright() as p:
        b, page = browser_page(p, "ko")
        try:
            open_app(page, app, "ko")
            go_to(page, PAGES.index(TRAIN))
            page.locator("[data-testid=stSidebar] [data-testid=stRadio] label").nth(1).click()  # SVG
            settle(page)
            page.locator(".st-key-train_mode button").nth(3).click()  # β sweep
            settle(page)
            for key, value in (("train_betas", "0.5, 2"), ("train_epochs", "1")):
                box = page.locator(f".st-key-{key} input")
                box.fill(value)
                box.press("Enter")
                settle(page)
            assert "train_mode=" in page.url and "train_epochs=1" in page.url
            page.locator(".st-key-train_submit button").click()
            page.locator(".st-key-train_open_sweep button").wait_for(timeout=PAGE_TIMEOUT_MS)
            settle(page)
            page.locator(".st-key-train_open_sweep button").click()
            wait_for_title(page, translate(EVIDENCE.title, "ko"))
            check(page, "See this sweep on Evidence")
            assert title(page) == translate(EVIDENCE.title, "ko") and "lang=ko" in page.url
            # The sweep's first run (not the current VAE, which is the demo's).
            chosen = page.locator(".st-key-evidence_sweep_run input").input_value()
            page.locator(".st-key-evidence_open_latent button").click()
            wait_for_title(page, translate(LATENT_SPACE.title, "ko"))
            check(page, "Open its latent plot")
            assert title(page) == translate(LATENT_SPACE.title, "ko") and "lang=ko" in page.url
            # The sweep run is the current VAE here, in the address bar, and on the next page.
            assert shown_run(page).startswith(f"{chosen} (")
            assert f"vae_run={chosen} (" in unquote_plus(page.url)
            go_to(page, PAGES.index(LATENT_SPACE) + 1)
            assert shown_run(page).startswith(f"{chosen} (")
            assert f"vae_run={chosen} (" in unquote_plus(page.url)
            # The one-click pair with SVG charts chosen on the Overview: it opens the Latent
            # space page on the new pair.
            go_to(page, 0)
            page.locator("[data-testid=stSidebar] [data-testid=stRadio] label").nth(1).click()
            settle(page)
            page.locator(".st-key-overview_quick button").click()
            wait_for_title(page, translate(LATENT_SPACE.title, "ko"))
            check(page, "the one-click pair")
            assert title(page) == translate(LATENT_SPACE.title, "ko") and "lang=ko" in page.url
            assert shown_run(page).startswith("quick-vae (")
        finally:
            b.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_label_is_cut(app, size):
    with sync_api.sync_playwright() as p:
        found = {}
        for lang in LANGS:
            b, page = browser_page(p, lang, size)
            try:
                open_app(page, app, lang)
                for index in range(len(PAGES)):
                    go_to(page, index)
                    cut = cut_texts(page)
                    if cut:
                        found[f"{lang} {PAGES[index].file}"] = cut
            finally:
                b.close()
        assert not found, "\n".join(f"{where}: {c}" for where, cut in found.items() for c in cut)
