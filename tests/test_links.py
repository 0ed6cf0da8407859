"""Shareable links: widget state round-trips through the URL query; unknown runs fall back."""
from __future__ import annotations

import json
import re
import shutil

from streamlit.testing.v1 import AppTest

from helpers import page_app

LATENT = "pages/2_Latent_space.py"
GRID = "pages/3_Decoder_grid.py"
LAB = "pages/9_Loss_lab.py"


def open_link(page: str, **params: str) -> AppTest:
    at = page_app(page, 120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_link_opens_the_same_view(checkpoints, fresh_streamlit_cache):
    # change the widgets as a user would, then open a link made of the widgets' keys and values
    at = open_link(GRID)
    at.slider(key="grid_n").set_value(7).run()
    at.radio(key="grid_spacing").set_value("Normal quantiles").run()
    at.selectbox(key="ae_run").select_index(0).run()
    state = {k: at.session_state[k] for k in ("grid_n", "grid_spacing", "ae_run", "vae_run")}
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)

    # what the browser writes into the URL: a selectbox's option label, other widgets' values
    url = {k: at.selectbox(key=k).format_func(v) if k.endswith("_run") else str(v) for k, v in state.items()}
    assert url["ae_run"].startswith("demo-ae (digits, latent 2")
    shared = open_link(GRID, **url)
    assert {k: shared.session_state[k] for k in state} == state
    assert json.loads(shared.get("plotly_chart")[0].proto.spec)["data"] == spec["data"]  # same grid drawn
    assert not shared.warning


def test_toggle_and_run_from_a_link(checkpoints, fresh_streamlit_cache):
    label = "demo-vae (digits, latent 2, β=1, finished)"
    at = open_link(LATENT, latent_ellipses="true", vae_run=label)
    assert not at.warning and at.selectbox(key="vae_run").value == "demo-vae"
    assert at.toggle(key="latent_ellipses").value is True
    names = [t.get("name") for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]]
    assert "q(z|x) 2σ" in names


def test_unknown_run_in_a_link_falls_back_with_a_message(checkpoints, fresh_streamlit_cache):
    at = open_link(LATENT, vae_run="deleted-run", ae_run="../../etc/passwd")
    # As the browser shows it: the values are markdown-escaped (ui.links.md).
    text = re.sub(r"\\(.)", r"\1", " ".join(w.value for w in at.warning))
    assert "'deleted-run'" in text and "'../../etc/passwd'" in text and "showing demo-vae instead" in text
    assert at.selectbox(key="vae_run").value == "demo-vae"
    assert len(at.get("plotly_chart")) >= 2  # the page still draws with the fallback runs


def test_links_with_garbage_values_never_raise(checkpoints, fresh_streamlit_cache):
    at = open_link(GRID, grid_n="9999", grid_r="nan", grid_spacing="<script>", vae_run="")
    assert at.slider(key="grid_n").value == 15  # out-of-range values are dropped: the defaults
    at = open_link(LAB, lab_variant="rm -rf", lab_epochs="60")
    assert "'rm -rf'" in re.sub(r"\\(.)", r"\1", " ".join(w.value for w in at.warning))
    assert at.select_slider(key="lab_epochs").value == 60  # one of the shipped epoch counts
    at = open_link(LAB, lab_variant="KL sign flipped", lab_epochs="60")  # a valid link: no warning
    assert not at.warning and at.selectbox(key="lab_variant").value == "kl_sign"


def test_a_link_made_with_the_old_per_page_run_key_still_opens_its_run(checkpoints,
                                                                        fresh_streamlit_cache):
    """Before one pick was shared by every page, links named runs per page (?latent_vae_run=…)."""
    shutil.copytree(checkpoints / "demo-vae", checkpoints / "demo-vae-2")  # the newest: the default
    at = open_link(LATENT, latent_vae_run="demo-vae")
    assert at.selectbox(key="vae_run").value == "demo-vae"
    assert "latent_vae_run" not in at.query_params and not at.warning
