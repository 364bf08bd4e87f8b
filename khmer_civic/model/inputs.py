"""What the model takes: which values can be labelled, and how many windows go to one call.

The one rule for "can this value be labelled" (:func:`prepare_input`) lives here, and every
caller uses it: the classifier, the ``label`` and ``tokenize`` table commands, the training
loader (khmer_civic.train.data) and the annotation tools. This module is light (no
onnxruntime, no numpy), so the training side and the command line may import it freely.
"""

from __future__ import annotations

import math
import numbers
import unicodedata

from khmer_civic.schema import LabelStatus
from khmer_civic.text import has_letters, has_lone_surrogate, normalize

# Windows per onnxruntime call for models whose batching is "padded" (see khmer_civic.model.runtime).
DEFAULT_BATCH_SIZE = 32

# Characters that show nothing: a text made only of these (after normalisation) counts as empty.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def check_batch_size(batch_size: object) -> int:
    """``batch_size`` when it is a positive int (not a bool); ``ValueError`` otherwise."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return batch_size


def is_missing(value: object) -> bool:
    """None, a NaN number, or pandas' NA / NaT (recognised without importing pandas)."""
    if value is None:
        return True
    kind = type(value)
    if kind.__module__.startswith("pandas") and kind.__name__ in {"NAType", "NaTType"}:
        return True
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        try:
            return math.isnan(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
    return False


def _is_blank(text: str) -> bool:
    return all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in text)


def read_text(value: object) -> tuple[LabelStatus, str]:
    """The status of one input value and its normalised text.

    Like :func:`prepare_input`, except that a ``NO_LETTERS`` text keeps its normalised text
    (the ``tokenize`` command segments such texts: digits and emoji are tokens too).
    """
    if is_missing(value):
        return LabelStatus.EMPTY, ""
    if not isinstance(value, str):
        return LabelStatus.NOT_TEXT, ""
    if has_lone_surrogate(value):
        return LabelStatus.UNDECODABLE, ""
    text = normalize(str(value))  # str(): a str subclass (numpy.str_) becomes a plain str
    if _is_blank(text):
        return LabelStatus.EMPTY, ""
    if not has_letters(text):
        return LabelStatus.NO_LETTERS, text
    return LabelStatus.OK, text


def prepare_input(value: object) -> tuple[LabelStatus, str]:
    """Classify one input value and normalise it when it is labellable text.

    Returns ``(status, normalised_text)``; the text is ``""`` unless the status is ``OK``.

    - ``None``, NaN, pandas NA/NaT, ``""`` and strings of only whitespace or invisible
      characters: ``EMPTY``.
    - Anything that is not a ``str`` (numbers, bools, bytes, lists ...): ``NOT_TEXT``; bytes are
      not decoded, since their encoding is unknown.
    - A string holding a lone surrogate (U+D800–U+DFFF, e.g. from the JSON escape ``"\\ud83d"``
      of half an emoji), which no tokenizer can encode: ``UNDECODABLE``.
    - A string without any Khmer or Latin letter (emoji, digits, punctuation): ``NO_LETTERS``.
    """
    status, text = read_text(value)
    return (status, text) if status is LabelStatus.OK else (status, "")


def is_labelable(value: object) -> bool:
    """Whether the classifier labels ``value`` (:func:`prepare_input` says ``OK``)."""
    return read_text(value)[0] is LabelStatus.OK


__all__ = ["DEFAULT_BATCH_SIZE", "check_batch_size", "is_labelable", "is_missing", "prepare_input", "read_text"]
