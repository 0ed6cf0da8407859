"""Data sets as in-memory tensors: the bundled digits, MNIST, Fashion-MNIST, a folder of IDX files.

Every source returns the same ``ImageDataset``: float images in [0, 1] shaped (N, 1, H, W),
int64 labels and class names. Training slices these tensors directly (no per-sample PIL images,
no DataLoader), which is what makes small runs take seconds on a laptop CPU.
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
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np

from vae_core.text import N_, Translate, no_translation
from vae_core.store.validate import DatasetError, open_regular

if TYPE_CHECKING:  # torch is imported by the loaders: labels and checks of data sets need none
    import torch

DIGITS = "digits"
MNIST = "mnist"
FASHION_MNIST = "fashion-mnist"
# Every name that loads a known data set anywhere (a worker loads these itself; folders are shipped).
NAMED_DATASETS = (DIGITS, MNIST, FASHION_MNIST, "fashion", "fashionmnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
SPLIT_SEED = 0  # fixed: the same data set spec always gives the same train/test split
TEST_FRACTION = 0.2


MAX_IDX_BYTES = 1 << 30  # pixels of one IDX file (MNIST's training images: 47 MB)
MAX_GZIP_RATIO = 1100  # deflate cannot exceed ~1032:1; a header claiming more is a lie
# One upload (a hosted server): MNIST's four files hold 55 million pixels and labels (220 MB as
# float32 in the server's cache); its gzip packs 4.7 pixels a byte, Fashion-MNIST's 1.8.
MAX_UPLOAD_BYTES = 60 * 1024 * 1024  # all files of one upload: MNIST's four .gz files are 11 MB
MAX_UPLOAD_PIXELS = 64 * 1024 * 1024
MAX_PIXELS_PER_UPLOAD_BYTE = 20


DOWNLOAD_FAILED = N_("Could not download {dataset} ({error}).")


class DownloadError(DatasetError):
    """A torchvision data set that could not be downloaded (offline). ``summary`` says what
    failed (``DOWNLOAD_FAILED`` filled with ``dataset`` and ``error``) and ``folder`` where its
    IDX files go, so a front end can word its own advice, in its own language; the message itself
    gives the command line's (``--dataset idx:PATH``)."""

    def __init__(self, dataset: str, error: str, folder: Path):
        self.dataset, self.error, self.folder = dataset, error, folder
        self.summary = DOWNLOAD_FAILED.format(dataset=dataset, error=error)
        super().__init__(
            f"{self.summary} If this machine is offline, copy the four IDX files (train-images-idx3-ubyte.gz, "
            f"train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
            f"into {folder}, or train on any folder of IDX files with --dataset idx:PATH. "
            f"The bundled 'digits' data set always works offline.")


@dataclass(frozen=True)
class ImageDataset:
    name: str
    train_x: torch.Tensor  # (N, 1, H, W) float32 in [0, 1] (uint8 0..255 on a worker: as_float_images)
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor
    test_y: torch.Tensor
    class_names: tuple[str, ...]
    note: str = ""  # a template marked for the catalogs, e.g. "only the {split} split present…"
    note_values: tuple[tuple[str, str], ...] = ()  # its placeholders' values

    def described(self, gettext: Translate = no_translation) -> str:
        """The note with its values, in ``gettext``'s language."""
        return gettext(self.note).format(**dict(self.note_values)) if self.note else ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (f"ImageDataset({self.name!r}, train={len(self.train_x)}, test={len(self.test_x)}, "
                f"shape={self.image_shape}, classes={len(self.class_names)})")


def _to_float_images(images: np.ndarray | torch.Tensor, scale: float) -> torch.Tensor:
    import torch

    t = torch.as_tensor(images)
    return (t.to(torch.float32) / scale).unsqueeze(1).contiguous()


def as_float_images(x: torch.Tensor) -> torch.Tensor:
    """Images as float32 in [0, 1]: uint8 pixels (0..255, how IDX files and a worker's shipped
    data keep them, a quarter of the memory) are divided by 255; floats pass through."""
    import torch

    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


def _seeded_split(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    import torch

    g = torch.Generator().manual_seed(SPLIT_SEED)
    perm = torch.randperm(len(x), generator=g)
    n_test = max(1, int(round(len(x) * TEST_FRACTION)))
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits table, read straight from its package data: importing
    ``sklearn.datasets`` costs over a second of the dashboard's cold start."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    csv = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if csv is not None and csv.is_file():
        table = np.loadtxt(csv, delimiter=",", dtype=np.float32)  # 64 pixels then the label
        return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as sk_load_digits  # layout changed: the public API

    bunch = sk_load_digits()
    return bunch.images, bunch.target


def load_digits() -> ImageDataset:
    """The 1,797 real 8x8 handwritten digits shipped inside scikit-learn: always offline."""
    import torch

    images, labels = _digits_arrays()
    x = _to_float_images(images, 16.0)  # pixel values are 0..16
    y = torch.as_tensor(labels, dtype=torch.int64)
    tx, ty, vx, vy = _seeded_split(x, y)
    return ImageDataset(DIGITS, tx, ty, vx, vy, tuple(str(i) for i in range(10)),
                        note=N_("scikit-learn's 8x8 digits, 80/20 split with seed 0"))


# --- IDX files ---------------------------------------------------------------------------------

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


def _read_idx(path: Path, expected_magic: int, keep: bool = True) -> np.ndarray | list[int]:
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


def _idx_plan(folder: str | os.PathLike[str]) -> tuple[Path, dict[str, tuple[Path, Path]], int]:
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
    """Every check ``load_idx_folder`` makes (headers, lengths, padding), streaming: the images
    are decompressed a chunk at a time and dropped. Returns the bytes a load would decode."""
    _, pairs, total = _idx_plan(folder)
    for img_path, lab_path in pairs.values():
        _read_idx(img_path, IDX_IMAGES_MAGIC, keep=False)
        _read_idx(lab_path, IDX_LABELS_MAGIC, keep=False)
    return total


def load_idx_folder(folder: str | os.PathLike[str], class_names: tuple[str, ...] | None = None) -> ImageDataset:
    """Images and labels from IDX files (``*-images-idx3-ubyte[.gz]`` + matching labels).

    With both splits present they are used as they are; with one, it is split 80/20 (seed 0).
    The headers are checked first, and the bytes they claim reserved in ``DECODE_BUDGET``.
    """
    import torch

    path, pairs, total = _idx_plan(folder)
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    with DECODE_BUDGET.hold(total):
        for split, (img_path, lab_path) in pairs.items():
            images = _read_idx(img_path, IDX_IMAGES_MAGIC)
            labels = _read_idx(lab_path, IDX_LABELS_MAGIC)
            splits[split] = (_to_float_images(images, 255.0),
                             torch.as_tensor(labels, dtype=torch.int64))
            del images
    if "train" in splits and "test" in splits:
        tx, ty = splits["train"]
        vx, vy = splits["test"]
        note, note_values = N_("train and test splits from IDX files"), ()
    else:
        (only, (x, y)), = splits.items()
        tx, ty, vx, vy = _seeded_split(x, y)
        note = N_("only the {split} split present: split 80/20 with seed {seed}")
        note_values = (("split", only), ("seed", str(SPLIT_SEED)))
    n_classes = int(max(ty.max(), vy.max())) + 1
    names = class_names if class_names and len(class_names) >= n_classes else tuple(
        str(i) for i in range(n_classes))
    return ImageDataset(f"idx:{path}", tx, ty, vx, vy, names, note=note, note_values=note_values)


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
    data set spec (``idx:FOLDER``), which ``check_run_dataset`` accepts for saved runs later.

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


def dataset_label(spec: str) -> str:
    """A data set spec as visitors see it: an upload folder by its short hash ("upload
    3f2a9c1b"), never the server's path; other specs unchanged."""
    path = Path(spec.removeprefix("idx:"))
    if spec.startswith("idx:") and path.parent.name == UPLOADS_FOLDER:
        return f"upload {path.name[:8]}"
    return spec


# --- torchvision -------------------------------------------------------------------------------

def _load_torchvision(spec: str, root: str | os.PathLike[str]) -> ImageDataset:
    from torchvision import datasets

    cls, folder, names = ((datasets.MNIST, "MNIST", tuple(str(i) for i in range(10)))
                          if spec == MNIST else
                          (datasets.FashionMNIST, "FashionMNIST", FASHION_CLASSES))
    raw = Path(root) / folder / "raw"
    try:
        train = cls(str(root), train=True, download=True)
        test = cls(str(root), train=False, download=True)
    except Exception as e:  # torchvision raises RuntimeError/URLError/OSError offline
        raise DownloadError(spec, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}",
                            raw.resolve()) from e
    return ImageDataset(spec, _to_float_images(train.data, 255.0), train.targets.long(),
                        _to_float_images(test.data, 255.0), test.targets.long(), names,
                        note=N_("torchvision {folder} in {path}"),
                        note_values=(("folder", folder), ("path", str(Path(root) / folder))))


def load_dataset(spec: str = DIGITS, root: str | os.PathLike[str] = "data") -> ImageDataset:
    """Load a data set by spec: ``"digits"`` (default, offline), ``"mnist"``, ``"fashion-mnist"``
    (torchvision, downloaded into ``root``), ``"idx:PATH"`` or a folder path of IDX files.

    Raises ``DatasetError`` with a message meant for the user.
    """
    spec = (spec or DIGITS).strip()
    key = spec.lower()
    if key == DIGITS:
        return load_digits()
    if key in NAMED_DATASETS:  # digits returned above
        return _load_torchvision(MNIST if key == MNIST else FASHION_MNIST, root)
    folder = spec[4:] if key.startswith("idx:") else spec
    if key.startswith("idx:") or Path(folder).expanduser().is_dir():
        names = FASHION_CLASSES if "fashion" in folder.lower() else None
        return load_idx_folder(folder, names)
    raise DatasetError(f"Unknown data set {spec!r}: use 'digits', 'mnist', 'fashion-mnist', "
                       "or 'idx:PATH' for a folder of IDX files")


def check_run_dataset(spec: str, data_root: str | os.PathLike[str]) -> str:
    """The data set spec a saved run names, if it is safe for a server to load: a known name, or
    a folder of IDX files inside ``data_root`` (a run.json must not point anywhere on disk).
    Returns ``spec`` unchanged; raises ``DatasetError`` otherwise."""
    spec = (spec or DIGITS).strip()
    key = spec.lower()
    if key in NAMED_DATASETS:
        return spec
    folder = Path(spec[4:] if key.startswith("idx:") else spec).expanduser()
    root = Path(data_root).expanduser().resolve()
    target = folder.resolve()  # links resolved: a link inside the data folder may point out
    if not folder.is_absolute() or (target != root and root not in target.parents):
        raise DatasetError(f"The run names the data set {spec!r}, not a folder inside the "
                           "server's data folder (VAE_LAB_DATA); only 'digits', 'mnist', "
                           "'fashion-mnist' or IDX folders inside it are loaded for saved runs. "
                           "Copy the IDX files there.")
    return spec
