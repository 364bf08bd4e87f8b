"""Reading a labelled table back (khmer_civic.report.rows): cells of every format, every row kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from report_data import PLATFORM_COLUMNS, hand_rows, schema_with_cta_type, write_labelled

from khmer_civic.io.errors import MissingColumnError
from khmer_civic.report.rows import as_bool, as_count, as_labels, parse_time, read_labelled

SCHEMA = schema_with_cta_type()


def test_cells_as_label_writes_them():
    assert as_labels("education;health") == ["education", "health"] == as_labels(["education", "health"])
    assert as_labels("") == [] == as_labels(None)
    assert (as_bool("true"), as_bool(False), as_bool(""), as_bool("maybe")) == (True, False, None, None)
    assert (as_count("1,234"), as_count(12.0), as_count("12.5"), as_count(-1), as_count("N/A")) == (1234, 12, None, None, None)


def test_times_are_read_in_utc():
    assert parse_time("2026-10-02T01:14:00Z") == dt.datetime(2026, 10, 2, 1, 14)
    assert parse_time("2026-10-02T08:14:00+07:00") == dt.datetime(2026, 10, 2, 1, 14)
    assert parse_time(dt.date(2026, 1, 5)) == dt.datetime(2026, 1, 5)
    assert parse_time("yesterday") is None and parse_time(None) is None


def test_a_broken_line_keeps_its_row_and_is_counted(tmp_path: Path):
    path = write_labelled(tmp_path / "x.jsonl", hand_rows(SCHEMA), SCHEMA, PLATFORM_COLUMNS)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:40]  # a line cut short
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = read_labelled(path, SCHEMA)
    assert len(data.items) == len(lines)
    assert data.items[2].status == "unreadable_row" and not data.items[2].ok
    assert data.items[0].labels["cta_type"] == ["attend"] and data.items[0].engagement["reactions"] == 40


def test_a_table_without_label_status_is_refused(tmp_path: Path):
    path = tmp_path / "raw.csv"
    path.write_text("message\nសួស្តី\n", encoding="utf-8")
    with pytest.raises(MissingColumnError, match="label_status"):
        read_labelled(path, SCHEMA)
