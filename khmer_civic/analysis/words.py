"""The words that most often push each label across a table of texts.

Every row of the table (any format ``khmer-civic label`` reads) is scored; rows whose predicted
label matches (``label``, or any predicted label of ``task``, or of every task) are explained by
leave-one-word-out occlusion (:mod:`khmer_civic.model.explain`), and per label each word counts
the texts where it is among the text's top-3 positive contributors. Rows that cannot be read or
labelled are skipped and counted by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from khmer_civic.io.columns import find_text_column
from khmer_civic.io.pipeline import Progress
from khmer_civic.io.readers import TableReader, open_table
from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.explain import PushingWord, PushingWordsRun, check_label, task_named

WORD_COLUMNS: tuple[str, ...] = ("task", "label", "rank", "word", "texts", "share", "mean_contribution")


@dataclass(frozen=True)
class TableWords:
    """The result of :func:`words_in_table`: the run's counts and the table's text column."""

    run: PushingWordsRun
    text_column: str

    def table(self, top: int = 20) -> list[PushingWord]:
        """The ``top`` words per label (see :meth:`~khmer_civic.model.explain.PushingWordCounts.table`)."""
        return self.run.counts.table(top)


def words_in_table(
    path: str | Path,
    classifier: CivicClassifier,
    *,
    task: str | None = None,
    label: str | None = None,
    text_column: str | None = None,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> TableWords:
    """Count the words that push each predicted label over the rows of the table at ``path``.

    ``ValueError`` for an unknown task or label (before the table is read);
    :class:`~khmer_civic.io.errors.TableError` for a table that cannot be read or lacks the text column.
    """
    if task is not None:
        spec = task_named(classifier.schema, task)
        if label is not None:
            check_label(spec, label)
    elif label is not None:
        raise ValueError("--label needs --task")
    progress = progress or Progress()
    with open_table(path, sheet=sheet) as reader:
        column = find_text_column(reader.columns, text_column, source=str(path)).name
        problems: Counter[str] = Counter()
        progress.start(reader.count_rows(), 0)
        try:
            run = classifier.pushing_words(
                _texts(reader, column, problems, progress), task=task, label=label, advance=progress.advance
            )
        finally:
            progress.close()
    run.skipped.update(problems)
    run.rows += sum(problems.values())
    return TableWords(run, column)


def _texts(reader: TableReader, column: str, problems: Counter[str], progress: Progress) -> Iterator[object]:
    """The text of each readable row; rows with a read problem are counted in ``problems`` instead."""
    for row in reader.rows():
        if row.problem is not None:
            problems[row.problem.value] += 1
            progress.advance(1)
            continue
        yield row.values.get(column)
