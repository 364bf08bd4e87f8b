"""One rule for "can this value be labelled", the same in the API, the label and tokenize commands,
the annotation tools; batch_size checked where it enters."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from khmer_civic.cli import cli
from khmer_civic.io.annotators import LabelJob
from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE, check_batch_size, is_labelable, prepare_input, read_text
from khmer_civic.schema import LabelStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))

# (value, status) for the values a table or a caller gives most often by mistake
TRICKY: list[tuple[object, LabelStatus]] = [
    ("", LabelStatus.EMPTY),
    ("  \t\n ", LabelStatus.EMPTY),
    ("\u200b\u200b", LabelStatus.EMPTY),  # zero-width spaces
    ("\ufeff\u2060", LabelStatus.EMPTY),  # byte-order mark, word joiner
    ("\u00a0\u3000", LabelStatus.EMPTY),  # no-break and ideographic spaces
    ("\u0600\u206a", LabelStatus.EMPTY),  # format characters that normalisation keeps but nothing shows
    ("😀🙏🙏", LabelStatus.NO_LETTERS),
    ("012 345 678", LabelStatus.NO_LETTERS),
    ("៣៤៥", LabelStatus.NO_LETTERS),  # Khmer digits
    ("!!! ???", LabelStatus.NO_LETTERS),
    (None, LabelStatus.EMPTY),
    (math.nan, LabelStatus.EMPTY),
    (42, LabelStatus.NOT_TEXT),
    (1.5, LabelStatus.NOT_TEXT),
    (True, LabelStatus.NOT_TEXT),
    (["សាលា"], LabelStatus.NOT_TEXT),
    ("ab\ud83d", LabelStatus.UNDECODABLE),  # half an emoji
    ("\udc00", LabelStatus.UNDECODABLE),
    ("សាលារៀនភូមិយើងខ្វះគ្រូ", LabelStatus.OK),
    ("please help 😀", LabelStatus.OK),
]
VALUES = [value for value, _ in TRICKY]
STATUSES = [status.value for _, status in TRICKY]


@pytest.mark.parametrize(("value", "status"), TRICKY, ids=[repr(v) for v in VALUES])
def test_one_rule_for_every_caller(value: object, status: LabelStatus) -> None:
    assert prepare_input(value)[0] is status
    assert read_text(value)[0] is status
    assert is_labelable(value) is (status is LabelStatus.OK)


def test_the_api_follows_the_rule(clf: CivicClassifier) -> None:
    assert [p.status.value for p in clf.predict(VALUES)] == STATUSES
    assert [bool(s) for s in clf.predict_proba(VALUES)] == [s == "ok" for s in STATUSES]


def _table(path: Path) -> Path:
    """The tricky values as a JSON Lines table (NaN as JSON's NaN, the surrogates as \\u escapes)."""
    lines = [json.dumps({"id": i, "text": value}, ensure_ascii=True) for i, value in enumerate(VALUES)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _statuses(path: Path, column: str) -> list[str]:
    return [json.loads(line)[column] for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_label_and_tokenize_commands_agree_with_the_api(clf: CivicClassifier, tmp_path: Path) -> None:
    table = _table(tmp_path / "tricky.jsonl")
    labelled, tokenized = tmp_path / "labelled.jsonl", tmp_path / "tokens.jsonl"
    runner = CliRunner()
    result = runner.invoke(cli, ["label", str(table), "-o", str(labelled), "--model", str(clf.path), "-q"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["tokenize", str(table), "-o", str(tokenized), "-q"])
    assert result.exit_code == 0, result.output

    api = [p.status.value for p in clf.predict(VALUES)]
    assert _statuses(labelled, "label_status") == api == STATUSES
    # tokenize segments texts without letters too (digits and emoji are tokens); otherwise the same rule
    no_letters = LabelStatus.NO_LETTERS.value
    assert _statuses(tokenized, "text_status") == ["ok" if s == no_letters else s for s in api]


def test_the_annotation_tools_use_the_classifiers_rule(clf: CivicClassifier) -> None:
    from annotation_tools import load_tool

    annolib = load_tool("annolib")
    assert [annolib.is_labelable(v) for v in VALUES] == [p.ok for p in clf.predict(VALUES)]


def test_the_training_loader_refuses_what_the_classifier_does_not_label(tmp_path: Path) -> None:
    from khmer_civic.train.data import DataValidationError, read_examples

    path = tmp_path / "annotated.jsonl"
    labels = {"topics": [], "sentiment": "neutral", "call_to_action": False}
    records = [json.dumps({"id": f"r{i}", "text": v, **labels}, ensure_ascii=True) for i, v in enumerate(VALUES)]
    path.write_text("\n".join(records) + "\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as caught:
        read_examples([path])
    refused = sorted({problem.line for problem in caught.value.problems if problem.line is not None})
    assert refused == [line for line, status in enumerate(STATUSES, start=1) if status != "ok"]


@pytest.mark.parametrize("bad", [0, -1, True, 1.0, "2", None])
def test_batch_size_is_checked_where_it_enters(clf: CivicClassifier, bad: object) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        check_batch_size(bad)
    for texts in ([], [None], "សាលា"):  # also when no text reaches the model
        with pytest.raises(ValueError, match="batch_size"):
            clf.predict(texts, batch_size=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="batch_size"):
            clf.predict_proba(texts, batch_size=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        LabelJob(batch_size=bad)  # type: ignore[arg-type]


def test_one_default_batch_size(clf: CivicClassifier) -> None:
    assert DEFAULT_BATCH_SIZE == 32
    assert LabelJob().batch_size == DEFAULT_BATCH_SIZE
    assert check_batch_size(DEFAULT_BATCH_SIZE) == DEFAULT_BATCH_SIZE
