"""The genre of an annotated record: the one mapping from source/provenance that every report
(``evaluate --group-by genre``, the training reports, the annotation tools' data card and
agreement figures) is broken down by. No dependencies: any layer may import it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GENRES: tuple[str, ...] = (
    "textbook", "wikipedia", "news", "web", "authored_post", "authored_comment", "romanized", "other",
)
NEWS_WEB_GENRES: frozenset[str] = frozenset({"news", "web"})
# Corpus source (the part of ``source`` before the first ':') -> genre.
SOURCE_GENRES: dict[str, str] = {
    "rdlab_wild_khmer_sentences": "textbook",
    "khmer_wikipedia_5k": "wikipedia",
    "news": "news",
    "oscar_web_lines": "web",
}
# Authored sources (``authored:<kind>``) that imitate comments; every other kind is a post.
AUTHORED_COMMENT_KINDS: frozenset[str] = frozenset({"citizen-comment", "comment", "qa-thread"})
# Marks of romanized or code-mixed text: a ``script`` field with one of these values, or, on an
# authored text, a scenario tag (its ``genre`` field) with one of these words.
ROMANIZED_MARKS: tuple[str, ...] = ("romanized", "code-mixed")


def romanized_marked(record: Any) -> bool:
    """Whether a record (anything with ``.get``: a dict or a training Example) is marked romanized/code-mixed."""
    script = record.get("script")
    if isinstance(script, str) and script in ROMANIZED_MARKS:
        return True
    tag = record.get("genre")
    if record.get("provenance") == "authored" and isinstance(tag, str):
        return any(mark in tag for mark in ROMANIZED_MARKS)
    return False


def genre_of(record: Any) -> str:
    """The genre of a record (a dict or anything with ``.get``), one of :data:`GENRES`.

    - ``textbook``: rdlab_wild_khmer_sentences (textbook, government and legal sentences);
      ``wikipedia``: khmer_wikipedia_5k; ``news``: ``news:<docId>:p<index>`` paragraphs;
      ``web``: oscar_web_lines.
    - Authored texts (``provenance: authored``): ``authored_comment`` for the sources
      ``authored:citizen-comment``, ``authored:comment`` and ``authored:qa-thread``,
      ``authored_post`` for every other ``authored:*`` kind (page, group, personal and shared posts,
      news captions, notices, ads ...).
    - ``romanized``: romanized Khmer or code-mixed text where it is marked: a ``script`` field of
      ``romanized`` or ``code-mixed`` (any provenance), or an authored text whose scenario tag (its own
      ``genre`` field, e.g. ``romanized-comment``) names one of them. Unmarked Latin-script text keeps
      the genre of its source.
    - ``other``: any source not listed (a new corpus must be added to :data:`SOURCE_GENRES`).
    """
    source = str(record.get("source") or "")
    if romanized_marked(record):
        return "romanized"
    if _authored(record, source):
        kind = source.split(":", 1)[1] if ":" in source else ""
        return "authored_comment" if kind in AUTHORED_COMMENT_KINDS else "authored_post"
    return _corpus_genre(source)


def _authored(record: Any, source: str) -> bool:
    return record.get("provenance") == "authored" or source.startswith("authored")


def _corpus_genre(source: str) -> str:
    return SOURCE_GENRES.get(source.split(":", 1)[0], "other")


PARTS: tuple[str, ...] = ("news_web", "authored", "reference")


def part_of(record: Any) -> str:
    """The part of the data a record belongs to, the coarse grouping the model targets are set on.

    ``authored``: texts written for the project (``provenance: authored``, romanized ones included);
    ``news_web``: news paragraphs and web lines (:data:`NEWS_WEB_GENRES`); ``reference``: everything
    else (textbook and legal sentences, Wikipedia).
    """
    source = str(record.get("source") or "")
    if _authored(record, source):
        return "authored"
    return "news_web" if _corpus_genre(source) in NEWS_WEB_GENRES else "reference"


# Groupings computed from a record rather than read from one of its fields (``evaluate --group-by``):
# ``genre`` is :func:`genre_of`, not an authored record's own scenario tag of that name; ``part`` is
# :func:`part_of`.
DERIVED_GROUPS: dict[str, Callable[[Any], str]] = {"genre": genre_of, "part": part_of}
