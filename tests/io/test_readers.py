"""Streaming readers: encodings, delimiters, damaged rows, and every format's row order."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from messy_tables import IDS, MESSY_ROWS, TEXTS, messy_records, write_csv, write_jsonl, write_parquet, write_xlsx

from khmer_civic.io.errors import UnreadableTableError
from khmer_civic.io.readers import RowProblem, merge_kinds, open_table, sniff_delimiter


def _rows(path: Path, start: int = 0, **kwargs: object) -> list:
    with open_table(path, **kwargs) as reader:  # type: ignore[arg-type]
        return list(reader.rows(start))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimited_encodings_and_delimiters_give_every_row_unchanged(
    tmp_path: Path, encoding: str, delimiter: str
) -> None:
    path = tmp_path / "in.csv"
    if encoding.endswith("-bom"):
        codec = encoding[: -len("-bom")]
        bom = b"\xff\xfe" if codec == "utf-16-le" else b"\xfe\xff"
        from messy_tables import csv_text

        path.write_bytes(bom + csv_text(delimiter=delimiter).encode(codec))
    else:
        write_csv(path, encoding=encoding, delimiter=delimiter)
    with open_table(path) as reader:
        assert reader.columns == ["id", "message", "n"]  # no BOM glued to the first name
        assert reader.count_rows() == len(MESSY_ROWS)
        rows = list(reader.rows())
    assert [r.values["id"] for r in rows] == IDS  # strings: the leading zeros stay
    assert [r.values["message"] for r in rows] == TEXTS  # quoted newlines, quotes, tabs, pipes kept
    assert all(r.problem is None and not r.undecodable for r in rows)


def test_rows_can_start_anywhere(messy_csv: Path) -> None:
    assert [r.values["id"] for r in _rows(messy_csv, start=5)] == IDS[5:]
    assert _rows(messy_csv, start=len(IDS)) == []


def test_sniffer_prefers_consistent_splits() -> None:
    sample = "id;text\n1;a, b, c\n2;d, e\n"
    assert sniff_delimiter(sample, ",") == ";"
    assert sniff_delimiter("message\nhello, world\n", ",") == ","  # one column: the default
    assert sniff_delimiter("message\nhello, world\n", "\t") == "\t"


def test_blank_lines_are_not_rows_and_short_or_long_rows_are_flagged(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,message\n1,hello\n\n2,a,extra\n3\n4,last\n", encoding="utf-8")
    rows = _rows(path)
    assert [r.values["id"] for r in rows] == ["1", "2", "3", "4"]
    assert [r.problem for r in rows] == [None, RowProblem.MALFORMED, RowProblem.MALFORMED, None]
    assert rows[2].values == {"id": "3", "message": ""}


@pytest.mark.parametrize(
    "tail, broken",
    [
        ('5,"cut in the middle of a quoted', True),  # unclosed quote at the end of the file
        ("5", True),  # cells missing
        ("5,complete last row without newline", False),  # Google Sheets writes files like this
    ],
)
def test_truncated_last_row_is_flagged_and_complete_rows_kept(tmp_path: Path, tail: str, broken: bool) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,message\n1,one\n2,two\n" + tail, encoding="utf-8")
    with open_table(path) as reader:
        assert reader.count_rows() == 3
        rows = list(reader.rows())
    assert [r.values["id"] for r in rows] == ["1", "2", "5"]
    assert [r.problem for r in rows[:2]] == [None, None]
    assert rows[2].problem == (RowProblem.UNREADABLE if broken else None)


def test_file_cut_inside_a_character_flags_the_last_row(tmp_path: Path) -> None:
    data = "id,message\n1,សាលា\n2,គ្រូ\n".encode()
    path = tmp_path / "in.csv"
    path.write_bytes(data[:-2])  # drops the newline and half of the last Khmer character
    rows = _rows(path)
    assert [r.problem for r in rows] == [None, RowProblem.UNREADABLE]


def test_undecodable_bytes_mark_their_column(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,message,note\n1,ok text,fine\n2,bad \xff\xfe bytes,fine\n3,fine,bad \xc3\n")
    rows = _rows(path)
    assert [r.undecodable for r in rows] == [frozenset(), {"message"}, {"note"}]
    assert "\ufffd" in rows[1].values["message"]
    assert all(r.problem is None for r in rows)


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes("id,message\n".encode() + "1,caf\xe9 d\xe9j\xe0 vu \xe9t\xe9\n".encode("latin-1") * 20)
    with pytest.raises(UnreadableTableError, match="not UTF-8"):
        open_table(path)


def test_utf16_without_bom_and_empty_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("id,message\n1,hello\n".encode("utf-16-le"))
    with pytest.raises(UnreadableTableError, match="NUL"):
        open_table(path)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableTableError, match="empty"):
        open_table(empty)


def test_duplicate_and_blank_header_names_are_made_unique(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("text,,text\na,b,c\n", encoding="utf-8")
    with open_table(path) as reader:
        assert reader.columns == ["text", "column_2", "text.1"]
        assert next(reader.rows()).values == {"text": "a", "column_2": "b", "text.1": "c"}


# ------------------------------------------------------------------------------ JSONL


def test_jsonl_keeps_bad_lines_as_flagged_rows(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": 1, "message": "សួស្តី"},
            '{"id": 2, "message": "broken',
            [1, 2, 3],
            {"id": 4, "message": 42, "extra": True},
            '{"id": 5, "message": "cut at the e',
        ],
    )
    with open_table(path) as reader:
        assert reader.columns == ["id", "message", "extra"]
        assert reader.total_rows == 5
        assert reader.column_kinds() == {"id": "int", "message": "string", "extra": "bool"}
        rows = list(reader.rows())
    assert [r.problem for r in rows] == [
        None,
        RowProblem.UNREADABLE,
        RowProblem.UNREADABLE,
        None,
        RowProblem.UNREADABLE,
    ]
    assert rows[3].values == {"id": 4, "message": 42, "extra": True}  # JSON types kept
    assert [r.values.get("id") for r in _rows(path, start=3)] == [4, None]


def test_jsonl_blank_lines_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\n\n   \n{"text": "b"}\r\n')
    assert [r.values["text"] for r in _rows(path)] == ["a", "b"]


def test_merge_kinds() -> None:
    assert merge_kinds({"int", "float"}) == "float"
    assert merge_kinds({"int"}) == "int"
    assert merge_kinds({"bool", "int"}) == "string"
    assert merge_kinds({"json"}) == "string"
    assert merge_kinds(set()) == "string"


# ------------------------------------------------------------------------------ Parquet / XLSX


def test_parquet_rows_skip_whole_row_groups_on_resume(tmp_path: Path) -> None:
    records = [{"id": i, "message": f"text {i}", "score": i / 2} for i in range(25)]
    path = write_parquet(tmp_path / "in.parquet", records, row_group_size=4)
    with open_table(path) as reader:
        assert reader.total_rows == 25
        assert [f.name for f in reader.arrow_fields() or []] == ["id", "message", "score"]
        for start in (0, 3, 4, 9, 24, 25):
            assert [r.values for r in reader.rows(start)] == records[start:]


def test_truncated_parquet_is_refused(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "in.parquet", messy_records())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableTableError, match="Parquet"):
        open_table(path)


def test_xlsx_header_types_and_blank_rows(tmp_path: Path) -> None:
    when = dt.datetime(2024, 5, 1, 8, 30)
    path = write_xlsx(
        tmp_path / "in.xlsx",
        ["id", "message", None, "when"],
        [["007", "សាលា", None, when], [None, None, None, None], [8, 12345, "x", None], [None, None, None, None]],
    )
    with open_table(path) as reader:
        assert reader.columns == ["id", "message", "column_3", "when"]
        rows = list(reader.rows())
    assert len(rows) == 3  # the blank row in between stays, the one at the end goes
    assert rows[0].values == {"id": "007", "message": "សាលា", "column_3": None, "when": when}
    assert rows[1].values == {"id": None, "message": None, "column_3": None, "when": None}
    assert rows[2].values["message"] == 12345  # a number cell stays a number (not text)
    assert [r.values["id"] for r in _rows(path, start=2)] == [8]


def test_xlsx_sheet_choice_and_truncation(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "in.xlsx", ["text"], [["a"]], sheet="comments")
    assert [r.values["text"] for r in _rows(path, sheet="comments")] == ["a"]
    with pytest.raises(UnreadableTableError, match="no sheet 'other'"):
        open_table(path, sheet="other")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    with pytest.raises(UnreadableTableError, match="XLSX"):
        open_table(path)


def test_xlsx_without_dimension_counts_its_rows(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)  # such sheets carry no size: the rows are counted by reading
    sheet = book.create_sheet("data")
    sheet.append(["id", "text"])
    for i in range(7):
        sheet.append([i, f"row {i}"] if i != 3 else [i])
    book.save(tmp_path / "unsized.xlsx")
    with open_table(tmp_path / "unsized.xlsx") as reader:
        assert reader.total_rows is None
        assert reader.count_rows() == 7
        assert [r.values["text"] for r in reader.rows(2)] == ["row 2", None, "row 4", "row 5", "row 6"]


# ------------------------------------------------------------------------------ passes over the file


def _count_opens(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    """Record every opening of ``path`` (text or binary) from now on."""
    import builtins

    import khmer_civic.io.checkpoint as checkpoint

    opened: list[str] = []
    real_open = builtins.open

    def spy(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if Path(file) == path:
            opened.append(mode)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(checkpoint, "open", spy, raising=False)
    return opened


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
def test_the_fingerprint_is_the_files_size_and_sha256(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        write_csv(path, encoding="utf-16")
    elif fmt == "jsonl":
        write_jsonl(path, messy_records())
    elif fmt == "parquet":
        write_parquet(path, messy_records())
    else:
        write_xlsx(path, ["id", "message"], [[i, t] for i, t in zip(IDS, TEXTS)])
    expected = {"bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    with open_table(path) as reader:
        reader.count_rows()
        assert reader.fingerprint() == expected
        assert len(list(reader.rows())) == len(MESSY_ROWS)
    with open_table(path) as reader:
        assert reader.fingerprint() == expected  # also without a count first


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_text_file_is_read_once_for_count_columns_and_fingerprint(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "in.csv") if fmt == "csv" else write_jsonl(tmp_path / "in.jsonl", messy_records())
    opened = _count_opens(monkeypatch, path)
    with open_table(path) as reader:
        before_count = len(opened)  # the sample (and, for CSV, the header)
        assert reader.count_rows() == len(MESSY_ROWS)
        reader.fingerprint()
        assert len(opened) - before_count <= (1 if fmt == "csv" else 0)  # JSONL counted while opening
        list(reader.rows())
    assert len(opened) - before_count <= (2 if fmt == "csv" else 1)
