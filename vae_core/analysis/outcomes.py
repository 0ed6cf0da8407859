"""How training went, in words: run statuses, the reasons saved in run.json, and the training
engine's messages (refusals, failures, its status line).

vae_core writes these sentences in English, from the templates here (run.json, the CLI and the
exceptions keep English). A page shows one in its language with ``localize(text, gettext)``: the
text is read back into its templates and their values, each template is translated and filled
again. Because the stored English is unchanged, run.json files written before this module existed
are translated too; text that matches no template (an exception's own words) stays as it is.
"""
from __future__ import annotations

import re
from functools import lru_cache
from string import Formatter
from typing import Any

from vae_core.text import N_, Translate, no_translation

# Statuses of saved runs (runs.STATUSES, plus "broken" for an unreadable folder) and of jobs.
STATUS_WORDS = {
    "finished": N_("finished"), "stopped": N_("stopped"), "collapsed": N_("collapsed"),
    "diverged": N_("diverged"), "broken": N_("broken"), "queued": N_("queued"),
    "running": N_("running"), "failed": N_("failed"),
}

# --- run reasons (train.py, collapse.py, jobs.py, runs.py) ----------------------------------------
TRAINED = N_("trained {epochs} epochs")
STOPPED_BY_USER = N_("stopped by the user at step {step} (epoch {epoch})")
STOPPED_AT_TIME_LIMIT = N_("stopped at the job's time limit of {seconds:.0f} s left, after step "
                           "{step}; what was trained is kept")
LOSS_NOT_FINITE = N_("the loss became {loss} at step {step} (epoch {epoch}); the weights before "
                     "that step were kept. Try a smaller learning rate than {lr:g}.")
TEST_LOSS_NOT_FINITE = N_("the test loss became {loss} after epoch {epoch}")
WEIGHTS_NOT_FINITE = N_("The weights are no longer finite.")
SAVED_WEIGHTS_NOT_FINITE = N_("the saved weights contain NaN or inf")
# Written into run.json before issue 16: kept so those reasons are still read back and translated.
POSTERIOR_COLLAPSE_OLD = N_(
    "posterior collapse: {active} of {dims} latent dims active and test KL {kl:.3g} nats per "
    "image, so the decoder ignores z and every image decodes alike. Cures: lower β, a KL warm-up "
    "(ramp the KL weight from 0 over the first epochs), or a bigger network / a smaller learning "
    "rate.")
POSTERIOR_COLLAPSE = N_(
    "posterior collapse: {active} of {dims} latent dims active and a rate (test KL) of {kl:.3g} "
    "nats per image, so the decoder ignores z and every image decodes alike.")
# What helps depends on β and on the measured rate (Alemi et al. 2018, "Fixing a Broken ELBO"):
# collapse.collapse_advice picks one.
COLLAPSE_AT_HIGH_BETA = N_(
    "At β = {beta:g} (above 1) a code that carries no information can be the optimum of the "
    "objective itself on this data (Alemi et al. 2018): lower β, towards 1 or below, is the cure; "
    "a KL warm-up only delays collapse, and a bigger decoder makes it more likely, not less.")
COLLAPSE_AT_LOW_BETA = N_(
    "At β = {beta:g} (1 or below) a zero rate is not the objective's optimum unless the decoder "
    "can model the images without z (Alemi et al. 2018): training got stuck there. Try a KL "
    "warm-up, a smaller learning rate or more epochs; a weaker decoder, not a bigger one.")
COLLAPSE_AT_UNKNOWN_BETA = N_(
    "What helps depends on β (Alemi et al. 2018): above 1, a code that carries no information can "
    "be the optimum of the objective, and only a lower β helps; at β = 1 or below, try a KL "
    "warm-up, a smaller learning rate or a weaker decoder.")
NOTHING_SAVED = N_("nothing was trained, so nothing was saved")

# --- the engine (jobs.py): refusals, failed jobs, its status line ----------------------------------
OWNER_BUSY = N_("You already have a training job queued or running: stop it or wait for it to "
                "finish.")
QUEUE_FULL = N_("The training queue is full ({waiting} jobs waiting). Try again in a minute.")
CLIENT_BUSY = N_("Your computer already has {jobs} training job(s) queued or running (at most "
                 "{limit} per computer, whatever the number of tabs): wait for one to finish.")
JOB_TOO_MANY_RUNS = N_("A job may train at most {limit} models on this server; this one has {runs}.")
JOB_TOO_MANY_EPOCHS = N_("A job may train at most {limit} epochs in all on this server (models × "
                         "epochs); this one asks for {epochs}.")
NAME_IN_TRAINING = N_("The name {name} is being trained right now by another job: choose another "
                      "name.")
STOPPED_SESSION_GONE = N_("stopped: the browser tab that started it was closed {seconds:.0f} s ago, "
                          "and no one else can see or stop this job")
STOPPED_BY_TEACHER = N_("stopped by the teacher")
BETAS_NOT_NUMBERS = N_("Betas must be numbers separated by commas, got {text!r}")
BETAS_NONE = N_("Give at least one beta, each a number >= 0")
BETAS_REPEATED = N_("Each beta may appear only once")
ENGINE_STARTING = N_("starting the training workers…")
ENGINE_READY = N_("{workers} training worker(s) at {address}")
ENGINE_NO_WORKERS = N_("No training workers are connected yet.")
ENGINE_UNAVAILABLE = N_("Training is unavailable: {what} ({error}). Retrying every {seconds:.0f} s.")
SCHEDULER_UNREACHABLE = N_("cannot reach the Dask scheduler at {address}")
LOCAL_WORKERS_FAILED = N_("the local training workers did not start")
SCHEDULER_GONE = N_("Training is unavailable: the Dask scheduler at {address} went away. "
                    "Reconnecting every {seconds:.0f} s; queued jobs wait.")
JOB_LOST_SCHEDULER = N_("lost contact with the Dask scheduler at {address}; the unfinished runs "
                        "of this job were not saved")
JOB_BLOCKED = N_("the job did not end within {seconds:.0f} s of {why} (blocked, e.g. reading a "
                 "file that never ends); it was cancelled and its worker restarted; the "
                 "unfinished runs were not saved")
BLOCKED_AFTER_STOP = N_("the stop request")
BLOCKED_AFTER_TIME_LIMIT = N_("its time limit")
JOB_RESULTS_LOST = N_("could not fetch the results: {error}")
JOB_SAVE_FAILED = N_("{name} could not be saved: {error}")
JOB_WORKER_DIED = N_("the Dask worker training this job ({worker}) died (its process ended or "
                     "lost contact); the unfinished runs were not saved")
JOB_CANCELLED = N_("the job was cancelled on the Dask cluster; the unfinished runs were not saved")

# --- run names and deleting (runs.py) --------------------------------------------------------------
INVALID_RUN_NAME = N_("Invalid run name {name!r}: use 1-80 letters, digits, '.', '_' or '-', "
                      "starting with a letter or digit (no '/', '..', spaces or control "
                      "characters)")
NO_SUCH_RUN = N_("No run named {name!r} in {root}")
NOT_A_RUN = N_("Not a run in {root}: {name!r}")
DELETE_FAILED = N_("Could not delete {name!r} in {root} ({error})")

# Longest first, so that a template that extends another is tried before it.
TEMPLATES = tuple(sorted(
    (value for key, value in globals().items() if key.isupper() and isinstance(value, str)),
    key=len, reverse=True))
SEPARATORS = ("; ", " ")  # how train.py and jobs.py join the sentences of one reason


def render(template: str, **values: Any) -> str:
    """A template filled in English (what run.json, the CLI and exceptions hold)."""
    return template.format(**values)


@lru_cache(maxsize=None)
def _pattern(template: str) -> re.Pattern[str]:
    """A regex that reads a rendered ``template`` back, one named group per placeholder. A
    template ending in a placeholder takes the rest of the text; any other ends at the end of the
    text or at a separator before the next sentence."""
    parts = []
    for literal, name, _spec, _conv in Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.+?)")
    tail = "$" if template.endswith("}") else "(?=$|" + "|".join(map(re.escape, SEPARATORS)) + ")"
    return re.compile("".join(parts) + tail, re.DOTALL)


def _fill(template: str, values: dict[str, str]) -> str:
    """``template`` with its placeholders replaced by already formatted text (no format specs:
    the numbers were formatted when the English was written)."""
    return "".join(literal + (values[name] if name else "")
                   for literal, name, _spec, _conv in Formatter().parse(template))


def localize(text: str, gettext: Translate = no_translation) -> str:
    """``text`` (a reason, an engine message, a status line) in the language of ``gettext``:
    each sentence that matches a template is translated with its values (themselves localized,
    for a sentence inside a sentence); the first that matches none is kept as written, with
    the rest of the text."""
    out, rest = [], text
    while rest:
        for template in TEMPLATES:
            match = _pattern(template).match(rest)
            if match:
                break
        else:
            out.append(rest)
            break
        values = {name: localize(value, gettext) for name, value in match.groupdict().items()}
        out.append(_fill(gettext(template), values))
        rest = rest[match.end():]
        separator = next((s for s in SEPARATORS if rest.startswith(s)), "")
        out.append(separator)
        rest = rest[len(separator):]
    return "".join(out)


def status_word(status: str, gettext: Translate = no_translation) -> str:
    """A run's or job's status for people ("finished", …); an unknown one as it is."""
    return gettext(STATUS_WORDS[status]) if status in STATUS_WORDS else status
