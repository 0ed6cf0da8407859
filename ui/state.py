"""Session-state keys that more than one page reads or writes, in one named place.

Keys used by a single page stay on that page (prefixed with the page's name). A key here is a
contract between pages: change it here and every page follows.
"""
from __future__ import annotations

from vae_core.text import N_


def run_choice_key(page: str, kind: str) -> str:
    """The select box of ``ui.pickers.pick_pair(page)`` that holds the chosen ``kind`` ("ae" or
    "vae") run. Evidence writes ``run_choice_key(LATENT, "vae")`` to open a sweep run there."""
    return f"{page}_{kind}_run"


LATENT = "latent"  # the Latent space page's picker key

EVIDENCE_SECTION = "evidence_section"  # the Evidence page's section radio
EVIDENCE_SWEEP = "evidence_sweep"  # its sweep select box (a sweep group id)
SWEEP_SECTION = N_("β sweep")  # the section that shows a sweep (an option value: shown via _())


def open_sweep_on_evidence(state, group: str) -> None:
    """Make the Evidence page open on the β-sweep section with ``group`` chosen (``state`` is
    ``st.session_state``): the Train page calls it before switching there."""
    state[EVIDENCE_SECTION] = SWEEP_SECTION
    state[EVIDENCE_SWEEP] = group
