"""``khmer-civic explain``: one text (text and JSON output, colours, errors) and a table (word counts)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_helpers import one_error_line, run
from trigger_model import TRIGGER_WORD, build_trigger_model

TEXT = "សូមជួយ health ផង please"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_trigger_model(tmp_path_factory.mktemp("trigger") / "model")


def test_text_output_lists_words_with_signed_contributions(model: Path) -> None:
    result = run("explain", TEXT, "--model", model, "--task", "topics")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("topics = health  (p = 0.99") and lines[0].endswith("predicted)")
    assert lines[1].strip() == TEXT
    words = [line.split() for line in lines[2:] if line.strip()]
    assert [w[1] for w in words] == ["សូម", "ជួយ", TRIGGER_WORD, "ផង", "please"]
    assert float(words[2][0]) > 0.9 and words[2][0].startswith("+")
    assert "\x1b[" not in result.output  # plain when not a terminal


def test_colours_on_request(model: Path) -> None:
    coloured = run("explain", TEXT, "--model", model, "--task", "sentiment", "--label", "negative", "--color")
    assert coloured.exit_code == 0, coloured.output
    assert "\x1b[31m" in coloured.stdout and "\x1b[32m" not in coloured.stdout  # the trigger pushes away: red
    supporting = run("explain", TEXT, "--model", model, "--task", "sentiment", "--color")
    assert "\x1b[32m" in supporting.stdout  # the predicted label, positive: green


def test_json_schema(model: Path) -> None:
    result = run("explain", TEXT, "--model", model, "--json")
    assert result.exit_code == 0, result.output
    explanations = json.loads(result.stdout)
    assert [e["task"] for e in explanations] == ["topics", "sentiment", "call_to_action"]  # every task by default
    assert [e["label"] for e in explanations] == ["health", "positive", "true"]
    for e in explanations:
        assert set(e) == {"task", "label", "probability", "predicted", "text", "words"}
        assert e["predicted"] is True and 0.0 <= e["probability"] <= 1.0
        for w in e["words"]:
            assert set(w) == {"word", "start", "end", "contribution"}
            assert e["text"][w["start"] : w["end"]] == w["word"]
        assert max(e["words"], key=lambda w: w["contribution"])["word"] == TRIGGER_WORD
    single = json.loads(run("explain", TEXT, "--model", model, "--json", "--task", "call_to_action", "--label",
                            "false").stdout)  # fmt: skip
    assert [(e["task"], e["label"], e["predicted"]) for e in single] == [("call_to_action", "false", False)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "mood"], "unknown task 'mood'"),
        (["--task", "sentiment", "--label", "angry"], "has no label 'angry'"),
        (["--label", "negative"], "--label needs --task"),
        (["--task", "topics", "--input", "x.csv"], "either TEXT or --input"),
    ],
)
def test_usage_errors_are_one_line(model: Path, args: list[str], message: str) -> None:
    assert message in one_error_line(run("explain", TEXT, "--model", model, *args), 2)


def test_text_that_cannot_be_labelled(model: Path) -> None:
    assert "status no_letters" in one_error_line(run("explain", "😀 2024", "--model", model), 2)
    assert "either TEXT or --input" in one_error_line(run("explain", "--model", model), 2)


def _table(path: Path) -> Path:
    rows = [TEXT, "health please", "please សូម", "", "😀", f"ផង {TRIGGER_WORD}", "សូម please"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "message"])
        writer.writerows([[i, text] for i, text in enumerate(rows)])
    return path


def test_table_counts_words_per_label(model: Path, tmp_path: Path) -> None:
    table, out = _table(tmp_path / "comments.csv"), tmp_path / "words.csv"
    result = run("explain", "--input", table, "--model", model, "--task", "topics", "--label", "health", "-o", out)
    assert result.exit_code == 0, result.output
    assert "explained 3 of 7 rows; 2 without the label asked for; skipped 2 that cannot be labelled: empty 1, " \
           "no_letters 1" in result.stderr  # fmt: skip
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["task"], r["label"], r["rank"], r["word"], r["texts"], r["share"]) for r in rows] == [
        ("topics", "health", "1", TRIGGER_WORD, "3", "1.0")
    ]
    assert float(rows[0]["mean_contribution"]) > 0.9


def test_table_printed_and_json(model: Path, tmp_path: Path) -> None:
    table = _table(tmp_path / "comments.csv")
    printed = run("explain", "--input", table, "--model", model, "--task", "sentiment", "--top", "3")
    assert printed.exit_code == 0, printed.output
    lines = printed.stdout.splitlines()
    assert lines[0].split() == ["task", "label", "rank", "word", "texts", "share", "mean_contribution"]
    assert lines[1].split()[:5] == ["sentiment", "positive", "1", TRIGGER_WORD, "3"]
    summary = json.loads(run("explain", "--input", table, "--model", model, "--task", "sentiment", "--json").stdout)
    assert (summary["rows"], summary["explained_rows"], summary["skipped"]) == (7, 5, {"empty": 1, "no_letters": 1})
    assert summary["words"][0]["word"] == TRIGGER_WORD


def test_table_errors(model: Path, tmp_path: Path) -> None:
    table = _table(tmp_path / "comments.csv")
    assert "no column 'body'" in one_error_line(
        run("explain", "--input", table, "--model", model, "--text-column", "body"), 2
    )
    assert "word table is written as" in one_error_line(
        run("explain", "--input", table, "--model", model, "-o", tmp_path / "w.xlsx"), 2
    )
    assert "has no label 'x'" in one_error_line(
        run("explain", "--input", table, "--model", model, "--task", "topics", "--label", "x"), 2
    )
