"""Metrics, reports and the model card, from gold records and predicted probabilities.

:func:`evaluate_predictions` is the one place metrics are computed: the trainer's dev and test
figures, the baseline comparison, ``khmer-civic evaluate`` and MODEL_CARD.md all go through it.
Decisions come from the runtime's rule (:func:`khmer_civic.model.runtime.schema_decisions`, which the
classifier uses too): multi_label labels with probability >= their threshold, the most probable single_label label,
binary ``True`` when p(true) >= the threshold; a dependent task (``given``, e.g. cta_type given call_to_action
true) only where the parent's predicted decision holds, then at least its most probable label. A gold value of
``null`` (not annotated) removes that record from that task's figures only, and a dependent task is scored only on
records whose gold parent value holds (gold call-to-action records), as :func:`~khmer_civic.train.data.task_targets`
masks them.

Per task: precision, recall, F1 and support per label; macro and micro averages (for
single_label and binary tasks micro-F1 equals accuracy); confusion matrices (``k x k`` for
single_label, a 2x2 table per label for multi_label and binary); expected calibration error and
the reliability table behind the diagram. Optionally the same per group (e.g. ``provenance``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from khmer_civic.genres import DERIVED_GROUPS
from khmer_civic.model.config import MODEL_CARD_NAME, load_config
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE
from khmer_civic.model.runtime import decisions, schema_decisions
from khmer_civic.schema import ModelSchema, TaskSpec
from khmer_civic.train.calibrate import expected_calibration_error, reliability_table
from khmer_civic.train.data import task_targets


def _prf(tp: float, fp: float, fn: float) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _binary_counts(y: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    return {
        "tp": int(((y == 1) & (pred == 1)).sum()),
        "fp": int(((y == 0) & (pred == 1)).sum()),
        "fn": int(((y == 1) & (pred == 0)).sum()),
        "tn": int(((y == 0) & (pred == 0)).sum()),
    }


def task_metrics(
    targets: np.ndarray,
    mask: np.ndarray,
    probs: np.ndarray,
    task: TaskSpec,
    n_bins: int = 10,
    decided: np.ndarray | None = None,
) -> dict[str, Any]:
    """All figures of one task on the annotated rows (``mask`` 1); ``decided``: every row's decisions
    (default: :func:`decisions` of ``probs``; a dependent task's come from :func:`schema_decisions`)."""
    keep = np.asarray(mask) > 0
    n = int(keep.sum())
    out: dict[str, Any] = {"type": task.type, "n": n}
    if n == 0:
        return out
    y = np.asarray(targets)[keep]
    p = np.asarray(probs, dtype=np.float64)[keep]
    pred = decisions(p, task) if decided is None else np.asarray(decided)[keep]
    labels: dict[str, dict[str, float]] = {}
    if task.type == "single_label":
        k = len(task.labels)
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (y.astype(np.int64), pred), 1)
        for j, label in enumerate(task.labels):
            tp = matrix[j, j]
            labels[label] = {
                **_prf(tp, matrix[:, j].sum() - tp, matrix[j, :].sum() - tp),
                "support": int(matrix[j].sum()),
            }
        accuracy = float(np.trace(matrix) / n)
        out["confusion"] = {
            "labels": list(task.labels),
            "matrix": matrix.tolist(),
            "rows": "gold",
            "columns": "predicted",
        }
        out["micro"] = {"precision": accuracy, "recall": accuracy, "f1": accuracy}
        out["accuracy"] = accuracy
    else:
        if task.type == "binary":
            yb = y.reshape(-1).astype(np.int64)
            pb = pred.reshape(-1)
            cols = {"false": (1 - yb, 1 - pb), "true": (yb, pb)}
        else:
            yb = y.astype(np.int64)
            cols = {label: (yb[:, j], pred[:, j]) for j, label in enumerate(task.labels)}
        confusion = {}
        totals = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        for label, (yy, pp) in cols.items():
            counts = _binary_counts(yy, pp)
            confusion[label] = counts
            labels[label] = {**_prf(counts["tp"], counts["fp"], counts["fn"]), "support": int(yy.sum())}
            for key in totals:
                totals[key] += counts[key]
        if task.type == "binary":
            accuracy = float((yb == pb).mean())
            out["micro"] = {"precision": accuracy, "recall": accuracy, "f1": accuracy}
            out["accuracy"] = accuracy
            out["confusion"] = {
                "labels": ["false", "true"],
                "matrix": [
                    [confusion["true"]["tn"], confusion["true"]["fp"]],
                    [confusion["true"]["fn"], confusion["true"]["tp"]],
                ],
                "rows": "gold",
                "columns": "predicted",
            }
        else:
            out["micro"] = _prf(totals["tp"], totals["fp"], totals["fn"])
            out["exact_match"] = float((pred == yb).all(axis=1).mean())
            out["confusion"] = confusion
    out["labels"] = labels
    out["macro"] = {key: float(np.mean([m[key] for m in labels.values()])) for key in ("precision", "recall", "f1")}
    out["ece"] = expected_calibration_error(probs, targets, mask, task, n_bins)
    out["reliability"] = reliability_table(probs, targets, mask, task, n_bins)
    return out


def _group_values(records: Sequence[Any], groups: Sequence[Any] | str | None) -> list[str] | None:
    if groups is None:
        return None
    if isinstance(groups, str) and groups in DERIVED_GROUPS:
        return [DERIVED_GROUPS[groups](r) for r in records]
    if isinstance(groups, str):
        return [str(r.get(groups)) if r.get(groups) is not None else "(none)" for r in records]
    if len(groups) != len(records):
        raise ValueError(f"{len(groups)} group values for {len(records)} records")
    return [str(g) if g is not None else "(none)" for g in groups]


def evaluate_predictions(
    gold: Sequence[Any],
    probs: Mapping[str, np.ndarray],
    schema: ModelSchema,
    *,
    groups: Sequence[Any] | str | None = None,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Metrics of predicted probabilities against gold records, overall and per group.

    ``gold``: records with a field per task (LABELS.md format: dicts, or
    :class:`~khmer_civic.train.data.Example`); ``probs``: per task ``[N, n_labels]`` (binary:
    ``[N]`` or ``[N, 1]``, p(true)); ``schema``: labels and thresholds; ``groups``: a field
    name (e.g. ``"provenance"``), ``"genre"`` (:func:`khmer_civic.genres.genre_of`, not the field of
    that name) or one group value per record.
    """
    result = _evaluate(gold, probs, schema, n_bins)
    values = _group_values(gold, groups)
    if values is not None:
        by_group: dict[str, Any] = {}
        for value in sorted(set(values)):
            idx = [i for i, v in enumerate(values) if v == value]
            sub_gold = [gold[i] for i in idx]
            sub_probs = {name: np.asarray(p)[idx] for name, p in probs.items()}
            by_group[value] = _evaluate(sub_gold, sub_probs, schema, n_bins)
        result["groups"] = by_group
    return result


def _evaluate(gold: Sequence[Any], probs: Mapping[str, np.ndarray], schema: ModelSchema, n_bins: int) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    shaped: dict[str, np.ndarray] = {}
    for task in schema.tasks:
        p = np.asarray(probs[task.name], dtype=np.float64)
        if task.type == "binary":
            p = p.reshape(len(gold), 1)
        if len(p) != len(gold):
            raise ValueError(f"task {task.name!r}: {len(p)} prediction rows for {len(gold)} records")
        shaped[task.name] = p
    decided = schema_decisions(shaped, schema)
    for task in schema.tasks:
        targets, mask = task_targets(gold, task)
        tasks[task.name] = task_metrics(targets, mask, shaped[task.name], task, n_bins, decided[task.name])
    macro = [t["macro"]["f1"] for t in tasks.values() if "macro" in t]
    return {
        "n_texts": len(gold),
        "tasks": tasks,
        "mean_macro_f1": float(np.mean(macro)) if macro else float("nan"),
    }


def summarize(result: Mapping[str, Any]) -> dict[str, Any]:
    """A short form of an evaluation result: averages and per-label figures, no plots or groups."""
    tasks = {}
    for name, m in result["tasks"].items():
        keep = ("type", "n", "macro", "micro", "accuracy", "exact_match", "ece")
        tasks[name] = {k: m[k] for k in keep if k in m}
        if "labels" in m:
            tasks[name]["labels"] = {label: dict(row) for label, row in m["labels"].items()}
    return {"n_texts": result["n_texts"], "mean_macro_f1": result["mean_macro_f1"], "tasks": tasks}


def selection_score(result: Mapping[str, Any]) -> float:
    """The number early stopping maximises: the mean over tasks of macro-F1."""
    value = result.get("mean_macro_f1", float("nan"))
    return float(value) if value == value else 0.0


# ------------------------------------------------------------------------------ reports


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "–" if math.isnan(x) else f"{x:.3f}"
    return str(x)


def markdown_tables(result: Mapping[str, Any], images: Mapping[str, str] | None = None) -> str:
    """Markdown tables (per-label figures, averages, confusion, ECE) of one evaluation result."""
    lines: list[str] = []
    for name, m in result["tasks"].items():
        lines.append(f"### {name} ({m['type']}, {m['n']} annotated texts)\n")
        if not m.get("n"):
            lines.append("No annotated text.\n")
            continue
        lines.append("| label | precision | recall | F1 | support |")
        lines.append("|---|---:|---:|---:|---:|")
        for label, row in m["labels"].items():
            lines.append(
                f"| {label} | {_fmt(row['precision'])} | {_fmt(row['recall'])} | {_fmt(row['f1'])} | {row['support']} |"
            )
        for avg in ("macro", "micro"):
            row = m[avg]
            lines.append(f"| *{avg}* | {_fmt(row['precision'])} | {_fmt(row['recall'])} | {_fmt(row['f1'])} | |")
        lines.append("")
        extra = [f"ECE {_fmt(m['ece'])}"]
        if "accuracy" in m:
            extra.append(f"accuracy {_fmt(m['accuracy'])}")
        if "exact_match" in m:
            extra.append(f"exact match {_fmt(m['exact_match'])}")
        lines.append(", ".join(extra) + ".\n")
        conf = m["confusion"]
        if "matrix" in conf:
            lines.append("Confusion (rows gold, columns predicted):\n")
            lines.append("| gold \\ predicted | " + " | ".join(conf["labels"]) + " |")
            lines.append("|---|" + "---:|" * len(conf["labels"]))
            for label, row in zip(conf["labels"], conf["matrix"]):
                lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
        else:
            lines.append("Per-label confusion:\n")
            lines.append("| label | TP | FP | FN | TN |")
            lines.append("|---|---:|---:|---:|---:|")
            for label, c in conf.items():
                lines.append(f"| {label} | {c['tp']} | {c['fp']} | {c['fn']} | {c['tn']} |")
        lines.append("")
        if images and name in images:
            lines.append(f"![reliability diagram of {name}]({images[name]})\n")
    groups = result.get("groups")
    if groups:
        names = list(result["tasks"])
        lines.append("### Macro-F1 per group\n")
        lines.append("| group | texts | " + " | ".join(names) + " |")
        lines.append("|---|---:|" + "---:|" * len(names))
        for group, g in groups.items():
            cells = [_fmt(g["tasks"][n].get("macro", {}).get("f1", float("nan"))) for n in names]
            lines.append(f"| {group} | {g['n_texts']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def reliability_diagram(task_result: Mapping[str, Any], path: str | Path, title: str) -> Path:
    """Save a reliability diagram (bar per bin: observed accuracy vs mean confidence) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = task_result["reliability"]
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    try:
        centres = [(r["lower"] + r["upper"]) / 2 for r in rows]
        width = rows[0]["upper"] - rows[0]["lower"]
        acc = [r["accuracy"] if r["count"] else 0.0 for r in rows]
        ax.bar(centres, acc, width=width * 0.9, color="#4c72b0", edgecolor="black", label="observed")
        ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_title(f"{title}\nECE {_fmt(task_result.get('ece', float('nan')))}", fontsize=9)
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _json_ready(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, Mapping):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_ready(obj.item())
    return obj


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON (NaN becomes null) with a trailing newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_ready(obj), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_report(
    result: Mapping[str, Any], out_dir: str | Path, *, title: str, stem: str = "evaluation"
) -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and one reliability PNG per task into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}
    for name, m in result["tasks"].items():
        if m.get("n"):
            png = reliability_diagram(m, out / f"{stem}-reliability-{name}.png", f"{title}: {name}")
            images[name] = png.name
    paths = {"json": write_json(result, out / f"{stem}.json")}
    md = f"# {title}\n\n{result['n_texts']} texts; mean macro-F1 over tasks {_fmt(result['mean_macro_f1'])}.\n\n"
    md += markdown_tables(result, images)
    paths["markdown"] = out / f"{stem}.md"
    paths["markdown"].write_text(md, encoding="utf-8")
    paths.update({f"png_{k}": out / v for k, v in images.items()})
    return paths


_BATCHING_NOTE = {
    "per_window": "Each window is scored alone (batching `per_window`): a text gets the same scores whatever "
    "else is labelled with it, in whatever batch size or order.",
    "padded": "Windows are scored in length-sorted padded batches (batching `padded`); each row is scored "
    "independently of the others in its batch.",
}


def _task_rule_row(task: TaskSpec) -> str:
    """One row of the model card's "Tasks and decision rules" table."""
    if task.type == "multi_label":
        thr = ", ".join(f"{lab} {task.threshold_for(lab):.3f}" for lab in task.labels)
    elif task.type == "binary":
        thr = f"true if p >= {task.threshold:.3f}"
    else:
        thr = "most probable label"
    if task.given is not None:
        thr += f"; only when {task.given.task} is {task.given.label} (then at least the most probable label)"
    return f"| {task.name} | {task.type} | {', '.join(task.labels)} | {task.temperature:.3f} | {thr} |"


def write_model_card(model_dir: str | Path, metrics: Mapping[str, Any], *, description: str | None = None) -> Path:
    """Fill MODEL_CARD.md in ``model_dir`` from its config.json and ``metrics`` (metrics.json).

    ``metrics`` is what the trainer writes: ``test`` and ``dev`` evaluation results (from
    :func:`evaluate_predictions`), ``calibration``, ``agreement``, ``training``, ``data`` and
    optionally ``baseline``; missing parts are left out of the card.
    """
    model_dir = Path(model_dir)
    config = load_config(model_dir)
    lines = [f"# {config.name} {config.version}", ""]
    lines.append(
        description
        or "Predicts civic topics, sentiment and calls to action in Khmer Facebook posts and comments "
        "about public services (label definitions: LABELS.md). Runs on CPU with onnxruntime (int8)."
    )
    lines += [
        "",
        "## Tasks and decision rules",
        "",
        "| task | type | labels | temperature | thresholds |",
        "|---|---|---|---:|---|",
    ]
    lines += [_task_rule_row(task) for task in config.schema.tasks]
    lines += [
        "",
        f"Texts are normalised (normaliser version {config.normalizer_version}) and cut into windows of "
        f"{config.max_length} tokens (stride {config.window_stride}); long texts take the maximum probability "
        "over windows for topics and calls to action, the length-weighted mean for sentiment.",
        "",
        _BATCHING_NOTE.get(config.batching, ""),
        "",
    ]
    training = metrics.get("training") or {}
    if training:
        lines += ["## Training", ""]
        for key in ("base_model", "num_layers", "best_step", "steps", "epochs", "seconds", "seed"):
            if key in training:
                lines.append(f"- {key.replace('_', ' ')}: {training[key]}")
        lines.append("")
    data = metrics.get("data") or {}
    if data:
        lines += ["## Data", "", "| split | texts | provenance |", "|---|---:|---|"]
        for split, s in data.items():
            prov = ", ".join(f"{k} {v}" for k, v in s.get("provenance", {}).items()) or "–"
            lines.append(f"| {split} | {s.get('records', 0)} | {prov} |")
        lines.append("")
    for split in ("test", "dev"):
        result = metrics.get(split)
        if result:
            lines += [
                f"## Results on {split}",
                "",
                f"{result['n_texts']} texts; mean macro-F1 {_fmt(result['mean_macro_f1'])}.",
                "",
            ]
            dependent = [t for t in config.schema.tasks if t.given is not None]
            lines += [
                f"{t.name} is scored on the texts whose gold {t.given.task} is {t.given.label}, with the "
                f"decision rule above (no label where the predicted {t.given.task} is not {t.given.label}).\n"
                for t in dependent
                if t.given is not None
            ]
            lines.append(markdown_tables(result))
            break
    baseline = metrics.get("baseline")
    if baseline and baseline.get("test"):
        lines += ["## Baseline (TF-IDF character n-grams + logistic regression), same test set", ""]
        lines.append("| task | model macro-F1 | baseline macro-F1 |")
        lines.append("|---|---:|---:|")
        ours = (metrics.get("test") or {}).get("tasks", {})
        for name, m in baseline["test"]["tasks"].items():
            model_f1 = ours.get(name, {}).get("macro", {}).get("f1", float("nan"))
            base_f1 = m.get("macro", {}).get("f1", float("nan"))
            lines.append(f"| {name} | {_fmt(model_f1)} | {_fmt(base_f1)} |")
        lines.append("")
    calibration = metrics.get("calibration")
    if calibration:
        on_test = metrics.get("calibration_test") or {}
        lines += [
            "## Calibration (temperature fitted on dev)",
            "",
            "| task | temperature | dev ECE before | dev ECE after | dev NLL before | dev NLL after "
            "| test ECE before | test ECE after |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, c in calibration.items():
            t = on_test.get(name, {})
            lines.append(
                f"| {name} | {_fmt(c['temperature'])} | {_fmt(c['ece_before'])} | {_fmt(c['ece_after'])} | "
                f"{_fmt(c['nll_before'])} | {_fmt(c['nll_after'])} | {_fmt(t.get('ece_before', float('nan')))} | "
                f"{_fmt(t.get('ece_after', float('nan')))} |"
            )
        lines.append("")
    agreement = metrics.get("agreement")
    if agreement:
        lines += [
            f"## int8 ONNX vs the fp32 torch model ({agreement.get('n_texts', 0)} texts)",
            "",
            "| task | same decision | max abs probability difference |",
            "|---|---:|---:|",
        ]
        for name, a in agreement.get("tasks", {}).items():
            lines.append(f"| {name} | {_fmt(a['decision_agreement'])} | {_fmt(a['max_abs_prob_diff'])} |")
        lines.append("")
    lines += [
        "## Limitations",
        "",
        "- Trained on a small annotated set: figures on other pages, periods or genres can be lower.",
        "- Khmer written in Latin letters (romanised) and code-mixed text are rarer in training than Khmer script.",
        "- Scores are calibrated on dev data; on text unlike it the probabilities are less reliable.",
        "",
    ]
    path = model_dir / MODEL_CARD_NAME
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def evaluate_model_dir(
    model_dir: str | Path,
    files: Sequence[str | Path],
    out_dir: str | Path | None = None,
    *,
    group_field: str | None = "provenance",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, Any]:
    """Score annotated files with an exported model (the inference path) and evaluate.

    Used by ``khmer-civic evaluate``. Tasks and labels come from the model's config.json; a
    task missing from the files is simply not annotated. Writes a report when ``out_dir`` is set.
    """
    from khmer_civic.model.classifier import CivicClassifier
    from khmer_civic.train.data import TaskConfig, read_examples

    classifier = CivicClassifier.load(model_dir)
    schema = classifier.schema
    tasks = [TaskConfig(t.name, t.type) for t in schema.tasks]
    examples = read_examples(files, tasks)
    probs = classifier_probabilities(classifier, [ex.text for ex in examples], batch_size)
    result = evaluate_predictions(examples, probs, schema, groups=group_field)
    if out_dir is not None:
        write_report(result, out_dir, title=f"{classifier.config.name} on {', '.join(Path(f).name for f in files)}")
    return result


def classifier_probabilities(
    classifier: Any, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, np.ndarray]:
    """Per-task probability matrices from a CivicClassifier (binary: p(true) in one column)."""
    scores = classifier.predict_proba(list(texts), batch_size=batch_size)
    out: dict[str, np.ndarray] = {}
    for task in classifier.schema.tasks:
        cols = ["true"] if task.type == "binary" else list(task.labels)
        out[task.name] = np.array(
            [[s.get(task.name, {}).get(c, float("nan")) for c in cols] for s in scores], dtype=np.float64
        )
    return out
