"""The workbook: a sheet per table with the same values, text never a formula (khmer_civic.report.xlsx)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from report_data import PLATFORM_COLUMNS, hand_rows, schema_with_cta_type, write_labelled

from khmer_civic.report.i18n import header
from khmer_civic.report.rows import read_labelled
from khmer_civic.report.tables import build_report, model_table
from khmer_civic.report.xlsx import write_xlsx

SCHEMA = schema_with_cta_type()


def test_one_sheet_per_table_with_the_same_values(tmp_path: Path):
    path = write_labelled(tmp_path / "x.jsonl", hand_rows(SCHEMA), SCHEMA, PLATFORM_COLUMNS)
    report = build_report(read_labelled(path, SCHEMA), model_table("m", "1", "/m", None))
    target = tmp_path / "report.xlsx"
    sheets = write_xlsx(report, target, "km")
    book = load_workbook(target)
    assert book.sheetnames == sheets == [t.name for t in report.tables()]
    for table in report.tables():
        values = list(book[table.name].iter_rows(values_only=True))
        assert list(values[0]) == [header(c, "km") for c in table.columns]
        assert len(values) == len(table.rows) + 1
    topics = {row[0]: row for row in book["topics_sentiment"].iter_rows(values_only=True)}
    assert topics["(none)"][1] == 4
    examples = [c for row in book["examples"].iter_rows() for c in row if c.value == '=HYPERLINK("x")']
    assert examples and all(c.data_type == "s" for c in examples)  # stored as text, not a formula
    assert not list(tmp_path.glob(".*.tmp"))
