"""The columns every platform reader adds, and the value rules they share.

Contract columns (always present, in this order, before the export's own fields):

=============  ===========================================================================
``platform``   ``facebook``, ``telegram`` or ``youtube``
``item_type``  ``post``, ``comment``, ``reply`` or ``message``
``item_id``    the item's id as text (never a float); made from time + text where the export has none
``parent_id``  the id of the post or comment it answers, as text; empty for posts and top-level items
``author``     the author's display name, as the export gives it
``created_at`` UTC in ISO 8601 with a ``Z``: ``2026-10-02T01:14:00Z`` (whole seconds); times the
               export gives without a zone are read in Asia/Phnom_Penh unless ``--tz`` names another
``text``       the text that ``label`` scores
``reactions``  ``comments`` ``shares`` ``views``: whole numbers; empty where the export has no
               figure (``N/A``, blank, or no such column), never 0 in its place
``url``        a link to the item; empty where the export has none
=============  ===========================================================================

The export's own fields follow, flattened: nested objects become dotted names (``from.name``),
lists stay lists (written as JSON text). An export field whose name is a contract column
(Telegram's ``text``, Facepager's ``parent_id``) is kept as ``original.<name>`` on the rows where
its value differs from the contract value.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from khmer_civic.io.errors import TableError

PLATFORM = "platform"
ITEM_TYPE = "item_type"
ITEM_ID = "item_id"
PARENT_ID = "parent_id"
AUTHOR = "author"
CREATED_AT = "created_at"
TEXT = "text"
REACTIONS = "reactions"
COMMENTS = "comments"
SHARES = "shares"
VIEWS = "views"
URL = "url"
CONTRACT_COLUMNS: tuple[str, ...] = (
    PLATFORM, ITEM_TYPE, ITEM_ID, PARENT_ID, AUTHOR, CREATED_AT, TEXT, REACTIONS, COMMENTS, SHARES, VIEWS, URL,
)  # fmt: skip
COUNT_COLUMNS: tuple[str, ...] = (REACTIONS, COMMENTS, SHARES, VIEWS)
ITEM_TYPES: tuple[str, ...] = ("post", "comment", "reply", "message")
ORIGINAL_PREFIX = "original."

DEFAULT_TIMEZONE = "Asia/Phnom_Penh"


class UnknownTimeZoneError(TableError):
    """``--tz`` names no IANA time zone."""


def resolve_zone(name: str | None) -> tzinfo:
    """The zone naive export times are read in: ``name`` (an IANA name) or Asia/Phnom_Penh."""
    chosen = name or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZoneError(
            f"unknown time zone {chosen!r}; give an IANA name such as Asia/Phnom_Penh, UTC or Asia/Bangkok"
        ) from exc


# ------------------------------------------------------------------------------ values


def iso_utc(moment: datetime) -> str:
    """``moment`` (aware) in UTC as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_unix(value: Any) -> str | None:
    """A Unix time (seconds; an int, float or digit string) as :func:`iso_utc`, or ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    try:
        return iso_utc(datetime.fromtimestamp(int(seconds), tz=timezone.utc))
    except (OverflowError, OSError, ValueError):
        return None


ISO_FORMATS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
)
US_FORMATS: tuple[str, ...] = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y")

# Zone abbreviations CrowdTangle and other tools print after a time, as fixed offsets in hours.
ZONE_ABBREVIATIONS: dict[str, float] = {
    "UTC": 0, "GMT": 0, "Z": 0, "ICT": 7, "WIB": 7, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "BST": 1, "IST": 5.5,
}  # fmt: skip
_OFFSET = re.compile(r"^([+-])(\d{1,2}):?(\d{2})?$")


def _zone_of_token(token: str) -> tzinfo | None:
    """The zone a trailing token names: an abbreviation, an offset (``+07``, ``+0700``) or an IANA name."""
    upper = token.upper()
    if upper in ZONE_ABBREVIATIONS:
        return timezone(timedelta(hours=ZONE_ABBREVIATIONS[upper]))
    match = _OFFSET.match(token)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        hours, minutes = int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes > 59:
            return None
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    if "/" in token:
        try:
            return ZoneInfo(token)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return None


def parse_time(value: Any, zone: tzinfo, formats: Iterable[str] = ISO_FORMATS) -> str | None:
    """A time written as text, as :func:`iso_utc`; ``None`` when it cannot be read.

    ``formats`` are tried in order (``strptime``); a time without a zone is read in ``zone``. A
    trailing zone token (``2021-03-04 09:12:45 EST``, ``... +07``, ``... UTC``) sets the zone.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.endswith("Z") and "T" in text:
        text = text[:-1] + "+0000"
    given: tzinfo | None = None
    head, _, last = text.rpartition(" ")
    if head and not last[:1].isdigit():
        given = _zone_of_token(last)
        if given is not None:
            text = head
    elif head and last[:1] in "+-" and ":" not in head[-3:]:
        given = _zone_of_token(last)
        if given is not None:
            text = head
    for pattern in formats:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=given or zone)
        return iso_utc(moment)
    return None


NO_FIGURE: frozenset[str] = frozenset({"", "n/a", "na", "-", "–", "null", "none", "nan"})
_SEPARATORS = re.compile(r"[,\s\u00a0\u202f'’]")
_DOT_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")
_SUFFIXED = re.compile(r"^(\d+(?:\.\d+)?)([kmb])$", re.IGNORECASE)
_MULTIPLIERS = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}


def parse_count(value: Any) -> int | None:
    """A count as a whole number: ``1,234`` ``1 234`` ``1.234`` ``1.2K`` ``12.0`` read; ``N/A``,
    blanks and text that is no number give ``None`` (not 0)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.casefold() in NO_FIGURE:
        return None
    compact = _SEPARATORS.sub("", text)
    if compact.isdigit():
        return int(compact)
    if _DOT_THOUSANDS.match(text):
        return int(text.replace(".", ""))
    suffixed = _SUFFIXED.match(compact)
    if suffixed:
        return round(float(suffixed.group(1)) * _MULTIPLIERS[suffixed.group(2).lower()])
    try:
        number = float(compact)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number.is_integer() and number >= 0 else None


def sum_counts(values: Iterable[Any]) -> int | None:
    """The sum of the counts among ``values`` that are figures; ``None`` when none is."""
    figures = [n for n in (parse_count(v) for v in values) if n is not None]
    return sum(figures) if figures else None


def id_text(value: Any) -> str | None:
    """An id as text: strings stripped, whole numbers without a decimal point; ``None`` when empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None


def stable_id(prefix: str, *parts: Any) -> str:
    """A short id that depends only on ``parts``: ``prefix`` + 12 hex digits of their sha1."""
    digest = hashlib.sha1("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}{digest[:12]}"


def repair_mojibake(text: str) -> tuple[str, bool]:
    """Facebook DYI text, whose every UTF-8 byte was written as a ``\\u00XX`` character, as real text.

    Returns ``(text, True)`` when the text needed no repair or was repaired (its characters taken as
    bytes form valid UTF-8), ``(text, False)`` unchanged when they do not: a broken byte sequence.
    A text holding a character above U+00FF was not escaped this way and is returned as it is.
    """
    if text.isascii():
        return text, True
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return text, True
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return text, False


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted names (``{"from": {"name": x}}`` -> ``from.name``); lists kept as they are."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(flatten(item, name + "."))
        else:
            out[name] = item
    return out


# ------------------------------------------------------------------------------ items


@dataclass
class Item:
    """One mapped row: the contract values and the export's own (flattened) fields."""

    platform: str
    item_type: str
    item_id: str | None = None
    parent_id: str | None = None
    author: str | None = None
    created_at: str | None = None
    text: str | None = None
    reactions: int | None = None
    comments: int | None = None
    shares: int | None = None
    views: int | None = None
    url: str | None = None
    original: dict[str, Any] = field(default_factory=dict)

    def contract(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTRACT_COLUMNS}

    def values(self) -> dict[str, Any]:
        """The row: contract columns, then the original fields (clashing names as ``original.<name>``)."""
        row = self.contract()
        for key, value in self.original.items():
            if key in row:
                if value == row[key] or (value in ("", None) and row[key] is None):
                    continue
                key = ORIGINAL_PREFIX + key
            row[key] = value
        return row

    @property
    def mapped(self) -> bool:
        """Whether the export gave this item an id or a text: otherwise it is flagged ``unmapped_row``."""
        return bool(self.item_id) or bool(self.text)


class UniqueIds:
    """Makes repeated ids unique with ``-2``, ``-3`` ... in order of appearance (stable for a given file)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, item_id: str) -> str:
        count = self._seen.get(item_id, 0) + 1
        self._seen[item_id] = count
        return item_id if count == 1 else f"{item_id}-{count}"
