"""Training a dependent task (cta_type given call_to_action true), exercise-prompt weights, genre reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from train_fixtures import make_records, tiny_config, write_jsonl

from khmer_civic.genres import genre_of
from khmer_civic.schema import Given
from khmer_civic.train.config import TrainConfig
from khmer_civic.train.data import (
    DataValidationError,
    TaskConfig,
    all_targets,
    down_weight_exercise_prompts,
    is_exercise_prompt,
    load_annotations,
)

CTA_TYPE = TaskConfig(
    "cta_type", "multi_label", ("engage", "comply", "report", "use_service"), Given("call_to_action", "true")
)
TASKS = (
    TaskConfig("topics", "multi_label"),
    TaskConfig("sentiment", "single_label", ("negative", "neutral", "positive")),
    TaskConfig("call_to_action", "binary"),
    CTA_TYPE,
)


def _records(n: int, offset: int) -> list[dict[str, Any]]:
    """Fixture records with cta_type; every fourth CTA text is a textbook exercise prompt (ចូរ ...)."""
    records = make_records(n, offset, cta_type=True)
    for r in records:
        if r["call_to_action"] and int(r["id"][1:]) % 4 == 0:
            r["text"] = "ចូរ " + r["text"]
            r["source"] = "rdlab_wild_khmer_sentences"
    return records


@pytest.fixture(scope="module")
def cta_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cta_splits")
    for name, n, offset in (("train", 36, 0), ("dev", 18, 100), ("test", 18, 200)):
        write_jsonl(root / f"{name}.jsonl", _records(n, offset))
    return root


def _load(root: Path) -> Any:
    return load_annotations([root / "train.jsonl"], [root / "dev.jsonl"], [root / "test.jsonl"], TASKS)


def test_dependent_task_is_masked_outside_gold_ctas(cta_splits: Path) -> None:
    data = _load(cta_splits)
    assert data.schema["cta_type"].given == Given("call_to_action", "true")
    train = data["train"]
    _, mask = all_targets(train, data.schema)["cta_type"]
    assert mask.tolist() == [1.0 if ex.labels["call_to_action"] is True else 0.0 for ex in train]
    assert TaskConfig.from_dict(CTA_TYPE.to_dict()) == CTA_TYPE


def test_given_must_name_a_configured_task(cta_splits: Path) -> None:
    orphan = TaskConfig("cta_type", "multi_label", CTA_TYPE.labels, Given("nope", "true"))
    with pytest.raises(DataValidationError, match="nope"):
        load_annotations([cta_splits / "train.jsonl"], tasks=(*TASKS[:3], orphan))
    with pytest.raises(ValueError, match="only a multi_label"):
        TaskConfig("x", "binary", given=Given("call_to_action", "true"))


def test_exercise_prompts_are_found_and_down_weighted(cta_splits: Path) -> None:
    assert is_exercise_prompt({"source": "rdlab_wild_khmer_sentences", "text": "ចូរពន្យល់ពាក្យ សិទ្ធិ"})
    assert is_exercise_prompt({"source": "rdlab_wild_khmer_sentences", "text": "តើអ្នកត្រូវធ្វើដូចម្តេច"})
    assert not is_exercise_prompt({"source": "rdlab_wild_khmer_sentences", "text": "សូមចូលរួម"})
    assert not is_exercise_prompt({"source": "authored:page-post", "text": "ចូរចូលរួម"})
    data = _load(cta_splits)
    train = data["train"]
    targets = all_targets(train, data.schema)
    before = {name: mask.copy() for name, (_, mask) in targets.items()}
    found = down_weight_exercise_prompts(train, targets, {"call_to_action": 0.25, "cta_type": 0.0})
    prompts = np.array([is_exercise_prompt(ex) for ex in train])
    assert found == prompts.sum() > 0
    assert np.allclose(targets["call_to_action"][1], np.where(prompts, 0.25, 1.0) * before["call_to_action"])
    assert not targets["cta_type"][1][prompts].any()
    assert np.array_equal(targets["topics"][1], before["topics"])
    with pytest.raises(ValueError, match="exercise_prompt_weights"):
        TrainConfig(exercise_prompt_weights={"call_to_action": 2.0})


def test_genre_groups() -> None:
    assert genre_of({"source": "rdlab_wild_khmer_sentences"}) == "textbook"
    comment = {"source": "authored:citizen-comment", "provenance": "authored", "genre": "x"}
    assert genre_of(comment) == "authored_comment"
    assert genre_of({"source": "news:12:p3", "provenance": "corpus"}) == "news"


def test_training_with_cta_type(tiny_encoder_dir: Path, cta_splits: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from khmer_civic.model.classifier import CivicClassifier
    from khmer_civic.train.evaluate import evaluate_model_dir
    from khmer_civic.train.trainer import Trainer

    config = tiny_config(
        tiny_encoder_dir,
        tasks=TASKS,
        epochs=1,
        exercise_prompt_weights={"call_to_action": 0.25, "cta_type": 0.25},
        report_groups="genre",
    )
    data = _load(cta_splits)
    Trainer(config, run_dir=tmp_path / "run").train(data, tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "config.json").read_text(encoding="utf-8"))
    cta_type = saved["tasks"][3]
    assert cta_type["given"] == {"task": "call_to_action", "label": "true"} and set(cta_type["thresholds"]) == set(
        CTA_TYPE.labels or ()
    )
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text(encoding="utf-8"))
    gold_ctas = sum(1 for ex in data["test"] if ex.labels["call_to_action"] is True)
    assert metrics["test"]["tasks"]["cta_type"]["n"] == gold_ctas
    assert set(metrics["test"]["groups"]) <= {"textbook", "authored_post", "other"}
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "only when call_to_action is true" in card
    clf = CivicClassifier.load(tmp_path / "model")
    for prediction in clf.predict([ex.text for ex in data["test"]]):
        assert (len(prediction.labels["cta_type"]) >= 1) == prediction.call_to_action
    again = evaluate_model_dir(tmp_path / "model", [cta_splits / "test.jsonl"], group_field="genre", batch_size=16)
    assert again["tasks"]["cta_type"]["n"] == gold_ctas
    assert set(again["groups"]) == set(metrics["test"]["groups"])
