"""``khmer-civic evaluate``: a model's scores on annotated files. Imports khmer_civic.train inside
the command only; without ``--out`` it needs none of the training extra."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from khmer_civic.cli.common import UsageProblem, fmt, handle_errors, notifier, problems_line, require_train_extra
from khmer_civic.cli.options import ManyValuesCommand, batch_size_option, debug_option, files_option, model_option
from khmer_civic.schema import ModelSchema


@click.command(cls=ManyValuesCommand)
@model_option
@files_option("--data", "data_files", "Annotated texts (LABELS.md records, .jsonl or .csv).", required=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write evaluation.json, evaluation.md and reliability PNGs here (default: print the Markdown).",
)
@click.option(
    "--group-by",
    default="provenance",
    show_default=True,
    help="Field for the per-group breakdown; 'genre' groups by genre (textbook, wikipedia, news, web, authored "
    "posts and comments, romanized) and 'part' by news_web / authored / reference, both computed from source and "
    "provenance.",
)
@batch_size_option
@click.option("-q", "--quiet", is_flag=True, help="No notes on stderr (errors only).")
@debug_option
@handle_errors
def evaluate(
    model_path: Path | None, data_files: tuple[Path, ...], out_dir: Path | None, group_by: str, batch_size: int,
    quiet: bool,
) -> None:
    """Score annotated files with a model: per-label precision/recall/F1, macro and micro
    averages, confusion matrices, calibration (ECE, reliability diagrams), per provenance."""
    from khmer_civic.model.classifier import default_model_dir
    from khmer_civic.model.config import load_config
    from khmer_civic.train.data import DataValidationError
    from khmer_civic.train.evaluate import evaluate_model_dir, markdown_tables, write_report

    if out_dir is not None:
        require_train_extra("evaluate --out", ("matplotlib",))  # the reliability diagrams
    notify = notifier(quiet)
    model_dir = model_path if model_path is not None else default_model_dir()
    model_config = load_config(model_dir)
    files = list(data_files)
    try:
        _check_gold_labels(model_config.schema, files, notify)
        result = evaluate_model_dir(model_dir, files, None, group_field=group_by, batch_size=batch_size)
    except DataValidationError as exc:
        raise UsageProblem(problems_line(exc, "evaluation data")) from None
    groups = result.get("groups")
    if groups is not None and set(groups) <= {"(none)"}:
        del result["groups"]  # no record has the field: no breakdown
    title = f"{model_config.name} {model_config.version} on {', '.join(p.name for p in files)}"
    if out_dir is None:
        click.echo(f"# {title}\n\n{result['n_texts']} texts; mean macro-F1 {fmt(result['mean_macro_f1'])}.\n")
        click.echo(markdown_tables(result))
        return
    paths = write_report(result, out_dir, title=title)
    notify(f"{result['n_texts']} texts; mean macro-F1 over tasks {fmt(result['mean_macro_f1'])}")
    for name, task in result["tasks"].items():
        if task.get("n"):
            macro, micro = fmt(task["macro"]["f1"]), fmt(task["micro"]["f1"])
            notify(f"  {name}: {task['n']} annotated, macro-F1 {macro}, micro-F1 {micro}")
    notify(f"report: {paths['markdown']}, {paths['json']} and {len(paths) - 2} reliability diagram(s) in {out_dir}")


def _check_gold_labels(schema: ModelSchema, files: Sequence[Path], notify: Callable[[str], None]) -> None:
    """Stop unless some record annotates a task of the model or when a single-label task has a gold
    label the model does not know; note the other gold labels it does not predict."""
    from khmer_civic.train.data import TaskConfig, read_examples

    examples = read_examples(files, [TaskConfig(t.name, t.type) for t in schema.tasks])
    annotated = [t.name for t in schema.tasks if any(ex.labels.get(t.name) is not None for ex in examples)]
    if not annotated:
        raise UsageProblem(f"no record annotates any task of the model ({', '.join(schema.task_names)})")
    for task in schema.tasks:
        gold = {lab for ex in examples for lab in _gold_labels(ex.labels.get(task.name))}
        unknown = sorted(gold - set(task.labels)) if task.type != "binary" else []
        if unknown and task.type == "single_label":
            raise UsageProblem(
                f"{task.name}: label(s) {unknown} in the data are not among the model's {list(task.labels)}"
            )
        if unknown:
            notify(f"note: {task.name}: the model does not predict {unknown}; those gold labels are ignored")


def _gold_labels(value: Any) -> list[str]:
    """The label strings of one gold task value (list, label, bool or None)."""
    if value is None or isinstance(value, bool):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
