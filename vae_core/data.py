"""Data sets as in-memory tensors: the bundled digits, MNIST, Fashion-MNIST, a folder of IDX files.

Every source returns the same ``ImageDataset``: float images in [0, 1] shaped (N, 1, H, W),
int64 labels and class names. Training slices these tensors directly (no per-sample PIL images,
no DataLoader), which is what makes small runs take seconds on a laptop CPU. Reading IDX files
(and uploads of them) within the bounds a hostile file needs is ``store/idx.py``'s job.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np

from vae_core.store.idx import (DECODE_BUDGET, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, UPLOADS_FOLDER,
                                idx_plan, read_idx)
from vae_core.store.validate import DatasetError
from vae_core.text import N_, Translate, no_translation

if TYPE_CHECKING:  # torch is imported by the loaders: labels and checks of data sets need none
    import torch

DIGITS = "digits"
MNIST = "mnist"
FASHION_MNIST = "fashion-mnist"
# Every name that loads a known data set anywhere (a worker loads these itself; folders are shipped).
NAMED_DATASETS = (DIGITS, MNIST, FASHION_MNIST, "fashion", "fashionmnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLIT_SEED = 0  # fixed: the same data set spec always gives the same train/test split
TEST_FRACTION = 0.2

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


# --- IDX files (read within the bounds of store/idx.py) -----------------------------------------

def load_idx_folder(folder: str | os.PathLike[str], class_names: tuple[str, ...] | None = None) -> ImageDataset:
    """Images and labels from IDX files (``*-images-idx3-ubyte[.gz]`` + matching labels).

    With both splits present they are used as they are; with one, it is split 80/20 (seed 0).
    The headers are checked first, and the bytes they claim reserved in ``DECODE_BUDGET``.
    """
    import torch

    path, pairs, total = idx_plan(folder)
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    with DECODE_BUDGET.hold(total):
        for split, (img_path, lab_path) in pairs.items():
            images = read_idx(img_path, IDX_IMAGES_MAGIC)
            labels = read_idx(lab_path, IDX_LABELS_MAGIC)
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
