"""What the table commands add to each row: labels (``label``) or words (``tokenize``).

An *annotator* turns the text cells of one chunk into the added columns, column by column.
It is built from a small frozen *job* (:class:`LabelJob`, :class:`TokenizeJob`) that can be
sent to a worker process, which builds its own annotator once and reuses it for every chunk.
Annotators also count what they produced (for the end-of-run summary) into a flat
``Counter[str]`` that is easy to merge across chunks and to store in a checkpoint.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from khmer_civic.io.columns import KIND_OF_TASK, SCORE, STATUS, TEXT
from khmer_civic.io.writers import SCORE_DECIMALS, AddedColumn
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE, check_batch_size, read_text
from khmer_civic.model.manifest import model_digest
from khmer_civic.schema import LabelStatus, ModelSchema

if TYPE_CHECKING:
    from khmer_civic.model.config import ModelConfig

LABEL_STATUS_COLUMN = "label_status"
TOKEN_STATUS_COLUMN = "text_status"
NORMALIZED_COLUMN = "normalized"
TOKENS_COLUMN = "tokens"
NO_LABEL = "(none)"
# A token can hold a space ("012 345 678"); inside the space-joined ``tokens`` cell that space
# becomes a no-break space, so splitting the cell on " " gives the tokens back.
TOKEN_INNER_SPACE = "\u00a0"

Columns = dict[str, list[Any]]

# Summary counts (a flat Counter, merged across chunks and kept in the checkpoint); the keys are
# made here and read back by khmer_civic.io.summary.
ROWS_KEY = "rows"
TOKENS_KEY = "tokens"
STATUS_PREFIX = "status/"


def status_key(status: str) -> str:
    """``status/<status>``: rows with that status."""
    return f"{STATUS_PREFIX}{status}"


def label_key(task_name: str, value: str) -> str:
    """``<task>/<value>``: labelled rows with that decision (for a multi-label task, that label)."""
    return f"{task_name}/{value}"


def pair_key(task_name: str, label: str, other_task: str, value: str) -> str:
    """``<task>/<label>|<other task>/<value>``: rows with that label of a multi-label task and that decision."""
    return f"{label_key(task_name, label)}|{label_key(other_task, value)}"


class AddedColumns(Protocol):
    """What a command adds to each row and counts: all the process that writes the output needs."""

    status_column: str

    @property
    def added_columns(self) -> list[AddedColumn]: ...

    def count(self, columns: Mapping[str, Sequence[Any]]) -> Counter[str]:
        """Summary counts of a finished chunk (after read problems were put in the status)."""
        ...

    def identity(self) -> dict[str, str]:
        """What must not change between an interrupted run and its resumption (e.g. the model)."""
        ...


class Annotator(AddedColumns, Protocol):
    """Builds the added columns of a chunk from its text cells."""

    def annotate(self, texts: Sequence[object]) -> Columns:
        """Added columns (name → one value per text); every row gets a status."""
        ...


class Job(Protocol):
    """A picklable recipe for an annotator; equal jobs build equal annotators."""

    command: ClassVar[str]

    def build(self, *, quiet: bool = False) -> Annotator: ...

    def describe(self) -> AddedColumns:
        """The columns and counts without what annotating needs (e.g. no model session)."""
        ...


def score_column(task_name: str, label: str | None = None) -> str:
    """``score_<task>_<label>``, or ``score_<task>`` for a binary task (p(true))."""
    return f"score_{task_name}" if label is None else f"score_{task_name}_{label}"


def label_columns(schema: ModelSchema) -> list[AddedColumn]:
    """Added columns for a model: one per task, ``label_status``, then one score per label."""
    columns = [AddedColumn(task.name, KIND_OF_TASK[task.type]) for task in schema.tasks]
    columns.append(AddedColumn(LABEL_STATUS_COLUMN, STATUS))
    for task in schema.tasks:
        if task.type == "binary":
            columns.append(AddedColumn(score_column(task.name), SCORE))
        else:
            columns += [AddedColumn(score_column(task.name, label), SCORE) for label in task.labels]
    return columns


class LabelColumns:
    """What ``label`` adds to each row and counts, from a model's config alone (no onnxruntime session)."""

    status_column = LABEL_STATUS_COLUMN

    def __init__(self, config: ModelConfig, model_dir: str | Path) -> None:
        self.schema: ModelSchema = config.schema
        self._config = config
        self._model_dir = model_dir

    @property
    def added_columns(self) -> list[AddedColumn]:
        return label_columns(self.schema)

    def identity(self) -> dict[str, str]:
        """What a resumed run must find unchanged about the model (hashed here, once per run: not in
        every worker that builds a :class:`Labeller`)."""
        config = self._config
        return {"name": config.name, "version": config.version, "digest": model_digest(self._model_dir)}

    def count(self, columns: Mapping[str, Sequence[Any]]) -> Counter[str]:
        return label_counts(self.schema, columns)


class Labeller(LabelColumns):
    """Labels texts with a :class:`~khmer_civic.model.CivicClassifier` (columns from its schema)."""

    def __init__(self, classifier: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        super().__init__(classifier.config, classifier.path)
        self.classifier = classifier
        self.batch_size = batch_size

    def annotate(self, texts: Sequence[object]) -> Columns:
        predictions = self.classifier.predict(list(texts), batch_size=self.batch_size)
        columns: Columns = {column.name: [] for column in self.added_columns}
        tasks = self.schema.tasks
        for prediction in predictions:
            columns[LABEL_STATUS_COLUMN].append(prediction.status.value)
            for task in tasks:
                columns[task.name].append(prediction.labels.get(task.name))
                scores = prediction.scores.get(task.name)
                if task.type == "binary":
                    columns[score_column(task.name)].append(_rounded(scores, "true"))
                else:
                    for label in task.labels:
                        columns[score_column(task.name, label)].append(_rounded(scores, label))
        return columns


def label_counts(schema: ModelSchema, columns: Mapping[str, Sequence[Any]]) -> Counter[str]:
    """Summary counts of labelled rows: rows, statuses, decisions, and label pairs (see io.summary)."""
    counts: Counter[str] = Counter()
    statuses = columns[LABEL_STATUS_COLUMN]
    counts[ROWS_KEY] += len(statuses)
    counts.update(status_key(status) for status in statuses)
    multi = [t for t in schema.tasks if t.type == "multi_label"]
    others = [t for t in schema.tasks if t.type != "multi_label"]
    for row, status in enumerate(statuses):
        if status != LabelStatus.OK.value:
            continue
        decided = {t.name: _decision_key(columns[t.name][row]) for t in others}
        for name, value in decided.items():
            counts[label_key(name, value)] += 1
        for task in multi:
            chosen = columns[task.name][row] or []
            if not chosen:
                counts[label_key(task.name, NO_LABEL)] += 1
            for label in chosen:
                counts[label_key(task.name, label)] += 1
                for name, value in decided.items():
                    counts[pair_key(task.name, label, name, value)] += 1
    return counts


def _rounded(scores: Mapping[str, float] | None, label: str) -> float | None:
    if not scores:
        return None
    return round(float(scores[label]), SCORE_DECIMALS)


def _decision_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class LabelJob:
    """Recipe for a :class:`Labeller`: the model directory (``None``: the bundled model) and how to run it."""

    model_path: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    intra_op_threads: int | None = 1
    command: ClassVar[str] = "label"

    def __post_init__(self) -> None:
        check_batch_size(self.batch_size)

    def build(self, *, quiet: bool = False) -> Labeller:
        """Load the model (``quiet``: without repeating load warnings, as in worker processes)."""
        from khmer_civic.model.classifier import CivicClassifier

        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            classifier = CivicClassifier.load(self.model_path, intra_op_threads=self.intra_op_threads)
        return Labeller(classifier, self.batch_size)

    def describe(self) -> LabelColumns:
        """The model's columns and identity without loading it: the model directory is checked
        (manifest, config.json) as :meth:`build` would, but no onnxruntime session is made."""
        from khmer_civic.model.classifier import check_model_dir

        model_dir, config, _ = check_model_dir(self.model_path)
        return LabelColumns(config, model_dir)


# ------------------------------------------------------------------------------ tokenize


class WordTokenizer:
    """Adds ``normalized`` (khmer_civic.text.normalize) and ``tokens`` (segmented words, space-joined).

    A row's status follows the labelling rule (:func:`khmer_civic.model.inputs.read_text`), except that
    a text without letters (digits, emoji, punctuation) is tokenized: its status is ``ok``.
    """

    status_column = TOKEN_STATUS_COLUMN

    def __init__(self) -> None:
        from khmer_civic.text import Segmenter

        self.segmenter = Segmenter()

    @property
    def added_columns(self) -> list[AddedColumn]:
        return [
            AddedColumn(NORMALIZED_COLUMN, TEXT),
            AddedColumn(TOKENS_COLUMN, TEXT),
            AddedColumn(TOKEN_STATUS_COLUMN, STATUS),
        ]

    def identity(self) -> dict[str, str]:
        from khmer_civic.text import NORMALIZER_VERSION

        return {"normalizer_version": str(NORMALIZER_VERSION)}

    def annotate(self, texts: Sequence[object]) -> Columns:
        normalized: list[str | None] = []
        tokens: list[str | None] = []
        statuses: list[str] = []
        for value in texts:
            status, text = read_text(value)
            if status is LabelStatus.NO_LETTERS:  # digits, emoji and punctuation are tokens too
                status = LabelStatus.OK
            if status is LabelStatus.OK:
                words = self.segmenter.segment(text, normalize_first=False)
                normalized.append(text)
                tokens.append(" ".join(word.replace(" ", TOKEN_INNER_SPACE) for word in words))
            else:
                normalized.append(None)
                tokens.append(None)
            statuses.append(status.value)
        return {NORMALIZED_COLUMN: normalized, TOKENS_COLUMN: tokens, TOKEN_STATUS_COLUMN: statuses}

    def count(self, columns: Mapping[str, Sequence[Any]]) -> Counter[str]:
        counts: Counter[str] = Counter()
        statuses = columns[TOKEN_STATUS_COLUMN]
        counts[ROWS_KEY] += len(statuses)
        counts.update(status_key(status) for status in statuses)
        counts[TOKENS_KEY] += sum(len(t.split(" ")) for t in columns[TOKENS_COLUMN] if t)
        return counts


@dataclass(frozen=True)
class TokenizeJob:
    """Recipe for a :class:`WordTokenizer`."""

    command: ClassVar[str] = "tokenize"

    def build(self, *, quiet: bool = False) -> WordTokenizer:
        return WordTokenizer()

    def describe(self) -> WordTokenizer:
        return WordTokenizer()  # cheap: the segmenter loads its model on first use
