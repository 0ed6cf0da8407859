"""Data sources: bundled digits, IDX folders (good and bad files), torchvision offline failure."""
from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_core import DatasetError, load_dataset
from vae_core.data import DownloadError
from vae_core.store.idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC

from helpers import SHARED_MNIST


def write_idx(path: Path, array: np.ndarray, magic: int, gz: bool = True, truncate: int = 0) -> Path:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if truncate:
        raw = raw[:-truncate]
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def make_idx_folder(folder: Path, n: int = 50, splits=("t10k",), size: int = 6, gz: bool = True) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for split in splits:
        write_idx(folder / f"{split}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, size, size)),
                  IDX_IMAGES_MAGIC, gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", rng.integers(0, 10, n),
                  IDX_LABELS_MAGIC, gz)
    return folder


def test_digits_is_real_seeded_and_in_range(digits):
    assert digits.image_shape == (1, 8, 8)
    assert len(digits.train_x) + len(digits.test_x) == 1797
    assert digits.train_x.dtype == torch.float32 and digits.train_y.dtype == torch.int64
    assert 0.0 <= float(digits.train_x.min()) and float(digits.train_x.max()) <= 1.0
    assert set(digits.test_y.tolist()) == set(range(10))
    again = load_dataset("digits")
    assert torch.equal(again.test_x, digits.test_x)  # fixed split


def test_idx_single_split_is_split_seeded(tmp_path):
    folder = make_idx_folder(tmp_path / "one", n=50)
    ds = load_dataset(f"idx:{folder}")
    assert ds.image_shape == (1, 6, 6)
    assert (len(ds.train_x), len(ds.test_x)) == (40, 10)
    assert torch.equal(load_dataset(str(folder)).test_y, ds.test_y)  # a bare path works too
    assert "split" in ds.note


def test_idx_both_splits_plain_files(tmp_path):
    folder = make_idx_folder(tmp_path / "both", n=20, splits=("train", "t10k"), gz=False)
    ds = load_dataset(f"idx:{folder}")
    assert (len(ds.train_x), len(ds.test_x)) == (20, 20)


@pytest.mark.parametrize("damage, message", [
    ("magic", "wrong magic number"),
    ("truncate", "truncated"),
    ("count", "holds 50 images but"),
    ("nolabels", "no matching labels"),
])
def test_idx_bad_files_name_the_file(tmp_path, damage, message):
    folder = make_idx_folder(tmp_path / "bad", n=50)
    images = folder / "t10k-images-idx3-ubyte.gz"
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    rng = np.random.default_rng(1)
    if damage == "magic":
        write_idx(images, rng.integers(0, 256, (50, 6, 6)), IDX_LABELS_MAGIC)
    elif damage == "truncate":
        write_idx(images, rng.integers(0, 256, (50, 6, 6)), IDX_IMAGES_MAGIC, truncate=7)
    elif damage == "count":
        write_idx(labels, rng.integers(0, 10, 49), IDX_LABELS_MAGIC)
    else:
        labels.unlink()
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset(f"idx:{folder}")
    assert "t10k-" in str(info.value)


def test_idx_folder_without_idx_files(tmp_path):
    (tmp_path / "readme.txt").write_text("not data")
    with pytest.raises(DatasetError, match="no IDX image files"):
        load_dataset(f"idx:{tmp_path}")
    with pytest.raises(DatasetError, match="not a folder"):
        load_dataset(f"idx:{tmp_path / 'missing'}")
    with pytest.raises(DatasetError, match="Unknown data set"):
        load_dataset("imagenet")


def test_mnist_offline_fails_fast_with_instructions(tmp_path):
    start = time.perf_counter()
    try:
        ds = load_dataset("mnist", root=tmp_path)
    except DatasetError as e:
        assert time.perf_counter() - start < 30
        assert "digits" in str(e) and "MNIST" in str(e) and "--dataset idx:PATH" in str(e)
        assert isinstance(e, DownloadError) and str(e.folder) in str(e)  # a front end words its own
    else:  # a machine with internet: then it must be real MNIST
        assert ds.image_shape == (1, 28, 28) and len(ds.train_x) == 60000


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="shared MNIST test split not present")
def test_real_mnist_test_split_folder():
    ds = load_dataset(f"idx:{SHARED_MNIST}")
    assert ds.image_shape == (1, 28, 28)
    assert (len(ds.train_x), len(ds.test_x)) == (8000, 2000)
    assert ds.class_names == tuple(str(i) for i in range(10))
