"""Formats from file names and first bytes; finding the text column."""

from __future__ import annotations

from pathlib import Path

import pytest

from khmer_civic.io.columns import check_no_clash, find_text_column, guess_text_column, unique_names
from khmer_civic.io.errors import ColumnClashError, MissingColumnError, UnreadableTableError, UnsupportedFormatError
from khmer_civic.io.formats import TableFormat, input_format, output_format


@pytest.mark.parametrize(
    "name, fmt",
    [("a.csv", TableFormat.CSV), ("a.TSV", TableFormat.TSV), ("a.jsonl", TableFormat.JSONL),
     ("a.parquet", TableFormat.PARQUET), ("a.xlsx", TableFormat.XLSX)],
)  # fmt: skip
def test_output_format_follows_the_extension(name: str, fmt: TableFormat) -> None:
    assert output_format(name) is fmt


@pytest.mark.parametrize("name", ["out.xls", "out.json", "out", "out.txt"])
def test_unknown_output_formats_name_the_choices(name: str) -> None:
    with pytest.raises(UnsupportedFormatError, match=r"\.csv .*\.xlsx|\.jsonl"):
        output_format(name)


def test_input_format_checks_the_bytes(tmp_path: Path) -> None:
    zipped = tmp_path / "renamed.csv"
    zipped.write_bytes(b"PK\x03\x04rest of a workbook")
    with pytest.raises(UnreadableTableError, match="rename it .xlsx"):
        input_format(zipped)
    fake = tmp_path / "fake.xlsx"
    fake.write_text("id,message\n", encoding="utf-8")
    with pytest.raises(UnreadableTableError, match="not an XLSX"):
        input_format(fake)
    with pytest.raises(UnreadableTableError, match="does not exist"):
        input_format(tmp_path / "missing.csv")
    with pytest.raises(UnsupportedFormatError, match="save the sheet as .xlsx"):
        input_format(tmp_path / "old.xls")
    ndjson = tmp_path / "x.ndjson"
    ndjson.write_text("{}\n", encoding="utf-8")
    assert input_format(ndjson) is TableFormat.JSONL


@pytest.mark.parametrize(
    "columns, expected",
    [
        (["id", "Message", "text"], "Message"),  # exact names, in order of preference
        (["id", "comment_text", "likes"], "comment_text"),
        (["post_id", "post_message", "created_time"], "post_message"),
        (["message_id", "commentText"], "commentText"),  # an id column is not the text
        (["status_message", "status_id"], "status_message"),
        (["Comments", "n_comments"], "Comments"),
        (["លេខ", "អត្ថបទ"], "អត្ថបទ"),
        (["id", "body", "comment_body"], "body"),  # an exact name beats a longer one
        (["id", "author", "date"], None),
    ],
)
def test_text_column_is_found_by_name(columns: list[str], expected: str | None) -> None:
    assert guess_text_column(columns) == expected


def test_find_text_column_requested_and_missing() -> None:
    columns = ["id", "Body", "date"]
    assert find_text_column(columns).name == "Body" and find_text_column(columns).auto
    chosen = find_text_column(columns, "body")
    assert chosen.name == "Body" and not chosen.auto
    with pytest.raises(MissingColumnError, match=r"no column 'msg' in x.csv; available columns: 'id', 'Body', 'date'"):
        find_text_column(columns, "msg", source="x.csv")
    with pytest.raises(MissingColumnError, match="--text-column.*'id', 'date'"):
        find_text_column(["id", "date"])


def test_clashes_and_unique_names() -> None:
    with pytest.raises(ColumnClashError, match="'topics'"):
        check_no_clash(["id", "topics"], ["topics", "sentiment"])
    check_no_clash(["id", "text"], ["topics"])
    assert unique_names(["a", None, "a", " a ", ""]) == ["a", "column_2", "a.1", "a.2", "column_5"]
