"""Training status widgets: a job's queue position or progress, and the pool's one-line status."""
from __future__ import annotations

import streamlit as st

from ui.resources import get_pool, started_pool
from vae_core.jobs import Job


def show_job_progress(job: Job) -> None:
    """The queue position while ``job`` waits, else a progress bar with elapsed time and ETA."""
    if job.state == "queued":
        pool = get_pool()
        ahead = pool.queue_position(job)
        eta = job.eta()
        st.info(f"Queued: {ahead} job(s) wait ahead of yours. The server trains "
                f"{pool.max_workers} jobs at a time for everyone; yours starts when a worker is free"
                + (f" (done in about {eta:.0f} s)." if eta is not None else "."),
                icon=":material/hourglass_top:")
        return
    eta = job.eta()
    text = f"Training: {job.progress():.0%} · {job.elapsed():.0f} s elapsed"
    if job.active:
        text += f" · about {eta:.0f} s left" if eta is not None else " · estimating time left…"
    st.progress(job.progress(), text=text)


def pool_status() -> None:
    """One caption with the shared pool's running and queued jobs (nothing when it is idle or
    not started yet)."""
    engine = started_pool()
    if engine is None:
        return
    counts = engine.counts()
    if engine.status().state == "unavailable":
        st.caption(engine.status().message)
    if counts["running"] or counts["queued"]:
        st.caption(f"Training now: {counts['running']} running, {counts['queued']} queued")
