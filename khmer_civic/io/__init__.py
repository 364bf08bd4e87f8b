"""Reading and writing tables of texts (CSV/TSV, JSONL, Parquet, XLSX) in streaming chunks.

This is the layer under the ``khmer-civic label`` and ``tokenize`` commands; it may be used from
Python too::

    from pathlib import Path
    from khmer_civic.io import LabelJob, RunOptions, run_table

    result = run_table(RunOptions(Path("comments.csv"), Path("labelled.parquet"), workers=2), LabelJob())
    result.rows, result.counts["status/ok"]

- :mod:`~khmer_civic.io.formats`: formats from file names (and first bytes).
- :mod:`~khmer_civic.io.readers`: streaming readers; rows that cannot be read are kept and flagged.
- :mod:`~khmer_civic.io.platforms`: platform exports (Facebook, Telegram, YouTube) told from the file
  and read with one column contract (platform, item_type, item_id, parent_id, created_at, text ...).
- :mod:`~khmer_civic.io.columns`: finding the text column; names of added columns.
- :mod:`~khmer_civic.io.writers`: part files per chunk, assembled into the output at the end.
- :mod:`~khmer_civic.io.annotators`: what ``label`` and ``tokenize`` add to each row.
- :mod:`~khmer_civic.io.checkpoint`: the run directory beside the output, for ``--resume``.
- :mod:`~khmer_civic.io.pipeline`: :func:`run_table`, chunks through worker processes to the output.
- :mod:`~khmer_civic.io.summary`: end-of-run summaries.

Nothing in :mod:`khmer_civic.text` or :mod:`khmer_civic.model` imports this package.
"""

from khmer_civic.io.annotators import LabelJob, TokenizeJob
from khmer_civic.io.columns import find_text_column
from khmer_civic.io.errors import (
    ColumnClashError,
    MissingColumnError,
    ResumeError,
    TableError,
    UnreadableTableError,
    UnsupportedFormatError,
)
from khmer_civic.io.formats import TableFormat, input_format, output_format
from khmer_civic.io.pipeline import RunOptions, RunResult, run_table
from khmer_civic.io.readers import RowProblem, SourceRow, open_table

__all__ = [
    "ColumnClashError",
    "LabelJob",
    "MissingColumnError",
    "ResumeError",
    "RowProblem",
    "RunOptions",
    "RunResult",
    "SourceRow",
    "TableError",
    "TableFormat",
    "TokenizeJob",
    "UnreadableTableError",
    "UnsupportedFormatError",
    "find_text_column",
    "input_format",
    "open_table",
    "output_format",
    "run_table",
]
