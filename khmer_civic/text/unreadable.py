"""Characters no file or model can take as text: lone surrogates and NUL.

A Python ``str`` can hold a *lone surrogate* (a code point in U+D800–U+DFFF), for example from
the JSON escape ``"\\ud83d"`` that a scraper left when it cut an emoji in half. No UTF-8
encoder, tokenizer or Arrow string accepts one. NUL (U+0000) is a valid code point, but XML (and
so XLSX) forbids it, C code ends strings at it, and in a CSV it means a damaged or binary file.

The rule of this project, the same as for bytes that are not valid UTF-8: the table layer puts
U+FFFD (the replacement character) in place of each such character and flags the row
``undecodable_text``; writers do the same to every cell they write, so no output ever holds one.
The model layer gives a text with a lone surrogate the status ``undecodable_text`` without
labelling it.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_UNREADABLE = re.compile("[\x00\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a code point in U+D800–U+DFFF (which no encoder accepts)."""
    return _LONE_SURROGATE.search(text) is not None


def has_unreadable(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate or a NUL."""
    return _UNREADABLE.search(text) is not None


def replace_unreadable(text: str) -> str:
    """``text`` with every lone surrogate and NUL replaced by U+FFFD (unchanged when it has none)."""
    return _UNREADABLE.sub(REPLACEMENT, text) if _UNREADABLE.search(text) else text


def replace_unreadable_in(value: Any) -> Any:
    """``value`` with :func:`replace_unreadable` applied to every string in it, dict keys included.

    Lists, tuples and dicts are rebuilt (tuples as lists, as JSON has them); other values are
    returned as they are.
    """
    if isinstance(value, str):
        return replace_unreadable(value)
    if isinstance(value, list | tuple):
        return [replace_unreadable_in(item) for item in value]
    if isinstance(value, dict):
        return {replace_unreadable_in(k): replace_unreadable_in(v) for k, v in value.items()}
    return value


__all__ = ["REPLACEMENT", "has_lone_surrogate", "has_unreadable", "replace_unreadable", "replace_unreadable_in"]
