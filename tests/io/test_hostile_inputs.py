"""Hostile inputs (issue 20): lone surrogates, NUL bytes, formula injection, runaway quotes, long cells.

Bad characters are a row's problem, never the run's: they become U+FFFD and the row is flagged
``undecodable_text``, the same in every reader and wherever they sit in the file, and no writer
ever emits a lone surrogate or a NUL.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from messy_tables import read_output, write_parquet

from khmer_civic.io.annotators import LabelJob, Labeller
from khmer_civic.io.columns import LABELS, SCORE, STATUS, TEXT
from khmer_civic.io.formats import TableFormat
from khmer_civic.io.pipeline import RunOptions, run_table
from khmer_civic.io.readers import SNIFF_BYTES, RowProblem, open_table
from khmer_civic.io.writers import (
    XLSX_MAX_CELL_CHARS,
    AddedColumn,
    TableLayout,
    guard_formula,
    make_writer,
    xlsx_cell,
)
from khmer_civic.schema import LabelStatus

FFFD = "\ufffd"
OUTPUT_FORMATS = ["csv", "tsv", "jsonl", "parquet", "xlsx"]


def _label(labeller: Labeller, source: Path, output: Path, **options: Any) -> tuple[Any, list[str]]:
    notes: list[str] = []
    job = LabelJob(str(labeller.classifier.path))
    result = run_table(RunOptions(source, output, **options), job, notify=notes.append, annotator=labeller)
    return result, notes


def _rows(path: Path) -> list[Any]:
    with open_table(path) as reader:
        return list(reader.rows())


def _assert_readable(output: Path) -> None:
    """The output holds no NUL and no lone surrogate, in its bytes or in the values it reads back as."""
    data = output.read_bytes()
    if output.suffix in (".csv", ".tsv", ".jsonl"):
        text = data.decode("utf-8")  # strict: a lone surrogate cannot have been encoded
        assert "\x00" not in text
        if output.suffix == ".jsonl":
            assert "\\u0000" not in text and "\\ud8" not in text.lower()
    for row in read_output(output):
        for key, value in row.items():
            for item in (key, value):
                if isinstance(item, str):
                    assert "\x00" not in item and not any(0xD800 <= ord(c) <= 0xDFFF for c in item), row


# ------------------------------------------------------------------------------ the status lives in one place


def test_undecodable_text_is_one_label_status() -> None:
    assert LabelStatus.UNDECODABLE.value == "undecodable_text"
    assert RowProblem.UNDECODABLE.value == LabelStatus.UNDECODABLE.value
    import khmer_civic.io.readers as readers

    source = Path(readers.__file__).read_text(encoding="utf-8")
    assert '"undecodable_text"' not in source  # referred to, not defined a second time


# ------------------------------------------------------------------------------ lone surrogates


def test_jsonl_lone_surrogates_become_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": 1, "message": "សាលារៀន"}\n'
        '{"id": 2, "message": "cut emoji \\ud83d", "note": "fine"}\n'
        '{"id": 3, "message": "ok", "note": "low half \\ude00 alone"}\n'
        '{"id": 4, "message": "whole emoji \\ud83d\\ude00 is fine"}\n'
        '{"id": 5, "\\ud800key": "x", "message": ["nested \\udfff"]}\n',
        encoding="utf-8",
    )
    with open_table(path) as reader:
        assert reader.columns == ["id", "message", "note", f"{FFFD}key"]
        rows = list(reader.rows())
    assert [r.problem for r in rows] == [None] * 5
    assert rows[1].values["message"] == f"cut emoji {FFFD}" and rows[1].undecodable == {"message"}
    assert rows[2].values["note"] == f"low half {FFFD} alone" and rows[2].undecodable == {"note"}
    assert rows[3].values["message"] == "whole emoji 😀 is fine" and not rows[3].undecodable
    assert rows[4].values == {"id": 5, f"{FFFD}key": "x", "message": [f"nested {FFFD}"]}


@pytest.mark.parametrize("out_fmt", OUTPUT_FORMATS)
def test_jsonl_with_a_lone_surrogate_is_labelled_and_flagged(
    labeller: Labeller, tmp_path: Path, out_fmt: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "message": "សាលារៀនភូមិយើងខ្វះគ្រូ"}\n'
        '{"id": 2, "message": "មន្ទីរពេទ្យ \\ud83d"}\n'
        '{"id": 3, "message": "គ្រូ", "extra": "\\udc00 and \\u0000"}\n',
        encoding="utf-8",
    )
    output = tmp_path / f"out.{out_fmt}"
    result, _ = _label(labeller, source, output)
    rows = read_output(output)
    assert result.rows == 3 and [str(r["id"]) for r in rows] == ["1", "2", "3"]
    assert [r["label_status"] for r in rows] == ["ok", "undecodable_text", "ok"]
    assert rows[1]["message"] == f"មន្ទីរពេទ្យ {FFFD}"
    assert rows[2]["extra"] == f"{FFFD} and {FFFD}"
    _assert_readable(output)


@pytest.mark.parametrize(
    "data",
    [
        b"id,message\n1,ok\n2,half \xed\xa0\xbd emoji\n",  # a surrogate encoded as UTF-8 bytes (CESU-8)
        b"\xff\xfe" + "id,message\n1,ok\n2,half ".encode("utf-16-le") + b"\x3d\xd8" + "x\n".encode("utf-16-le"),
    ],
    ids=["utf8", "utf16"],
)
def test_csv_surrogates_in_the_bytes_are_undecodable(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    rows = _rows(path)
    assert FFFD in rows[1].values["message"] and rows[1].undecodable == {"message"} and not rows[0].undecodable
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in rows[1].values["message"])


def test_parquet_nul_in_a_string_is_replaced_and_flagged(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "in.parquet", [{"id": 1, "message": "ok"}, {"id": 2, "message": "a\x00b"}])
    rows = _rows(path)
    assert rows[1].values["message"] == f"a{FFFD}b" and rows[1].undecodable == {"message"}
    assert not rows[0].undecodable


# ------------------------------------------------------------------------------ NUL bytes


def _csv_with_nul(tmp_path: Path, at_start: bool) -> Path:
    """A UTF-8 CSV whose row 2 holds a NUL, in the first 64 KiB or after it."""
    filler = [f"{i},សាលារៀន ភូមិ {i}" for i in range(10, 10 + (SNIFF_BYTES // 30 if not at_start else 3))]
    bad = "2,bad\x00text"
    lines = ["id,message", "1,សាលារៀន", bad, *filler] if at_start else ["id,message", "1,សាលារៀន", *filler, bad]
    path = tmp_path / f"nul_{'start' if at_start else 'late'}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    offset = path.read_bytes().index(b"\x00")
    assert (offset < SNIFF_BYTES) == at_start
    return path


@pytest.mark.parametrize("at_start", [True, False], ids=["in-first-64KiB", "after-64KiB"])
def test_a_stray_nul_is_the_rows_problem_wherever_it_is(tmp_path: Path, at_start: bool) -> None:
    path = _csv_with_nul(tmp_path, at_start)
    with open_table(path) as reader:
        rows = list(reader.rows())
        assert reader.count_rows() == len(rows)
    bad = next(r for r in rows if r.values["id"] == "2")
    assert bad.values["message"] == f"bad{FFFD}text"
    assert bad.undecodable == {"message"} and bad.problem is None
    assert all(not r.undecodable for r in rows if r is not bad)


@pytest.mark.parametrize("at_start", [True, False], ids=["in-first-64KiB", "after-64KiB"])
def test_nul_rows_are_flagged_and_the_output_reads_back(labeller: Labeller, tmp_path: Path, at_start: bool) -> None:
    path = _csv_with_nul(tmp_path, at_start)
    output = tmp_path / "out.csv"
    result, _ = _label(labeller, path, output, chunk_size=500)
    assert result.counts["status/undecodable_text"] == 1
    _assert_readable(output)
    with open_table(output) as reader:  # the tool reads its own output back
        assert reader.count_rows() == result.rows


def test_a_nul_in_the_header_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,mess\x00age\n1,hello\n")
    with open_table(path) as reader:
        assert reader.columns == ["id", f"mess{FFFD}age"]


@pytest.mark.parametrize(
    "data",
    [
        "id,message\n1,hello\n2,world\n".encode("utf-16-le"),  # UTF-16 without a byte-order mark
        "id,message\n1,hello\n".encode("utf-16-be"),
        bytes(range(256)) * 64,  # binary
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64) + b"\x08\x06\x00\x00\x00" * 30,  # an image
    ],
    ids=["utf16le", "utf16be", "binary", "png"],
)
def test_files_full_of_nuls_are_still_refused(tmp_path: Path, data: bytes) -> None:
    from khmer_civic.io.errors import UnreadableTableError

    path = tmp_path / "in.csv"
    path.write_bytes(data)
    with pytest.raises(UnreadableTableError, match="NUL"):
        open_table(path)


# ------------------------------------------------------------------------------ writers never emit bad characters


ADDED = (AddedColumn("topics", LABELS), AddedColumn("normalized", TEXT), AddedColumn("status", STATUS))


@pytest.mark.parametrize("fmt", [TableFormat.CSV, TableFormat.TSV, TableFormat.JSONL, TableFormat.PARQUET, "xlsx"])
def test_writers_replace_lone_surrogates_and_nuls(tmp_path: Path, fmt: Any) -> None:
    fmt = TableFormat(fmt)
    layout = TableLayout(original=("id", "bad\x00name"), original_kinds={"id": "string", "bad\x00name": "string"},
                         added=ADDED)  # fmt: skip
    rows = [{"id": "a\ud800b", "bad\x00name": "c\x00d", "topics": ["x"], "normalized": "e\udfff\x00", "status": "ok"}]
    writer = make_writer(fmt, layout)
    part = tmp_path / f"p0{writer.part_suffix}"
    writer.write_part(rows, part)
    target = tmp_path / f"out.{fmt.value}"
    writer.assemble([part], target)
    _assert_readable(target)
    out = read_output(target)[0]
    assert out["id"] == f"a{FFFD}b" and out[f"bad{FFFD}name"] == f"c{FFFD}d"
    assert out["normalized"] == f"e{FFFD}{FFFD}"


# ------------------------------------------------------------------------------ formula injection

FORMULAS = ["=1+1", "=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "- bullet point", "+ថ្មី"]  # fmt: skip
HARMLESS = ["-5", "+5", "-1.25", "+855 12 345 678", "-", "--", "(+855) 12-345-678", "hello = world", "សាលា"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_like_text_gets_a_quote(text: str) -> None:
    assert guard_formula(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_numbers_and_phone_numbers_are_left_alone(text: str) -> None:
    assert guard_formula(text) == text


def _xlsx_cells(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    book = load_workbook(path)  # not read-only: data_type is what the file says
    try:
        return [[(c.value, c.data_type) for c in row] for row in book.worksheets[0].iter_rows()]
    finally:
        book.close()


def test_xlsx_text_cells_are_always_text(tmp_path: Path) -> None:
    texts = [*FORMULAS, *HARMLESS, "#N/A", "#DIV/0!", "=", "TRUE"]
    layout = TableLayout(original=("=id", "message"), original_kinds={"=id": "string", "message": "string"},
                         added=(AddedColumn("normalized", TEXT),))  # fmt: skip
    rows = [{"=id": str(i), "message": text, "normalized": text} for i, text in enumerate(texts)]
    writer = make_writer(TableFormat.XLSX, layout)
    part = tmp_path / f"p0{writer.part_suffix}"
    writer.write_part(rows, part)
    writer.assemble([part], tmp_path / "out.xlsx")
    cells = _xlsx_cells(tmp_path / "out.xlsx")
    assert cells[0][0] == ("=id", "s")
    expected = [t.replace("\r", "\n") if t.startswith("\r") else t for t in texts]  # XML turns CR into LF
    assert [row[1] for row in cells[1:]] == [(t, "s") for t in expected]
    assert [row[2] for row in cells[1:]] == [(t, "s") for t in expected]


def _write_csv_output(tmp_path: Path, rows: list[dict[str, Any]], **kwargs: Any) -> Path:
    layout = TableLayout(original=("id", "message", "n"), original_kinds={"id": "string", "message": "string",
                         "n": "int"}, added=(AddedColumn("normalized", TEXT), AddedColumn("score", SCORE)))  # fmt: skip
    writer = make_writer(TableFormat.CSV, layout, **kwargs)
    part = tmp_path / f"p0{writer.part_suffix}"
    writer.write_part(rows, part)
    target = tmp_path / "out.csv"
    writer.assemble([part], target)
    return target


def test_csv_output_guards_text_cells_only(tmp_path: Path) -> None:
    rows = [
        {"id": "=1+1", "message": "@SUM(A1)", "n": -5, "normalized": "+cmd|x!A0", "score": 0.5},
        {"id": "-5", "message": "+855 12 345 678", "n": 7, "normalized": "ok", "score": 0.25},
    ]
    out = _write_csv_output(tmp_path, rows)
    with open(out, encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[1] == ["'=1+1", "'@SUM(A1)", "-5", "'+cmd|x!A0", "0.500000"]
    assert lines[2] == ["-5", "+855 12 345 678", "7", "ok", "0.250000"]
    rows_back = _rows(out)  # our reader reads our output: same rows, the quote kept as text
    assert [r.values["message"] for r in rows_back] == ["'@SUM(A1)", "+855 12 345 678"]
    assert all(r.problem is None for r in rows_back)


def test_formula_guard_can_be_turned_off(tmp_path: Path) -> None:
    rows = [{"id": "=1+1", "message": "@SUM(A1)", "n": 1, "normalized": "-x", "score": 0.5}]
    out = _write_csv_output(tmp_path, rows, formula_guard=False)
    assert out.read_text(encoding="utf-8").splitlines()[1] == "=1+1,@SUM(A1),1,-x,0.500000"


def test_label_guards_csv_output_and_the_flag_turns_it_off(labeller: Labeller, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('id,message\n1,"=HYPERLINK(""http://x"",""សាលា"")"\n2,+855 12 345 678\n', encoding="utf-8")
    _label(labeller, source, tmp_path / "guarded.csv")
    _label(labeller, source, tmp_path / "plain.tsv", formula_guard=False)
    guarded = read_output(tmp_path / "guarded.csv")
    assert [r["message"] for r in guarded] == ["'=HYPERLINK(\"http://x\",\"សាលា\")", "+855 12 345 678"]
    plain = read_output(tmp_path / "plain.tsv")
    assert [r["message"] for r in plain] == ["=HYPERLINK(\"http://x\",\"សាលា\")", "+855 12 345 678"]


# ------------------------------------------------------------------------------ runaway quoted fields


def _ten_rows(bad_row: int = 3, bad: str = '"stray quote at the start') -> str:
    lines = ["id,message,n"]
    for i in range(1, 11):
        text = bad if i == bad_row else f"សាលារៀន ទី {i}"
        lines.append(f"{i},{text},{i * 10}")
    return "\n".join(lines) + "\n"


def test_a_stray_quote_does_not_swallow_the_rows_after_it(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(_ten_rows(), encoding="utf-8")
    with open_table(path) as reader:
        assert reader.count_rows() == 10
        rows = list(reader.rows())
    assert [r.values["id"] for r in rows] == [str(i) for i in range(1, 11)]
    assert [r.problem for r in rows] == [None, None, RowProblem.UNREADABLE] + [None] * 7
    assert rows[3].values == {"id": "4", "message": "សាលារៀន ទី 4", "n": "40"}


def test_a_stray_quote_closed_by_another_later_is_recovered(tmp_path: Path) -> None:
    text = _ten_rows().replace("7,សាលារៀន ទី 7,70", '7,សាលារៀន" ទី 7,70')
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    rows = _rows(path)
    assert [r.values["id"] for r in rows] == [str(i) for i in range(1, 11)]
    assert rows[2].problem is RowProblem.UNREADABLE
    assert [r.problem for r in rows[3:]] == [None] * 7


def test_a_stray_quote_in_the_last_row_flags_that_row_only(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(_ten_rows(bad_row=10), encoding="utf-8")
    rows = _rows(path)
    assert len(rows) == 10 and [r.problem for r in rows] == [None] * 9 + [RowProblem.UNREADABLE]


def test_later_multiline_posts_survive_the_recovery(tmp_path: Path) -> None:
    text = _ten_rows().replace("6,សាលារៀន ទី 6,60", '6,"ជួរទីមួយ, first\nជួរទីពីរ",60')
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    rows = _rows(path)
    assert [r.values["id"] for r in rows] == [str(i) for i in range(1, 11)]
    assert rows[5].values["message"] == "ជួរទីមួយ, first\nជួរទីពីរ" and rows[5].problem is None


@pytest.mark.parametrize(
    "post",
    [
        '"Hi all,\nwe need help, please"',  # a line of the post has the header's number of commas
        '"line one\nline, two\nline, three\nend"',
        '"=a, b\n1, 2\n"',
    ],
)
def test_legitimate_multiline_posts_stay_one_row(tmp_path: Path, post: str) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"id,message\n1,first\n2,{post}\n3,last\n", encoding="utf-8")
    rows = _rows(path)
    assert [r.values["id"] for r in rows] == ["1", "2", "3"]
    assert rows[1].values["message"] == post[1:-1] and all(r.problem is None for r in rows)


def test_a_file_cut_inside_a_multiline_post_gives_one_flagged_row(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,message\n1,first\n2,"line one\nline two\n', encoding="utf-8")
    rows = _rows(path)
    assert [r.values["id"] for r in rows] == ["1", "2"]
    assert rows[1].problem is RowProblem.UNREADABLE


def test_label_run_counts_every_input_row(labeller: Labeller, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(_ten_rows(), encoding="utf-8")
    result, _ = _label(labeller, source, tmp_path / "out.csv")
    assert result.rows == 10
    assert result.counts["status/unreadable_row"] == 1 and result.counts["status/ok"] == 9
    assert [r["id"] for r in read_output(tmp_path / "out.csv")] == [str(i) for i in range(1, 11)]


# ------------------------------------------------------------------------------ cells cut to Excel's limit


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("text", ["ក" * 40_000, "😀" * 20_000], ids=["khmer", "emoji"])
def test_xlsx_cut_cells_say_so(text: str) -> None:
    cell = xlsx_cell(text)
    assert _utf16_units(cell) <= XLSX_MAX_CELL_CHARS  # Excel counts UTF-16 units
    assert "cut" in cell[-80:] and f"{len(text):,}" in cell[-80:]
    assert text.startswith(cell[: cell.rindex(text[0]) + 1])  # the kept part is the text's start
    assert xlsx_cell("ក" * XLSX_MAX_CELL_CHARS) == "ក" * XLSX_MAX_CELL_CHARS  # at the limit: kept whole


def test_xlsx_run_notes_the_cut_cells(labeller: Labeller, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    records = [{"id": 1, "message": "សាលា"}, {"id": 2, "message": "សាលារៀន " * 5000}, {"id": 3, "message": "គ្រូ"}]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    result, notes = _label(labeller, source, tmp_path / "out.xlsx")
    rows = read_output(tmp_path / "out.xlsx")
    assert [r["label_status"] for r in rows] == ["ok", "ok", "ok"]  # still labelled, from the whole text
    assert "cut" in rows[1]["message"][-80:]
    cut_notes = [n for n in notes if "32,767" in n]
    assert len(cut_notes) == 1 and "1 cell" in cut_notes[0] and "row 3" in cut_notes[0]
    _label(labeller, source, tmp_path / "out.csv")  # other formats keep every character
    assert read_output(tmp_path / "out.csv")[1]["message"] == records[1]["message"]


def test_xlsx_keeps_every_digit_of_long_ids() -> None:
    assert xlsx_cell(12345678901234567) == "12345678901234567"  # Excel would keep 15 digits of a number
    assert xlsx_cell(123456789012345) == 123456789012345
    assert xlsx_cell(-5) == -5


# ------------------------------------------------------------------------------ the command line


def test_cli_formula_guard_flag_is_documented_and_works(tiny_model_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from khmer_civic.cli import cli

    runner = CliRunner()
    for command in ("label", "tokenize"):
        help_text = runner.invoke(cli, [command, "--help"]).output
        assert "--no-formula-guard" in help_text and "OWASP" in help_text
    assert "32,767" in runner.invoke(cli, ["label", "--help"]).output  # cut XLSX cells are explained
    source = tmp_path / "in.csv"
    source.write_text("id,message\n1,=1+1 សាលា\n2,-5\n", encoding="utf-8")
    for flag, expected in (([], ["'=1+1 សាលា", "-5"]), (["--no-formula-guard"], ["=1+1 សាលា", "-5"])):
        out = tmp_path / "out.csv"
        args = ["label", str(source), "-o", str(out), "--model", str(tiny_model_dir), "-q", *flag]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert [r["message"] for r in read_output(out)] == expected


def test_readme_documents_the_guard_and_the_cut_cells() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "--no-formula-guard" in readme and "+855 12 345 678" in readme and "32,767" in readme


def test_a_runaway_longer_than_the_line_limit_is_read_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import khmer_civic.io.readers as readers

    monkeypatch.setattr(readers, "RUNAWAY_MAX_LINES", 4)
    path = tmp_path / "in.csv"
    path.write_text(_ten_rows(), encoding="utf-8")
    rows = _rows(path)
    assert [r.values["id"] for r in rows] == [str(i) for i in range(1, 11)]
    assert [r.problem for r in rows] == [None, None, RowProblem.UNREADABLE] + [None] * 7
    path.write_text('id,message\n1,"a\nb\nc"\n2,x\n', encoding="utf-8")  # a post within the limit stays whole
    assert [r.values["message"] for r in _rows(path)] == ["a\nb\nc", "x"]


def test_a_runaway_over_the_field_limit_loses_no_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import khmer_civic.io.readers as readers

    previous = csv.field_size_limit()
    monkeypatch.setattr(readers, "CSV_FIELD_LIMIT", 100)
    csv.field_size_limit(100)
    try:
        path = tmp_path / "in.csv"
        path.write_text(_ten_rows(bad='"stray ' + "x" * 50), encoding="utf-8")
        rows = _rows(path)
    finally:
        csv.field_size_limit(previous)
    assert [r.values["id"] for r in rows] == [str(i) for i in range(1, 11)]
    assert [r.problem for r in rows].count(RowProblem.UNREADABLE) == 1 and rows[2].problem is RowProblem.UNREADABLE


def test_resume_refuses_a_changed_formula_guard(labeller: Labeller, tmp_path: Path) -> None:
    from khmer_civic.io.errors import ResumeError

    source = tmp_path / "in.csv"
    source.write_text(_ten_rows(), encoding="utf-8")
    output = tmp_path / "out.csv"

    def stop(index: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_table(RunOptions(source, output, chunk_size=3), LabelJob(str(labeller.classifier.path)),
                  notify=lambda _: None, annotator=labeller, after_chunk=stop)  # fmt: skip
    with pytest.raises(ResumeError, match="formula_guard"):
        _label(labeller, source, output, chunk_size=3, resume=True, formula_guard=False)
