"""The platform formats, told from a file's first bytes, and the reader that maps them to the contract.

Each :class:`PlatformFormat` has a name, a description, ``detect(sample) -> int`` (0: not this
format; otherwise how many of its distinguishing columns or keys the sample holds) and
``read(path, context)``, which yields the rows. :func:`detect_platform` scores every format on a
:class:`Sample` of the file and takes the highest score (the most specific match); a file no
format claims is read as a plain table, as before. ``--format NAME`` skips detection.
"""

from __future__ import annotations

import re
from pathlib import Path

from khmer_civic.io.errors import TableError, UnreadableTableError, UnsupportedFormatError
from khmer_civic.io.platforms import facebook, telegram, youtube
from khmer_civic.io.platforms.base import (
    DELIMITED_SUFFIXES,
    HTML_SUFFIXES,
    JSON_LINES_SUFFIXES,
    JSON_SUFFIXES,
    PlatformFormat,
    PlatformReader,
    Sample,
)
from khmer_civic.io.platforms.contract import resolve_zone
from khmer_civic.io.readers import TableReader, _read_sample

PLAIN_TABLE = "table"  # --format table: read the file as a plain table, no platform mapping
FORMATS: tuple[PlatformFormat, ...] = (*facebook.FORMATS, *telegram.FORMATS, *youtube.FORMATS)


# ------------------------------------------------------------------------------ the registry


FORMATS_BY_NAME: dict[str, PlatformFormat] = {f.name: f for f in FORMATS}
FORMAT_NAMES: tuple[str, ...] = (*FORMATS_BY_NAME, PLAIN_TABLE)
PLAIN_TABLE_DESCRIPTION = "a plain table (CSV/TSV, JSON Lines, Parquet, XLSX), read as it is, no platform mapping"


def format_named(name: str) -> PlatformFormat | None:
    """The platform format called ``name`` (``None`` for ``table``); an unknown name lists the names."""
    if name == PLAIN_TABLE:
        return None
    found = FORMATS_BY_NAME.get(name) or FORMATS_BY_NAME.get(name.strip().lower().replace("-", "_"))
    if found is None:
        raise UnsupportedFormatError(f"unknown input format {name!r}; the formats are: {', '.join(FORMAT_NAMES)}")
    return found


def read_sample(path: Path) -> Sample | None:
    """The :class:`Sample` of a text file, or ``None`` when it cannot be read as text."""
    if path.suffix.lower() not in DELIMITED_SUFFIXES | JSON_LINES_SUFFIXES | JSON_SUFFIXES | HTML_SUFFIXES:
        return None
    if not path.is_file():
        return None
    try:
        _, text = _read_sample(path)
    except TableError:
        return None
    return Sample(path, text)


_TELEGRAM_HTML = re.compile(r'class="(page_header|history|message service|tgme)|Exported Data|Telegram', re.IGNORECASE)


def refuse_telegram_html(sample: Sample) -> None:
    """Stop with a message saying to export as JSON when ``sample`` is Telegram Desktop's HTML export."""
    if sample.suffix in HTML_SUFFIXES and (
        _TELEGRAM_HTML.search(sample.text) or sample.path.stem.startswith("messages")
    ):
        raise UnreadableTableError(
            f"{sample.path} is Telegram Desktop's HTML export, which cannot be read reliably; export the chat "
            'again and choose export as JSON (machine-readable) under "Format", then give the result.json it writes'
        )


def detect_platform(sample: Sample) -> PlatformFormat | None:
    """The format with the highest detection score for ``sample`` (ties: registry order), or ``None``."""
    refuse_telegram_html(sample)
    best: tuple[int, PlatformFormat] | None = None
    for fmt in FORMATS:
        try:
            score = fmt.detect(sample)
        except (ValueError, TypeError):
            score = 0
        if score > 0 and (best is None or score > best[0]):
            best = (score, fmt)
    return best[1] if best else None


def open_platform(path: Path, *, format_name: str | None = None, timezone: str | None = None) -> TableReader | None:
    """A :class:`PlatformReader` for ``path`` when it is a platform export (or ``format_name`` says so),
    else ``None`` (read it as a plain table). Raises :class:`~khmer_civic.io.errors.TableError` for an
    unknown format or zone and for Telegram's HTML export."""
    if timezone is not None:
        resolve_zone(timezone)  # an unknown zone is an error whatever the file
    if format_name is not None:
        chosen = format_named(format_name)
        if chosen is None:
            return None
        sample = read_sample(path)
        if sample is not None:
            refuse_telegram_html(sample)
        if not path.is_file():
            raise UnreadableTableError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
        return PlatformReader(path, chosen, resolve_zone(timezone))
    sample = read_sample(path)
    if sample is None:
        return None
    chosen = detect_platform(sample)
    return PlatformReader(path, chosen, resolve_zone(timezone)) if chosen is not None else None
