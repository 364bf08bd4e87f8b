"""Does averaging several trained models score higher than each alone? (issue 13: a seed ensemble)

Scores the dev and test splits with each model directory through the inference path
(``CivicClassifier``, int8 ONNX), averages the members' calibrated probabilities for every
combination of two or more members, and tunes the average's thresholds on dev the way the
trainer tunes a model's (:func:`khmer_civic.train.calibrate.tune_task_thresholds`: a label gets its
own threshold only with enough dev positives, pulled toward 0.5). Each member keeps its own
shipped thresholds. Reports mean macro-F1 over the tasks on dev and test, overall and per part
of the data (``part``: :func:`khmer_civic.genres.part_of`), for members and ensembles alike, the way
benchmarks/accuracy.py scores a model.

Reads the project's splits (training/data/splits, in the repository) and model directories
that must share their tasks and labels (for example the runs of one recipe with other seeds;
those are not in the repository: pass their paths)::

    python benchmarks/seed_ensemble.py --models models/khmer-civic-e5-small <run A model> <run B model> \\
        --out benchmarks/results/seed_ensemble.json

Dev figures are scored on the texts that chose the thresholds (the members' at their export, the
ensembles' here), so they flatter every row alike; test is the comparison to read.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import common
from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.schema import ModelSchema
from khmer_civic.train.calibrate import tune_task_thresholds
from khmer_civic.train.data import TaskConfig, load_annotations, task_targets
from khmer_civic.train.evaluate import classifier_probabilities, evaluate_predictions

Probabilities = dict[str, np.ndarray]


def mean_probabilities(members: Sequence[Mapping[str, np.ndarray]]) -> Probabilities:
    """The members' probabilities averaged task by task (same tasks, same shapes)."""
    return {task: np.mean([np.asarray(m[task], dtype=np.float64) for m in members], axis=0) for task in members[0]}


def tune_thresholds(schema: ModelSchema, probs: Mapping[str, np.ndarray], dev: Sequence[Any]) -> ModelSchema:
    """``schema`` with the thresholds of its multi-label and binary tasks chosen on ``dev``, as the
    trainer chooses a model's (:func:`khmer_civic.train.calibrate.tune_task_thresholds`)."""
    tasks = tuple(tune_task_thresholds(task, probs[task.name], *task_targets(dev, task))[0] for task in schema.tasks)
    return dataclasses.replace(schema, tasks=tasks)


def scores(records: Sequence[Mapping[str, Any]], probs: Mapping[str, np.ndarray], schema: ModelSchema) -> dict[str, Any]:
    """Mean macro-F1 overall and per part, and each task's macro-F1 overall and per part."""
    result = evaluate_predictions(records, probs, schema, groups="part")
    scopes = {"overall": result, **result["groups"]}
    return {
        scope: {
            "mean_macro_f1": r["mean_macro_f1"],
            "tasks": {name: t["macro"]["f1"] for name, t in r["tasks"].items() if "macro" in t},
            "cta_type_micro_f1": r["tasks"].get("cta_type", {}).get("micro", {}).get("f1"),
        }
        for scope, r in scopes.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="two or more model directories")
    parser.add_argument("--splits", type=Path, default=common.DEFAULT_SPLITS_DIR, help="dir with train/dev/test.jsonl")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if len(args.models) < 2:
        parser.error("--models: give at least two model directories")
    members: dict[str, dict[str, Any]] = {}
    dev: list[Any] = []
    test: list[Any] = []
    for path in args.models:
        started = time.perf_counter()
        classifier = CivicClassifier.load(path)
        if not members:  # the splits, read with the first model's tasks and labels (as accuracy.py reads them)
            tasks = [TaskConfig(t.name, t.type, t.labels) for t in classifier.schema.tasks]
            files = [[args.splits / f"{name}.jsonl"] for name in ("train", "dev", "test")]
            data = load_annotations(*files, tasks=tasks)
            dev, test = data["dev"], data["test"]
        label = f"{path.name} {classifier.config.version}"
        members[label] = {
            "schema": classifier.schema,
            "dev": classifier_probabilities(classifier, [ex.text for ex in dev]),
            "test": classifier_probabilities(classifier, [ex.text for ex in test]),
        }
        print(f"scored {label}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    names = list(members)
    first = members[names[0]]["schema"]
    for name in names[1:]:
        other = members[name]["schema"]
        if [(t.name, t.labels) for t in other.tasks] != [(t.name, t.labels) for t in first.tasks]:
            parser.error(f"--models: {name} has other tasks or labels than {names[0]}")

    rows: list[dict[str, Any]] = []
    for name in names:
        m = members[name]
        rows.append({"models": [name], "dev": scores(dev, m["dev"], m["schema"]), "test": scores(test, m["test"], m["schema"])})
    for size in range(2, len(names) + 1):
        for combo in itertools.combinations(names, size):
            dev_probs = mean_probabilities([members[n]["dev"] for n in combo])
            test_probs = mean_probabilities([members[n]["test"] for n in combo])
            schema = tune_thresholds(first, dev_probs, dev)
            rows.append({"models": list(combo), "dev": scores(dev, dev_probs, schema), "test": scores(test, test_probs, schema)})

    print("| models | dev mean | test mean | test news_web | test authored | test per task: " + " / ".join(t.name for t in first.tasks) + " |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        test_scores = row["test"]
        tasks = " / ".join(f"{test_scores['overall']['tasks'][t.name]:.3f}" for t in first.tasks)
        print(
            f"| {' + '.join(row['models'])} | {row['dev']['overall']['mean_macro_f1']:.3f} "
            f"| {test_scores['overall']['mean_macro_f1']:.3f} | {test_scores.get('news_web', {}).get('mean_macro_f1', float('nan')):.3f} "
            f"| {test_scores.get('authored', {}).get('mean_macro_f1', float('nan')):.3f} | {tasks} |"
        )
    if args.out:
        payload = {
            "benchmark": "seed_ensemble",
            "command": "python benchmarks/seed_ensemble.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "machine": common.machine_info(),
            "splits": common.relative(args.splits),
            "rows": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"results: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
