"""``khmer-civic info``: what a model predicts, how it decides, its test scores."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from khmer_civic.cli.common import fmt, handle_errors, load_classifier
from khmer_civic.cli.options import debug_option, model_option


@click.command()
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@debug_option
@handle_errors
def info(model_path: Path | None, as_json: bool) -> None:
    """Describe a model: name, version, tasks, labels, thresholds, temperatures, test metrics; and
    list the bundled models by name."""
    from khmer_civic.text import NORMALIZER_VERSION

    from khmer_civic.model.registry import bundled_models

    classifier = load_classifier(model_path)
    description = classifier.info()
    bundled = [model.to_dict() for model in bundled_models()]
    if as_json:
        description["library_normalizer_version"] = NORMALIZER_VERSION
        description["bundled_models"] = bundled
        click.echo(json.dumps(description, indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(info_lines(description, NORMALIZER_VERSION) + bundled_lines(bundled)))


def bundled_lines(models: list[Mapping[str, Any]]) -> list[str]:
    """The bundled models by name (``--model NAME``), the default marked, missing ones said so."""
    lines = ["bundled models (--model NAME):"]
    for model in models:
        notes = [note for note, on in (("default", model["default"]), ("not installed", not model["installed"])) if on]
        aliases = f" (also {', '.join(model['aliases'])})" if model["aliases"] else ""
        lines.append(f"  {model['name']}{aliases}{' [' + ', '.join(notes) + ']' if notes else ''}: {model['description']}")
        lines.append(f"    {model['directory']}")
    return lines


def info_lines(info: Mapping[str, Any], library_normalizer: int) -> list[str]:
    """The human-readable form of ``CivicClassifier.info()``."""
    lines = [
        f"model:       {info['name']} {info['version']}",
        f"path:        {info['path']}",
        f"max length:  {info['max_length']} tokens per window (a new window every {info['window_stride']} tokens)",
        f"normalizer:  version {info['normalizer_version']} (this library: {library_normalizer})",
        "tasks:",
    ]
    for task in info["tasks"]:
        labels = ", ".join(task["labels"])
        if task["type"] == "multi_label":
            rule = "thresholds " + ", ".join(f"{k} {fmt(v)}" for k, v in task.get("thresholds", {}).items())
        elif task["type"] == "binary":
            rule = f"true when p >= {fmt(task.get('threshold', 0.5))}"
        else:
            rule = "the most probable label"
        given = task.get("given")
        if given:
            rule += (
                f", at least the most probable label, only when {given['task']} is {given['label']}"
                " (otherwise no label)"
            )
        lines.append(f"  {task['name']} ({task['type']}): {labels}")
        lines.append(f"    decision: {rule}; temperature {fmt(task['temperature'])}")
    return lines + metric_lines(info.get("metrics"))


def metric_lines(metrics: Mapping[str, Any] | None) -> list[str]:
    """Test-set figures when metrics.json has a ``test`` evaluation, else its plain values."""
    if not metrics:
        return ["metrics: none (the model directory has no metrics.json)"]
    test = metrics.get("test")
    if isinstance(test, Mapping) and isinstance(test.get("tasks"), Mapping):
        return _test_lines(test)
    lines = ["metrics (metrics.json has no test evaluation):"]

    def walk(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, Mapping) and depth < 4:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner, depth + 1)
        elif not isinstance(value, (list, Mapping)):
            lines.append(f"  {prefix}: {fmt(value)}")

    walk("", metrics, 0)
    return lines


def _test_lines(test: Mapping[str, Any]) -> list[str]:
    lines = [f"test metrics: {test.get('n_texts', '?')} texts, mean macro-F1 {fmt(test.get('mean_macro_f1'))}"]
    for name, task in test["tasks"].items():
        figures = [f"n {task.get('n', '?')}"]
        for key, label in (("macro", "macro-F1"), ("micro", "micro-F1")):
            if isinstance(task.get(key), Mapping) and "f1" in task[key]:
                figures.append(f"{label} {fmt(task[key]['f1'])}")
        for key in ("accuracy", "exact_match", "ece"):
            if key in task:
                figures.append(f"{key.replace('_', ' ')} {fmt(task[key])}")
        lines.append(f"  {name}: " + ", ".join(figures))
        for label, m in (task.get("labels") or {}).items():
            if isinstance(m, Mapping):
                lines.append(
                    f"    {label}: precision {fmt(m.get('precision'))}, recall {fmt(m.get('recall'))}, "
                    f"F1 {fmt(m.get('f1'))}, support {m.get('support', '?')}"
                )
    return lines
