"""benchmarks/seed_ensemble.py: averaging models' probabilities and tuning the average's thresholds."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the scripts import their helpers as ``common``

import seed_ensemble  # noqa: E402

from khmer_civic.model.config import load_config  # noqa: E402

TEXTS = ["សាលារៀនភូមិយើងល្អណាស់", "មណ្ឌលសុខភាពគ្មានថ្នាំ", "សូមចូលរួមប្រជុំនៅឃុំ", "គ្រូបង្រៀនមកយឺត",
         "ពេទ្យជួយយើងបានល្អ", "ផ្លូវភូមិខូចខាត", "សូមជួយចែករំលែក", "សិស្សប្រឡងជាប់"]  # fmt: skip


def record(i: int, text: str, split: str = "dev") -> dict[str, object]:
    return {
        "id": f"{split}{i}",
        "text": text,
        "topics": [["education"], ["health"], ["local_administration"], []][i % 4],
        "sentiment": ["positive", "negative", "neutral"][i % 3],
        "call_to_action": i % 3 == 2,
        "source": "oscar_web_lines" if i % 2 else "authored:comment",
        "provenance": "corpus" if i % 2 else "authored",
    }


def test_the_mean_is_taken_task_by_task() -> None:
    a = {"topics": np.array([[0.2, 0.4]]), "call_to_action": np.array([[0.9]])}
    b = {"topics": np.array([[0.6, 0.0]]), "call_to_action": np.array([[0.1]])}
    mean = seed_ensemble.mean_probabilities([a, b])
    assert np.allclose(mean["topics"], [[0.4, 0.2]]) and np.allclose(mean["call_to_action"], [[0.5]])


def test_thresholds_are_tuned_on_dev_where_it_has_enough_positives(tiny_model_dir: Path) -> None:
    schema = load_config(tiny_model_dir).schema
    dev = [record(i, f"text {i}") for i in range(30)]
    probs = {}
    for task in schema.tasks:
        cols = 1 if task.type == "binary" else len(task.labels)
        probs[task.name] = np.full((len(dev), cols), 0.5)
    # call_to_action true on every third record: separable at p = 0.15 / 0.25, far from 0.5
    probs["call_to_action"][:, 0] = [0.25 if r["call_to_action"] else 0.15 for r in dev]
    tuned = seed_ensemble.tune_thresholds(schema, probs, dev)
    threshold = next(t for t in tuned.tasks if t.name == "call_to_action").threshold
    assert 0.15 < threshold < 0.5  # between the two groups, pulled toward 0.5 by few positives
    few = seed_ensemble.tune_thresholds(schema, {k: v[:9] for k, v in probs.items()}, dev[:9])
    assert next(t for t in few.tasks if t.name == "call_to_action").threshold == 0.5  # 3 positives: too few


def test_members_and_every_combination_are_scored(tiny_model_dir: Path, tmp_path: Path) -> None:
    splits = tmp_path / "splits"
    splits.mkdir()
    for name in ("train", "dev", "test"):  # the same texts, told apart per split
        lines = [json.dumps(record(i, f"{text} {name}", name), ensure_ascii=False) for i, text in enumerate(TEXTS)]
        (splits / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    second = tmp_path / "second"
    shutil.copytree(tiny_model_dir, second)
    out = tmp_path / "ensemble.json"
    assert seed_ensemble.main(["--models", str(tiny_model_dir), str(second), "--splits", str(splits), "--out", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [len(row["models"]) for row in rows] == [1, 1, 2]
    single, ensemble = rows[0]["test"], rows[2]["test"]
    assert set(single) == {"overall", "authored", "news_web"}
    # a model averaged with its own copy scores what it scores alone, up to the dev-tuned thresholds
    assert rows[0]["test"]["overall"]["tasks"]["sentiment"] == pytest.approx(ensemble["overall"]["tasks"]["sentiment"])


def test_models_with_other_labels_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from tiny_model import build_tiny_model

    from khmer_civic.schema import ModelSchema, TaskSpec

    schema = ModelSchema(tasks=(TaskSpec("topics", "multi_label", ("agriculture", "health"), "topics"),))
    other = build_tiny_model(tmp_path / "other", tasks=schema)
    with pytest.raises(SystemExit):
        seed_ensemble.main(["--models", str(tiny_model_dir), str(other)])
