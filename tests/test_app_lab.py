"""AppTest of the Loss-convention lab page: both arms, the diagnosis, a switch of variant."""
from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from helpers import page_app

LAB = "pages/9_Loss_lab.py"


def test_lab_shows_both_arms_and_a_computed_diagnosis(fresh_streamlit_cache):
    at = page_app(LAB, 120)
    at.session_state["lab_epochs"] = 20  # one of the shipped settings
    at.session_state["lab_variant"] = "kl_sign"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    verdict = (at.success or at.warning)[0].value
    assert "KL grows without bound" in verdict
    table = at.table[0].value
    row = table[table["number"].str.startswith("KL(q(z|x)")].iloc[0]
    # the numbers behind the sentence (as shown: 3 decimals, or 3 digits in scientific notation)
    assert float(row["wrong variant"]) > 100 * float(row["correct VAE"])
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text") for c in at.get("plotly_chart")]
    assert "Correct VAE" in titles and any(t and "sign" in t for t in titles)
    assert len(at.get("image")) == 2  # prior samples of both arms

    at.selectbox(key="lab_variant").set_value("mean_pixels").run()
    assert not at.exception
    assert at.success and "collapse" in at.success[0].value
