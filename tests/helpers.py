"""Helpers shared by the test modules: train-and-save a real tiny run, open an app page."""
from __future__ import annotations

import json
import re
from pathlib import Path

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


def open_page(page: str | None = None, timeout: float = 90):
    """``page_app`` after one run."""
    return page_app(page, timeout).run()


def as_shown(markdown: str) -> str:
    """Markdown text as the browser shows it: values from a URL, a file or a user are escaped
    (``ui.links.md``), and the backslashes are not shown."""
    return re.sub(r"\\(.)", r"\1", markdown)


def no_exception(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
