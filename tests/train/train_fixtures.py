"""Helpers for the training tests: a tiny annotated dataset and a TrainConfig for a tiny encoder."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

# Khmer and English cue words per label; a text is built from the cues of its labels.
TOPIC_CUES = {
    "education": ["សាលារៀន", "គ្រូ", "school"],
    "health": ["មន្ទីរពេទ្យ", "health", "ពេទ្យ"],
    "local_administration": ["ឃុំ", "commune", "មេភូមិ"],
    "agriculture": ["ស្រូវ", "farm", "កសិករ"],
}
SENTIMENT_CUES = {"negative": ["អាក្រក់", "bad"], "neutral": ["ប្រកាស", "notice"], "positive": ["ល្អណាស់", "good"]}
CTA_CUE = ["សូម", "please"]


CTA_TYPE_CYCLE = [["engage"], ["comply"], ["engage", "report"], ["use_service"]]


def make_records(n: int, offset: int = 0, partial: bool = True, cta_type: bool = False) -> list[dict[str, Any]]:
    """``n`` LABELS.md records, deterministic, with some fields left null when ``partial``; with
    ``cta_type`` also a ``cta_type`` list (``[]`` where call_to_action is false)."""
    topics_cycle = [
        ["education"],
        ["health"],
        ["local_administration"],
        ["agriculture"],
        [],
        ["education", "health"],
        ["agriculture", "local_administration"],
    ]
    sentiments = ["negative", "neutral", "positive"]
    records = []
    for k in range(n):
        i = k + offset
        topics = topics_cycle[i % len(topics_cycle)]
        sentiment = sentiments[(i // 2) % 3]
        cta = i % 3 == 0
        words = [TOPIC_CUES[t][i % len(TOPIC_CUES[t])] for t in topics]
        words.append(SENTIMENT_CUES[sentiment][i % 2])
        if cta:
            words.append(CTA_CUE[i % 2])
        words.append(f"n{i}")
        record: dict[str, Any] = {
            "id": f"r{i}",
            "text": " ".join(words),
            "topics": topics,
            "sentiment": sentiment,
            "call_to_action": cta,
            "source": "fixture",
            "provenance": "authored" if i % 2 else "corpus",
        }
        if partial and i % 5 == 1:
            record["sentiment"] = None
        if partial and i % 7 == 3:
            record["topics"] = None
        if partial and i % 6 == 4:
            record["call_to_action"] = None
        if cta_type:
            record["cta_type"] = CTA_TYPE_CYCLE[(i // 3) % len(CTA_TYPE_CYCLE)] if cta else []
        records.append(record)
    return records


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def write_labels_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    """CSV cells as LABELS.md reads them: topics ``a;b`` (``[]`` for none), empty = not annotated."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        for r in records:
            row = dict(r)
            row["topics"] = "" if r["topics"] is None else (";".join(r["topics"]) or "[]")
            row["sentiment"] = r["sentiment"] or ""
            row["call_to_action"] = "" if r["call_to_action"] is None else str(r["call_to_action"]).lower()
            writer.writerow(row)
    return path


def tiny_config(encoder_dir: Path, **overrides: Any) -> Any:
    """A TrainConfig for the tiny encoder: short windows, a few fast steps, no progress bar."""
    from khmer_civic.train.config import TrainConfig
    from khmer_civic.train.data import TaskConfig

    settings: dict[str, Any] = {
        "base_model": str(encoder_dir),
        "name": "tiny-civic",
        "tasks": (
            TaskConfig("topics", "multi_label"),
            TaskConfig("sentiment", "single_label", ("negative", "neutral", "positive")),
            TaskConfig("call_to_action", "binary"),
        ),
        "max_length": 16,
        "window_stride": 8,
        "batch_size": 8,
        "eval_batch_size": 16,
        "learning_rate": 3e-3,
        "head_learning_rate": None,  # explicit settings: the small-data rule leaves them alone
        "class_weighting": "none",
        "epochs": 3,
        "eval_every": 4,
        "early_stopping_patience": None,
        "freeze_embeddings": False,
        "threads": 1,
        "progress": False,
        "log_every": 2,
    }
    settings.update(overrides)
    return TrainConfig(**settings)


def build_tiny_encoder(out: Path, *, max_positions: int = 64, seed: int = 0) -> Path:
    """Save a tiny local Hugging Face encoder (BertModel, hidden 16, 2 layers) with a fast
    tokenizer wrapping the tiny Unigram tokenizer of ``tests/tiny_model.py``."""
    import torch
    import transformers
    from tiny_model import BOS_ID, EOS_ID, PAD_ID, build_tiny_tokenizer

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
        max_position_embeddings=max_positions,
        pad_token_id=PAD_ID,
    )
    torch.manual_seed(seed)
    transformers.BertModel(config, add_pooling_layer=False).save_pretrained(out)
    return out
