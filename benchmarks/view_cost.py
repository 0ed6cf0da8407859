"""Server CPU of a warm page view, per page, against a one-line Streamlit app measured in the same run.

For each source tree (this checkout, and with ``--before REF`` a git commit exported to a temporary
folder) a fresh interpreter opens every page of the frame under AppTest (the script runs in this
process, so its CPU is the server's): one run to warm the caches, then ``--trials`` reruns of the
same session (a widget moved, a page revisited) and ``--trials`` new sessions (a student opening the
page). The figure is process CPU time (``time.process_time``: every thread of the process), median
and max over the trials. The baseline is ``import streamlit as st; st.write("hello")`` measured the
same way in the same interpreter. Each tree gets its own copy of the shipped ``checkpoints/`` (a
page may cache the judge classifier beside the runs).

Cold start: ``streamlit run`` of the tree, then a websocket session (Streamlit's own protocol,
``st_client.py``) opens the Overview: seconds from the process start to the end of that first
script run, against the one-line app started and opened the same way, alternated. The browser's
own load (the JS bundle) adds about the same to both; ``app_latency.py`` measures it in Chromium.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/view_cost.py                    # this checkout
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/view_cost.py --before 877767a   # before/after, one run
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/view_cost.py --profile pages/7_Training_replay.py

Goals (issue 17): median ≤ 50 ms and max ≤ 150 ms over the pages; cold start ≤ 2.5x the one-line app.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_MEDIAN_MS, BUDGET_MAX_MS, COLD_GOAL = 50.0, 150.0, 2.5
BASELINE_APP = 'import streamlit as st\nst.write("hello")\n'


# --- inside one tree's interpreter ------------------------------------------------------------------

def _pages(tree: Path) -> list[str]:
    sys.path.insert(0, str(tree))
    from ui.navigation import PAGES

    return [p.file for p in PAGES]


def _cpu_ms(fn) -> tuple[float, float]:
    c, w = time.process_time(), time.perf_counter()
    fn()
    return (time.process_time() - c) * 1000, (time.perf_counter() - w) * 1000


def _errors(at) -> list[str]:
    return [str(e.value)[:200] for e in at.exception]


def measure_tree(tree: Path, trials: int, only: list[str] | None) -> dict:
    """Per page (and the baseline): first run, warm reruns and warm new sessions, in ms of CPU."""
    from streamlit.testing.v1 import AppTest

    app = str(tree / "streamlit_app.py")
    baseline = Path(tempfile.mkdtemp()) / "one_line.py"
    baseline.write_text(BASELINE_APP)

    def opened(page: str | None) -> "AppTest":
        at = AppTest.from_file(str(baseline) if page is None else app, default_timeout=300)
        if page is not None:
            at.switch_page(page)
        return at

    out: dict = {}
    for page in [None, *(only or _pages(tree))]:
        at = opened(page)
        first_cpu, first_wall = _cpu_ms(at.run)
        # A first view may leave work on a background thread (the Overview's scorecards) and a
        # "Computing…" caption that a fragment keeps checking: let it finish before measuring,
        # since process CPU time counts every thread.
        for _ in range(600):
            if not any(c.value.startswith("Computing") for c in at.caption):
                break
            time.sleep(0.1)
            at.run()
        reruns = [_cpu_ms(at.run)[0] for _ in range(trials)]
        sessions = []
        for _ in range(trials):
            s = opened(page)
            sessions.append(_cpu_ms(s.run)[0])
        out[page or "one-line app"] = {"first_cpu": first_cpu, "first_wall": first_wall,
                                       "rerun": reruns, "session": sessions, "errors": _errors(at)}
        print(f"    {page or 'one-line app'}: first {first_cpu:.0f} ms, rerun "
              f"{statistics.median(reruns):.0f} ms, new session {statistics.median(sessions):.0f} ms",
              file=sys.stderr, flush=True)
    return out


def cold_start(tree: Path | None, checkpoints: Path) -> float:
    """Seconds from ``streamlit run`` to the end of a new session's first script run: the
    Overview of ``tree``, or the one-line app when ``tree`` is None. A websocket session
    (st_client.py) stands in for the browser, whose own load adds the same to both."""
    import asyncio

    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from st_client import Session
    from streamlit_server import streamlit_process

    folder = Path(tempfile.mkdtemp(prefix="cold-"))
    script = folder / "one_line.py"
    script.write_text(BASELINE_APP)
    app = str(script if tree is None else tree / "streamlit_app.py")

    async def first_view(port: int) -> None:
        s = Session(port)
        try:
            await s.open()
            await s.view("", timeout=300)
        finally:
            s.close()

    try:
        with streamlit_process(checkpoints, folder / "server.log", script=app) as (url, _p, t0, _th):
            asyncio.run(first_view(int(url.rsplit(":", 1)[1])))
            return time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def profile_page(tree: Path, page: str, top: int, sort: str = "cumulative") -> None:
    """cProfile of one warm rerun of ``page`` (after a warming run), sorted by cumulative time."""
    import cProfile
    import pstats

    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(tree))
    at = AppTest.from_file(str(tree / "streamlit_app.py"), default_timeout=300)
    at.switch_page(page)
    at.run()
    at.run()
    # AppTest runs the script in its own thread: profile inside that thread for one rerun
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner

    prof, original = cProfile.Profile(), LocalScriptRunner._run_script_thread

    def profiled(self) -> None:
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    LocalScriptRunner._run_script_thread = profiled
    at.run()
    LocalScriptRunner._run_script_thread = original
    pstats.Stats(prof).sort_stats(sort).print_stats(top)


# --- the driver ---------------------------------------------------------------------------------------

def export_tree(ref: str, dest: Path) -> Path:
    """``git archive`` of ``ref`` into ``dest`` (no worktree metadata is touched)."""
    tar = dest.with_suffix(".tar")
    subprocess.run(["git", "archive", "--format=tar", "-o", str(tar), ref], cwd=REPO, check=True)
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")
    tar.unlink()
    return dest


def child(args: list[str], tree: Path, checkpoints: Path) -> dict:
    env = {**os.environ, "VAE_LAB_CHECKPOINTS": str(checkpoints), "OMP_NUM_THREADS": "1",
           "VAE_LAB_DATA": os.environ.get("VAE_LAB_DATA", str(REPO / "data"))}
    r = subprocess.run([sys.executable, __file__, *args], cwd=tree, env=env, capture_output=True,
                       text=True, timeout=3600)
    sys.stderr.write(r.stderr[-4000:] if r.returncode else r.stderr)
    if r.returncode:
        raise RuntimeError(f"child {args} failed")
    return json.loads(r.stdout.strip().splitlines()[-1])


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def report(name: str, res: dict, cold: tuple[float, float] | None) -> dict:
    base = res.pop("one-line app")
    b_rerun, b_session = med(base["rerun"]), med(base["session"])
    print(f"\n## {name}\n")
    print(f"one-line app: warm rerun {b_rerun:.1f} ms CPU, new session {b_session:.1f} ms CPU\n")
    print("| page | first view CPU (ms) | warm rerun median / max (ms) | × one-line | new session median / max (ms) | errors |")
    print("|---|---:|---:|---:|---:|---|")
    for page, r in res.items():
        print(f"| {Path(page).stem} | {r['first_cpu']:.0f} | {med(r['rerun']):.0f} / {max(r['rerun']):.0f} | "
              f"{med(r['rerun']) / b_rerun:.1f} | {med(r['session']):.0f} / {max(r['session']):.0f} | "
              f"{'; '.join(r['errors'])[:80]} |")
    medians = [med(r["rerun"]) for r in res.values()]
    worst = max(res, key=lambda p: max(res[p]["rerun"]))
    summary = {"median": med(medians), "max": max(res[worst]["rerun"]), "worst": Path(worst).stem,
               "session_median": med([med(r["session"]) for r in res.values()]),
               "baseline": b_rerun}
    print(f"\nover the pages: warm rerun median {summary['median']:.0f} ms, max {summary['max']:.0f} ms "
          f"({summary['worst']}); new session median {summary['session_median']:.0f} ms "
          f"(goal ≤ {BUDGET_MEDIAN_MS:.0f} / ≤ {BUDGET_MAX_MS:.0f} ms)")
    if cold:
        print(f"cold start (streamlit run to the Overview's first script end): {cold[0]:.2f} s vs one-line app {cold[1]:.2f} s "
              f"= {cold[0] / cold[1]:.2f}x (goal ≤ {COLD_GOAL}x)")
        summary["cold"] = cold[0] / cold[1]
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="a git ref measured in the same run (e.g. 877767a)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--pages", nargs="*", help="only these page files (e.g. pages/7_Training_replay.py)")
    ap.add_argument("--cold-trials", type=int, default=3)
    ap.add_argument("--profile", help="print a cProfile of one warm rerun of this page file and exit")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--_measure", help=argparse.SUPPRESS)
    ap.add_argument("--_cold", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._measure:
        print(json.dumps(measure_tree(Path(args._measure), args.trials, args.pages)))
        return
    if args._cold is not None:
        print(json.dumps(cold_start(Path(args._cold) if args._cold else None,
                                    Path(os.environ["VAE_LAB_CHECKPOINTS"]))))
        return
    if args.profile:
        profile_page(REPO, args.profile, args.top)
        return

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    tmp = Path(tempfile.mkdtemp(prefix="view_cost-"))
    try:
        trees = {"this checkout": REPO}
        if args.before:
            trees = {f"before ({args.before})": export_tree(args.before, tmp / "before"), **trees}
        summaries = {}
        for name, tree in trees.items():
            ckpt = tmp / f"ckpt-{len(summaries)}"
            shutil.copytree(tree / "checkpoints", ckpt, ignore=shutil.ignore_patterns(".tmp-*", ".trash-*"))
            print(f"measuring {name}…", file=sys.stderr, flush=True)
            extra = ["--trials", str(args.trials)] + (["--pages", *args.pages] if args.pages else [])
            res = child(["--_measure", str(tree), *extra], tree, ckpt)
            cold = None
            if args.cold_trials:
                app_s, base_s = [], []
                for _ in range(args.cold_trials):  # alternated, so load drifts hit both
                    app_s.append(child(["--_cold", str(tree)], tree, ckpt))
                    base_s.append(child(["--_cold", ""], tree, ckpt))
                cold = (med(app_s), med(base_s))
            summaries[name] = report(name, res, cold)
        if len(summaries) == 2:
            (nb, b), (na, a) = summaries.items()
            print(f"\n## before → after (each against its own one-line baseline)\n")
            print(f"warm rerun, median over pages: {b['median']:.0f} → {a['median']:.0f} ms "
                  f"({b['median'] / b['baseline']:.1f}x → {a['median'] / a['baseline']:.1f}x one-line)")
            print(f"warm rerun, slowest page: {b['max']:.0f} ms ({b['worst']}) → {a['max']:.0f} ms ({a['worst']})")
            if "cold" in a and "cold" in b:
                print(f"cold start: {b['cold']:.2f}x → {a['cold']:.2f}x one-line")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
