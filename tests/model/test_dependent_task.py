"""A dependent task (cta_type given call_to_action true): config, decision rule, predict, label, info, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.runtime import decided_labels, schema_decisions
from khmer_civic.schema import Given, ModelConfigError, ModelSchema, TaskSpec, default_schema

CTA_TYPES = ("engage", "attend", "contact", "report", "use_service", "comply", "vote", "donate", "other")
TEXTS = ["សាលារៀនភូមិយើងខ្វះគ្រូ", "មន្ទីរពេទ្យឆ្ងាយពេក សូមជួយផង", "please fix the road", "ថ្ងៃនេះល្អ"]


def cta_schema(cta_threshold: float = 0.5, given: Given | None = Given("call_to_action", "true")) -> ModelSchema:
    """The default three tasks, call_to_action with ``cta_threshold``, then cta_type given call_to_action true."""
    topics, sentiment, cta = default_schema().tasks
    cta = TaskSpec(cta.name, cta.type, cta.labels, cta.output, threshold=cta_threshold)
    cta_type = TaskSpec("cta_type", "multi_label", CTA_TYPES, "cta_type", given=given)
    return ModelSchema((topics, sentiment, cta, cta_type))


def test_given_round_trips_and_is_checked() -> None:
    schema = cta_schema()
    items = schema.to_list()
    assert items[3]["given"] == {"task": "call_to_action", "label": "true"}
    assert "given" not in items[2]  # tasks without a condition are written as before
    assert ModelSchema.from_list(items).to_list() == items
    bad = [
        {**items[3], "given": {"task": "nope", "label": "true"}},
        {**items[3], "given": {"task": "call_to_action", "label": "maybe"}},
        {**items[3], "given": {"task": "call_to_action"}},
        {**items[3], "given": {"task": "cta_type", "label": "engage"}},
    ]
    for entry in bad:
        with pytest.raises(ModelConfigError):
            ModelSchema.from_list([*items[:3], entry])
    with pytest.raises(ModelConfigError, match="only a multi_label"):
        ModelSchema.from_list([*items[:3], {**items[1], "name": "s2", "output": "s2", "given": items[3]["given"]}])
    chained = {**items[3], "name": "sub", "output": "sub", "given": {"task": "cta_type", "label": "engage"}}
    with pytest.raises(ModelConfigError, match="depends on another task"):
        ModelSchema.from_list([*items, chained])


def test_dependent_decisions() -> None:
    schema = cta_schema()
    probs = {
        "topics": np.zeros((3, 3)),
        "sentiment": np.full((3, 3), 1 / 3),
        "call_to_action": np.array([[0.9], [0.2], [0.6]]),
        "cta_type": np.array(
            [[0.1, 0.3, 0.2, 0, 0, 0, 0, 0, 0], [0.9, 0.8, 0, 0, 0, 0, 0, 0, 0], [0.7, 0.6, 0, 0, 0, 0, 0, 0, 0.2]]
        ),
    }
    decided = schema_decisions(probs, schema)
    labels = [decided_labels(schema["cta_type"], row) for row in decided["cta_type"]]
    assert labels == [["attend"], [], ["engage", "attend"]]  # at least the top label; none without a CTA
    assert list(decided) == schema.task_names
    empty = {t.name: np.empty((0, t.n_outputs)) for t in schema.tasks}
    assert schema_decisions(empty, schema)["cta_type"].shape == (0, len(CTA_TYPES))


@pytest.fixture(scope="module")
def cta_model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tiny_model import build_tiny_model

    base = tmp_path_factory.mktemp("cta")
    return {
        "always": build_tiny_model(base / "always", tasks=cta_schema(0.0)),
        "never": build_tiny_model(base / "never", tasks=cta_schema(1.0)),
    }


def test_predict_follows_the_parent(cta_model_dirs: dict[str, Path]) -> None:
    always = CivicClassifier.load(cta_model_dirs["always"]).predict(TEXTS)
    never = CivicClassifier.load(cta_model_dirs["never"]).predict(TEXTS)
    for yes, no in zip(always, never):
        assert yes.call_to_action is True and len(yes.labels["cta_type"]) >= 1
        assert no.labels["cta_type"] == [] and set(no.scores["cta_type"]) == set(CTA_TYPES)
        assert yes.scores["cta_type"] == pytest.approx(no.scores["cta_type"])


def test_label_columns_info_and_card(cta_model_dirs: dict[str, Path]) -> None:
    from khmer_civic.cli.info import info_lines
    from khmer_civic.io.annotators import Labeller

    clf = CivicClassifier.load(cta_model_dirs["always"])
    columns = Labeller(clf).annotate(TEXTS)
    assert all(len(value) >= 1 for value in columns["cta_type"])
    assert {f"score_cta_type_{label}" for label in CTA_TYPES} <= set(columns)
    lines = "\n".join(info_lines(clf.info(), 1))
    assert "only when call_to_action is true" in lines
    assert clf.info()["tasks"][3]["given"] == {"task": "call_to_action", "label": "true"}


def test_evaluate_scores_the_dependent_task_on_gold_parent_records(
    cta_model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    from khmer_civic.train.evaluate import evaluate_model_dir

    records = [
        {"id": "a", "text": TEXTS[0], "call_to_action": True, "cta_type": ["engage"]},
        {"id": "b", "text": TEXTS[1], "call_to_action": False, "cta_type": []},
        {"id": "c", "text": TEXTS[2], "call_to_action": None, "cta_type": None},
        {"id": "d", "text": TEXTS[3], "call_to_action": True, "cta_type": ["comply", "report"]},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    never = evaluate_model_dir(cta_model_dirs["never"], [path], group_field=None)
    assert never["tasks"]["cta_type"]["n"] == 2
    assert never["tasks"]["cta_type"]["micro"]["recall"] == 0.0  # no CTA predicted: no type either
    always = evaluate_model_dir(cta_model_dirs["always"], [path], group_field=None)
    assert always["tasks"]["cta_type"]["micro"]["recall"] > 0.0
