"""Start the dashboard with ``streamlit run`` on a free localhost port, wait for its health
check, and always stop it: shared by the browser tests and benchmarks/app_latency.py."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(checkpoints: Path, log: Path, script: str = "") -> Iterator[tuple[str, float, float]]:
    """Yields (url, t_start, t_health) with perf_counter times; always stops the server.

    Runs the repo's streamlit_app.py, or ``script`` inside the folder ``checkpoints``."""
    with streamlit_process(checkpoints, log, script) as (url, _, t_start, t_health):
        yield url, t_start, t_health


@contextmanager
def streamlit_process(checkpoints: Path, log: Path, script: str = "", env: dict[str, str] | None = None,
                      cwd: Path | None = None) -> Iterator[tuple[str, subprocess.Popen, float, float]]:
    """``streamlit_server`` that also yields the server's process (its pid, e.g. to read its CPU
    time) and takes extra environment variables (e.g. ``VAE_LAB_SCHEDULER``). ``cwd``: the folder
    it runs in, whose ``.streamlit/config.toml`` applies (default: the repository for the app,
    the checkpoints folder for another ``script``)."""
    port = free_port()
    env = {**os.environ, "VAE_LAB_CHECKPOINTS": str(checkpoints), **(env or {})}
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        t_start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script or "streamlit_app.py", "--server.headless",
             "true", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
            cwd=cwd or (checkpoints if script else REPO), env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = t_start + 120
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited early:\n{log.read_text()[-2000:]}")
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"no health after 120 s:\n{log.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.read().strip() == b"ok":
                            break
                except OSError:
                    pass
                time.sleep(0.02)
            yield url, proc, t_start, time.perf_counter()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
