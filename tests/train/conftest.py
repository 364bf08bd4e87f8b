"""Fixtures for the training tests: a tiny local BERT directory and a tiny annotated dataset.

Nothing here needs a network: the encoder is a randomly initialised ``BertModel`` (hidden size
16) saved with ``save_pretrained``, its tokenizer is the tiny Unigram tokenizer of
``tests/tiny_model.py`` wrapped as a Hugging Face fast tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from train_fixtures import make_records, write_jsonl


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
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tiny_model import BOS_ID, EOS_ID, PAD_ID, build_tiny_tokenizer

    out = tmp_path_factory.mktemp("encoder") / "tiny-bert"
    backend = build_tiny_tokenizer()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
    )
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (BOS_ID, PAD_ID, EOS_ID)
    tokenizer.save_pretrained(out)
    config = transformers.BertConfig(
        vocab_size=backend.get_vocab_size(),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        pad_token_id=PAD_ID,
    )
    torch.manual_seed(0)
    transformers.BertModel(config, add_pooling_layer=False).save_pretrained(out)
    return out
