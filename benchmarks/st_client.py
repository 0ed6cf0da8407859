"""A minimal Streamlit client speaking the app's own websocket protocol (no browser): it opens a
session on ``/_stcore/stream``, asks for a page run (``BackMsg.rerun_script`` with the page's URL
name) and waits for ``ForwardMsg.script_finished``. Used by ``classroom_load.py --ws`` to simulate
a class without Chromium tabs eating the CPU the server needs. Connects to 127.0.0.1 only.
"""
from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from tornado.websocket import websocket_connect

PAGE_NAMES = ("", "Train", "Latent_space", "Decoder_grid", "Generate", "Reparameterization",
              "Evidence", "Training_replay", "Draw_a_digit", "Loss_lab")


def page_name(file: str) -> str:
    """The URL name Streamlit gives ``pages/N_Name.py``: "Name" (the Overview, the default page, is "")."""
    stem = file.rsplit("/", 1)[-1].removesuffix(".py")
    return "" if stem.startswith("0_") else stem.split("_", 1)[1]


class Session:
    """One browser session's websocket; ``view(page)`` returns seconds to the page's script end."""

    def __init__(self, port: int):
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("bad port")
        self.url = f"ws://127.0.0.1:{port}/_stcore/stream"
        self.conn = None
        self.elements = 0  # deltas received over all finished views (a check that pages drew)
        self._deltas = 0

    async def open(self) -> None:
        self.conn = await websocket_connect(self.url, subprotocols=["streamlit"])

    async def view(self, page: str, timeout: float = 60.0, query: str = "") -> float:
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = page
        t = time.perf_counter()
        await self.conn.write_message(msg.SerializeToString(), binary=True)
        deadline = t + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"page {page!r}: no script_finished within {timeout} s")
            data = await asyncio.wait_for(self.conn.read_message(), left)
            if data is None:
                raise ConnectionError("the server closed the session")
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            # a run cut short for a rerun (e.g. a widget writing the URL) is not the page drawn
            if (fwd.WhichOneof("type") == "script_finished"
                    and fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN):
                self.elements += self._deltas
                self._deltas = 0
                return time.perf_counter() - t
            if fwd.WhichOneof("type") == "delta":
                self._deltas += 1

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def quantile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    @property
    def median(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None


async def visit_all(port: int, pages=PAGE_NAMES) -> LoadResult:
    """One session opening every page once, in order (warms the server's shared caches)."""
    result, s = LoadResult(), Session(port)
    try:
        await s.open()
        for page in pages:
            result.latencies.append(await s.view(page, timeout=300))
    finally:
        s.close()
    return result


async def classroom(port: int, sessions: int, every_s: float, duration_s: float, pages=PAGE_NAMES,
                    seed: int = 0) -> LoadResult:
    """``sessions`` sessions, each opening a random page every ``every_s`` seconds (start times
    spread over the first interval) for ``duration_s``; bounded: each makes at most
    ``duration_s / every_s + 1`` views."""
    result = LoadResult()
    rng = random.Random(seed)

    async def student(i: int) -> None:
        s = Session(port)
        try:
            await asyncio.sleep(rng.random() * every_s)
            await s.open()
            await s.view("")  # the first page of a new session, not counted
            end = time.perf_counter() + duration_s
            for _ in range(int(duration_s / every_s) + 1):
                if time.perf_counter() >= end:
                    break
                t = time.perf_counter()
                try:
                    result.latencies.append(await s.view(rng.choice(pages)))
                except (TimeoutError, ConnectionError, asyncio.TimeoutError) as e:
                    result.errors.append(f"session {i}: {e}")
                await asyncio.sleep(max(0.0, every_s - (time.perf_counter() - t)))
        except Exception as e:  # a refused connection etc.: counted, the others go on
            result.errors.append(f"session {i}: {type(e).__name__}: {e}")
        finally:
            s.close()

    await asyncio.gather(*(student(i) for i in range(sessions)))
    return result
