"""A dump of unlabelled texts, read in chunks and scored by a model: the pool :func:`select` picks from.

Rows whose text cannot be labelled (empty, not text, no letters, unreadable) and texts that are
near-duplicates of already-annotated texts are left out and counted. What is kept per text is
small: its id, text, row number, the values of the quota columns, the probabilities per task and
the embedding (384 float32 for the shipped model), so a pool of 50,000 texts takes about 100 MB.
The batch file is written by a second pass over the input (:mod:`khmer_civic.annotation.batch`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from khmer_civic.annotation.near_duplicates import NearDuplicateIndex
from khmer_civic.annotation.select import Pool
from khmer_civic.io.columns import find_text_column, guess_text_column
from khmer_civic.io.errors import MissingColumnError, TableError
from khmer_civic.io.readers import SourceRow, open_table
from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE, prepare_input
from khmer_civic.schema import LabelStatus

SCORE_CHUNK = 256  # texts per call to the classifier
NEAR_DUPLICATE = "near_duplicate_of_annotated"


class DuplicateIdError(TableError):
    """Two rows of the input have the same id."""


@dataclass(frozen=True)
class PoolSource:
    """Where the pool comes from: the input table and which of its columns mean what."""

    path: Path
    text_column: str | None = None  # None: found by name, as ``label`` does
    id_column: str | None = None  # None: "id" when the input has it, else "<file stem>-<row>"
    strata_columns: tuple[str, ...] = ()
    sheet: str | None = None


@dataclass
class PoolReport:
    """What reading the pool left out, and the columns it used."""

    rows: int = 0
    left_out: Counter[str] = field(default_factory=Counter)  # reason -> rows
    text_column: str = ""
    id_column: str | None = None
    columns: list[str] = field(default_factory=list)


def annotated_index(paths: Iterable[Path], threshold: float) -> tuple[NearDuplicateIndex, list[Path]]:
    """A near-duplicate index of the texts of already-annotated files (any table format; the text
    column is ``text``, else found by name as ``label`` finds it), and the files without a text
    column (labels-only files, such as a second pass or cta_type additions), which add nothing."""
    index = NearDuplicateIndex(threshold)
    without_text: list[Path] = []
    for path in paths:
        with open_table(path) as reader:
            column = "text" if "text" in reader.columns else guess_text_column(reader.columns)
            if column is None:
                without_text.append(path)
                continue
            for row in reader.rows():
                value = row.values.get(column)
                if isinstance(value, str):
                    index.add(value)
    return index, without_text


def _columns(source: PoolSource, columns: Sequence[str], report: PoolReport) -> tuple[str, str | None]:
    """The text and id columns, checked against the input's columns (quota columns too)."""
    text_column = find_text_column(columns, source.text_column, source=str(source.path)).name
    id_column = source.id_column if source.id_column is not None else ("id" if "id" in columns else None)
    for name in [*([id_column] if id_column else []), *source.strata_columns]:
        if name not in columns:
            raise MissingColumnError(f"no column {name!r} in {source.path}; available columns: {', '.join(columns)}")
    report.text_column, report.id_column, report.columns = text_column, id_column, list(columns)
    return text_column, id_column


def row_id(row: SourceRow, number: int, id_column: str | None, stem: str) -> str:
    """A row's id: its id column's value, or ``<file stem>-<row number>`` (1-based)."""
    if id_column is None:
        return f"{stem}-{number + 1}"
    value = row.values.get(id_column)
    return "" if value is None else str(value).strip()


class _PoolBuilder:
    """Collects the kept texts of a chunked read and scores them chunk by chunk."""

    def __init__(self, classifier: CivicClassifier, batch_size: int, strata: Sequence[str]) -> None:
        self.classifier = classifier
        self.batch_size = batch_size
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.rows: list[int] = []
        self.strata: dict[str, list[str]] = {name: [] for name in strata}
        self.probs: dict[str, list[np.ndarray]] = {t.name: [] for t in classifier.schema.tasks}
        self.vectors: list[np.ndarray] = []
        self.pending: list[tuple[int, str, str, dict[str, Any]]] = []

    def add(self, number: int, text_id: str, text: str, values: dict[str, Any]) -> None:
        self.pending.append((number, text_id, text, values))
        if len(self.pending) >= SCORE_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        texts = [text for _, _, text, _ in self.pending]
        with_embeddings = self.classifier.has_embeddings
        scored = self.classifier.score_arrays(texts, batch_size=self.batch_size, embeddings=with_embeddings)
        for name, values in scored.probabilities.items():
            self.probs[name].append(values)
        # without an embedding output, diversity is measured on the probability vectors
        vectors = scored.embeddings if scored.embeddings is not None else np.hstack(list(scored.probabilities.values()))
        self.vectors.append(np.asarray(vectors, dtype=np.float32))
        for number, text_id, text, values in self.pending:
            self.rows.append(number)
            self.ids.append(text_id)
            self.texts.append(text)
            for name in self.strata:
                value = values.get(name)
                self.strata[name].append("" if value is None else str(value).strip())
        self.pending = []

    def pool(self) -> Pool:
        self.flush()
        probabilities = {
            t.name: np.concatenate(self.probs[t.name]) if self.probs[t.name] else np.empty((0, t.n_outputs))
            for t in self.classifier.schema.tasks
        }
        embeddings = np.concatenate(self.vectors) if self.vectors else np.empty((0, 1), dtype=np.float32)
        return Pool(self.ids, self.texts, np.asarray(self.rows, dtype=np.int64), probabilities, embeddings, self.strata)


def read_pool(
    source: PoolSource,
    classifier: CivicClassifier,
    *,
    annotated: NearDuplicateIndex | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> tuple[Pool, PoolReport]:
    """Read and score every usable row of ``source.path`` (see the module docstring).

    Raises :class:`DuplicateIdError` when two rows share an id (or a row has none) and
    :class:`~khmer_civic.io.errors.MissingColumnError` for a column the input lacks.
    """
    report = PoolReport()
    builder = _PoolBuilder(classifier, batch_size, source.strata_columns)
    seen: dict[str, int] = {}
    with open_table(source.path, sheet=source.sheet) as reader:
        text_column, id_column = _columns(source, reader.columns, report)
        for number, row in enumerate(reader.rows()):
            report.rows += 1
            if progress is not None:
                progress(1)
            text_id = row_id(row, number, id_column, source.path.stem)
            if not text_id or text_id in seen:
                what = f"repeats the id {text_id!r} of row {seen[text_id] + 1}" if text_id else "has no id"
                raise DuplicateIdError(
                    f"{source.path}: row {number + 1} {what}; name a column of unique ids with --id-column"
                )
            seen[text_id] = number
            status, _ = prepare_input(row.values.get(text_column))
            if row.problem is not None or status is not LabelStatus.OK:
                report.left_out[row.problem.value if row.problem is not None else status.value] += 1
                continue
            text = str(row.values[text_column])
            if annotated is not None and annotated.matches(text):
                report.left_out[NEAR_DUPLICATE] += 1
                continue
            builder.add(number, text_id, text, row.values)
    return builder.pool(), report
