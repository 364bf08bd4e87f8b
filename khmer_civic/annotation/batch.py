"""The batch for annotators: the picked rows with their input columns, why each was picked and its scores.

Columns, in order: ``id``, ``text``, the input's other columns as they were, then

- ``selection``: ``random`` (drawn uniformly, for unbiased rates) or ``uncertain``;
- ``selection_quota``: the quota (``genre=news``) an uncertain text was picked for, else empty;
- ``selection_rank``: the order of picking (1 = first);
- ``selection_score``: the combined score, and ``uncertainty_<task>`` per task (see
  :mod:`khmer_civic.annotation.select`);
- with suggestions only: ``suggested_<task>``, the model's labels (annotators who see them tend
  to agree with them, so leave them out of batches meant to measure the model or agreement).

Rows are in a seeded shuffled order, so that an annotator cannot tell random texts from chosen
ones by their place. The file is CSV, TSV or JSON Lines by its extension, written with the
writers of :mod:`khmer_civic.io` (formula guard on CSV) into a temporary file moved into place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from khmer_civic.annotation.pool import PoolReport, PoolSource, row_id
from khmer_civic.annotation.select import Pool, Selection
from khmer_civic.io.columns import KIND_OF_TASK, SCORE, STATUS, check_no_clash
from khmer_civic.io.errors import UnsupportedFormatError
from khmer_civic.io.formats import TableFormat, output_format
from khmer_civic.io.readers import open_table
from khmer_civic.io.writers import AddedColumn, TableLayout, make_writer
from khmer_civic.model.runtime import decided_labels, schema_decisions
from khmer_civic.schema import ModelSchema

BATCH_FORMATS = (TableFormat.CSV, TableFormat.TSV, TableFormat.JSONL)


def batch_format(path: Path) -> TableFormat:
    """The batch file's format from its extension: .csv, .tsv or .jsonl."""
    fmt = output_format(path)
    if fmt not in BATCH_FORMATS:
        raise UnsupportedFormatError(f"the batch file {path} must be .csv, .tsv or .jsonl, not .{fmt.value}")
    return fmt


def added_columns(schema: ModelSchema, suggestions: bool) -> list[AddedColumn]:
    """The columns the batch adds to the input's."""
    columns = [
        AddedColumn("selection", STATUS),
        AddedColumn("selection_quota", STATUS),
        AddedColumn("selection_rank", STATUS),
        AddedColumn("selection_score", SCORE),
        *(AddedColumn(f"uncertainty_{task.name}", SCORE) for task in schema.tasks),
    ]
    if suggestions:
        columns += [AddedColumn(f"suggested_{task.name}", KIND_OF_TASK[task.type]) for task in schema.tasks]
    return columns


def suggestions_of(pool: Pool, schema: ModelSchema, index: int) -> dict[str, Any]:
    """The model's labels for one pool text, by task."""
    rows = {task.name: pool.probabilities[task.name][index : index + 1] for task in schema.tasks}
    decided = schema_decisions(rows, schema)
    return {task.name: decided_labels(task, decided[task.name][0]) for task in schema.tasks}


def batch_rows(
    source: PoolSource, report: PoolReport, pool: Pool, selection: Selection, schema: ModelSchema, *,
    suggestions: bool, seed: int,
) -> tuple[list[str], list[dict[str, Any]]]:  # fmt: skip
    """The input's other columns and the batch rows (second pass over the input), shuffled."""
    others = [c for c in report.columns if c not in (report.text_column, report.id_column, "id", "text")]
    check_no_clash(others, [c.name for c in added_columns(schema, suggestions)], source=str(source.path))
    wanted = {int(pool.rows[pick.index]): (rank, pick) for rank, pick in enumerate(selection.picks, start=1)}
    rows: list[dict[str, Any]] = []
    with open_table(source.path, sheet=source.sheet) as reader:
        for number, row in enumerate(reader.rows()):
            if number not in wanted:
                continue
            rank, pick = wanted[number]
            values = {"id": row_id(row, number, report.id_column, source.path.stem), "text": pool.texts[pick.index]}
            values.update({c: row.values.get(c) for c in others})
            values.update(
                selection=pick.selection,
                selection_quota=pick.quota or "",
                selection_rank=rank,
                selection_score=float(selection.scores[pick.index]),
            )
            values.update({f"uncertainty_{t}": float(s[pick.index]) for t, s in selection.task_scores.items()})
            if suggestions:
                values.update({f"suggested_{t}": v for t, v in suggestions_of(pool, schema, pick.index).items()})
            rows.append(values)
    order = np.random.default_rng(seed).permutation(len(rows))
    return others, [rows[i] for i in order]


def write_batch(
    path: Path, others: Sequence[str], rows: Sequence[Mapping[str, Any]], schema: ModelSchema, *, suggestions: bool
) -> Path:
    """Write the batch rows to ``path`` (CSV, TSV or JSONL by extension), atomically."""
    fmt = batch_format(path)
    layout = TableLayout(("id", "text", *others), {}, tuple(added_columns(schema, suggestions)))
    writer = make_writer(fmt, layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    temp = path.with_name(f".{path.name}.tmp")
    try:
        writer.write_part(rows, part)
        writer.assemble([part], temp)
        os.replace(temp, path)
    finally:
        for leftover in (part, temp):
            leftover.unlink(missing_ok=True)
    return path
