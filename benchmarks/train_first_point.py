"""Train page in a real browser: click -> first live curve point drawn, cold and warm.

    python benchmarks/train_first_point.py

Starts `streamlit run` on a free port with an empty checkpoints folder, opens /Train in headless
Chromium, trains the default pair (cold: the local Dask cluster may still be starting), stops it,
then three more times on the warm cluster; prints each time and counts "ScriptRunContext" lines
and tracebacks in the server log.
"""
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from streamlit_server import streamlit_server
from playwright.sync_api import sync_playwright
root = Path(tempfile.mkdtemp()); log = root / "server.log"
ck = root / "ck"; ck.mkdir()
with streamlit_server(ck, log) as (url, *_):
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = b.new_page()
        page.goto(url + "/Train", timeout=120000)
        page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=120000)
        time.sleep(8)  # let the local cluster come up and warm
        page.get_by_role("button", name="Train", exact=True).click()
        t = time.perf_counter()
        page.wait_for_selector(".st-key-train_live .js-plotly-plot .scatterlayer .trace", timeout=60000)
        print("click -> first curve drawn: %.2f s" % (time.perf_counter() - t))
        page.get_by_role("button", name="Stop (keeps what was trained)").click()
        page.wait_for_selector("text=Last job", timeout=120000)
        print("stopped: %.1f s" % (time.perf_counter() - t))
        for i in range(3):
            time.sleep(2)
            page.get_by_role("button", name="Train", exact=True).click()
            t = time.perf_counter()
            page.wait_for_selector("text=Last job", state="detached", timeout=60000)
            page.wait_for_selector("text=Training:", timeout=60000)
            page.wait_for_selector(".st-key-train_live .js-plotly-plot .scatterlayer .trace", timeout=60000)
            print("warm: click -> first curve drawn: %.2f s" % (time.perf_counter() - t))
            page.get_by_role("button", name="Stop (keeps what was trained)").click()
            page.wait_for_selector("text=Last job", timeout=120000)
        b.close()
text = log.read_text()
print("ScriptRunContext lines:", text.count("ScriptRunContext"), "| Traceback:", text.count("Traceback"), "| log lines:", len(text.splitlines()))
