"""Streaming readers for CSV/TSV, JSON Lines, Parquet and XLSX tables.

Every reader knows its column names before the first row is read and yields
:class:`SourceRow` objects one at a time, so memory does not grow with the file:

- **CSV/TSV** are read line by line with :mod:`csv` (quoted fields may hold newlines). The
  encoding is UTF-8, UTF-8 with a byte-order mark, or UTF-16 with a byte-order mark; the
  delimiter is sniffed among ``,`` ``;`` tab and ``|`` from the first 64 KiB. Every cell is kept
  as a string, so ``007`` stays ``007``. Fully blank lines are not rows. A row with more or fewer
  cells than the header is kept and flagged ``malformed_row``; a last row cut short by a
  truncated file (no final line break, and an unclosed quote, missing cells, or a character cut
  in half) is flagged ``unreadable_row``.
- **Runaway quotes** (CSV/TSV). A stray ``"`` at the start of a field opens a quoted field that
  swallows the line breaks and delimiters of the rows after it. For a record that spans several
  lines the reader weighs two readings. As one record it is worth +1 when it has the header's
  number of cells and well-formed quotes, -1 otherwise (its quote still open at the end of the
  file, a quote closing mid-field, a wrong number of cells). Line by line it is worth -1 for its
  first line alone (a broken row), then +1 or -1 for each record of its other lines read on
  their own, as it has the header's number of cells or not. When line by line is worth more,
  the first line becomes one row flagged ``unreadable_row`` and reading starts again on the next
  line, so every row after it comes back as itself and the row count matches the file's. A
  quoted post that really spans lines stays one row; a file cut inside one ends with that post
  as one flagged row. A record of more than 10,000 lines, or one the csv module cannot parse
  (a field over 256 MiB), is read line by line in the same way without weighing. One-column
  files (no delimiter to tell rows apart) are not checked.
- **JSON Lines**: one object per line. The column list is the union of the keys, in order of
  first appearance, gathered in a first pass that also counts the rows; values keep their JSON
  types. A line that is not a JSON object (broken, truncated, or an array) becomes a row
  flagged ``unreadable_row``.
- **Parquet** is read by record batches with pyarrow, skipping whole row groups on resume;
  values keep their Arrow types and the output can reuse the input's schema.
- **XLSX**: the active sheet (or ``sheet``), in openpyxl's read-only mode; the first row is
  the header. Empty rows at the end of the sheet are dropped; empty rows in between are kept.

**Characters that are not text**, the same rule in every format and wherever they sit in the
file: bytes that are not valid in the file's encoding, NULs, and lone surrogates (the JSON escape
``"\ud83d"`` without its other half) become U+FFFD, and the row notes the columns they were in
(:attr:`SourceRow.undecodable`; the text column's row is then not labelled but flagged
``undecodable_text``). Column names are cleaned the same way. A file whose first 64 KiB are
10% NUL bytes or more, or whose NULs (16 or more) nearly all fall on even or on odd offsets,
is UTF-16 without a byte-order mark or a binary file, and is refused; fewer NULs are stray
bytes in a text file, each one a row's problem.

A CSV/TSV or JSONL row count needs a pass over the file (:meth:`TableReader.count_rows`); Parquet
and XLSX know theirs from metadata (:attr:`TableReader.total_rows`). That pass also takes the
file's size and sha256 (:meth:`TableReader.fingerprint`, which a resumed run checks), so a text
file is read twice in a run (that pass, then the rows), not three times.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import json
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO
from xml.etree.ElementTree import ParseError

from khmer_civic.io.checkpoint import HashingFile, input_fingerprint
from khmer_civic.io.columns import ARROW, BOOL, FLOAT, INT, JSON, STRING, unique_names
from khmer_civic.io.errors import UnreadableTableError
from khmer_civic.io.formats import TableFormat, input_format
from khmer_civic.schema import LabelStatus
from khmer_civic.text.unreadable import REPLACEMENT, has_unreadable, replace_unreadable, replace_unreadable_in

SNIFF_BYTES = 64 * 1024
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
# NULs in the first 64 KiB that mean "not UTF-8 text" (see the module docstring).
NUL_SHARE_REFUSED = 0.10
NUL_PARITY_MIN = 16
NUL_PARITY_SHARE = 0.95
# A post with a stray quote can swallow many lines into one field; the csv module's default
# limit (128 KiB) would then abort the whole file instead of flagging one row.
CSV_FIELD_LIMIT = 256 * 1024 * 1024
# A record spanning more lines than this is a runaway quoted field whatever follows: its first
# line is flagged and reading starts again on the next (bounds the memory a stray quote takes).
RUNAWAY_MAX_LINES = 10_000


class RowProblem(str, Enum):
    """Why a row could not be read as it should (reported in ``label_status``)."""

    UNREADABLE = "unreadable_row"  # a broken JSON line, a CSV row cut by truncation
    MALFORMED = "malformed_row"  # a CSV row with more or fewer cells than the header
    UNMAPPED = "unmapped_row"  # a platform export's item with neither an id nor a text (io.platforms)
    # the text cell held bytes invalid in the file's encoding, a NUL or a lone surrogate (one
    # definition: LabelStatus, which the model layer also gives such a str)
    UNDECODABLE = LabelStatus.UNDECODABLE.value


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One input row: its values by column, and what went wrong reading it, if anything."""

    values: dict[str, Any]
    problem: RowProblem | None = None
    undecodable: frozenset[str] = field(default_factory=frozenset)


class TableReader(ABC):
    """A table opened for streaming. Use as a context manager or call :meth:`close`."""

    format: TableFormat

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] = []
        self._fingerprint: dict[str, Any] | None = None  # set by a pass that read the whole file

    def fingerprint(self) -> dict[str, Any]:
        """Size and sha256 of the file (:func:`~khmer_civic.io.checkpoint.input_fingerprint`).

        Taken during the pass over the whole file that CSV/TSV (:meth:`count_rows`) and JSON Lines
        (opening) make anyway; other formats read the file for it.
        """
        if self._fingerprint is None:
            self._fingerprint = input_fingerprint(self.path)
        return self._fingerprint

    @property
    def total_rows(self) -> int | None:
        """The number of rows when known without reading the data (Parquet, XLSX)."""
        return None

    def count_rows(self) -> int:
        """The number of rows, reading the file once if the format has no row count."""
        known = self.total_rows
        if known is not None:
            return known
        return sum(1 for _ in self.rows())

    @abstractmethod
    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        """Rows in file order, from row number ``start`` (0-based, header excluded)."""

    def column_kinds(self) -> dict[str, str]:
        """Value kind of each column for typed outputs (:mod:`khmer_civic.io.columns`: ``STRING``, ``INT`` ...).

        Readers that keep native types override this; text formats hold strings only.
        """
        return {name: STRING for name in self.columns}

    def arrow_fields(self) -> list[Any] | None:
        """The input's own Arrow fields (Parquet only), to write the columns back with their types."""
        return None

    def close(self) -> None:
        """Release the file (no-op for readers that open it per pass)."""

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_table(
    path: str | Path, *, sheet: str | None = None, format_name: str | None = None, timezone: str | None = None
) -> TableReader:
    """Open an input table for streaming; its format comes from the extension (see formats.py).

    A platform export (a Meta Business Suite CSV, a Telegram result.json ...; see
    :mod:`khmer_civic.io.platforms`) is told from the file and read with the contract columns;
    ``format_name`` names one instead (``"table"``: no platform mapping), ``timezone`` the IANA
    zone of its times that carry none (default Asia/Phnom_Penh). Raises
    :class:`~khmer_civic.io.errors.TableError` subclasses for unsupported, unreadable, empty or
    truncated files and for an unknown format or zone.
    """
    path = Path(path)
    if sheet is None:
        from khmer_civic.io.platforms import open_platform  # imports this module

        platform = open_platform(path, format_name=format_name, timezone=timezone)
        if platform is not None:
            return platform
    fmt = input_format(path)
    if sheet is not None and fmt is not TableFormat.XLSX:
        raise UnreadableTableError(f"--sheet applies to XLSX workbooks only, and {path} is {fmt.value}")
    if fmt.is_delimited:
        return DelimitedReader(path, fmt)
    if fmt is TableFormat.JSONL:
        return JsonLinesReader(path)
    if fmt is TableFormat.PARQUET:
        return ParquetReader(path)
    return XlsxReader(path, sheet)


# ------------------------------------------------------------------------------ text files


def looks_binary(head: bytes) -> bool:
    """Whether the NULs of ``head`` say UTF-16 without a byte-order mark or a binary file.

    UTF-16 text puts a NUL beside every ASCII character, all on even or all on odd offsets;
    binary files are full of them. A few NULs scattered in UTF-8 text are stray bytes instead.
    """
    nuls = head.count(0)
    if not nuls:
        return False
    if nuls >= NUL_SHARE_REFUSED * len(head):
        return True
    odd = head[1::2].count(0)
    return nuls >= NUL_PARITY_MIN and max(odd, nuls - odd) >= NUL_PARITY_SHARE * nuls


def detect_encoding(head: bytes, path: Path) -> str:
    """``utf-8-sig`` or ``utf-16`` when a byte-order mark says so, else ``utf-8``.

    Many NUL bytes without a byte-order mark (:func:`looks_binary`) mean UTF-16 without a mark
    or a binary file: neither is read, since guessing would garble every row. A few stray NULs
    are read as U+FFFD in their row.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if looks_binary(head):
        raise UnreadableTableError(
            f"{path} is full of NUL bytes: a binary file, or UTF-16 text without a byte-order mark; "
            "if it is text, save it as UTF-8 (or UTF-16 with a byte-order mark)"
        )
    return "utf-8"


def _read_sample(path: Path) -> tuple[str, str]:
    """(encoding, decoded text of the first ``SNIFF_BYTES`` bytes, ending at a complete line)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise UnreadableTableError(f"cannot read {path}: {exc.strerror or exc}") from exc
    encoding = detect_encoding(raw, path)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    complete_file = len(raw) < SNIFF_BYTES
    text = decoder.decode(raw, final=complete_file)
    if not complete_file and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    bad = text.count(REPLACEMENT)
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    if bad >= 8 and bad > 0.05 * non_ascii:
        raise UnreadableTableError(
            f"{path} is not UTF-8 text (nor UTF-16 with a byte-order mark); save it as UTF-8 and try again"
        )
    return encoding, text


def _open_text(path: Path, encoding: str, *, hashed: bool = False) -> TextIO:
    """``path`` as text (undecodable bytes as U+FFFD, newlines kept); ``hashed``: through a
    :class:`~khmer_civic.io.checkpoint.HashingFile` (see :func:`_fingerprint_of`)."""
    try:
        if not hashed:
            return open(path, encoding=encoding, errors="replace", newline="")
        binary = io.BufferedReader(HashingFile(path))
        return io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")
    except OSError as exc:
        raise UnreadableTableError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _fingerprint_of(handle: TextIO) -> dict[str, Any] | None:
    """The fingerprint of a file opened with ``hashed=True`` and read to the end, else ``None``."""
    raw = getattr(getattr(handle, "buffer", None), "raw", None)
    return raw.fingerprint() if isinstance(raw, HashingFile) else None


class _RecordTooLong(Exception):
    """A record asked for more than ``max_lines`` lines (raised through :func:`csv.reader`)."""


class _LineSource:
    """Feeds lines to :func:`csv.reader` while noting what the reader needs to judge each record.

    NULs become U+FFFD here, before the csv module sees them. Lines handed back with
    :meth:`push_back` are read again before the rest of the file. A record that asks for more
    than ``max_lines`` lines (0: no limit) raises :class:`_RecordTooLong`.
    """

    def __init__(self, handle: TextIO, quotechar: str, max_lines: int = 0) -> None:
        self._handle = handle
        self._quotechar = quotechar
        self._max_lines = max_lines
        self._pushed: list[str] = []  # lines to read again, last first
        self.last_line = ""
        self.lines: list[str] = []  # the lines of the current record
        self.quotes = 0  # quote characters in the lines of the current record
        self.replaced = False  # a line of the current record held an undecodable byte or a NUL
        self.hit_end = False  # the current record asked for a line past the end of the file

    def begin_record(self) -> None:
        self.lines = []
        self.quotes = 0
        self.replaced = False
        self.hit_end = False

    def push_back(self, lines: list[str]) -> None:
        """Read ``lines`` again, in order, before the rest of the file."""
        self._pushed.extend(reversed(lines))

    def __iter__(self) -> _LineSource:
        return self

    def __next__(self) -> str:
        if self._max_lines and len(self.lines) >= self._max_lines:
            raise _RecordTooLong
        line = self._pushed.pop() if self._pushed else self._handle.readline()
        if not line:
            self.hit_end = True
            raise StopIteration
        if "\x00" in line:
            line = line.replace("\x00", REPLACEMENT)
        self.last_line = line
        self.lines.append(line)
        self.quotes += line.count(self._quotechar)
        if REPLACEMENT in line:
            self.replaced = True
        return line

    @property
    def ended_without_newline(self) -> bool:
        return not self.last_line.endswith(("\n", "\r"))


def sniff_delimiter(sample: str, preferred: str) -> str:
    """The delimiter among ``, ; \\t |`` that splits the sample into the most consistent rows.

    Candidates whose header has a single cell are ignored; ties go to ``preferred``, then to the
    order above. A one-column file gets ``preferred``.
    """
    candidates = [preferred, *(d for d in DELIMITERS if d != preferred)]
    best: tuple[float, int] | None = None
    chosen = preferred
    for delimiter in candidates:
        try:
            records = [
                r for r in itertools.islice(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), 200) if r
            ]
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        consistency = sum(len(r) == width for r in records) / len(records)
        key = (consistency, width)
        if best is None or key > best:
            best, chosen = key, delimiter
    return chosen


def _records_alone(lines: list[str], delimiter: str) -> list[tuple[list[str], bool]]:
    """The non-blank records of ``lines`` read on their own, each with whether it ran past the last line."""
    past_end = False

    def feed() -> Iterator[str]:
        nonlocal past_end
        yield from lines
        past_end = True

    return [(record, past_end) for record in csv.reader(feed(), delimiter=delimiter) if record]


def _cells_of_line(line: str, delimiter: str) -> list[str]:
    """The cells of one line read on its own (an open quote runs to the end of the line)."""
    return next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])


class DelimitedReader(TableReader):
    """CSV/TSV, read incrementally; every cell is a string (see the module docstring)."""

    def __init__(self, path: Path, fmt: TableFormat = TableFormat.CSV) -> None:
        super().__init__(path)
        self.format = fmt
        self.encoding, sample = _read_sample(path)
        if not sample.strip():
            raise UnreadableTableError(f"{path} is empty: no header row")
        self.delimiter = sniff_delimiter(sample, "\t" if fmt is TableFormat.TSV else ",")
        with contextlib.closing(self._records()) as records:
            header = next(records, None)
        if header is None:
            raise UnreadableTableError(f"{path} is empty: no header row")
        self.columns = unique_names(header[0])

    def _records(self, *, hashed: bool = False) -> Iterator[tuple[list[str], bool, bool]]:
        """(cells, broken, replaced) per non-blank record, header included.

        ``broken``: the record could not be parsed, is the first line of a runaway quoted field
        (see the module docstring), or is a last record cut short by truncation; ``replaced``:
        one of its lines held undecodable bytes or a NUL. ``hashed``: a pass to the end also
        takes the file's fingerprint.
        """
        if csv.field_size_limit() < CSV_FIELD_LIMIT:
            csv.field_size_limit(CSV_FIELD_LIMIT)
        width = len(self.columns)  # 0 while the header itself is read
        with _open_text(self.path, self.encoding, hashed=hashed) as handle:
            source = _LineSource(handle, '"', RUNAWAY_MAX_LINES if width >= 2 else 0)
            reader = csv.reader(source, delimiter=self.delimiter)
            pending: tuple[list[str], bool, int, bool] | None = None  # cells, broken, quotes, replaced
            while True:
                source.begin_record()
                try:
                    cells = next(reader)
                    broken = unparsed = False
                except StopIteration:
                    break
                except (csv.Error, _RecordTooLong):
                    cells, broken, unparsed = [], True, True
                except UnicodeError as exc:  # a decoder that cannot replace (should not happen)
                    raise UnreadableTableError(f"{self.path}: cannot decode as {self.encoding}: {exc}") from exc
                lines, replaced, quotes = source.lines, source.replaced, source.quotes
                several = width >= 2 and len(lines) > 1
                if several and (unparsed or self._runaway(cells, lines, source.hit_end, width)):
                    cells, broken = _cells_of_line(lines[0], self.delimiter), True
                    replaced, quotes = REPLACEMENT in lines[0], 0
                    source.push_back(lines[1:])
                    reader = csv.reader(source, delimiter=self.delimiter)  # starts afresh on the next line
                elif source.hit_end and not broken and cells:
                    broken = True  # a quote still open at the end of the file
                if not cells and not broken:
                    continue  # a blank line is not a row
                if pending is not None:
                    yield pending[0], pending[1], pending[3]
                pending = (cells, broken, quotes, replaced)
            if pending is not None:
                cells, broken, quotes, replaced = pending
                if source.ended_without_newline and not broken:
                    expected = width or len(cells)
                    cut_char = bool(cells) and cells[-1].endswith(REPLACEMENT)
                    broken = quotes % 2 == 1 or len(cells) < expected or cut_char
                yield cells, broken, replaced
            self._fingerprint = _fingerprint_of(handle) or self._fingerprint

    def _runaway(self, cells: list[str], lines: list[str], at_end: bool, width: int) -> bool:
        """Whether a record of several ``lines`` reads better line by line (see the module docstring)."""
        line_by_line = -1  # the first line alone: a broken row
        for record, open_at_end in _records_alone(lines[1:], self.delimiter):
            if not open_at_end:  # a quote opened on the last line would close after it: no evidence
                line_by_line += 1 if len(record) == width else -1
        if line_by_line <= -1:
            return False
        if at_end or len(cells) != width:  # as one record it is worth -1
            return True
        if line_by_line > 1:
            return True
        try:  # a well-formed record is worth +1
            list(csv.reader(lines, delimiter=self.delimiter, strict=True))
        except csv.Error:  # e.g. a quote closing mid-field, as in 'text" more text'
            return True
        return False

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        columns = self.columns
        width = len(columns)
        records = self._records()
        next(records, None)  # the header
        for index, (cells, broken, replaced) in enumerate(records):
            if index < start:
                continue
            problem: RowProblem | None = None
            if broken:
                problem = RowProblem.UNREADABLE
            elif len(cells) != width:
                problem = RowProblem.MALFORMED
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            values = dict(zip(columns, cells))
            undecodable: frozenset[str] = frozenset()
            if replaced:
                undecodable = frozenset(name for name, cell in values.items() if REPLACEMENT in cell)
            yield SourceRow(values, problem, undecodable)

    def count_rows(self) -> int:
        """The number of rows: a pass over the file that also takes its :meth:`fingerprint`."""
        return sum(1 for _ in self._records(hashed=True)) - 1


def _json_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STRING
    return JSON


def merge_kinds(kinds: set[str]) -> str:
    """One output kind for a column that held values of ``kinds`` (``STRING`` when they disagree)."""
    if not kinds:
        return STRING
    if kinds <= {INT, FLOAT}:
        return FLOAT if FLOAT in kinds else INT
    if len(kinds) == 1 and next(iter(kinds)) in (BOOL, STRING):
        return next(iter(kinds))
    return STRING


def _parse_json_line(line: str) -> Any:
    """The JSON value of one line (``ValueError`` when broken), bad characters replaced.

    A raw NUL becomes U+FFFD before parsing; after that, a NUL or a lone surrogate can only reach
    a value through a ``\\u`` escape, so values are cleaned only when the line has one.
    """
    if "\x00" in line:
        line = line.replace("\x00", REPLACEMENT)
    value = json.loads(line)
    return replace_unreadable_in(value) if "\\u" in line else value


def _string_columns_with(values: dict[str, Any], char: str) -> frozenset[str]:
    return frozenset(k for k, v in values.items() if isinstance(v, str) and char in v)


def _cleaned(values: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """``values`` with NULs and lone surrogates in its strings replaced; the columns that had one."""
    bad = frozenset(k for k, v in values.items() if isinstance(v, str) and has_unreadable(v))
    for name in bad:
        values[name] = replace_unreadable(values[name])
    return values, bad


class JsonLinesReader(TableReader):
    """JSON Lines; a first pass gathers the columns, their value kinds, the row count and the fingerprint."""

    format = TableFormat.JSONL

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.encoding, _ = _read_sample(path)
        keys: dict[str, set[str]] = {}
        count = 0
        for line in self._lines(hashed=True):
            count += 1
            try:
                obj = _parse_json_line(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                for key, value in obj.items():
                    kinds = keys.setdefault(str(key), set())
                    kind = _json_kind(value)
                    if kind is not None:
                        kinds.add(kind)
        self.columns = list(keys)
        self._kinds = {key: merge_kinds(kinds) for key, kinds in keys.items()}
        self._count = count

    def _lines(self, *, hashed: bool = False) -> Iterator[str]:
        with _open_text(self.path, self.encoding, hashed=hashed) as handle:
            for line in handle:
                if line.strip():
                    yield line
            self._fingerprint = _fingerprint_of(handle) or self._fingerprint

    @property
    def total_rows(self) -> int | None:
        return self._count  # known from the first pass made when opening

    def column_kinds(self) -> dict[str, str]:
        return dict(self._kinds)

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        for index, line in enumerate(self._lines()):
            if index < start:
                continue
            try:
                obj = _parse_json_line(line)
            except ValueError:
                yield SourceRow({}, RowProblem.UNREADABLE)
                continue
            if not isinstance(obj, dict):
                yield SourceRow({}, RowProblem.UNREADABLE)
                continue
            values = {str(k): v for k, v in obj.items()}
            undecodable: frozenset[str] = frozenset()
            if REPLACEMENT in line or "\\u" in line or "\x00" in line:
                undecodable = _string_columns_with(values, REPLACEMENT)
            yield SourceRow(values, None, undecodable)


# ------------------------------------------------------------------------------ binary formats


class ParquetReader(TableReader):
    """Parquet by record batches; resuming skips whole row groups without decoding them."""

    format = TableFormat.PARQUET
    BATCH_ROWS = 4096
    READ_BUFFER_BYTES = 8 * 1024 * 1024

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            # Buffered reads stream each column chunk instead of loading a whole row group: a
            # 245 MB single-row-group file peaks at 132 MiB this way, 364 MiB otherwise.
            self._file = pq.ParquetFile(path, buffer_size=self.READ_BUFFER_BYTES, pre_buffer=False)
        except (OSError, pa.ArrowException) as exc:
            raise UnreadableTableError(f"{path} is not a readable Parquet file (truncated?): {exc}") from exc
        schema = self._file.schema_arrow
        self.columns = unique_names([replace_unreadable(name) for name in schema.names])
        self._fields = [f.with_name(name) for f, name in zip(schema, self.columns)]

    @property
    def total_rows(self) -> int | None:
        return int(self._file.metadata.num_rows)

    def arrow_fields(self) -> list[Any] | None:
        return list(self._fields)

    def column_kinds(self) -> dict[str, str]:
        return {name: ARROW for name in self.columns}

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        import pyarrow as pa

        metadata = self._file.metadata
        first_group, skip = 0, start
        while first_group < metadata.num_row_groups and skip >= metadata.row_group(first_group).num_rows:
            skip -= metadata.row_group(first_group).num_rows
            first_group += 1
        groups = list(range(first_group, metadata.num_row_groups))
        if not groups:
            return
        columns = self.columns
        try:
            for batch in self._file.iter_batches(batch_size=self.BATCH_ROWS, row_groups=groups, use_threads=False):
                lists = [column.to_pylist() for column in batch.columns]
                for values in zip(*lists):
                    if skip:
                        skip -= 1
                        continue
                    row, bad = _cleaned(dict(zip(columns, values)))
                    yield SourceRow(row, None, bad)
        except (OSError, pa.ArrowException) as exc:
            raise UnreadableTableError(f"{self.path}: damaged Parquet data (truncated?): {exc}") from exc

    def close(self) -> None:
        self._file.close()


_XLSX_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ParseError, OSError, ValueError)


class XlsxReader(TableReader):
    """The active sheet of a workbook (or ``sheet``), in openpyxl's read-only mode."""

    format = TableFormat.XLSX

    def __init__(self, path: Path, sheet: str | None = None) -> None:
        super().__init__(path)
        import openpyxl

        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except _XLSX_ERRORS as exc:
            raise UnreadableTableError(f"{path} is not a readable XLSX workbook (truncated?): {exc}") from exc
        try:
            if sheet is not None:
                if sheet not in self._book.sheetnames:
                    raise UnreadableTableError(
                        f"{path} has no sheet {sheet!r}; sheets: {', '.join(repr(s) for s in self._book.sheetnames)}"
                    )
                self._sheet = self._book[sheet]
            else:
                active = self._book.active
                self._sheet = active if active is not None else self._book.worksheets[0]
            header = next(self._iter(min_row=1, max_row=1), None)
        except UnreadableTableError:
            self.close()
            raise
        if header is None or all(cell is None for cell in header):
            self.close()
            raise UnreadableTableError(f"{path}: the sheet {self._sheet.title!r} is empty (no header row)")
        cells = [replace_unreadable(c) if isinstance(c, str) else c for c in header]
        while cells and cells[-1] is None:
            cells.pop()
        self.columns = unique_names(cells)

    def _iter(self, **bounds: int) -> Iterator[tuple[Any, ...]]:
        try:
            yield from self._sheet.iter_rows(values_only=True, **bounds)
        except _XLSX_ERRORS as exc:
            raise UnreadableTableError(f"{self.path}: damaged XLSX data (truncated?): {exc}") from exc

    @property
    def total_rows(self) -> int | None:
        max_row = self._sheet.max_row
        return max(int(max_row) - 1, 0) if max_row else None

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        columns = self.columns
        width = len(columns)
        blank_run = 0  # empty rows seen but not yet yielded: dropped if nothing follows them
        for cells in self._iter(min_row=2 + start):
            if all(cell is None for cell in cells):
                blank_run += 1
                continue
            for _ in range(blank_run):
                yield SourceRow(dict.fromkeys(columns))
            blank_run = 0
            problem = RowProblem.MALFORMED if any(c is not None for c in cells[width:]) else None
            values = dict(zip(columns, cells))
            if len(cells) < width:
                values.update(dict.fromkeys(columns[len(cells) :]))
            values, bad = _cleaned(values)  # XML cannot hold them; a damaged file might
            yield SourceRow(values, problem, bad)

    def close(self) -> None:
        self._book.close()


__all__ = [
    "DelimitedReader",
    "JsonLinesReader",
    "ParquetReader",
    "RowProblem",
    "SourceRow",
    "TableReader",
    "XlsxReader",
    "detect_encoding",
    "merge_kinds",
    "open_table",
    "sniff_delimiter",
]
