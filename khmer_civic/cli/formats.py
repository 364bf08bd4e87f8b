"""``khmer-civic formats``: the input formats ``label`` reads, with the platform exports it recognises."""

from __future__ import annotations

import json

import click

from khmer_civic.cli.common import handle_errors
from khmer_civic.cli.options import debug_option


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the formats as JSON.")
@debug_option
@handle_errors
def formats(as_json: bool) -> None:
    """List the input formats: the platform exports told from the file, and plain tables.

    Give a name to --format (label, tokenize) to read a file as that format instead of the one
    detected; 'table' reads it as a plain table. Every platform row gets the columns platform,
    item_type, item_id, parent_id, author, created_at, text, reactions, comments, shares, views
    and url before the export's own.
    """
    from khmer_civic.io.platforms import CONTRACT_COLUMNS, FORMATS, PLAIN_TABLE, PLAIN_TABLE_DESCRIPTION

    entries = [{"name": f.name, "platform": f.platform, "description": f.description} for f in FORMATS]
    entries.append({"name": PLAIN_TABLE, "platform": None, "description": PLAIN_TABLE_DESCRIPTION})
    if as_json:
        click.echo(json.dumps({"formats": entries, "columns": list(CONTRACT_COLUMNS)}, indent=2, ensure_ascii=False))
        return
    width = max(len(e["name"]) for e in entries)
    for entry in entries:
        click.echo(f"{entry['name']:<{width}}  {entry['description']}")
