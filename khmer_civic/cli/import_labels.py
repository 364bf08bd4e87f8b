"""``khmer-civic import-labels``: a Label Studio JSON export back into LABELS.md records."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from khmer_civic.cli.common import UsageProblem, handle_errors, model_config, notifier
from khmer_civic.cli.options import debug_option, model_option

SHOWN_IDS = 5


@click.command(name="import-labels")
@click.argument("export_path", metavar="EXPORT", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The records to write (.jsonl).")
@click.option("--all-annotations", is_flag=True,
              help="One record per completed annotation (ids repeat), for agreement; default: the latest per task.")
@model_option
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr (errors only).")
@debug_option
@handle_errors
def import_labels(export_path: Path, output: Path, all_annotations: bool, model_path: Path | None, quiet: bool) -> None:
    """Turn Label Studio's JSON export (EXPORT) of a `select --label-studio` project into records.

    \b
    Each record: id, text, one field per task of the model (topics, sentiment, call_to_action, cta_type),
    cta_type ([] when call_to_action is false), source, provenance, annotator (the Label Studio
    user). Tasks that were skipped, never annotated or submitted empty give no record and are
    listed. The model (--model, default: the bundled one) says which tasks and labels to expect.
    """
    from khmer_civic.annotation.labelstudio import LabelStudioExportError, annotation_tasks, read_export
    if output.suffix.lower() != ".jsonl":
        raise UsageProblem(f"the records are JSON Lines: name the output .jsonl, not {output.name}")
    schema = model_config(model_path).schema
    try:
        report = read_export(export_path, annotation_tasks(schema), all_annotations=all_annotations)
    except LabelStudioExportError as exc:
        raise UsageProblem(str(exc)) from None
    _write_records(output, report.records)
    notify = notifier(quiet)
    notify(f"wrote {len(report.records)} records to {output}")
    reasons = Counter(reason for _, reason in report.skipped)
    for reason, count in sorted(reasons.items()):
        ids = [text_id for text_id, r in report.skipped if r == reason]
        more = f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
        notify(f"no record: {count} task(s) {reason}: {', '.join(ids[:SHOWN_IDS])}{more}")
    if report.several_annotations:
        kept = "one record each" if all_annotations else "the latest kept"
        notify(f"{report.several_annotations} task(s) have several completed annotations ({kept})")
    if report.cta_type_missing:
        notify(f"{report.cta_type_missing} call-to-action record(s) without a cta_type (left null: not judged)")
    if report.cta_type_dropped:
        notify(f"{report.cta_type_dropped} record(s) had cta_type ticked with call_to_action false (dropped)")


def _write_records(path: Path, records: list[dict[str, object]]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    temp.replace(path)
