"""``khmer-civic tokenize``: normalised text and words for every row of a table."""

from __future__ import annotations

import click

from khmer_civic.cli.common import handle_errors
from khmer_civic.cli.options import TableArgs, table_options


@click.command()
@table_options
@handle_errors
def tokenize(table: TableArgs) -> None:
    """Normalise and segment the text of every row of INPUT into words; write OUTPUT.

    Adds the columns normalized (the text after khmer_civic.normalize), tokens (the words,
    joined by spaces; a space inside one token, as in "012 345 678", becomes a no-break
    space) and text_status.
    """
    from khmer_civic.io.annotators import TokenizeJob
    from khmer_civic.io.formats import output_format
    from khmer_civic.io.summary import render_tokenize_summary, tokenize_summary

    output_format(table.output)
    result = table.run(TokenizeJob())
    summary = tokenize_summary(result)
    table.write_summary(summary, render_tokenize_summary(summary))
