"""``khmer-civic select``: the texts of a dump most worth annotating next (messages only; the work is
done by :mod:`khmer_civic.annotation`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from khmer_civic.cli.common import TqdmProgress, UsageProblem, handle_errors, load_classifier, notifier
from khmer_civic.cli.options import ManyValues, ManyValuesCommand, batch_size_option, debug_option, model_option


@click.command(cls=ManyValuesCommand)
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The batch for annotators: .csv, .tsv or .jsonl.")
@click.option("--n", "n", type=click.IntRange(min=1), default=500, show_default=True, help="Texts to pick.")
@click.option("--random-share", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Share of the batch drawn uniformly at random (marked selection=random), so rates stay estimable.")
@click.option("--annotated", "annotated", cls=ManyValues, type=click.Path(path_type=Path, dir_okay=False),
              metavar="FILE...", help="Already-annotated files (any table format): their near-duplicates are left out.")
@click.option("--quota", "quotas", cls=ManyValues, metavar="FIELD=VALUE:N...",
              help="At least N texts whose column FIELD is VALUE (e.g. genre=news:2000); repeatable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random draw and of the row order.")
@click.option("--text-column", metavar="NAME", help="Column holding the text (default: found by name, as label does).")
@click.option("--id-column", metavar="NAME", help="Column of unique ids (default: id, else FILE-ROW).")
@click.option("--sheet", metavar="NAME", help="XLSX input: the sheet to read.")
@click.option("--label-studio", "label_studio", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write Label Studio tasks (JSON) here, and the labelling config beside it (.config.xml).")
@click.option("--with-suggestions", is_flag=True,
              help="Add the model's labels (suggested_* columns; Label Studio predictions).")
@model_option
@batch_size_option
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="onnxruntime threads.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: when stderr is a terminal].")
@click.option("-q", "--quiet", is_flag=True, help="No notes or summary on stderr (errors only).")
@debug_option
@handle_errors
def select(
    input_path: Path, output: Path, n: int, random_share: float, annotated: tuple[Path, ...], quotas: tuple[str, ...],
    seed: int, text_column: str | None, id_column: str | None, sheet: str | None, label_studio: Path | None,
    with_suggestions: bool, model_path: Path | None, batch_size: int, threads: int, progress: bool | None, quiet: bool,
) -> None:  # fmt: skip
    """Pick the texts of INPUT (CSV, TSV, JSONL, Parquet, XLSX) most worth annotating next.

    \b
    The model scores every text; the batch gets
    - a random share (--random-share), drawn first, marked selection=random;
    - then, for each --quota, the stratum's best texts up to N;
    - then the best texts of the whole pool, marked selection=uncertain.
    Best = uncertain (near a label's threshold, high sentiment entropy), rare labels weighted
    up, and spread out: each pick is far, in the model's text embedding, from those already
    picked. Near-duplicates of --annotated texts and of each other are left out. The same
    INPUT, options and --seed give the same batch.
    """
    from khmer_civic.annotation.batch import batch_format, batch_rows, write_batch
    from khmer_civic.annotation.pool import PoolSource, annotated_index, read_pool
    from khmer_civic.annotation.select import Quota, SelectionSettings
    from khmer_civic.annotation.select import select as pick

    notify = notifier(quiet)
    batch_format(output)  # a wrong extension fails before any work
    try:
        parsed = tuple(Quota.parse(spec) for spec in quotas)
        settings = SelectionSettings(n=n, random_share=random_share, seed=seed, quotas=parsed)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    classifier = load_classifier(model_path, intra_op_threads=threads)
    source = PoolSource(input_path, text_column, id_column, tuple(dict.fromkeys(q.field for q in parsed)), sheet)
    index = None
    if annotated:
        index, without_text = annotated_index(annotated, settings.near_duplicate_jaccard)
        if without_text:
            names = ", ".join(path.name for path in without_text)
            notify(f"note: {len(without_text)} --annotated file(s) have no text column (labels only): {names}")
    if not classifier.has_embeddings:
        notify("note: the model has no embedding output: diversity is measured on its scores instead")
    read = functools.partial(read_pool, source, classifier, annotated=index, batch_size=batch_size)
    pool, report = _with_progress(False if quiet else progress, read)
    if not len(pool):
        raise UsageProblem(f"no text of {input_path} can be picked ({_left_out(report)})")
    selection = pick(pool, classifier.schema, settings)
    schema = classifier.schema
    others, rows = batch_rows(source, report, pool, selection, schema, suggestions=with_suggestions, seed=seed)
    write_batch(output, others, rows, classifier.schema, suggestions=with_suggestions)
    written = [str(output)]
    if label_studio is not None:
        written += _write_label_studio(label_studio, rows, classifier, with_suggestions, input_path.name)
    for line in summary_lines(report, pool, selection, settings, classifier.schema, written):
        notify(line)


def _with_progress(enabled: bool | None, work: Callable[..., Any]) -> Any:
    """``work(progress=...)`` with a progress bar of the rows read."""
    bar = TqdmProgress("select", enabled)
    bar.start(None, 0)
    try:
        return work(progress=bar.advance)
    finally:
        bar.close()


def _write_label_studio(path: Path, rows: list[dict[str, Any]], classifier: Any, suggestions: bool,
                        source: str) -> list[str]:  # fmt: skip
    from khmer_civic.annotation.labelstudio import label_studio_tasks, labelling_config, write_json

    version = f"{classifier.config.name} {classifier.config.version}"
    tasks = label_studio_tasks(rows, model_version=version, suggestions=suggestions, default_source=source)
    write_json(path, tasks)
    config_path = path.with_name(f"{path.stem}.config.xml")
    config_path.write_text(labelling_config(classifier.schema), encoding="utf-8")
    return [f"{path} (Label Studio tasks)", f"{config_path} (labelling config)"]


def _left_out(report: Any) -> str:
    parts = [f"{reason} {count}" for reason, count in sorted(report.left_out.items())]
    return f"{report.rows} rows read" + (f"; left out: {', '.join(parts)}" if parts else "")


def summary_lines(report: Any, pool: Any, selection: Any, settings: Any, schema: Any, written: list[str]) -> list[str]:
    """What was read, left out and picked, the rare-label weights and the files written."""
    picked = {kind: sum(1 for p in selection.picks if p.selection == kind) for kind in ("random", "uncertain")}
    skipped = selection.near_duplicates_skipped
    lines = [
        f"pool: {len(pool)} texts ({_left_out(report)})",
        f"picked {len(selection.picks)} of {settings.n}: random {picked['random']}, uncertain {picked['uncertain']}"
        + (f"; near-duplicates passed over: {skipped}" if skipped else ""),
    ]
    for label, (have, asked) in selection.quota_counts.items():
        short = "" if have >= asked else " (the stratum has no more texts)"
        lines.append(f"quota {label}: {have} of {asked}{short}")
    weights = []
    for task in schema.tasks:
        names = ["true"] if task.type == "binary" else list(task.labels)
        weights += [f"{task.name}:{name} {w:.1f}" for name, w in zip(names, selection.weights[task.name]) if w > 1.0]
    if weights:
        lines.append("rare labels weighted up: " + ", ".join(weights))
    return [*lines, *(f"wrote {path}" for path in written)]
