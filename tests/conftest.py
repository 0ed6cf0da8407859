"""Shared fixtures: the real digits data set and a tiny real AE+VAE pair saved to a temp folder.

Torch runs on one thread in the whole test process, set before anything else imports torch's
thread pool: these tiny models gain nothing from more, and on a busy 2-core machine two OpenMP
threads waited on each other (300 classifier steps: 34 s with 2 threads, 1.1 s with 1).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # child processes (CLI, training jobs) too
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

from streamlit import config as _streamlit_config  # noqa: E402

# .streamlit/config.toml hides exception details from visitors ("none"); AppTest reads that file
# too, and a failing test should name the exception it saw.
_streamlit_config.set_option("client.showErrorDetails", "full")

import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from helpers import train_and_save  # noqa: E402
from vae_core import ModelConfig, TrainConfig, load_dataset  # noqa: E402
from vae_core.analysis.classifier import CACHE_DIR as JUDGE_CACHE  # noqa: E402
from vae_core.analysis.classifier import load_or_train  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def pair_root(tmp_path_factory, digits) -> Path:
    """A checkpoints folder holding a small real AE+VAE pair on digits (latent 2)."""
    root = tmp_path_factory.mktemp("checkpoints")
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(64, 32), input_shape=digits.image_shape)
    # 12 epochs at lr 3e-3: 2 active units, test KL 0.57 nats. At 8 epochs, lr 2e-3 the VAE was
    # still collapsed (KL 0.009 nats) and would be saved with status "collapsed".
    tcfg = TrainConfig(epochs=12, batch_size=64, lr=3e-3, beta=1.0, seed=0)
    train_and_save(root, "demo-ae", cfg.with_kind("ae"), tcfg, digits, group="demo")
    train_and_save(root, "demo-vae", cfg, tcfg, digits, group="demo")
    # The judge classifier cached beside the runs (root/.classifiers, as a server keeps it): every
    # copy of this folder loads it instead of training it again (1-2 s a page test). Seeded, so
    # a loaded judge equals a fresh one weight for weight.
    load_or_train(digits, root)
    return root


def use_copy(src: Path, root: Path, monkeypatch) -> Path:
    """A fresh copy of ``src`` at ``root``, the folder the app under test uses
    (VAE_LAB_CHECKPOINTS)."""
    shutil.copytree(src, root)
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    return root


@pytest.fixture
def checkpoints(tmp_path, pair_root, monkeypatch) -> Path:
    """A fresh copy of the pair folder that the app under test uses."""
    return use_copy(pair_root, tmp_path / "checkpoints", monkeypatch)


@pytest.fixture(scope="session")
def pair_view_root(tmp_path_factory, pair_root) -> Path:
    root = tmp_path_factory.mktemp("pair-view") / "checkpoints"
    shutil.copytree(pair_root, root)
    return root


def _file_versions(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.fixture
def pair_view(pair_view_root, monkeypatch) -> Path:
    """The pair for a test that only looks at it: one folder for every such test, and the app's
    caches (codes, scorecards, figures; keyed by run path and file version) kept between them, so
    the first language of a view computes and the others reuse. A test that changed the folder
    fails here: it needs ``checkpoints``."""
    before = _file_versions(pair_view_root)
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(pair_view_root))
    yield pair_view_root
    assert _file_versions(pair_view_root) == before, "the folder changed: use the checkpoints fixture"


@pytest.fixture(scope="session")
def collapsed_root(tmp_path_factory, pair_root, digits) -> Path:
    """The demo AE beside a beta = 8 VAE of the same net: beta 8 collapses within a few epochs."""
    root = tmp_path_factory.mktemp("collapsed")
    for name in ("demo-ae", JUDGE_CACHE):
        shutil.copytree(pair_root / name, root / name)
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(64, 32), input_shape=digits.image_shape)
    path = train_and_save(root, "b8-vae", cfg, TrainConfig(epochs=4, batch_size=64, lr=3e-3, beta=8.0,
                                                            seed=0), digits)
    assert json.loads((path / "run.json").read_text())["status"] == "collapsed"
    return root


@pytest.fixture
def collapsed(tmp_path, collapsed_root, monkeypatch, fresh_streamlit_cache) -> Path:
    return use_copy(collapsed_root, tmp_path / "collapsed", monkeypatch)


@pytest.fixture(scope="session")
def odd_root(tmp_path_factory, pair_root, digits) -> Path:
    """An AE with a 1-d latent space next to a VAE with a 3-d one (a mismatched pair)."""
    root = tmp_path_factory.mktemp("odd-checkpoints")
    shutil.copytree(pair_root / JUDGE_CACHE, root / JUDGE_CACHE)
    tcfg = TrainConfig(epochs=2, batch_size=128, seed=0)
    base = ModelConfig(kind="vae", hidden=(32,), input_shape=digits.image_shape)
    train_and_save(root, "odd-ae", ModelConfig(**{**base.to_dict(), "kind": "ae", "latent_dim": 1}),
                   tcfg, digits, group="odd")
    train_and_save(root, "odd-vae", ModelConfig(**{**base.to_dict(), "latent_dim": 3}), tcfg, digits,
                   group="odd")
    return root


@pytest.fixture
def odd_checkpoints(tmp_path, odd_root, monkeypatch) -> Path:
    return use_copy(odd_root, tmp_path / "odd", monkeypatch)


@pytest.fixture
def empty_checkpoints(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "empty-checkpoints"
    root.mkdir()
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    return root


def sweep_runs(root: Path, digits, betas, group: str = "sw", **train) -> None:
    """A β sweep of tiny VAEs (latent 2, one hidden layer of 32) named as ``plan_runs`` names
    them (``sw-b0.5``); ``train`` overrides TrainConfig's fields, ``kl_warmup_epochs`` may be a
    function of β."""
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(32,), input_shape=digits.image_shape)
    warmup = train.pop("kl_warmup_epochs", 0)
    for beta in betas:
        tcfg = TrainConfig(beta=beta, kl_warmup_epochs=warmup(beta) if callable(warmup) else warmup,
                           **train)
        train_and_save(root, f"{group}-b{beta:g}", cfg, tcfg, digits, group=group)


@pytest.fixture(scope="session")
def sweep_root(tmp_path_factory, pair_root, digits) -> Path:
    """The demo pair beside a β sweep "sw" of β = 0.5 and 2 (2 epochs each)."""
    root = tmp_path_factory.mktemp("sweep")
    shutil.copytree(pair_root, root, dirs_exist_ok=True)
    sweep_runs(root, digits, (0.5, 2.0), epochs=2)
    return root


@pytest.fixture
def sweep_checkpoints(tmp_path, sweep_root, monkeypatch, fresh_streamlit_cache) -> Path:
    return use_copy(sweep_root, tmp_path / "sweep", monkeypatch)


@pytest.fixture(scope="session")
def collapsing_sweep_root(tmp_path_factory, pair_root, digits) -> Path:
    """The demo pair beside a sweep "sw" of β = 0 and β = 40 (with a KL warm-up): β = 40 collapses."""
    root = tmp_path_factory.mktemp("collapsing-sweep")
    shutil.copytree(pair_root, root, dirs_exist_ok=True)
    sweep_runs(root, digits, (0.0, 40.0), epochs=3, seed=0, kl_warmup_epochs=lambda beta: int(beta > 1))
    return root


@pytest.fixture
def collapsing_sweep(tmp_path, collapsing_sweep_root, monkeypatch, fresh_streamlit_cache) -> Path:
    return use_copy(collapsing_sweep_root, tmp_path / "collapsing-sweep", monkeypatch)


@pytest.fixture(scope="session")
def one_kind_root(tmp_path_factory, pair_root, digits) -> Path:
    """VAEs only: the demo VAE and a newer one of latent 3 (no AE to compare with)."""
    root = tmp_path_factory.mktemp("one-kind")
    for name in ("demo-vae", JUDGE_CACHE):
        shutil.copytree(pair_root / name, root / name)
    cfg = ModelConfig(kind="vae", latent_dim=3, hidden=(32,), input_shape=digits.image_shape)
    train_and_save(root, "z3-vae", cfg, TrainConfig(epochs=2, seed=0), digits)
    return root


@pytest.fixture
def one_kind(tmp_path, one_kind_root, monkeypatch, fresh_streamlit_cache) -> Path:
    return use_copy(one_kind_root, tmp_path / "one-kind", monkeypatch)


@pytest.fixture(scope="session")
def latent3_root(tmp_path_factory, digits) -> Path:
    """A pair of latent 3 ("l3-ae", "l3-vae")."""
    root = tmp_path_factory.mktemp("latent3")
    cfg = ModelConfig(kind="vae", latent_dim=3, hidden=(32,), input_shape=digits.image_shape)
    tcfg = TrainConfig(epochs=3, batch_size=128, seed=0)
    train_and_save(root, "l3-ae", cfg.with_kind("ae"), tcfg, digits, group="l3")
    train_and_save(root, "l3-vae", cfg, tcfg, digits, group="l3")
    return root


@pytest.fixture
def fresh_streamlit_cache():
    """st.cache_* survive across AppTest instances in one process: clear them per test."""
    import streamlit as st

    from ui.resources import _background

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    # The page's background work (the Overview's scorecards) ends with its test, not after pytest
    # has closed its log streams.
    _background().shutdown(wait=True, cancel_futures=True)
    st.cache_data.clear()
    st.cache_resource.clear()
