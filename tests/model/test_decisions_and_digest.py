"""One decision rule (classifier and evaluation) and one model digest (resume checks, summaries)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.manifest import MANIFEST_NAME, file_sha256, model_digest
from khmer_civic.model.runtime import decided_labels, decisions
from khmer_civic.schema import TaskSpec, default_schema

TEXTS = ["សាលារៀនភូមិយើងខ្វះគ្រូ", "មន្ទីរពេទ្យឆ្ងាយពេក សូមជួយផង", "please fix the road", "ថ្ងៃនេះល្អ"]


def _with_thresholds(model_dir: Path, target: Path, topics: float, cta: float) -> Path:
    shutil.copytree(model_dir, target)
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    for task in config["tasks"]:
        if task["type"] == "multi_label":
            task["thresholds"] = {label: topics for label in task["labels"]}
        elif task["type"] == "binary":
            task["threshold"] = cta
    (target / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return target


@pytest.mark.parametrize(("topics", "cta"), [(0.5, 0.5), (0.2, 0.8), (0.9, 0.1)])
def test_evaluate_decides_as_the_classifier(tiny_model_dir: Path, tmp_path: Path, topics: float, cta: float) -> None:
    from khmer_civic.train.evaluate import classifier_probabilities
    from khmer_civic.train.evaluate import decisions as evaluate_decisions

    clf = CivicClassifier.load(_with_thresholds(tiny_model_dir, tmp_path / "m", topics, cta), verify=False)
    probs = classifier_probabilities(clf, TEXTS)
    predictions = clf.predict(TEXTS)
    for task in clf.schema.tasks:
        decided = evaluate_decisions(probs[task.name], task)
        assert [decided_labels(task, row) for row in decided] == [p.labels[task.name] for p in predictions]


def test_decisions_per_task_type() -> None:
    topics, sentiment, cta = default_schema().tasks
    topics = TaskSpec(topics.name, topics.type, topics.labels, topics.output, thresholds={"health": 0.7})
    p = np.array([[0.5, 0.69, 0.2], [0.49, 0.7, 0.9]])
    assert decisions(p, topics).tolist() == [[1, 0, 0], [0, 1, 1]]
    labels = [decided_labels(topics, row) for row in decisions(p, topics)]
    assert labels == [["education"], ["health", "local_administration"]]
    tie = np.array([[0.4, 0.4, 0.2], [0.1, 0.2, 0.7]])
    assert [decided_labels(sentiment, i) for i in decisions(tie, sentiment)] == ["negative", "positive"]
    for shape in [(3, 1), (3,)]:  # p(true) as a column or a vector
        decided = decisions(np.array([0.49, 0.5, 0.9]).reshape(shape), cta)
        assert [decided_labels(cta, row) for row in decided] == [False, True, True]
    assert decisions(np.empty((0, 1)), cta).shape == (0, 1)
    assert decisions(np.empty((0, 3)), sentiment).shape == (0,)


def test_model_digest_reads_the_manifest_else_the_model_files(tiny_model_dir: Path, tmp_path: Path) -> None:
    manifest = (tiny_model_dir / MANIFEST_NAME).read_bytes()
    assert model_digest(tiny_model_dir) == hashlib.sha256(manifest).hexdigest()[:16]
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model_dir, bare)
    (bare / MANIFEST_NAME).unlink()
    files = b"".join((bare / name).read_bytes() for name in ("config.json", "model.onnx", "tokenizer.json"))
    assert model_digest(bare) == hashlib.sha256(files).hexdigest()[:16]
    assert file_sha256(bare / "model.onnx") == hashlib.sha256((bare / "model.onnx").read_bytes()).hexdigest()
