"""Test-split accuracy: the shipped transformer (int8 ONNX) against the TF-IDF baseline.

    python benchmarks/accuracy.py [--model models/khmer-civic-e5-small] [--splits training/data/splits]

The transformer is scored through ``CivicClassifier`` (what users run); the baseline is
:class:`khmer_civic.train.baseline.TfidfBaseline`, fitted on the train split with its thresholds
chosen on dev, exactly as the training recipe fits it. Both are scored by
:func:`khmer_civic.train.evaluate.evaluate_predictions`, so the transformer's figures are the
model card's (the script checks them against the model's metrics.json and says so). Reported per
task: macro-F1, and F1 per label; overall, per part (``news_web``, ``authored``, ``reference``:
:func:`khmer_civic.genres.part_of`), per genre (:func:`khmer_civic.genres.genre_of`) and on the
round-1 test texts (``round1``: the ids in ``<splits>/round1_ids.json``, the test split earlier
models were measured on), with transformer − baseline differences.

Writes ``benchmarks/results/accuracy.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import common
import numpy as np

GROUPINGS: tuple[str, ...] = ("part", "genre")  # khmer_civic.genres.DERIVED_GROUPS; their names do not collide
ROUND1_SCOPE = "round1"
SYSTEMS: tuple[str, str] = ("transformer", "baseline")


def eval_batch_size(model_dir: Path, default: int = 64) -> int:
    """The batch size the training recipe scored test with (int8 activations are quantised per
    batch, so the same batches give the same figures to the last digit)."""
    metrics = model_dir / "metrics.json"
    if metrics.is_file():
        config = json.loads(metrics.read_text(encoding="utf-8")).get("training", {}).get("config", {})
        if isinstance(config.get("eval_batch_size"), int):
            return int(config["eval_batch_size"])
    return default


def recipe_seed(model_dir: Path, default: int = 13) -> int:
    """The seed the recipe gave the baseline (metrics.json), ``default`` when unknown."""
    metrics = model_dir / "metrics.json"
    if metrics.is_file():
        training = json.loads(metrics.read_text(encoding="utf-8")).get("training", {})
        seed = training.get("seed", (training.get("config") or {}).get("seed"))
        if isinstance(seed, int):
            return seed
    return default


def compact(result: Mapping[str, Any]) -> dict[str, Any]:
    """Macro/micro figures and per-label F1 of an evaluation, overall and per group."""

    def one(r: Mapping[str, Any]) -> dict[str, Any]:
        tasks = {}
        for name, m in r["tasks"].items():
            if "macro" not in m:
                tasks[name] = {"n": m.get("n", 0)}
                continue
            tasks[name] = {
                "n": m["n"],
                "macro_f1": m["macro"]["f1"],
                "micro_f1": m["micro"]["f1"],
                "labels": {label: {"f1": v["f1"], "support": v["support"]} for label, v in m["labels"].items()},
            }
        return {"n_texts": r["n_texts"], "mean_macro_f1": r["mean_macro_f1"], "tasks": tasks}

    out = {"overall": one(result)}
    for group, r in sorted(result.get("groups", {}).items()):
        out[group] = one(r)
    return out


def check_against_card(model_dir: Path, transformer: Mapping[str, Any]) -> dict[str, Any]:
    """Largest gap between these macro-F1 figures and the test figures in the model's metrics.json."""
    path = model_dir / "metrics.json"
    if not path.is_file():
        return {"checked": False, "why": "the model has no metrics.json"}
    card = json.loads(path.read_text(encoding="utf-8")).get("test")
    if not card:
        return {"checked": False, "why": "metrics.json has no test figures"}
    gaps = []
    scopes = {"overall": card, **card.get("groups", {})}
    for scope, figures in scopes.items():
        ours = transformer.get(scope)
        if ours is None:
            continue
        for name, m in figures.get("tasks", {}).items():
            if "macro" in m and "macro_f1" in ours["tasks"].get(name, {}):
                gaps.append(abs(m["macro"]["f1"] - ours["tasks"][name]["macro_f1"]))
    same_n = card.get("n_texts") == transformer["overall"]["n_texts"]
    return {
        "checked": True,
        "card_n_texts": card.get("n_texts"),
        "same_texts": same_n,
        "max_abs_macro_f1_gap": max(gaps) if gaps else None,
        "matches": bool(same_n and gaps and max(gaps) < 1e-9),
    }


def scope_rows(results: Mapping[str, Mapping[str, Any]], scopes: Sequence[str]) -> list[list[str]]:
    """One row per scope: texts, then transformer / baseline / Δ for the mean macro-F1 and each task's macro-F1."""
    transformer, baseline = results["transformer"], results["baseline"]
    tasks = [name for name, m in transformer["overall"]["tasks"].items() if "macro_f1" in m]
    rows = []
    for scope in scopes:
        t, b = transformer[scope], baseline[scope]
        row = [scope, common.fmt(t["n_texts"])]
        pairs = [(t["mean_macro_f1"], b["mean_macro_f1"])]
        pairs += [(t["tasks"].get(n, {}).get("macro_f1"), b["tasks"].get(n, {}).get("macro_f1")) for n in tasks]
        for a, c in pairs:
            diff = None if a is None or c is None else a - c
            row.append(f"{common.fmt(a, 3)} / {common.fmt(c, 3)} ({'–' if diff is None else f'{diff:+.3f}'})")
        rows.append(row)
    return rows


def label_rows(results: Mapping[str, Mapping[str, Any]], scopes: Sequence[str]) -> list[list[str]]:
    """Transformer F1 (baseline F1) per scope: for multi-label and multi-class tasks their micro-F1 and
    one row per label, for binary tasks one row for ``true``."""
    transformer, baseline = results["transformer"], results["baseline"]
    rows = []
    for name, m in transformer["overall"]["tasks"].items():
        labels = m.get("labels", {})
        if not labels:
            continue
        if len(labels) > 2:  # multi-label and multi-class tasks: their micro-F1 too
            row = [f"{name} · micro-F1"]
            for scope in scopes:
                t = transformer[scope]["tasks"].get(name, {})
                c = baseline[scope]["tasks"].get(name, {})
                row.append(f"{common.fmt(t.get('micro_f1'), 3)} ({common.fmt(c.get('micro_f1'), 3)})" if t else "–")
            rows.append(row)
        shown = list(labels) if len(labels) > 2 else [label for label in labels if label == "true"]
        for label in shown:
            row = [f"{name} · {label}"]
            for scope in scopes:
                t = transformer[scope]["tasks"].get(name, {}).get("labels", {}).get(label, {})
                c = baseline[scope]["tasks"].get(name, {}).get("labels", {}).get(label, {})
                row.append(
                    f"{common.fmt(t.get('f1'), 3)} ({common.fmt(c.get('f1'), 3)}) n={t.get('support', 0)}"
                    if t else "–"
                )
            rows.append(row)
    return rows


def small_samples(results: Mapping[str, Mapping[str, Any]], scopes: Sequence[str], below: int = 30) -> list[str]:
    """Labels with fewer than ``below`` gold examples in some scope (their F1 moves a lot with one text)."""
    notes = []
    for scope in scopes:
        for name, m in results["transformer"][scope]["tasks"].items():
            for label, figures in m.get("labels", {}).items():
                if len(m["labels"]) > 2 and figures["support"] < below:
                    notes.append(f"{scope} {name} · {label}: {figures['support']} texts")
    return notes


def markdown_report(report: Mapping[str, Any]) -> str:
    results = report["results"]
    scopes = ["overall", *[s for s in results["transformer"] if s != "overall"]]
    tasks = [name for name, m in results["transformer"]["overall"]["tasks"].items() if "macro_f1" in m]
    check = report["model_card_check"]
    check_line = (
        f"Transformer figures match the model's metrics.json: {'yes' if check.get('matches') else 'NO'}"
        f" (largest macro-F1 gap {common.fmt(check.get('max_abs_macro_f1_gap'), 6)})."
        if check.get("checked")
        else f"Not checked against metrics.json: {check.get('why')}."
    )
    label_scopes = [s for s in ("overall", "news_web", "authored", ROUND1_SCOPE) if s in results["transformer"]]
    few = small_samples(results, label_scopes)
    few_line = f"\n\nFewer than 30 gold examples (F1 unstable): {'; '.join(few)}." if few else ""
    return (
        f"{common.machine_line(report['machine'])}\n\n"
        f"Test split `{report['test_file']}`: transformer = `{report['model']}` "
        f"({report['model_name']} {report['model_version']}, int8 ONNX through CivicClassifier); baseline = TF-IDF "
        f"char 1–4-grams + logistic regression, fitted on train ({report['baseline']['train_texts']} texts, "
        f"{report['baseline']['fit_s']:.1f} s), thresholds on dev. Cells: transformer / baseline (Δ). "
        f"{check_line}\n\n"
        + common.markdown_table(["scope", "texts", "mean macro-F1", *[f"{n} macro-F1" for n in tasks]],
                                scope_rows(results, scopes))
        + "\n\nF1 per label (binary tasks: of `true`) and micro-F1, transformer (baseline):\n\n"
        + common.markdown_table(["label", *label_scopes], label_rows(results, label_scopes))
        + few_line
        + "\n"
    )


def grouped_evaluation(
    test: Sequence[Any], probs: Mapping[str, Any], schema: Any, round1_ids: set[str],
) -> dict[str, Any]:
    """Overall figures with the groups of every grouping in :data:`GROUPINGS` and the round-1 scope."""
    from khmer_civic.train.evaluate import evaluate_predictions

    result = evaluate_predictions(test, probs, schema, groups=GROUPINGS[0])
    for grouping in GROUPINGS[1:]:
        result["groups"].update(evaluate_predictions(test, probs, schema, groups=grouping)["groups"])
    rows = [i for i, ex in enumerate(test) if ex.id in round1_ids]
    if rows:
        subset = {name: np.asarray(p)[rows] for name, p in probs.items()}
        result["groups"][ROUND1_SCOPE] = evaluate_predictions([test[i] for i in rows], subset, schema)
    return result


def run(args: argparse.Namespace) -> int:
    from khmer_civic.model.classifier import CivicClassifier
    from khmer_civic.train.baseline import TfidfBaseline
    from khmer_civic.train.data import TaskConfig, load_annotations
    from khmer_civic.train.evaluate import classifier_probabilities

    model_dir, splits = Path(args.model), Path(args.splits)
    classifier = CivicClassifier.load(model_dir)
    schema = classifier.schema
    tasks = [TaskConfig(t.name, t.type, t.labels) for t in schema.tasks]
    files = {name: splits / f"{name}.jsonl" for name in ("train", "dev", "test")}
    data = load_annotations([files["train"]], [files["dev"]], [files["test"]], tasks=tasks)
    test = data["test"]
    if args.limit:
        test = test[: args.limit]

    batch_size = eval_batch_size(model_dir)
    started = time.perf_counter()
    probs = classifier_probabilities(classifier, [ex.text for ex in test], batch_size)
    transformer_s = time.perf_counter() - started
    round1_ids = common.round1_test_ids(splits) or set()
    transformer = grouped_evaluation(test, probs, schema, round1_ids)

    started = time.perf_counter()
    baseline_model = TfidfBaseline(data.schema, seed=recipe_seed(model_dir)).fit(data["train"], data["dev"])
    fit_s = time.perf_counter() - started
    baseline_probs = baseline_model.predict_proba([ex.text for ex in test])
    baseline = grouped_evaluation(test, baseline_probs, baseline_model.schema, round1_ids)

    results = {"transformer": compact(transformer), "baseline": compact(baseline)}
    differences = {
        scope: {
            "mean_macro_f1": results["transformer"][scope]["mean_macro_f1"] - results["baseline"][scope]["mean_macro_f1"],
            "tasks": {
                name: t["macro_f1"] - results["baseline"][scope]["tasks"][name]["macro_f1"]
                for name, t in results["transformer"][scope]["tasks"].items()
                if "macro_f1" in t and "macro_f1" in results["baseline"][scope]["tasks"].get(name, {})
            },
        }
        for scope in results["transformer"]
        if scope in results["baseline"]
    }
    report = {
        "benchmark": "accuracy",
        "command": "python benchmarks/accuracy.py " + " ".join(sys.argv[1:]),
        "machine": common.machine_info(),
        "model": common.relative(model_dir),
        "model_name": classifier.config.name,
        "model_version": classifier.config.version,
        "test_file": common.relative(files["test"]),
        "groupings": [*GROUPINGS, ROUND1_SCOPE],
        "transformer": {"batch_size": batch_size, "scoring_s": transformer_s, "thresholds": schema.to_list()},
        "baseline": {
            "method": "TF-IDF char_wb 1-4-grams + logistic regression per task/label, thresholds on dev",
            "train_texts": len(data["train"]),
            "dev_texts": len(data["dev"]),
            "fit_s": fit_s,
            "thresholds": baseline_model.schema.to_list(),
        },
        "results": results,
        "differences": differences,
        "model_card_check": check_against_card(model_dir, results["transformer"]) if not args.limit else {
            "checked": False,
            "why": "--limit given",
        },
    }
    path = common.write_results("accuracy", report, args.out)
    print(markdown_report(report))
    print(f"results: {common.relative(path)}", file=sys.stderr)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=common.DEFAULT_MODEL_DIR, help="the int8 model directory")
    parser.add_argument("--splits", type=Path, default=common.DEFAULT_SPLITS_DIR, help="dir with train/dev/test.jsonl")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N test texts (smoke runs)")
    parser.add_argument("--out", type=Path, help="JSON output (default benchmarks/results/accuracy.json)")
    parser.add_argument("--render", type=Path, help="print the Markdown tables of an earlier results JSON and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        print(markdown_report(json.loads(args.render.read_text(encoding="utf-8"))))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
