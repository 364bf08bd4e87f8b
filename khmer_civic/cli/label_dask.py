"""``khmer-civic label --scheduler ADDRESS`` / ``--dask-local N``: label on a Dask cluster.

The work is done by :mod:`khmer_civic.dask`; here are the checks of the command line, the
client, Dask's progress bar and the end-of-run summary (the same summary as ``label``, counted
from the labelled partitions in the same pass that writes them).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from khmer_civic.cli.common import UsageProblem, default_model_hint, missing_extra_problem, notifier, one_line
from khmer_civic.cli.options import TableArgs

# Table options that mean nothing on a cluster, and why (refused when given on the command line).
_NOT_ON_A_CLUSTER = {
    "workers": "the cluster's workers do the work (--dask-local N starts N here)",
    "chunk_size": "the input's partitions are the chunks",
    "resume": "Dask runs a lost worker's partitions again; an interrupted run starts over",
    "sheet": "XLSX is not read on a cluster",
    "bom": "the output is Parquet",
    "formula_guard": "the output is Parquet",
}
CONNECT_TIMEOUT_S = 30


def check_cluster_options(scheduler: str | None, local_workers: int | None) -> None:
    """Stop with exit status 2 when the options cannot go together or the ``dask`` extra is missing."""
    from khmer_civic.dask import INSTALL_LINE, missing_modules

    if scheduler and local_workers:
        raise UsageProblem("give --scheduler ADDRESS or --dask-local N, not both")
    missing = missing_modules()
    if missing:
        raise missing_extra_problem("label --scheduler/--dask-local", "dask", missing, INSTALL_LINE)
    ctx = click.get_current_context()
    for name, why in _NOT_ON_A_CLUSTER.items():
        source = ctx.get_parameter_source(name)
        if source is not None and source is click.core.ParameterSource.COMMANDLINE:
            flag = "--" + name.replace("_", "-")
            raise UsageProblem(f"{flag} does not apply with a Dask cluster: {why}")


@contextlib.contextmanager
def _client(scheduler: str | None, local_workers: int | None) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a local cluster of ``local_workers`` processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageProblem(f"cannot reach the Dask scheduler at {scheduler}: {one_line(exc)}") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def _wait(client: Any, work: list[Any], show_progress: bool | None) -> list[Any]:
    """Compute the collections ``work`` together on the cluster (shared tasks run once), with Dask's
    progress bar on stderr when asked (default: on a terminal); their results."""
    from distributed import progress

    futures = client.compute(work)
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    if show_progress:
        with contextlib.redirect_stdout(sys.stderr):  # Dask draws its bar on stdout
            progress(futures)
            sys.stderr.write("\n")
    return client.gather(futures)  # type: ignore[no-any-return]


def label_on_cluster(
    table: TableArgs,
    *,
    model_path: Path | None,
    mask_pii: bool,
    batch_size: int,
    threads: int,
    scheduler: str | None,
    local_workers: int | None,
) -> None:
    """Label INPUT (a file, glob or folder) on a Dask cluster into the Parquet folder OUTPUT, then print
    the ``label`` summary."""
    import pandas as pd

    from khmer_civic.dask import (
        ModelMismatchError,
        check_output_dir,
        cluster_csv_problem,
        finish_output,
        label_job,
        label_with,
        parquet_types,
        partial_dir,
        partition_counts,
        read_table,
        write_parquet,
    )
    from khmer_civic.io.annotators import ROWS_KEY
    from khmer_civic.io.columns import find_text_column
    from khmer_civic.io.pipeline import RunResult
    from khmer_civic.io.summary import label_summary, render_label_summary

    started = time.perf_counter()
    output = table.output
    check_output_dir(output)
    source = str(table.input_path)
    ddf = read_table(source)
    choice = find_text_column([str(c) for c in ddf.columns], table.text_column, source=source)
    job = label_job(model_path, batch_size, threads=threads)
    with default_model_hint(model_path):
        columns = job.describe()
        labelled = label_with(ddf, job, columns, choice.name, mask_pii=mask_pii)
    notify = notifier(table.quiet)
    if choice.auto:
        notify(f"text column: {choice.name!r} (found by name; use --text-column to pick another)")
    with _client(scheduler, local_workers) as client:
        workers = len(client.scheduler_info().get("workers", {}))
        notify(f"labelling {ddf.npartitions} partition(s) on {workers} Dask worker(s)")
        write = write_parquet(labelled, output, columns, known_types=parquet_types(source), compute=False)
        # counted from the same labelled partitions the write consumes: each is labelled once
        counted = labelled.map_partitions(partition_counts, columns, meta=partition_counts(labelled._meta, columns))
        try:
            _, per_part = _wait(client, [write, counted], table.progress)
            finish_output(output)
        except ModelMismatchError as exc:
            raise UsageProblem(one_line(exc)) from None
        except pd.errors.ParserError as exc:  # a CSV partition the workers' parser cannot read
            raise UsageProblem(cluster_csv_problem(source, exc)) from None
        finally:
            shutil.rmtree(partial_dir(output), ignore_errors=True)
    counts: Counter[str] = Counter()
    for key, count in zip(per_part["key"], per_part["count"]):
        counts[str(key)] += int(count)
    rows = counts.get(ROWS_KEY, 0)
    result = RunResult(
        input=table.input_path,
        output=output,
        text_column=choice,
        rows=rows,
        rows_this_run=rows,
        resumed_from_row=0,
        wall_seconds=time.perf_counter() - started,
        workers=workers,
        counts=counts,
        annotator_identity=columns.identity(),
    )
    summary = label_summary(result, columns.schema)
    table.write_summary(summary, render_label_summary(summary))
