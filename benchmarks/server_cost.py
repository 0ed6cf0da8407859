"""Server CPU of a warm page view on a real ``streamlit run``, per page, against a one-line
Streamlit app measured the same way in the same run.

The one-line app runs with the tree's own server settings. ``view_cost.py`` runs the pages under AppTest (the script alone). A real server also turns every
element into protobuf messages, compresses and sends them over the websocket, and (unless
configured off) collects garbage after every run: here a session speaking Streamlit's own
protocol (``st_client.py``, no browser) opens each page ``--views`` times after one warm-up visit,
and the figure is the CPU time of the server process (``/proc/PID/stat``, every thread) divided by
the views. Each tree runs from its own folder, so its ``.streamlit/config.toml`` applies.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/server_cost.py                  # this checkout
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/server_cost.py --before 7a1b2c3   # before/after

Goal (issue 17): median ≤ 50 ms and max ≤ 150 ms a view over the pages. Connects to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))
from st_client import Session, page_name  # noqa: E402
from streamlit_server import streamlit_process  # noqa: E402
from view_cost import BASELINE_APP, export_tree  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


async def per_page(port: int, pid: int, pages: list[str], views: int) -> dict[str, float]:
    s = Session(port)
    await s.open()
    try:
        for page in pages:  # warm: caches filled, torch loaded
            await s.view(page, timeout=300)
        out = {}
        for page in pages:
            await asyncio.sleep(0.5)
            c0 = cpu_seconds(pid)
            for _ in range(views):
                await s.view(page, timeout=300)
            await asyncio.sleep(0.1)  # messages still being sent belong to these views
            out[page] = (cpu_seconds(pid) - c0) / views * 1000
        return out
    finally:
        s.close()


def measure(folder: Path, script: str, pages: list[str], views: int, checkpoints: Path,
            log: Path) -> dict[str, float]:
    with streamlit_process(checkpoints, log, script=str(folder / script), cwd=folder,
                           env={"OMP_NUM_THREADS": "1"}) as (url, proc, _t0, _ready):
        return asyncio.run(per_page(int(url.rsplit(":", 1)[1]), proc.pid, pages, views))


def tree_pages(tree: Path) -> list[str]:
    return [page_name(p.as_posix()) for p in sorted((tree / "pages").glob("*.py"),
                                                    key=lambda p: int(p.name.split("_", 1)[0]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="a git ref measured in the same run")
    ap.add_argument("--views", type=int, default=10, help="views per page (the CPU clock ticks in 10 ms)")
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    tmp = Path(tempfile.mkdtemp(prefix="server_cost-"))
    try:
        (tmp / "one").mkdir()
        (tmp / "one" / "one_line.py").write_text(BASELINE_APP)
        trees = {"this checkout": REPO}
        if args.before:
            trees = {f"before ({args.before})": export_tree(args.before, tmp / "before"), **trees}
        for name, tree in trees.items():
            ckpt = tmp / f"ckpt-{name[:6]}"
            shutil.copytree(tree / "checkpoints", ckpt, ignore=shutil.ignore_patterns(".tmp-*", ".trash-*"))
            pages = tree_pages(tree)
            cost = measure(tree, "streamlit_app.py", pages, args.views, ckpt, tmp / "app.log")
            # the one-line app under the same server settings (this tree's .streamlit/config.toml)
            shutil.rmtree(tmp / "one" / ".streamlit", ignore_errors=True)
            if (tree / ".streamlit").is_dir():
                shutil.copytree(tree / ".streamlit", tmp / "one" / ".streamlit")
            base = measure(tmp / "one", "one_line.py", [""], args.views, ckpt, tmp / "one.log")[""]
            values = list(cost.values())
            print(f"\n## {name}: server CPU per warm view (ms), {args.views} views a page\n")
            print("| page | ms |\n|---|---|")
            for page, ms in cost.items():
                print(f"| {page or 'Overview'} | {ms:.0f} |")
            print(f"| **median / max** | **{statistics.median(values):.0f} / {max(values):.0f}** |")
            print(f"| one-line app, same server settings | {base:.0f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
