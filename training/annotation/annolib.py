"""Pieces shared by the annotation tools: the LABELS.md record format and its checks, JSON Lines
input and output, label signatures and the key used to find duplicate texts.

Record-level checks that the training loader already makes (text present, a string, not empty
once normalised, with letters; well-typed ids and task values) come from
:mod:`khmer_civic.train.data`; this module adds what a finished annotation file must also
satisfy: every field of the record format present, only the labels LABELS.md defines, a
provenance of ``corpus`` or ``authored``, and ids unique across all files checked together.

The scripts next to this file import it by name (``python training/annotation/<tool>.py`` puts
this folder first on ``sys.path``).
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from khmer_civic.model.inputs import is_labelable, read_text
from khmer_civic.schema import LabelStatus, default_schema
from khmer_civic.text import normalize
from khmer_civic.train.data import DataValidationError, Problem, read_examples, read_raw_records

# The tasks and labels of LABELS.md: the default schema's, one definition (khmer_civic.schema).
_SCHEMA = default_schema()
TOPICS: tuple[str, ...] = _SCHEMA["topics"].labels
SENTIMENTS: tuple[str, ...] = tuple(reversed(_SCHEMA["sentiment"].labels))  # positive, neutral, negative
PROVENANCES: tuple[str, ...] = ("corpus", "authored")
TASK_FIELDS: tuple[str, ...] = tuple(_SCHEMA.task_names)
RECORD_FIELDS: tuple[str, ...] = ("id", "text", *TASK_FIELDS, "source", "provenance")
# A labels-only record (a second annotation pass) carries the id and the judgements.
LABEL_FIELDS: tuple[str, ...] = ("id", *TASK_FIELDS)

__all__ = [
    "DataValidationError",
    "LABEL_FIELDS",
    "LocatedRecord",
    "NO_LETTERS",
    "Validation",
    "PROVENANCES",
    "Problem",
    "RECORD_FIELDS",
    "SENTIMENTS",
    "TASK_FIELDS",
    "TOPICS",
    "is_labelable",
    "label_signature",
    "labels_of",
    "load_records",
    "match_key",
    "read_jsonl",
    "task_values_differ",
    "validate_files",
    "write_jsonl",
]


@dataclass(frozen=True)
class LocatedRecord:
    """A JSON object read from a JSON Lines file, with the file and 1-based line it came from."""

    record: dict[str, Any]
    file: str
    line: int

    @property
    def id(self) -> str:
        return str(self.record.get("id"))


def read_jsonl(path: str | Path) -> list[LocatedRecord]:
    """Every JSON object of a JSON Lines file with its line number (blank lines skipped).

    Raises :class:`DataValidationError` if the file is missing, not UTF-8 or holds a line that is
    not a JSON object; use :func:`validate_files` to collect every problem instead.
    """
    raws, problems = read_raw_records(path)
    if problems:
        raise DataValidationError(problems)
    return [LocatedRecord(dict(raw.data), raw.file, raw.line) for raw in raws]


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write records as UTF-8 JSON Lines (Khmer kept readable); return how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


def _check_task_values(data: Mapping[str, Any], report_types: bool) -> list[str]:
    """Messages for task values outside LABELS.md. Type errors only when ``report_types``
    (otherwise the training loader has already reported them)."""
    messages: list[str] = []
    for name in TASK_FIELDS:
        if name not in data:
            messages.append(f"missing field {name!r} (write null when the judgement was not made)")
    topics = data.get("topics")
    if topics is not None:
        if isinstance(topics, list) and all(isinstance(t, str) for t in topics):
            unknown = sorted({t for t in topics if t not in TOPICS})
            if unknown:
                messages.append(f"topics: unknown label(s) {unknown}; allowed {list(TOPICS)}")
            repeated = sorted(t for t, n in Counter(topics).items() if n > 1)
            if repeated:
                messages.append(f"topics: label(s) listed twice {repeated}")
        elif report_types:
            messages.append(f"topics: expected a list of labels or null, found {topics!r}")
    sentiment = data.get("sentiment")
    if sentiment is not None:
        if isinstance(sentiment, str):
            if sentiment not in SENTIMENTS:
                messages.append(f"sentiment: {sentiment!r} is not one of {list(SENTIMENTS)}")
        elif report_types:
            messages.append(f"sentiment: expected a label or null, found {sentiment!r}")
    cta = data.get("call_to_action")
    if cta is not None and not isinstance(cta, bool) and report_types:
        messages.append(f"call_to_action: expected true, false or null, found {cta!r}")
    return messages


def _check_id(data: Mapping[str, Any]) -> str | None:
    raw_id = data.get("id")
    if raw_id is None:
        return "missing field 'id'"
    if not isinstance(raw_id, str):
        return f"'id' must be a string, found {raw_id!r}"
    if not raw_id.strip():
        return "'id' is empty"
    if raw_id != raw_id.strip():
        return f"'id' {raw_id!r} has leading or trailing whitespace"
    return None


def _check_metadata(data: Mapping[str, Any]) -> list[str]:
    messages: list[str] = []
    source = data.get("source")
    if "source" not in data:
        messages.append("missing field 'source'")
    elif not isinstance(source, str) or not source.strip():
        messages.append(f"'source' must be a non-empty string, found {source!r}")
    provenance = data.get("provenance")
    if "provenance" not in data:
        messages.append("missing field 'provenance'")
    elif provenance not in PROVENANCES:
        messages.append(f"'provenance' must be one of {list(PROVENANCES)}, found {provenance!r}")
    return messages  # 'text' is checked by the training loader


NO_LETTERS = "text has no Khmer or Latin letter (emoji, digits or punctuation only)"


@dataclass(frozen=True)
class Validation:
    """What :func:`validate_files` found: the records read, problems (errors) and warnings."""

    records: list[LocatedRecord]
    problems: list[Problem]
    warnings: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _sorted_unique(problems: Iterable[Problem]) -> list[Problem]:
    unique: dict[tuple[str, int | None, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.file, p.line, p.message), p)
    return sorted(unique.values(), key=lambda p: (p.file, p.line or 0, p.message))


def validate_files(paths: Sequence[str | Path], *, labels_only: bool = False) -> Validation:
    """Check annotation files against the LABELS.md record format.

    Full records (the default) need ``id``, ``text``, ``topics``, ``sentiment``,
    ``call_to_action``, ``source`` and ``provenance``; ``labels_only=True`` checks files of a
    second pass, which hold the id and the three judgements only. Task values may be null.
    Ids must be unique across all ``paths``.

    A text without any letter (an emoji-only reply, say) is a realistic comment but one the
    classifier never labels and the training loader refuses: it is a warning here, and
    :func:`is_labelable` (khmer_civic.model.inputs, the classifier's own rule) lets the merge step
    leave such records out. Records come back even
    when they have problems; problems and warnings are sorted by file and line.
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    records: list[LocatedRecord] = []
    for path in paths:
        if Path(path).suffix.lower() not in (".jsonl", ".ndjson"):
            problems.append(Problem(str(path), None, "annotation files are JSON Lines (.jsonl)"))
            continue
        raws, file_problems = read_raw_records(path)
        problems.extend(file_problems)
        located = [LocatedRecord(dict(raw.data), raw.file, raw.line) for raw in raws]
        records.extend(located)
        if labels_only or not raws:
            continue
        unlabelable = set()
        for item in located:
            if read_text(item.record.get("text"))[0] is LabelStatus.NO_LETTERS:
                unlabelable.add(item.line)
                warnings.append(Problem(item.file, item.line, NO_LETTERS))
        # Text, id and value types, exactly as the training loader will see them.
        try:
            read_examples([path])
        except DataValidationError as exc:
            problems.extend(
                p for p in exc.problems if p.line is not None and not (p.line in unlabelable and "letter" in p.message)
            )

    first_seen: dict[str, LocatedRecord] = {}
    for item in records:
        data = item.record
        messages: list[str] = []
        id_problem = _check_id(data)
        if id_problem:
            # Stricter than the training loader, which accepts a missing or integer id.
            messages.append(id_problem)
        messages.extend(_check_task_values(data, report_types=labels_only))
        if not labels_only:
            messages.extend(_check_metadata(data))
        problems.extend(Problem(item.file, item.line, m) for m in messages)
        if id_problem is None:
            prior = first_seen.get(data["id"])
            if prior is not None:
                problems.append(
                    Problem(item.file, item.line, f"duplicate id {data['id']!r} (first at {prior.file}:{prior.line})")
                )
            else:
                first_seen[data["id"]] = item
    return Validation(records, _sorted_unique(problems), _sorted_unique(warnings))


def load_records(paths: Sequence[str | Path], *, labels_only: bool = False) -> list[LocatedRecord]:
    """:func:`validate_files`, raising :class:`DataValidationError` if there is any problem
    (warnings are not problems)."""
    result = validate_files(paths, labels_only=labels_only)
    if result.problems:
        raise DataValidationError(result.problems)
    return result.records


def labels_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The three judgements of a record; topics as a sorted list (``None`` stays ``None``)."""
    topics = record.get("topics")
    return {
        "topics": None if topics is None else sorted(set(topics)),
        "sentiment": record.get("sentiment"),
        "call_to_action": record.get("call_to_action"),
    }


def task_values_differ(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    """Tasks on which two label sets disagree; a task left null on either side is not compared."""
    a, b = labels_of(first), labels_of(second)
    return [task for task in TASK_FIELDS if a[task] is not None and b[task] is not None and a[task] != b[task]]


def label_signature(record: Mapping[str, Any]) -> str:
    """Provenance, topic set, sentiment and call to action in one string (for stratifying)."""
    labels = labels_of(record)
    topics = labels["topics"]
    topic_part = "?" if topics is None else ("+".join(topics) or "none")
    cta = labels["call_to_action"]
    cta_part = "?" if cta is None else ("cta" if cta else "no-cta")
    return "|".join((str(record.get("provenance")), topic_part, str(labels["sentiment"] or "?"), cta_part))


def match_key(text: str) -> str:
    """The normalised text reduced to letters, marks and digits, lower-cased.

    Two texts that differ only in spacing, punctuation, emoji, invisible characters or the typed
    order of Khmer marks get the same key.
    """
    return "".join(ch for ch in normalize(text).lower() if unicodedata.category(ch)[0] in "LMN")
