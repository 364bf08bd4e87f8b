"""Tasks, labels and the prediction record.

A model directory describes itself: its ``config.json`` lists the tasks it predicts, their
labels, decision thresholds and calibration temperatures. Inference code reads that schema
instead of hard-coding the three default tasks, so a retrained model with an extra topic or a
dropped task needs no code change.

``config.json`` (format version 1)::

    {
      "format": "khmer-civic-model",
      "format_version": 1,
      "name": "khmer-civic-e5-small",
      "version": "0.1.0",
      "normalizer_version": 1,            # khmer_civic.text.NORMALIZER_VERSION used in training
      "max_length": 128,                  # tokens per window, special tokens included
      "window_stride": 96,                # tokens between window starts for long texts
      "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
      "batching": "per_window",           # optional; or "padded" (see khmer_civic.model.runtime)
      "embedding_output": "pooled",       # optional: the output holding the pooled text embedding
      "tasks": [
        {"name": "topics", "type": "multi_label",
         "labels": ["education", "health", "local_administration"],
         "output": "topics", "temperature": 1.0,
         "thresholds": {"education": 0.5, "health": 0.5, "local_administration": 0.5}},
        {"name": "sentiment", "type": "single_label",
         "labels": ["negative", "neutral", "positive"],
         "output": "sentiment", "temperature": 1.0},
        {"name": "call_to_action", "type": "binary", "labels": ["false", "true"],
         "output": "call_to_action", "temperature": 1.0, "threshold": 0.5},
        {"name": "cta_type", "type": "multi_label", "labels": ["engage", "attend", ...],
         "output": "cta_type", "temperature": 1.0, "thresholds": {...},
         "given": {"task": "call_to_action", "label": "true"}}   # optional: a dependent task
      ]
    }

The ONNX graph takes ``input_ids`` and ``attention_mask`` (int64, ``[batch, seq]``) and has one
float output per task, named by ``output``: ``[batch, len(labels)]`` logits for
``multi_label`` and ``single_label`` tasks, ``[batch, 1]`` for ``binary`` tasks. When config.json
names an ``embedding_output``, the graph also outputs each window's mean-pooled encoder state
(``[batch, hidden]``, what the task heads read; ``CivicClassifier.embed``); models exported before
it have none and work as before, except ``embed``.

Task types:

- ``multi_label``: independent sigmoids; a label is predicted when its calibrated probability
  reaches its threshold. The prediction is a list of labels (possibly empty).
- ``single_label``: softmax over exclusive labels; the prediction is the most probable label.
- ``binary``: one sigmoid; the prediction is ``True`` when the calibrated probability reaches
  ``threshold``. Scores are reported as ``{"false": 1 - p, "true": p}``.

Dependent tasks: a ``multi_label`` task with ``"given": {"task": P, "label": L}`` is decided only
where the decision of task ``P`` holds ``L`` (binary ``P``: its ``True``/``False`` as ``"true"``/
``"false"``; single_label: that label; multi_label: ``L`` among its labels). There its prediction
is the labels reaching their thresholds, or the most probable label when none does; elsewhere it
is ``[]``. Its scores are reported either way. ``P`` must be a task of the model without a
``given`` of its own, and ``L`` one of its labels. Training masks the task on records whose gold
``P`` value does not hold ``L``; evaluation scores it on those records only. Configs without
``given`` (every model before cta_type) behave as before.

Labels written as text (a CSV or spreadsheet cell): a multi-label value is its labels joined by
``;`` (:data:`LABEL_SEPARATOR`, read back by :func:`labels_from_text`), a binary value
``true``/``false`` (read back by :func:`bool_from_text`, which also takes ``1``/``0``, ``yes``/``no``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

MODEL_FORMAT = "khmer-civic-model"
MODEL_FORMAT_VERSION = 1

TaskType = Literal["multi_label", "single_label", "binary"]
TASK_TYPES: tuple[str, ...] = ("multi_label", "single_label", "binary")



LABEL_SEPARATOR = ";"  # between the labels of a multi-label value written as text
TRUE_TEXTS = frozenset({"true", "1", "yes", "y", "t"})  # a binary value written as text (casefolded)
FALSE_TEXTS = frozenset({"false", "0", "no", "n", "f"})


def labels_from_text(text: str) -> list[str]:
    """The labels of a multi-label value written as text (``a;b``; blank parts skipped)."""
    return [part.strip() for part in text.split(LABEL_SEPARATOR) if part.strip()]


def bool_from_text(text: str) -> bool | None:
    """A binary value written as text (``true``/``false``, ``1``/``0``, ``yes``/``no``, ``y``/``n``,
    ``t``/``f``, any case); ``None`` for anything else."""
    folded = text.strip().casefold()
    if folded in TRUE_TEXTS:
        return True
    if folded in FALSE_TEXTS:
        return False
    return None


class ModelConfigError(ValueError):
    """A model directory or its config.json is missing, damaged or of another format."""


class LabelStatus(str, Enum):
    """Why a text was (or was not) labelled. Anything but ``OK`` carries no labels."""

    OK = "ok"
    EMPTY = "empty"  # None, NaN, "" or only whitespace / invisible characters
    NOT_TEXT = "not_text"  # a number, bytes or another non-string value
    NO_LETTERS = "no_letters"  # text without a Khmer or Latin letter (emoji, digits, punctuation)
    # Text holding characters that are not text: bytes invalid in the file's encoding, a NUL, or a
    # lone surrogate such as the JSON escape "\ud83d" (half an emoji). Tables put U+FFFD in their
    # place (khmer_civic.text.unreadable); predict() refuses a str with a lone surrogate.
    UNDECODABLE = "undecodable_text"


@dataclass(frozen=True)
class Given:
    """The condition of a dependent task: the decision of ``task`` holds ``label``."""

    task: str
    label: str

    def to_dict(self) -> dict[str, str]:
        return {"task": self.task, "label": self.label}

    @classmethod
    def from_dict(cls, d: Any) -> Given:
        if not isinstance(d, Mapping) or set(d) != {"task", "label"}:
            raise ModelConfigError(f"'given' must be an object {{\"task\": ..., \"label\": ...}}, not {d!r}")
        return cls(task=str(d["task"]), label=str(d["label"]))


@dataclass(frozen=True)
class TaskSpec:
    """One prediction task of a model: its name, type, labels and decision rule."""

    name: str
    type: TaskType
    labels: tuple[str, ...]
    output: str
    temperature: float = 1.0
    thresholds: Mapping[str, float] = field(default_factory=dict)  # multi_label only
    threshold: float = 0.5  # binary only
    given: Given | None = None  # multi_label only: decided only where another task's decision holds a label

    def __post_init__(self) -> None:
        if self.type not in TASK_TYPES:
            raise ModelConfigError(f"task {self.name!r}: unknown type {self.type!r}, expected one of {TASK_TYPES}")
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ModelConfigError(f"task {self.name!r}: labels must be a non-empty list without repeats")
        if self.type == "binary" and tuple(self.labels) != ("false", "true"):
            raise ModelConfigError(f"task {self.name!r}: a binary task has labels ['false', 'true']")
        if self.type == "single_label" and len(self.labels) < 2:
            raise ModelConfigError(f"task {self.name!r}: a single_label task needs two labels or more")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ModelConfigError(f"task {self.name!r}: temperature must be a positive number")
        if self.given is not None and self.type != "multi_label":
            raise ModelConfigError(f"task {self.name!r}: only a multi_label task can have 'given'")
        unknown = set(self.thresholds) - set(self.labels)
        if unknown:
            raise ModelConfigError(f"task {self.name!r}: thresholds for unknown labels {sorted(unknown)}")
        for value in (*self.thresholds.values(), self.threshold):
            if not 0.0 <= value <= 1.0:  # also rejects NaN
                raise ModelConfigError(f"task {self.name!r}: threshold {value!r} is outside [0, 1]")

    @property
    def n_outputs(self) -> int:
        """Width of this task's logits in the ONNX graph."""
        return 1 if self.type == "binary" else len(self.labels)

    def threshold_for(self, label: str) -> float:
        """Decision threshold of one label of a multi_label task (0.5 when not set)."""
        return float(self.thresholds.get(label, 0.5))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "labels": list(self.labels),
            "output": self.output,
            "temperature": self.temperature,
        }
        if self.type == "multi_label":
            out["thresholds"] = {lab: self.threshold_for(lab) for lab in self.labels}
        if self.type == "binary":
            out["threshold"] = self.threshold
        if self.given is not None:
            out["given"] = self.given.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskSpec:
        if not isinstance(d, Mapping):
            raise ModelConfigError(f"a task entry must be an object with name, type and labels, not {d!r}")
        try:
            return cls(
                name=str(d["name"]),
                type=d["type"],
                labels=tuple(str(x) for x in d["labels"]),
                output=str(d.get("output", d["name"])),
                temperature=float(d.get("temperature", 1.0)),
                thresholds={str(k): float(v) for k, v in dict(d.get("thresholds", {})).items()},
                threshold=float(d.get("threshold", 0.5)),
                given=None if d.get("given") is None else Given.from_dict(d["given"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelConfigError):
                raise
            raise ModelConfigError(f"bad task entry {dict(d)!r}: {exc}") from exc


@dataclass(frozen=True)
class ModelSchema:
    """The tasks a model predicts, read from (and written to) its config.json."""

    tasks: tuple[TaskSpec, ...]

    def __post_init__(self) -> None:
        names = [t.name for t in self.tasks]
        if not names:
            raise ModelConfigError("a model needs at least one task")
        if len(set(names)) != len(names):
            raise ModelConfigError(f"task names repeat: {names}")
        for task in self.tasks:
            if task.given is not None:
                check_given(task, self.tasks)

    def __getitem__(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def to_list(self) -> list[dict[str, Any]]:
        return [t.to_dict() for t in self.tasks]

    @classmethod
    def from_list(cls, items: Sequence[Mapping[str, Any]]) -> ModelSchema:
        if not isinstance(items, Sequence) or isinstance(items, str | bytes):
            raise ModelConfigError("'tasks' must be a list")
        return cls(tasks=tuple(TaskSpec.from_dict(d) for d in items))


def check_given(task: TaskSpec, tasks: Sequence[TaskSpec]) -> None:
    """A dependent task's parent exists, is not itself dependent and has the label it names."""
    given = task.given
    assert given is not None
    parent = next((t for t in tasks if t.name == given.task), None)
    if parent is None or parent.name == task.name:
        raise ModelConfigError(f"task {task.name!r}: 'given' names task {given.task!r}, which the model lacks")
    if parent.given is not None:
        raise ModelConfigError(f"task {task.name!r}: its parent {parent.name!r} depends on another task itself")
    if given.label not in parent.labels:
        raise ModelConfigError(
            f"task {task.name!r}: 'given' label {given.label!r} is not one of {parent.name!r}'s {list(parent.labels)}"
        )


def default_schema() -> ModelSchema:
    """The label set of ../LABELS.md v1.2: three topics, three sentiments, call to action."""
    return ModelSchema(
        tasks=(
            TaskSpec("topics", "multi_label", ("education", "health", "local_administration"), "topics"),
            TaskSpec("sentiment", "single_label", ("negative", "neutral", "positive"), "sentiment"),
            TaskSpec("call_to_action", "binary", ("false", "true"), "call_to_action"),
        )
    )


@dataclass(frozen=True)
class Prediction:
    """What the classifier says of one text.

    ``labels`` maps each task to its decision: a list of labels (multi_label), one label
    (single_label) or a bool (binary); ``scores`` maps each task to calibrated probabilities
    per label. When ``status`` is not ``ok`` the text was not labelled: every task's label is
    ``None`` and ``scores`` is empty.
    """

    labels: Mapping[str, Any]
    scores: Mapping[str, Mapping[str, float]]
    status: LabelStatus = LabelStatus.OK

    @property
    def ok(self) -> bool:
        return self.status is LabelStatus.OK

    @property
    def topics(self) -> list[str] | None:
        """Civic topics (multi-label, possibly empty); ``None`` when the text was not labelled."""
        return self.labels.get("topics")

    @property
    def sentiment(self) -> str | None:
        """``negative``, ``neutral`` or ``positive``; ``None`` when the text was not labelled."""
        return self.labels.get("sentiment")

    @property
    def call_to_action(self) -> bool | None:
        """Whether the text asks readers to act; ``None`` when the text was not labelled."""
        return self.labels.get("call_to_action")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: each task's label, ``scores`` and ``status``."""
        out: dict[str, Any] = {k: (list(v) if isinstance(v, list) else v) for k, v in self.labels.items()}
        out["scores"] = {t: dict(s) for t, s in self.scores.items()}
        out["status"] = self.status.value
        return out
