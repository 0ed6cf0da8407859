"""IDX files, read as a hostile file must be: judged by their headers before their data.

The format of MNIST and Fashion-MNIST (a magic number, the dimensions, then unsigned bytes,
optionally gzipped). Every read is bounded: regular files only, sizes in exact integers, at most
``MAX_IDX_BYTES`` a file, a gzip stream decompressed only as far as its header says, and all
loads of the process together within ``DECODE_BUDGET``. A hosted server takes no typed paths:
its users upload the files (``save_idx_upload``), checked from their headers before anything is
written and kept under a quota. ``data.load_idx_folder`` turns a checked folder into a data set.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import re
import shutil
import threading
import time
import uuid
import zlib
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from vae_core.store.validate import DatasetError, open_regular

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
MAX_IDX_BYTES = 1 << 30  # pixels of one IDX file (MNIST's training images: 47 MB)
MAX_GZIP_RATIO = 1100  # deflate cannot exceed ~1032:1; a header claiming more is a lie
# One upload (a hosted server): MNIST's four files hold 55 million pixels and labels (220 MB as
# float32 in the server's cache); its gzip packs 4.7 pixels a byte, Fashion-MNIST's 1.8.
MAX_UPLOAD_BYTES = 60 * 1024 * 1024  # all files of one upload: MNIST's four .gz files are 11 MB
MAX_UPLOAD_PIXELS = 64 * 1024 * 1024
MAX_PIXELS_PER_UPLOAD_BYTE = 20


def _read_exact(f, n: int, path: Path, what: str, keep: bool = True) -> bytes:
    """Exactly ``n`` bytes from ``f`` in 4 MB chunks (memory grows with what really arrives, so a
    file that lies about its size fails without allocating the claim). ``keep=False`` checks
    that the bytes are there and drops them (a streaming check: one chunk in memory at a time)."""
    parts, left = [], n
    while left > 0:
        chunk = f.read(min(left, 1 << 22))
        if not chunk:
            raise DatasetError(f"{path}: truncated: {what} needs {n:,} bytes, the file ends after "
                               f"{n - left:,}")
        if keep:
            parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_header(f, path: Path, expected_magic: int) -> list[int]:
    """The dimensions an IDX stream's header declares (the stream is left at the data)."""
    head = f.read(4)
    if len(head) < 4:
        raise DatasetError(f"{path}: too short to be an IDX file ({len(head)} bytes)")
    magic = int.from_bytes(head, "big")
    if magic != expected_magic:
        what = "images (2051)" if expected_magic == IDX_IMAGES_MAGIC else "labels (2049)"
        raise DatasetError(f"{path}: wrong magic number {magic}; expected IDX {what}")
    ndim = head[3]
    dims_raw = _read_exact(f, 4 * ndim, path, "the header")
    dims = [int.from_bytes(dims_raw[4 * i: 4 * i + 4], "big") for i in range(ndim)]
    if 0 in dims[1:]:  # zero images is caught by the count checks; zero-height ones here
        raise DatasetError(f"{path}: header says {dims}: images must be at least 1×1")
    if math.prod(dims) > MAX_IDX_BYTES:  # Python integers: (2^31, 2^31, 4) does not wrap to 0
        raise DatasetError(f"{path}: header says {dims} ({math.prod(dims):,} bytes); at most "
                           f"{MAX_IDX_BYTES:,} bytes per file are read")
    return dims


def _check_file_size(path: Path, dims: list[int], file_size: int, gz: bool) -> None:
    """The file's size must match its header (gzip: could hold it at deflate's best ratio)."""
    expected = math.prod(dims)
    bound = file_size * MAX_GZIP_RATIO if gz else file_size - 4 - 4 * len(dims)
    if expected > bound if gz else expected != bound:
        raise DatasetError(f"{path}: truncated or padded: header says {dims} "
                           f"({expected:,} bytes) but the file holds {max(bound, 0):,}")


def read_idx(path: Path, expected_magic: int, keep: bool = True) -> np.ndarray | list[int]:
    """One IDX file (optionally gzipped), judged by its header before its data is read.

    Regular files only (a FIFO or a link to /dev/zero is refused), sizes computed in exact
    integers, at most ``MAX_IDX_BYTES``, and a gzip stream decompressed only as far as the header
    says (plus one byte to detect padding), so a gzip bomb stops early. ``keep=False`` checks the
    whole file the same way without keeping its data and returns the header's dimensions."""
    try:
        with open_regular(path, DatasetError) as raw_file:
            file_size = os.fstat(raw_file.fileno()).st_size
            gz = path.name.endswith(".gz")
            f = gzip.GzipFile(fileobj=raw_file, mode="rb") if gz else raw_file
            dims = _read_header(f, path, expected_magic)
            expected = math.prod(dims)
            _check_file_size(path, dims, file_size, gz)
            data = _read_exact(f, expected, path, f"a {dims} array", keep)
            if f.read(1):
                raise DatasetError(f"{path}: padded: more data than the header's {dims}")
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DatasetError(f"{path}: cannot read ({e})") from e
    if not keep:
        return dims
    return np.frombuffer(data, dtype=np.uint8).reshape(dims).copy()


def _idx_dims(path: Path, expected_magic: int) -> list[int]:
    """The header's dimensions only (a few bytes decompressed), checked against the file size."""
    try:
        with open_regular(path, DatasetError) as raw_file:
            gz = path.name.endswith(".gz")
            f = gzip.GzipFile(fileobj=raw_file, mode="rb") if gz else raw_file
            dims = _read_header(f, path, expected_magic)
            _check_file_size(path, dims, os.fstat(raw_file.fileno()).st_size, gz)
            return dims
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DatasetError(f"{path}: cannot read ({e})") from e


class DecodeBudget:
    """Bytes of IDX data that this process may hold decoded at once, summed over every load in
    flight (all sessions share the process): a load reserves what its headers claim before it
    reads, waits up to ``wait_s`` for room, then fails with a message instead of piling up. A
    load larger than the whole budget (a big local folder, from the CLI) runs alone."""

    def __init__(self, limit: int, wait_s: float = 20.0):
        self.limit, self.wait_s, self.used = limit, wait_s, 0
        self._room = threading.Condition()

    @contextmanager
    def hold(self, n: int) -> Iterator[None]:
        with self._room:
            if not self._room.wait_for(lambda: self.used + n <= self.limit or not self.used,
                                       timeout=self.wait_s):
                raise DatasetError(f"The server is loading other data sets ({self.used:,} of "
                                   f"{self.limit:,} bytes in use); try again in a minute")
            self.used += n
        try:
            yield
        finally:
            with self._room:
                self.used -= n
                self._room.notify_all()


# Two MNIST-sized loads at once. What a finished load keeps is bounded by the callers' caches.
DECODE_BUDGET = DecodeBudget(2 * MAX_UPLOAD_PIXELS)


def _find_idx_pairs(folder: Path) -> dict[str, tuple[Path, Path]]:
    """Map split ('train'/'test') to (images, labels) files present in ``folder``."""
    pairs: dict[str, tuple[Path, Path]] = {}
    for images in sorted(folder.iterdir()):
        name = images.name
        if "images-idx3-ubyte" not in name and "images.idx3-ubyte" not in name:
            continue
        labels_name = name.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1")
        candidates = [folder / labels_name, folder / labels_name.removesuffix(".gz"),
                      folder / (labels_name + ".gz")]
        labels = next((c for c in candidates if c.is_file()), None)
        if labels is None:
            raise DatasetError(f"{images}: no matching labels file ({labels_name}) in {folder}")
        split = "test" if name.startswith(("t10k", "test")) else "train"
        pairs.setdefault(split, (images, labels))
    return pairs


def idx_plan(folder: str | os.PathLike[str]) -> tuple[Path, dict[str, tuple[Path, Path]], int]:
    """The folder, its (images, labels) per split, and the bytes their headers claim, with every
    check that headers alone allow (shapes, counts) done before any data is decompressed."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise DatasetError(f"{path}: not a folder. Give a folder holding IDX files such as "
                           "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    pairs = _find_idx_pairs(path)
    if not pairs:
        raise DatasetError(f"{path}: no IDX image files found (expected names like "
                           "train-images-idx3-ubyte.gz with train-labels-idx1-ubyte.gz)")
    total, shapes = 0, {}
    for split, (img_path, lab_path) in pairs.items():
        images, labels = _idx_dims(img_path, IDX_IMAGES_MAGIC), _idx_dims(lab_path, IDX_LABELS_MAGIC)
        if len(images) != 3:
            raise DatasetError(f"{img_path}: expected 3 dimensions (N, H, W), got {tuple(images)}")
        if len(labels) != 1:
            raise DatasetError(f"{lab_path}: expected 1 dimension (N,), got {tuple(labels)}")
        if images[0] != labels[0]:
            raise DatasetError(f"{img_path} holds {images[0]} images but {lab_path} holds "
                               f"{labels[0]} labels")
        if images[0] < 2:
            raise DatasetError(f"{img_path}: needs at least 2 images, got {images[0]}")
        shapes[split] = tuple(images[1:])
        total += math.prod(images) + labels[0]
    if len(set(shapes.values())) > 1:
        raise DatasetError(f"{path}: train images are {shapes['train']} but test images "
                           f"are {shapes['test']}")
    return path, pairs, total


def check_idx_folder(folder: str | os.PathLike[str]) -> int:
    """Every check ``data.load_idx_folder`` makes (headers, lengths, padding), streaming: the images
    are decompressed a chunk at a time and dropped. Returns the bytes a load would decode."""
    _, pairs, total = idx_plan(folder)
    for img_path, lab_path in pairs.values():
        read_idx(img_path, IDX_IMAGES_MAGIC, keep=False)
        read_idx(lab_path, IDX_LABELS_MAGIC, keep=False)
    return total


# --- uploaded IDX files (a hosted server: no typed paths) ---------------------------------------

UPLOADS_FOLDER = "uploads"
IDX_UPLOAD_NAME = re.compile(r"(train|t10k|test)-(images-idx3|labels-idx1)-ubyte(\.gz)?")
UPLOADS_QUOTA_BYTES = 1 << 30  # all upload folders together; the oldest unused go first
UPLOAD_KEEP_S = 3600.0  # an upload used within the last hour is never removed for room


def upload_cost(files: Mapping[str, bytes]) -> int:
    """The bytes ``files`` would decode to, from their headers alone (a few bytes of each gzip
    stream are decompressed), refused with ``DatasetError`` when over ``MAX_UPLOAD_PIXELS`` or
    more than ``MAX_PIXELS_PER_UPLOAD_BYTE`` times the upload's own size (a gzip bomb)."""
    total = 0
    for name, content in files.items():
        magic = IDX_LABELS_MAGIC if "labels" in name else IDX_IMAGES_MAGIC
        try:
            f = io.BytesIO(content)
            dims = _read_header(gzip.GzipFile(fileobj=f) if name.endswith(".gz") else f, Path(name),
                                magic)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{name}: cannot read ({e})") from e
        total += math.prod(dims)
    size = sum(len(b) for b in files.values())
    if total > MAX_UPLOAD_PIXELS:
        raise DatasetError(f"The files' headers claim {total:,} bytes of pixels and labels; at "
                           f"most {MAX_UPLOAD_PIXELS:,} per upload (MNIST holds 55 million)")
    if total > MAX_PIXELS_PER_UPLOAD_BYTE * size:
        raise DatasetError(f"The files' headers claim {total:,} bytes of pixels and labels from "
                           f"{size:,} bytes uploaded: more than {MAX_PIXELS_PER_UPLOAD_BYTE} per "
                           "byte, which real image files never compress to")
    return total


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _make_room(uploads: Path, needed: int, in_use: Collection[str]) -> None:
    """Remove the least recently used upload folders (never one a saved run names in ``in_use``
    or one used within ``UPLOAD_KEEP_S``) until ``needed`` more bytes fit the quota."""
    if not uploads.is_dir():
        return
    folders = sorted((p for p in uploads.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime)
    used = sum(_folder_bytes(p) for p in folders)
    keep = {str(Path(s.removeprefix("idx:")).expanduser().resolve()) for s in in_use}
    for folder in folders:
        if used + needed <= UPLOADS_QUOTA_BYTES:
            return
        if str(folder.resolve()) in keep or time.time() - folder.stat().st_mtime < UPLOAD_KEEP_S:
            continue
        size = _folder_bytes(folder)
        shutil.rmtree(folder, ignore_errors=True)
        used -= size
    if used + needed > UPLOADS_QUOTA_BYTES:
        raise DatasetError(f"The server's space for uploads is full ({used / 2**20:.0f} of "
                           f"{UPLOADS_QUOTA_BYTES / 2**20:.0f} MB, all in use); ask the teacher")


def save_idx_upload(files: Mapping[str, bytes], data_root: str | os.PathLike[str],
                    in_use: Collection[str] = ()) -> str:
    """Save uploaded IDX files into their own folder under ``data_root/uploads`` and return the
    data set spec (``idx:FOLDER``), which ``data.check_run_dataset`` accepts for saved runs later.

    ``files`` maps the uploaded names (only the IDX names such as ``train-images-idx3-ubyte.gz``
    are accepted; a path in a name is refused) to their bytes, at most ``MAX_UPLOAD_BYTES`` in
    all, whose decoded size ``upload_cost`` bounds from the headers before anything is written.
    The folder is named by a hash of the content, so the same upload is saved once (and marked
    used again). The files are checked streaming (``check_idx_folder``: the data set is loaded
    once, later, by its user) before the folder is made visible: a bad upload raises
    ``DatasetError`` and leaves nothing behind. Upload folders share ``UPLOADS_QUOTA_BYTES``;
    ``in_use``: the data set specs of saved runs, whose folders are kept. Messages name the
    uploaded files, never a folder of the server."""
    if not files:
        raise DatasetError("Upload the IDX files: an images file and its labels file "
                           "(e.g. train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz)")
    for name in files:
        if not IDX_UPLOAD_NAME.fullmatch(name):
            raise DatasetError(f"{name!r} is not an IDX file name: expected "
                               "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                               "t10k-images-idx3-ubyte[.gz] or t10k-labels-idx1-ubyte[.gz]")
    total = sum(len(b) for b in files.values())
    if total > MAX_UPLOAD_BYTES:
        raise DatasetError(f"The upload holds {total / 2**20:.1f} MB; at most "
                           f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB in all")
    upload_cost(files)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    uploads = Path(data_root).expanduser().resolve() / UPLOADS_FOLDER
    final = uploads / digest.hexdigest()[:24]
    if final.is_dir():
        os.utime(final)  # used again: the last to be removed for room
        return f"idx:{final}"
    tmp = uploads / f".tmp-{uuid.uuid4().hex[:8]}"
    try:
        _make_room(uploads, total, in_use)
        tmp.mkdir(parents=True)
        for name, content in files.items():
            (tmp / name).write_bytes(content)
        try:
            check_idx_folder(tmp)  # refuse a bad upload before it becomes visible
        except DatasetError as e:  # name the files as the user named them
            raise DatasetError(str(e).replace(f"{tmp}{os.sep}", "").replace(str(tmp),
                                                                            "the upload")) from None
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # else: the same upload, saved meanwhile by another session
                raise
    except OSError as e:
        raise DatasetError(f"Could not save the upload on the server ({e.strerror or e})") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return f"idx:{final}"
