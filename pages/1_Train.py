"""Train: choose data, model and beta; watch reconstruction and KL fall live; manage saved runs.

Training runs on the server's shared worker pool (vae_core.jobs). The job object lives in this
session's ``st.session_state["train_job"]``, so the user can visit other pages and come back.
"""
from __future__ import annotations

import streamlit as st

from ui.i18n import _
from ui.links import BIND, md, translated_labels
from ui import navigation
from ui.access import is_hosted, may_delete, proxy_warning, teacher_login
from ui.resources import IDX_FOLDER_CHOICE, checkpoints_root, data_root, dataset_or_error, get_pool, runs
from ui.state import make_current, open_sweep_on_evidence
from ui.training import show_job_progress, submit_job, teacher_jobs
from vae_core import (InvalidRunName, ModelConfig, RunError, RunInfo, TrainConfig, delete_run,
                      unique_run_name, validate_run_name)
from vae_core.config import default_hidden
from vae_core.data import DatasetError, dataset_label
from vae_core.store.idx import MAX_UPLOAD_BYTES, save_idx_upload
from vae_core.viz.figures import loss_curves
from vae_core.jobs import (DEFAULT_SWEEP_BETAS, MODES, QUICK_PAIR_BATCH, QUICK_PAIR_EPOCHS,
                           QUICK_PAIR_HIDDEN, QUICK_PAIR_LR, EngineError, Job, parse_betas,
                           plan_runs)
from vae_core.analysis.outcomes import error_text, say, status_word
from vae_core.store.run_format import final_metrics
from vae_core.text import N_

JOB_KEY = "train_job"
REFRESH_S = 0.5  # live curves on a quiet server…
BUSY_REFRESH_S = 2.0  # …and while many jobs run: each redraw costs ~50 ms of the server's GIL
# Fine steps below 1 (where posterior collapse and blurriness trade off), coarse above.
BETAS = [round(0.05 * i, 2) for i in range(21)] + [1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0,
                                                   6.0, 8.0, 10.0]
DEFAULT_SWEEP = ", ".join(f"{b:g}" for b in DEFAULT_SWEEP_BETAS)
DATASETS = {"digits": N_("Digits: 8×8, bundled, offline"), "mnist": N_("MNIST: 28×28 (downloads)"),
            "fashion-mnist": N_("Fashion-MNIST: 28×28 (downloads)"), "idx": IDX_FOLDER_CHOICE}
HOSTED_IDX_LABEL = N_("Upload IDX files")  # a hosted server takes uploads, never a typed server path
MODE_LABELS = {"ae": "AE", "vae": "VAE", "pair": N_("AE+VAE pair"), "sweep": N_("β sweep")}  # vae_core.jobs.plan.MODES
ARCH_LABELS = {"mlp": N_("MLP"), "conv": N_("Conv")}
# Table columns: rows are built with these ids, shown under the translated headers.
COLUMNS = {"run": N_("run"), "name": N_("name"), "kind": N_("kind"), "beta": N_("beta"),
           "latent dim": N_("latent dim"), "data set": N_("data set"), "epochs": N_("epochs"),
           "test recon": N_("test recon"), "test KL": N_("test KL"), "status": N_("status"),
           "seconds": N_("seconds"), "reason": N_("reason"), "group": N_("group")}
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2]



def fresh_name(mode: str) -> str:
    """A base name free as a folder (``unique_run_name``), as a group (a sweep saves only
    NAME-b<beta>) and in this session's job, whose runs are not saved until they end."""
    taken = {r.group for r in runs() if r.group}
    job: Job | None = st.session_state.get(JOB_KEY)
    if job is not None:
        taken |= {job.group} | {r.name for r in job.runs}
    base, i = mode, 1  # the plan mode doubles as the base name: "pair", "pair-2", …
    while True:
        candidate = base if i == 1 else f"{base}-{i}"
        if (unique_run_name(candidate, checkpoints_root()) == candidate
                and not {candidate, f"{candidate}-ae", f"{candidate}-vae"} & taken):
            return candidate
        i += 1


def refill_name() -> None:
    st.session_state["train_name"] = fresh_name(st.session_state.get("train_mode") or "pair")


# --- live view of this session's job ------------------------------------------------------------

def beta_text(beta: float | None) -> str:
    return "—" if beta is None else f"{beta:g}"


def kl_text(kl: float | None) -> str:
    """An AE has no KL term: "—", never a 0.00 that reads like a measured zero."""
    return "—" if kl is None else f"{kl:.2f}"


def epochs_text(trained: int | None, planned: int | None) -> str:
    """"21/100": a stopped run shows how far it got, not only what was planned."""
    if planned is None:
        return "—"
    return f"{trained if trained is not None else '?'}/{planned}"


def reason_text(info: RunInfo) -> str:
    """Why a run ended, in the session's language; a broken entry's reason is a file problem in
    vae_core's English words (a path, a field), framed in a translated sentence."""
    if info.status == "broken":
        return _("cannot be read as a run: {detail}", detail=info.reason)
    return say(info.reason, _)


def headed(rows: list[dict]) -> list[dict]:
    """``rows`` with their column ids replaced by the translated headers (``COLUMNS``)."""
    return [{_(COLUMNS[column]): value for column, value in row.items()} for row in rows]


def curves(job: Job, key: str) -> None:
    kinds = {r.name: r.model_config.kind for r in job.runs}
    records = dict(job.records)  # a snapshot: the worker thread may add a run's list meanwhile
    st.plotly_chart(loss_curves(records, kinds, gettext=_).update_layout(height=340), key=key,
                    config={"displayModeBar": False})


def refresh_interval() -> float:
    """Seconds between live redraws: 0.5 s with up to two jobs on the server, slower as a class
    trains (ten tabs redrawing twice a second kept a 2-core server's pages waiting)."""
    counts = get_pool().counts()
    busy = counts["running"] + counts["queued"]
    return REFRESH_S if busy <= 2 else min(BUSY_REFRESH_S, REFRESH_S * busy / 2)


@st.fragment(run_every=refresh_interval())
def live_job() -> None:
    # Reads the plain job object that a pool thread fills; no st.* call happens in that thread.
    job: Job = st.session_state[JOB_KEY]
    if not job.active:
        st.rerun()  # full rerun: static results, the new runs in the table, and no timer
    st.caption(_("This session's job: {runs} on {dataset}",
                 runs=md(", ".join(r.name for r in job.runs)), dataset=md(dataset_label(job.dataset))))
    show_job_progress(job)
    stopping = job.stop.is_set()
    st.button(_("Stopping…") if stopping else _("Stop (keeps what was trained)"), key="train_stop",
              icon=":material/stop_circle:", on_click=job.stop.set, disabled=stopping)
    if job.state == "running":
        curves(job, "train_live_curves")


def show_results(job: Job) -> None:
    if job.state == "failed":
        st.error(_("Training failed: {error}", error=md(say(job.error, _))),
                 icon=":material/error:")
    elif job.state == "stopped" and job.error:  # stopped by the teacher, or its tab was closed
        st.info(md(say(job.error, _)), icon=":material/stop_circle:")
    rows = []
    for spec in job.runs:
        result = job.results.get(spec.name)
        final = final_metrics(job.records.get(spec.name, []))
        rows.append({"run": result["name"] if result else spec.name,
                     "kind": spec.model_config.kind.upper(),
                     "beta": beta_text(spec.train_config.beta if spec.model_config.kind == "vae" else None),
                     "status": status_word(result["status"], _) if result else _("not trained"),
                     "test recon": final.get("recon"),
                     "test KL": kl_text(final.get("kl") if spec.model_config.kind == "vae" else None),
                     "seconds": result["seconds"] if result else None,
                     "reason": say(result["reason"], _) if result else ""})
        if result and result["status"] in ("diverged", "collapsed"):
            st.warning(_("{run} {status}: {reason}", run=md(result["name"]),
                         status=status_word(result["status"], _),
                         reason=md(say(result["reason"], _))), icon=":material/warning:")
    if rows:
        st.markdown(_("**Last job** ({state} in {seconds:.1f} s): {runs}. Final numbers per test "
                      "image, in nats:", state=status_word(job.state, _), seconds=job.elapsed(),
                      runs=md(", ".join(r["run"] for r in rows))))
        st.dataframe(headed(rows), hide_index=True, column_config={
            _(COLUMNS["test recon"]): st.column_config.NumberColumn(format="%.2f"),
            _(COLUMNS["seconds"]): st.column_config.NumberColumn(format="%.1f")},
            key="train_results")
    if any(job.records.values()):
        curves(job, "train_final_curves")
    if job.group and not job.interleave:  # a beta sweep
        if st.button(_("See this sweep's rate–distortion plot on Evidence"), key="train_open_sweep",
                     icon=navigation.EVIDENCE.icon):
            open_sweep_on_evidence(st.session_state, job.group)
            navigation.go(navigation.EVIDENCE)
    navigation.link(navigation.LATENT_SPACE, _("Look at the latent space"))


def uploaded_idx_spec() -> str:
    """The spec of the IDX files uploaded in this session ('' until they are), saved once per
    upload into a folder under the data root (vae_core.store.idx.save_idx_upload)."""
    files = st.file_uploader(_("IDX files (at most {mb} MB in all)", mb=MAX_UPLOAD_BYTES // 2**20),
                             accept_multiple_files=True, key="train_idx_upload",
                             max_upload_size=MAX_UPLOAD_BYTES // 2**20,
                             help=_("`train-images-idx3-ubyte.gz` with `train-labels-idx1-ubyte.gz`, "
                                    "and/or the `t10k-…` pair (gzipped or not)"))
    if not files:
        return ""
    ids = tuple(f.file_id for f in files)
    saved = st.session_state.get("train_idx_saved")
    if saved and saved[0] == ids:
        return saved[1]
    try:
        spec = save_idx_upload({f.name: f.getvalue() for f in files}, data_root(),
                               in_use={r.dataset for r in runs()})
    except DatasetError as e:
        st.error(_("These files cannot be used: {detail}", detail=md(str(e))),
                 icon=":material/error:")
        return ""
    st.session_state["train_idx_saved"] = (ids, spec)
    return spec


# --- settings ------------------------------------------------------------------------------------

st.title(_("Train"))
st.caption(_("Reconstruction and KL are per image, in nats: summed over pixels, averaged over the "
             "batch. An AE and a VAE with the same seed, data and network form a fair pair."))
if st.session_state.pop("train_name_stale", False) or "train_name" not in st.session_state:
    refill_name()  # before the text box exists: Streamlit forbids changing a drawn widget

settings, live = st.columns([1, 2], gap="large")
with settings:
    hosted = is_hosted()
    labels = DATASETS | ({"idx": HOSTED_IDX_LABEL} if hosted else {})
    source = st.selectbox(_("Data set"), list(labels), key="train_dataset", bind=BIND,
                          format_func=translated_labels("train_dataset", labels))
    spec = source
    if source == "idx" and hosted:
        spec = uploaded_idx_spec()
    elif source == "idx":
        folder = st.text_input(_("IDX folder"), key="train_idx_path",
                               placeholder=_("/path/to/folder with *-images-idx3-ubyte.gz"))
        spec = f"idx:{folder.strip()}" if folder.strip() else ""
    data = dataset_or_error(spec) if spec else None
    if data is None and hosted and source in ("mnist", "fashion-mnist"):
        st.info(_("On this server, choose **{choice}** and upload the IDX files instead (the four "
                  "files, or one images file with its labels file).", choice=_(HOSTED_IDX_LABEL)),
                icon=":material/upload_file:")
    if data is not None:
        st.caption(_("{train:,} training and {test:,} test images of {height}×{width}.",
                     train=len(data.train_x), test=len(data.test_x), height=data.image_shape[1],
                     width=data.image_shape[2]) + " " + data.described(_))

    mode = st.segmented_control(_("Model"), MODES, default="pair", required=True,
                                key="train_mode", on_change=refill_name,
                                format_func=translated_labels("train_mode", MODE_LABELS),
                                bind=BIND)
    is_ae, is_sweep = mode == "ae", mode == "sweep"
    if is_sweep:
        betas_text = st.text_input(_("Betas (one VAE each)"), DEFAULT_SWEEP, key="train_betas", bind=BIND)
        beta = 1.0
    else:
        beta = st.select_slider(_("β (weight of the KL term)"), BETAS, value=1.0, key="train_beta",
                                disabled=is_ae, help=_("0 = no pull towards the prior; 1 = the "
                                "plain VAE; larger = smoother latent space, blurrier images. "
                                "The AE has no KL term."), bind=BIND)
    warmup = st.number_input(_("KL warm-up epochs (0 = off)"), 0, 1000, 0, key="train_warmup",
                             disabled=is_ae, help=_("Ramp the KL weight from 0 to β over this "
                             "many epochs. It helps a VAE at β ≤ 1 past an early collapse; at larger "
                             "β, where collapse can be the objective's optimum (Alemi et al. 2018), "
                             "it only delays it."), bind=BIND)
    c1, c2 = st.columns(2)
    latent_dim = c1.number_input(_("Latent size"), 1, 32, 2, key="train_latent_dim",
                                 help=_("2 can be drawn directly; larger is shown by projection."),
                                 bind=BIND)
    arch = c2.radio(_("Network"), list(ARCH_LABELS), horizontal=True, key="train_arch",
                    format_func=translated_labels("train_arch", ARCH_LABELS), bind=BIND)
    width = c1.select_slider(_("Width"), [32, 64, 128, 256, 512], QUICK_PAIR_HIDDEN[0], key="train_width",
                             help=_("MLP: hidden layers width, width/2. Conv: channels width/4, "
                                    "width/2."), bind=BIND)
    epochs = c2.number_input(_("Epochs"), 1, 10_000, QUICK_PAIR_EPOCHS, key="train_epochs", bind=BIND)
    batch_size = c1.select_slider(_("Batch size"), [16, 32, 64, 128, 256, 512], QUICK_PAIR_BATCH,
                                  key="train_batch", bind=BIND)
    lr = c2.select_slider(_("Learning rate"), LEARNING_RATES, QUICK_PAIR_LR, key="train_lr",
                          format_func=lambda v: f"{v:g}", bind=BIND)
    seed = c1.number_input(_("Seed"), 0, 2**31 - 1, 0, key="train_seed", bind=BIND)
    name = c2.text_input(_("Run name"), key="train_name", max_chars=70)

    job: Job | None = st.session_state.get(JOB_KEY)
    busy = job is not None and job.active
    clicked = st.button(_("Train"), type="primary", icon=":material/play_arrow:", key="train_submit",
                        disabled=busy or data is None, width="stretch")
    if busy:
        st.caption(_("One job per session: stop it or wait for it to finish."))

if clicked and data is not None:
    try:
        validate_run_name(name)
        betas = parse_betas(betas_text) if is_sweep else []
        model_cfg = ModelConfig(kind="ae" if is_ae else "vae", latent_dim=int(latent_dim),
                                arch=arch, hidden=default_hidden(arch, width),
                                input_shape=data.image_shape)
        train_cfg = TrainConfig(epochs=int(epochs), batch_size=int(batch_size), lr=float(lr),
                                beta=float(beta), seed=int(seed), kl_warmup_epochs=int(warmup))
        specs, group = plan_runs(mode, name, model_cfg, train_cfg, betas)
        for s in specs:
            validate_run_name(s.name)
        existing = runs()
        taken = {r.name for r in existing} | {r.group for r in existing if r.group}
        clash = [n for n in [s.name for s in specs] + ([group] if group else []) if n in taken]
        if clash:
            raise ValueError(_("Run name already used: {names}. Choose another name or delete "
                               "the old runs below.", names=", ".join(sorted(set(clash)))))
    except (InvalidRunName, ValueError) as e:
        with settings:
            st.error(md(error_text(e, _)), icon=":material/error:")
    else:
        try:
            st.session_state[JOB_KEY] = submit_job(  # this session's: owner, computer, liveness
                specs, spec, root=str(checkpoints_root()), group=group, data=data,
                interleave=not is_sweep)  # a sweep: points appear one by one, each run whole
        except EngineError as e:
            with settings:
                st.error(md(error_text(e, _)), icon=":material/error:")
        else:
            st.session_state["train_name_stale"] = True
            st.rerun()

with live, st.container(key="train_live"):  # the key names this session's area in browser tests
    job = st.session_state.get(JOB_KEY)
    if job is None:
        st.info(_("Choose the settings and press **Train**. Reconstruction and KL curves of every "
                  "model of the job appear here while it trains."), icon=":material/show_chart:")
    elif job.active:
        live_job()
    else:
        make_current(st.session_state, job)  # the new runs are what the other pages show next
        show_results(job)

# --- saved runs ------------------------------------------------------------------------------------

st.subheader(_("Saved runs"))
infos = runs()
if not infos:
    st.info(_("No saved runs yet."), icon=":material/inventory_2:")
else:
    st.dataframe(headed([{
        "name": r.label, "kind": r.kind.upper() or "?",
        "beta": beta_text(r.beta if r.kind == "vae" else None), "latent dim": r.latent_dim,
        "data set": dataset_label(r.dataset), "epochs": epochs_text(r.epochs_trained, r.epochs),
        "test recon": r.final.get("recon"),
        "test KL": kl_text(r.final.get("kl") if r.kind == "vae" else None),
        "status": status_word(r.status, _), "reason": reason_text(r), "group": r.group,
    } for r in infos]), hide_index=True, key="train_runs_table", column_config={
        _(COLUMNS["test recon"]): st.column_config.NumberColumn(format="%.2f"),
        _(COLUMNS["reason"]): st.column_config.TextColumn(width="large")})


def delete_confirmed() -> None:
    errors = []
    by_label = {r.label: r for r in runs()}  # labels are printable; names may not be UTF-8
    for label in st.session_state.pop("train_delete_pending", []):
        info = by_label.get(label)
        refusal = _("{run} is no longer listed.", run=md(label)) if info is None else may_delete(info)
        if refusal:  # checked again at the confirmation: the rule holds on the server
            errors.append(refusal)
            continue
        try:
            delete_run(info.name, checkpoints_root())
        except (RunError, OSError) as e:
            errors.append(md(error_text(e, _)))
    st.session_state["train_delete_errors"] = errors
    st.session_state["train_delete_names"] = []


if infos:
    # Every listed entry, broken ones and links included, so a bad run can always be removed.
    to_delete = st.multiselect(_("Delete runs"), [r.label for r in infos], key="train_delete_names",
                               placeholder=_("Choose runs"),
                               help=_("You may delete the runs trained in this browser session "
                                      "(a reload starts a new one); the teacher may delete any "
                                      "run; the shipped demo runs are read-only."))
    if st.button(_("Delete selected…"), key="train_delete", disabled=not to_delete,
                 icon=":material/delete:"):
        by_label = {r.label: r for r in infos}
        refusals = {label: may_delete(by_label[label]) for label in to_delete if label in by_label}
        st.session_state["train_delete_errors"] = [r for r in refusals.values() if r]
        allowed = [label for label in to_delete if not refusals.get(label)]
        if allowed:
            st.session_state["train_delete_pending"] = allowed
        else:
            st.session_state.pop("train_delete_pending", None)
    teacher_login()
proxy_warning()
teacher_jobs()
pending = st.session_state.get("train_delete_pending")
if pending:
    st.warning(_("Delete {count} run(s) for good: {runs}?", count=len(pending),
                 runs=md(", ".join(pending))), icon=":material/warning:")
    yes, no = st.columns([1, 6])
    yes.button(_("Yes, delete"), type="primary", key="train_delete_yes", on_click=delete_confirmed)
    no.button(_("Cancel"), key="train_delete_no",
              on_click=lambda: st.session_state.pop("train_delete_pending", None))
for message in st.session_state.pop("train_delete_errors", []):
    st.error(message)  # its run names escaped by may_delete
