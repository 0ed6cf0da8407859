"""How training went, in words: run statuses, the reasons saved in run.json, and the training
engine's messages (refusals, failures, its status line).

A sentence is made with ``render(TEMPLATE, **values)``: a ``Message``, which is its English text
(a ``str``: what run.json's ``"reason"``, the CLI and exceptions show) and also remembers the
message ids and values it was made from. run.json stores those next to the English
(``"reason_messages": [{"id": "trained", "values": {"epochs": 3}}, …]``, see ``to_json`` and
``from_json``), and a page shows a message in its language with ``say(message, gettext)``: each
template is translated and filled with its values; nothing is parsed back from English. Several
sentences make one message with ``join``. Text from elsewhere (an exception's own words) is kept as
written. The one exception: run.json files written before message ids have only the English, and
``from_english`` (legacy, for those files only) reads it back into the templates.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from string import Formatter
from typing import Any

from vae_core.text import N_, Translate, no_translation

# Statuses of saved runs (run_format.STATUSES, plus "broken" for an unreadable folder) and of jobs.
STATUS_WORDS = {
    "finished": N_("finished"), "stopped": N_("stopped"), "collapsed": N_("collapsed"),
    "diverged": N_("diverged"), "broken": N_("broken"), "queued": N_("queued"),
    "running": N_("running"), "failed": N_("failed"),
}

# --- run reasons (train.py, collapse.py, jobs/, store/) ----------------------------------------
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

# --- the engine (jobs/): refusals, failed jobs, its status line ----------------------------------
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

# id -> template: every template above, named by its constant in lower case ("trained", …).
MESSAGES = {key.lower(): value for key, value in globals().items()
            if key.isupper() and isinstance(value, str)}
_IDS = {template: key for key, template in MESSAGES.items()}
VERBATIM = "text"  # the id of text kept as written (an exception's words): no template, no catalog
MAX_PARTS = 8  # sentences in one stored message
MAX_VALUE_CHARS = 2000  # one stored text value (an exception's words at most)

Values = dict[str, Any]


class Message(str):
    """A sentence (or a few) for people: the ``str`` is its English; ``parts`` are the
    ``(id, values)`` it was made from, values being numbers, text or Messages. Made by ``render``,
    ``join`` and ``from_json``; pickles as itself (it travels through Dask)."""

    parts: tuple[tuple[str, Values], ...]

    def __new__(cls, parts: tuple[tuple[str, Values], ...]) -> "Message":
        message = super().__new__(cls, _join([_english(id_, values) for id_, values in parts], parts))
        message.parts = parts
        return message

    def __reduce__(self) -> tuple[Any, ...]:
        return Message, (self.parts,)


def _template(id_: str) -> str:
    return "{text}" if id_ == VERBATIM else MESSAGES[id_]


def _english(id_: str, values: Values) -> str:
    return _template(id_).format(**values)


def _join(sentences: list[str], parts: tuple[tuple[str, Values], ...]) -> str:
    """Sentences as train.py and the engine join them: "; " before one that starts in lower case
    in English ("trained 3 epochs; posterior collapse: …"), else a space ("… alike. At β = …"). The
    English decides, so a translation is joined the same way."""
    out = sentences[:1]
    for (id_, values), sentence in zip(parts[1:], sentences[1:]):
        out.append(("; " if _english(id_, values)[:1].islower() else " ") + sentence)
    return "".join(out)


def _value(value: Any) -> Any:
    """A value as a message keeps it: numbers, text and Messages as they are, anything else
    (an exception, a path) as its text."""
    return value if isinstance(value, (Message, int, float, str)) else str(value)


def render(template: str, **values: Any) -> Message:
    """``template`` (one of the constants above) with its values, as a Message."""
    return Message(((_IDS[template], {k: _value(v) for k, v in values.items()}),))


def join(*messages: str) -> Message:
    """One message of several, in order; plain text (an exception's words) is kept as written."""
    parts: list[tuple[str, Values]] = []
    for message in messages:
        if isinstance(message, Message):
            parts.extend(message.parts)
        elif message:
            parts.append((VERBATIM, {"text": str(message)}))
    return Message(tuple(parts))


def say(message: str, gettext: Translate = no_translation) -> str:
    """``message`` in the language of ``gettext``; plain text (not a Message) as it is."""
    if not isinstance(message, Message):
        return message
    sentences = []
    for id_, values in message.parts:
        filled = {k: say(v, gettext) if isinstance(v, Message) else v for k, v in values.items()}
        sentences.append(_template(id_).format(**filled) if id_ == VERBATIM
                         else gettext(_template(id_)).format(**filled))
    return _join(sentences, message.parts)


def error_text(error: BaseException, gettext: Translate = no_translation) -> str:
    """An exception's message in the language of ``gettext`` (raised with a Message), else its
    own words."""
    args = error.args
    return say(args[0], gettext) if len(args) == 1 and isinstance(args[0], Message) else str(error)


# --- run.json ------------------------------------------------------------------------------------

def to_json(message: str) -> list[dict[str, Any]]:
    """What run.json stores of a message (``"reason_messages"``); plain text is kept verbatim.
    Non-finite numbers become text (JSON has none); a Message inside one becomes its English."""
    def plain(value: Any) -> Any:
        if isinstance(value, Message):
            return str(value)
        return str(value) if isinstance(value, float) and not math.isfinite(value) else value
    message = message if isinstance(message, Message) else join(message)
    return [{"id": id_, "values": {k: plain(v) for k, v in values.items()}}
            for id_, values in message.parts]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def from_json(data: Any, name: str = "reason_messages") -> Message:
    """A stored message, checked: a list of at most ``MAX_PARTS`` objects ``{"id", "values"}``,
    each id known, its values exactly the template's placeholders, each a number or a text of at
    most ``MAX_VALUE_CHARS`` characters that the template can format. Raises ``ValueError`` naming
    what is wrong (the run is then listed as unreadable, with that sentence)."""
    if not isinstance(data, list) or len(data) > MAX_PARTS:
        raise ValueError(f"{name} must be a list of at most {MAX_PARTS} messages")
    parts = []
    for i, part in enumerate(data):
        where = f"{name}[{i}]"
        if not isinstance(part, dict) or set(part) != {"id", "values"}:
            raise ValueError(f'{where} must be an object with "id" and "values"')
        id_, values = part["id"], part["values"]
        if not isinstance(id_, str) or (id_ not in MESSAGES and id_ != VERBATIM):
            raise ValueError(f"{where}: unknown message id {_short(id_)}")
        if not isinstance(values, dict):
            raise ValueError(f"{where}.values must be an object")
        expected = {n for _t, n, _s, _c in Formatter().parse(_template(id_)) if n}
        if set(values) != expected:
            raise ValueError(f"{where}.values must have exactly the keys {sorted(expected)}, "
                             f"not {_short(sorted(map(str, values)))}")
        for key, value in values.items():
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
                isinstance(value, str) and len(value) <= MAX_VALUE_CHARS)
            if not ok:
                raise ValueError(f"{where}.values.{key} must be a number or a text of at most "
                                 f"{MAX_VALUE_CHARS} characters, not {_short(value)}")
        try:
            _english(id_, values)
        except (ValueError, TypeError) as e:  # e.g. text where the template formats a number
            raise ValueError(f"{where}: its values do not fit message {id_!r} ({e})") from None
        parts.append((id_, dict(values)))
    return Message(tuple(parts))


# --- legacy: run.json written before message ids held only the English ---------------------------
# Longest first, so that a template that extends another is tried before it.
_LEGACY_TEMPLATES = tuple(sorted(MESSAGES.values(), key=len, reverse=True))
_LEGACY_SEPARATORS = ("; ", " ")  # how train.py and the engine joined the sentences of one reason


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
    tail = "$" if template.endswith("}") else "(?=$|" + "|".join(map(re.escape, _LEGACY_SEPARATORS)) + ")"
    return re.compile("".join(parts) + tail, re.DOTALL)


def _number(text: str) -> int | float | str:
    """A value read back from English: the number it was formatted from where it reads as one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def from_english(text: str) -> Message:
    """LEGACY, for run.json files without ``"reason_messages"`` only: their English reason read
    back sentence by sentence into the templates, so it shows translated; from the first sentence
    that matches none (or whose values no longer fit it), the rest is kept as written."""
    parts: list[tuple[str, Values]] = []
    rest = text
    while rest:
        for template in _LEGACY_TEMPLATES:
            match = _pattern(template).match(rest)
            if match:
                values = {k: _number(v) for k, v in match.groupdict().items()}
                try:
                    _english(_IDS[template], values)
                except (ValueError, TypeError):
                    continue
                break
        else:
            parts.append((VERBATIM, {"text": rest}))
            break
        parts.append((_IDS[template], values))
        rest = rest[match.end():]
        rest = rest[len(next((s for s in _LEGACY_SEPARATORS if rest.startswith(s)), "")):]
    message = Message(tuple(parts))
    return message if message == text else join(text)  # not read back exactly: kept as written


def status_word(status: str, gettext: Translate = no_translation) -> str:
    """A run's or job's status for people ("finished", …); an unknown one as it is."""
    return gettext(STATUS_WORDS[status]) if status in STATUS_WORDS else status
