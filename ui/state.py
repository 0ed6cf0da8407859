"""Session-state keys that more than one page reads or writes, in one named place.

Keys used by a single page stay on that page (prefixed with the page's name). A key here is a
contract between pages: change it here and every page follows.
"""
from __future__ import annotations

from vae_core.text import N_


def run_choice_key(kind: str) -> str:
    """The run picker that holds the chosen ``kind`` ("ae" or "vae") run: one key, so one pick, on
    every page (``ui.pickers.pick_pair``). Bound to the URL, Streamlit keeps its value while the
    student moves between pages and writes it back to the address bar on each page that draws it.
    Evidence writes it to open a sweep run, and a finished job to make its runs current."""
    return f"{kind}_run"


def make_current(state, job) -> None:
    """Make the runs a finished ``job`` saved the current pick of their kind (``state`` is
    ``st.session_state``), once per job: a newly trained pair is what every page shows next. A
    β sweep (several VAEs) leaves the pick alone; its Evidence section picks from it."""
    done = f"_current_from_{job.id}"
    if state.get(done):
        return
    state[done] = True
    saved = [(spec.model_config.kind, result["name"]) for spec in job.runs
             if (result := job.results.get(spec.name)) and result.get("status") != "diverged"]
    for kind in ("ae", "vae"):
        names = [name for k, name in saved if k == kind]
        if len(names) == 1:
            state[run_choice_key(kind)] = names[0]


LATENT = "latent"  # the Latent space page's picker key

EVIDENCE_SECTION = "evidence_section"  # the Evidence page's section radio
EVIDENCE_SWEEP = "evidence_sweep"  # its sweep select box (a sweep group id)
SWEEP_SECTION = N_("β sweep")  # the section that shows a sweep (an option value: shown via _())


def open_sweep_on_evidence(state, group: str) -> None:
    """Make the Evidence page open on the β-sweep section with ``group`` chosen (``state`` is
    ``st.session_state``): the Train page calls it before switching there."""
    state[EVIDENCE_SECTION] = SWEEP_SECTION
    state[EVIDENCE_SWEEP] = group
