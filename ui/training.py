"""Training status widgets: a job's queue position or progress, and the pool's one-line status."""
from __future__ import annotations

import streamlit as st

from ui.i18n import _
from ui.resources import get_pool, started_pool
from vae_core.jobs import Job
from vae_core.outcomes import localize


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
        st.caption(localize(engine.status().message, _))
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
