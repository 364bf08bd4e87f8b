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
- **XLSX** parts hold rows of cell values as JSON arrays (dates tagged); the output is built
  with openpyxl's write-only workbook. Strings lose characters XLSX cannot store (control
  characters) and are cut at Excel's 32,767-character cell limit. XLSX output is the same
  table after a resume, but not the same bytes: the zip container stamps the time of writing.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
import math
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from khmer_civic.io.errors import TableError
from khmer_civic.io.formats import TableFormat

SCORE_DECIMALS = 6
XLSX_MAX_ROWS = 1_048_576 - 1  # Excel's sheet limit, less the header row
XLSX_MAX_CELL_CHARS = 32_767

# What an added column holds; writers format each kind for their format.
LABELS = "labels"  # a list of labels (multi_label task)
LABEL = "label"  # one label (single_label task)
FLAG = "flag"  # a bool (binary task)
SCORE = "score"  # a probability
STATUS = "status"  # why a row was (not) labelled
TEXT = "text"  # derived text (normalised text, tokens)
ADDED_KINDS: frozenset[str] = frozenset({LABELS, LABEL, FLAG, SCORE, STATUS, TEXT})


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

    ``original_kinds`` maps each input column to ``string``, ``int``, ``float``, ``bool`` or
    ``arrow`` (keep the Arrow field in ``arrow_fields``); see ``TableReader.column_kinds``.
    """

    original: tuple[str, ...]
    original_kinds: Mapping[str, str]
    added: tuple[AddedColumn, ...]
    arrow_fields: tuple[Any, ...] | None = None

    @property
    def names(self) -> list[str]:
        return [*self.original, *(c.name for c in self.added)]

    @property
    def added_kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.added}


# ------------------------------------------------------------------------------ cell values


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes_text(bytes(value))
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def bytes_text(value: bytes) -> str:
    """Bytes as text: UTF-8 when they are, else ``base64:`` and their base64 form."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode("ascii")


def cell_text(value: Any) -> str:
    """An input value as the text of a CSV cell (strings unchanged, missing values empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time, decimal.Decimal, bytes, bytearray, memoryview)):
        return _json_default(value)  # the same text these values get inside JSON
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def added_text(value: Any, kind: str) -> str:
    """An added value as the text of a CSV/XLSX cell."""
    if value is None:
        return ""
    if kind == LABELS:
        return ";".join(value)
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


class DelimitedWriter(PartWriter):
    """CSV (``,``) or TSV (tab), UTF-8, ``\\n`` line ends, quoting only where needed."""

    part_suffix = ".csv.part"

    def __init__(self, layout: TableLayout, delimiter: str = ",", *, bom: bool = False) -> None:
        super().__init__(layout)
        self.delimiter = delimiter
        self.bom = bom

    def _writer(self, handle: io.TextIOBase) -> Any:
        return csv.writer(handle, delimiter=self.delimiter, lineterminator="\n")

    def write_part(self, rows: Sequence[Mapping[str, Any]], path: Path) -> None:
        original = self.layout.original
        added = self.layout.added
        with open(path, "w", encoding="utf-8", errors="replace", newline="") as handle:
            writer = self._writer(handle)
            for row in rows:
                cells = [cell_text(row.get(name)) for name in original]
                cells += [added_text(row.get(column.name), column.kind) for column in added]
                writer.writerow(cells)

    def assemble(self, parts: Sequence[Path], target: Path) -> None:
        with open(target, "wb") as out:
            header = io.StringIO(newline="")
            self._writer(header).writerow(self.layout.names)
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
                handle.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")

    def assemble(self, parts: Sequence[Path], target: Path) -> None:
        with open(target, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)


def arrow_schema(layout: TableLayout) -> Any:
    """The fixed Arrow schema of a Parquet output (see the module docstring)."""
    import pyarrow as pa

    simple = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    given = {f.name: f for f in layout.arrow_fields or ()}
    fields = []
    for name in layout.original:
        kind = layout.original_kinds.get(name, "string")
        if kind == "arrow" and name in given:
            fields.append(given[name])
        else:
            fields.append(pa.field(name, simple.get(kind, pa.string())))
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
    if kind == "string":
        return None if isinstance(value, float) and math.isnan(value) else cell_text(value)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


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
            kind = kinds.get(name, "string")
            columns[name] = [_typed(row.get(name), kind) for row in rows]
        for column in self.layout.added:
            columns[column.name] = [row.get(column.name) for row in rows]
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


def _xlsx_untag(obj: dict[str, str]) -> Any:
    for tag, kind in _DATE_TAGS.items():
        if tag in obj:
            return kind.fromisoformat(obj[tag])
    return obj


def xlsx_cell(value: Any) -> Any:
    """An input value as an XLSX cell value (native numbers and dates kept, others as text)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        return text[:XLSX_MAX_CELL_CHARS]
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        return value.isoformat() if value.tzinfo is not None else value
    if isinstance(value, dt.time):
        return value.isoformat() if value.tzinfo is not None else value
    if isinstance(value, dt.date):
        return value
    return xlsx_cell(cell_text(value))


class XlsxWriter(PartWriter):
    """XLSX through openpyxl's write-only workbook; one sheet named ``data``."""

    part_suffix = ".xlsx-rows.part"
    SHEET_TITLE = "data"

    def write_part(self, rows: Sequence[Mapping[str, Any]], path: Path) -> None:
        original = self.layout.original
        added = self.layout.added
        with open(path, "w", encoding="utf-8", errors="replace", newline="\n") as handle:
            for row in rows:
                cells = [xlsx_cell(row.get(name)) for name in original]
                for column in added:
                    value = row.get(column.name)
                    if column.kind == LABELS and value is not None:
                        value = ";".join(value)
                    elif column.kind == SCORE and value is not None:
                        value = round(value, SCORE_DECIMALS)
                    cells.append(xlsx_cell(value))
                handle.write(json.dumps(cells, ensure_ascii=False, default=_xlsx_tag) + "\n")

    def _part_rows(self, part: Path) -> Iterator[list[Any]]:
        with open(part, encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line, object_hook=_xlsx_untag)

    def assemble(self, parts: Sequence[Path], target: Path) -> None:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(self.SHEET_TITLE)
        sheet.append([xlsx_cell(name) for name in self.layout.names])
        for part in parts:
            for cells in self._part_rows(part):
                sheet.append(cells)
        book.save(target)


def make_writer(fmt: TableFormat, layout: TableLayout, *, bom: bool = False) -> PartWriter:
    """The part writer of an output format."""
    if fmt is TableFormat.CSV:
        return DelimitedWriter(layout, ",", bom=bom)
    if fmt is TableFormat.TSV:
        return DelimitedWriter(layout, "\t", bom=bom)
    if fmt is TableFormat.JSONL:
        return JsonLinesWriter(layout)
    if fmt is TableFormat.PARQUET:
        return ParquetWriter(layout)
    return XlsxWriter(layout)
