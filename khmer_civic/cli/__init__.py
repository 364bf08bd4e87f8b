"""The ``khmer-civic`` command line.

::

    khmer-civic label comments.csv -o labelled.parquet          # topics, sentiment, call to action
    khmer-civic label dump.jsonl -o out.csv --text-column body --workers 2 --mask-pii
    khmer-civic label big.csv -o out.csv --resume               # continue an interrupted run
    khmer-civic tokenize comments.xlsx -o words.xlsx            # normalised text and words
    khmer-civic info [--model DIR] [--json]                     # what a model predicts, its test scores
    khmer-civic select dump.csv -o batch.csv --label-studio tasks.json  # texts to annotate next
    khmer-civic import-labels export.json -o records.jsonl      # a Label Studio export as records
    khmer-civic formats                                         # the platform exports label reads
    khmer-civic explain "TEXT" [--task sentiment] [--json]      # which words made the label
    khmer-civic explain --input labelled.csv --task sentiment --label negative --top 20 -o words.csv
    khmer-civic report labelled.csv -o report.html --xlsx report.xlsx   # an offline page of what it says

Exit status: 0 done; 2 a problem to fix in the command, the files or the environment (unknown
format, missing column, unreadable or truncated file, bad model directory, an output that cannot be
written: full disk, read-only folder; the training extra not installed), told in one line on stderr;
1 an unexpected failure (one line; ``--debug`` shows the traceback); 130 interrupted (finished
chunks are kept: rerun with ``--resume``).

One module per command (:mod:`.label`, :mod:`.tokenize`, :mod:`.info`, :mod:`.train`,
:mod:`.evaluate`, :mod:`.select`, :mod:`.import_labels`, :mod:`.explain`, :mod:`.report`): argument
parsing and messages; the work is done by the library. What they share is in :mod:`.common` (errors
and exit statuses, notes, progress) and :mod:`.options` (the common options, ``--data a b``).
``train`` and ``evaluate`` import ``khmer_civic.train`` inside their command functions only, so the
other commands never load torch. Without the training extra, ``train`` and ``evaluate --out`` stop
before any work and name the install line (:func:`~khmer_civic.cli.common.require_train_extra`).
"""

from __future__ import annotations

import click

from khmer_civic import __version__
from khmer_civic.cli import evaluate, explain, import_labels, info, label, select, tokenize, train
from khmer_civic.cli import formats, report

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="khmer-civic")
@click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected failure.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Civic topics, sentiment and calls to action in Khmer posts and comments."""
    ctx.obj = {"debug": debug}


cli.add_command(label.label)
cli.add_command(tokenize.tokenize)
cli.add_command(info.info)
cli.add_command(train.train)
cli.add_command(evaluate.evaluate)
cli.add_command(select.select)
cli.add_command(import_labels.import_labels)
cli.add_command(explain.explain)
cli.add_command(report.report)
cli.add_command(formats.formats)


def main() -> None:
    """Entry point of the ``khmer-civic`` console script."""
    cli(prog_name="khmer-civic")
