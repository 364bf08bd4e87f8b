"""End-of-run summaries: a JSON-ready dict (``--summary FILE``) and a few lines for the terminal.

Rounding happens once, for display: the dict (and the JSON file) keeps exact shares (``rows /
labelled rows``), seconds and rates, and the terminal lines round those to one decimal. Rounding
the share first (to 4 places) and the percentage again would show 36 of 758 rows (4.749%) as 4.8%.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from khmer_civic.io.annotators import NO_LABEL, STATUS_PREFIX, TOKENS_KEY, label_key, pair_key, status_key
from khmer_civic.io.pipeline import RunResult
from khmer_civic.schema import LabelStatus, ModelSchema


def _share(part: int, whole: int) -> float | None:
    """``part / whole``, unrounded (see the module docstring); ``None`` for an empty whole."""
    return part / whole if whole else None


def _statuses(counts: Mapping[str, int]) -> dict[str, int]:
    found = {key[len(STATUS_PREFIX) :]: n for key, n in counts.items() if key.startswith(STATUS_PREFIX) and n}
    return dict(sorted(found.items(), key=lambda item: (item[0] != LabelStatus.OK.value, -item[1], item[0])))


def _run_fields(result: RunResult, command: str) -> dict[str, Any]:
    return {
        "command": command,
        "input": str(result.input),
        "output": str(result.output),
        "text_column": result.text_column.name,
        "text_column_found_by_name": result.text_column.auto,
        "rows": result.rows,
        **({"input_format": result.input_format} if result.input_format else {}),
        **({"skipped": dict(result.skipped)} if result.skipped else {}),
    }


def _timing(result: RunResult) -> dict[str, Any]:
    return {
        "rows_this_run": result.rows_this_run,
        "resumed_from_row": result.resumed_from_row,
        "workers": result.workers,
        "wall_seconds": result.wall_seconds,
        "rows_per_second": result.rows_per_second,
    }


def label_summary(result: RunResult, schema: ModelSchema) -> dict[str, Any]:
    """Rows, rows labelled, rows per status, and per task: label counts, shares and splits.

    For every multi-label task (topics) each label also gets the split of every single-label
    task (sentiment) and the rate of every binary task (call to action) among its rows.
    """
    counts: Counter[str] = result.counts
    labelled = counts.get(status_key(LabelStatus.OK.value), 0)
    tasks: dict[str, Any] = {}
    others = [t for t in schema.tasks if t.type != "multi_label"]
    for task in schema.tasks:
        if task.type == "multi_label":
            per_label: dict[str, Any] = {}
            for label in task.labels:
                n = counts.get(label_key(task.name, label), 0)
                entry: dict[str, Any] = {"rows": n, "share": _share(n, labelled)}
                for other in others:
                    pair = {v: counts.get(pair_key(task.name, label, other.name, v), 0) for v in other.labels}
                    if other.type == "binary":
                        entry[f"{other.name}_rate"] = _share(pair["true"], n)
                    else:
                        entry[other.name] = {value: _share(k, n) for value, k in pair.items()}
                per_label[label] = entry
            none = counts.get(label_key(task.name, NO_LABEL), 0)
            tasks[task.name] = {
                "type": task.type,
                "labels": per_label,
                "no_label": {"rows": none, "share": _share(none, labelled)},
            }
        elif task.type == "binary":
            true = counts.get(label_key(task.name, "true"), 0)
            tasks[task.name] = {"type": task.type, "true": true, "rate": _share(true, labelled)}
        else:
            split = {label: counts.get(label_key(task.name, label), 0) for label in task.labels}
            tasks[task.name] = {
                "type": task.type,
                "counts": split,
                "shares": {label: _share(n, labelled) for label, n in split.items()},
            }
    return {
        **_run_fields(result, "label"),
        "model": result.annotator_identity,
        "rows_labelled": labelled,
        "status": _statuses(counts),
        "tasks": tasks,
        **_timing(result),
    }


def tokenize_summary(result: RunResult) -> dict[str, Any]:
    """Rows, rows per status, tokens written and timing of a ``tokenize`` run."""
    counts = result.counts
    ok = counts.get(status_key(LabelStatus.OK.value), 0)
    return {
        **_run_fields(result, "tokenize"),
        "rows_tokenized": ok,
        "status": _statuses(counts),
        "tokens": counts.get(TOKENS_KEY, 0),
        "tokens_per_text": counts.get(TOKENS_KEY, 0) / ok if ok else None,
        **_timing(result),
    }


def _pct(share: float | None) -> str:
    """A share as a percentage with one decimal: the only rounding it gets."""
    return "–" if share is None else f"{100 * share:.1f}%"


def _run_line(summary: Mapping[str, Any], verb: str, done_key: str) -> list[str]:
    rate = f"{summary['rows_per_second']:,.1f} rows/s"
    resumed = f", resumed after {summary['resumed_from_row']:,} rows" if summary["resumed_from_row"] else ""
    lines = [
        f"{verb} {summary[done_key]:,} of {summary['rows']:,} rows -> {summary['output']} "
        f"({summary['wall_seconds']:.1f} s, {rate}, {summary['workers']} worker(s){resumed})"
    ]
    problems = {k: v for k, v in summary["status"].items() if k != LabelStatus.OK.value}
    if problems:
        lines.append("not " + verb + ": " + ", ".join(f"{k} {v:,}" for k, v in problems.items()))
    if summary.get("skipped"):
        lines.append("skipped, not rows: " + ", ".join(f"{k} {v:,}" for k, v in summary["skipped"].items()))
    return lines


def render_label_summary(summary: Mapping[str, Any]) -> list[str]:
    """The summary as short lines for stderr."""
    lines = _run_line(summary, "labelled", "rows_labelled")
    for name, task in summary["tasks"].items():
        if task["type"] == "multi_label":
            lines.append(f"{name} (share of labelled rows):")
            width = max([len(label) for label in task["labels"]] + [len(NO_LABEL)])
            for label, entry in task["labels"].items():
                extra = []
                for key, value in entry.items():
                    if isinstance(value, dict):
                        extra.append(f"{key}: " + " ".join(f"{k} {_pct(v)}" for k, v in value.items()))
                    elif key.endswith("_rate"):
                        extra.append(f"{key[: -len('_rate')]}: {_pct(value)}")
                tail = ("   " + " | ".join(extra)) if extra and entry["rows"] else ""
                lines.append(f"  {label:<{width}} {entry['rows']:>9,} {_pct(entry['share']):>7}{tail}")
            none = task["no_label"]
            lines.append(f"  {NO_LABEL:<{width}} {none['rows']:>9,} {_pct(none['share']):>7}")
        elif task["type"] == "binary":
            lines.append(f"{name}: {task['true']:,} rows, {_pct(task['rate'])} of labelled rows")
        else:
            lines.append(
                f"{name}: " + ", ".join(f"{k} {v:,} ({_pct(task['shares'][k])})" for k, v in task["counts"].items())
            )
    return lines


def render_tokenize_summary(summary: Mapping[str, Any]) -> list[str]:
    """The tokenize summary as short lines for stderr."""
    lines = _run_line(summary, "tokenized", "rows_tokenized")
    per_text = summary["tokens_per_text"]
    lines.append(f"tokens: {summary['tokens']:,}" + (f" ({per_text:.2f} per text)" if per_text is not None else ""))
    return lines
