"""Distil the accurate model (the teacher) into the fast one (a student with its first k layers).

    python training/distill_model.py --config training/configs/distill.json \
        --teacher models/khmer-civic-e5-small --teacher-run training/runs/e5-small \
        --data-dir training/data/splits \
        --pool ../shared/data/corpora/news_2019_articles.jsonl ../shared/data/corpora/oscar_web_lines.txt \
               ../shared/data/corpora/khmer_wikipedia_5k.txt ../shared/data/corpora/rdlab_wild_khmer_sentences.txt \
               training/data/annotated.jsonl \
        --out models/khmer-civic-fast --run-dir training/runs/fast [--layers 4] [--resume]

``--teacher``: the teacher's exported model directory (its labels, calibration, tokenizer and the
ONNX graph that gives the soft targets). ``--teacher-run`` (or ``--teacher-weights``): where the
student's first weights come from: the teacher's training run directory (the torch weights in
``checkpoints/best``) or, where that run is not at hand (a fresh clone), the teacher's model
directory, whose weights are read back from ``model.onnx`` (int8 ones within half a quantisation
step; khmer_civic.train.graph_weights). ``--pool``: unlabelled texts
(``.txt``: one per line; ``.jsonl``: each line of a record's ``text``); dev and test texts and
their near-duplicates are left out. Everything else is the recipe (``--config``;
khmer_civic.train.distill.DistillConfig). The pool (``pool.jsonl``) and the teacher's scores
(``teacher/``) are kept in the run directory: ``--resume`` continues an interrupted run from its
last checkpoint without rebuilding or rescoring them.

``--layers 2 3 4 6`` distils one student per k (``<run-dir>/k<K>``, ``<out>-k<K>``, sharing the
pool and, since the training windows are the same, copying the teacher's scores) and writes
``<run-dir>/curve.md``: dev macro-F1 per task against comments per second (one at a time, one
thread), the table to choose k from. Needs the ``[train]`` extra; never touches the network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from local directories only
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="distillation recipe (JSON, DistillConfig fields)")
    parser.add_argument("--teacher", type=Path, help="the teacher's model directory (overrides teacher_model)")
    parser.add_argument(
        "--teacher-run",
        "--teacher-weights",
        dest="teacher_run",
        type=Path,
        help="where the student's first weights come from: the teacher's training run (its checkpoints/best), "
        "or its model directory (weights read back from model.onnx)",
    )
    parser.add_argument("--teacher-graph", type=Path, help="ONNX graph for the soft targets (default: the teacher's model.onnx)")
    parser.add_argument(
        "--extra-teacher",
        dest="extra_teachers",
        action="append",
        type=Path,
        default=[],
        help="another teacher's model directory, averaged into the soft targets (repeatable: an ensemble teacher)",
    )
    parser.add_argument("--data-dir", type=Path, help="directory with train.jsonl, dev.jsonl, test.jsonl")
    parser.add_argument("--train", action="append", type=Path, default=[], help="training file (repeatable)")
    parser.add_argument("--dev", action="append", type=Path, default=[], help="dev file (repeatable)")
    parser.add_argument("--test", action="append", type=Path, default=[], help="test file (repeatable)")
    parser.add_argument("--pool", nargs="+", type=Path, default=[], help="unlabelled text files (.txt, .jsonl)")
    parser.add_argument("--layers", nargs="+", type=int, help="student layers k (several: one student each and a curve)")
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--run-dir", required=True, type=Path, help="logs, checkpoints, pool, teacher scores, reports")
    parser.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    parser.add_argument("--threads", type=int, help="override the recipe's torch thread count")
    parser.add_argument("--max-steps", type=int, help="override the number of steps (for smoke runs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--speed-texts", type=int, default=300, help="dev texts timed one by one for the curve")
    return parser.parse_args(argv)


def _split_files(args: argparse.Namespace, name: str) -> list[Path]:
    given: list[Path] = getattr(args, name)
    if given:
        return given
    if args.data_dir is not None and (args.data_dir / f"{name}.jsonl").is_file():
        return [args.data_dir / f"{name}.jsonl"]
    return []


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from khmer_civic.train.distill import (
        POOL_META_NAME,
        POOL_NAME,
        TEACHER_CACHE,
        DistillConfig,
        distill,
    )

    train, dev, test = (_split_files(args, name) for name in ("train", "dev", "test"))
    if not train or not dev:
        print("error: need training and dev files (--data-dir, or --train and --dev)", file=sys.stderr)
        return 2
    config = DistillConfig.from_json(args.config)
    overrides = {
        "teacher_model": str(args.teacher) if args.teacher else None,
        "teacher_checkpoint": str(args.teacher_run) if args.teacher_run else None,
        "teacher_graph": str(args.teacher_graph) if args.teacher_graph else None,
        "extra_teachers": tuple(str(p) for p in args.extra_teachers) if args.extra_teachers else None,
        "pool_files": tuple(str(p) for p in args.pool) if args.pool else None,
        "threads": args.threads,
        "max_steps": args.max_steps,
        "progress": False if args.no_progress else None,
    }
    config = DistillConfig.from_dict({**config.to_dict(), **{k: v for k, v in overrides.items() if v is not None}})
    needed = (config.teacher_model, *config.extra_teachers, *config.pool_files)
    missing = [Path(p) for p in needed if not Path(p).exists()]
    if missing:
        print(f"error: not found: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2

    def notify(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    layers = args.layers or [config.num_layers]
    if len(layers) == 1:
        config = DistillConfig.from_dict({**config.to_dict(), "num_layers": layers[0]})
        result = distill(config, train=train, dev=dev, test=test, run_dir=args.run_dir, out_dir=args.out,
                         resume=args.resume, notify=notify)
        print(f"model: {args.out} (dev mean macro-F1 {result.dev['mean_macro_f1']:.4f})\nrun:   {args.run_dir}")
        return 0

    from khmer_civic.train.recipe import measure_speed

    rows = []
    dev_texts = _texts(dev)[: args.speed_texts]
    shared = args.run_dir / f"k{layers[0]}"
    for k in layers:
        run_dir, out_dir = args.run_dir / f"k{k}", args.out.with_name(f"{args.out.name}-k{k}")
        if run_dir != shared and not (run_dir / TEACHER_CACHE).exists() and (shared / TEACHER_CACHE).exists():
            run_dir.mkdir(parents=True, exist_ok=True)  # same windows, same teacher: the scores carry over
            for name in (POOL_NAME, POOL_META_NAME):
                if (shared / name).is_file():
                    shutil.copy2(shared / name, run_dir / name)
            shutil.copytree(shared / TEACHER_CACHE, run_dir / TEACHER_CACHE)
        config_k = DistillConfig.from_dict({**config.to_dict(), "num_layers": k, "name": f"{config.name}-k{k}"})
        notify(f"curve: k = {k}")
        result = distill(config_k, train=train, dev=dev, test=test, run_dir=run_dir, out_dir=out_dir,
                         resume=args.resume, notify=notify)
        speed = measure_speed(out_dir, dev_texts)
        per_task = {name: task.get("macro", {}).get("f1") for name, task in result.metrics["dev"]["tasks"].items()}
        rows.append((k, result.metrics["dev"]["mean_macro_f1"], per_task, speed, result.metrics["size"]["model_onnx_bytes"]))
    (args.run_dir / "curve.md").write_text(_curve_markdown(rows), encoding="utf-8")
    print((args.run_dir / "curve.md").read_text(encoding="utf-8"))
    return 0


def _texts(files: list[Path]) -> list[str]:
    import json

    from khmer_civic.model.inputs import prepare_input

    texts = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                status, text = prepare_input(json.loads(line).get("text"))
                if status.value == "ok":
                    texts.append(text)
    return texts


def _curve_markdown(rows: list[tuple[int, float, dict[str, float], dict[str, float], int]]) -> str:
    tasks = list(rows[0][2]) if rows else []
    header = ["k", "dev mean macro-F1", *[f"{t} macro-F1" for t in tasks], "ms/comment (1 thread)", "comments/s", "MB"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for k, mean, per_task, speed, size in rows:
        ms = speed.get("ms_per_comment_median")
        cells = [str(k), f"{mean:.3f}", *[f"{per_task[t]:.3f}" for t in tasks],
                 f"{ms:.2f}" if ms else "-", f"{1000 / ms:.0f}" if ms else "-", f"{size / 1e6:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
