"""run_table end to end with the tiny model: every format, flagged rows, resume, workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from messy_tables import (
    IDS,
    STATUSES,
    TEXTS,
    messy_records,
    read_output,
    write_csv,
    write_jsonl,
    write_parquet,
    write_xlsx,
)

from khmer_civic.io.annotators import LabelJob, Labeller, TokenizeJob
from khmer_civic.io.checkpoint import RunDirectory
from khmer_civic.io.errors import ColumnClashError, ResumeError, TableError
from khmer_civic.io.pipeline import RunOptions, run_table
from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.schema import ModelSchema, TaskSpec, default_schema
from khmer_civic.text import mask_pii

FORMATS = ["csv", "tsv", "jsonl", "parquet", "xlsx"]
LABEL_COLUMNS = [
    "topics", "sentiment", "call_to_action", "label_status",
    "score_topics_education", "score_topics_health", "score_topics_local_administration",
    "score_sentiment_negative", "score_sentiment_neutral", "score_sentiment_positive", "score_call_to_action",
]  # fmt: skip


class Interrupt(Exception):
    """Raised from after_chunk to stop a run the way a crash would."""


def _label(labeller: Labeller, source: Path, output: Path, *, after_chunk: Any = None, **options: Any) -> Any:
    job = LabelJob(str(labeller.classifier.path))
    notes: list[str] = []
    result = run_table(
        RunOptions(source, output, **options), job, notify=notes.append, annotator=labeller, after_chunk=after_chunk
    )
    return result, notes


def write_messy(path: Path) -> Path:
    """The messy rows in the format of ``path``'s extension."""
    fmt = path.suffix[1:]
    if fmt == "csv":
        return write_csv(path, encoding="utf-8-sig", delimiter=";")
    if fmt == "tsv":
        return write_csv(path, encoding="utf-16", delimiter="\t")
    if fmt == "jsonl":
        return write_jsonl(path, messy_records())
    if fmt == "parquet":
        return write_parquet(path, messy_records(), row_group_size=5)
    return write_xlsx(path, ["id", "message", "n"], [[r["id"], r["message"], r["n"]] for r in messy_records()])


@pytest.mark.parametrize("out_fmt", FORMATS)
@pytest.mark.parametrize("in_fmt", FORMATS)
def test_every_format_keeps_rows_order_values_and_flags(
    labeller: Labeller, tmp_path: Path, in_fmt: str, out_fmt: str
) -> None:
    source = write_messy(tmp_path / f"in.{in_fmt}")
    output = tmp_path / f"out.{out_fmt}"
    result, notes = _label(labeller, source, output, chunk_size=5)
    assert notes == ["text column: 'message' (found by name; use --text-column to pick another)"]
    rows = read_output(output)
    assert result.rows == len(rows) == len(IDS)
    assert list(rows[0]) == ["id", "message", "n", *LABEL_COLUMNS]
    assert [str(r["id"]) for r in rows] == IDS  # order kept, and 007 keeps its zeros
    texts = [r["message"] for r in rows]
    if "xlsx" in (in_fmt, out_fmt):  # XLSX has no empty strings: a blank cell reads as None
        texts = ["" if t is None else t for t in texts]
    assert texts == TEXTS
    assert [r["label_status"] for r in rows] == STATUSES
    expected = labeller.classifier.predict(TEXTS)
    for row, prediction in zip(rows, expected):
        if prediction.ok:
            topics = (
                row["topics"] if isinstance(row["topics"], list) else [t for t in (row["topics"] or "").split(";") if t]
            )
            assert topics == prediction.topics
            assert row["sentiment"] == prediction.sentiment
            assert str(row["call_to_action"]).lower() == str(prediction.call_to_action).lower()
            assert float(row["score_sentiment_positive"]) == pytest.approx(
                prediction.scores["sentiment"]["positive"], abs=1e-6
            )
        else:
            assert row["sentiment"] in (None, "") and row["score_call_to_action"] in (None, "")
    assert not RunDirectory(output).path.exists()  # cleaned up after the output moved into place


def test_typed_inputs_keep_their_types_in_typed_outputs(labeller: Labeller, tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": 1, "message": "សាលា", "w": 1.5, "flag": True}, {"id": 2, "message": 42, "w": 2}, '{"id": 3, "mess'],
    )
    _label(labeller, source, tmp_path / "out.parquet")
    rows = read_output(tmp_path / "out.parquet")
    assert [r["id"] for r in rows] == [1, 2, None]
    assert [r["w"] for r in rows] == [1.5, 2.0, None]
    assert [r["label_status"] for r in rows] == ["ok", "not_text", "unreadable_row"]
    assert isinstance(rows[0]["topics"], list) and isinstance(rows[0]["call_to_action"], bool)
    _label(labeller, source, tmp_path / "out.jsonl")
    lines = read_output(tmp_path / "out.jsonl")
    assert lines[1]["message"] == 42 and lines[1]["topics"] is None
    assert list(lines[2]) == LABEL_COLUMNS  # a broken line has no values of its own, only its status
    assert lines[2]["label_status"] == "unreadable_row"


def test_truncated_csv_gives_every_complete_row(labeller: Labeller, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('id,message\n1,សាលារៀន\n2,"គ្រូ\nពេទ្យ"\n3,"មន្ទីរពេទ្យ គ្មាន', encoding="utf-8")
    _label(labeller, source, tmp_path / "out.csv")
    rows = read_output(tmp_path / "out.csv")
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert [r["label_status"] for r in rows] == ["ok", "ok", "unreadable_row"]


def test_undecodable_text_is_flagged_not_labelled(labeller: Labeller, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(
        "id,message\n1,សាលារៀន\n2,bad \xff bytes\n3,គ្រូ\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff")
    )
    _label(labeller, source, tmp_path / "out.csv")
    assert [r["label_status"] for r in read_output(tmp_path / "out.csv")] == ["ok", "undecodable_text", "ok"]


def _run_interrupted(labeller: Labeller, source: Path, output: Path, stop_after: int, **options: Any) -> None:
    def stop(index: int) -> None:
        if index == stop_after:
            raise Interrupt

    with pytest.raises(Interrupt):
        _label(labeller, source, output, after_chunk=stop, **options)
    assert not output.exists()
    checkpoint = RunDirectory(output).load()
    assert checkpoint is not None and checkpoint.chunks_done == stop_after + 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_interrupted_then_resumed_run_is_byte_identical(labeller: Labeller, tmp_path: Path, fmt: str) -> None:
    source = write_csv(tmp_path / "in.csv", rows=[(f"{i:03d}", f"{TEXTS[i % len(TEXTS)]} {i}", "") for i in range(40)])
    clean = tmp_path / f"clean.{fmt}"
    clean_result, _ = _label(labeller, source, clean, chunk_size=6)
    resumed = tmp_path / f"resumed.{fmt}"
    _run_interrupted(labeller, source, resumed, stop_after=2, chunk_size=6)
    # a part written after the last checkpoint (a crash between the two) must not leak in
    run_dir = RunDirectory(resumed)
    stray = run_dir.part_path(3, ".csv.part" if fmt == "csv" else ".jsonl.part" if fmt == "jsonl" else ".parquet.part")
    stray.write_bytes(b"garbage")
    result, notes = _label(labeller, source, resumed, chunk_size=6, resume=True)
    assert notes[-1] == "resuming after 18 rows (3 chunks) already done"
    assert result.resumed_from_row == 18 and result.rows_this_run == 22 and result.rows == 40
    assert resumed.read_bytes() == clean.read_bytes()
    assert result.counts == clean_result.counts  # the summary covers the rows of both sessions


def test_resumed_xlsx_has_the_same_cells(labeller: Labeller, tmp_path: Path) -> None:
    source = write_messy(tmp_path / "in.xlsx")
    _label(labeller, source, tmp_path / "clean.xlsx", chunk_size=4)
    _run_interrupted(labeller, source, tmp_path / "resumed.xlsx", stop_after=0, chunk_size=4)
    _label(labeller, source, tmp_path / "resumed.xlsx", chunk_size=4, resume=True)
    assert read_output(tmp_path / "resumed.xlsx") == read_output(tmp_path / "clean.xlsx")


def test_resume_refuses_changed_settings_and_input(labeller: Labeller, tmp_path: Path, messy_csv: Path) -> None:
    output = tmp_path / "out.csv"
    _run_interrupted(labeller, messy_csv, output, stop_after=0, chunk_size=4)
    with pytest.raises(ResumeError, match="chunk_size changed"):
        _label(labeller, messy_csv, output, chunk_size=5, resume=True)
    with pytest.raises(ResumeError, match="mask_pii changed"):
        _label(labeller, messy_csv, output, chunk_size=4, resume=True, mask_pii=True)
    messy_csv.write_bytes(messy_csv.read_bytes() + b"99,one more row,99\n")
    with pytest.raises(ResumeError, match="input changed"):
        _label(labeller, messy_csv, output, chunk_size=4, resume=True)
    # without --resume the stale run is discarded and the output written from scratch
    _, notes = _label(labeller, messy_csv, output, chunk_size=4)
    assert any("discarding an unfinished run" in n for n in notes)
    assert len(read_output(output)) == len(IDS) + 1


def test_two_workers_write_the_same_bytes_as_one(labeller: Labeller, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", rows=[(str(i), f"{TEXTS[i % len(TEXTS)]} {i}", "") for i in range(60)])
    for fmt in ("csv", "parquet"):
        one, _ = _label(labeller, source, tmp_path / f"one.{fmt}", chunk_size=7, workers=1)
        two, _ = _label(labeller, source, tmp_path / f"two.{fmt}", chunk_size=7, workers=2)
        assert (one.workers, two.workers) == (1, 2)
        assert (tmp_path / f"one.{fmt}").read_bytes() == (tmp_path / f"two.{fmt}").read_bytes()


def test_mask_pii_masks_the_output_text_but_labels_the_original(
    labeller: Labeller, tmp_path: Path, messy_csv: Path
) -> None:
    _label(labeller, messy_csv, tmp_path / "plain.jsonl")
    _label(labeller, messy_csv, tmp_path / "masked.jsonl", mask_pii=True)
    plain, masked = read_output(tmp_path / "plain.jsonl"), read_output(tmp_path / "masked.jsonl")
    assert [r["message"] for r in masked] == [mask_pii(t) for t in TEXTS]
    assert "[PHONE]" in masked[8]["message"] and "012 345 678" not in masked[8]["message"]
    for a, b in zip(plain, masked):
        assert {k: v for k, v in a.items() if k != "message"} == {k: v for k, v in b.items() if k != "message"}


def test_a_retrained_model_with_another_topic_gets_its_columns(tmp_path: Path, messy_csv: Path) -> None:
    from tiny_model import build_tiny_model

    base = default_schema()
    topics = TaskSpec("topics", "multi_label", (*base["topics"].labels, "agriculture"), "topics")
    model_dir = build_tiny_model(tmp_path / "model", tasks=ModelSchema((topics, base["sentiment"])))
    result = run_table(RunOptions(messy_csv, tmp_path / "out.csv"), LabelJob(str(model_dir)), notify=lambda _: None)
    rows = read_output(tmp_path / "out.csv")
    assert "score_topics_agriculture" in rows[0] and "call_to_action" not in rows[0]
    assert result.counts["rows"] == len(IDS)


def test_usage_errors(labeller: Labeller, tmp_path: Path, messy_csv: Path) -> None:
    with pytest.raises(TableError, match="is the input file"):
        _label(labeller, messy_csv, messy_csv)
    with pytest.raises(TableError, match="folder .* does not exist"):
        _label(labeller, messy_csv, tmp_path / "no" / "out.csv")
    labelled = tmp_path / "labelled.csv"
    _label(labeller, messy_csv, labelled)
    with pytest.raises(ColumnClashError, match="'topics'"):
        _label(labeller, labelled, tmp_path / "again.csv")
    with pytest.raises(TableError, match="chunk size"):
        _label(labeller, messy_csv, tmp_path / "out.csv", chunk_size=0)


def test_xlsx_output_refuses_more_rows_than_a_sheet_holds(
    labeller: Labeller, tmp_path: Path, messy_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from khmer_civic.io import pipeline

    monkeypatch.setattr(pipeline, "XLSX_MAX_ROWS", len(IDS) - 1)
    with pytest.raises(TableError, match="has 12 rows and an XLSX sheet holds at most 11; write .csv"):
        _label(labeller, messy_csv, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.xlsx").exists()


def test_empty_table_gives_a_header_only_output(labeller: Labeller, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n", encoding="utf-8")
    result, _ = _label(labeller, source, tmp_path / "out.csv")
    assert result.rows == 0
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines() == [",".join(["id", "text", *LABEL_COLUMNS])]


def test_tokenize_adds_normalized_text_and_words(tmp_path: Path, messy_csv: Path) -> None:
    run_table(RunOptions(messy_csv, tmp_path / "out.jsonl", chunk_size=5), TokenizeJob(), notify=lambda _: None)
    rows = read_output(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == IDS
    assert list(rows[0])[-3:] == ["normalized", "tokens", "text_status"]
    assert rows[0]["tokens"].split(" ") == ["សាលារៀន", "ភូមិ", "យើង", "ខ្វះ", "គ្រូ"]
    assert "012\u00a0345\u00a0678" in rows[8]["tokens"].split(" ")  # one token, its spaces kept inside
    assert [r["text_status"] for r in rows][2:6] == ["empty", "empty", "ok", "ok"]  # digits and emoji are tokens
    assert rows[2]["tokens"] is None


def test_summary_counts_match_the_output(labeller: Labeller, tmp_path: Path, messy_csv: Path) -> None:
    from khmer_civic.io.summary import label_summary

    result, _ = _label(labeller, messy_csv, tmp_path / "out.jsonl", chunk_size=5)
    summary = label_summary(result, labeller.schema)
    rows = read_output(tmp_path / "out.jsonl")
    ok = [r for r in rows if r["label_status"] == "ok"]
    assert summary["rows"] == len(rows) and summary["rows_labelled"] == len(ok)
    assert summary["status"] == {s: STATUSES.count(s) for s in ("ok", "empty", "no_letters")}
    for label, entry in summary["tasks"]["topics"]["labels"].items():
        with_label = [r for r in ok if label in r["topics"]]
        assert entry["rows"] == len(with_label)
        if with_label:
            negative = sum(r["sentiment"] == "negative" for r in with_label) / len(with_label)
            assert entry["sentiment"]["negative"] == pytest.approx(negative, abs=1e-4)
    rate = sum(r["call_to_action"] for r in ok) / len(ok)
    assert summary["tasks"]["call_to_action"]["rate"] == pytest.approx(rate, abs=1e-4)
    assert json.loads(json.dumps(summary)) == summary


class RecordingLabeller(Labeller):
    """A Labeller that keeps the texts it was given and the statuses it set."""

    def __init__(self, classifier: Any) -> None:
        super().__init__(classifier)
        self.texts: list[object] = []
        self.statuses: list[str] = []

    def annotate(self, texts: Any) -> Any:
        self.texts += list(texts)
        columns = super().annotate(texts)
        self.statuses += columns["label_status"]
        return columns


@pytest.mark.parametrize("workers", [1, 2])
def test_a_rows_status_is_set_once(labeller: Labeller, tmp_path: Path, workers: int) -> None:
    # rows read with a problem never reach the annotator: the read problem is their status, set once
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "message": "សាលារៀន"}\nnot json\n{"id": 3, "message": "ab\\ud83d"}\n'
        '{"id": 4, "message": ""}\n[1, 2]\n{"id": 6, "message": "គ្រូ"}\n',
        encoding="utf-8",
    )
    recording = RecordingLabeller(labeller.classifier)
    result = run_table(
        RunOptions(source, tmp_path / "out.jsonl", chunk_size=2, workers=workers),
        LabelJob(str(labeller.classifier.path)),
        notify=lambda _: None,
        annotator=recording,
    )
    rows = read_output(tmp_path / "out.jsonl")
    statuses = ["ok", "unreadable_row", "undecodable_text", "empty", "unreadable_row", "ok"]
    assert [r["label_status"] for r in rows] == statuses
    assert all(r["topics"] is None and r["score_call_to_action"] is None for r in rows if r["label_status"] != "ok")
    assert sum(result.counts[f"status/{s}"] for s in set(statuses)) == len(rows) == result.counts["rows"]
    if workers == 1:
        assert recording.texts == ["សាលារៀន", "", "គ្រូ"]
        assert recording.statuses == ["ok", "empty", "ok"]


def count_model_loads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make CivicClassifier.load record its arguments in the returned list (in this process) and go on loading."""
    loads: list[Any] = []
    original = CivicClassifier.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls: type, *args: Any, **kwargs: Any) -> Any:
        loads.append(args)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(CivicClassifier, "load", classmethod(counting_load))
    return loads


def test_model_is_loaded_once_per_run_in_process(
    tiny_model_dir: Path, tmp_path: Path, messy_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = count_model_loads(monkeypatch)
    run_table(
        RunOptions(messy_csv, tmp_path / "out.csv", chunk_size=2), LabelJob(str(tiny_model_dir)), notify=lambda _: None
    )
    assert len(loads) == 1


@pytest.mark.parametrize(("chunk_size", "loads_here"), [(2, 0), (100, 1)])
def test_with_workers_the_main_process_loads_no_model(
    tiny_model_dir: Path,
    tmp_path: Path,
    messy_csv: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk_size: int,
    loads_here: int,
) -> None:
    # workers label; this process only writes, unless the file is one chunk (then it labels itself)
    loads = count_model_loads(monkeypatch)
    options = RunOptions(messy_csv, tmp_path / "out.csv", chunk_size=chunk_size, workers=2)
    result = run_table(options, LabelJob(str(tiny_model_dir)), notify=lambda _: None)
    assert len(loads) == loads_here
    assert result.workers == (2 if loads_here == 0 else 1)
    assert [r["label_status"] for r in read_output(tmp_path / "out.csv")] == STATUSES
    assert result.annotator_identity == LabelJob(str(tiny_model_dir)).build().identity()


def test_parquet_to_parquet_keeps_the_input_schema(labeller: Labeller, tmp_path: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int32()),
            "message": ["សាលារៀន", None],
            "when": pa.array([dt.datetime(2024, 1, 1, 8), None], pa.timestamp("ms", tz="UTC")),
            "tags": [["a", "b"], []],
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    _label(labeller, tmp_path / "in.parquet", tmp_path / "out.parquet")
    out = pq.read_table(tmp_path / "out.parquet")
    for field in table.schema:
        assert out.schema.field(field.name).type == field.type
    assert out.column("tags").to_pylist() == [["a", "b"], []]
    assert out.column("label_status").to_pylist() == ["ok", "empty"]
    _label(labeller, tmp_path / "in.parquet", tmp_path / "out.csv")
    rows = read_output(tmp_path / "out.csv")
    assert [r["when"] for r in rows] == ["2024-01-01T08:00:00+00:00", ""] and rows[0]["tags"] == '["a", "b"]'
