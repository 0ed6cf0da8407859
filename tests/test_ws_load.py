"""The websocket load client (benchmarks/st_client.py) against a real server: sessions speaking
Streamlit's own protocol open pages and see each page's script finish, with what it drew."""
from __future__ import annotations

import asyncio
import sys
import tomllib
from pathlib import Path

import pytest

from streamlit_server import streamlit_process

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from st_client import Session, classroom, page_name  # noqa: E402


def test_the_server_does_not_collect_all_garbage_after_every_page_view():
    """Streamlit's default full gc.collect() after each script run cost a real server 60-80 % of its
    CPU per view here (heap of torch, plotly, Dask) and freed nothing (see .streamlit/config.toml)."""
    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml")
                           .read_text())
    assert config["runner"]["postScriptGC"] is False


def test_page_names_are_the_url_names():
    assert page_name("pages/0_Overview.py") == "" and page_name("pages/7_Training_replay.py") == "Training_replay"


@pytest.mark.slow
def test_sessions_open_pages_over_the_websocket(checkpoints, tmp_path):
    with streamlit_process(checkpoints, tmp_path / "server.log") as (url, _proc, _t0, _th):
        port = int(url.rsplit(":", 1)[1])

        async def one() -> Session:
            s = Session(port)
            await s.open()
            for page in ("", "Evidence", "Training_replay"):
                await s.view(page, timeout=120)
            s.close()
            return s

        s = asyncio.run(one())
        assert s.elements > 20  # the pages drew their elements, not an empty script
        result = asyncio.run(classroom(port, sessions=3, every_s=1.0, duration_s=3.0,
                                       pages=("Evidence", "Draw_a_digit")))
    assert not result.errors and len(result.latencies) >= 3
