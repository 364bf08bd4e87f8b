"""Annotation files in, validated examples and a task schema out.

Files follow the record format of LABELS.md, as JSON Lines or CSV::

    {"id": "c-1", "text": "...", "topics": ["health"], "sentiment": "negative",
     "call_to_action": false, "provenance": "corpus"}

A task's field may be ``null`` or absent: the judgement was not made and the record is skipped
for that task only (see :func:`task_targets` for the masks). In CSV files a task cell is read as

- ``multi_label``: ``a;b`` or a JSON list (``["a", "b"]``); ``[]`` is the empty list (annotated,
  no label); an empty cell or ``null`` is not annotated;
- ``single_label``: the label; empty or ``null`` is not annotated;
- ``binary``: ``true``/``false`` (also ``1``/``0``, ``yes``/``no``); empty or ``null`` is not
  annotated.

Which tasks exist comes from the training configuration (:class:`TaskConfig`), and which labels
each task has comes from the configuration when it fixes them and from the training data
otherwise. So adding a topic, or a whole task, is a matter of annotating it and (optionally)
listing it in the config; no code changes.

Files are parsed line by line (so that every problem can be reported with its file and line),
checked as a whole by :func:`load_annotations`, and handed to the trainer as
:class:`datasets.Dataset` objects by :func:`to_hf_dataset`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from khmer_civic.model.inputs import prepare_input
from khmer_civic.schema import (
    TASK_TYPES,
    Given,
    LabelStatus,
    ModelConfigError,
    ModelSchema,
    TaskSpec,
    TaskType,
    bool_from_text,
    default_schema,
    labels_from_text,
)

if TYPE_CHECKING:
    import datasets

SPLIT_NAMES: tuple[str, ...] = ("train", "dev", "test")
RESERVED_FIELDS: frozenset[str] = frozenset({"id", "text"})
BINARY_LABELS: tuple[str, str] = ("false", "true")
MAX_PROBLEMS_SHOWN = 60

_TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Cells that mean "not annotated" (case and surrounding spaces ignored), as CSV task cells.
NULL_CELLS = frozenset({"", "null", "none", "na", "n/a"})


@dataclass(frozen=True)
class TaskConfig:
    """A task to train: its record field (``name``), its type and, optionally, fixed labels.

    With ``labels=None`` the labels are those observed in the training split (sorted); with
    fixed labels any other value in the data is a validation error. Binary tasks always have
    the labels ``("false", "true")``. ``given`` (multi_label only) makes the task dependent, as
    in config.json (:mod:`khmer_civic.schema`): ``{"task": "call_to_action", "label": "true"}``
    trains and evaluates it only on records whose gold call_to_action is true.
    """

    name: str
    type: TaskType
    labels: tuple[str, ...] | None = None
    given: Given | None = None

    def __post_init__(self) -> None:
        if not _TASK_NAME.match(self.name):
            raise ValueError(f"task name {self.name!r} must be a Python-style identifier (letters, digits, _)")
        if self.name in RESERVED_FIELDS:
            raise ValueError(f"task name {self.name!r} is a reserved record field")
        if self.type not in TASK_TYPES:
            raise ValueError(f"task {self.name!r}: type {self.type!r} is not one of {TASK_TYPES}")
        if self.labels is not None:
            labels = tuple(str(x) for x in self.labels)
            if not labels or len(set(labels)) != len(labels):
                raise ValueError(f"task {self.name!r}: fixed labels must be a non-empty list without repeats")
            if self.type == "binary" and labels != BINARY_LABELS:
                raise ValueError(f"task {self.name!r}: a binary task's labels are {list(BINARY_LABELS)}")
            object.__setattr__(self, "labels", labels)
        if self.given is not None and self.type != "multi_label":
            raise ValueError(f"task {self.name!r}: only a multi_label task can have 'given'")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.labels is not None:
            out["labels"] = list(self.labels)
        if self.given is not None:
            out["given"] = self.given.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskConfig:
        """Build from ``{"name": ..., "type": ..., "labels": [...], "given": {...}}`` (the last two optional)."""
        unknown = set(data) - {"name", "type", "labels", "given"}
        if unknown:
            raise ValueError(f"task entry {dict(data)!r}: unknown key(s) {sorted(unknown)}")
        labels = data.get("labels")
        given = data.get("given")
        return cls(
            name=str(data["name"]),
            type=data["type"],
            labels=None if labels is None else tuple(str(x) for x in labels),
            given=None if given is None else Given.from_dict(given),
        )


def gold_holds(record: Any, given: Given | None) -> bool:
    """Whether a record's gold value of ``given.task`` holds ``given.label`` (always, without ``given``)."""
    if given is None:
        return True
    value = record.get(given.task)
    if value is None:
        return False
    if isinstance(value, bool):
        return ("true" if value else "false") == given.label
    return given.label in value if isinstance(value, list) else str(value) == given.label


# The tasks of the default schema (labels come from the data or the recipe).
DEFAULT_TASKS: tuple[TaskConfig, ...] = tuple(TaskConfig(t.name, t.type) for t in default_schema().tasks)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the annotation files, located by file and (when known) line."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class DataValidationError(ValueError):
    """The annotation files cannot be trained on; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN])
        more = len(self.problems) - MAX_PROBLEMS_SHOWN
        if more > 0:
            shown += f"\n  ... and {more} more"
        super().__init__(f"{len(self.problems)} problem(s) in the annotation files:\n{shown}")


@dataclass(frozen=True)
class Example:
    """One validated record: normalised text, a value (or ``None``) per task, other fields."""

    id: str
    text: str
    labels: Mapping[str, Any]  # list[str] | str | bool | None, by task type
    meta: Mapping[str, Any]
    file: str
    line: int

    def get(self, key: str, default: Any = None) -> Any:
        """Task value or metadata field, so an example reads like a LABELS.md record."""
        if key in self.labels:
            return self.labels[key]
        if key == "text":
            return self.text
        if key == "id":
            return self.id
        return self.meta.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)


@dataclass
class AnnotatedData:
    """Validated splits and the schema (tasks with their final label lists) they define."""

    schema: ModelSchema
    splits: dict[str, list[Example]] = field(default_factory=dict)

    def __getitem__(self, split: str) -> list[Example]:
        return self.splits.get(split, [])

    def summary(self) -> dict[str, Any]:
        """Counts per split: records, annotated records per task, label frequencies."""
        out: dict[str, Any] = {}
        for split, examples in self.splits.items():
            tasks: dict[str, Any] = {}
            for task in self.schema.tasks:
                values = [ex.labels.get(task.name) for ex in examples]
                annotated = [v for v in values if v is not None]
                counts: Counter[str] = Counter()
                for v in annotated:
                    counts.update(_as_label_list(v, task.type))
                tasks[task.name] = {
                    "annotated": len(annotated),
                    "labels": {lab: counts.get(lab, 0) for lab in task.labels},
                }
            groups = Counter(str(ex.meta.get("provenance")) for ex in examples if ex.meta.get("provenance") is not None)
            out[split] = {"records": len(examples), "tasks": tasks, "provenance": dict(sorted(groups.items()))}
        return out


@dataclass(frozen=True)
class RawRecord:
    """One record as found in a file, before validation."""

    file: str
    line: int
    data: Mapping[str, Any]
    from_csv: bool


def read_raw_records(path: str | Path) -> tuple[list[RawRecord], list[Problem]]:
    """Parse one JSONL or CSV file into raw records, with the problems met while parsing."""
    path = Path(path)
    name = str(path)
    problems: list[Problem] = []
    records: list[RawRecord] = []
    if not path.is_file():
        return [], [Problem(name, None, "file does not exist")]
    suffix = path.suffix.lower()
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Problem(name, None, f"not UTF-8 text ({exc})")]
    if suffix in (".jsonl", ".ndjson"):
        # split on line feeds only: str.splitlines() would also cut at U+2028, U+2029 and U+0085,
        # which JSON writes raw inside strings (json.dumps with ensure_ascii=False)
        records = _jsonl_records(name, content.replace("\r\n", "\n").split("\n"), problems)
    elif suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(content, newline=""), delimiter="\t" if suffix == ".tsv" else ",")
        if reader.fieldnames is None:
            return [], [Problem(name, None, "file is empty (no header, no records)")]
        if "text" not in reader.fieldnames:
            problems.append(Problem(name, 1, f"no 'text' column (columns: {reader.fieldnames})"))
            return [], problems
        start = 2
        for row in reader:
            if None in row:  # more cells than header columns
                problems.append(Problem(name, start, "more cells than header columns"))
            data = {k: v for k, v in row.items() if k is not None}
            if any(v is not None and v.strip() for v in data.values()):
                records.append(RawRecord(name, start, data, from_csv=True))
            start = reader.line_num + 1
    else:
        return [], [Problem(name, None, f"unsupported file type {suffix!r}: use .jsonl or .csv")]
    if not records and not problems:
        problems.append(Problem(name, None, "file is empty (no records)"))
    return records, problems


def _jsonl_records(name: str, lines: Iterable[str], problems: list[Problem]) -> list[RawRecord]:
    records = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, lineno, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(name, lineno, f"a record must be a JSON object, found {type(data).__name__}"))
            continue
        records.append(RawRecord(name, lineno, data, from_csv=False))
    return records


RecordReader = Callable[[str | Path], tuple[list[RawRecord], list[Problem]]]


class RecordCache:
    """A :data:`RecordReader` that reads each file once (later calls return the same records), and
    knows the files :meth:`write` wrote without reading them back."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[list[RawRecord], list[Problem]]] = {}

    def __call__(self, path: str | Path) -> tuple[list[RawRecord], list[Problem]]:
        key = str(Path(path))
        if key not in self._files:
            self._files[key] = read_raw_records(path)
        return self._files[key]

    def write(self, examples: Sequence[Example], tasks: Sequence[TaskConfig | TaskSpec], path: Path) -> Path:
        """Write examples as LABELS.md JSON Lines (normalised text, task values, other fields)."""
        lines = []
        for ex in examples:
            record = {"id": ex.id, "text": ex.text, **{t.name: ex.labels.get(t.name) for t in tasks}, **ex.meta}
            lines.append(json.dumps(record, ensure_ascii=False))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        problems: list[Problem] = []
        self._files[str(path)] = (_jsonl_records(str(path), lines, problems), problems)
        return path


def annotated_fields(paths: Iterable[str | Path], reader: RecordReader = read_raw_records) -> set[str]:
    """Record fields holding at least one value (not null, not a :data:`NULL_CELLS` string) in ``paths``;
    unreadable files and records add nothing (the full validation reports them)."""
    fields: set[str] = set()
    for path in paths:
        records, _ = reader(path)
        for record in records:
            for key, value in record.data.items():
                if value is None or (isinstance(value, str) and value.strip().lower() in NULL_CELLS):
                    continue
                fields.add(key)
    return fields


def _coerce(value: Any, task: TaskConfig, from_csv: bool) -> tuple[Any, str | None]:
    """A task value in its canonical Python type, or an error message. ``None`` = not annotated."""
    if value is None:
        return None, None
    if from_csv and isinstance(value, str):
        text = value.strip()
        if text.lower() in NULL_CELLS:
            return None, None
        if task.type == "multi_label":
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    return None, f"{task.name}: {value!r} is not a JSON list"
            else:
                value = labels_from_text(text)
        elif task.type == "binary":
            flag = bool_from_text(text)
            if flag is None:
                return None, f"{task.name}: {value!r} is not true/false"
            return flag, None
        else:
            value = text
    if task.type == "multi_label":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, f"{task.name}: expected a list of label strings or null, found {value!r}"
        return sorted({v.strip() for v in value}), None
    if task.type == "single_label":
        if not isinstance(value, str) or not value.strip():
            return None, f"{task.name}: expected a label string or null, found {value!r}"
        return value.strip(), None
    if not isinstance(value, bool):
        return None, f"{task.name}: expected true, false or null, found {value!r}"
    return value, None


def _as_label_list(value: Any, task_type: str) -> list[str]:
    if task_type == "multi_label":
        return list(value)
    if task_type == "binary":
        return ["true" if value else "false"]
    return [value]


def _text_problem(value: Any, status: LabelStatus) -> str:
    """Why a record's ``text`` cannot be trained on (``status``: :func:`prepare_input`'s verdict)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "missing or empty 'text'"
    if not isinstance(value, str):
        return f"'text' must be a string, found {type(value).__name__}"
    if status is LabelStatus.EMPTY:
        return "'text' is empty once invisible characters are removed"
    if status is LabelStatus.UNDECODABLE:
        return "'text' holds a lone surrogate (half of an emoji?): the classifier never labels such text"
    return "'text' has no Khmer or Latin letter: the classifier never labels such text"


def _parse_record(raw: RawRecord, tasks: Sequence[TaskConfig], problems: list[Problem]) -> Example | None:
    data = raw.data
    status, text = prepare_input(data.get("text"))  # the classifier's own rule: train on what it labels
    ok = status is LabelStatus.OK
    if not ok:
        problems.append(Problem(raw.file, raw.line, _text_problem(data.get("text"), status)))
    raw_id = data.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        ex_id = f"{raw.file}:{raw.line}"  # unique: no two records share a file and line
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        ex_id = str(raw_id).strip()
    else:
        problems.append(Problem(raw.file, raw.line, f"'id' must be a string, found {raw_id!r}"))
        ok = False
        ex_id = ""
    labels: dict[str, Any] = {}
    for task in tasks:
        value, error = _coerce(data.get(task.name), task, raw.from_csv)
        if error:
            problems.append(Problem(raw.file, raw.line, error))
            ok = False
        labels[task.name] = value
    if not ok:
        return None
    task_names = {t.name for t in tasks}
    meta = {k: v for k, v in data.items() if k not in RESERVED_FIELDS and k not in task_names}
    return Example(id=ex_id, text=str(text), labels=labels, meta=meta, file=raw.file, line=raw.line)


def load_annotations(
    train_files: Sequence[str | Path],
    dev_files: Sequence[str | Path] = (),
    test_files: Sequence[str | Path] = (),
    tasks: Sequence[TaskConfig] = DEFAULT_TASKS,
    *,
    reader: RecordReader = read_raw_records,
) -> AnnotatedData:
    """Read, normalise and validate the splits; return them with the schema they define.

    Every problem found in any file is collected first; if there is at least one, a single
    :class:`DataValidationError` lists them all (file, line, what is wrong). Checked: unreadable
    or empty files, missing text, wrong value types, unknown labels (when the config fixes
    labels; otherwise labels of dev/test never seen in train), tasks or labels with a single
    class in train, duplicate ids, and the same normalised text in two splits. ``reader`` reads a
    file's raw records (a :class:`RecordCache` reads each file once over several calls).
    """
    tasks = tuple(tasks)
    problems: list[Problem] = []
    if not tasks:
        problems.append(Problem("<config>", None, "no tasks configured"))
    names = [t.name for t in tasks]
    for dup in sorted(n for n, c in Counter(names).items() if c > 1):
        problems.append(Problem("<config>", None, f"task {dup!r} is configured twice"))
    for task in tasks:
        parent = next((t for t in tasks if task.given is not None and t.name == task.given.task), None)
        if task.given is not None and (parent is None or parent.given is not None or parent is task):
            problems.append(
                Problem("<config>", None, f"task {task.name!r}: 'given' needs a configured task {task.given.task!r} "
                        "without a 'given' of its own")
            )
    files_by_split = {"train": list(train_files), "dev": list(dev_files), "test": list(test_files)}
    if not files_by_split["train"]:
        problems.append(Problem("<arguments>", None, "no training file given"))

    splits: dict[str, list[Example]] = {
        split: _parse_files(files, tasks, problems, reader) for split, files in files_by_split.items() if files
    }

    _check_duplicates(splits, problems)
    schema = _build_schema(tasks, splits, problems)
    if problems or schema is None:
        raise DataValidationError(sorted(problems, key=lambda p: (p.file, p.line or 0)))
    return AnnotatedData(schema=schema, splits=splits)


def _check_duplicates(splits: Mapping[str, list[Example]], problems: list[Problem]) -> None:
    seen_ids: dict[str, Example] = {}
    for examples in splits.values():
        for ex in examples:
            first = seen_ids.get(ex.id)
            if first is not None:
                problems.append(
                    Problem(ex.file, ex.line, f"duplicate id {ex.id!r} (first at {first.file}:{first.line})")
                )
            else:
                seen_ids[ex.id] = ex
    first_split_of_text: dict[str, tuple[str, Example]] = {}
    for split, examples in splits.items():
        for ex in examples:
            prior = first_split_of_text.get(ex.text)
            if prior is None:
                first_split_of_text[ex.text] = (split, ex)
            elif prior[0] != split:
                other = prior[1]
                problems.append(
                    Problem(
                        ex.file,
                        ex.line,
                        f"the same text is in {prior[0]} ({other.file}:{other.line}) and {split}: "
                        "a text may be in one split only",
                    )
                )


def _build_schema(
    tasks: Sequence[TaskConfig], splits: Mapping[str, list[Example]], problems: list[Problem]
) -> ModelSchema | None:
    train = splits.get("train", [])
    train_file = ", ".join(sorted({ex.file for ex in train})) or "<train>"
    specs: list[TaskSpec] = []
    for task in tasks:
        observed: dict[str, Counter[str]] = {split: Counter() for split in splits}
        annotated = Counter[str]()
        for split, examples in splits.items():
            for ex in examples:
                value = ex.labels.get(task.name)
                if value is None or not gold_holds(ex, task.given):
                    continue
                annotated[split] += 1
                observed[split].update(_as_label_list(value, task.type))
        if task.type == "binary":
            labels: tuple[str, ...] = BINARY_LABELS
        elif task.labels is not None:
            labels = task.labels
        else:
            labels = tuple(sorted(observed.get("train", Counter())))
        # values outside the label set
        for examples in splits.values():
            for ex in examples:
                value = ex.labels.get(task.name)
                if value is None or task.type == "binary":
                    continue
                unknown = [v for v in _as_label_list(value, task.type) if v not in labels]
                if unknown:
                    if task.labels is not None:
                        why = f"not one of the configured labels {list(labels)}"
                    else:
                        why = "never seen in the training split, so the model cannot learn it"
                    problems.append(Problem(ex.file, ex.line, f"{task.name}: unknown label(s) {unknown}: {why}"))
        n_train = annotated.get("train", 0)
        if train and n_train == 0:
            problems.append(Problem(train_file, None, f"task {task.name!r}: no training record is annotated"))
            continue
        counts = observed.get("train", Counter())
        if task.type in ("single_label", "binary"):
            present = [lab for lab in labels if counts.get(lab, 0) > 0]
            if train and len(present) < 2:
                problems.append(
                    Problem(
                        train_file,
                        None,
                        f"task {task.name!r}: only one class observed in train ({present}); a classifier needs two",
                    )
                )
        else:
            for lab in labels:
                pos = counts.get(lab, 0)
                if train and pos == 0:
                    problems.append(
                        Problem(train_file, None, f"task {task.name!r}: label {lab!r} is never positive in train")
                    )
                elif train and pos == n_train:
                    problems.append(
                        Problem(
                            train_file,
                            None,
                            f"task {task.name!r}: label {lab!r} is positive in every annotated training record "
                            "(only one class observed)",
                        )
                    )
        if not labels or (task.type == "single_label" and len(labels) < 2):
            continue
        specs.append(TaskSpec(name=task.name, type=task.type, labels=labels, output=task.name, given=task.given))
    if len(specs) != len(tasks):
        return None
    try:
        return ModelSchema(tasks=tuple(specs))
    except ModelConfigError as exc:  # a 'given' naming a task or label the config lacks
        problems.append(Problem("<config>", None, str(exc)))
        return None


def task_targets(examples: Sequence[Any], task: TaskSpec) -> tuple[np.ndarray, np.ndarray]:
    """Targets and the annotation mask of one task for a list of examples or records.

    Returns ``(targets, mask)``: ``mask[i]`` is 1.0 when record ``i`` is annotated for the task
    (for a dependent task, also when its gold parent value holds: :func:`gold_holds`).
    Targets are float32 ``[N, n_labels]`` (multi_label, multi-hot), int64 ``[N]`` (single_label,
    label index) or float32 ``[N]`` (binary); not-annotated rows hold zeros.
    """
    n = len(examples)
    mask = np.zeros(n, dtype=np.float32)
    index = {lab: i for i, lab in enumerate(task.labels)}
    if task.type == "multi_label":
        targets: np.ndarray = np.zeros((n, len(task.labels)), dtype=np.float32)
    elif task.type == "single_label":
        targets = np.zeros(n, dtype=np.int64)
    else:
        targets = np.zeros(n, dtype=np.float32)
    for i, ex in enumerate(examples):
        value = ex.get(task.name)
        if value is None or not gold_holds(ex, task.given):
            continue
        mask[i] = 1.0
        if task.type == "multi_label":
            for lab in value:
                if lab in index:
                    targets[i, index[lab]] = 1.0
        elif task.type == "single_label":
            targets[i] = index[value]
        else:
            targets[i] = 1.0 if value else 0.0
    return targets, mask


EXERCISE_SOURCE_PREFIX = "rdlab"
# A ចូរ-prompt ("ចូរពន្យល់ ...": explain ...), or a question: តើ ... or a final question mark.
_EXERCISE_FORM = re.compile(r"ចូរ|^\s*តើ|[?？]\s*$")


def is_exercise_prompt(record: Any) -> bool:
    """Whether a record is a textbook exercise prompt: its ``source`` starts with ``rdlab`` (the textbook,
    government and legal sentences) and its text holds a ចូរ-prompt or has a question form (starts with តើ
    or ends with a question mark). Such prompts address pupils, not the public (LABELS.md section 3)."""
    source = str(record.get("source") or "")
    return source.startswith(EXERCISE_SOURCE_PREFIX) and bool(_EXERCISE_FORM.search(str(record.get("text") or "")))


def down_weight_exercise_prompts(
    examples: Sequence[Any], targets: Mapping[str, tuple[np.ndarray, np.ndarray]], weights: Mapping[str, float]
) -> int:
    """Scale the loss mask of exercise prompts (:func:`is_exercise_prompt`) by ``weights[task]``, in place.

    A mask value is the row's weight in its task's loss (:func:`khmer_civic.train.modeling.task_loss`
    averages rows weighted by it), so 0.25 makes a prompt count a quarter of another record and 0
    drops it; tasks not in ``targets`` are skipped. Returns the number of exercise prompts found.
    """
    rows = np.array([is_exercise_prompt(ex) for ex in examples], dtype=bool)
    for name, weight in weights.items():
        if name in targets:  # a recipe task the data leaves out is not trained: nothing to weigh
            targets[name][1][rows] *= float(weight)
    return int(rows.sum())


def all_targets(examples: Sequence[Any], schema: ModelSchema) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`task_targets` for every task of the schema."""
    return {task.name: task_targets(examples, task) for task in schema.tasks}


def to_hf_dataset(examples: Sequence[Example], schema: ModelSchema) -> datasets.Dataset:
    """The examples as a :class:`datasets.Dataset`: ``id``, ``text``, and per task
    ``<task>__target`` and ``<task>__mask`` columns (see :func:`task_targets`)."""
    import datasets

    columns: dict[str, Any] = {"id": [ex.id for ex in examples], "text": [ex.text for ex in examples]}
    for name, (targets, mask) in all_targets(examples, schema).items():
        columns[f"{name}__target"] = targets.tolist()
        columns[f"{name}__mask"] = mask.tolist()
    return datasets.Dataset.from_dict(columns)


def read_examples(paths: Iterable[str | Path], tasks: Sequence[TaskConfig] = DEFAULT_TASKS) -> list[Example]:
    """Read and check files without split checks (e.g. a held-out set to evaluate on).

    Labels are not checked against a label set; use :func:`load_annotations` for training.
    """
    problems: list[Problem] = []
    examples = _parse_files(paths, tuple(tasks), problems)
    if problems:
        raise DataValidationError(problems)
    return examples


def _parse_files(
    paths: Iterable[str | Path],
    tasks: Sequence[TaskConfig],
    problems: list[Problem],
    reader: RecordReader = read_raw_records,
) -> list[Example]:
    """Every valid record of ``paths``, in order; problems are appended to ``problems``."""
    examples: list[Example] = []
    for path in paths:
        raws, file_problems = reader(path)
        problems.extend(file_problems)
        for raw in raws:
            ex = _parse_record(raw, tasks, problems)
            if ex is not None:
                examples.append(ex)
    return examples


def split_examples(
    examples: Sequence[Example],
    tasks: Sequence[TaskConfig | TaskSpec],
    *,
    dev_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 13,
) -> dict[str, list[Example]]:
    """Split examples into train/dev/test, stratified over every task's labels, deterministically.

    Examples with the same normalised text form one group and land in one split (so no text is
    in two splits). Groups are dealt greedily, those holding the rarest labels first (ties in
    a seeded random order): each goes to the split that most lacks its rarest label relative
    to its fraction, then to the one that most lacks texts. Train, the largest share, thus
    gets the first example of every label. A not-annotated (``null``) value counts for no
    label, an annotated empty multi-label list counts as a label of its own, binary tasks count
    ``true`` and ``false``. Within a split the input order is kept.
    Same examples, fractions and seed: same split.
    """
    if not (0 <= dev_fraction < 1 and 0 <= test_fraction < 1 and dev_fraction + test_fraction < 1):
        raise ValueError("dev_fraction and test_fraction must be in [0, 1) and sum to less than 1")
    fractions = {"train": 1.0 - dev_fraction - test_fraction, "dev": dev_fraction, "test": test_fraction}
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(ex.text, []).append(i)
    group_labels: list[set[str]] = []
    members = list(groups.values())
    for idx in members:
        labels: set[str] = set()
        for i in idx:
            for task in tasks:
                value = examples[i].labels.get(task.name)
                if value is None:
                    continue
                values = _as_label_list(value, task.type) or ["(no label)"]  # an empty topic list counts too
                labels.update(f"{task.name}={lab}" for lab in values)
        group_labels.append(labels)
    totals: Counter[str] = Counter()
    for idx, labels in zip(members, group_labels):
        for lab in labels:
            totals[lab] += len(idx)
    wanted = {split: {lab: frac * n for lab, n in totals.items()} for split, frac in fractions.items()}
    wanted_texts = {split: frac * len(examples) for split, frac in fractions.items()}
    shuffled = np.random.default_rng(seed).permutation(len(members))
    rank = {int(g): r for r, g in enumerate(shuffled)}

    def rarest(g: int) -> str | None:
        return min(group_labels[g], key=lambda lab: (totals[lab], lab)) if group_labels[g] else None

    order = sorted(range(len(members)), key=lambda g: (totals[rarest(g)] if rarest(g) else math.inf, rank[g]))
    assigned: dict[str, list[int]] = {split: [] for split in fractions}
    for g in order:
        key = rarest(g)
        candidates = [split for split, frac in fractions.items() if frac > 0]
        best = max(
            candidates,
            key=lambda s: (wanted[s][key] if key is not None else 0.0, wanted_texts[s], fractions[s]),
        )
        assigned[best].extend(members[g])
        for lab in group_labels[g]:
            wanted[best][lab] -= len(members[g])
        wanted_texts[best] -= len(members[g])
    return {split: [examples[i] for i in sorted(idx)] for split, idx in assigned.items()}
