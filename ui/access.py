"""Who may do what on this server: the browser session's owner token, teacher mode, which runs a
session may delete, and whether the server is hosted (reachable from other machines).

Rules (README "Hosting for a class"):
- Each job is submitted with the session's owner token, a hash of the Streamlit session id (the
  raw id is never stored); the engine allows one active job per token and saves the token in the
  runs' run.json. A browser reload starts a new session, hence a new token.
- A session may delete the runs it trained. Demo runs shipped with VAE Lab (``"read_only": true``
  in their run.json) are deleted by no one from the dashboard.
- With ``teacher_password`` in ``.streamlit/secrets.toml``, a session that types it may delete
  any run that is not read-only.
- A server bound to localhost with no teacher password is one person's laptop: that user owns
  every run, so a student can still delete her old runs after restarting the server. A request
  that came through a proxy or tunnel (a forwarding header) makes the server count as hosted.
- Fair sharing counts jobs per client address (``client_address``): the address Streamlit sees,
  or behind a proxy named in ``VAE_LAB_TRUSTED_PROXY`` the address that proxy forwards.
- Teacher password guesses are limited per client and in total (``GuessLimiter``), and every
  wrong one is logged.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections import deque

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.i18n import _
from ui.links import md
from vae_core import RunInfo

LOCAL_ADDRESSES = frozenset({"localhost", "127.0.0.1", "::1"})
TEACHER_KEY = "access_teacher"  # session_state: this session typed the teacher password
WRONG_PASSWORD_DELAY_S = 1.0  # slows guessing; the script thread of that one session waits
# Wrong guesses allowed per window: per client, and for the whole server (a class typing a
# password wrongly now and then stays far below; a script with many tabs is held to these).
GUESSES_PER_CLIENT, GUESSES_IN_TOTAL, GUESS_WINDOW_S = 5, 20, 60.0
TRUSTED_PROXY_ENV = "VAE_LAB_TRUSTED_PROXY"  # the proxy's address: trust its X-Forwarded-For
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Forwarded-Host")
log = logging.getLogger("vae_lab.access")


class GuessLimiter:
    """Wrong password guesses in a sliding window, per client and in total. Plain Python (one
    instance per server, shared by every session through ``st.cache_resource``)."""

    def __init__(self, per_client: int = GUESSES_PER_CLIENT, total: int = GUESSES_IN_TOTAL,
                 window_s: float = GUESS_WINDOW_S, clock=time.monotonic):
        self.per_client, self.total, self.window_s, self.clock = per_client, total, window_s, clock
        self._failures: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> None:
        while self._failures and self._failures[0][0] <= now - self.window_s:
            self._failures.popleft()

    def wait_s(self, client: str) -> float:
        """0 when ``client`` may guess now, else the seconds until it may."""
        with self._lock:
            now = self.clock()
            self._forget_old(now)
            mine = [t for t, c in self._failures if c == client]
            waits = [0.0]
            if len(mine) >= self.per_client:
                waits.append(mine[-self.per_client] + self.window_s - now)
            if len(self._failures) >= self.total:
                waits.append(self._failures[-self.total][0] + self.window_s - now)
            return max(waits)

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.append((self.clock(), client))


@st.cache_resource(show_spinner=False)
def guess_limiter() -> GuessLimiter:
    return GuessLimiter()


def forwarded_for(headers, peer: str | None, trusted_proxy: str | None) -> str | None:
    """The client's address: the connection's ``peer`` (None on localhost), or, when the peer is
    the ``trusted_proxy`` (``"*"``: any peer, e.g. a proxy on the same machine), the last address
    in its ``X-Forwarded-For`` (the one that proxy appended; earlier ones the client may forge)."""
    if trusted_proxy and (trusted_proxy == "*" or peer == trusted_proxy):
        value = headers.get("X-Forwarded-For")
        hops = [h.strip() for h in value.split(",") if h.strip()] if isinstance(value, str) else []
        if hops:
            return hops[-1]
    return peer


def client_address() -> str:
    """This browser session's computer, for per-client limits: see ``forwarded_for``;
    "localhost" when Streamlit sees no address."""
    try:
        headers, peer = st.context.headers, st.context.ip_address
    except Exception:  # outside a browser session
        headers, peer = {}, None
    peer = peer if isinstance(peer, str) else None  # AppTest's context is a mock
    return forwarded_for(headers, peer, os.environ.get(TRUSTED_PROXY_ENV) or None) or "localhost"


def behind_proxy() -> bool:
    """The request carries a forwarding header: a proxy or tunnel stands between the visitor and
    this server, so "bound to localhost" says nothing about who can connect."""
    try:
        headers = st.context.headers
        return any(isinstance(headers.get(h), str) and headers.get(h) for h in FORWARDING_HEADERS)
    except Exception:
        return False


def owner_token(session_id: str) -> str:
    """The owner recorded for a session's jobs and runs: a salted hash, so a run.json (readable
    by anyone with the checkpoints folder) never reveals a live session id."""
    return hashlib.sha256(f"vae-lab-owner:{session_id}".encode()).hexdigest()[:32]


def session_owner() -> str | None:
    """This browser session's owner token (None outside a Streamlit script run)."""
    ctx = get_script_run_ctx()
    return owner_token(ctx.session_id) if ctx is not None else None


def is_hosted() -> bool:
    """True when other machines can connect: ``server.address`` is not a loopback name (unset
    means every interface), or the request came through a proxy or tunnel."""
    return (st.get_option("server.address") or "") not in LOCAL_ADDRESSES or behind_proxy()


def teacher_password() -> str | None:
    """``teacher_password`` from Streamlit secrets, or None (no secrets file, or no such key)."""
    try:
        value = st.secrets.get("teacher_password")
    except OSError:  # StreamlitSecretNotFoundError (a FileNotFoundError): no secrets file
        return None
    return value if isinstance(value, str) and value else None


def is_teacher() -> bool:
    return bool(st.session_state.get(TEACHER_KEY)) and teacher_password() is not None


def owns_everything() -> bool:
    """Teacher mode, or a localhost server without a teacher password (a single user)."""
    return is_teacher() or (not is_hosted() and teacher_password() is None)


def delete_refusal(info: RunInfo, owner: str | None, everything: bool) -> str | None:
    """Why ``owner`` may not delete ``info`` (None: allowed). ``everything``: teacher mode or
    the single local user (``owns_everything``)."""
    if info.read_only:
        return _("{run} is a demo run shipped with VAE Lab and is read-only (it feeds the "
                 "Overview pictures for everyone). Remove its folder on the server to delete it.",
                 run=md(info.label))
    if everything or (owner is not None and info.owner == owner):
        return None
    return _("{run} was trained in another browser session (or from the command line): only "
             "that session, or the teacher, can delete it.", run=md(info.label))


def may_delete(info: RunInfo) -> str | None:
    """``delete_refusal`` for this browser session."""
    return delete_refusal(info, session_owner(), owns_everything())


def proxy_warning() -> None:
    """Warnings when the server is reached through a proxy or tunnel: without a teacher password
    on a localhost server (whoever reaches it could otherwise delete every run), and without
    ``VAE_LAB_TRUSTED_PROXY`` (every visitor then counts as one computer for the job limits)."""
    if not behind_proxy():
        return
    if not os.environ.get(TRUSTED_PROXY_ENV):
        st.warning(_("This server is reached through a proxy, whose address every visitor "
                     "shares: the per-computer job limit counts them all as one computer. Name "
                     "the proxy in {setting} (README, \"Hosting for a class\").",
                     setting="VAE_LAB_TRUSTED_PROXY"), icon=":material/shield:")
    if (st.get_option("server.address") or "") in LOCAL_ADDRESSES and teacher_password() is None:
        st.warning(_("This server is bound to this machine but is reached through a proxy or "
                     "tunnel, so others may be using it: it is treated as hosted (each browser "
                     "session may delete only its own runs). Set a teacher password (README, "
                     "\"Hosting for a class\")."), icon=":material/shield:")


def check_password(typed: str, password: str, client: str, limiter: GuessLimiter) -> str | None:
    """None when ``typed`` is the password; else why not (too many guesses, or wrong). Wrong
    guesses count against ``client`` and the whole server, and are logged."""
    wait = limiter.wait_s(client)
    if wait > 0:
        log.warning("teacher password: refused a guess from %s (rate limit, %.0f s left)",
                    client, wait)
        return _("Too many wrong passwords from this computer or on this server; try again in "
                 "{seconds:.0f} s.", seconds=wait)
    if hmac.compare_digest(typed.encode(), password.encode()):
        return None
    limiter.failed(client)
    log.warning("teacher password: wrong guess from %s", client)
    time.sleep(WRONG_PASSWORD_DELAY_S)
    return _("Wrong teacher password.")


def teacher_login() -> None:
    """A password box that turns on teacher mode for this session; nothing without a password
    in the secrets."""
    password = teacher_password()
    if password is None or is_teacher():
        if is_teacher():
            st.caption(_("Teacher mode: you may delete any run except the shipped demo runs, "
                         "and stop anyone's training job."))
        return
    with st.expander(_("Teacher"), icon=":material/school:"):
        typed = st.text_input(_("Teacher password"), type="password", key="access_password")
        if st.button(_("Unlock teacher mode"), key="access_unlock") and typed:
            refusal = check_password(typed, password, client_address(), guess_limiter())
            if refusal is None:
                st.session_state[TEACHER_KEY] = True
                st.rerun()
            st.error(refusal, icon=":material/lock:")
