"""Training status widgets: a job's queue position or progress, the pool's one-line status, and
the teacher's list of every job on the server (with Stop)."""
from __future__ import annotations

import time
from typing import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.access import client_address, is_teacher, session_owner
from ui.i18n import _
from ui.resources import get_pool, started_pool
from vae_core.data import dataset_label
from vae_core.jobs import Job, RunSpec
from vae_core.analysis.outcomes import say, status_word


def show_job_progress(job: Job) -> None:
    """The queue position while ``job`` waits, else a progress bar with elapsed time and ETA."""
    if job.state == "queued":
        pool = get_pool()
        ahead = pool.queue_position(job)
        eta = job.eta()
        if eta is None:
            text = _("Queued: {ahead} job(s) wait ahead of yours. The server trains {workers} jobs "
                     "at a time for everyone; yours starts when a worker is free.",
                     ahead=ahead, workers=pool.max_workers)
        else:
            text = _("Queued: {ahead} job(s) wait ahead of yours. The server trains {workers} jobs "
                     "at a time for everyone; yours starts when a worker is free (done in about "
                     "{eta:.0f} s).", ahead=ahead, workers=pool.max_workers, eta=eta)
        st.info(text, icon=":material/hourglass_top:")
        return
    eta, progress, elapsed = job.eta(), job.progress(), job.elapsed()
    if not job.active:
        text = _("Training: {progress:.0%} · {elapsed:.0f} s elapsed", progress=progress,
                 elapsed=elapsed)
    elif eta is None:
        text = _("Training: {progress:.0%} · {elapsed:.0f} s elapsed · estimating time left…",
                 progress=progress, elapsed=elapsed)
    else:
        text = _("Training: {progress:.0%} · {elapsed:.0f} s elapsed · about {eta:.0f} s left",
                 progress=progress, elapsed=elapsed, eta=eta)
    st.progress(progress, text=text)


STATUS_REFRESH_S = 2.0  # the sidebar's job counts redraw this often while any job is queued or running


def _pool_caption() -> None:
    engine = started_pool()
    if engine is None:
        return
    if engine.status().state == "unavailable":
        st.caption(say(engine.status().message, _))
    counts = engine.counts()
    if counts["running"] or counts["queued"]:
        st.caption(_("Training now: {running} running, {queued} queued", running=counts["running"],
                     queued=counts["queued"]))


def pool_status() -> None:
    """One caption with the shared pool's running and queued jobs (nothing when it is idle or
    not started yet). While jobs are active it is a fragment redrawn every ``STATUS_REFRESH_S``
    on its own: drawn once per page run, it said "1 queued" for a job that had long started,
    because a page's progress fragment reruns only itself, not the sidebar."""
    engine = started_pool()
    if engine is None:
        return
    counts = engine.counts()
    busy = bool(counts["running"] or counts["queued"])
    st.fragment(_pool_caption, run_every=STATUS_REFRESH_S if busy else None)()


def session_alive_check() -> Callable[[], bool] | None:
    """For ``TrainingEngine.submit(alive=...)``: whether this browser session is still connected
    (Streamlit's ``Runtime.is_active_session``, thread-safe), so the engine stops the job of a
    closed tab. None where there is no Streamlit server (AppTest, scripts)."""
    from streamlit.runtime import Runtime

    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def teacher_jobs() -> None:
    """Teacher mode only: every queued and running job on this server, and a Stop for any of
    them (what was trained is kept; its owner sees "stopped by the teacher")."""
    engine = started_pool()
    if not is_teacher() or engine is None:
        return
    jobs = [j for j in engine.jobs() if j.active]
    with st.expander(_("All training jobs on this server ({count})", count=len(jobs)),
                     icon=":material/school:"):
        if not jobs:
            st.caption(_("No job is queued or running."))
            return
        now = time.time()
        labels = {j.id: f"{j.id} · {', '.join(r.name for r in j.runs)}" for j in jobs}
        st.dataframe([{_("job"): j.id, _("runs"): ", ".join(r.name for r in j.runs),
                       _("data set"): dataset_label(j.dataset), _("status"): status_word(j.state, _),
                       _("computer"): j.client or "—", _("session"): (j.owner or "—")[:8],
                       _("progress"): f"{j.progress():.0%}",
                       _("waiting (s)"): round((j.started or now) - j.submitted),
                       _("training (s)"): round(j.elapsed())} for j in jobs],
                     hide_index=True, key="teacher_jobs_table")
        chosen = st.multiselect(_("Jobs to stop"), list(labels), format_func=labels.get,
                                key="teacher_stop_ids")
        if st.button(_("Stop the chosen jobs"), key="teacher_stop", disabled=not chosen,
                     icon=":material/stop_circle:"):
            stopped = sum(engine.cancel(job_id) for job_id in chosen)
            st.success(_("{count} job(s) stopped; what they trained is kept.", count=stopped))


def submit_job(runs: list[RunSpec], dataset: str, **kwargs) -> Job:
    """``TrainingEngine.submit`` for this browser session, the one way pages train: its owner
    token (one active job per session), its computer's address (a few per computer, whatever
    its tabs) and its liveness (a closed tab's job is stopped). Raises ``EngineError``."""
    return get_pool().submit(runs, dataset, owner=session_owner(), client=client_address(),
                             alive=session_alive_check(), **kwargs)
