"""The Label Studio round trip: tasks and a labelling config out, LABELS.md records back in.

**Out.** :func:`labelling_config` writes the labelling interface for a model's tasks: a
``multi_label`` task is a ``Choices`` group with ``choice="multiple"`` (topics: tick any, or none);
a ``single_label`` task a required single choice (sentiment); a ``binary`` task a required
``true``/``false`` choice (call_to_action). When the model has a binary ``call_to_action`` task,
``cta_type`` (LABELS.md v1.3 §4, multiple choice) follows it, shown only once ``true`` is chosen
(Label Studio's ``visibleWhen="choice-selected"`` with ``whenTagName``/``whenChoiceValue``).
:func:`label_studio_tasks` turns batch rows into Label Studio's import format, a JSON list of
``{"data": {"id", "text", "source", "provenance", ...}}``, optionally with the model's labels as
``predictions`` (pre-annotations).

**In.** :func:`read_export` reads Label Studio's JSON export (a list of tasks, each with
``annotations``, or ``completions`` in old versions) into LABELS.md records: ``id``, ``text``,
the tasks, ``source`` and ``provenance`` and the task data's other fields (``url``, ``docId``,
``genre`` ... of the dump), then ``annotator`` from the annotation's ``completed_by`` (its e-mail
when the export has it, else ``created_username``, else the user id).

- An unticked ``multi_label`` group is the empty list (no topic). An unanswered single or binary
  choice is ``null`` (not judged; the config makes them required).
- ``cta_type`` is ``[]`` when call_to_action is false (a choice left over from a ``true`` that was
  changed is dropped and counted); ``null`` when call_to_action is true but no type was ticked.
- A task whose annotations were all cancelled (skipped), one never annotated and an annotation
  with no result at all give no record; each is listed in the report, never dropped silently.
- Several completed annotations of one task: the latest (``updated_at``, else ``created_at``, else
  the last listed) gives the record, and the report counts such tasks; ``all_annotations`` gives
  one record per annotation instead (ids then repeat: that is the input of agreement tools).

Anything else that does not fit (not JSON, not a list of tasks, a task without text, a choice the
config does not offer, several choices in a single-choice group) raises
:class:`LabelStudioExportError` naming the task.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from khmer_civic.schema import ModelSchema

TEXT_NAME = "text"  # the Text tag's name, the to_name of every result
CTA_TASK = "call_to_action"
CTA_TYPE_TASK = "cta_type"
# LABELS.md v1.3 §4: what a call to action asks the reader to do.
CTA_TYPES: tuple[str, ...] = (
    "engage", "attend", "contact", "report", "use_service", "comply", "vote", "donate", "other",
)  # fmt: skip
_HEADERS = {
    "topics": "Topics: tick every one the text is about (none is fine)",
    "sentiment": "Sentiment toward the subject",
    CTA_TASK: "Call to action: does the text ask its readers or the public to do something?",
    CTA_TYPE_TASK: "What does it ask them to do? (tick every act asked)",
}


class LabelStudioExportError(ValueError):
    """A Label Studio export that cannot be read as this project's annotations."""


@dataclass(frozen=True)
class AnnotationTask:
    """A judgement annotators make: a model task, or cta_type (shown when ``shown_when`` is chosen)."""

    name: str
    type: str  # multi_label, single_label or binary
    labels: tuple[str, ...]
    shown_when: tuple[str, str] | None = None  # (choices name, value)

    @property
    def choice_values(self) -> tuple[str, ...]:
        return ("true", "false") if self.type == "binary" else self.labels


def annotation_tasks(schema: ModelSchema) -> tuple[AnnotationTask, ...]:
    """The model's tasks, plus cta_type after a binary call_to_action (its labels, or LABELS.md's)."""
    tasks = [AnnotationTask(t.name, t.type, tuple(t.labels)) for t in schema.tasks if t.name != CTA_TYPE_TASK]
    if any(t.name == CTA_TASK and t.type == "binary" for t in schema.tasks):
        names = schema.task_names
        labels = tuple(schema[CTA_TYPE_TASK].labels) if CTA_TYPE_TASK in names else CTA_TYPES
        tasks.append(AnnotationTask(CTA_TYPE_TASK, "multi_label", labels, (CTA_TASK, "true")))
    return tuple(tasks)


# ------------------------------------------------------------------------------ out


def _choices_xml(task: AnnotationTask) -> list[str]:
    kind = "multiple" if task.type == "multi_label" else "single-radio"
    attrs = f'name={quoteattr(task.name)} toName="{TEXT_NAME}" choice="{kind}" showInline="true"'
    if task.type != "multi_label":
        attrs += ' required="true"'
    condition = ""
    if task.shown_when is not None:
        tag, value = task.shown_when
        condition = f' visibleWhen="choice-selected" whenTagName={quoteattr(tag)} whenChoiceValue={quoteattr(value)}'
    header = quoteattr(_HEADERS.get(task.name, task.name))
    lines = [f"  <View{condition}>", f"    <Header value={header} size=\"5\"/>", f"    <Choices {attrs}{condition}>"]
    lines += [f"      <Choice value={quoteattr(value)}/>" for value in task.choice_values]
    return [*lines, "    </Choices>", "  </View>"]


def labelling_config(schema: ModelSchema) -> str:
    """The Label Studio labelling config (XML) for the tasks of :func:`annotation_tasks`."""
    lines = ["<View>", f'  <Text name="{TEXT_NAME}" value="$text"/>']
    for task in annotation_tasks(schema):
        lines += _choices_xml(task)
    return "\n".join([*lines, "</View>"]) + "\n"


def _as_choices(value: Any) -> list[str]:
    """A label value of a batch row as Label Studio choices."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def _prediction(labels: Mapping[str, Any], model_version: str, score: float | None) -> dict[str, Any]:
    """The model's labels as a Label Studio prediction (pre-annotation)."""
    result = [
        {"from_name": name, "to_name": TEXT_NAME, "type": "choices", "value": {"choices": _as_choices(value)}}
        for name, value in labels.items()
        if _as_choices(value)
    ]
    prediction: dict[str, Any] = {"model_version": model_version, "result": result}
    if score is not None:
        prediction["score"] = score
    return prediction


def label_studio_tasks(
    rows: Sequence[Mapping[str, Any]], *, model_version: str, suggestions: bool, default_source: str
) -> list[dict[str, Any]]:
    """Batch rows (:mod:`khmer_civic.annotation.batch`) as Label Studio tasks.

    ``data`` holds the row's id, text, ``source`` (the input's column, else ``default_source``
    and the row's id), ``provenance`` (the input's, else ``corpus``) and its other input columns
    that have a value, not why it was picked; with ``suggestions`` the row's ``suggested_*`` labels
    become a prediction.
    """
    tasks = []
    for row in rows:
        # why a text was picked stays out (Label Studio shows task data to annotators), and so do
        # missing values (a JSONL dump's web lines have no url: null, not a url, is "no url")
        data = {
            k: v
            for k, v in row.items()
            if not k.startswith(("suggested_", "uncertainty_", "selection")) and v is not None and v != ""
        }
        data["source"] = row.get("source") or f"{default_source}#{row['id']}"
        data["provenance"] = row.get("provenance") or "corpus"
        task: dict[str, Any] = {"data": data}
        if suggestions:
            labels = {k.removeprefix("suggested_"): v for k, v in row.items() if k.startswith("suggested_")}
            task["predictions"] = [_prediction(labels, model_version, row.get("selection_score"))]
        tasks.append(task)
    return tasks


def write_json(path: Path, value: Any) -> Path:
    """``value`` as UTF-8 JSON (Khmer kept readable), written to a temporary file moved into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(value, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    temp.replace(path)
    return path


# ------------------------------------------------------------------------------ in


@dataclass
class ImportReport:
    """The records read from an export and what gave none."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (task id, reason)
    several_annotations: int = 0  # tasks with more than one completed annotation
    task_of_id: dict[str, int] = field(default_factory=dict)  # record id -> task number
    cta_type_dropped: int = 0  # cta_type ticked, then call_to_action set to false
    cta_type_missing: int = 0  # call_to_action true without a type


def _load(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise LabelStudioExportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LabelStudioExportError(f"{path} is not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise LabelStudioExportError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, list):
        raise LabelStudioExportError(
            f"{path}: expected Label Studio's JSON export (a list of tasks), found a JSON {type(data).__name__}"
        )
    return data


def _annotator(annotation: Mapping[str, Any]) -> str | None:
    user = annotation.get("completed_by")
    if isinstance(user, Mapping):
        return str(user.get("email") or user.get("username") or user.get("id") or "") or None
    username = annotation.get("created_username")
    if isinstance(username, str) and username.strip():
        return username.split(",")[0].strip()
    return None if user is None else str(user)


def _latest(annotations: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    keyed = [(str(a.get("updated_at") or a.get("created_at") or ""), i) for i, a in enumerate(annotations)]
    return annotations[max(keyed)[1]]


def _choices(result: Any, tasks: Mapping[str, AnnotationTask], where: str) -> dict[str, list[str]]:
    """The chosen values per task of one annotation's result list."""
    if not isinstance(result, list):
        raise LabelStudioExportError(f"{where}: 'result' must be a list")
    chosen: dict[str, list[str]] = {}
    for item in result:
        if not isinstance(item, Mapping) or item.get("from_name") not in tasks:
            continue  # a region or a control of another config (a comment box) is not a judgement
        task = tasks[str(item["from_name"])]
        values = (item.get("value") or {}).get("choices") if isinstance(item.get("value"), Mapping) else None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise LabelStudioExportError(f"{where}: {task.name!r} has no list of choices")
        unknown = [v for v in values if v not in task.choice_values]
        if unknown:
            raise LabelStudioExportError(
                f"{where}: {task.name!r} has {unknown}, not among {list(task.choice_values)}: another labelling config?"
            )
        if task.type != "multi_label" and len(values) > 1:
            raise LabelStudioExportError(f"{where}: {task.name!r} takes one choice, found {values}")
        chosen.setdefault(task.name, []).extend(values)
    return chosen


def _value(task: AnnotationTask, values: list[str] | None) -> Any:
    if task.type == "multi_label":
        return sorted(set(values or []), key=task.labels.index)
    if not values:
        return None
    return values[0] == "true" if task.type == "binary" else values[0]


def _record(data: Mapping[str, Any], text_id: str, chosen: dict[str, list[str]], tasks: Sequence[AnnotationTask],
            report: ImportReport) -> dict[str, Any]:  # fmt: skip
    record: dict[str, Any] = {"id": text_id, "text": data["text"]}
    for task in tasks:
        record[task.name] = _value(task, chosen.get(task.name))
        if task.shown_when is not None:
            gate = record.get(task.shown_when[0])
            if gate is not None and str(gate).lower() != task.shown_when[1]:
                report.cta_type_dropped += bool(record[task.name])
                record[task.name] = []
            elif gate is None:
                record[task.name] = None
            elif not record[task.name]:
                report.cta_type_missing += 1
                record[task.name] = None
    record["source"] = data.get("source")
    record["provenance"] = data.get("provenance") or "corpus"
    others = {k: v for k, v in data.items() if k not in record and k != "annotator" and v is not None}
    record.update(others)  # url, docId, genre ... of the dump
    return record


def _task_records(item: Any, number: int, tasks: Sequence[AnnotationTask], report: ImportReport,
                  all_annotations: bool) -> None:  # fmt: skip
    """Add the records of one exported task to ``report`` (or the reason it gives none)."""
    where = f"task {number}" + (f" (Label Studio id {item.get('id')})" if isinstance(item, Mapping) else "")
    data = item.get("data") if isinstance(item, Mapping) else None
    if not isinstance(data, Mapping) or not isinstance(data.get("text"), str) or not data["text"].strip():
        raise LabelStudioExportError(f"{where}: no 'data' with a non-empty 'text'")
    text_id = str(data.get("id") if data.get("id") not in (None, "") else f"ls-{item.get('id', number)}")
    if text_id in report.task_of_id:
        raise LabelStudioExportError(f"{where}: id {text_id!r} is also the id of task {report.task_of_id[text_id]}")
    report.task_of_id[text_id] = number
    annotations = item.get("annotations", item.get("completions", []))
    if not isinstance(annotations, list) or not all(isinstance(a, Mapping) for a in annotations):
        raise LabelStudioExportError(f"{where}: 'annotations' must be a list of objects")
    done = [a for a in annotations if not a.get("was_cancelled")]
    if not done:
        report.skipped.append((text_id, "cancelled (skipped)" if annotations else "not annotated"))
        return
    report.several_annotations += len(done) > 1
    by_name = {task.name: task for task in tasks}
    for annotation in done if all_annotations else [_latest(done)]:
        chosen = _choices(annotation.get("result", []), by_name, f"{where}, annotation {annotation.get('id')}")
        if not chosen:
            report.skipped.append((text_id, "submitted without any choice"))
            continue
        record = _record(data, text_id, chosen, tasks, report)
        record["annotator"] = _annotator(annotation)
        report.records.append(record)


def read_export(path: Path, tasks: Sequence[AnnotationTask], *, all_annotations: bool = False) -> ImportReport:
    """LABELS.md records from a Label Studio JSON export (see the module docstring)."""
    report = ImportReport()
    for number, item in enumerate(_load(Path(path)), start=1):
        _task_records(item, number, tasks, report, all_annotations)
    return report
