"""Output tables, written chunk by chunk as part files and assembled into one file at the end.

A run never appends to a half-written output. Each finished chunk becomes a small *part file*
in the run directory; when every chunk is done, the parts are assembled, in order, into a
temporary file that is then moved over the output (see :mod:`khmer_civic.io.pipeline`). This
works the same for every format — appending to a Parquet or XLSX file is not possible — and it
makes an interrupted-then-resumed run produce the very bytes of an uninterrupted one:

- **CSV/TSV** parts hold encoded rows; the output is the header followed by the parts' bytes.
  Lists of labels are joined with ``;``, booleans are ``true``/``false``, scores have six
  decimals, missing values are empty cells.
- **JSONL** parts hold finished lines; the output is their concatenation. Labels stay lists,
  booleans and numbers stay JSON values, missing values are ``null``.
- **Parquet** parts are Parquet files with the output schema, fixed before the first chunk; the
  output gets one row group per part, written by one ``ParquetWriter``. Columns read from
  Parquet keep their Arrow types, JSONL columns get the type their values agree on, CSV and
  XLSX columns are strings.
- **XLSX** parts hold rows of cell values as JSON arrays (dates and cut cells tagged); the
  output is built with openpyxl's write-only workbook. Strings are always stored as text cells,
  never as formulas or error values, whatever their first character (``=1+1``, ``#N/A``).
  Strings lose the control characters XLSX cannot store (tab, line breaks kept). A string longer
  than Excel's cell limit (32,767 UTF-16 units) is cut and ends with
  ``…[cut: N characters in the input]``, and the run notes how many cells were cut and in which
  sheet rows (:meth:`PartWriter.notes`); the row keeps its labels, computed from the whole text.
  Integers of more than 15 digits (long ids) are written as text, since Excel keeps only 15
  significant digits of a number. XLSX output is the same table after a resume, but not the
  same bytes: the zip container stamps the time of writing.

Nothing unreadable is written: in every format, every string (values, nested values, column
names) has its lone surrogates and NULs replaced by U+FFFD (:mod:`khmer_civic.text.unreadable`).

**Formula guard** (CSV/TSV, on unless ``formula_guard=False``, ``--no-formula-guard`` on the
command line). A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula, so a comment like ``=HYPERLINK(...)`` or ``+cmd|...`` attacks the analyst
who opens the output (CSV injection). As OWASP's CSV-injection guidance recommends for untrusted
text, such cells, and cells starting with a tab or a carriage return, get a ``'`` in front so
spreadsheets show them as text. This applies to text: the input's columns (names included)
except numbers and booleans, and the derived text columns (``normalized``, ``tokens``); not to
the labels, statuses and scores this library writes. Deliberate exception: a cell that is a
sign followed only by digits, spaces and ``. , ( ) / + -`` (``-5``, ``+855 12 345 678``) is left
as it is: it cannot call a function or refer to a cell, and phone numbers and signed numbers
are common in these exports and should reach other tools unchanged. Reading such an output back
gives the text with its ``'``; JSONL and Parquet are data formats and are never changed.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
import math
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from khmer_civic.io.columns import (
    ADDED_KINDS,
    ARROW,
    BOOL,
    FLAG,
    FLOAT,
    INT,
    LABEL,
    LABELS,
    SCORE,
    STATUS,
    STRING,
    TEXT,
)
from khmer_civic.io.errors import TableError
from khmer_civic.io.formats import TableFormat
from khmer_civic.schema import LABEL_SEPARATOR
from khmer_civic.text.unreadable import has_lone_surrogate, replace_unreadable, replace_unreadable_in

SCORE_DECIMALS = 6
XLSX_MAX_ROWS = 1_048_576 - 1  # Excel's sheet limit, less the header row
XLSX_MAX_CELL_CHARS = 32_767  # in UTF-16 code units, as Excel counts
XLSX_CUT_MARK = "…[cut: {length:,} characters in the input]"
XLSX_MAX_EXACT_INT = 10**15 - 1  # Excel keeps 15 significant digits of a number
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's CSV-injection list
_SIGNED_NUMBER = re.compile(r"[+-][0-9 .,()/+-]*\Z")



@dataclass(frozen=True)
class AddedColumn:
    """A column a command adds to every row, and what kind of value it holds."""

    name: str
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in ADDED_KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(frozen=True)
class TableLayout:
    """The columns of an output table: the input's (with their kinds) then the added ones.

    ``original_kinds`` maps each input column to a kind of :mod:`khmer_civic.io.columns` (``ARROW``:
    keep the Arrow field in ``arrow_fields``); see ``TableReader.column_kinds``.
    """

    original: tuple[str, ...]
    original_kinds: Mapping[str, str]
    added: tuple[AddedColumn, ...]
    arrow_fields: tuple[Any, ...] | None = None

    @property
    def names(self) -> list[str]:
        return [*self.original, *(c.name for c in self.added)]


# ------------------------------------------------------------------------------ cell values


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes_text(bytes(value))
    if isinstance(value, (set, frozenset, tuple)):
        return replace_unreadable_in(list(value))
    return replace_unreadable(str(value))


def bytes_text(value: bytes) -> str:
    """Bytes as text: UTF-8 when they are (NULs as U+FFFD), else ``base64:`` and their base64 form."""
    try:
        return replace_unreadable(value.decode("utf-8"))
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode("ascii")




def guard_formula(text: str) -> str:
    """``text`` with a ``'`` in front when a spreadsheet would run it as a formula (see the module docstring)."""
    if text.startswith(FORMULA_STARTS) and not _SIGNED_NUMBER.match(text):
        return "'" + text
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, decimal.Decimal))  # bool is an int


def cell_text(value: Any) -> str:
    """An input value as the text of a CSV cell (strings unchanged but for bad characters, missing values empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return replace_unreadable(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time, decimal.Decimal, bytes, bytearray, memoryview)):
        return _json_default(value)  # the same text these values get inside JSON
    return json.dumps(replace_unreadable_in(value), ensure_ascii=False, default=_json_default)


def added_text(value: Any, kind: str) -> str:
    """An added value as the text of a CSV/XLSX cell (read back by :func:`khmer_civic.schema.labels_from_text`, :func:`~khmer_civic.schema.bool_from_text`)."""
    if value is None:
        return ""
    if kind == LABELS:
        return LABEL_SEPARATOR.join(value)
    if kind == SCORE:
        return f"{value:.{SCORE_DECIMALS}f}"
    return cell_text(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


# ------------------------------------------------------------------------------ writers


class PartWriter(ABC):
    """Writes the rows of one chunk as a part file, and assembles the parts into the output."""

    part_suffix: str = ".part"

    def __init__(self, layout: TableLayout) -> None:
        self.layout = layout

    @abstractmethod
    def write_part(self, rows: Sequence[Mapping[str, Any]], path: Path) -> None:
        """Write one chunk's rows (values by column name) to ``path``."""

    @abstractmethod
    def assemble(self, parts: Sequence[Path], target: Path) -> None:
        """Write the output file ``target`` from ``parts``, in order."""

    def notes(self) -> list[str]:
        """What the user should know about the last :meth:`assemble` (e.g. XLSX cells cut); one line each."""
        return []


class DelimitedWriter(PartWriter):
    """CSV (``,``) or TSV (tab), UTF-8, ``\\n`` line ends, quoting only where needed, formula guard."""

    part_suffix = ".csv.part"

    def __init__(
        self, layout: TableLayout, delimiter: str = ",", *, bom: bool = False, formula_guard: bool = True
    ) -> None:
        super().__init__(layout)
        self.delimiter = delimiter
        self.bom = bom
        self.formula_guard = formula_guard

    def _writer(self, handle: io.TextIOBase) -> Any:
        return csv.writer(handle, delimiter=self.delimiter, lineterminator="\n")

    def _original_text(self, value: Any) -> str:
        text = cell_text(value)
        if self.formula_guard and text and not _is_number(value):
            return guard_formula(text)
        return text

    def _added_text(self, value: Any, kind: str) -> str:
        text = added_text(value, kind)
        return guard_formula(text) if self.formula_guard and kind == TEXT and text else text

    def write_part(self, rows: Sequence[Mapping[str, Any]], path: Path) -> None:
        original = self.layout.original
        added = self.layout.added
        with open(path, "w", encoding="utf-8", errors="replace", newline="") as handle:
            writer = self._writer(handle)
            for row in rows:
                cells = [self._original_text(row.get(name)) for name in original]
                cells += [self._added_text(row.get(column.name), column.kind) for column in added]
                writer.writerow(cells)

    def assemble(self, parts: Sequence[Path], target: Path) -> None:
        with open(target, "wb") as out:
            header = io.StringIO(newline="")
            names = [self._original_text(name) for name in self.layout.original]
            self._writer(header).writerow([*names, *(column.name for column in self.layout.added)])
            out.write(("\ufeff" if self.bom else "").encode("utf-8") + header.getvalue().encode("utf-8", "replace"))
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)


class JsonLinesWriter(PartWriter):
    """One JSON object per line; each row keeps the keys it was read with, then the added ones."""

    part_suffix = ".jsonl.part"

    def write_part(self, rows: Sequence[Mapping[str, Any]], path: Path) -> None:
        with open(path, "w", encoding="utf-8", errors="replace", newline="\n") as handle:
            for row in rows:
                record = {key: _json_value(value) for key, value in row.items()}
                line = json.dumps(record, ensure_ascii=False, default=_json_default)
                if "\\u0000" in line or has_lone_surrogate(line):  # rare: clean, then write again
                    line = json.dumps(replace_unreadable_in(record), ensure_ascii=False, default=_json_default)
                handle.write(line + "\n")

    def assemble(self, parts: Sequence[Path], target: Path) -> None:
        with open(target, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)


def arrow_schema(layout: TableLayout) -> Any:
    """The fixed Arrow schema of a Parquet output (see the module docstring)."""
    import pyarrow as pa

    simple = {STRING: pa.string(), INT: pa.int64(), FLOAT: pa.float64(), BOOL: pa.bool_()}
    given = {f.name: f for f in layout.arrow_fields or ()}
    fields = []
    for name in layout.original:
        kind = layout.original_kinds.get(name, STRING)
        if kind == ARROW and name in given:
            fields.append(given[name].with_name(replace_unreadable(name)))
        else:
            fields.append(pa.field(replace_unreadable(name), simple.get(kind, pa.string())))
    added_types = {
        LABELS: pa.list_(pa.string()),
        LABEL: pa.string(),
        FLAG: pa.bool_(),
        SCORE: pa.float64(),
        STATUS: pa.string(),
        TEXT: pa.string(),
    }
    fields += [pa.field(column.name, added_types[column.kind]) for column in layout.added]
    return pa.schema(fields)


def _typed(value: Any, kind: str) -> Any:
    """An input value in the Arrow kind chosen for its column."""
    if value is None:
        return None
    if kind == STRING:
        return None if isinstance(value, float) and math.isnan(value) else cell_text(value)
    if kind == FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return replace_unreadable_in(value)


class ParquetWriter(PartWriter):
    """Parquet with one fixed schema; one row group per chunk."""

    part_suffix = ".parquet.part"

    def __init__(self, layout: TableLayout) -> None:
        super().__init__(layout)
        self.schema = arrow_schema(layout)

    def write_part(self, rows: Sequence[Mapping[str, Any]], path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        kinds = self.layout.original_kinds
        columns: dict[str, list[Any]] = {}
        for name in self.layout.original:
            kind = kinds.get(name, STRING)
            columns[replace_unreadable(name)] = [_typed(row.get(name), kind) for row in rows]
        for column in self.layout.added:
            columns[column.name] = [replace_unreadable_in(row.get(column.name)) for row in rows]
        try:
            table = pa.Table.from_pydict(columns, schema=self.schema)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise TableError(f"cannot write these values to Parquet: {exc}") from exc
        pq.write_table(table, path)

    def assemble(self, parts: Sequence[Path], target: Path) -> None:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(target, self.schema) as writer:
            for part in parts:
                writer.write_table(pq.read_table(part, schema=self.schema))


_DATE_TAGS = {"$datetime": dt.datetime, "$date": dt.date, "$time": dt.time}


def _xlsx_tag(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    raise TypeError(f"not a cell value: {type(value).__name__}")


@dataclass(frozen=True)
class _CutCell:
    """A string cut to Excel's cell limit, as read back from a part file."""

    text: str
    length: int  # characters in the value before the cut


def _xlsx_untag(obj: dict[str, Any]) -> Any:
    for tag, kind in _DATE_TAGS.items():
        if tag in obj:
            return kind.fromisoformat(obj[tag])
    if "$cut" in obj:
        return _CutCell(obj["$text"], obj["$cut"])
    return obj


def _cut_to_xlsx_limit(text: str) -> tuple[str, int]:
    """``(text, 0)`` when it fits an Excel cell, else its start ending with the cut mark and its length.

    Excel counts UTF-16 code units, so an emoji counts twice; the cut never splits one in half.
    """
    if len(text) <= XLSX_MAX_CELL_CHARS // 2:
        return text, 0
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) // 2 <= XLSX_MAX_CELL_CHARS:
        return text, 0
    mark = XLSX_CUT_MARK.format(length=len(text))
    head = units[: 2 * (XLSX_MAX_CELL_CHARS - len(mark))].decode("utf-16-le", "ignore")
    return head + mark, len(text)


def _xlsx_value(value: Any) -> tuple[Any, int]:
    """(XLSX cell value, the length of a string that had to be cut, else 0); see :func:`xlsx_cell`."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None, 0
    if isinstance(value, str):
        return _cut_to_xlsx_limit(ILLEGAL_CHARACTERS_RE.sub("", replace_unreadable(value)))
    if isinstance(value, bool):
        return value, 0
    if isinstance(value, int):
        return (value if abs(value) <= XLSX_MAX_EXACT_INT else str(value)), 0
    if isinstance(value, float):
        return (value if math.isfinite(value) else None), 0
    if isinstance(value, dt.datetime | dt.time):
        return (value.isoformat() if value.tzinfo is not None else value), 0
    if isinstance(value, dt.date):
        return value, 0
    return _xlsx_value(cell_text(value))


def xlsx_cell(value: Any) -> Any:
    """An input value as an XLSX cell value (see the module docstring).

    Native numbers and dates are kept, integers of more than 15 digits become text; strings lose
    bad and control characters and are cut, with a mark, to Excel's cell limit; others become text.
    """
    return _xlsx_value(value)[0]


def xlsx_text_cell(sheet: Any, value: Any) -> Any:
    """``value`` ready for ``sheet.append`` (a write-only sheet): a string openpyxl would store as a
    formula or an error value (``=1+1``, ``#N/A``) becomes a cell forced to text; others are unchanged."""
    if not (isinstance(value, str) and value[:1] in ("=", "#")):
        return value  # the common case decided without openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES

    if value.startswith("=") or value in ERROR_CODES:
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


class XlsxWriter(PartWriter):
    """XLSX through openpyxl's write-only workbook; one sheet named ``data``; strings are text cells."""

    part_suffix = ".xlsx-rows.part"
    SHEET_TITLE = "data"
    NOTED_ROWS = 10  # sheet rows named in the note about cut cells

    def __init__(self, layout: TableLayout) -> None:
        super().__init__(layout)
        self._cut_cells = 0
        self._cut_rows: list[int] = []

    def _part_cell(self, value: Any) -> Any:
        cell, cut = _xlsx_value(value)
        return {"$cut": cut, "$text": cell} if cut else cell

    def write_part(self, rows: Sequence[Mapping[str, Any]], path: Path) -> None:
        original = self.layout.original
        added = self.layout.added
        with open(path, "w", encoding="utf-8", errors="replace", newline="\n") as handle:
            for row in rows:
                cells = [self._part_cell(row.get(name)) for name in original]
                for column in added:
                    value = row.get(column.name)
                    if column.kind == LABELS and value is not None:
                        value = LABEL_SEPARATOR.join(value)
                    elif column.kind == SCORE and value is not None:
                        value = round(value, SCORE_DECIMALS)
                    cells.append(self._part_cell(value))
                handle.write(json.dumps(cells, ensure_ascii=False, default=_xlsx_tag) + "\n")

    def _part_rows(self, part: Path) -> Iterator[list[Any]]:
        with open(part, encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line, object_hook=_xlsx_untag)

    def _sheet_row(self, sheet: Any, cells: list[Any], row_number: int) -> list[Any]:
        """Cells ready for ``sheet.append``: cut cells counted, strings openpyxl would not store as text forced."""
        out = list(cells)
        for i, value in enumerate(cells):
            if isinstance(value, _CutCell):
                self._cut_cells += 1
                if not self._cut_rows or self._cut_rows[-1] != row_number:
                    self._cut_rows.append(row_number)
                value = value.text
            out[i] = xlsx_text_cell(sheet, value)
        return out

    def assemble(self, parts: Sequence[Path], target: Path) -> None:
        from openpyxl import Workbook

        self._cut_cells, self._cut_rows = 0, []
        book = Workbook(write_only=True)
        sheet = book.create_sheet(self.SHEET_TITLE)
        header = [xlsx_cell(name) for name in self.layout.names]
        sheet.append(self._sheet_row(sheet, header, 1))
        row_number = 1
        for part in parts:
            for cells in self._part_rows(part):
                row_number += 1
                sheet.append(self._sheet_row(sheet, cells, row_number))
        book.save(target)

    def notes(self) -> list[str]:
        if not self._cut_cells:
            return []
        n, rows = self._cut_cells, self._cut_rows
        shown = ", ".join(str(r) for r in rows[: self.NOTED_ROWS]) + (", ..." if len(rows) > self.NOTED_ROWS else "")
        cells = "1 cell was" if n == 1 else f"{n:,} cells were"
        mark = XLSX_CUT_MARK.replace("{length:,}", "N")
        return [
            f"XLSX: {cells} longer than Excel's limit of {XLSX_MAX_CELL_CHARS:,} characters and cut "
            f"(sheet row{'s' if len(rows) > 1 else ''} {shown}); a cut cell ends with '{mark}'. "
            "Write .csv, .jsonl or .parquet to keep every character"
        ]


def make_writer(fmt: TableFormat, layout: TableLayout, *, bom: bool = False, formula_guard: bool = True) -> PartWriter:
    """The part writer of an output format (``bom`` and ``formula_guard`` apply to CSV/TSV)."""
    if fmt is TableFormat.CSV:
        return DelimitedWriter(layout, ",", bom=bom, formula_guard=formula_guard)
    if fmt is TableFormat.TSV:
        return DelimitedWriter(layout, "\t", bom=bom, formula_guard=formula_guard)
    if fmt is TableFormat.JSONL:
        return JsonLinesWriter(layout)
    if fmt is TableFormat.PARQUET:
        return ParquetWriter(layout)
    return XlsxWriter(layout)
