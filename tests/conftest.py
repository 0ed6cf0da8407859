"""Shared fixtures: the real digits data set and a tiny real AE+VAE pair saved to a temp folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from vae_core import ModelConfig, TrainConfig, load_dataset, run_to_end, save_run, train

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


def train_and_save(root: Path, name: str, cfg: ModelConfig, tcfg: TrainConfig, dataset,
                   pair: str | None = None) -> Path:
    end = run_to_end(train(cfg, tcfg, dataset))
    return save_run(end["model"], cfg, tcfg, end["history"], name, root, dataset=dataset.name,
                    status=end["status"], reason=end["reason"], pair=pair, snapshots=end["snapshots"])


@pytest.fixture(scope="session")
def pair_root(tmp_path_factory, digits) -> Path:
    """A checkpoints folder holding a small real AE+VAE pair on digits (latent 2)."""
    root = tmp_path_factory.mktemp("checkpoints")
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(64, 32), input_shape=digits.image_shape)
    tcfg = TrainConfig(epochs=8, batch_size=64, lr=2e-3, beta=1.0, seed=0)
    train_and_save(root, "demo-ae", cfg.with_kind("ae"), tcfg, digits, pair="demo")
    train_and_save(root, "demo-vae", cfg, tcfg, digits, pair="demo")
    return root


@pytest.fixture
def checkpoints(tmp_path, pair_root, monkeypatch) -> Path:
    """A fresh copy of the pair folder that the app under test uses (VAE_LAB_CHECKPOINTS)."""
    import shutil

    root = tmp_path / "checkpoints"
    shutil.copytree(pair_root, root)
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    return root


@pytest.fixture
def empty_checkpoints(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "empty-checkpoints"
    root.mkdir()
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    return root


@pytest.fixture
def fresh_streamlit_cache():
    """st.cache_* survive across AppTest instances in one process: clear them per test."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
