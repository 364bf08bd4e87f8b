"""The whole recipe: train and export the transformer, fit the baseline, compare them.

:func:`run_recipe` is what ``khmer-civic train`` and ``training/train_model.py`` run (through
:func:`khmer_civic.train.prepare.run_training`), on data already read and validated. It
writes the model directory (via :class:`~khmer_civic.train.trainer.Trainer`) and, into the run
directory, ``comparison.json`` and ``comparison.md``: transformer (int8 ONNX, as shipped) vs the
TF-IDF baseline per task on test, overall and per group (the config's ``report_groups``: provenance or
genre); torch vs int8 agreement; ECE
before and after temperature scaling; model size; single-thread milliseconds per comment.
With ``search_minutes`` the transformer's settings are first chosen by a time-boxed search on dev
(:mod:`khmer_civic.train.search`; its trials are tabled in comparison.md). When the transformer's
dev mean macro-F1 is below the baseline's, comparison.md (and ``khmer-civic train``) says so.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from khmer_civic.model.config import MODEL_NAME
from khmer_civic.train.baseline import TfidfBaseline
from khmer_civic.train.config import TrainConfig
from khmer_civic.train.data import AnnotatedData
from khmer_civic.train.evaluate import summarize, write_json, write_report
from khmer_civic.train.search import run_search, trials_markdown
from khmer_civic.train.trainer import Trainer, TrainResult, require_dev


def run_recipe(
    config: TrainConfig,
    data: AnnotatedData,
    *,
    out_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    baseline: bool = True,
    speed_texts: int = 200,
    group_field: str | None = None,
    search_minutes: float | None = None,
    notify: Any = None,
) -> dict[str, Any]:
    """Train on ``data`` (validated splits), export and compare; returns the comparison (also written
    to the run directory). ``group_field``: the per-group breakdown (default: the config's ``report_groups``).
    ``search_minutes``: first search learning rate x epochs x seed on dev for that long (at least one
    trial); the winner is exported. ``notify`` gets a line per search trial."""
    group_field = group_field or config.report_groups
    require_dev(data)  # fails fast, before the baseline
    run_dir = Path(run_dir)

    extra: dict[str, Any] = {}
    baseline_results: dict[str, Any] = {}
    if baseline:
        started = time.time()
        model = TfidfBaseline(data.schema, seed=config.seed, min_threshold_positives=config.min_threshold_positives).fit(data["train"], data["dev"])
        fit_seconds = time.time() - started
        for split in ("dev", "test"):
            if data[split]:
                baseline_results[split] = model.evaluate(data[split], groups=group_field)
                write_report(
                    baseline_results[split],
                    run_dir / "reports",
                    title=f"TF-IDF baseline: {split}",
                    stem=f"baseline-{split}",
                )
        extra["baseline"] = {
            "method": "TF-IDF char_wb 1-4-grams + logistic regression per task/label, thresholds on dev",
            "fit_seconds": round(fit_seconds, 2),
            "thresholds": model.schema.to_list(),
            **{split: summarize(r) for split, r in baseline_results.items()},
        }

    search = None
    if search_minutes is not None:
        found = run_search(config, data, run_dir, minutes=search_minutes, notify=notify)
        search = found.summary()
        extra["search"] = {k: v for k, v in search.items() if k != "trials"} | {"n_trials": len(found.trials)}
        config, resume = found.config, True  # the winner's checkpoints: calibrate and export, no retraining
        config.to_json(run_dir / "config.json")
    trainer = Trainer(config, run_dir=run_dir)
    result = trainer.train(data, out_dir, resume=resume, extra_metrics=extra)
    speed = measure_speed(Path(out_dir), [ex.text for ex in (data["test"] or data["dev"])][:speed_texts])
    comparison = build_comparison(result, baseline_results, speed)
    if search is not None:
        comparison["search"] = search
    write_json(comparison, run_dir / "comparison.json")
    (run_dir / "comparison.md").write_text(comparison_markdown(comparison), encoding="utf-8")
    return comparison


def measure_speed(model_dir: Path, texts: Sequence[str], repeats: int = 1) -> dict[str, Any]:
    """Milliseconds per comment, one at a time, onnxruntime on one thread (through CivicClassifier)."""
    from khmer_civic.model.classifier import CivicClassifier

    if not texts:
        return {}
    classifier = CivicClassifier.load(model_dir, intra_op_threads=1, inter_op_threads=1)
    classifier.predict(texts[0])  # warm-up
    times = []
    for _ in range(repeats):
        for text in texts:
            start = time.perf_counter()
            classifier.predict(text)
            times.append((time.perf_counter() - start) * 1000)
    return {
        "texts": len(texts),
        "threads": 1,
        "ms_per_comment_mean": statistics.fmean(times),
        "ms_per_comment_median": statistics.median(times),
    }


def _macro(result: Mapping[str, Any] | None, task: str) -> float:
    if not result:
        return float("nan")
    return float(result["tasks"].get(task, {}).get("macro", {}).get("f1", float("nan")))


def _micro(result: Mapping[str, Any] | None, task: str) -> float:
    if not result:
        return float("nan")
    return float(result["tasks"].get(task, {}).get("micro", {}).get("f1", float("nan")))


def build_comparison(result: TrainResult, baseline: Mapping[str, Any], speed: Mapping[str, Any]) -> dict[str, Any]:
    """The comparison table data (see the module docstring)."""
    metrics = result.metrics
    model_test = metrics.get("test")
    base_test = baseline.get("test")
    tasks = [t.name for t in result.schema.tasks]
    per_task = {
        name: {
            "transformer_macro_f1": _macro(model_test, name),
            "baseline_macro_f1": _macro(base_test, name),
            "transformer_micro_f1": _micro(model_test, name),
            "baseline_micro_f1": _micro(base_test, name),
        }
        for name in tasks
    }
    groups: dict[str, Any] = {}
    for group in sorted(set((model_test or {}).get("groups", {})) | set((base_test or {}).get("groups", {}))):
        mg = (model_test or {}).get("groups", {}).get(group)
        bg = (base_test or {}).get("groups", {}).get(group)
        groups[group] = {
            "texts": (mg or bg or {}).get("n_texts", 0),
            "tasks": {n: {"transformer_macro_f1": _macro(mg, n), "baseline_macro_f1": _macro(bg, n)} for n in tasks},
        }
    model_dir = result.model_dir
    size = {}
    if model_dir is not None:
        size = {
            "model_onnx_bytes": (model_dir / MODEL_NAME).stat().st_size,
            "model_dir_bytes": sum(p.stat().st_size for p in model_dir.iterdir() if p.is_file()),
        }
    dev_figures = {
        "transformer": (metrics.get("dev") or {}).get("mean_macro_f1", float("nan")),
        "baseline": (baseline.get("dev") or {}).get("mean_macro_f1", float("nan")),
    }
    return {
        "split": "test" if model_test else "dev",
        "n_texts": (model_test or {}).get("n_texts", 0),
        "mean_macro_f1": {
            "transformer": (model_test or {}).get("mean_macro_f1", float("nan")),
            "baseline": (base_test or {}).get("mean_macro_f1", float("nan")),
        },
        "dev_mean_macro_f1": dev_figures,
        "baseline_wins_on_dev": baseline_wins(dev_figures),
        "auto": dict(result.auto),
        "frozen_head": result.frozen_head,
        "tasks": per_task,
        "groups": groups,
        "agreement": metrics.get("agreement"),
        "calibration": metrics.get("calibration"),
        "calibration_test": metrics.get("calibration_test"),
        "size": size,
        "speed": dict(speed),
        "training": {k: v for k, v in metrics.get("training", {}).items() if k != "config"},
    }


def baseline_wins(dev: Mapping[str, Any]) -> bool:
    """Whether the TF-IDF baseline's dev mean macro-F1 is above the transformer's (both measured)."""
    model, base = dev.get("transformer"), dev.get("baseline")
    if model is None or base is None or any(isinstance(x, float) and math.isnan(x) for x in (model, base)):
        return False
    return float(base) > float(model)


def baseline_verdict(c: Mapping[str, Any]) -> str | None:
    """The plain sentence ``train`` ends with when the baseline beats the transformer on dev, else None."""
    if not c.get("baseline_wins_on_dev"):
        return None
    dev = c["dev_mean_macro_f1"]
    return (
        f"The transformer does not beat the TF-IDF baseline on dev (mean macro-F1 {_f(dev['transformer'])} "
        f"against {_f(dev['baseline'])}): on this data the fine-tuned model is not the better classifier. "
        "Annotate more texts, or try `khmer-civic train --search`."
    )


def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A titled Markdown table (first column left-aligned, the others right-aligned), after a blank line."""
    lines = ["", title, "", "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def comparison_markdown(c: Mapping[str, Any]) -> str:
    """The comparison as a Markdown report."""
    lines = [
        "# Transformer (int8 ONNX) vs TF-IDF baseline",
        "",
        f"On {c['split']}: {c['n_texts']} texts. Mean macro-F1 over tasks: transformer "
        f"{_f(c['mean_macro_f1']['transformer'])}, baseline {_f(c['mean_macro_f1']['baseline'])}.",
        *([f"On dev: transformer {_f(c['dev_mean_macro_f1']['transformer'])}, baseline "
           f"{_f(c['dev_mean_macro_f1']['baseline'])}."] if c.get("dev_mean_macro_f1") else []),
        *(["", f"**{baseline_verdict(c)}**"] if baseline_verdict(c) else []),
        "",
        "| task | transformer macro-F1 | baseline macro-F1 | transformer micro-F1 | baseline micro-F1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, t in c["tasks"].items():
        lines.append(
            f"| {name} | {_f(t['transformer_macro_f1'])} | {_f(t['baseline_macro_f1'])} | "
            f"{_f(t['transformer_micro_f1'])} | {_f(t['baseline_micro_f1'])} |"
        )
    if c["groups"]:
        names = list(c["tasks"])
        lines += [
            "",
            "Macro-F1 per group (transformer / baseline):",
            "",
            "| group | texts | " + " | ".join(names) + " |",
            "|---|---:|" + "---|" * len(names),
        ]
        for group, g in c["groups"].items():
            cells = [
                f"{_f(g['tasks'][n]['transformer_macro_f1'])} / {_f(g['tasks'][n]['baseline_macro_f1'])}" for n in names
            ]
            lines.append(f"| {group} | {g['texts']} | " + " | ".join(cells) + " |")
    agreement = c.get("agreement")
    if agreement:
        lines += _table(
            f"torch fp32 vs int8 ONNX on {agreement['n_texts']} texts:",
            ["task", "same decision", "max abs prob diff"],
            [[n, _f(a["decision_agreement"]), _f(a["max_abs_prob_diff"], 4)] for n, a in agreement["tasks"].items()],
        )
    calibration = c.get("calibration")
    if calibration:
        lines += _table(
            "Temperature scaling (fitted on dev, figures on dev):",
            ["task", "T", "ECE before", "ECE after"],
            [[n, _f(k["temperature"]), _f(k["ece_before"]), _f(k["ece_after"])] for n, k in calibration.items()],
        )
    calibration_test = c.get("calibration_test")
    if calibration_test:
        lines += _table(
            "The same temperatures on test (not used for fitting):",
            ["task", "ECE before", "ECE after"],
            [[n, _f(k["ece_before"]), _f(k["ece_after"])] for n, k in calibration_test.items()],
        )
    size, speed = c.get("size") or {}, c.get("speed") or {}
    lines += [""]
    if size:
        lines.append(
            f"model.onnx: {size['model_onnx_bytes'] / 1e6:.1f} MB; "
            f"model directory {size['model_dir_bytes'] / 1e6:.1f} MB."
        )
    if speed:
        lines.append(
            f"One comment at a time on one thread (CivicClassifier.predict, {speed['texts']} texts): "
            f"mean {_f(speed['ms_per_comment_mean'], 2)} ms, median {_f(speed['ms_per_comment_median'], 2)} ms."
        )
    if c.get("auto"):
        lines += ["", "Settings chosen by the small-data rule (khmer_civic.train.auto):", ""]
        lines += [f"- {name}: {note}" for name, note in c["auto"].items()]
    frozen = c.get("frozen_head")
    if frozen:
        verdict = "kept instead of the fine-tuned model" if frozen["chosen"] else "not kept"
        lines += [
            "",
            f"Frozen-encoder head (logistic regression on the base encoder's embeddings, C {frozen['C']:g}): "
            f"dev score {_f(frozen['dev_score'])} against {_f(frozen['fine_tuned_dev_score'])} fine-tuned; {verdict}.",
        ]
    if c.get("search"):
        lines += trials_markdown(c["search"])
    lines.append("")
    training = c.get("training") or {}
    if training:
        lines.append(
            f"Training: {training.get('steps')} steps, best at {training.get('best_step')}, "
            f"{training.get('seconds')} s{' (stopped early)' if training.get('stopped_early') else ''}."
        )
    return "\n".join(lines) + "\n"
