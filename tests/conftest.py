"""Shared fixtures: a tiny model directory built once per test session (no torch, no network)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # make tests/tiny_model.py importable everywhere


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete tiny model (default three tasks, max_length 16). Treat it as read-only:
    copy it (shutil.copytree) before changing anything."""
    from tiny_model import build_tiny_model  # imported here: it needs onnx, which the text tests do not

    return build_tiny_model(tmp_path_factory.mktemp("tiny_model") / "tiny-civic")
