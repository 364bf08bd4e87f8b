"""``khmer-civic label``: the labels of a model for every row of a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from khmer_civic.cli.common import default_model_hint, handle_errors, model_config
from khmer_civic.cli.options import TableArgs, batch_size_option, model_option, table_options
from khmer_civic.schema import ModelConfigError, ModelSchema


@click.command()
@table_options
@model_option
@click.option("--mask-pii", is_flag=True, help="Mask phone numbers, e-mails and @mentions in the output's text column.")
@batch_size_option
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="onnxruntime intra-op threads per worker (see benchmarks/README.md before raising it).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Label on the Dask cluster of this scheduler (tcp://host:8786): INPUT may be a file, a glob or a "
    "folder of CSV/TSV/Parquet files, OUTPUT is a folder of Parquet parts. Needs khmer-civic[dask]; "
    "see docs/dask.md.",
)
@click.option(
    "--dask-local",
    "dask_local",
    type=click.IntRange(min=1),
    metavar="N",
    help="As --scheduler, on a Dask cluster of N worker processes started on this machine.",
)
@handle_errors
def label(
    table: TableArgs,
    model_path: Path | None,
    mask_pii: bool,
    batch_size: int,
    threads: int,
    scheduler: str | None,
    dask_local: int | None,
) -> None:
    """Label every row of INPUT (CSV, TSV, JSONL, Parquet, XLSX) and write OUTPUT.

    OUTPUT has the rows of INPUT in the same order with all their columns, plus one column per
    task of the model (topics, sentiment, call_to_action, cta_type), label_status (ok, or why a row was
    not labelled: empty, not_text, no_letters, unreadable_row, malformed_row,
    undecodable_text, unmapped_row) and one score column per label.

    Platform exports are told from the file (--format NAME forces one; khmer-civic formats
    lists them): Meta Business Suite, CrowdTangle, Facebook Download Your Information, Graph API,
    Facepager and facebook-scraper files, Telegram Desktop's result.json, youtube-comment-downloader
    comments. Their rows get platform, item_type, item_id, parent_id, author, created_at (UTC;
    times without a zone read in --tz, default Asia/Phnom_Penh), text, reactions, comments, shares,
    views and url before the export's own columns, and text is labelled.

    Bad characters are a row's problem: bytes that are not valid text, NULs and lone surrogates
    become U+FFFD and the row is flagged undecodable_text. A stray quote that would swallow the
    CSV rows after it flags its own line unreadable_row and every other row is read as itself.
    XLSX output: a text longer than Excel's 32,767-character cell limit is cut and ends with
    "…[cut: N characters in the input]" (its row keeps the labels of the whole text), and the
    run names the sheet rows cut; write CSV, JSONL or Parquet to keep every character.

    On a Dask cluster (--scheduler ADDRESS or --dask-local N): INPUT is a CSV/TSV/Parquet file,
    glob or folder, OUTPUT a new folder of Parquet parts in row order with the same added columns.
    """
    if scheduler or dask_local:
        from khmer_civic.cli.label_dask import check_cluster_options, label_on_cluster

        check_cluster_options(scheduler, dask_local)
        label_on_cluster(
            table,
            model_path=model_path,
            mask_pii=mask_pii,
            batch_size=batch_size,
            threads=threads,
            scheduler=scheduler,
            local_workers=dask_local,
        )
        return
    from khmer_civic.io.annotators import LabelJob
    from khmer_civic.io.formats import output_format
    from khmer_civic.io.summary import label_summary, render_label_summary

    output_format(table.output)  # an unknown output format fails before the model is loaded
    job = LabelJob(
        model_path=str(model_path.resolve()) if model_path else None, batch_size=batch_size, intra_op_threads=threads
    )
    with default_model_hint(model_path):
        annotator, schema = _model(job, model_path, table.workers)
    result = table.run(job, annotator=annotator, mask_pii=mask_pii)
    summary = label_summary(result, schema)
    table.write_summary(summary, render_label_summary(summary))


def _model(job: Any, model_path: Path | None, workers: int) -> tuple[Any, ModelSchema]:
    """The labeller for this process and the model's schema. With several workers the workers
    load the model: here only its config.json is read, unless it is unusable, when loading the
    model names the problem (before any work starts)."""
    if workers > 1:
        try:
            return None, model_config(model_path).schema
        except ModelConfigError:
            pass
    annotator = job.build()
    return annotator, annotator.schema
