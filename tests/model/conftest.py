"""Fixtures shared by the model tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from khmer_civic.model.classifier import CivicClassifier


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> CivicClassifier:
    """The session's tiny model, loaded once per module (a module may define its own ``clf``)."""
    return CivicClassifier.load(tiny_model_dir)
