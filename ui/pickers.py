"""Widgets that choose what to look at: the AE/VAE runs, a latent plane, a test image, and the
points selected in a chart."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import streamlit as st

from ui import navigation
from ui.export import notebook_button
from ui.i18n import _, translate
from ui.links import BIND, bind_for, link_fallback, md, option_named, translated_options
from vae_core.data import dataset_label
from ui.resources import get_run, usable_runs
from ui.state import run_choice_key
from vae_core import ImageDataset, Run, RunError, RunInfo
from vae_core.analysis.latent_tools import first_of_class
from vae_core.analysis.outcomes import status_word
from vae_core.text import N_

PLANE_MODES = (N_("PCA projection"), N_("Two latent dims"))  # values (and English labels)


def default_pair(infos: list[RunInfo], prefer: Callable[[RunInfo], bool] | None = None,
                 ) -> tuple[RunInfo | None, RunInfo | None]:
    """The newest AE and VAE that belong to one group, else the newest of each kind; among the
    runs ``prefer`` accepts first, when it accepts any."""
    if prefer is not None and any(prefer(r) for r in infos):
        return default_pair([r for r in infos if prefer(r)])
    aes = [r for r in infos if r.kind == "ae"]
    vaes = [r for r in infos if r.kind == "vae"]
    for vae in vaes:
        match = next((a for a in aes if vae.group and a.group == vae.group), None)
        if match:
            return match, vae
    return (aes[0] if aes else None), (vaes[0] if vaes else None)


def run_label(r: RunInfo, lang: str) -> str:
    """The run picker's label in ``lang``: the run's name first, then what it was trained on."""
    beta = f", β={r.beta:g}" if r.kind == "vae" and r.beta is not None else ""
    status = status_word(r.status, lambda message: translate(message, lang))
    return translate(N_("{name} ({dataset}, latent {latent_dim}{beta}, {status})"), lang,
                     name=r.name, dataset=r.dataset, latent_dim=r.latent_dim, beta=beta, status=status)


def current_pair(infos: list[RunInfo], prefer: Callable[[RunInfo], bool] | None = None,
                 ) -> tuple[RunInfo | None, RunInfo | None]:
    """The session's current AE and VAE among ``infos``: the runs last picked on any page (or
    trained in this session), else ``default_pair``'s (among the runs ``prefer`` accepts, if any)."""
    pair = []
    for kind, default in zip(("ae", "vae"), default_pair(infos, prefer)):
        chosen = st.session_state.get(run_choice_key(kind))
        pair.append(next((r for r in infos if r.kind == kind and r.name == chosen), default))
    return pair[0], pair[1]


def pick_pair(key: str, prefer: Callable[[RunInfo], bool] | None = None,
              ) -> tuple[Run | None, Run | None]:
    """Two select boxes (AE run, VAE run): the session's current pair, which a pick here changes
    on every page (one widget key per kind, ``ui.state.run_choice_key``); at first the newest pair
    (among the runs ``prefer`` accepts, if any).
    ``key`` names this page's other widgets (the notebook buttons).

    Shows a notice when there are no runs, an error for a run that fails to load, and a warning
    when the two runs differ in data set or latent size (they are still shown).
    """
    infos = usable_runs()
    default_ae, default_vae = default_pair(infos, prefer)
    aes = [r for r in infos if r.kind == "ae"]
    vaes = [r for r in infos if r.kind == "vae"]
    if not aes and not vaes:
        st.info(_("No trained runs yet. Train an AE+VAE pair in a few seconds on the "
                  "**Overview** (one click) or the **Train** page."), icon=":material/info:")
        navigation.link(navigation.TRAIN, _("Go to Train"))
        return None, None
    c1, c2 = st.columns(2)
    chosen: list[Run | None] = []
    kinds = ((c1, "AE", aes, default_ae, _("No usable AE run yet: train one on the Train page."),
              _("the AE run"), _("AE run")),
             (c2, "VAE", vaes, default_vae, _("No usable VAE run yet: train one on the Train page."),
              _("the VAE run"), _("VAE run")))
    for col, kind, options, default, none_yet, what, label in kinds:
        with col:
            if not options:
                st.warning(none_yet)
                chosen.append(None)
                continue
            by_name = {r.name: r for r in options}
            first = default if default in options else options[0]
            widget_key = run_choice_key(kind.lower())
            if widget_key in st.session_state and st.session_state[widget_key] not in by_name:
                del st.session_state[widget_key]  # deleted, or no longer usable: back to the default

            def label_of(name: str, lang: str, runs: dict[str, RunInfo] = by_name) -> str:
                return run_label(runs[name], lang)

            # A link made before the pick was shared by all pages named it per page
            # (?latent_vae_run=…): it still opens that run, and the address takes today's key.
            old_key = f"{key}_{kind.lower()}_run"
            if old_key in st.query_params:
                named = option_named(st.query_params[old_key], list(by_name), label_of)
                del st.query_params[old_key]
                if named is not None and widget_key not in st.query_params:
                    st.session_state[widget_key] = named

            # A bound select box keeps its option's label in the URL: a shared link opens this run
            # (in either language, or by its bare name), and a link naming a run this server does
            # not have falls back with a message.
            link_fallback(widget_key, list(by_name), label_of, what, first.name)
            format_func = translated_options(widget_key, list(by_name), label_of)
            info = by_name[st.selectbox(label, list(by_name), index=options.index(first),
                                        format_func=format_func, key=widget_key,
                                        bind=bind_for(widget_key))]
            try:
                chosen.append(get_run(info))
                notebook_button(chosen[-1], key=f"{key}_{kind.lower()}_notebook")
            except RunError as e:
                st.error(_("Cannot load {name}: {detail}", name=md(info.label), detail=md(str(e))))
                chosen.append(None)
    ae, vae = chosen
    if ae is not None and vae is not None:
        if ae.dataset != vae.dataset:
            st.warning(_("The two runs were trained on different data sets ({ae} vs {vae}); the "
                         "comparison is not like for like.", ae=md(dataset_label(ae.dataset)),
                         vae=md(dataset_label(vae.dataset))))
        if ae.model_config.latent_dim != vae.model_config.latent_dim:
            st.warning(_("Latent sizes differ (AE {ae}, VAE {vae}); plots use each model's own "
                         "space.", ae=ae.model_config.latent_dim, vae=vae.model_config.latent_dim))
    return ae, vae


def plane_picker(key: str, latent_dims: list[int], allow_pca: bool = True) -> str | tuple[int, int]:
    """Which plane of a latent space to draw: two dims (returned as a tuple) or ``"pca"``.
    Widgets appear only when some model has more than 2 latent dims."""
    top = max(latent_dims, default=2)
    if top <= 2:
        return (0, 1)
    # PCA first: a VAE often leaves some dims unused (collapsed to the prior), and dims 0 and 1
    # may be among them; the principal plane shows where the codes actually vary.
    pca, two_dims = PLANE_MODES
    modes = list(PLANE_MODES) if allow_pca else [two_dims]
    c1, c2, c3 = st.columns([2, 1, 1])
    if allow_pca:
        mode_key = f"{key}_plane_mode"
        mode = c1.radio(_("Latent space has up to {top} dims: show", top=top), modes, horizontal=True,
                        format_func=translated_options(mode_key, modes, translate),
                        key=mode_key, bind=BIND)
    else:
        mode = two_dims
    if mode == pca:
        c2.caption(_("PCA is fitted to each model's own codes."))
        return "pca"
    dx = c2.selectbox(_("x dim"), range(top), index=0, key=f"{key}_dim_x", bind=BIND)
    dy = c3.selectbox(_("y dim"), [d for d in range(top) if d != dx], index=0, key=f"{key}_dim_y",
                      bind=BIND)
    return (int(dx), int(dy))


def pick_test_image(key: str, data: ImageDataset, label: str, by_class: bool, default_class: int = 0) -> int:
    """A test image chosen by class (its first image) or by index; returns the index."""
    n = len(data.test_x)
    if by_class:
        classes = [c for c in range(len(data.class_names)) if first_of_class(data.test_y, c) is not None]
        class_key = f"{key}_class"

        def class_label(c: int, lang: str) -> str:
            return translate(N_("class {name}"), lang, name=data.class_names[c])

        c = st.selectbox(label, classes, index=min(default_class, len(classes) - 1),
                         format_func=translated_options(class_key, classes, class_label),
                         key=class_key, bind=BIND)
        return int(first_of_class(data.test_y, c))
    return int(st.number_input(label, 0, n - 1, min(default_class, n - 1), key=f"{key}_index",
                               bind=BIND))


def selected_indices(selection_state: Mapping[str, Any] | None) -> list[int]:
    """Test-set indices of the points selected in a latent scatter (click, box or lasso).

    ``selection_state`` is what ``st.plotly_chart(on_select="rerun")`` returns (or a plain dict
    of the same shape): ``{"selection": {"points": [{"customdata": i or [i], ...}, ...]}}``.
    Points without customdata (prior contours, ellipses) are skipped; order is kept, repeats
    dropped.
    """
    if not selection_state:
        return []
    selection = selection_state.get("selection") or {}
    points = selection.get("points") or []
    out: list[int] = []
    seen: set[int] = set()
    for point in points:
        custom = point.get("customdata") if isinstance(point, Mapping) else None
        if isinstance(custom, (list, tuple)):
            custom = custom[0] if custom else None
        if custom is None:
            continue
        try:
            idx = int(custom)
        except (TypeError, ValueError):
            continue
        if idx not in seen:
            seen.add(idx)
            out.append(idx)
    return out
