"""Why this label? Leave-one-word-out (occlusion) explanations, for one text and across many.

For a text, its words are the text layer's segmentation of the normalised text
(:func:`khmer_civic.text.segment`). Each word's **contribution** to a label is

    p(label | full text) - p(label | text without that word)

so a positive contribution supports the label and a negative one pushes away from it. The
text without a word is the normalised text with that word's characters cut out, read back as
the normaliser would: Khmer words written together stay together (no space is added between
the words either side), and a space the text had on either side is kept once (``"A B C"``
without ``B`` is ``"A C"``). Every variant of a text, and the full text, are scored in one call
of the runner, windowed as usual, so long texts work and a variant's scores do not depend on
the other variants (see :mod:`khmer_civic.model.runtime`). A text of one word without that word
is the empty text, scored as an empty window (the model's prior). Identical variants (a word
repeated) are scored once.

Labels per task type: ``multi_label``, the label's own probability; ``single_label``, its
softmax share; ``binary``, ``"true"`` (p) or ``"false"`` (1 - p), so a word's contribution to
``"false"`` is minus its contribution to ``"true"``.

Texts that cannot be labelled (``None``, empty, no letters, a lone surrogate: see
:func:`~khmer_civic.model.inputs.prepare_input`) raise :class:`UnexplainableTextError`, a
``ValueError`` whose ``status`` says why; callers going over a dump check
``prepare_input(value)[0]`` first (:func:`pushing_words` skips and counts them).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE, prepare_input
from khmer_civic.model.runtime import WindowedRunner, decided_labels, decisions, schema_decisions
from khmer_civic.schema import LabelStatus, ModelSchema, TaskSpec
from khmer_civic.text import normalize, segment

TOP_PER_TEXT = 3  # a word "pushes" a label in a text when it is among the text's top-3 positive contributors


class UnexplainableTextError(ValueError):
    """The text cannot be labelled, so it cannot be explained; ``status`` says why."""

    def __init__(self, status: LabelStatus) -> None:
        super().__init__(f"cannot explain this text: it cannot be labelled (status {status.value})")
        self.status = status


@dataclass(frozen=True)
class WordContribution:
    """One word of the text, where it sits in the normalised text, and its signed contribution."""

    word: str
    start: int
    end: int
    contribution: float


@dataclass(frozen=True)
class Explanation:
    """Which words made (or unmade) ``label`` of ``task`` for one text."""

    task: str
    label: str
    probability: float  # p(label | full text), as predict_proba gives it
    predicted: bool  # whether the model predicts ``label`` for this text
    text: str  # the normalised text the words come from
    words: tuple[WordContribution, ...]  # in text order

    def top(self, k: int = TOP_PER_TEXT) -> list[WordContribution]:
        """The ``k`` words with the largest positive contributions, largest first (ties: text order)."""
        ranked = sorted((w for w in self.words if w.contribution > 0), key=lambda w: -w.contribution)
        return ranked[:k]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: task, label, probability, predicted, text, words (word, start, end, contribution)."""
        return {
            "task": self.task,
            "label": self.label,
            "probability": self.probability,
            "predicted": self.predicted,
            "text": self.text,
            "words": [vars(w).copy() for w in self.words],
        }


@dataclass(frozen=True)
class Occlusion:
    """One text scored whole and without each of its words: probabilities per task."""

    text: str
    spans: tuple[tuple[str, int, int], ...]  # (word, start, end) in ``text``
    full: Mapping[str, np.ndarray]  # task -> [n_outputs] (binary: p(true))
    without: Mapping[str, np.ndarray]  # task -> [n_words, n_outputs]


def word_spans(text: str, words: Sequence[str]) -> list[tuple[str, int, int]]:
    """Each word with its (start, end) in ``text``, found in order (words are substrings of the text)."""
    spans: list[tuple[str, int, int]] = []
    cursor = 0
    for word in words:
        start = text.find(word, cursor)
        if start < 0:
            raise ValueError(f"word {word!r} is not in the text after position {cursor}")
        spans.append((word, start, start + len(word)))
        cursor = start + len(word)
    return spans


def without_span(text: str, start: int, end: int) -> str:
    """``text`` with ``text[start:end]`` cut out, read back by the normaliser (spaces collapsed, ends stripped)."""
    return normalize(text[:start] + text[end:])


def occlude(runner: WindowedRunner, value: object, batch_size: int = DEFAULT_BATCH_SIZE) -> Occlusion:
    """Score ``value`` and each leave-one-word-out variant in one runner call (see the module docstring)."""
    status, text = prepare_input(value)
    if status is not LabelStatus.OK:
        raise UnexplainableTextError(status)
    spans = word_spans(text, segment(text, normalize_first=False))
    variants = [without_span(text, start, end) for _, start, end in spans]
    unique = list(dict.fromkeys([text, *variants]))
    probs = runner.probabilities(unique, batch_size)
    row = {variant: i for i, variant in enumerate(unique)}
    rows = np.asarray([row[v] for v in variants], dtype=np.int64)
    full = {name: values[row[text]] for name, values in probs.items()}
    without = {name: values[rows].reshape(len(variants), values.shape[1]) for name, values in probs.items()}
    return Occlusion(text, tuple(spans), full, without)


def task_named(schema: ModelSchema, task: str) -> TaskSpec:
    """The task called ``task``; ``ValueError`` naming the model's tasks otherwise."""
    try:
        return schema[task]
    except KeyError:
        pass
    raise ValueError(f"unknown task {task!r}; this model's tasks: {', '.join(t.name for t in schema.tasks)}")


def check_label(spec: TaskSpec, label: str) -> str:
    """``label`` when ``spec`` has it; ``ValueError`` naming the task's labels otherwise."""
    if label not in spec.labels:
        raise ValueError(f"task {spec.name!r} has no label {label!r}; its labels: {', '.join(spec.labels)}")
    return label


def label_probabilities(spec: TaskSpec, probs: np.ndarray) -> np.ndarray:
    """Probabilities per label, columns in ``spec.labels`` order (binary: ``[1 - p, p]``)."""
    p = np.asarray(probs, dtype=np.float64)
    if spec.type == "binary":
        return np.concatenate([1.0 - p[..., :1], p[..., :1]], axis=-1)
    return p


def _label_list(spec: TaskSpec, decided: np.ndarray, probs: np.ndarray) -> list[str]:
    """One text's decisions (:func:`~khmer_civic.model.runtime.decided_labels`) as a list of labels
    (multi_label: most probable first; binary: ``"true"`` or ``"false"``)."""
    labels = decided_labels(spec, decided)
    if spec.type == "multi_label":
        return sorted(labels, key=lambda lab: -float(probs[spec.labels.index(lab)]))  # type: ignore[union-attr]
    if spec.type == "binary":
        return ["true" if labels else "false"]
    return [labels]  # type: ignore[list-item]


def predicted_labels(spec: TaskSpec, probs: np.ndarray) -> list[str]:
    """The labels the decision rule gives one text (multi_label: most probable first)."""
    return _label_list(spec, decisions(np.asarray(probs, dtype=np.float64)[None, :], spec)[0], probs)


def text_predictions(schema: ModelSchema, full: Mapping[str, np.ndarray]) -> dict[str, list[str]]:
    """Every task's predicted labels for one text (one row per task in ``full``), by the schema's decision
    rule: a dependent task (cta_type) has labels only where its parent decision holds."""
    rows = {name: np.asarray(probs, dtype=np.float64).reshape(1, -1) for name, probs in full.items()}
    decided = schema_decisions(rows, schema)
    return {spec.name: _label_list(spec, decided[spec.name][0], rows[spec.name][0]) for spec in schema.tasks}


def default_label(spec: TaskSpec, probs: np.ndarray, predicted: Sequence[str] | None = None) -> str:
    """The predicted label; for multi_label the most probable predicted one, or the most probable if none is."""
    predicted = predicted_labels(spec, probs) if predicted is None else predicted
    return predicted[0] if predicted else spec.labels[int(np.argmax(probs))]


def explanation(
    occlusion: Occlusion, spec: TaskSpec, label: str | None = None, schema: ModelSchema | None = None
) -> Explanation:
    """The explanation of ``label`` (default: :func:`default_label`) of task ``spec`` from one :class:`Occlusion`.

    With ``schema``, "predicted" follows the whole schema's decision rule (dependent tasks included)."""
    full = occlusion.full[spec.name]
    predicted = text_predictions(schema, occlusion.full)[spec.name] if schema is not None else None
    label = check_label(spec, label) if label is not None else default_label(spec, full, predicted)
    column = spec.labels.index(label)
    p_full = float(label_probabilities(spec, full)[column])
    p_without = label_probabilities(spec, occlusion.without[spec.name])[:, column]
    words = tuple(
        WordContribution(word, start, end, p_full - float(p))
        for (word, start, end), p in zip(occlusion.spans, p_without)
    )
    predicted = predicted_labels(spec, full) if predicted is None else predicted
    return Explanation(spec.name, label, p_full, label in predicted, occlusion.text, words)


# ------------------------------------------------------------------------------ across many texts


@dataclass(frozen=True)
class PushingWord:
    """A word that often pushes a label: in how many explained texts, and its mean contribution there."""

    task: str
    label: str
    rank: int
    word: str
    texts: int  # explained texts where the word is among the top contributors
    share: float  # texts / explained texts of this label
    mean_contribution: float  # over those texts (a word twice in a text: its larger contribution)


@dataclass
class PushingWordCounts:
    """Counts, per (task, label), of the texts where each word is among the top ``per_text`` contributors."""

    per_text: int = TOP_PER_TEXT
    explained: Counter[tuple[str, str]] = field(default_factory=Counter)
    counts: dict[tuple[str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    sums: dict[tuple[str, str], dict[str, float]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, explained: Explanation) -> None:
        """Count one explanation."""
        key = (explained.task, explained.label)
        self.explained[key] += 1
        best: dict[str, float] = {}
        for word in explained.top(self.per_text):
            best[word.word] = max(best.get(word.word, 0.0), word.contribution)
        for word, contribution in best.items():
            self.counts[key][word] += 1
            self.sums[key][word] = self.sums[key].get(word, 0.0) + contribution

    def table(self, top: int = 20) -> list[PushingWord]:
        """The ``top`` words per (task, label), most texts first (ties: larger mean contribution, then the word)."""
        rows: list[PushingWord] = []
        for key in sorted(self.counts):
            n = self.explained[key]
            ranked = sorted(self.counts[key].items(), key=lambda kv: (-kv[1], -self.sums[key][kv[0]] / kv[1], kv[0]))
            for rank, (word, count) in enumerate(ranked[:top], start=1):
                rows.append(PushingWord(*key, rank, word, count, count / n, self.sums[key][word] / count))
        return rows


@dataclass
class PushingWordsRun:
    """What :func:`pushing_words` did: the counts, rows explained, and rows skipped by reason."""

    counts: PushingWordCounts
    rows: int = 0
    explained_rows: int = 0
    not_matching: int = 0  # labellable rows whose predicted labels did not include the one asked for
    skipped: Counter[str] = field(default_factory=Counter)  # status -> rows that cannot be labelled


def pushing_words(
    runner: WindowedRunner,
    schema: ModelSchema,
    texts: Iterable[object],
    *,
    task: str | None = None,
    label: str | None = None,
    per_text: int = TOP_PER_TEXT,
    advance: Callable[[int], None] | None = None,
) -> PushingWordsRun:
    """Explain each text's predicted labels (of ``task``, default every task; only ``label`` when given)
    and count the words that push them. Texts that cannot be labelled are skipped and counted by status."""
    if label is not None and task is None:
        raise ValueError("a label needs its task")
    specs = [task_named(schema, task)] if task is not None else list(schema.tasks)
    if label is not None:
        check_label(specs[0], label)
    run = PushingWordsRun(PushingWordCounts(per_text))
    for value in texts:
        run.rows += 1
        status, text = prepare_input(value)
        if status is not LabelStatus.OK:
            run.skipped[status.value] += 1
        else:
            _count_text(runner, schema, specs, text, label, run)
        if advance is not None:
            advance(1)
    return run


def _count_text(
    runner: WindowedRunner,
    schema: ModelSchema,
    specs: Sequence[TaskSpec],
    text: str,
    label: str | None,
    run: PushingWordsRun,
) -> None:
    """Score the full text first; occlude only when it has a label to explain."""
    full = runner.probabilities([text])
    predicted = text_predictions(schema, {name: probs[0] for name, probs in full.items()})
    wanted = {spec.name: [lab for lab in predicted[spec.name] if label in (None, lab)] for spec in specs}
    if not any(wanted.values()):
        run.not_matching += 1
        return
    occlusion = occlude(runner, text)
    for spec in specs:
        for lab in wanted[spec.name]:
            run.counts.add(explanation(occlusion, spec, lab, schema))
    run.explained_rows += 1
