"""The student curve of issue 14: dev macro-F1 per task against comments per second, per k.

    python benchmarks/student_curve.py --teacher models/khmer-civic-e5-small \\
        --teacher-run training/runs/e5-small --runs <dir holding k2/, k3/ ...> \\
        --layers 2 3 4 6 --step 2000 [--threads 2] [--mix round1] [--out benchmarks/results/student_curve.json]

Chooses k, the number of the teacher's encoder layers the fast student keeps. Two halves:

**Quality** is read from the distillation run logs only (``<runs>/k<K>/log.jsonl``, written by
``training/distill_model.py --layers ...``; nothing under ``../shared`` is needed). Each ``eval``
line holds the torch student's dev macro-F1 per task before calibration. Some runs are stopped
early, so students are compared at the same step (``--step``) of the same schedule: a k whose log
has no eval at that step, or no log at all, gets "–" there. Also given per k: the run's best eval
(step and mean) and the last step it reached. The teacher's figures are its own training run's
best eval from ``--teacher-run``/log.jsonl, which is also a pre-calibration torch eval on the same dev
split, so like is compared with like. The calibrated int8 figures of its ``metrics.json`` are
kept in the JSON as a reference, not in the table.

**Speed and size** depend on the graph's shape, not on the values of its weights: a k-layer
student does exactly the same operations whatever it learnt (int8 MatMuls cost the same for any
values), so the trained checkpoints are not needed. For each k the teacher-initialised k-layer
student (``DistillTrainer.build_model``: the teacher's embeddings, first k layers and heads) is
exported twice with the recipe's fused graph (``export_onnx(fuse=True)``): every MatMul int8, and
every feed-forward down-projection and the first two layers' up-projections kept in fp16
(``fp16_first_layers=2``, the teacher's export setting; the shipped student keeps only the down-projections, ``0``). Each
directory is sealed (``write_manifest``) and timed through ``CivicClassifier.load(...,
intra_op_threads=--threads).predict(mix)``: one warm-up call on 50 texts, then the median of
``--repeats`` passes over the whole mix. The shipped teacher directory is timed the same way in
the same process, before and after the students, and the faster of its two timings is the
reference of every k's ratio (a cold or disturbed teacher pass never flatters a student). The mix is :func:`common.build_input_mix` over the
source texts that ``benchmarks/inference.py --mix`` picks (its own function, imported).

Prints a Markdown table, the machine line and the command; writes
``benchmarks/results/student_curve.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import common
import inference

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from local directories only
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_RECIPE = common.REPO_ROOT / "training" / "configs" / "distill.json"
DEFAULT_RESULTS = common.RESULTS_DIR / "student_curve.json"
WARMUP_TEXTS = 50
FP16_LAYERS = 2  # the recipe's fp16_first_layers, measured beside all-int8
VARIANTS: dict[str, int | None] = {"int8": None, f"fp16x{FP16_LAYERS}": FP16_LAYERS}
MISSING = "–"


# ---------------------------------------------------------------------------------------------
# Quality: the run logs.


def read_evals(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``eval`` events of a run log, one per step (a step evaluated twice after a resume: the later)."""
    by_step: dict[int, dict[str, Any]] = {}
    for event in events:
        if event.get("event") == "eval" and "step" in event:
            by_step[int(event["step"])] = event
    return [by_step[s] for s in sorted(by_step)]


def last_step(events: Sequence[Mapping[str, Any]]) -> int | None:
    """The highest step any event of the log mentions (None for a log without steps)."""
    steps = [int(e["step"]) for e in events if isinstance(e.get("step"), int)]
    return max(steps) if steps else None


def total_steps(events: Sequence[Mapping[str, Any]]) -> int | None:
    """The schedule's length as the latest ``start`` event gives it (None when not logged)."""
    starts = [e for e in events if e.get("event") == "start" and e.get("total_steps")]
    return int(starts[-1]["total_steps"]) if starts else None


def best_eval(evals: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The eval with the highest dev mean macro-F1 (the earliest on a tie)."""
    if not evals:
        return None
    best = max(evals, key=lambda e: (float(e["dev_mean_macro_f1"]), -int(e["step"])))
    return {"step": int(best["step"]), "mean": float(best["dev_mean_macro_f1"]), "tasks": dict(best["dev_macro_f1"])}


def run_quality(run_dir: Path, step: int) -> dict[str, Any]:
    """Dev macro-F1 of one student's run: at ``step`` (None when not evaluated there), its best
    eval and the last step it reached. A missing log gives ``{"run": None, ...}``."""
    log_path = run_dir / "log.jsonl"
    if not log_path.is_file():
        return {"run": None, "at_step": None, "best": None, "last_step": None, "total_steps": None, "eval_steps": []}
    events = common.read_jsonl(log_path)  # read once: the helpers below share it
    evals = read_evals(events)
    at = next((e for e in evals if int(e["step"]) == step), None)
    return {
        "run": common.relative(run_dir),
        "at_step": None if at is None else {"mean": float(at["dev_mean_macro_f1"]), "tasks": dict(at["dev_macro_f1"])},
        "best": best_eval(evals),
        "last_step": last_step(events),
        "total_steps": total_steps(events),
        "eval_steps": [int(e["step"]) for e in evals],
    }


def teacher_quality(teacher_dir: Path, teacher_run: Path) -> dict[str, Any]:
    """The teacher's pre-calibration torch dev macro-F1 (its run log's best eval) and, as a
    reference, the calibrated int8 dev macro-F1 of its ``metrics.json``."""
    log_path = teacher_run / "log.jsonl"
    out: dict[str, Any] = {"best": best_eval(read_evals(common.read_jsonl(log_path))) if log_path.is_file() else None}
    metrics_path = teacher_dir / "metrics.json"
    if metrics_path.is_file():
        dev = json.loads(metrics_path.read_text(encoding="utf-8")).get("dev") or {}
        tasks = {name: task.get("macro", {}).get("f1") for name, task in (dev.get("tasks") or {}).items()}
        out["metrics_json_dev"] = {"mean": dev.get("mean_macro_f1"), "tasks": tasks}
    return out


# ---------------------------------------------------------------------------------------------
# Speed and size: teacher-initialised students, exported and timed.


def resolve(path: str | Path) -> Path:
    """``path`` as given when it exists, else relative to the repository root."""
    given = Path(path)
    return given if given.is_absolute() or given.exists() else common.REPO_ROOT / given


def student_config(recipe: Any, k: int, teacher_dir: Path, teacher_run: Path, base_model: Path, threads: int) -> Any:
    """The recipe (a DistillConfig) with ``num_layers=k``, this teacher and its run, and ``base_model``."""
    from khmer_civic.train.distill import DistillConfig

    settings = {
        **recipe.to_dict(),
        "name": f"{recipe.name}-k{k}",
        "num_layers": k,
        "teacher_model": str(teacher_dir),
        "teacher_checkpoint": str(teacher_run),
        "base_model": str(base_model),
        "threads": threads,
        "progress": False,
    }
    return DistillConfig.from_dict(settings)


def export_student(config: Any, parent: Path) -> dict[str, Path]:
    """The teacher-initialised k-layer student exported once per variant (:data:`VARIANTS`), each a
    sealed model directory under ``parent``."""
    from khmer_civic.model.manifest import write_manifest
    from khmer_civic.train.distill import DistillTrainer
    from khmer_civic.train.export import export_onnx

    trainer = DistillTrainer(config, parent / "run")  # never written to: only build_model is used
    model = trainer.build_model(trainer.teacher_config.schema)
    model.eval()
    out: dict[str, Path] = {}
    for variant, fp16_layers in VARIANTS.items():
        target = parent / f"k{config.num_layers}-{variant}"
        export_onnx(
            model,
            trainer.tokenizer,
            target,
            schema=trainer.teacher_config.schema,
            name=config.name,
            version=config.version,
            max_length=config.max_length,
            window_stride=config.window_stride,
            fp16_first_layers=fp16_layers,
            fuse=True,
        )
        write_manifest(target)
        out[variant] = target
    return out


def time_model(model_dir: Path, mix: Sequence[str], threads: int, repeats: int) -> dict[str, Any]:
    """Comments per second of ``CivicClassifier.predict`` over the whole mix (median of ``repeats``
    passes after one warm-up call on 50 texts) and the size of model.onnx."""
    from khmer_civic.model.classifier import CivicClassifier

    classifier = CivicClassifier.load(model_dir, intra_op_threads=threads, inter_op_threads=1)
    texts = list(mix)
    classifier.predict(texts[:WARMUP_TEXTS])
    with common.OtherLoad() as load:
        times = common.timed_repeats(lambda: classifier.predict(texts), repeats, time.perf_counter)
    median_s = common.best_and_median(times)["median_s"]
    size = (model_dir / "model.onnx").stat().st_size
    return {
        "texts": len(texts),
        "seconds": times,
        "comments_per_s": len(texts) / median_s,
        "model_onnx_bytes": size,
        "model_onnx_mb": size / 1e6,
        "other_cores": load.cores,
    }


# ---------------------------------------------------------------------------------------------
# The report.


def f3(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def curve_table(report: Mapping[str, Any]) -> str:
    """The Markdown curve: one row per k, then the teacher."""
    tasks: list[str] = list(report["tasks"])
    step = report["settings"]["step"]
    header = ["k", *tasks, f"mean at step {step:,}", "best mean (step)", "last step",
              "comments/s all-int8", "× teacher", "MB all-int8",
              f"comments/s {FP16_LAYERS} fp16 layers", "× teacher", "MB"]
    rows = []
    teacher_speed = report["teacher"].get("speed") or {}
    for row in report["students"]:
        quality, speed = row["quality"], row.get("speed") or {}
        at = quality["at_step"] or {}
        best = quality["best"]
        last = quality["last_step"]
        if last is not None and quality.get("total_steps"):
            last_cell = f"{last:,} / {quality['total_steps']:,}"
        else:
            last_cell = common.fmt(last)
        cells = [str(row["k"]), *[f3((at.get("tasks") or {}).get(t)) for t in tasks], f3(at.get("mean")),
                 MISSING if best is None else f"{best['mean']:.3f} ({best['step']:,})", last_cell]
        for variant in VARIANTS:
            measured = speed.get(variant) or {}
            cells += [
                common.fmt(measured.get("comments_per_s"), 0),
                common.fmt_ratio(common.ratio(measured.get("comments_per_s"), teacher_speed.get("comments_per_s"))),
                common.fmt(measured.get("model_onnx_mb"), 1),
            ]
        rows.append(cells)
    best = report["teacher"]["quality"].get("best")
    teacher_cells = [f"teacher ({report['teacher']['layers'] or '?'} layers)",
                     *[f3((best or {}).get("tasks", {}).get(t)) for t in tasks],
                     f3(None if best is None else best["mean"]),
                     MISSING if best is None else f"{best['mean']:.3f} ({best['step']:,})", MISSING,
                     common.fmt(teacher_speed.get("comments_per_s"), 0), "×1.00",
                     common.fmt(teacher_speed.get("model_onnx_mb"), 1), MISSING, MISSING, MISSING]
    rows.append(teacher_cells)
    return common.markdown_table(header, rows)


def markdown_report(report: Mapping[str, Any]) -> str:
    """Table, notes, machine line and command."""
    settings = report["settings"]
    inputs = report["inputs"]
    notes = (
        f"Dev macro-F1: the torch model on the dev split before calibration (`eval` lines of each run's "
        f"log.jsonl) at step {settings['step']:,}; \"–\": no run, or no eval at that step. Teacher: the best "
        f"eval of its own training run (`{report['teacher']['run']}`), also torch before calibration; its speed "
        f"and size are those of its shipped graph (`{report['teacher']['model']}`), in the all-int8 columns. Speed: "
        f"`CivicClassifier.predict` over the `{settings['mix']}` mix ({inputs['texts']} texts, median "
        f"{inputs['chars_p50']:.0f} chars), {settings['threads']} thread(s), median of {settings['repeats']} passes "
        f"after a 50-text warm-up, teacher-initialised students exported with the fused graph (speed does not "
        f"depend on the trained weights); × teacher: over the shipped teacher's comments/s in the same run "
        f"(timed before and after the students, the faster of the two)."
    )
    others = [m.get("other_cores") for m in _timings(report)]
    known = [c for c in others if c is not None]
    if known:
        notes += f" Other programs kept up to {max(known):.2f} cores busy during these timings."
    return "\n".join([
        curve_table(report), "", notes, "", common.machine_line(report["machine"]), "",
        f"Command: `{report['command']}`",
    ]) + "\n"


def _timings(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every timing of the report: the teacher's (both passes when recorded) and each student variant's."""
    teacher = report["teacher"].get("speed") or {}
    out = [teacher[key] for key in ("before_students", "after_students") if key in teacher] or ([teacher] if teacher else [])
    for student in report["students"]:
        out += list((student.get("speed") or {}).values())
    return out


# ---------------------------------------------------------------------------------------------
# The command.


def teacher_layers(teacher_run: Path, fallback_base: Path | None = None) -> int | None:
    """The teacher's encoder layers, from its run's config (its own ``num_layers`` or its base
    encoder's; ``fallback_base`` when the run's base encoder path no longer exists, e.g. a run
    trained in another checkout)."""
    config_path = teacher_run / "config.json"
    if not config_path.is_file():
        return None
    run_config = json.loads(config_path.read_text(encoding="utf-8"))
    if run_config.get("num_layers"):
        return int(run_config["num_layers"])
    base = resolve(run_config.get("base_model", "")) / "config.json"
    if not base.is_file() and fallback_base is not None:
        base = fallback_base / "config.json"
    if base.is_file():
        return json.loads(base.read_text(encoding="utf-8")).get("num_hidden_layers")
    return None


def run(args: argparse.Namespace) -> int:
    import torch

    teacher_dir, teacher_run = Path(args.teacher), Path(args.teacher_run)
    for path, what in ((teacher_dir / "config.json", "--teacher"), (teacher_run / "checkpoints" / "best", "--teacher-run")):
        if not path.exists():
            print(f"error: {what}: {path} does not exist", file=sys.stderr)
            return 2
    try:
        mix, n_source = inference.build_mix(Path(args.splits), args.mix, args.seed, args.limit)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from khmer_civic.train.distill import DistillConfig

    recipe = DistillConfig.from_json(Path(args.recipe))
    base_model = Path(args.base_model) if args.base_model else resolve(recipe.base_model)
    torch.set_num_threads(args.threads)
    machine = common.machine_info()
    print(common.machine_line(machine), file=sys.stderr)

    students: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="khmer-civic-student-curve-") as tmp:
        print("timing the teacher ...", file=sys.stderr, flush=True)
        teacher_before = time_model(teacher_dir, mix, args.threads, args.repeats)
        for k in args.layers:
            print(f"k = {k}: building, exporting, timing ...", file=sys.stderr, flush=True)
            config = student_config(recipe, k, teacher_dir, teacher_run, base_model, args.threads)
            dirs = export_student(config, Path(tmp) / f"k{k}")
            speed = {variant: time_model(d, mix, args.threads, args.repeats) for variant, d in dirs.items()}
            students.append({"k": k, "quality": run_quality(Path(args.runs) / f"k{k}", args.step), "speed": speed})
        print("timing the teacher again ...", file=sys.stderr, flush=True)
        teacher_after = time_model(teacher_dir, mix, args.threads, args.repeats)
    # the reference is the teacher's faster timing: a slow first or last pass never flatters the students
    teacher_speed = max((teacher_before, teacher_after), key=lambda t: t["comments_per_s"])
    teacher_speed = {**teacher_speed, "before_students": teacher_before, "after_students": teacher_after}
    for student in students:
        for measured in student["speed"].values():
            measured["ratio_to_teacher"] = common.ratio(measured["comments_per_s"], teacher_speed["comments_per_s"])

    teacher_q = teacher_quality(teacher_dir, teacher_run)
    tasks = [t.name for t in _teacher_schema(teacher_dir).tasks]
    report = {
        "benchmark": "student_curve",
        "command": " ".join(["python benchmarks/student_curve.py", *args.argv]),
        "machine": machine,
        "settings": {
            "step": args.step,
            "layers": args.layers,
            "threads": args.threads,
            "repeats": args.repeats,
            "mix": args.mix,
            "seed": args.seed,
            "limit": args.limit,
            "recipe": common.relative(Path(args.recipe)),
            "runs": common.relative(Path(args.runs)),
            "variants": VARIANTS,
        },
        "inputs": {"mix": args.mix, "source_texts": n_source, **common.describe_lengths(mix)},
        "tasks": tasks,
        "teacher": {
            "model": common.relative(teacher_dir),
            "run": common.relative(teacher_run),
            "layers": teacher_layers(teacher_run, base_model),
            "quality": teacher_q,
            "speed": teacher_speed,
        },
        "students": students,
    }
    path = common.write_results("student_curve", report, args.out)
    print(markdown_report(report))
    print(f"results: {common.relative(path)}", file=sys.stderr)
    return 0


def _teacher_schema(teacher_dir: Path) -> Any:
    from khmer_civic.model.config import load_config

    return load_config(teacher_dir).schema


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", type=Path, default=common.DEFAULT_MODEL_DIR, help="the teacher's int8 model directory")
    parser.add_argument("--teacher-run", type=Path, default=common.DEFAULT_RUN_DIR, help="its training run (checkpoints/best, log.jsonl)")
    parser.add_argument("--runs", type=Path, required=True, help="directory holding the distillation runs k<K>/")
    parser.add_argument("--layers", type=int, nargs="+", default=[2, 3, 4, 6], help="student layers k")
    parser.add_argument("--step", type=int, required=True, help="the step at which the students are compared")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the whole mix")
    parser.add_argument("--mix", choices=tuple(inference.MIXES), default="round1", help="source texts of the input mix (as inference.py)")
    parser.add_argument("--splits", type=Path, default=common.DEFAULT_SPLITS_DIR, help="dir with test.jsonl (and round1_ids.json)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input mix")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N texts of the mix (smoke runs)")
    parser.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE, help="distillation recipe (its base_model, max_length ...)")
    parser.add_argument("--base-model", type=Path, help="the base encoder directory (default: the recipe's base_model)")
    parser.add_argument("--out", type=Path, help="JSON output (default benchmarks/results/student_curve.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the Command line of the report
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
