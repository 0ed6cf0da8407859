"""The one validation layer for everything VAE Lab reads from disk or from a user.

Every file or value may be hostile: a run.json typed by hand, a weights file that claims a
terabyte, a FIFO named like an IDX file. The checks here are cheap and bounded *before* any
allocation proportional to what a file claims:

- ``open_regular`` / ``read_json``: regular files only (no FIFO, device or link to one), a size
  cap, JSON of bounded nesting with no ``NaN``/``Infinity`` constants;
- ``integer`` / ``number`` / ``text``: typed fields (``True`` is not an integer, ``Infinity`` not a
  width), used by the config dataclasses and the run/cache schemas;
- ``state_shapes`` / ``parameter_count`` / ``check_model_size``: a model's tensors from its
  ``ModelConfig``, the model built on the ``meta`` device (shapes, no storage), so a config is
  bounded before anything is allocated;
- ``safetensors_header`` / ``check_weights`` / ``weights_finite``: a weights file judged from its
  header alone (the safetensors library checks names, shapes, offsets and exact length, after a
  bound on the header's size), then scanned in slices for NaN/inf.

Failures raise ``RunError`` (runs, classifier caches) or ``DatasetError`` (data files), each
naming the file; both are defined here and re-exported by ``runs`` and ``data``.
"""
from __future__ import annotations

import functools
import json
import math
import numbers
import os
import stat
import struct
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

import numpy as np

if TYPE_CHECKING:
    from torch import nn

    from vae_core.config import ModelConfig


class RunError(Exception):
    """A run (or a cached classifier) that cannot be saved or loaded; the message names it."""


class DatasetError(RuntimeError):
    """A data set that cannot be loaded; the message says what is wrong and what to do."""


MAX_JSON_DEPTH = 32  # a run.json is 3 levels deep; Python's parser recurses (RecursionError)
MAX_PARAMETERS = 25_000_000  # 100 MB of float32 weights, ~400 MB while training with Adam
MAX_LAYERS = 16
MAX_WIDTH = 8192
MAX_CHANNELS = 4
MAX_SIDE = 1024
MAX_LATENT = 512
MAX_HEADER_BYTES = 1 << 20  # a VAE Lab safetensors header is a few KB
WEIGHTS_DTYPE = "F32"  # what save_run writes; anything else is not ours


# --- files ------------------------------------------------------------------------------------

def open_regular(path: str | os.PathLike[str], error: type[Exception],
                 max_bytes: int | None = None) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (a link to one is fine) of at most
    ``max_bytes`` bytes (when given).

    Opened non-blocking and checked on the open descriptor, so a FIFO cannot hang the reader and
    a file swapped after a check is still judged by what was opened.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise error(f"{path}: cannot open ({e.strerror or e})") from e
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if not stat.S_ISREG(mode):
            kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or
                    stat.S_ISBLK(mode) else "a folder" if stat.S_ISDIR(mode) else "not a file")
            raise error(f"{path}: is {kind}, not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            raise error(f"{path}: {info.st_size:,} bytes, more than the {max_bytes:,} allowed")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str], max_bytes: int, error: type[Exception]) -> bytes:
    """The whole of a regular file of at most ``max_bytes`` bytes."""
    with open_regular(path, error, max_bytes) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{path}: grew past the {max_bytes:,} bytes allowed while being read")
    return data


def json_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text, strings ignored; linear time, no recursion."""
    raw = text.encode("utf-8", "surrogatepass")
    arr = np.frombuffer(raw, dtype=np.uint8)
    if arr.size == 0:
        return 0
    # Bytes inside strings do not count: a quote toggles "in string" unless escaped. Escapes are
    # found by runs of backslashes (an odd run escapes the next byte).
    backslash = arr == ord("\\")
    escaped = np.zeros(arr.size, dtype=bool)
    if backslash.any():
        # Length of the backslash run ending at each position (resets at any other byte).
        idx = np.arange(arr.size)
        last_non = np.maximum.accumulate(np.where(~backslash, idx, -1))
        run = idx - last_non  # 0 where not a backslash
        escaped[1:] = (run[:-1] % 2 == 1)
    quote = (arr == ord('"')) & ~escaped
    in_string = (np.cumsum(quote) % 2 == 1) & ~quote
    opening = ((arr == ord("[")) | (arr == ord("{"))) & ~in_string
    closing = ((arr == ord("]")) | (arr == ord("}"))) & ~in_string
    depth = np.cumsum(opening.astype(np.int64) - closing.astype(np.int64))
    return int(depth.max(initial=0))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_json(path: str | os.PathLike[str], max_bytes: int, error: type[Exception],
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON file: regular, at most ``max_bytes``, UTF-8, nesting at most ``max_depth``,
    standard JSON only (``NaN``/``Infinity`` refused)."""
    data = read_bytes(path, max_bytes, error)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    depth = json_depth(text)
    if depth > max_depth:
        raise error(f"{path}: JSON nested {depth} levels deep (at most {max_depth})")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise error(f"{path}: not valid JSON ({str(e)[:200]})") from e


# --- typed fields (raise ValueError; callers name the file) -----------------------------------

def integer(value: Any, name: str, lo: int, hi: int) -> int:
    """An ``int`` (not a bool, float or string) in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {_short(value)}")
    value = int(value)  # numpy integers from widgets become plain ints
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {_short(value)}")
    return value


def number(value: Any, name: str, lo: float = -math.inf, hi: float = math.inf, *,
           finite: bool = True) -> float:
    """A finite real number (int or float, not a bool) in ``lo..hi`` as a float.

    With ``finite=False`` NaN/inf are accepted, also written as the strings that ``save_run``
    stores for them ("nan", "inf", "-inf"); range bounds then apply to finite values only."""
    if isinstance(value, str) and not finite and value.strip().lower() in ("nan", "inf", "-inf",
                                                                           "infinity", "-infinity"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {_short(value)}")
    try:
        x = float(value)
    except OverflowError as e:
        raise ValueError(f"{name} is too large: {_short(value)}") from e
    if not math.isfinite(x):
        if finite:
            raise ValueError(f"{name} must be a finite number, got {x}")
        return x
    if not lo <= x <= hi:
        raise ValueError(f"{name} must be in {lo:g}..{hi:g}, got {x:g}")
    return x


def text(value: Any, name: str, max_len: int = 4096) -> str:
    """A string of at most ``max_len`` characters, valid Unicode, with no NUL."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {_short(value)}")
    if len(value) > max_len or "\x00" in value:
        raise ValueError(f"{name} must be at most {max_len} characters without NUL")
    try:
        value.encode("utf-8")  # JSON's "\ud800" escapes give lone surrogates: unprintable
    except UnicodeEncodeError as e:
        raise ValueError(f"{name} is not valid Unicode text") from e
    return value


def int_tuple(value: Any, name: str, lo: int, hi: int, min_len: int, max_len: int) -> tuple[int, ...]:
    """A list/tuple of ``min_len..max_len`` integers each in ``lo..hi``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of integers, got {_short(value)}")
    if not min_len <= len(value) <= max_len:
        raise ValueError(f"{name} must have {min_len}..{max_len} entries, got {len(value)}")
    return tuple(integer(v, f"{name}[{i}]", lo, hi) for i, v in enumerate(value))


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


# --- model size from a config, built on the meta device -------------------------------------

def module_shapes(build: Callable[[], "nn.Module"]) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the ``state_dict`` of the module ``build()`` makes, built on PyTorch's
    ``meta`` device: tensors with a shape and no storage, so a config claiming a terabyte of
    weights costs nothing, and the names come from the model code itself."""
    import torch

    with torch.device("meta"):  # a thread-local default device: other sessions are unaffected
        module = build()
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


@functools.lru_cache(maxsize=256)
def _model_shapes(cfg: "ModelConfig") -> tuple[tuple[str, tuple[int, ...]], ...]:
    from vae_core.models import build_model

    return tuple(module_shapes(lambda: build_model(cfg)).items())


def state_shapes(cfg: "ModelConfig") -> dict[str, tuple[int, ...]]:
    """Names and shapes of ``build_model(cfg).state_dict()``, from the model built on the meta
    device (cached per config): a config is bounded and a file's header checked with nothing
    allocated."""
    return dict(_model_shapes(cfg))


def parameter_count(cfg: "ModelConfig") -> int:
    """How many numbers ``build_model(cfg)`` would hold (exact Python integers, no overflow), from
    the layer widths alone: every ``ModelConfig`` is bounded with this, and a cold server lists its
    runs before torch is loaded (tests compare it with the models built). MLP: dense layers
    image -> hidden... -> head, latent -> reversed hidden -> image. Conv: 3x3 stride-2 convs
    (ceil halving) down, a dense layer to and from the last feature map, transposed convs up."""
    c, h, w = cfg.input_shape
    hidden = list(cfg.hidden)
    head = cfg.latent_dim * (2 if cfg.kind == "vae" else 1)

    def dense(widths: list[int]) -> int:
        return sum(a * b + b for a, b in zip(widths, widths[1:]))

    def conv(channels: list[int]) -> int:
        return sum(9 * a * b + b for a, b in zip(channels, channels[1:]))

    if cfg.arch == "mlp":
        return (dense([c * h * w, *hidden, head])
                + dense([cfg.latent_dim, *reversed(hidden), c * h * w]))
    for _ in hidden:
        h, w = (h + 1) // 2, (w + 1) // 2
    features = hidden[-1] * h * w
    return (conv([c, *hidden]) + dense([features, head])
            + dense([cfg.latent_dim, features]) + conv([*reversed(hidden), c]))


def check_model_size(cfg: "ModelConfig") -> None:
    """Refuse a config whose model would exceed ``MAX_PARAMETERS``, before anything is built."""
    n = parameter_count(cfg)
    if n > MAX_PARAMETERS:
        raise ValueError(f"this model would have {n:,} parameters ({4 * n / 1e9:.1f} GB of "
                         f"float32 weights); VAE Lab builds at most {MAX_PARAMETERS:,}. "
                         "Use fewer or narrower hidden layers or smaller images.")


# --- safetensors weights ----------------------------------------------------------------------

def safetensors_header(path: str | os.PathLike[str], error: type[Exception],
                       max_bytes: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` of a safetensors file, from its header alone.

    The safetensors library parses the header and checks that every tensor's byte range fits its
    dtype and shape and that the ranges tile the data exactly to the end of the file. Checked
    here first, on the opened file: a regular file of at most ``max_bytes``, whose 8-byte header
    length is at most ``MAX_HEADER_BYTES`` (the library would read up to 100 MB of header)."""
    from safetensors import SafetensorError, safe_open

    with open_regular(path, error, max_bytes) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
    if len(head) < 8:
        raise error(f"{path}: not a valid safetensors file (too short)")
    (n,) = struct.unpack("<Q", head)
    if n > min(MAX_HEADER_BYTES, size - 8):
        raise error(f"{path}: not a valid safetensors file (a header of {n:,} bytes)")
    try:
        with safe_open(str(path), framework="numpy") as st:
            return {name: (st.get_slice(name).get_dtype(), tuple(st.get_slice(name).get_shape()))
                    for name in st.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise error(f"{path}: not a valid safetensors file ({str(e)[:200]})") from e


def check_weights(path: str | os.PathLike[str], expected: dict[str, tuple[int, ...]],
                  error: type[Exception], max_bytes: int) -> None:
    """A weights file whose float32 tensors are exactly ``expected``, judged from its header."""
    tensors = safetensors_header(path, error, max_bytes)
    names = set(tensors)
    if names != set(expected):
        missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
        raise error(f"{path}: weights do not fit the config (missing {missing[:3]}, "
                    f"unexpected {extra[:3]})")
    for name, (dtype, shape) in tensors.items():
        if dtype != WEIGHTS_DTYPE:
            raise error(f"{path}: {name} is {dtype}, expected {WEIGHTS_DTYPE}")
        if shape != tuple(expected[name]):
            raise error(f"{path}: {name} has shape {shape}, the config needs {expected[name]}")


def check_weights_size(path: str | os.PathLike[str], cfg: "ModelConfig", error: type[Exception],
                       max_bytes: int) -> None:
    """A weights file of float32 tensors holding as many numbers as the config's model, judged from
    its header without torch (a run listing on a cold server); ``check_weights`` compares every
    name and shape when the run is loaded."""
    tensors = safetensors_header(path, error, max_bytes)
    for name, (dtype, _shape) in tensors.items():
        if dtype != WEIGHTS_DTYPE:
            raise error(f"{path}: {name} is {dtype}, expected {WEIGHTS_DTYPE}")
    held, needed = sum(math.prod(shape) for _dtype, shape in tensors.values()), parameter_count(cfg)
    if held != needed:
        raise error(f"{path}: weights do not fit the config ({held:,} numbers, the config "
                    f"needs {needed:,})")


def weights_finite(path: str | os.PathLike[str], error: type[Exception],
                   chunk_bytes: int = 1 << 22) -> bool:
    """Whether every value of a checked float32 weights file is finite, read through the
    library's slices a few rows (about 4 MB) at a time: no tensor is loaded whole."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as st:
            for name in st.keys():
                part = st.get_slice(name)
                shape = part.get_shape()
                if not shape:  # a scalar
                    if not np.isfinite(st.get_tensor(name)).all():
                        return False
                    continue
                step = max(1, chunk_bytes // max(1, 4 * math.prod(shape[1:])))
                for i in range(0, shape[0], step):
                    if not np.isfinite(part[i:min(i + step, shape[0])]).all():
                        return False
    except (SafetensorError, OSError, ValueError) as e:
        raise error(f"{path}: not a valid safetensors file ({str(e)[:200]})") from e
    return True


# --- user-typed settings ----------------------------------------------------------------------

def check_device(name: str) -> None:
    """Refuse a device name torch does not know, or one this machine does not have."""
    import torch

    if name == "auto":
        return
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(f"device {name!r} is not a device: use auto, cpu, cuda, cuda:N or mps") from e
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(f"device {name!r} is not available: this machine has "
                             f"{count} CUDA device(s); use auto or cpu")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {name!r} is not available on this machine; use auto or cpu")
    elif device.type != "cpu":
        raise ValueError(f"device {name!r} is not supported: use auto, cpu, cuda or mps")


def check_writable_folder(path: str | os.PathLike[str], what: str) -> None:
    """``path`` is a folder we can write in (created if missing), tested by writing a file:
    permission bits say nothing to root, and /proc or a read-only mount only fail on write."""
    import tempfile

    if os.path.lexists(path) and not os.path.isdir(path):
        raise ValueError(f"{what} {path} is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValueError(f"{what} {path} is not a writable folder ({e.strerror or e})") from e
