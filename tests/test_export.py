"""Export: the run notebook re-trains the run top to bottom; charts download under sensible names."""
from __future__ import annotations

import json

import numpy as np
from streamlit.testing.v1 import AppTest

from helpers import page_app

from vae_core import load_run
from vae_core.viz.notebook import run_notebook

GRID = "pages/3_Decoder_grid.py"


def test_notebook_reproduces_the_run(pair_root):
    run = load_run(pair_root / "demo-vae")
    nb = json.loads(json.dumps(run_notebook(run.name, run.model_config, run.train_config, run.dataset,
                                            run.final)))
    assert nb["nbformat"] == 4 and {c["cell_type"] for c in nb["cells"]} == {"markdown", "code"}
    ns: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "<notebook>", "exec"), ns)  # top to bottom, one namespace
    assert ns["train_cfg"] == run.train_config and ns["model_cfg"] == run.model_config
    assert ns["end"]["status"] == "finished"
    # same configs, same seed, same machine: the same model as the saved one
    for name, t in run.model.state_dict().items():
        np.testing.assert_allclose(ns["model"].state_dict()[name].numpy(), t.numpy(), rtol=1e-5, atol=1e-6)


def test_chart_downloads_and_notebook_button_on_a_page(checkpoints, fresh_streamlit_cache):
    at = page_app(GRID, 60)
    # The sidebar setting (the frame's radio; its URL binding is checked in the browser test)
    at.session_state["export_format"] = "svg"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"]["format"] == "svg"
    assert config["toImageButtonOptions"]["filename"] == "vae-lab-grid_image_ae"
    buttons = [b for b in at.get("download_button")]
    assert len(buttons) == 2  # one notebook per chosen run
