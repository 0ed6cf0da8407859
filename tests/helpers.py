"""Helpers shared by the test modules: train-and-save a real tiny run, open an app page."""
from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path

import numpy as np

from vae_core import ModelConfig, TrainConfig, run_to_end, save_run, train

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
APP = str(REPO / "streamlit_app.py")


def train_and_save(root: Path, name: str, cfg: ModelConfig, tcfg: TrainConfig, dataset,
                   group: str | None = None) -> Path:
    end = run_to_end(train(cfg, tcfg, dataset))
    return save_run(end["model"], cfg, tcfg, end["history"], name, root, dataset=dataset.name,
                    status=end["status"], reason=end["reason"], group=group,
                    snapshots=end["snapshots"])


def page_app(page: str | None = None, timeout: float = 90):
    """The app as a browser session opens it, not yet run (set ``query_params`` first): the frame
    (``streamlit_app.py``, its st.navigation) on ``page`` (a file of ``ui.navigation.PAGES``;
    None for the Overview)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    if page is not None:
        at.switch_page(page)
    return at


def open_page(page: str | None = None, timeout: float = 90, **params: str):
    """``page_app`` after one run, its URL holding ``params`` (``lang="ko"``, a widget's value)."""
    at = page_app(page, timeout)
    at.query_params.update(params)
    return at.run()


def as_shown(markdown: str) -> str:
    """Markdown text as the browser shows it: values from a URL, a file or a user are escaped
    (``ui.links.md``), and the backslashes are not shown."""
    return re.sub(r"\\(.)", r"\1", markdown)


def no_exception(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON: the browser's JSON.parse refuses it")


def live_payloads(at, kept: dict | None = None) -> list[dict]:
    """What the page's live-decode components were sent, in page order, with the parts sent once
    per session (``{"$once": id}``) resolved as the browser does (ui/live_decode.js resolveOnce);
    ``kept`` carries what the browser kept from earlier reruns. NaN or infinity fails, as in
    the browser."""
    kept = {} if kept is None else kept

    def resolve(v):
        if isinstance(v, list):
            return [resolve(x) for x in v]
        if not isinstance(v, dict):
            return v
        if "$once" in v:
            if "v" in v:
                kept[v["$once"]] = v["v"]
            return kept[v["$once"]]  # a KeyError: a reference the browser could not resolve
        return {k: resolve(x) for k, x in v.items()}

    return [resolve(json.loads(e.proto.bytes, parse_constant=_not_json))
            for e in at.get("bidi_component")]


def page_text(at) -> str:
    """The page's markdown, captions and alerts, one string."""
    return "\n".join(str(e.value) for elements in (at.markdown, at.caption, at.info, at.warning, at.error)
                     for e in elements)


def table_with(at, column: str):
    """The st.dataframe that has ``column`` (without on_select it carries no key in AppTest)."""
    return next(d for d in at.dataframe if column in d.value.columns).value


def values(data: list | dict) -> np.ndarray:
    """A trace's x/y as numpy: plotly 6+ writes numpy arrays as base64 typed arrays."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
    return np.asarray(data, dtype=float)


def wait_for(job, seconds: float = 60) -> None:
    """Until the training ``job`` (``vae_core.jobs.engine.Job``) is no longer queued or running."""
    deadline = time.time() + seconds
    while job.active:
        assert time.time() < deadline, f"job still {job.state} after {seconds} s"
        time.sleep(0.05)


def png_url(image) -> str:
    """A PIL image as the data URL the drawing canvas sends."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def stroke_image(points=((150, 50), (150, 230)), width: int = 22, offset=(0, 0)):
    """A white stroke on the canvas's 280×280 black: a drawn "1"."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (280, 280), "black")
    ImageDraw.Draw(im).line([(x + offset[0], y + offset[1]) for x, y in points], fill="white", width=width)
    return im

