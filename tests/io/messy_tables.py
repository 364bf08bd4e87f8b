"""Messy input tables for the io and CLI tests, written by the tests themselves (helpers, no tests).

``MESSY_ROWS`` pairs an id and a text cell with the ``label_status`` the spec gives that cell
(``ok`` for real text; ``empty``, ``no_letters`` ... otherwise). Writers below put the rows in
each format with the usual damage analysts meet: byte-order marks, UTF-16, semicolons,
quoted newlines, ids with leading zeros, blank and numeric cells.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

LONG_TEXT = " ".join(["សាលារៀនភូមិយើងខ្វះគ្រូ", "មន្ទីរពេទ្យឆ្ងាយ", "សូមជួយផង"] * 40)

# (id, text, expected label_status)
MESSY_ROWS: list[tuple[str, str, str]] = [
    ("007", "សាលារៀនភូមិយើងខ្វះគ្រូ", "ok"),
    ("008", "school has no teacher, please help; thanks", "ok"),
    ("009", "", "empty"),
    ("010", "   ", "empty"),
    ("011", "12345", "no_letters"),
    ("012", "😀🙏🙏", "no_letters"),
    ("013", "ជួរទីមួយ\nជួរទីពីរ មន្ទីរពេទ្យ", "ok"),
    ("014", 'គាត់និយាយថា "សូមជួយ" ម្តងទៀត', "ok"),
    ("015", "ទូរស័ព្ទ 012 345 678 ឬ sok@example.org @Dara", "ok"),
    ("016", LONG_TEXT, "ok"),
    ("017", "ឃុំ|សង្កាត់\tផ្លូវ", "ok"),
    ("018", "\u200b\u200b", "empty"),
]
IDS = [row[0] for row in MESSY_ROWS]
TEXTS = [row[1] for row in MESSY_ROWS]
STATUSES = [row[2] for row in MESSY_ROWS]


def csv_text(
    rows: list[tuple[str, str, str]] = MESSY_ROWS, delimiter: str = ",", header: tuple[str, str] = ("id", "message")
) -> str:
    """The rows as CSV text (``\\r\\n`` line ends, minimal quoting, like Excel and Python's csv)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow([*header, "n"])
    for number, (row_id, text, _) in enumerate(rows):
        writer.writerow([row_id, text, str(number)])
    return buffer.getvalue()


def write_csv(
    path: Path,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    rows: list[tuple[str, str, str]] = MESSY_ROWS,
    header: tuple[str, str] = ("id", "message"),
) -> Path:
    """CSV in ``encoding`` (``utf-8-sig`` and ``utf-16`` write a byte-order mark)."""
    path.write_bytes(csv_text(rows, delimiter, header).encode(encoding))
    return path


def write_jsonl(path: Path, records: list[Any]) -> Path:
    """One JSON value per line; a ``str`` record is written as is (to plant broken lines)."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def messy_records() -> list[dict[str, Any]]:
    return [{"id": row_id, "message": text, "n": n} for n, (row_id, text, _) in enumerate(MESSY_ROWS)]


def write_parquet(path: Path, records: list[dict[str, Any]], row_group_size: int | None = None) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=row_group_size)
    return path


def write_xlsx(path: Path, header: list[Any], rows: list[list[Any]], sheet: str = "comments") -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet_ = book.active
    assert sheet_ is not None
    sheet_.title = sheet
    sheet_.append(header)
    for row in rows:
        sheet_.append(row)
    book.save(path)
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    """Any output table as a list of dicts (CSV/TSV cells stay strings)."""
    suffix = path.suffix
    if suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ","))
    if suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        rows = list(book.worksheets[0].iter_rows(values_only=True))
        book.close()
        header = rows[0]
        padding = (None,) * len(header)  # write-only sheets leave out trailing empty cells
        return [dict(zip(header, row + padding)) for row in rows[1:]]
    raise ValueError(suffix)
