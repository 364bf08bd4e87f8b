"""Table formats, told from file names (and checked against the first bytes of inputs)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from khmer_civic.io.errors import UnreadableTableError, UnsupportedFormatError


class TableFormat(str, Enum):
    """A table format this library reads and writes."""

    CSV = "csv"
    TSV = "tsv"
    JSONL = "jsonl"
    PARQUET = "parquet"
    XLSX = "xlsx"

    @property
    def suffix(self) -> str:
        """The file extension written for this format (with the dot)."""
        return "." + self.value

    @property
    def is_delimited(self) -> bool:
        return self in (TableFormat.CSV, TableFormat.TSV)


INPUT_SUFFIXES: dict[str, TableFormat] = {
    ".csv": TableFormat.CSV,
    ".txt": TableFormat.CSV,
    ".tsv": TableFormat.TSV,
    ".tab": TableFormat.TSV,
    ".jsonl": TableFormat.JSONL,
    ".ndjson": TableFormat.JSONL,
    ".parquet": TableFormat.PARQUET,
    ".pq": TableFormat.PARQUET,
    ".xlsx": TableFormat.XLSX,
    ".xlsm": TableFormat.XLSX,
}
OUTPUT_SUFFIXES: dict[str, TableFormat] = {fmt.suffix: fmt for fmt in TableFormat}

# Extensions people will try, with what to do instead.
_HINTS: dict[str, str] = {
    ".xls": "old Excel files are not read; save the sheet as .xlsx (or .csv) first",
    ".ods": "save the sheet as .xlsx or .csv first",
    ".json": "only JSON Lines (one object per line, .jsonl) is streamed; convert a JSON array to .jsonl",
    ".gz": "decompress the file first",
    ".zip": "unzip the file first",
}

_ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _unsupported(path: Path, role: str, known: dict[str, TableFormat]) -> UnsupportedFormatError:
    suffix = _suffix(path)
    choices = " ".join(sorted(known))
    hint = _HINTS.get(suffix)
    what = f"extension {suffix!r}" if suffix else "no extension"
    message = f"cannot tell the {role} format of {path} ({what}); use one of: {choices}"
    return UnsupportedFormatError(f"{message}; {hint}" if hint else message)


def output_format(path: str | Path) -> TableFormat:
    """The format an output file gets, from its extension (.csv .tsv .jsonl .parquet .xlsx)."""
    path = Path(path)
    fmt = OUTPUT_SUFFIXES.get(_suffix(path))
    if fmt is None:
        raise _unsupported(path, "output", OUTPUT_SUFFIXES)
    return fmt


def input_format(path: str | Path) -> TableFormat:
    """The format of an input file, from its extension, checked against its first bytes.

    Raises :class:`UnreadableTableError` when the file is missing, is a directory, or its bytes
    contradict its name (e.g. an XLSX workbook renamed ``.csv``, or a truncated Parquet file).
    """
    path = Path(path)
    fmt = INPUT_SUFFIXES.get(_suffix(path))
    if fmt is None:
        raise _unsupported(path, "input", INPUT_SUFFIXES)
    if not path.exists():
        raise UnreadableTableError(f"{path} does not exist")
    if not path.is_file():
        raise UnreadableTableError(f"{path} is not a file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
            size = path.stat().st_size
            tail = b""
            if size >= 8:
                handle.seek(size - 4)
                tail = handle.read(4)
    except OSError as exc:
        raise UnreadableTableError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if fmt is TableFormat.PARQUET:
        if head != _PARQUET_MAGIC or tail != _PARQUET_MAGIC:
            raise UnreadableTableError(f"{path} is not a complete Parquet file (truncated, or another format)")
    elif fmt is TableFormat.XLSX:
        if head != _ZIP_MAGIC:
            raise UnreadableTableError(f"{path} is not an XLSX workbook (truncated, or another format)")
    elif head == _ZIP_MAGIC:
        raise UnreadableTableError(
            f"{path} is a zip archive (an XLSX workbook?), not {fmt.value} text; rename it .xlsx"
        )
    elif head == _PARQUET_MAGIC:
        raise UnreadableTableError(f"{path} is a Parquet file, not {fmt.value} text; rename it .parquet")
    return fmt
