"""Pieces shared by the annotation tools: the LABELS.md record format and its checks, JSON Lines
input and output, label signatures, the key used to find duplicate texts, the genre of a record,
the news-paragraph source format and ``cta_type`` overlay files.

Record-level checks that the training loader already makes (text present, a string, not empty
once normalised, with letters; well-typed ids and task values) come from
:mod:`khmer_civic.train.data`; this module adds what a finished annotation file must also
satisfy: every field of the record format present, only the labels LABELS.md defines, a
provenance of ``corpus`` or ``authored``, and ids unique across all files checked together.

``cta_type`` (LABELS.md v1.3 section 4) is checked here too: a list drawn from :data:`CTA_TYPES`
without repeats, ``[]`` when ``call_to_action`` is false, at least one label when it is true, and
null or absent when it was not judged (round-1 records before their cta_type pass). Round-1
``cta_type`` labels arrive as overlay files (:func:`is_overlay_file`: ``cta_type_*.jsonl`` next to
the annotation files, one ``{"id", "cta_type", "annotator", "note"?}`` per call-to-action text)
that adjudicate.py merges by id.

News paragraphs and web lines (annotation round 2) follow the formats of
training/data/README.md ("Record format for news and web texts"): a news record's ``source`` is
``news:<docId>:p<paragraph index>``, its id ``nw-<docId>-p<paragraph index>`` and it carries the
article's ``url``; a web line's source is ``oscar_web_lines`` and its id ``ow-<line>``.
:func:`genre_of` maps every record to one genre (textbook, wikipedia, news, web, authored posts,
authored comments, romanized/code-mixed), the one mapping all tools use.

The scripts next to this file import it by name (``python training/annotation/<tool>.py`` puts
this folder first on ``sys.path``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from khmer_civic.annotation.near_duplicates import match_key  # the duplicate-text key, re-exported
from khmer_civic.genres import (
    AUTHORED_COMMENT_KINDS,
    GENRES,
    NEWS_WEB_GENRES,
    ROMANIZED_MARKS,
    SOURCE_GENRES,
    genre_of,
)
from khmer_civic.model.inputs import is_labelable, read_text
from khmer_civic.schema import LabelStatus, default_schema
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

# cta_type (LABELS.md v1.3 section 4): what a call to action asks the reader to do. Not a task of
# the model's default schema (yet); annotation files may leave it null or absent (not judged).
CTA_TYPE = "cta_type"
CTA_TYPES: tuple[str, ...] = (
    "engage", "attend", "contact", "report", "use_service", "comply", "vote", "donate", "other",
)
# Every judgement an annotation record can carry: the schema's tasks and cta_type.
ANNOTATION_TASKS: tuple[str, ...] = TASK_FIELDS if CTA_TYPE in TASK_FIELDS else (*TASK_FIELDS, CTA_TYPE)
# Optional marker on a call-to-action text that relays an official's appeal to the public (a news
# paragraph "the ministry calls on citizens to ..."); counted by counts.py.
RELAYED_APPEAL = "relayed_appeal"

# Overlay files: one extra judgement for records that live in other annotation files.
OVERLAY_PREFIX = "cta_type_"
OVERLAY_FIELDS: frozenset[str] = frozenset({"id", CTA_TYPE, "annotator", "note"})

# ---- genres: one mapping from source/provenance to the genre every report is broken down by
# (defined in khmer_civic.genres, re-exported here for the annotation tools)
# ---- news paragraphs and web lines (training/data/README.md, "Record format for news and web texts")
NEWS_SOURCE = re.compile(r"news:(?P<doc>[A-Za-z0-9_.\-]+):p(?P<par>0|[1-9][0-9]*)")
WEB_SOURCE = "oscar_web_lines"
WEB_ID = re.compile(r"ow-(?P<line>[1-9][0-9]*)")

__all__ = [
    "ANNOTATION_TASKS",
    "CTA_TYPE",
    "CTA_TYPES",
    "DataValidationError",
    "GENRES",
    "LABEL_FIELDS",
    "LocatedRecord",
    "NEWS_WEB_GENRES",
    "NO_LETTERS",
    "Validation",
    "PROVENANCES",
    "Problem",
    "RECORD_FIELDS",
    "RELAYED_APPEAL",
    "SENTIMENTS",
    "TASK_FIELDS",
    "TOPICS",
    "apply_overlays",
    "canonical_cta_type",
    "check_cta_type",
    "cta_types_compared",
    "doc_id_of",
    "genre_of",
    "is_labelable",
    "is_overlay_file",
    "label_signature",
    "labels_of",
    "load_overlays",
    "load_records",
    "match_key",
    "markdown_table",
    "news_source",
    "read_jsonl",
    "split_overlay_paths",
    "task_values_differ",
    "validate_files",
    "with_field_after",
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


def _label_list_messages(name: str, labels: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """Messages for labels of a multi-label field outside ``allowed`` or listed twice."""
    messages: list[str] = []
    unknown = sorted({v for v in labels if v not in allowed})
    if unknown:
        messages.append(f"{name}: unknown label(s) {unknown}; allowed {list(allowed)}")
    repeated = sorted(v for v, n in Counter(labels).items() if n > 1)
    if repeated:
        messages.append(f"{name}: label(s) listed twice {repeated}")
    return messages


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """The lines of a Markdown table (every column left-aligned); cells as ``str`` gives them."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _check_task_values(data: Mapping[str, Any], report_types: bool) -> list[str]:
    """Messages for task values outside LABELS.md. Type errors only when ``report_types``
    (otherwise the training loader has already reported them); cta_type is always checked
    (the training loader does not know it)."""
    messages: list[str] = []
    for name in TASK_FIELDS:
        if name not in data and name != CTA_TYPE:  # cta_type may be absent: not judged yet
            messages.append(f"missing field {name!r} (write null when the judgement was not made)")
    topics = data.get("topics")
    if topics is not None:
        if isinstance(topics, list) and all(isinstance(t, str) for t in topics):
            messages.extend(_label_list_messages("topics", topics, TOPICS))
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
    messages.extend(check_cta_type(data.get(CTA_TYPE), cta if isinstance(cta, bool) else None))
    relayed = data.get(RELAYED_APPEAL)
    if relayed is not None:
        if not isinstance(relayed, bool):
            messages.append(f"{RELAYED_APPEAL}: expected true, false or null, found {relayed!r}")
        elif relayed and cta is not True:
            messages.append(f"{RELAYED_APPEAL}: true only on a text whose call_to_action is true")
    return messages


def check_cta_type(value: Any, call_to_action: bool | None, *, overlay: bool = False) -> list[str]:
    """Messages for a ``cta_type`` value given the text's ``call_to_action`` (LABELS.md v1.3 §4).

    ``None`` (not judged) is always accepted in an annotation record. Otherwise: a list of labels
    from :data:`CTA_TYPES` without repeats; ``[]`` when call_to_action is false; at least one
    label when it is true; nothing but null when call_to_action was not judged. An ``overlay``
    value (a cta_type overlay file, written only for call-to-action texts) must hold at least
    one label; its call_to_action lives in another file and is checked when overlays are merged.
    """
    if value is None:
        return ["cta_type: an overlay line gives at least one label (null says nothing)"] if overlay else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [f"cta_type: expected a list of labels or null, found {value!r}"]
    messages = _label_list_messages(CTA_TYPE, value, CTA_TYPES)
    if overlay:
        if not value:
            messages.append("cta_type: an overlay line gives at least one label")
    elif call_to_action is True and not value:
        messages.append("cta_type: [] but call_to_action is true (give at least one label, or null if not judged)")
    elif call_to_action is False and value:
        messages.append(f"cta_type: {value} but call_to_action is false (cta_type is [] there)")
    elif call_to_action is None and value:
        messages.append(f"cta_type: {value} but call_to_action was not judged (null)")
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
    if isinstance(source, str):
        messages.extend(_check_news_web(data, source))
    return messages  # 'text' is checked by the training loader


def news_source(record: Mapping[str, Any]) -> tuple[str, int] | None:
    """``(docId, paragraph index)`` of a news record (source ``news:<docId>:p<index>``), else None."""
    match = NEWS_SOURCE.fullmatch(str(record.get("source") or ""))
    return (match["doc"], int(match["par"])) if match else None


def doc_id_of(record: Mapping[str, Any]) -> str | None:
    """The article a record was cut from (``news:<docId>``), or None for a self-contained text.

    Records with the same value are paragraphs of one article and must share a split.
    """
    parsed = news_source(record)
    return None if parsed is None else f"news:{parsed[0]}"


def _check_news_web(data: Mapping[str, Any], source: str) -> list[str]:
    """The round-2 formats: news paragraphs (source, id, url, optional docId/paragraph) and web lines."""
    messages: list[str] = []
    family = source.split(":", 1)[0]
    if family == "news" or source.startswith("news_"):
        parsed = news_source(data)
        if parsed is None:
            return [f"'source' {source!r}: a news paragraph's source is news:<docId>:p<paragraph index>"]
        doc, par = parsed
        if data.get("id") != f"nw-{doc}-p{par}":
            messages.append(f"'id' of a news paragraph is nw-<docId>-p<index>: expected 'nw-{doc}-p{par}'")
        url = data.get("url")
        if not isinstance(url, str) or not re.fullmatch(r"https?://\S+", url):
            messages.append(f"'url': a news paragraph keeps its article's http(s) URL, found {url!r}")
        if "docId" in data and str(data["docId"]) != doc:
            messages.append(f"'docId' {data['docId']!r} differs from the source's {doc!r}")
        if "paragraph" in data and str(data["paragraph"]) != str(par):  # a CSV round trip gives "3"
            messages.append(f"'paragraph' {data['paragraph']!r} differs from the source's {par}")
        if data.get("provenance") not in (None, "corpus"):
            messages.append("a news paragraph's provenance is 'corpus'")
    elif family == WEB_SOURCE:
        if source != WEB_SOURCE:
            messages.append(f"'source' of a web line is {WEB_SOURCE!r} (the line number is in the id)")
        if not WEB_ID.fullmatch(str(data.get("id"))):
            messages.append(f"'id' of a web line is ow-<line number>, found {data.get('id')!r}")
        if data.get("provenance") not in (None, "corpus"):
            messages.append("a web line's provenance is 'corpus'")
    if "url" in data and not (isinstance(data["url"], str) and re.fullmatch(r"https?://\S+", data["url"])):
        if family != "news":
            messages.append(f"'url' must be an http(s) URL, found {data['url']!r}")
    return messages


NO_LETTERS = "text has no Khmer or Latin letter (emoji, digits or punctuation only)"


@dataclass(frozen=True)
class Validation:
    """What :func:`validate_files` found: the records read, problems (errors) and warnings.

    ``records`` are the annotation (or labels-only) records; ``overlays`` the lines of the
    cta_type overlay files among the paths (:func:`is_overlay_file`), kept apart.
    """

    records: list[LocatedRecord]
    problems: list[Problem]
    warnings: list[Problem]
    overlays: list[LocatedRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sorted_unique(problems: Iterable[Problem]) -> list[Problem]:
    unique: dict[tuple[str, int | None, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.file, p.line, p.message), p)
    return sorted(unique.values(), key=lambda p: (p.file, p.line or 0, p.message))


def is_overlay_file(path: str | Path) -> bool:
    """True for a cta_type overlay file (``cta_type_*.jsonl``): ``{"id", "cta_type", "annotator",
    "note"?}`` lines that add cta_type to records of other files."""
    return Path(path).name.startswith(OVERLAY_PREFIX)


def split_overlay_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """``(record files, overlay files)`` of ``paths``, each in the given order."""
    records: list[Path] = []
    overlays: list[Path] = []
    for path in paths:
        (overlays if is_overlay_file(path) else records).append(Path(path))
    return records, overlays


def _check_overlay_line(data: Mapping[str, Any]) -> list[str]:
    messages: list[str] = []
    id_problem = _check_id(data)
    if id_problem:
        messages.append(id_problem)
    unknown = sorted(set(data) - OVERLAY_FIELDS)
    if unknown:
        messages.append(f"unknown field(s) {unknown} in a cta_type overlay line (allowed {sorted(OVERLAY_FIELDS)})")
    if CTA_TYPE not in data:
        messages.append("missing field 'cta_type'")
    else:
        messages.extend(check_cta_type(data[CTA_TYPE], None, overlay=True))
    annotator = data.get("annotator")
    if not isinstance(annotator, str) or not annotator.strip():
        messages.append(f"'annotator' must be a non-empty string (the annotator's code), found {annotator!r}")
    if "note" in data and data["note"] is not None and not isinstance(data["note"], str):
        messages.append(f"'note' must be a string, found {data['note']!r}")
    return messages


def validate_files(paths: Sequence[str | Path], *, labels_only: bool = False) -> Validation:
    """Check annotation files against the LABELS.md record format.

    Full records (the default) need ``id``, ``text``, ``topics``, ``sentiment``,
    ``call_to_action``, ``source`` and ``provenance``; ``labels_only=True`` checks files of a
    second pass, which hold the id and the judgements only. Task values may be null; ``cta_type``
    may also be absent (not judged) and is checked against ``call_to_action``
    (:func:`check_cta_type`). News paragraphs and web lines must follow their source, id and url
    format. Ids must be unique across all ``paths``.

    cta_type overlay files among ``paths`` (:func:`is_overlay_file`) are checked as such (id,
    a non-empty cta_type, annotator, optional note; an id at most once across overlays) and come
    back in :attr:`Validation.overlays`; when record files are given too, every overlay id must
    name one of their records.

    A text without any letter (an emoji-only reply, say) is a realistic comment but one the
    classifier never labels and the training loader refuses: it is a warning here, and
    :func:`is_labelable` (khmer_civic.model.inputs, the classifier's own rule) lets the merge step
    leave such records out. Records come back even
    when they have problems; problems and warnings are sorted by file and line.
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    records: list[LocatedRecord] = []
    overlays: list[LocatedRecord] = []
    record_paths, overlay_paths = split_overlay_paths(paths)
    for path in paths:
        if Path(path).suffix.lower() not in (".jsonl", ".ndjson"):
            problems.append(Problem(str(path), None, "annotation files are JSON Lines (.jsonl)"))
            continue
        raws, file_problems = read_raw_records(path)
        problems.extend(file_problems)
        located = [LocatedRecord(dict(raw.data), raw.file, raw.line) for raw in raws]
        if is_overlay_file(path):
            overlays.extend(located)
            continue
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

    overlay_seen: dict[str, LocatedRecord] = {}
    for item in overlays:
        messages = _check_overlay_line(item.record)
        if isinstance(item.record.get("id"), str):
            prior = overlay_seen.setdefault(item.id, item)
            if prior is not item:
                messages.append(f"duplicate cta_type overlay for {item.id!r} (first at {prior.file}:{prior.line})")
            elif record_paths and item.id not in first_seen:
                messages.append(f"overlay for {item.id!r}, which no annotation file given holds")
        problems.extend(Problem(item.file, item.line, m) for m in messages)
    return Validation(records, _sorted_unique(problems), _sorted_unique(warnings), overlays)


def load_records(paths: Sequence[str | Path], *, labels_only: bool = False) -> list[LocatedRecord]:
    """:func:`validate_files`, raising :class:`DataValidationError` if there is any problem
    (warnings are not problems). cta_type overlay files among ``paths`` are validated but their
    lines are not records: see :func:`load_overlays`."""
    result = validate_files(paths, labels_only=labels_only)
    if result.problems:
        raise DataValidationError(result.problems)
    return result.records


def load_overlays(paths: Sequence[str | Path]) -> dict[str, LocatedRecord]:
    """The lines of the cta_type overlay files among ``paths`` by id, validated (raises
    :class:`DataValidationError`); other files in ``paths`` are ignored."""
    _, overlay_paths = split_overlay_paths(paths)
    result = validate_files(overlay_paths)
    if result.problems:
        raise DataValidationError(result.problems)
    return {item.id: item for item in result.overlays}


def with_field_after(record: Mapping[str, Any], key: str, value: Any, after: str = "call_to_action") -> dict[str, Any]:
    """A copy of ``record`` with ``key`` set to ``value`` right after ``after`` (moved there if the
    record has it elsewhere; at the end when ``after`` is missing). Other keys keep their order."""
    if after not in record:
        return {**record, key: value}
    out: dict[str, Any] = {}
    for k, v in record.items():
        if k == key:
            continue
        out[k] = v
        if k == after:
            out[key] = value
    return out


def apply_overlays(
    records: Sequence[Mapping[str, Any]], overlays: Mapping[str, Mapping[str, Any]], *, cta_true_only: bool = False
) -> list[dict[str, Any]]:
    """Records with the overlays' cta_type set (placed after call_to_action), matched by id.

    A record that already carries a different non-null cta_type is an error (``ValueError``);
    ``cta_true_only`` leaves records whose call_to_action is not true untouched (agreement on
    first-pass labels). Overlay ids matching no record are the caller's business.
    """
    out: list[dict[str, Any]] = []
    for record in records:
        overlay = overlays.get(str(record.get("id")))
        if overlay is None or (cta_true_only and record.get("call_to_action") is not True):
            out.append(dict(record))
            continue
        value = canonical_cta_type(overlay[CTA_TYPE])
        current = record.get(CTA_TYPE)
        if current is not None and canonical_cta_type(current) != value:
            raise ValueError(f"{record.get('id')}: cta_type {current} in the record and {value} in an overlay")
        out.append(with_field_after(record, CTA_TYPE, value))
    return out


def canonical_cta_type(value: Any) -> list[str] | None:
    """A cta_type value sorted, repeats dropped, as topics are (None stays None)."""
    return None if value is None else sorted(set(value))


def labels_of(record: Mapping[str, Any], *, with_cta_type: bool = False) -> dict[str, Any]:
    """The three judgements of a record; topics as a sorted list (``None`` stays ``None``).

    ``with_cta_type`` adds ``cta_type`` (sorted; ``None`` when absent or null)."""
    topics = record.get("topics")
    out = {
        "topics": None if topics is None else sorted(set(topics)),
        "sentiment": record.get("sentiment"),
        "call_to_action": record.get("call_to_action"),
    }
    if with_cta_type:
        out[CTA_TYPE] = canonical_cta_type(record.get(CTA_TYPE))
    return out


def cta_types_compared(first: Mapping[str, Any], second: Mapping[str, Any]) -> tuple[set[str], set[str]] | None:
    """Both passes' cta_type sets when both judged it on a text both marked call_to_action true
    (the only texts where cta_type agreement is measured), else None."""
    if first.get("call_to_action") is not True or second.get("call_to_action") is not True:
        return None
    a, b = first.get(CTA_TYPE), second.get(CTA_TYPE)
    if a is None or b is None:
        return None
    return set(a), set(b)


def task_values_differ(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    """Tasks on which two label sets disagree; a task left null on either side is not compared.

    cta_type is compared only where both passes marked call_to_action true and both judged it
    (:func:`cta_types_compared`); otherwise the call_to_action disagreement is the one to settle.
    """
    a, b = labels_of(first), labels_of(second)
    differs = [task for task in TASK_FIELDS if task != CTA_TYPE and a[task] is not None and b[task] is not None
               and a[task] != b[task]]
    sets = cta_types_compared(first, second)
    if sets is not None and sets[0] != sets[1]:
        differs.append(CTA_TYPE)
    return differs


def label_signature(record: Mapping[str, Any]) -> str:
    """Provenance, topic set, sentiment and call to action in one string (for stratifying)."""
    labels = labels_of(record)
    topics = labels["topics"]
    topic_part = "?" if topics is None else ("+".join(topics) or "none")
    cta = labels["call_to_action"]
    cta_part = "?" if cta is None else ("cta" if cta else "no-cta")
    return "|".join((str(record.get("provenance")), topic_part, str(labels["sentiment"] or "?"), cta_part))

