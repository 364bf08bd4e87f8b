"""The Label Studio round trip: the labelling config, the tasks, and reading an export back into records."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from khmer_civic.annotation.labelstudio import (
    CTA_TYPES,
    LabelStudioExportError,
    annotation_tasks,
    label_studio_tasks,
    labelling_config,
    read_export,
)
from khmer_civic.schema import ModelSchema, TaskSpec, default_schema

TASKS = annotation_tasks(default_schema())


def choices(name: str, *values: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": list(values)}}


def annotation(*results: dict[str, Any], user: Any = 7, cancelled: bool = False, **extra: Any) -> dict[str, Any]:
    return {"id": 1, "completed_by": user, "was_cancelled": cancelled, "result": list(results), **extra}


def task(text_id: str, *annotations: dict[str, Any], key: str = "annotations", **data: Any) -> dict[str, Any]:
    return {"id": 100, "data": {"id": text_id, "text": f"text of {text_id}", **data}, key: list(annotations)}


def export(tmp_path: Path, tasks: Any) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def test_config_has_a_choices_group_per_task_and_cta_type_only_after_a_true_call_to_action() -> None:
    root = ET.fromstring(labelling_config(default_schema()))
    groups = {c.get("name"): c for c in root.iter("Choices")}
    assert list(groups) == ["topics", "sentiment", "call_to_action", "cta_type"]
    assert root.find("Text").get("value") == "$text"
    assert groups["topics"].get("choice") == "multiple" and groups["topics"].get("required") is None
    assert groups["sentiment"].get("choice") == "single-radio" and groups["sentiment"].get("required") == "true"
    assert [c.get("value") for c in groups["call_to_action"]] == ["true", "false"]
    cta_type = groups["cta_type"]
    assert cta_type.get("choice") == "multiple" and [c.get("value") for c in cta_type] == list(CTA_TYPES)
    assert (cta_type.get("visibleWhen"), cta_type.get("whenTagName"), cta_type.get("whenChoiceValue")) == (
        "choice-selected",
        "call_to_action",
        "true",
    )
    assert all(c.get("toName") == "text" for c in groups.values())


def test_config_follows_the_model_tasks() -> None:
    schema = ModelSchema(tasks=(TaskSpec("topics", "multi_label", ("agriculture", "health"), "topics"),))
    root = ET.fromstring(labelling_config(schema))
    assert [c.get("name") for c in root.iter("Choices")] == ["topics"]  # no call_to_action: no cta_type
    assert [c.get("value") for c in root.iter("Choice")] == ["agriculture", "health"]


def test_tasks_carry_id_text_source_provenance_but_not_why_a_text_was_picked() -> None:
    rows = [
        {"id": "a", "text": "t", "url": "u", "category": None, "genre": "", "selection": "random", "selection_score": 0.5,
         "uncertainty_topics": 0.1,
         "suggested_topics": ["health"], "suggested_sentiment": "negative", "suggested_call_to_action": True},
        {"id": "b", "text": "t2", "source": "news:1#2", "provenance": "corpus", "selection": "uncertain",
         "suggested_topics": [], "suggested_sentiment": "neutral", "suggested_call_to_action": False},
    ]  # fmt: skip
    plain = label_studio_tasks(rows, model_version="m 1", suggestions=False, default_source="dump.csv")
    assert plain[0] == {"data": {"id": "a", "text": "t", "url": "u", "source": "dump.csv#a", "provenance": "corpus"}}
    assert plain[1]["data"]["source"] == "news:1#2"
    tasks = label_studio_tasks(rows, model_version="m 1", suggestions=True, default_source="dump.csv")
    prediction = tasks[0]["predictions"][0]
    assert prediction["model_version"] == "m 1" and prediction["score"] == 0.5
    assert {r["from_name"]: r["value"]["choices"] for r in prediction["result"]} == {
        "topics": ["health"], "sentiment": ["negative"], "call_to_action": ["true"],
    }  # fmt: skip
    assert "topics" not in {r["from_name"] for r in tasks[1]["predictions"][0]["result"]}  # nothing to tick


def test_export_becomes_records(tmp_path: Path) -> None:
    tasks = [
        task("a", annotation(choices("topics", "health", "education"), choices("sentiment", "negative"),
                             choices("call_to_action", "true"), choices("cta_type", "report", "engage"),
                             user={"id": 3, "email": "sokha@example.org"}), source="news:9:p1", provenance="corpus",
             url="https://example.org/9", docId="9"),
        task("b", annotation(choices("sentiment", "neutral"), choices("call_to_action", "false"),
                             choices("cta_type", "vote"), user=4)),  # cta_type left over from a "true"
        task("c", annotation(choices("sentiment", "positive"), choices("call_to_action", "true"),
                             created_username="dara@example.org, 5")),  # no cta_type ticked
        task("d", annotation(choices("sentiment", "negative"), cancelled=True)),
        task("e"),
        task("f", annotation()),
    ]  # fmt: skip
    report = read_export(export(tmp_path, tasks), TASKS)
    records = {r["id"]: r for r in report.records}
    assert list(records) == ["a", "b", "c"]
    assert records["a"] == {
        "id": "a", "text": "text of a", "topics": ["education", "health"], "sentiment": "negative",
        "call_to_action": True, "cta_type": ["engage", "report"], "source": "news:9:p1", "provenance": "corpus",
        "url": "https://example.org/9", "docId": "9", "annotator": "sokha@example.org",
    }  # fmt: skip
    assert records["b"]["topics"] == [] and records["b"]["cta_type"] == [] and records["b"]["annotator"] == "4"
    assert records["b"]["call_to_action"] is False and records["b"]["provenance"] == "corpus"
    assert records["c"]["cta_type"] is None and records["c"]["annotator"] == "dara@example.org"
    assert report.skipped == [
        ("d", "cancelled (skipped)"), ("e", "not annotated"), ("f", "submitted without any choice")
    ]
    assert (report.cta_type_dropped, report.cta_type_missing) == (1, 1)


def test_several_annotations_latest_or_all(tmp_path: Path) -> None:
    first = annotation(choices("sentiment", "negative"), user=1, updated_at="2025-01-02T10:00:00Z")
    second = annotation(choices("sentiment", "positive"), user=2, updated_at="2025-01-03T10:00:00Z")
    path = export(tmp_path, [task("a", second, first, key="completions")])  # old exports say "completions"
    report = read_export(path, TASKS)
    assert [r["sentiment"] for r in report.records] == ["positive"] and report.several_annotations == 1
    both = read_export(path, TASKS, all_annotations=True)
    assert [(r["id"], r["annotator"]) for r in both.records] == [("a", "2"), ("a", "1")]


def test_a_task_without_our_id_gets_the_label_studio_one(tmp_path: Path) -> None:
    item = {"id": 42, "data": {"text": "x"}, "annotations": [annotation(choices("sentiment", "neutral"))]}
    assert read_export(export(tmp_path, [item]), TASKS).records[0]["id"] == "ls-42"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"tasks": []}', "a list of tasks"),
        ([{"data": {"id": "a"}, "annotations": []}], "no 'data' with a non-empty 'text'"),
        ([task("a", annotation(choices("sentiment", "angry")))], r"\['angry'\], not among"),
        ([task("a", annotation(choices("sentiment", "negative", "positive")))], "takes one choice"),
        ([task("a", annotation({"from_name": "topics", "value": {}}))], "no list of choices"),
        ([task("a", annotation(choices("sentiment", "neutral"))), task("a")], "id 'a' is also the id of task 1"),
        ([{"data": {"text": "t"}, "annotations": "none"}], "'annotations' must be a list"),
    ],
)
def test_malformed_exports_are_refused_with_one_clear_message(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "export.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(LabelStudioExportError, match=message) as info:
        read_export(path, TASKS)
    assert "\n" not in str(info.value)
