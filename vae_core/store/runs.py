"""The runs folder: saving a run atomically, listing the runs (cached by file state), deleting
one, and picking a free name. What one run folder holds and how it is read: ``run_format``.

A save is written into a hidden temporary folder and renamed into place; an overwrite moves the
old run to a hidden trash folder first. Saves, deletions and the recovery of leftovers hold an
exclusive lock on the root folder, so a crash (even kill -9) at any point leaves the old run or
the new one visible: the next ``list_runs`` renames an orphaned trash folder back and removes
other leftovers.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import stat
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from vae_core.analysis import outcomes
from vae_core.analysis.outcomes import DELETE_FAILED, NO_SUCH_RUN, NOT_A_RUN, render
from vae_core.config import ModelConfig, TrainConfig
from vae_core.store import validate
from vae_core.store.run_format import (FORMAT_VERSION, MAX_OWNER_CHARS, META_FILE, NAME_RE,
                                       STATUSES, WEIGHTS_FILE, InvalidRunName, RunInfo,
                                       display_name, final_metrics, run_info, validate_run_name)
from vae_core.store.validate import RunError

try:  # POSIX; elsewhere saves are not locked and only old leftovers are recovered
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:  # torch, the models and the snapshots are imported where used: listing runs needs none
    import torch

    from vae_core.models import LatentModel
    from vae_core.store.snapshots import Snapshot

_TMP, _TRASH, _DELETED = ".tmp-", ".trash-", ".deleted-"
_STALE_SECONDS = 600.0  # without a lock, leftovers older than this are surely not in use


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: store them as strings so the file stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items() if k != "model"}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def root_lock(root: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on the root folder itself (across processes; released by the
    OS when the holder dies, even by kill -9; no lock file to leave behind).

    Yields False when the lock is busy (non-blocking) or cannot be taken."""
    if fcntl is None:  # pragma: no cover - Windows
        yield False
        return
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        if blocking:
            raise
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the flock


def save_run(model: LatentModel, model_cfg: ModelConfig, train_cfg: TrainConfig,
             history: list[dict[str, Any]], name: str, root: str | os.PathLike[str] = "checkpoints",
             *, dataset: str = "digits", status: str = "finished", reason: str = "",
             group: str | None = None, overwrite: bool = False, worker: str | None = None,
             owner: str | None = None, snapshots: list[Snapshot] | None = None) -> Path:
    """Save a run atomically as ``root/name/{model.safetensors, run.json}`` and return its path.

    ``worker``: the Dask worker that trained it (its address), recorded in run.json.
    ``owner``: an opaque token of who trained it (the dashboard stores a hash of the browser
    session, never the session id itself), recorded so that only its owner may delete it.
    ``snapshots`` (the end record's, for the training replay) go into the same folder as
    ``snapshots.safetensors`` (see ``replay``); without them the run simply has no replay.

    An existing run of that name is kept unless ``overwrite``; then it is replaced, crash-safely
    (see the module docstring). Concurrent saves to one root take turns.
    """
    validate_run_name(name)
    if group is not None:
        validate_run_name(group)
    if owner is not None:
        validate.text(owner, "owner", MAX_OWNER_CHARS)
    if status not in STATUSES:
        raise RunError(f"Unknown run status {status!r}")
    root_path = Path(root)
    try:
        root_path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"Cannot create the runs folder {root_path} ({e.strerror or e})") from e
    final = root_path / name
    meta = {"format_version": FORMAT_VERSION, "name": name, "created": time.time(),
            "status": status, "reason": reason, "reason_messages": outcomes.to_json(reason),
            "dataset": dataset, "group": group,
            "worker": worker, "owner": owner, "model_config": model_cfg.to_dict(), "train_config": train_cfg.to_dict(),
            "final": final_metrics(history), "history": history}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    try:
        with root_lock(root_path):
            _write_locked(root_path, name, state, _json_safe(meta), overwrite, snapshots)
    except RunError:
        raise
    except OSError as e:
        raise RunError(f"Cannot write in {root_path} ({e.strerror or e})") from e
    _forget(final)
    return final


def _write_locked(root: Path, name: str, state: dict[str, torch.Tensor], meta: dict[str, Any],
                  overwrite: bool, snapshots: list[Snapshot] | None = None) -> None:
    """Write ``root/name`` while holding the root's lock: temp folder, then one or two renames."""
    from safetensors.torch import save_file

    final = root / name
    if os.path.lexists(final) and not overwrite:
        raise RunError(f"A run named {name!r} already exists in {root}; choose another name")
    tmp = root / f"{_TMP}{name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format_version": str(FORMAT_VERSION)})
        if snapshots:
            from vae_core.store.replay import SNAPSHOTS_FILE, write_snapshots

            write_snapshots(tmp / SNAPSHOTS_FILE, snapshots)
        with open(tmp / META_FILE, "w", encoding="utf-8") as f:
            json.dump(meta, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        trash = None
        if os.path.lexists(final):  # overwrite: old -> trash, new -> final, then drop the trash
            trash = root / f"{_TRASH}{name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, trash)
        os.rename(tmp, final)
        _fsync_dir(root)
        if trash is not None:
            _remove_entry(trash)
    except OSError as e:
        raise RunError(f"Could not save {name!r} in {root} ({e.strerror or e})") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# --- listing: cached by file state; leftovers recovered ------------------------------------------

_cache_lock = threading.Lock()
_info_cache: dict[str, tuple[tuple, RunInfo]] = {}  # path -> (file-state signature, info)


def _signature(path: Path) -> tuple:
    """What changes when a run folder's content changes: the folder's and both files' identity,
    size and modification time (a rename, overwrite or edit gives a new signature)."""
    sig: list = []
    for p in (path, path / META_FILE, path / WEIGHTS_FILE):
        try:
            st = p.lstat() if p is path else p.stat()
            sig.append((st.st_ino, st.st_size, st.st_mtime_ns, stat.S_IFMT(st.st_mode)))
        except OSError:
            sig.append(None)
    return tuple(sig)


def _forget(path: Path) -> None:
    with _cache_lock:
        _info_cache.pop(str(path), None)


def _cached_info(path: Path) -> RunInfo:
    key, sig = str(path), _signature(path)
    with _cache_lock:
        hit = _info_cache.get(key)
    if hit is not None and hit[0] == sig:
        return hit[1]
    info = run_info(path)
    with _cache_lock:
        if len(_info_cache) > 10_000:
            _info_cache.clear()
        _info_cache[key] = (sig, info)
    return info


def _remove_entry(path: Path) -> None:
    """Remove a folder (or a link, never followed) from a runs root."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def recover_leftovers(root: str | os.PathLike[str]) -> None:
    """Finish what a crashed save or delete left behind: an old run in a trash folder whose name
    is free is renamed back; other temp, trash and deleted folders are removed. Skipped while
    another process holds the lock (it is saving) or where the root is read-only."""
    root_path = Path(root)
    try:
        leftovers = [n for n in os.listdir(root_path) if n.startswith((_TMP, _TRASH, _DELETED))]
    except OSError:
        return
    if not leftovers:
        return
    with root_lock(root_path, blocking=False) as locked:
        if not locked and fcntl is not None:
            return
        for n in leftovers:
            p = root_path / n
            try:
                if not locked and time.time() - p.lstat().st_mtime < _STALE_SECONDS:
                    continue  # pragma: no cover - unlocked platforms only
                original = n[len(_TRASH):-9] if n.startswith(_TRASH) and len(n) > len(_TRASH) + 9 else ""
                if original and NAME_RE.fullmatch(original) and not os.path.lexists(root_path / original):
                    os.rename(p, root_path / original)  # the crash came between the two renames
                else:
                    _remove_entry(p)
            except OSError:
                continue


def list_runs(root: str | os.PathLike[str] = "checkpoints") -> list[RunInfo]:
    """All run folders under ``root``, newest first; broken ones are listed, not raised.

    Cheap to call on every page rerun: a run is read again only when its files change, and no
    model is built. Leftovers of a crashed save are recovered first."""
    root_path = Path(root)
    if not root_path.is_dir():
        return []
    recover_leftovers(root_path)
    try:
        names = os.listdir(root_path)
    except OSError:
        return []
    infos = []
    for n in names:
        if n.startswith("."):
            continue
        p = root_path / n
        if p.is_symlink() or p.is_dir():  # plain files in the root are not runs
            infos.append(_cached_info(p))
    return sorted(infos, key=lambda r: (r.created, r.name), reverse=True)


def delete_run(name: str, root: str | os.PathLike[str] = "checkpoints") -> None:
    """Delete one entry of ``root`` as listed by ``list_runs`` (``RunInfo.name``): a run folder,
    a broken one, or a link (removed as a link, never followed). Nothing outside ``root``."""
    root_path = Path(root)
    if (not isinstance(name, str) or not name or name.startswith(".") or "/" in name
            or "\x00" in name or (os.sep != "/" and os.sep in name)):
        raise InvalidRunName(render(NOT_A_RUN, root=root_path, name=name))
    path = root_path / name
    if not os.path.lexists(path):
        raise RunError(render(NO_SUCH_RUN, name=display_name(name), root=root_path))
    try:
        with root_lock(root_path):
            if path.is_symlink() or not path.is_dir():
                path.unlink()
            else:
                gone = root_path / f"{_DELETED}{uuid.uuid4().hex[:8]}"
                os.rename(path, gone)  # vanish from listings at once, then remove
                shutil.rmtree(gone, ignore_errors=True)
    except OSError as e:
        raise RunError(render(DELETE_FAILED, name=display_name(name), root=root_path,
                              error=e.strerror or e)) from e
    _forget(path)


def sweep_run_name(sweep: str, beta: float) -> str:
    """NAME-b<beta>, e.g. ``sweep1-b0.25``; the run's ``group`` is the sweep id NAME."""
    return f"{sweep}-b{beta:g}"


def unique_run_name(base: str, root: str | os.PathLike[str] = "checkpoints") -> str:
    """``base`` or ``base-2``, ``base-3``… whichever is free (for auto-filled names)."""
    validate_run_name(base)
    root_path = Path(root)
    taken = set(os.listdir(root_path)) if root_path.is_dir() else set()
    # A pair writes NAME-ae and NAME-vae: treat those as taking NAME too.
    def free(n: str) -> bool:
        return not ({n, f"{n}-ae", f"{n}-vae"} & taken)
    if free(base):
        return base
    i = 2
    while not free(f"{base}-{i}"):
        i += 1
    return f"{base}-{i}"
