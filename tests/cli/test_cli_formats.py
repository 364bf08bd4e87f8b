"""khmer-civic formats, and label on platform exports (--format, --tz)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "io" / "platforms"))

from cli_helpers import one_error_line, run  # noqa: E402
from exports import (  # noqa: E402
    MBS_ROWS,
    SCHOOL,
    write_graph_api,
    write_meta_business_suite,
    write_telegram_chat,
    write_telegram_html,
)

from khmer_civic.io.platforms import CONTRACT_COLUMNS, FORMAT_NAMES  # noqa: E402


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_formats_lists_every_name() -> None:
    result = run("formats")
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == list(FORMAT_NAMES)
    as_json = json.loads(run("formats", "--json").stdout)
    assert [f["name"] for f in as_json["formats"]] == list(FORMAT_NAMES)
    assert as_json["columns"] == list(CONTRACT_COLUMNS)


def test_label_a_business_suite_export_keeps_every_row(tiny_model_dir: Path, tmp_path: Path) -> None:
    export = write_meta_business_suite(tmp_path)
    output = tmp_path / "out.csv"
    result = run("label", export, "-o", output, "--model", tiny_model_dir, "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "meta_business_suite, detected" in result.stderr and "text column: 'text'" in result.stderr
    rows = read_csv(output)
    assert len(rows) == len(MBS_ROWS)
    header = list(rows[0])
    assert header[: len(CONTRACT_COLUMNS)] == list(CONTRACT_COLUMNS)
    assert "Post ID" in header and "label_status" in header and "topics" in header
    assert [r["item_id"] for r in rows] == [r[0] for r in MBS_ROWS]
    assert rows[0]["text"] == SCHOOL and rows[0]["created_at"] == "2026-10-02T01:14:00Z"
    assert rows[0]["reactions"] == "1234" and rows[0]["shares"] == ""
    assert [r["label_status"] for r in rows][2] == "malformed_row"
    assert rows[0]["label_status"] == "ok" and rows[0]["sentiment"] != ""


def test_label_telegram_counts_skipped_service_messages(tiny_model_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    summary = tmp_path / "summary.json"
    result = run(
        "label", write_telegram_chat(tmp_path), "-o", output, "--model", tiny_model_dir, "--summary", summary,
        "--tz", "UTC", "--workers", 1,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "skipped, not rows: telegram_service_messages 1" in result.stderr
    facts = json.loads(summary.read_text(encoding="utf-8"))
    assert facts["skipped"] == {"telegram_service_messages": 1} and facts["input_format"] == "telegram_desktop"
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == facts["rows"] == 3
    assert rows[2]["created_at"] == "2026-10-02T10:30:00Z"  # --tz UTC for the naive date


def test_unmapped_items_are_kept_and_flagged(tiny_model_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.csv"
    result = run("label", write_graph_api(tmp_path), "-o", output, "--model", tiny_model_dir, "--workers", 1)
    assert result.exit_code == 0, result.output
    statuses = [r["label_status"] for r in read_csv(output)]
    assert len(statuses) == 7 and statuses[-2:] == ["unmapped_row", "unmapped_row"]
    assert "unmapped_row 2" in result.stderr


def test_format_forces_and_bad_names_are_one_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("Post ID,Description\n77,សួស្តី\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    result = run("label", plain, "-o", output, "--model", tiny_model_dir, "--format", "meta_business_suite")
    assert result.exit_code == 0, result.output
    assert "named by --format" in result.stderr
    (row,) = read_csv(output)
    assert (row["item_id"], row["text"], row["platform"]) == ("77", "សួស្តី", "facebook")

    line = one_error_line(run("label", plain, "-o", output, "--format", "instagram"), 2)
    assert "unknown input format 'instagram'" in line and "telegram_desktop" in line and "table" in line
    line = one_error_line(run("label", plain, "-o", output, "--tz", "Mars/Olympus"), 2)
    assert "unknown time zone 'Mars/Olympus'" in line
    line = one_error_line(run("label", write_telegram_html(tmp_path), "-o", output, "--model", tiny_model_dir), 2)
    assert "export as JSON (machine-readable)" in line


def test_typed_outputs_take_json_values_and_counts(tiny_model_dir: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    output = tmp_path / "out.parquet"
    result = run("label", write_telegram_chat(tmp_path), "-o", output, "--model", tiny_model_dir, "--workers", 1)
    assert result.exit_code == 0, result.output
    table = pq.read_table(output)
    assert str(table.schema.field("reactions").type) == "int64" and str(table.schema.field("item_id").type) == "string"
    rows = table.to_pylist()
    assert [r["reactions"] for r in rows] == [7, None, None]
    assert json.loads(rows[1]["original.text"])[1] == {"type": "bold", "text": "ប្រជុំ"}  # a list, written as JSON text
