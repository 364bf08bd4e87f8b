"""Reading and validating annotation files (khmer_civic.train.data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("datasets")

from train_fixtures import make_records, write_jsonl  # noqa: E402

from khmer_civic.train.data import (  # noqa: E402
    DEFAULT_TASKS,
    DataValidationError,
    TaskConfig,
    load_annotations,
    read_examples,
    task_targets,
    to_hf_dataset,
)


def _problems(exc: pytest.ExceptionInfo[DataValidationError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_labels_are_inferred_from_train_including_a_new_topic(splits_dir: Path) -> None:
    data = load_annotations([splits_dir / "train.jsonl"], [splits_dir / "dev.jsonl"], [splits_dir / "test.jsonl"])
    assert data.schema["topics"].labels == ("agriculture", "education", "health", "local_administration")
    assert data.schema["sentiment"].labels == ("negative", "neutral", "positive")
    assert data.schema["call_to_action"].labels == ("false", "true")
    assert [len(data[s]) for s in ("train", "dev", "test")] == [28, 14, 14]
    summary = data.summary()
    assert summary["train"]["tasks"]["topics"]["labels"]["agriculture"] > 0
    assert summary["train"]["provenance"] == {"authored": 14, "corpus": 14}


def test_a_whole_new_task_needs_no_code(tmp_path: Path) -> None:
    records = make_records(12, partial=False)
    for i, r in enumerate(records):
        r["urgency"] = ["low", "high"][i % 2]
    train = write_jsonl(tmp_path / "train.jsonl", records)
    tasks = (*DEFAULT_TASKS, TaskConfig("urgency", "single_label"))
    data = load_annotations([train], tasks=tasks)
    assert data.schema["urgency"].labels == ("high", "low")


def test_null_and_absent_fields_are_masked(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": "សាលារៀន ល្អ", "topics": ["education"], "sentiment": None, "call_to_action": True},
        {"id": "b", "text": "health bad", "topics": None, "sentiment": "negative", "call_to_action": False},
        {"id": "c", "text": "ឃុំ notice", "topics": [], "sentiment": "neutral"},
        {
            "id": "d",
            "text": "farm good",
            "topics": ["education", "health"],
            "sentiment": "positive",
            "call_to_action": None,
        },
    ]
    data = load_annotations([write_jsonl(tmp_path / "t.jsonl", rows)])
    ex = data["train"]
    topics, mask = task_targets(ex, data.schema["topics"])
    np.testing.assert_array_equal(mask, [1, 0, 1, 1])
    np.testing.assert_array_equal(topics, [[1, 0], [0, 0], [0, 0], [1, 1]])
    sentiment, mask = task_targets(ex, data.schema["sentiment"])
    np.testing.assert_array_equal(mask, [0, 1, 1, 1])
    assert sentiment.tolist()[1:] == [0, 1, 2]
    cta, mask = task_targets(ex, data.schema["call_to_action"])
    np.testing.assert_array_equal(mask, [1, 1, 0, 0])
    np.testing.assert_array_equal(cta[:2], [1.0, 0.0])
    table = to_hf_dataset(ex, data.schema)
    assert table["topics__mask"] == [1.0, 0.0, 1.0, 1.0]
    assert table["id"] == ["a", "b", "c", "d"]


def test_csv_cells(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text(
        "id,text,topics,sentiment,call_to_action,provenance\n"
        "x1,សាលារៀន គ្រូ,education;health,negative,true,corpus\n"
        'x2,ឃុំ ល្អ,"[""local_administration""]",positive,0,authored\n'
        "x3,notice only,[],,no,corpus\n"
        'x4,"multi\nline health",,neutral,,corpus\n',
        encoding="utf-8",
    )
    data = load_annotations([path])
    ex = {e.id: e for e in data["train"]}
    assert ex["x1"].labels == {"topics": ["education", "health"], "sentiment": "negative", "call_to_action": True}
    assert ex["x2"].labels["topics"] == ["local_administration"]
    assert ex["x2"].labels["call_to_action"] is False
    assert ex["x3"].labels == {"topics": [], "sentiment": None, "call_to_action": False}
    assert ex["x4"].labels == {"topics": None, "sentiment": "neutral", "call_to_action": None}
    assert ex["x4"].text == "multi line health"  # normalised whitespace
    assert ex["x4"].line == 5 and ex["x4"].meta["provenance"] == "corpus"


def test_text_is_normalised(tmp_path: Path) -> None:
    rows = make_records(10, partial=False)
    rows[0]["text"] = "សាលា\u200bរៀន   ល្អ "
    data = load_annotations([write_jsonl(tmp_path / "t.jsonl", rows)])
    assert data["train"][0].text == "សាលារៀន ល្អ"


def test_unknown_label_when_config_fixes_labels(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", make_records(14, partial=False))
    tasks = (TaskConfig("topics", "multi_label", ("education", "health", "local_administration")),)
    with pytest.raises(DataValidationError) as exc:
        load_annotations([train], tasks=tasks)
    problems = _problems(exc)
    assert all("agriculture" in p and "configured labels" in p for p in problems)
    assert f"{train}:4:" in problems[0]  # record r3 (the 4th line) is agriculture


def test_label_seen_only_in_dev_is_reported(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", make_records(10, partial=False))
    dev_rows = make_records(3, 50, partial=False)
    dev_rows[0]["sentiment"] = "angry"
    dev = write_jsonl(tmp_path / "dev.jsonl", dev_rows)
    with pytest.raises(DataValidationError) as exc:
        load_annotations([train], [dev])
    assert any(f"{dev}:1" in p and "'angry'" in p and "never seen in the training split" in p for p in _problems(exc))


def test_empty_file_and_missing_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as exc:
        load_annotations([empty, tmp_path / "nope.jsonl"])
    text = str(exc.value)
    assert "empty.jsonl: file is empty" in text
    assert "nope.jsonl: file does not exist" in text


def test_one_class_task(tmp_path: Path) -> None:
    rows = make_records(10, partial=False)
    for r in rows:
        r["sentiment"] = "neutral"
        r["call_to_action"] = False
    with pytest.raises(DataValidationError) as exc:
        load_annotations([write_jsonl(tmp_path / "t.jsonl", rows)])
    problems = " ".join(_problems(exc))
    assert "task 'sentiment': only one class observed in train (['neutral'])" in problems
    assert "task 'call_to_action': only one class observed in train (['false'])" in problems


def test_fixed_label_never_positive(tmp_path: Path) -> None:
    rows = make_records(10, partial=False)
    tasks = (
        TaskConfig("topics", "multi_label", ("agriculture", "education", "health", "local_administration", "water")),
    )
    with pytest.raises(DataValidationError) as exc:
        load_annotations([write_jsonl(tmp_path / "t.jsonl", rows)], tasks=tasks)
    assert "label 'water' is never positive in train" in str(exc.value)


def test_texts_in_two_splits_and_duplicate_ids(tmp_path: Path) -> None:
    train_rows = make_records(10, partial=False)
    dev_rows = make_records(4, 50, partial=False)
    dev_rows[1]["text"] = train_rows[2]["text"] + "\u200b"  # same text once normalised
    dev_rows[2]["id"] = train_rows[5]["id"]
    train = write_jsonl(tmp_path / "train.jsonl", train_rows)
    dev = write_jsonl(tmp_path / "dev.jsonl", dev_rows)
    with pytest.raises(DataValidationError) as exc:
        load_annotations([train], [dev])
    problems = _problems(exc)
    assert any(p.startswith(f"{dev}:2:") and f"in train ({train}:3) and dev" in p for p in problems)
    assert any(p.startswith(f"{dev}:3:") and "duplicate id 'r5'" in p and f"{train}:6" in p for p in problems)


def test_bad_types_and_missing_text_are_all_listed(tmp_path: Path) -> None:
    rows = make_records(10, partial=False)
    rows[0]["topics"] = "education"
    rows[1]["call_to_action"] = "yes"
    rows[2]["sentiment"] = 2
    rows[3]["text"] = ""
    rows[4]["text"] = 42
    rows[5]["text"] = "😀 123"
    del rows[6]["text"]
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    with path.open("a", encoding="utf-8") as f:
        f.write("{not json\n[1, 2]\n")
    with pytest.raises(DataValidationError) as exc:
        load_annotations([path])
    problems = _problems(exc)
    expected = {
        1: "topics: expected a list of label strings or null, found 'education'",
        2: "call_to_action: expected true, false or null, found 'yes'",
        3: "sentiment: expected a label string or null, found 2",
        4: "missing or empty 'text'",
        5: "'text' must be a string, found int",
        6: "no Khmer or Latin letter",
        7: "missing or empty 'text'",
        11: "not valid JSON",
        12: "a record must be a JSON object, found list",
    }
    for line, message in expected.items():
        assert any(p.startswith(f"{path}:{line}:") and message in p for p in problems), (line, problems)
    assert str(exc.value).startswith(f"{len(problems)} problem(s) in the annotation files")


def test_bad_csv_value(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("text,call_to_action\nសាលារៀន,maybe\nគ្រូ,true\nfarm,false\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as exc:
        load_annotations([path], tasks=(TaskConfig("call_to_action", "binary"),))
    assert _problems(exc) == [f"{path}:2: call_to_action: 'maybe' is not true/false"]


def test_task_config_checks() -> None:
    with pytest.raises(ValueError, match="identifier"):
        TaskConfig("my topics", "multi_label")
    with pytest.raises(ValueError, match="reserved"):
        TaskConfig("text", "single_label")
    with pytest.raises(ValueError, match="binary task's labels"):
        TaskConfig("cta", "binary", ("no", "yes"))
    assert TaskConfig.from_dict({"name": "t", "type": "multi_label", "labels": ["a"]}).labels == ("a",)
    with pytest.raises(ValueError, match="unknown key"):
        TaskConfig.from_dict({"name": "t", "type": "binary", "label": ["a"]})


def test_read_examples_without_split_checks(tmp_path: Path) -> None:
    rows = make_records(3, partial=False)
    path = write_jsonl(tmp_path / "held.jsonl", rows)
    examples = read_examples([path])
    assert [e.id for e in examples] == ["r0", "r1", "r2"]
    assert examples[0]["provenance"] == "corpus" and examples[0]["topics"] == ["education"]
    json.loads(path.read_text(encoding="utf-8").splitlines()[0])


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_line_separators_inside_json_and_csv_strings_do_not_split_records(tmp_path: Path, separator: str) -> None:
    # json.dumps(ensure_ascii=False) writes these characters raw inside a string; they are not line
    # ends of a JSON Lines file, nor of a CSV row.
    text = f"សាលារៀន{separator}គ្រូ"
    jsonl = tmp_path / "train.jsonl"
    record = {"id": "s1", "text": text, "topics": ["education"], "sentiment": "neutral", "call_to_action": False}
    jsonl.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    assert [e.id for e in read_examples([jsonl], DEFAULT_TASKS)] == ["s1"]
    csv_path = tmp_path / "train.csv"
    csv_path.write_text(f"id,text,sentiment\ns2,{text},neutral\ns3,ឃុំ,neutral\n", encoding="utf-8")
    assert [e.id for e in read_examples([csv_path], DEFAULT_TASKS)] == ["s2", "s3"]
