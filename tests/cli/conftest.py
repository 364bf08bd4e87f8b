"""Fixtures shared by the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny local BertModel directory (hidden 16, two layers) with 130 positions, so that the default
    recipe's 128-token windows fit; built once for ``train`` and ``select`` tests. Treat it as read-only."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from train.train_fixtures import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("encoder") / "tiny-bert", max_positions=130)
