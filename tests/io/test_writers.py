"""Cell conversions and the part-file writers of every output format."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from pathlib import Path

import pytest
from messy_tables import read_output

from khmer_civic.io.columns import FLAG, LABELS, SCORE, STATUS
from khmer_civic.io.formats import TableFormat
from khmer_civic.io.writers import (
    AddedColumn,
    TableLayout,
    arrow_schema,
    cell_text,
    make_writer,
    xlsx_cell,
)

ADDED = (
    AddedColumn("topics", LABELS),
    AddedColumn("cta", FLAG),
    AddedColumn("score", SCORE),
    AddedColumn("status", STATUS),
)
ROWS = [
    {
        "id": "007",
        "when": dt.datetime(2024, 1, 2, 3, 4, 5),
        "topics": ["education", "health"],
        "cta": True,
        "score": 0.5,
        "status": "ok",
    },
    {"id": "008", "when": None, "topics": None, "cta": None, "score": None, "status": "empty"},
    {"id": "009", "when": dt.datetime(2024, 2, 3), "topics": [], "cta": False, "score": 1e-7, "status": "ok"},
]


def _layout(kinds: dict[str, str]) -> TableLayout:
    return TableLayout(original=("id", "when"), original_kinds=kinds, added=ADDED)


def _write(fmt: TableFormat, layout: TableLayout, tmp_path: Path, chunks: list[list[dict]], **kwargs: object) -> Path:
    writer = make_writer(fmt, layout, **kwargs)  # type: ignore[arg-type]
    parts = []
    for i, rows in enumerate(chunks):
        part = tmp_path / f"part{i}{writer.part_suffix}"
        writer.write_part(rows, part)
        parts.append(part)
    target = tmp_path / f"out.{fmt.value}"
    writer.assemble(parts, target)
    return target


def test_cell_text() -> None:
    assert cell_text(None) == "" and cell_text("007") == "007"
    assert (cell_text(True), cell_text(3), cell_text(0.1), cell_text(math.nan)) == ("true", "3", "0.1", "")
    assert cell_text(dt.date(2024, 5, 1)) == "2024-05-01"
    assert cell_text(decimal.Decimal("1.10")) == "1.10"
    assert cell_text(b"\xff\x00") == "base64:/wA="
    assert cell_text({"a": ["ខ", 1]}) == '{"a": ["ខ", 1]}'


def test_xlsx_cell_keeps_what_excel_can_hold() -> None:
    assert xlsx_cell("bell\x07 and tab\t") == "bell and tab\t"  # control characters XLSX refuses go
    assert len(xlsx_cell("ក" * 40_000)) == 32_767
    assert xlsx_cell(math.inf) is None and xlsx_cell(7) == 7
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert xlsx_cell(aware) == "2024-01-01T00:00:00+00:00"
    assert xlsx_cell([1, 2]) == "[1, 2]"


def test_csv_parts_assemble_with_header_and_optional_bom(tmp_path: Path) -> None:
    layout = _layout({"id": "string", "when": "string"})
    out = _write(TableFormat.CSV, layout, tmp_path, [ROWS[:2], ROWS[2:]], bom=True)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfid,when,topics,cta,score,status\n")
    assert data.decode("utf-8-sig").splitlines()[1:] == [
        "007,2024-01-02T03:04:05,education;health,true,0.500000,ok",
        "008,,,,,empty",
        "009,2024-02-03T00:00:00,,false,0.000000,ok",
    ]


def test_jsonl_keeps_each_rows_keys(tmp_path: Path) -> None:
    layout = _layout({"id": "string", "when": "string"})
    rows = [{"only": 1, "topics": ["health"], "score": math.nan}, {"id": "x", "when": dt.date(2024, 1, 1)}]
    out = _write(TableFormat.JSONL, layout, tmp_path, [rows])
    assert out.read_text(encoding="utf-8").splitlines() == [
        '{"only": 1, "topics": ["health"], "score": null}',
        '{"id": "x", "when": "2024-01-01"}',
    ]


def test_parquet_schema_is_fixed_and_typed(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    layout = TableLayout(original=("id", "w"), original_kinds={"id": "int", "w": "float"}, added=ADDED)
    schema = arrow_schema(layout)
    assert schema.field("topics").type == pa.list_(pa.string()) and schema.field("cta").type == pa.bool_()
    rows = [{"id": 1, "w": 2, "topics": ["a"], "cta": True, "score": 0.25, "status": "ok"}, {"id": None, "w": 1.5}]
    out = _write(TableFormat.PARQUET, layout, tmp_path, [rows[:1], rows[1:]])
    table = pq.read_table(out)
    assert table.schema.equals(schema)
    assert pq.ParquetFile(out).metadata.num_row_groups == 2  # one per chunk
    assert table.to_pylist()[1] == {"id": None, "w": 1.5, "topics": None, "cta": None, "score": None, "status": None}
    strings = TableLayout(original=("id",), original_kinds={"id": "string"}, added=())
    assert pq.read_table(_write(TableFormat.PARQUET, strings, tmp_path, [[{"id": 7}, {"id": "007"}]])).to_pylist() == [
        {"id": "7"},
        {"id": "007"},
    ]


def test_xlsx_roundtrip_keeps_dates_numbers_and_text(tmp_path: Path) -> None:
    layout = _layout({"id": "string", "when": "string"})
    out = _write(TableFormat.XLSX, layout, tmp_path, [ROWS[:1], ROWS[1:]])
    rows = read_output(out)
    assert [r["id"] for r in rows] == ["007", "008", "009"]
    assert rows[0]["when"] == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert rows[0]["topics"] == "education;health" and rows[0]["cta"] is True
    assert rows[2]["score"] == pytest.approx(0.0) and rows[1]["score"] is None
