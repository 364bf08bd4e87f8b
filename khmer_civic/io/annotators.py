"""What the table commands add to each row: labels (``label``) or words (``tokenize``).

An *annotator* turns the text cells of one chunk into the added columns, column by column.
It is built from a small frozen *job* (:class:`LabelJob`, :class:`TokenizeJob`) that can be
sent to a worker process, which builds its own annotator once and reuses it for every chunk.
Annotators also count what they produced (for the end-of-run summary) into a flat
``Counter[str]`` that is easy to merge across chunks and to store in a checkpoint.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from khmer_civic.io.writers import FLAG, LABEL, LABELS, SCORE, STATUS, TEXT, AddedColumn, SCORE_DECIMALS
from khmer_civic.schema import LabelStatus, ModelSchema

LABEL_STATUS_COLUMN = "label_status"
TOKEN_STATUS_COLUMN = "text_status"
NORMALIZED_COLUMN = "normalized"
TOKENS_COLUMN = "tokens"
NO_LABEL = "(none)"
# A token can hold a space ("012 345 678"); inside the space-joined ``tokens`` cell that space
# becomes a no-break space, so splitting the cell on " " gives the tokens back.
TOKEN_INNER_SPACE = "\u00a0"

Columns = dict[str, list[Any]]


class Annotator(Protocol):
    """Builds the added columns of a chunk from its text cells."""

    status_column: str

    @property
    def added_columns(self) -> list[AddedColumn]: ...

    def annotate(self, texts: Sequence[object]) -> Columns:
        """Added columns (name → one value per text); every row gets a status."""
        ...

    def count(self, columns: Mapping[str, Sequence[Any]]) -> Counter[str]:
        """Summary counts of a finished chunk (after read problems were put in the status)."""
        ...

    def identity(self) -> dict[str, str]:
        """What must not change between an interrupted run and its resumption (e.g. the model)."""
        ...


class Job(Protocol):
    """A picklable recipe for an annotator; equal jobs build equal annotators."""

    command: ClassVar[str]

    def build(self, *, quiet: bool = False) -> Annotator: ...


def score_column(task_name: str, label: str | None = None) -> str:
    """``score_<task>_<label>``, or ``score_<task>`` for a binary task (p(true))."""
    return f"score_{task_name}" if label is None else f"score_{task_name}_{label}"


def label_columns(schema: ModelSchema) -> list[AddedColumn]:
    """Added columns for a model: one per task, ``label_status``, then one score per label."""
    kinds = {"multi_label": LABELS, "single_label": LABEL, "binary": FLAG}
    columns = [AddedColumn(task.name, kinds[task.type]) for task in schema.tasks]
    columns.append(AddedColumn(LABEL_STATUS_COLUMN, STATUS))
    for task in schema.tasks:
        if task.type == "binary":
            columns.append(AddedColumn(score_column(task.name), SCORE))
        else:
            columns += [AddedColumn(score_column(task.name, label), SCORE) for label in task.labels]
    return columns


def model_digest(model_dir: Path) -> str:
    """A short digest identifying a model directory's content (from its manifest, else its files)."""
    digest = hashlib.sha256()
    names = (
        ["manifest.json"]
        if (model_dir / "manifest.json").is_file()
        else ["config.json", "model.onnx", "tokenizer.json"]
    )
    for name in names:
        path = model_dir / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class Labeller:
    """Labels texts with a :class:`~khmer_civic.model.CivicClassifier` (columns from its schema)."""

    status_column = LABEL_STATUS_COLUMN

    def __init__(self, classifier: Any, batch_size: int = 32) -> None:
        self.classifier = classifier
        self.schema: ModelSchema = classifier.schema
        self.batch_size = batch_size

    @property
    def added_columns(self) -> list[AddedColumn]:
        return label_columns(self.schema)

    def identity(self) -> dict[str, str]:
        """What a resumed run must find unchanged about the model."""
        config = self.classifier.config
        return {"name": config.name, "version": config.version, "digest": model_digest(Path(self.classifier.path))}

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

    def count(self, columns: Mapping[str, Sequence[Any]]) -> Counter[str]:
        counts: Counter[str] = Counter()
        statuses = columns[LABEL_STATUS_COLUMN]
        counts["rows"] += len(statuses)
        counts.update(f"status/{status}" for status in statuses)
        multi = [t for t in self.schema.tasks if t.type == "multi_label"]
        others = [t for t in self.schema.tasks if t.type != "multi_label"]
        for row, status in enumerate(statuses):
            if status != LabelStatus.OK.value:
                continue
            decided = {t.name: _decision_key(columns[t.name][row]) for t in others}
            for name, value in decided.items():
                counts[f"{name}/{value}"] += 1
            for task in multi:
                chosen = columns[task.name][row] or []
                if not chosen:
                    counts[f"{task.name}/{NO_LABEL}"] += 1
                for label in chosen:
                    counts[f"{task.name}/{label}"] += 1
                    for name, value in decided.items():
                        counts[f"{task.name}/{label}|{name}/{value}"] += 1
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
    batch_size: int = 32
    intra_op_threads: int | None = 1
    command: ClassVar[str] = "label"

    def build(self, *, quiet: bool = False) -> Labeller:
        """Load the model (``quiet``: without repeating load warnings, as in worker processes)."""
        from khmer_civic.model.classifier import CivicClassifier

        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            classifier = CivicClassifier.load(self.model_path, intra_op_threads=self.intra_op_threads)
        return Labeller(classifier, self.batch_size)


# ------------------------------------------------------------------------------ tokenize


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    kind = type(value)
    return kind.__module__.startswith("pandas") and kind.__name__ in {"NAType", "NaTType"}


class WordTokenizer:
    """Adds ``normalized`` (khmer_civic.text.normalize) and ``tokens`` (segmented words, space-joined)."""

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
        from khmer_civic.text import normalize

        normalized: list[str | None] = []
        tokens: list[str | None] = []
        statuses: list[str] = []
        for value in texts:
            if _is_missing(value):
                status, text = LabelStatus.EMPTY.value, None
            elif not isinstance(value, str):
                status, text = LabelStatus.NOT_TEXT.value, None
            else:
                text = normalize(value)
                status = LabelStatus.OK.value if text.strip() else LabelStatus.EMPTY.value
            if status != LabelStatus.OK.value or text is None:
                normalized.append(None)
                tokens.append(None)
            else:
                words = self.segmenter.segment(text, normalize_first=False)
                normalized.append(text)
                tokens.append(" ".join(word.replace(" ", TOKEN_INNER_SPACE) for word in words))
            statuses.append(status)
        return {NORMALIZED_COLUMN: normalized, TOKENS_COLUMN: tokens, TOKEN_STATUS_COLUMN: statuses}

    def count(self, columns: Mapping[str, Sequence[Any]]) -> Counter[str]:
        counts: Counter[str] = Counter()
        statuses = columns[TOKEN_STATUS_COLUMN]
        counts["rows"] += len(statuses)
        counts.update(f"status/{status}" for status in statuses)
        counts["tokens"] += sum(len(t.split(" ")) for t in columns[TOKENS_COLUMN] if t)
        return counts


@dataclass(frozen=True)
class TokenizeJob:
    """Recipe for a :class:`WordTokenizer`."""

    command: ClassVar[str] = "tokenize"

    def build(self, *, quiet: bool = False) -> WordTokenizer:
        return WordTokenizer()
