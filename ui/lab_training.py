"""The Loss-convention lab's other epoch counts: a job of the training engine like any other
(``ui.training.submit_job``: the per-session, per-computer, queue and epoch limits), its progress
and Stop (``show_job_progress``, the Train page's), never training in the web process. A Dask
worker trains and measures every arm; the engine adds them to ``lab_results.LAB_TRAINED_FILE``
beside the runs, which the page then reads."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.i18n import _
from ui.links import md
from ui.resources import checkpoints_root, started_pool
from ui.training import show_job_progress, submit_job
from vae_core.analysis import lab_results
from vae_core.analysis.lab import VARIANTS
from vae_core.analysis.lab_results import LAB_TRAINED_FILE, lab_job_specs
from vae_core.analysis.outcomes import error_text, say
from vae_core.jobs import EngineError, Job
from vae_core.jobs.plan import max_job_epochs

JOB_KEY = "lab_job"  # this session's lab job (the engine allows one active job per session)
REFRESH_S = 1.0  # progress only, no curves: a redraw a second is plenty


def trained_epochs() -> int | None:
    """The epoch count this session's lab job just added, once (the page then shows it)."""
    job: Job | None = st.session_state.get(JOB_KEY)
    if job is None or job.state != "finished" or st.session_state.get("lab_job_shown") == job.id:
        return None
    st.session_state["lab_job_shown"] = job.id
    return job.runs[0].train_config.epochs


def job_active() -> bool:
    job: Job | None = st.session_state.get(JOB_KEY)
    return job is not None and job.active


@st.fragment(run_every=REFRESH_S)
def live_lab_job() -> None:
    """The queue position or progress of this session's lab job, and its Stop."""
    job: Job = st.session_state[JOB_KEY]
    if not job.active:
        st.rerun()  # full rerun: the new epoch count in the slider, and no timer
    show_job_progress(job)
    stopping = job.stop.is_set()
    st.button(_("Stopping…") if stopping else _("Stop (nothing is added)"), key="lab_stop",
              icon=":material/stop_circle:", on_click=job.stop.set, disabled=stopping)


def train_other_epochs(available: list[int], shipped_file: Path) -> None:
    """Ask the training engine for every arm at an epoch count not in ``available``; the arms go
    into the results file beside the runs, made from ``shipped_file`` (only read) the first time."""
    job: Job | None = st.session_state.get(JOB_KEY)
    if job is not None and job.active:
        live_lab_job()
        return
    if job is not None and job.state == "failed":
        st.error(_("Training failed: {error}", error=md(say(job.error, _))), icon=":material/error:")
    elif job is not None and job.state == "stopped":
        st.info(_("The lab job was stopped; nothing was added."), icon=":material/stop_circle:")
    cap = max_job_epochs() // len(VARIANTS)  # the engine's per-job cap counts every arm's epochs
    engine = started_pool()  # a count another session's job trains now is not offered twice
    training = {j.runs[0].train_config.epochs for j in (engine.jobs() if engine else [])
                if j.active and j.lab_file}
    choices = [n for n in lab_results.OTHER_EPOCHS
               if n <= cap and n not in available and n not in training]
    if not choices:
        st.caption(_("Every epoch count this server allows is here already."))
        return
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    n = c1.selectbox(_("Epochs to train"), choices, key="lab_new_epochs")
    clicked = c2.button(_("Train all arms on the server"), key="lab_train",
                        icon=":material/play_arrow:")
    st.caption(_("{arms} models of {epochs} epochs, one job in the server's shared queue (one job "
                 "per session, at most {cap} epochs per arm here); the numbers are measured on the "
                 "training worker, never in this page.", arms=len(VARIANTS), epochs=n, cap=cap))
    if clicked:
        try:
            st.session_state[JOB_KEY] = submit_job(
                lab_job_specs(n), "digits", root=str(checkpoints_root()),
                lab_file=str(checkpoints_root() / LAB_TRAINED_FILE), lab_base=str(shipped_file))
        except EngineError as e:
            st.error(md(error_text(e, _)), icon=":material/error:")
        else:
            st.rerun()
