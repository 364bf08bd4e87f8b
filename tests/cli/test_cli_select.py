"""``khmer-civic select`` and ``import-labels`` on the tiny model, and the whole round of issue 12:
a dump CSV → ``select`` → Label Studio tasks → an export written here with the choices filled in →
``import-labels`` → records → ``train`` on a tiny encoder → a model directory that loads.

The tiny model has random weights, so which texts it picks means nothing; the tests check what
the commands promise (columns, marks, near-duplicates, quotas, determinism, messages, the round trip).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tiny_model import build_tiny_model

from khmer_civic.cli import cli
from cli_helpers import one_error_line, run

TOPIC_WORDS = {"education": ["សាលារៀន", "school"], "health": ["មន្ទីរពេទ្យ", "health"], "local_administration": ["ឃុំ"]}
SENTIMENT_WORDS = {"negative": ["អាក្រក់", "bad"], "neutral": ["ប្រកាស", "notice"], "positive": ["ល្អណាស់", "good"]}
CTA_WORDS = ["សូម", "please"]
FILLER = (
    "ផ្លូវ ទឹក ភ្លើង ស្រូវ ផ្សារ ស្ពាន ព្រៃ សិស្ស ថ្នាំ ភូមិ ខេត្ត ក្រុង ថ្ងៃ ខែ ឆ្នាំ ពេល ល្ងាច ព្រឹក "
    "river market bridge village morning evening rain road water field"
).split()
TOPIC_CYCLE = [["education"], ["health"], ["local_administration"], [], ["education", "health"]]
N_DUMP = 72
N_PICK = 54


def dump_rows(n: int = N_DUMP) -> list[dict[str, str]]:
    """Texts made of cue words (their labels) and filler that keeps them apart, with a genre column."""
    rng = random.Random(4)
    rows = []
    for i in range(n):
        topics = TOPIC_CYCLE[i % len(TOPIC_CYCLE)]
        sentiment = ["negative", "neutral", "positive"][(i // 2) % 3]
        words = [TOPIC_WORDS[t][i % len(TOPIC_WORDS[t])] for t in topics] + [SENTIMENT_WORDS[sentiment][i % 2]]
        words += [CTA_WORDS[i % 2]] if i % 3 == 0 else []
        words += rng.sample(FILLER, 9)
        rng.shuffle(words)
        rows.append({"doc": f"d{i:03d}", "message": " ".join(words), "genre": "news" if i % 4 else "web"})
    rows.append({"doc": "d-empty", "message": "", "genre": "web"})
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path




@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny", embedding=True, quantize=True)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("dump") / "dump.csv", dump_rows())


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An already-annotated file holding near-copies of the dump's first three texts."""
    rows = dump_rows()[:3]
    path = tmp_path_factory.mktemp("annotated") / "done.jsonl"
    records = [{"id": f"old{i}", "text": r["message"] + " !!", "topics": []} for i, r in enumerate(rows)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def select_args(dump: Path, out: Path, model_dir: Path, *extra: Any) -> list[Any]:
    return ["select", dump, "-o", out, "--model", model_dir, "--no-progress", "--id-column", "doc", *extra]


def read_batch(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_select_writes_the_batch_and_the_label_studio_files(
    dump: Path, annotated: Path, model_dir: Path, tmp_path: Path
) -> None:
    out, tasks = tmp_path / "batch.csv", tmp_path / "ls" / "tasks.json"
    labels_only = tmp_path / "cta_type_extra.jsonl"
    labels_only.write_text('{"id": "old0", "cta_type": ["engage"]}\n', encoding="utf-8")
    extra = ["--n", 20, "--random-share", 0.25, "--annotated", annotated, labels_only, "--quota", "genre=web:8"]
    extra += ["--seed", 3]
    result = run(*select_args(dump, out, model_dir, *extra, "--label-studio", tasks, "--with-suggestions"))
    assert result.exit_code == 0, result.output
    rows = read_batch(out)
    assert len(rows) == 20 and len({r["id"] for r in rows}) == 20
    assert list(rows[0])[:5] == ["id", "text", "genre", "selection", "selection_quota"]
    assert {"selection_rank", "selection_score", "uncertainty_topics", "suggested_call_to_action"} <= set(rows[0])
    assert sum(r["selection"] == "random" for r in rows) == 5
    assert sum(r["genre"] == "web" for r in rows) >= 8
    assert not {"d000", "d001", "d002", "d-empty"} & {r["id"] for r in rows}  # near-copies of annotated texts
    assert "near_duplicate_of_annotated 3" in result.stderr and "quota genre=web" in result.stderr
    assert "have no text column (labels only): cta_type_extra.jsonl" in result.stderr
    ls_tasks = json.loads(tasks.read_text(encoding="utf-8"))
    assert [t["data"]["id"] for t in ls_tasks] == [r["id"] for r in rows]
    assert ls_tasks[0]["data"]["source"] == f"dump.csv#{rows[0]['id']}" and "selection" not in ls_tasks[0]["data"]
    assert ls_tasks[0]["predictions"][0]["model_version"] == "tiny-civic 0.0.1"
    assert "whenTagName" in (tmp_path / "ls" / "tasks.config.xml").read_text(encoding="utf-8")
    # the same input, options and seed give the same batch, byte for byte
    again = tmp_path / "again.csv"
    assert run(*select_args(dump, again, model_dir, *extra)).exit_code == 0
    plain = [{k: v for k, v in r.items() if not k.startswith("suggested_")} for r in rows]
    assert read_batch(again) == plain


def test_select_jsonl_batch_keeps_values_and_leaves_suggestions_out(
    dump: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "batch.jsonl"
    assert run(*select_args(dump, out, model_dir, "--n", 5, "-q")).exit_code == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 5 and isinstance(records[0]["selection_rank"], int)
    assert not any(k.startswith("suggested_") for k in records[0])


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--quota", "genre"], "FIELD=VALUE:N"),
        (["--quota", "missing=x:2"], "no column 'missing'"),
        (["--n", 3, "--quota", "genre=web:4"], "more than n = 3"),
        (["--id-column", "genre"], "repeats the id"),
    ],
)
def test_select_problems_are_one_line(
    dump: Path, model_dir: Path, tmp_path: Path, extra: list[Any], expected: str
) -> None:
    result = run(*select_args(dump, tmp_path / "b.csv", model_dir, *extra))
    assert expected in one_error_line(result)
    assert "must be .csv, .tsv or .jsonl" in one_error_line(run(*select_args(dump, tmp_path / "b.xlsx", model_dir)))


def test_import_labels_problems_are_one_line(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "export.json"
    bad.write_text('{"not": "a list"}', encoding="utf-8")
    line = one_error_line(run("import-labels", bad, "-o", tmp_path / "r.jsonl", "--model", model_dir))
    assert "a list of tasks" in line
    assert ".jsonl" in one_error_line(run("import-labels", bad, "-o", tmp_path / "r.csv", "--model", model_dir))


# ------------------------------------------------------------------------------ the round, end to end


def fill_in(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A Label Studio export of ``tasks``: choices from the cue words, one task skipped, one not done."""
    exported = []
    for number, item in enumerate(tasks, start=1):
        text = item["data"]["text"]
        topics = [t for t, words in TOPIC_WORDS.items() if any(w in text.split() for w in words)]
        sentiment = next(s for s, words in SENTIMENT_WORDS.items() if any(w in text.split() for w in words))
        cta = any(w in text.split() for w in CTA_WORDS)
        result = [
            {"from_name": "topics", "to_name": "text", "type": "choices", "value": {"choices": topics}},
            {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [sentiment]}},
            {"from_name": "call_to_action", "to_name": "text", "type": "choices",
             "value": {"choices": ["true" if cta else "false"]}},
        ]  # fmt: skip
        if cta:
            value = {"choices": ["engage"] if number % 2 else ["comply"]}  # two cta_type classes to learn
            result.append({"from_name": "cta_type", "to_name": "text", "type": "choices", "value": value})
        annotation = {"id": number, "completed_by": {"id": 2, "email": "annotator@example.org"}, "result": result,
                      "was_cancelled": number == 2, "lead_time": 3.5}  # fmt: skip
        exported.append({"id": 1000 + number, "data": item["data"], "annotations": [] if number == 3 else [annotation]})
    return exported


def test_dump_to_select_to_label_studio_to_records_to_a_trained_model(
    dump: Path, annotated: Path, model_dir: Path, tmp_path: Path, tiny_encoder: Path
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")

    tasks_path = tmp_path / "tasks.json"
    result = run(*select_args(dump, tmp_path / "batch.csv", model_dir, "--n", N_PICK, "--annotated", annotated,
                              "--label-studio", tasks_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert len(tasks) == N_PICK

    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps(fill_in(tasks), ensure_ascii=False), encoding="utf-8")
    records_path = tmp_path / "records.jsonl"
    result = run("import-labels", export_path, "-o", records_path, "--model", model_dir)
    assert result.exit_code == 0, result.output
    assert "cancelled (skipped)" in result.stderr and "not annotated" in result.stderr
    records = [json.loads(line) for line in records_path.read_text(encoding="utf-8").splitlines()]
    assert len(records) == N_PICK - 2
    assert list(records[0]) == ["id", "text", "topics", "sentiment", "call_to_action", "cta_type", "source",
                                "provenance", "genre", "annotator"]  # fmt: skip
    assert records[0]["source"] == f"dump.csv#{records[0]['id']}"  # the dump has no source column
    assert all(bool(r["cta_type"]) == r["call_to_action"] for r in records)
    assert {r["annotator"] for r in records} == {"annotator@example.org"}

    out = tmp_path / "trained"
    result = run("train", "--data", records_path, "--out", out, "--base", tiny_encoder, "--no-progress", "--seed", 3,
                 "--no-baseline")  # fmt: skip
    assert result.exit_code == 0, result.output

    from khmer_civic import CivicClassifier

    trained = CivicClassifier.load(out)
    assert trained.schema.task_names == ["topics", "sentiment", "call_to_action", "cta_type"]  # the recipe's tasks
    assert trained.predict(records[0]["text"]).ok
    assert trained.embed([records[0]["text"]]).shape == (1, 16)  # exported with the pooled output
