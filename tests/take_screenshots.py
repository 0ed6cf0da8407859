"""Screenshots of every page in English and Korean, for docs/screenshots/{en,ko}/: the shipped
demo pair, headless Chromium 1400 px wide, each page whole, saved as small 128-colour PNGs.

    python tests/take_screenshots.py [--out docs/screenshots] [--width 1400]

Look at them before committing: the layout check of tests/test_browser_crawl.py measures cut
labels, but only a person sees a picture that reads wrong.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamlit_server import REPO, streamlit_server  # noqa: E402
from ui.i18n import translate  # noqa: E402
from ui.navigation import PAGES  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
COLOURS = 128


def small_png(src: Path, dst: Path) -> None:
    """``src`` quantised to 128 colours (text and flat plots keep their look at a third of the
    size)."""
    with Image.open(src) as im:
        im.convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)


def main() -> None:
    import playwright.sync_api as sync_api

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "checkpoints"
        shutil.copytree(REPO / "checkpoints", root)
        with streamlit_server(root, Path(tmp) / "streamlit.log") as (url, _, _), \
                sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for lang in ("en", "ko"):
                folder = args.out / lang
                folder.mkdir(parents=True, exist_ok=True)
                page = browser.new_page(viewport={"width": args.width, "height": 1000},
                                        locale="ko-KR" if lang == "ko" else "en-US")
                page.goto(f"{url}/?lang={lang}")
                for i, p_def in enumerate(PAGES):
                    page.locator("[data-testid=stSidebarNavLink]").nth(i).click()
                    page.wait_for_timeout(300)
                    page.wait_for_selector(IDLE, timeout=300_000)
                    page.locator("[data-testid=stMain] h1").first.wait_for(timeout=300_000)
                    # The Overview computes its numbers in the background: wait until they are in.
                    pending = translate("Computing this pair's numbers…", lang)
                    page.wait_for_function(
                        "t => !document.querySelector('[data-testid=stMain]').innerText.includes(t)",
                        arg=pending, timeout=300_000)
                    page.wait_for_selector(IDLE, timeout=300_000)
                    # The main area scrolls inside the window: grow the window to its height.
                    height = page.evaluate(
                        "() => document.querySelector('[data-testid=stMain]').scrollHeight")
                    page.set_viewport_size({"width": args.width, "height": min(height, 12_000)})
                    page.wait_for_timeout(1500)  # charts redraw at the new size
                    raw = Path(tmp) / "raw.png"
                    page.screenshot(path=str(raw))
                    page.set_viewport_size({"width": args.width, "height": 1000})
                    out = folder / f"{Path(p_def.file).stem}.png"
                    small_png(raw, out)
                    print(f"{out} {out.stat().st_size // 1024} KB")
                page.close()
            browser.close()


if __name__ == "__main__":
    main()
