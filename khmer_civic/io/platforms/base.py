"""What every platform reader shares: the sample detection looks at, the format record, and the
reader that turns a platform's items into table rows (:class:`PlatformReader`)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any

from khmer_civic.io.columns import INT, STRING
from khmer_civic.io.errors import UnreadableTableError
from khmer_civic.io.formats import INPUT_SUFFIXES, TableFormat
from khmer_civic.io.platforms.contract import CONTRACT_COLUMNS, COUNT_COLUMNS, TEXT, Item
from khmer_civic.io.readers import (
    DelimitedReader,
    RowProblem,
    SourceRow,
    TableReader,
    _json_kind,
    merge_kinds,
    sniff_delimiter,
)
from khmer_civic.text.unreadable import REPLACEMENT, replace_unreadable_in

DELIMITED_SUFFIXES = frozenset(suffix for suffix, fmt in INPUT_SUFFIXES.items() if fmt.is_delimited)
JSON_LINES_SUFFIXES = frozenset(suffix for suffix, fmt in INPUT_SUFFIXES.items() if fmt is TableFormat.JSONL)
JSON_SUFFIXES = frozenset({".json"})
HTML_SUFFIXES = frozenset({".html", ".htm"})


def delimited_format(suffix: str) -> TableFormat:
    """How a CSV/TSV export with ``suffix`` is read: TSV for the tab-separated suffixes, else CSV."""
    return TableFormat.TSV if INPUT_SUFFIXES.get(suffix) is TableFormat.TSV else TableFormat.CSV


def normalise_name(name: str) -> str:
    """A column name compared without case, underscores or repeated spaces."""
    return " ".join(name.replace("_", " ").casefold().split())


@dataclass(frozen=True)
class Sample:
    """What detection sees of a file: its name, its first 64 KiB as text, and what they tell."""

    path: Path
    text: str

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    @cached_property
    def columns(self) -> frozenset[str]:
        """The header's column names (normalised) of a CSV/TSV file; empty for other files."""
        if self.suffix not in DELIMITED_SUFFIXES or not self.text.strip():
            return frozenset()
        preferred = "\t" if delimited_format(self.suffix) is TableFormat.TSV else ","
        delimiter = sniff_delimiter(self.text, preferred)
        try:
            header = next(csv.reader(io.StringIO(self.text, newline=""), delimiter=delimiter), [])
        except csv.Error:
            return frozenset()
        return frozenset(normalise_name(cell) for cell in header if cell.strip())

    @cached_property
    def first_object(self) -> dict[str, Any]:
        """The first line of a JSON Lines file as an object (empty when it is none)."""
        if self.suffix not in JSON_LINES_SUFFIXES:
            return {}
        for line in self.text.splitlines():
            if line.strip():
                try:
                    value = json.loads(line)
                except ValueError:
                    return {}
                return value if isinstance(value, dict) else {}
        return {}

    def has_keys(self, *keys: str) -> int:
        """How many of ``keys`` appear as JSON object keys in the sample text (``"key":``)."""
        return sum(1 for key in keys if re.search(r'"' + re.escape(key) + r'"\s*:', self.text))

    def item_keys(self, *keys: str) -> int:
        """How many of ``keys`` an export of items holds: the first object's keys of a JSON Lines
        file, :meth:`has_keys` of a JSON file, 0 for any other file."""
        if self.suffix in JSON_LINES_SUFFIXES:
            return sum(key in self.first_object for key in keys)
        if self.suffix in JSON_SUFFIXES:
            return self.has_keys(*keys)
        return 0


def column_score(sample: Sample, required: Iterable[str], usual: Iterable[str]) -> int:
    """0 when the sample's header lacks one of ``required`` (normalised names); else 2 plus how
    many of ``usual`` it holds."""
    if not all(name in sample.columns for name in required):
        return 0
    return 2 + sum(name in sample.columns for name in usual)


@dataclass
class ReadContext:
    """What a platform read needs besides the path: the zone of naive times, and what it skipped."""

    zone: tzinfo
    skipped: Counter[str] = field(default_factory=Counter)


ReadRows = Callable[[Path, ReadContext], Iterator[SourceRow]]


@dataclass(frozen=True)
class PlatformFormat:
    """A platform export this package reads (see the module docstring)."""

    name: str
    platform: str
    description: str
    detect: Callable[[Sample], int]
    read: ReadRows


def item_row(item: Item, problem: RowProblem | None = None, undecodable: frozenset[str] = frozenset()) -> SourceRow:
    """The :class:`SourceRow` of a mapped item; an item with neither id nor text is flagged ``unmapped_row``."""
    values = item.values()
    if problem is None and not item.mapped:
        problem = RowProblem.UNMAPPED
    bad = set(undecodable)
    text = values.get(TEXT)
    if isinstance(text, str) and REPLACEMENT in text:
        bad.add(TEXT)
    return SourceRow(values, problem, frozenset(name for name in bad if name in values))


class PlatformReader(TableReader):
    """A platform export as a table: the contract columns, then the export's own fields.

    Opening reads the rows once to learn the columns (their union, in order of first
    appearance), their kinds and the row count. :meth:`rows` reads a CSV/TSV or JSON Lines
    export again (streamed); a JSON export, which is parsed whole anyway, keeps the rows of
    that first read instead of parsing the file a second time.
    """

    text_column = TEXT  # the column label scores

    def __init__(self, path: Path, platform: PlatformFormat, zone: tzinfo) -> None:
        super().__init__(path)
        # the table format its values look like: strings from CSV/TSV exports, JSON values otherwise
        suffix = path.suffix.lower()
        self.format = delimited_format(suffix) if suffix in DELIMITED_SUFFIXES else TableFormat.JSONL
        self.platform = platform
        self.zone = zone
        context = ReadContext(zone)
        kinds: dict[str, set[str]] = {name: set() for name in CONTRACT_COLUMNS}
        count = 0
        self._kept: list[SourceRow] | None = [] if suffix in JSON_SUFFIXES else None
        for row in platform.read(path, context):
            count += 1
            if self._kept is not None:
                self._kept.append(row)
            for key, value in row.values.items():
                found = kinds.setdefault(key, set())
                kind = _json_kind(value)
                if kind is not None:
                    found.add(kind)
        self.columns = list(kinds)
        self._kinds = {name: merge_kinds(found) for name, found in kinds.items()}
        for name in COUNT_COLUMNS:
            self._kinds[name] = INT
        for name in CONTRACT_COLUMNS:
            if name not in COUNT_COLUMNS:
                self._kinds[name] = STRING
        self._count = count
        self.skipped: Counter[str] = context.skipped  # items left out on purpose (Telegram service messages)

    @property
    def total_rows(self) -> int | None:
        return self._count

    def column_kinds(self) -> dict[str, str]:
        return dict(self._kinds)

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        if self._kept is not None:
            yield from self._kept[start:]
            return
        for index, row in enumerate(self.platform.read(self.path, ReadContext(self.zone))):
            if index >= start:
                yield row


# ------------------------------------------------------------------------------ reading helpers


class HeaderNames:
    """A CSV header's column names looked up without case, underscores or repeated spaces."""

    def __init__(self, columns: Iterable[str]) -> None:
        self._by_key: dict[str, str] = {}
        for name in columns:
            self._by_key.setdefault(normalise_name(name), name)

    def find(self, *aliases: str) -> str | None:
        """The first column named like one of ``aliases``, or ``None``."""
        for alias in aliases:
            found = self._by_key.get(normalise_name(alias))
            if found is not None:
                return found
        return None

    def value(self, row: Mapping[str, Any], *aliases: str) -> Any:
        """The first non-blank value among the columns named like ``aliases``."""
        for alias in aliases:
            name = self.find(alias)
            if name is None:
                continue
            value = row.get(name)
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return value
        return None


def delimited_rows(path: Path) -> tuple[HeaderNames, Iterator[SourceRow]]:
    """The header and rows of a CSV/TSV export, read by the plain table reader (malformed rows flagged)."""
    reader = DelimitedReader(path, delimited_format(path.suffix.lower()))
    return HeaderNames(reader.columns), reader.rows()


def load_json(path: Path) -> Any:
    """A whole JSON file (UTF-8, with or without a byte-order mark), its NULs and lone surrogates replaced."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableTableError(f"cannot read {path}: {exc.strerror or exc}") from exc
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UnreadableTableError(f"{path} is not valid JSON ({exc}); is the export complete?") from exc
    return replace_unreadable_in(value)


def json_lines(path: Path) -> Iterator[Any]:
    """The values of a JSON Lines file, one per non-blank line; ``None`` for a broken line."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                yield replace_unreadable_in(json.loads(line))
            except ValueError:
                yield None


def unreadable_row() -> SourceRow:
    """A row that could not be parsed at all (a broken JSON line): kept, flagged ``unreadable_row``."""
    return SourceRow({}, RowProblem.UNREADABLE)


def unmapped_value(value: Any, platform: str, item_type: str) -> SourceRow:
    """A value that is no item (not an object): kept as ``value`` and flagged ``unmapped_row``."""
    return item_row(Item(platform, item_type, original={"value": value}))
