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
  every run, so a student can still delete her old runs after restarting the server.
"""
from __future__ import annotations

import hashlib
import hmac
import time

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.i18n import _
from vae_core import RunInfo

LOCAL_ADDRESSES = frozenset({"localhost", "127.0.0.1", "::1"})
TEACHER_KEY = "access_teacher"  # session_state: this session typed the teacher password
WRONG_PASSWORD_DELAY_S = 1.0  # slows guessing; the script thread of that one session waits


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
    means every interface)."""
    return (st.get_option("server.address") or "") not in LOCAL_ADDRESSES


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
                 run=info.label)
    if everything or (owner is not None and info.owner == owner):
        return None
    return _("{run} was trained in another browser session (or from the command line): only "
             "that session, or the teacher, can delete it.", run=info.label)


def may_delete(info: RunInfo) -> str | None:
    """``delete_refusal`` for this browser session."""
    return delete_refusal(info, session_owner(), owns_everything())


def teacher_login() -> None:
    """A password box that turns on teacher mode for this session; nothing without a password
    in the secrets."""
    password = teacher_password()
    if password is None or is_teacher():
        if is_teacher():
            st.caption(_("Teacher mode: you may delete any run except the shipped demo runs."))
        return
    with st.expander(_("Teacher"), icon=":material/school:"):
        typed = st.text_input(_("Teacher password"), type="password", key="access_password")
        if st.button(_("Unlock deleting any run"), key="access_unlock") and typed:
            if hmac.compare_digest(typed.encode(), password.encode()):
                st.session_state[TEACHER_KEY] = True
                st.rerun()
            time.sleep(WRONG_PASSWORD_DELAY_S)
            st.error(_("Wrong teacher password."), icon=":material/lock:")
