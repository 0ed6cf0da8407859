"""AppTest of the Evidence page: scorecard, sweep, posterior, and the empty/partial cases."""
from __future__ import annotations

import json
import re
import shutil

from streamlit.testing.v1 import AppTest

from helpers import no_exception, open_page, train_and_save
from ui.navigation import EVIDENCE
from ui.state import run_choice_key
from vae_core import ModelConfig, TrainConfig


def run_page() -> AppTest:
    return no_exception(open_page(EVIDENCE.file))


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption] + \
        [m.value for m in at.info] + [m.value for m in at.warning] + [m.value for m in at.error]
    return "\n".join(str(p) for p in parts)


def test_scorecard_sweep_and_posterior(checkpoints, digits, fresh_streamlit_cache):
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32,), input_shape=digits.image_shape)
    for beta, warm in ((0.0, 0), (40.0, 1)):
        train_and_save(checkpoints, f"sw-b{beta:g}", cfg,
                       TrainConfig(epochs=3, beta=beta, seed=0, kl_warmup_epochs=warm), digits, group="sw")
    at = run_page()
    table = at.table[0].value  # st.table: long cells wrap instead of being cut off
    assert list(table.columns[:4]) == ["Claim", "Metric", "AE", "VAE"]
    assert "`centring`" in set(table["Metric"]) and len(table) == 14  # the metric key, as code
    # Each value carries its margin in its cell: "0.357 [0.31, 0.40]" (the AE has no KL: "—").
    assert all(re.fullmatch(r"\S+( \(max \S+\))?( ✓)? \[\S+, \S+\]", v)
               for v in table["AE"] if v != "—"), "; ".join(table["AE"])
    assert set(table["Winner"]) <= {"AE", "VAE", "tie", "—"}
    assert at.metric[0].label == "Judge classifier test accuracy"
    assert float(at.metric[0].value.rstrip("%")) > 90
    # The sweep section: one group, its figure (rate vs distortion + active units), collapse flagged.
    at.radio(key="evidence_section").set_value("β sweep").run()
    assert at.selectbox(key="evidence_sweep").value == "sw"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in spec["data"]}
    assert "recon + KL = const" in names and any("warm-up" in str(n) for n in names)
    assert "Posterior collapse" in texts(at)
    sweep_table = at.dataframe[0].value
    assert list(sweep_table["run"]) == ["sw-b0", "sw-b40"]
    # The posterior section: grid log p(x), ELBO, gap.
    at.radio(key="evidence_section").set_value("True posterior").run()
    labels = [m.label for m in at.metric]
    assert {"Bernoulli log p(x), grid", "ELBO", "gap = KL(q ‖ p(z|x))"} <= set(labels)
    gap = at.metric[labels.index("gap = KL(q ‖ p(z|x))")].value
    assert float(gap.split()[0]) > -0.05
    at.number_input(key="evidence_image").set_value(5).run()
    assert not at.exception


def test_sweep_point_opens_latent_page(checkpoints, digits, fresh_streamlit_cache):
    """The chosen sweep run is preselected in the Latent space page's VAE picker."""
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32,), input_shape=digits.image_shape)
    for beta in (0.5, 2.0):
        train_and_save(checkpoints, f"sw-b{beta:g}", cfg, TrainConfig(epochs=2, beta=beta), digits,
                       group="sw")
    at = run_page()
    at.radio(key="evidence_section").set_value("β sweep").run()
    at.selectbox(key="evidence_sweep_run").set_value("sw-b2")
    at.button(key="evidence_open_latent").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Latent space"
    assert at.selectbox(key=run_choice_key("vae")).value == "sw-b2"  # the run name


def test_no_runs(empty_checkpoints, fresh_streamlit_cache):
    at = run_page()
    assert "No trained runs yet" in texts(at)
    assert len(at.dataframe) == 0
    at.radio(key="evidence_section").set_value("β sweep").run()
    assert "No β sweep yet" in texts(at)
    at.radio(key="evidence_section").set_value("True posterior").run()
    assert "needs a VAE run" in texts(at)


def test_one_kind_only_and_latent_3(checkpoints, digits, fresh_streamlit_cache):
    shutil.rmtree(checkpoints / "demo-ae")
    cfg = ModelConfig(kind="vae", latent_dim=3, hidden=(32,), input_shape=digits.image_shape)
    train_and_save(checkpoints, "z3-vae", cfg, TrainConfig(epochs=2, seed=0), digits)
    at = run_page()
    assert "Only one kind of run" in texts(at)
    table = at.table[0].value
    assert set(table["Winner"]) == {"—"} and (table["AE"] == "—").all()
    at.radio(key="evidence_section").set_value("True posterior").run()
    assert "needs latent size 2" in texts(at)  # the newest VAE has latent 3


def test_diverged_runs_are_not_offered(checkpoints, fresh_streamlit_cache):
    meta_path = checkpoints / "demo-vae" / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["status"] = "diverged"
    meta_path.write_text(json.dumps(meta))
    at = run_page()
    assert "No usable VAE run" in texts(at)
    assert all("demo-vae" not in str(o) for s in at.selectbox for o in s.options)
