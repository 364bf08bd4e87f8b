"""Fixtures for the training tests: a tiny local BERT directory and a tiny annotated dataset.

Nothing here needs a network: the encoder is a randomly initialised ``BertModel`` (hidden size
16) saved with ``save_pretrained``, its tokenizer is the tiny Unigram tokenizer of
``tests/tiny_model.py`` wrapped as a Hugging Face fast tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from train_fixtures import build_tiny_encoder, make_records, write_jsonl


@pytest.fixture(scope="session")
def splits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train (28), dev (14) and test (14) JSONL files with partial labels and an extra topic."""
    root = tmp_path_factory.mktemp("splits")
    write_jsonl(root / "train.jsonl", make_records(28, 0))
    write_jsonl(root / "dev.jsonl", make_records(14, 100))
    write_jsonl(root / "test.jsonl", make_records(14, 200))
    return root


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local Hugging Face BertModel directory (hidden 16, 2 layers) with a fast tokenizer."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    return build_tiny_encoder(tmp_path_factory.mktemp("encoder") / "tiny-bert", max_positions=64)
