"""Latency of the real dashboard in a real browser: cold start and page switches.

Against ``streamlit run streamlit_app.py`` (a subprocess, as a user starts it) and headless
Chromium (Debian's ``/usr/bin/chromium`` driven by the ``playwright`` package):

1. Cold start: from process start to (a) ``/_stcore/health`` answering ``ok`` and (b) a page
   showing ``[data-testid=stApp][data-test-script-state=notRunning]`` with the Overview's title
   and no ``stException``; plus when its plotly charts have drawn. Target <= 5 s.
   Breakdown, each in a fresh interpreter: import time of streamlit, plotly, torch, vae_core and
   ui.resources (the script imports torch only when the first browser session runs it, not when the
   server starts), and the server-side script time of every page via AppTest (first run, which
   fills the caches, and a repeat run), which separates Python time from browser/websocket time.
2. Page switches in one session, through the sidebar's navigation links (a link keeps the
   session; ``page.goto`` would start a new one): from the click until the script state is
   ``notRunning`` again with the page's own title in the main area. First visits (caches of a
   fresh server empty) and repeat visits are reported apart. Target <= 1 s.

Baseline: a minimal three-page app with the same settings and sidebar links (a blank page, and a
page of four small WebGL plotly charts like one latent-space view), measured the same way: the
floor that Streamlit + this headless browser cost on this machine, printed beside the pages and
as a ratio.

Each round starts a fresh server, so first visits are measured once per round; the median over
rounds is reported. Runs against ``--checkpoints`` (default: a temporary folder with a freshly
trained digits pair named ``demo``), via ``VAE_LAB_CHECKPOINTS``. The CPU is shared and noisy:
read medians. It always exits 0 (a benchmark, not a test) and says which targets were met.

    .venv/bin/python benchmarks/app_latency.py [--rounds 3] [--repeats 2] [--checkpoints DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from streamlit_server import streamlit_server  # noqa: E402  (shared with the browser tests)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
COLD_TARGET_S = 5.0
SWITCH_TARGET_S = 1.0

# Script state idle + a level-1 heading (st.title) that contains the expected title.
READY_JS = """
(title) => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  return [...document.querySelectorAll('h1')].some(h => (h.innerText || '').includes(title));
}
"""
# Records each change of the app's script state with its wall-clock time (ms since the epoch), so
# a page load splits into: bundle loaded + app mounted, script running, script finished.
STATE_LOG_JS = """
window.__stStates = [];
new MutationObserver(() => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app) return;
  const s = app.getAttribute('data-test-script-state');
  const last = window.__stStates[window.__stStates.length - 1];
  if (!last || last[1] !== s) window.__stStates.push([Date.now(), s]);
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['data-test-script-state']});
"""
# Every plotly chart element has an SVG drawn (plotly draws after the script run ends).
CHARTS_JS = """
() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]
        .every(c => c.querySelector('.main-svg'))
"""


def page_table(lang: str = "en") -> list[tuple[str, str, str]]:
    """(file, sidebar label, st.title text) of each page in ``lang``, in sidebar order
    (``ui.navigation``, which imports no torch: this process stays light beside the server)."""
    from ui.i18n import translate
    from ui.navigation import PAGES

    out = []
    for p in PAGES:
        m = re.search(r"""st\.title\(\s*(?:_\(\s*)?(["'])(.+?)\1""", (REPO / p.file).read_text())
        out.append((p.file, translate(p.title, lang), translate(m.group(2) if m else p.title, lang)))
    return out


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def fmt(x: float | None, unit: str = "s") -> str:
    if x is None:
        return "   -  "
    return f"{x:6.2f}" if unit == "s" else f"{x * 1000:6.0f}"


# --- checkpoints -----------------------------------------------------------------------------------

def ensure_checkpoints(arg: str | None, tmp: Path) -> Path:
    if arg:
        return Path(arg).resolve()
    root = tmp / "checkpoints"
    print(f"Training a digits demo pair into {root} (30 epochs)…", flush=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vae_core", "train", "--kind", "pair", "--dataset", "digits",
                    "--latent-dim", "2", "--epochs", "30", "--root", str(root), "--name", "demo",
                    "--quiet"], cwd=REPO, check=True)
    print(f"  trained in {time.perf_counter() - t:.1f} s", flush=True)
    return root


# --- breakdowns (fresh interpreters) ---------------------------------------------------------------

IMPORT_PROBE = """
import json, sys, time
sys.path.insert(0, {repo!r})
out = {{}}
t0 = time.perf_counter()
for mod in ("streamlit", "plotly.graph_objects", "torch", "vae_core", "ui.resources"):
    t = time.perf_counter()
    __import__(mod)
    out[mod] = time.perf_counter() - t
out["total"] = time.perf_counter() - t0
print("JSON" + json.dumps(out))
"""

APPTEST_PROBE = """
import json, sys, time, logging
sys.path.insert(0, {repo!r})
logging.disable(logging.WARNING)
from streamlit.testing.v1 import AppTest
pages = {pages!r}
out = {{}}
for file in pages:
    times = []
    for _ in range(3):
        at = AppTest.from_file({repo!r} + "/streamlit_app.py", default_timeout=120)
        at.switch_page(file)  # through the frame, as a browser session runs it
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
    charts = at.get("plotly_chart")
    out[file] = {{"first": times[0], "repeat": sorted(times[1:])[len(times[1:]) // 2],
                 "exception": [e.message for e in at.exception][:1], "charts": len(charts),
                 "chart_kib": sum(len(c.proto.spec) for c in charts) / 1024,
                 "images": len(at.get("imgs"))}}
print("JSON" + json.dumps(out))
"""


def run_probe(code: str, env: dict, timeout: float = 600) -> dict | None:
    try:
        r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    for line in r.stdout.splitlines():
        if line.startswith("JSON"):
            return json.loads(line[4:])
    print(f"  probe failed:\n{r.stderr[-1500:]}")
    return None


def import_breakdown(env: dict, trials: int) -> dict[str, float]:
    runs = [p for p in (run_probe(IMPORT_PROBE.format(repo=str(REPO)), env) for _ in range(trials)) if p]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]} if runs else {}


# --- baseline: the framework + browser floor ------------------------------------------------------

BASELINE_LINKS = """with st.sidebar:
    st.page_link("app.py", label="Home")
    st.page_link("pages/1_Blank.py", label="Blank")
    st.page_link("pages/2_Charts.py", label="Charts")
"""
BASELINE_PAGES = {
    "app.py": 'st.title("Home page")',
    "pages/1_Blank.py": 'st.title("Blank page")',
    # Four charts like one latent-space view: 10 WebGL class traces of 36 points each (360 points,
    # the digits test set), two per column.
    "pages/2_Charts.py": """st.title("Charts page")
import numpy as np, plotly.graph_objects as go
rng = np.random.default_rng(0)
for c, col in enumerate(st.columns(2)):
    with col:
        for k in range(2):
            st.plotly_chart(go.Figure([go.Scattergl(x=rng.normal(size=36), y=rng.normal(size=36),
                            mode="markers", name=str(i)) for i in range(10)]), key=f"chart{c}{k}")
""",
}


def write_baseline_app(folder: Path) -> Path:
    """A three-page app with the same sidebar links and settings: what any switch costs here."""
    (folder / "pages").mkdir(parents=True)
    (folder / ".streamlit").mkdir()
    shutil.copy(REPO / ".streamlit" / "config.toml", folder / ".streamlit" / "config.toml")
    for file, body in BASELINE_PAGES.items():
        (folder / file).write_text("import streamlit as st\n" + BASELINE_LINKS + body + "\n")
    return folder


def baseline_round(browser, folder: Path, rounds: int, log: Path, timeout_ms: float, results: dict) -> None:
    with streamlit_server(folder, log, script="app.py") as (url, t0, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url, wait_until="commit")
            results["base:render"].append(wait_ready(page, "Home page", timeout_ms) - t0)
            for p in range(1 + rounds):
                for label in ("Blank", "Charts", "Home"):
                    t = time.perf_counter()
                    # the page_link in the sidebar, as the app is driven (the baseline also shows
                    # Streamlit's own page list, which has a link of the same name)
                    page.get_by_test_id("stSidebarUserContent").get_by_role("link", name=label, exact=True).click()
                    t_ready = wait_ready(page, f"{label} page", timeout_ms)
                    t_charts = wait_charts(page)
                    kind = "first" if p == 0 else "repeat"
                    results[f"base:{kind}:{label}"].append(t_ready - t)
                    results[f"base:{kind}+charts:{label}"].append(t_charts - t)
        finally:
            page.close()


# --- server ----------------------------------------------------------------------------------------

def exception_text(page) -> str | None:
    errors = page.locator("[data-testid=stException]")
    if errors.count() == 0:
        return None
    return " ".join(errors.first.inner_text().split())[:400]


def phases(page, since: float) -> tuple[float | None, float | None, float | None]:
    """(app mounted, script running, script done) in seconds after wall time ``since``, from the
    state log: the first state seen after ``since``, the first "running", the "notRunning" after it."""
    states = [(t / 1000 - since, s) for t, s in page.evaluate("window.__stStates || []") if t / 1000 >= since]
    mounted = states[0][0] if states else None
    running = next((t for t, s in states if s == "running"), None)
    done = next((t for t, s in states if s == "notRunning" and running is not None and t >= running), None)
    return mounted, running, done


def wait_ready(page, title: str, timeout_ms: float) -> float:
    page.wait_for_function(READY_JS, arg=title, timeout=timeout_ms, polling=10)
    return time.perf_counter()


def wait_charts(page, timeout_ms: float = 30_000) -> float:
    try:
        page.wait_for_function(CHARTS_JS, timeout=timeout_ms, polling=10)
    except Exception:  # a chart that never draws is reported as missing, not fatal
        return float("nan")
    return time.perf_counter()


def one_round(browser, checkpoints: Path, pages: list[tuple[str, str, str]], repeats: int,
              log: Path, timeout_ms: float, results: dict, errors: dict, lang: str = "en") -> None:
    overview = pages[0]
    with streamlit_server(checkpoints, log) as (url, t0, t_health):
        results["health"].append(t_health - t0)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(STATE_LOG_JS)
        try:
            wall_health = time.time()
            page.goto(f"{url}/?lang={lang}", wait_until="commit")
            t_ready = wait_ready(page, overview[2], timeout_ms)
            results["render"].append(t_ready - t0)
            mounted, running, done = phases(page, wall_health)
            if None not in (mounted, running, done):
                results["cold:mounted"].append(mounted)
                results["cold:run"].append(done - running)
            t_charts = wait_charts(page)
            results["charts"].append(t_charts - t0)
            if (e := exception_text(page)):
                errors.setdefault(overview[1], e)
            # pages[1:] then back to the Overview; pass 0 = first visits (fresh server caches)
            order = pages[1:] + [overview]
            for p in range(1 + repeats):
                for file, label, title in order:
                    kind = "first" if p == 0 and file != overview[0] else "repeat"
                    link = page.locator("[data-testid=stSidebar]").get_by_role("link", name=label, exact=True)
                    try:
                        wall, t = time.time(), time.perf_counter()
                        link.click()
                        t_ready = wait_ready(page, title, timeout_ms)
                        t_charts = wait_charts(page)
                        _, running, done = phases(page, wall)
                    except Exception as e:  # a page that never settles: report, go on
                        errors.setdefault(label, f"did not settle: {type(e).__name__}: {str(e)[:200]}")
                        continue
                    results[f"{kind}:{label}"].append(t_ready - t)
                    results[f"{kind}+charts:{label}"].append(t_charts - t)
                    if running is not None and done is not None:
                        results[f"{kind}:run:{label}"].append(done - running)
                    if (e := exception_text(page)):
                        errors.setdefault(label, e)
        finally:
            page.close()


# --- main ------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoints", help="folder of runs (default: train a demo pair in a temp folder)")
    ap.add_argument("--rounds", type=int, default=3, help="fresh servers (cold starts, first visits)")
    ap.add_argument("--repeats", type=int, default=2, help="repeat visits of every page per round")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the import/AppTest breakdown")
    ap.add_argument("--no-baseline", action="store_true", help="skip the minimal-app baseline")
    ap.add_argument("--timeout", type=float, default=120, help="seconds a page may take to settle")
    ap.add_argument("--lang", default="en", help="the dashboard's language (?lang=), e.g. ko")
    args = ap.parse_args()

    if not (REPO / "streamlit_app.py").exists():
        print("streamlit_app.py does not exist yet: nothing to measure.")
        return
    tmp = Path(tempfile.mkdtemp(prefix="vae-lab-latency-"))
    try:
        checkpoints = ensure_checkpoints(args.checkpoints, tmp)
        env = {**os.environ, "VAE_LAB_CHECKPOINTS": str(checkpoints)}
        pages = page_table(args.lang)
        print(f"Pages: {', '.join(label for _, label, _ in pages)}; checkpoints: {checkpoints}")
        print(f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared: read medians)\n",
              flush=True)

        from collections import defaultdict
        results: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, str] = {}
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for r in range(args.rounds):
                    print(f"round {r + 1}/{args.rounds}: fresh server (load average "
                          f"{os.getloadavg()[0]:.1f})…", flush=True)
                    try:
                        one_round(browser, checkpoints, pages, args.repeats, tmp / f"streamlit-{r}.log",
                                  args.timeout * 1000, results, errors, args.lang)
                    except Exception:
                        print(f"  round failed:\n{traceback.format_exc()[-2000:]}")
                if not args.no_baseline:
                    print(f"baseline: a minimal 3-page app (load average {os.getloadavg()[0]:.1f})…", flush=True)
                    try:
                        baseline_round(browser, write_baseline_app(tmp / "baseline"), args.rounds * args.repeats,
                                       tmp / "streamlit-baseline.log", args.timeout * 1000, results)
                    except Exception:
                        print(f"  baseline failed:\n{traceback.format_exc()[-2000:]}")
            finally:
                browser.close()

        breakdown, apptest = {}, {}
        if not args.no_breakdown:
            print("breakdown: imports (3 fresh interpreters) and AppTest script times…", flush=True)
            breakdown = import_breakdown(env, 3)
            apptest = run_probe(APPTEST_PROBE.format(repo=str(REPO), pages=[f for f, _, _ in pages]), env) or {}

        report(pages, results, errors, breakdown, apptest, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(pages, results, errors, breakdown, apptest, args) -> None:
    print(f"\n== Cold start (fresh server, {len(results['render'])} rounds; median, min-max) ==")
    for key, what in (("health", "/_stcore/health ok"), ("render", "Overview rendered (idle + title)"),
                      ("charts", "Overview plotly charts drawn")):
        xs = [x for x in results[key] if x == x]
        rng = f"{min(xs):.2f}-{max(xs):.2f}" if xs else "-"
        print(f"  {what:<36} {fmt(median(xs))} s   ({rng})")
    if results["cold:run"]:
        print(f"    of which, after health: app mounted (JS bundle) {fmt(median(results['cold:mounted'])).strip()} s,"
              f" first script run (running -> notRunning) {fmt(median(results['cold:run'])).strip()} s")
    cold = median(results["render"])
    if breakdown:
        print("  imports in a fresh interpreter (median of 3, each after the previous ones):")
        for k, v in breakdown.items():
            print(f"    {k:<22} {v:5.2f} s")
    print("\n== Page switch via the sidebar link, click -> idle + title (median seconds) ==")
    print(f"  {'page':<26} {'first':>6} {'+charts':>7} {'run':>6} {'repeat':>6} {'+charts':>7} {'run':>6}"
          + ("  | AppTest script first / repeat, charts (KiB)" if apptest else ""))
    worst_first = worst_repeat = 0.0
    for file, label, _ in pages:
        f, fc = median(results[f"first:{label}"]), median(results[f"first+charts:{label}"])
        r, rc = median(results[f"repeat:{label}"]), median(results[f"repeat+charts:{label}"])
        worst_first = max(worst_first, f or 0)
        worst_repeat = max(worst_repeat, r or 0)
        fr, rr = median(results[f"first:run:{label}"]), median(results[f"repeat:run:{label}"])
        line = f"  {label:<26} {fmt(f)} {fmt(fc):>7} {fmt(fr)} {fmt(r)} {fmt(rc):>7} {fmt(rr)}"
        if file in apptest:
            a = apptest[file]
            line += f"  | {a['first']:6.2f} / {a['repeat']:5.2f}, {a['charts']} ({a['chart_kib']:.0f})"
        print(line)
    floor = median(results["base:repeat:Blank"])
    if results["base:render"]:
        for label, what in (("Blank", "baseline app: blank page"),
                            ("Charts", "baseline: 4 WebGL charts")):
            print(f"  {what:<26} {fmt(median(results[f'base:first:{label}']))} "
                  f"{fmt(median(results[f'base:first+charts:{label}'])):>7} {'':>6} "
                  f"{fmt(median(results[f'base:repeat:{label}']))} "
                  f"{fmt(median(results[f'base:repeat+charts:{label}'])):>7}")
        print(f"  (baseline app cold start to its home page: {fmt(median(results['base:render'])).strip()} s)")
    print("  (Overview 'first' is the cold start above; +charts = until every plotly chart has drawn;\n"
          "   run = the browser's 'running' -> 'notRunning' span: server script + deltas sent and drawn)")
    script_errors = {f: a["exception"][0] for f, a in apptest.items() if a.get("exception")}
    if errors or script_errors:
        print("\n== Pages with an exception ==")
        for label, text in errors.items():
            print(f"  {label} (browser): {text}")
        for file, text in script_errors.items():
            print(f"  {file} (AppTest): {' '.join(text.split())[:300]}")
    print("\n== Targets ==")
    ok = lambda x, target: "MET" if x is not None and x <= target else "NOT MET"
    print(f"  cold start to Overview rendered <= {COLD_TARGET_S:g} s: {ok(cold, COLD_TARGET_S)} "
          f"(median {fmt(cold).strip()} s)")
    print(f"  page switch, first visit    <= {SWITCH_TARGET_S:g} s: {ok(worst_first, SWITCH_TARGET_S)} "
          f"(slowest page median {worst_first:.2f} s)")
    print(f"  page switch, repeat visit   <= {SWITCH_TARGET_S:g} s: {ok(worst_repeat, SWITCH_TARGET_S)} "
          f"(slowest page median {worst_repeat:.2f} s)")
    if floor:
        print(f"  slowest repeat switch / blank-page floor of {floor:.2f} s: {worst_repeat / floor:.1f}x")
    slow = [label for _, label, _ in pages
            if (median(results[f"repeat:{label}"]) or 0) > SWITCH_TARGET_S
            or (median(results[f"first:{label}"]) or 0) > SWITCH_TARGET_S]
    if slow:
        print(f"  slower than {SWITCH_TARGET_S:g} s: {', '.join(slow)}")


if __name__ == "__main__":
    try:
        main()
    except Exception:  # a benchmark reports; it never fails the caller
        traceback.print_exc()
    sys.exit(0)
