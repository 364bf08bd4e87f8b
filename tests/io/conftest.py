"""Fixtures of the io tests; the table helpers live in messy_tables.py (importable from tests here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from messy_tables import write_csv  # noqa: E402

from khmer_civic.io.annotators import LabelJob, Labeller  # noqa: E402


@pytest.fixture()
def messy_csv(tmp_path: Path) -> Path:
    """The messy rows as a plain UTF-8 CSV with columns id, message, n."""
    return write_csv(tmp_path / "messy.csv")


@pytest.fixture(scope="module")
def labeller(tiny_model_dir: Path) -> Labeller:
    """The labeller of the session's tiny model, built once per module."""
    return LabelJob(str(tiny_model_dir)).build()
