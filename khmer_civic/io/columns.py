"""Which column holds the text, the names of the columns the commands add, and what a column holds.

When no ``--text-column`` is given, the text column is found by name: a column called (in this
order of preference) ``message``, ``text``, ``comment``, ``body``, ``content``, ``post``,
``caption`` or ``description`` — or one of a few Khmer words for text/message/comment —
compared without case, spaces or punctuation. Failing an exact name, a column whose name
*contains* one of those words as a part (``comment_text``, ``post_message``, ``Message Body``)
is taken, unless another part marks it as metadata (``message_id``, ``comment_count``,
``post_url`` ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from khmer_civic.io.errors import ColumnClashError, MissingColumnError

# What an input column holds (TableReader.column_kinds), for typed outputs (Parquet).
STRING = "string"
INT = "int"
FLOAT = "float"
BOOL = "bool"
ARROW = "arrow"  # a Parquet input column: written back with its own Arrow field
JSON = "json"  # a JSON list or object (JSONL): written as text

# What an added column holds; writers format each kind for their format.
LABELS = "labels"  # a list of labels (multi_label task)
LABEL = "label"  # one label (single_label task)
FLAG = "flag"  # a bool (binary task)
SCORE = "score"  # a probability
STATUS = "status"  # why a row was (not) labelled
TEXT = "text"  # derived text (normalised text, tokens)
ADDED_KINDS: frozenset[str] = frozenset({LABELS, LABEL, FLAG, SCORE, STATUS, TEXT})
KIND_OF_TASK: dict[str, str] = {"multi_label": LABELS, "single_label": LABEL, "binary": FLAG}

TEXT_COLUMN_WORDS: tuple[str, ...] = (
    "message",
    "text",
    "comment",
    "body",
    "content",
    "post",
    "caption",
    "description",
    "សារ",  # message
    "អត្ថបទ",  # text
    "មតិ",  # comment, opinion
    "មតិយោបល់",  # comment
    "ខ្លឹមសារ",  # content
)
# Name parts that mark a column as data *about* a text rather than the text itself.
METADATA_WORDS: frozenset[str] = frozenset(
    {
        "id", "ids", "uid", "key", "count", "counts", "num", "number", "n", "nb", "len", "length",
        "date", "time", "timestamp", "created", "updated", "at", "type", "kind", "url", "link", "links",
        "lang", "language", "author", "user", "username", "name", "score", "likes", "reactions",
        "shares", "label", "labels", "topic", "topics", "sentiment", "source", "hash",
    }
)  # fmt: skip
_SPLIT = re.compile(r"[\s_.,;:/\\|()\[\]{}#@!?\"'+*&=<>~-]+")  # not \W: Khmer vowel signs are not \w
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _parts(name: str) -> list[str]:
    return [p for p in _SPLIT.split(_CAMEL.sub("_", name.strip()).casefold()) if p]


def _singular(part: str, words: dict[str, int]) -> str:
    return part[:-1] if part.endswith("s") and part[:-1] in words else part


@dataclass(frozen=True)
class TextColumnChoice:
    """The text column and whether it was found automatically (``auto``) or named by the user."""

    name: str
    auto: bool


def find_text_column(
    columns: Sequence[str], requested: str | None = None, *, source: str = "the input"
) -> TextColumnChoice:
    """Pick the text column among ``columns``.

    ``requested`` (``--text-column``) must match a column exactly, or, failing that, without
    regard to case when that match is unique. Without ``requested`` the column is found by
    name (see the module docstring). Raises :class:`MissingColumnError` listing the available
    columns when there is no such column.
    """
    available = ", ".join(repr(c) for c in columns) if columns else "(none)"
    if requested is not None:
        if requested in columns:
            return TextColumnChoice(requested, auto=False)
        folded = [c for c in columns if c.casefold() == requested.casefold()]
        if len(folded) == 1:
            return TextColumnChoice(folded[0], auto=False)
        raise MissingColumnError(f"no column {requested!r} in {source}; available columns: {available}")
    found = guess_text_column(columns)
    if found is None:
        raise MissingColumnError(
            f"found no text column in {source} (looked for {', '.join(TEXT_COLUMN_WORDS[:8])} ...); "
            f"name it with --text-column; available columns: {available}"
        )
    return TextColumnChoice(found, auto=True)


def guess_text_column(columns: Sequence[str]) -> str | None:
    """The column whose name says it holds the text, or ``None`` (see the module docstring)."""
    rank = {word: i for i, word in enumerate(TEXT_COLUMN_WORDS)}
    best: tuple[int, int, int] | None = None
    chosen: str | None = None
    for position, column in enumerate(columns):
        parts = [_singular(p, rank) for p in _parts(column)]
        if not parts:
            continue
        if len(parts) == 1 and parts[0] in rank:
            key = (0, rank[parts[0]], position)  # exact name: always preferred
        else:
            hits = [rank[p] for p in parts if p in rank]
            if not hits or any(p in METADATA_WORDS for p in parts):
                continue
            key = (1, min(hits), position)
        if best is None or key < best:
            best, chosen = key, column
    return chosen


def check_no_clash(columns: Sequence[str], added: Sequence[str], *, source: str = "the input") -> None:
    """Refuse to add a column the input already has (e.g. when an output file is labelled again)."""
    clash = [name for name in added if name in set(columns)]
    if clash:
        shown = ", ".join(repr(c) for c in clash[:4]) + (f" and {len(clash) - 4} more" if len(clash) > 4 else "")
        raise ColumnClashError(
            f"{source} already has the column(s) {shown} that this command adds "
            "(is it an output of khmer-civic?); rename or drop them first"
        )


def unique_names(raw: Sequence[object]) -> list[str]:
    """Header cells as column names: blanks become ``column_<n>`` (1-based), repeats get ``.1``, ``.2``."""
    names: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(raw, start=1):
        base = "" if cell is None else str(cell).strip()
        if not base:
            base = f"column_{index}"
        name, k = base, 0
        while name in seen:
            k += 1
            name = f"{base}.{k}"
        seen.add(name)
        names.append(name)
    return names
