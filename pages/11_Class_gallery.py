"""Class gallery: every run this server trained since a chosen time, on the rate–distortion plane
and as a wall of prior samples; a student's own runs highlighted, the teacher hides and exports."""
import time
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ui.access import owns_everything, session_owner, teacher_login
from ui.export import plot_config
from ui.i18n import _
from ui.links import BIND
from ui.resources import checkpoints_root, runs
from vae_core import RunError, load_run
from vae_core.viz.gallery import (CLASS_WINDOW_H, WALL_SAMPLES, GalleryRow, class_rows, png_bytes,
                                  prior_samples, rate_distortion, read_hidden, wall_image,
                                  write_hidden)
from vae_core.analysis.outcomes import status_word

KEY = "gallery"
WINDOWS_H = (1.0, 2.0, 4.0, 8.0, 24.0, 24.0 * 7, 0.0)  # 0: every run on this server
REFRESH_S = 5


def version(path: Path) -> tuple:
    """What changes when a run is saved again: its two files' modification times and sizes."""
    out = []
    for f in ("run.json", "model.safetensors"):
        try:
            s = (path / f).stat()
            out.append((s.st_mtime_ns, s.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


@st.cache_data(show_spinner=False, max_entries=1024)
def _samples(path: str, file_version: tuple) -> np.ndarray | None:
    # The run is loaded here and dropped: the wall keeps 60 rows of samples, not 60 models.
    try:
        return prior_samples(load_run(path).model)
    except RunError:
        return None


@st.cache_data(show_spinner=False, max_entries=128)
def _wall_png(root: str, key: tuple, _rows: list[GalleryRow]) -> bytes | None:
    # Keyed by primitives (name, label, mine, file version per row): hashing 60 dataclasses
    # cost more than the rest of a warm view. ``_rows`` (not hashed) are the same rows.
    samples = {r.name: s for r, (*_, v) in zip(_rows, key)
               if (s := _samples(str(Path(root) / r.name), v)) is not None}
    return png_bytes(wall_image(_rows, samples)) if samples else None


def window_label(hours: float) -> str:
    if not hours:
        return _("every run on this server")
    if hours >= 24:
        return _("the last {days:g} days", days=hours / 24) if hours > 24 else _("the last 24 hours")
    return _("the last {hours:g} hours", hours=hours) if hours > 1 else _("the last hour")


def table(rows: list[GalleryRow]) -> pd.DataFrame:
    # Headers translated once per view, not once per cell (60 rows: 600 lookups were a third of
    # a warm view).
    run, model, latent, dataset = _("run"), _("model"), _("latent size"), _("data set")
    status, trained, yours = _("status"), _("trained at"), _("yours")
    recon, kl = _("test recon (nats)"), _("test KL (nats)")
    return pd.DataFrame([{
        run: r.name, model: r.kind.upper(), "β": r.beta, latent: r.latent_dim,
        dataset: r.dataset, status: status_word(r.status, _),
        trained: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r.created)),
        recon: r.recon, kl: r.kl, yours: r.mine} for r in rows])


st.title(_("Class gallery"))
st.caption(_("Every run this server trained in the chosen window: each VAE on the rate–distortion "
             "plane (its last epoch's test KL and recon), each AE on the distortion axis (it has no "
             "KL), and a wall with {n} samples z ~ N(0, I) per run, the same draws for every run. "
             "Your own runs are highlighted. The gallery refreshes every {refresh} s as jobs "
             "finish.", n=WALL_SAMPLES, refresh=REFRESH_S))
hours = st.selectbox(_("Runs trained in"), WINDOWS_H, index=WINDOWS_H.index(CLASS_WINDOW_H),
                     format_func=window_label, key=f"{KEY}_window", bind=BIND)
root = checkpoints_root()
teacher = owns_everything()


@st.fragment(run_every=REFRESH_S)
def gallery() -> None:
    hidden = read_hidden(root)
    since = time.time() - hours * 3600 if hours else 0.0
    rows = class_rows(runs(), since, session_owner(), hidden)
    if not rows:
        st.info(_("No runs in {window}. Train one on the Overview or the Train page, or choose a "
                  "longer window.", window=window_label(hours)), icon=":material/info:")
        return
    mine = sum(r.mine for r in rows)
    st.markdown(_("**{n} runs** ({vaes} VAEs, {aes} AEs); {mine} of them yours.", n=len(rows),
                  vaes=sum(r.kind == "vae" for r in rows), aes=sum(r.kind == "ae" for r in rows),
                  mine=mine))
    c1, c2 = st.columns(2)
    with c1:
        st.plotly_chart(rate_distortion(rows, gettext=_).update_layout(height=460),
                        key=f"{KEY}_rd", config=plot_config(f"{KEY}_rd"))
        st.caption(_("Lower is better on both axes; a point's colour is its β, an X marks a "
                     "collapsed VAE. Large markers with a black ring are yours."))
    key = tuple((r.name, r.label, r.mine, version(root / r.name)) for r in rows)
    wall = _wall_png(str(root), key, rows)
    with c2:
        if wall is not None:  # PNG as it is: with the default format Streamlit re-encodes it
            st.image(wall, caption=_("Prior samples: one row per run, newest first."),
                     output_format="PNG")
    frame = table(rows)
    st.dataframe(frame, hide_index=True, key=f"{KEY}_table")
    if teacher and wall is not None:
        d1, d2 = st.columns(2)
        d1.download_button(_("Download the wall (PNG)"), wall, "class-gallery-wall.png",
                           "image/png", key=f"{KEY}_png", icon=":material/download:")
        d2.download_button(_("Download the table (CSV)"), frame.to_csv(index=False),
                           "class-gallery.csv", "text/csv", key=f"{KEY}_csv",
                           icon=":material/download:")


gallery()

st.subheader(_("For the teacher"))
teacher_login()
if teacher:
    since = time.time() - hours * 3600 if hours else 0.0
    candidates = [r.name for r in class_rows(runs(), since, None)]
    hidden = read_hidden(root)
    chosen = st.multiselect(_("Hide from the wall"), sorted(set(candidates) | hidden),
                            default=sorted(hidden), placeholder=_("Choose runs"),
                            key=f"{KEY}_hide")
    if st.button(_("Save the hidden runs"), key=f"{KEY}_hide_save") and set(chosen) != hidden:
        try:
            write_hidden(root, chosen)
            st.rerun()
        except OSError as e:  # e.g. a read-only runs folder
            st.error(_("The hidden runs could not be saved: {error}", error=e.strerror or str(e)),
                     icon=":material/error:")
    st.caption(_("Hidden runs leave the wall, the plot and the table for everyone on this server; "
                 "the runs themselves stay."))
else:
    st.caption(_("With the teacher password (set on the server) the teacher can hide runs from "
                 "the wall and download the wall as PNG and the table as CSV."))
