"""Learning curve: the transformer recipe against the TF-IDF baseline at several training-set sizes.

For each size (a seeded random sample of the training split; ``full`` = all of it) the script
trains the transformer with a recipe (``auto``: only the tasks and the base encoder are set, every
other setting follows the small-data rule of ``khmer_civic.train.auto``; or a recipe file, whose
tasks are replaced by the benchmark's) and fits the TF-IDF baseline ``khmer-civic train`` compares
against, on the same texts, with the same dev texts. It reports test macro-F1 per task (the
transformer as exported: int8 ONNX), single-label accuracy, and the CPU minutes (user + system
time of this process) of each run.

    # the project's splits (repository checkout: training/data/splits)
    python benchmarks/learning_curve.py --train training/data/splits/train.jsonl \\
        --dev training/data/splits/dev.jsonl --test training/data/splits/test.jsonl \\
        --sizes 100 300 1000 full --dev-texts 300

    # one CSV of texts and labels (split 70/15/15 by the seeded stratified split of `train`),
    # the default recipe against the auto recipe
    python benchmarks/learning_curve.py --csv ../shared/data/sentiment/student_sentiment_1055.csv \\
        --csv-label target --task sentiment --sizes full \\
        --recipe training/configs/default.json --recipe auto

The data paths are arguments: the corpora the README figures come from (the project's splits,
the shared student-sentiment sheet) are in the development checkout, not in an installed package.
Needs the training extra and the base encoder (``--base``, default training/cache/e5-small-cut).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TASKS = ("topics", "sentiment", "call_to_action")


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The data files are not shipped with the package: pass the project's splits from a "
        "repository checkout, or your own annotations.",
    )
    parser.add_argument("--train", type=Path, help="training records (LABELS.md JSON Lines)")
    parser.add_argument("--dev", type=Path, help="dev records")
    parser.add_argument("--test", type=Path, help="test records")
    parser.add_argument("--csv", type=Path, help="instead: one CSV of texts and labels, split 70/15/15")
    parser.add_argument("--csv-text", default="text", help="text column of --csv [text]")
    parser.add_argument("--csv-label", default="label", help="label column of --csv [label]")
    parser.add_argument("--task", action="append", dest="tasks", help=f"task(s) to learn [{' '.join(DEFAULT_TASKS)}]")
    parser.add_argument("--sizes", nargs="+", default=["100", "300", "1000", "full"], help="training texts per run")
    parser.add_argument("--dev-texts", type=int, help="a seeded sample of this many dev texts (default: all)")
    parser.add_argument(
        "--recipe", action="append", dest="recipes", help="'auto' or a recipe JSON file (repeatable) [auto]"
    )
    parser.add_argument("--base", default=str(REPO_ROOT / "training" / "cache" / "e5-small-cut"))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, help="models and runs [a temporary directory]")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "learning_curve.json")
    parser.add_argument("--label", default="", help="name of this data set in the results")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue each run from its checkpoints in --work-dir (a finished run is only calibrated, "
        "exported and scored again: e.g. after a change to calibration); the row's CPU minutes are then "
        "this invocation's only",
    )
    args = parser.parse_args(argv)
    if args.csv is None and not (args.train and args.dev and args.test):
        parser.error("pass --train, --dev and --test, or --csv")
    return args


def read_csv_records(path: Path, text_column: str, label_column: str, task: str) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {"id": f"{path.stem}-{i}", "text": row[text_column], task: row[label_column].strip()}
        for i, row in enumerate(rows)
        if row.get(text_column, "").strip() and row.get(label_column, "").strip()
    ]


def write_jsonl(path: Path, records: Sequence[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _plain(example: Any) -> dict[str, Any]:
    return {"id": example.id, "text": example.text, **dict(example.labels), **dict(example.meta)}


def recipe_config(recipe: str, tasks: Sequence[Any], base: str, seed: int, threads: int) -> Any:
    """The TrainConfig of ``recipe`` ('auto' or a file) with the benchmark's tasks and encoder."""
    from khmer_civic.train.config import TrainConfig

    settings: dict[str, Any] = {}
    if recipe != "auto":
        settings = {k: v for k, v in json.loads(Path(recipe).read_text(encoding="utf-8")).items() if k != "comment"}
    settings.update(
        tasks=[t.to_dict() for t in tasks], base_model=base, seed=seed, threads=threads, progress=False,
        agreement_texts=100, report_groups="provenance", exercise_prompt_weights={
            k: v for k, v in settings.get("exercise_prompt_weights", {}).items() if k in {t.name for t in tasks}
        },
    )  # fmt: skip
    return TrainConfig.from_dict(settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from khmer_civic.train.baseline import TfidfBaseline
    from khmer_civic.train.data import (
        TaskConfig,
        load_annotations,
        read_examples,
        split_examples,
    )
    from khmer_civic.train.trainer import Trainer

    task_names = args.tasks or list(DEFAULT_TASKS)
    types = {"topics": "multi_label", "sentiment": "single_label", "call_to_action": "binary", "cta_type": "multi_label"}
    tasks = [TaskConfig(name, types.get(name, "single_label")) for name in task_names]
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="learning-curve-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.csv is not None:
        source = write_jsonl(work / "all.jsonl", read_csv_records(args.csv, args.csv_text, args.csv_label, task_names[0]))
        parts = split_examples(read_examples([source], tasks), tasks, dev_fraction=0.15, test_fraction=0.15, seed=args.seed)
        files = {split: write_jsonl(work / f"{split}.jsonl", [_plain(e) for e in parts[split]]) for split in parts}
    else:
        files = {"train": args.train, "dev": args.dev, "test": args.test}
    full = load_annotations([files["train"]], [files["dev"]], [files["test"]], tasks)
    fixed = [TaskConfig(t.name, t.type, tuple(t.labels), t.given) for t in full.schema.tasks]  # labels of the full split
    rng = random.Random(args.seed)
    dev_records = [_plain(e) for e in full["dev"]]
    if args.dev_texts and args.dev_texts < len(dev_records):
        dev_records = rng.sample(dev_records, args.dev_texts)
    dev_file = write_jsonl(work / "dev-used.jsonl", dev_records)
    train_records = [_plain(e) for e in full["train"]]
    results = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else []
    for size in args.sizes:
        n = len(train_records) if size == "full" else min(int(size), len(train_records))
        sample = train_records if n == len(train_records) else random.Random(args.seed + n).sample(train_records, n)
        train_file = write_jsonl(work / f"train-{n}.jsonl", sample)
        data = load_annotations([train_file], [dev_file], [files["test"]], fixed)
        started = cpu_seconds()
        baseline = TfidfBaseline(data.schema, seed=args.seed).fit(data["train"], data["dev"])
        base_test = baseline.evaluate(data["test"])
        tfidf_cpu = cpu_seconds() - started
        for recipe in args.recipes or ["auto"]:
            config = recipe_config(recipe, fixed, args.base, args.seed, args.threads)
            name = "auto" if recipe == "auto" else Path(recipe).stem
            wall, started = time.time(), cpu_seconds()
            trainer = Trainer(config, run_dir=work / f"run-{n}-{name}")
            result = trainer.train(data, work / f"model-{n}-{name}", resume=args.resume)
            cpu = cpu_seconds() - started
            test = result.metrics["test"]
            row = {
                "data": args.label or (args.csv.name if args.csv else "project splits"),
                "size": n,
                "size_label": size,
                "dev_texts": len(data["dev"]),
                "test_texts": len(data["test"]),
                "recipe": name,
                "tasks": {
                    t.name: {
                        "transformer_macro_f1": test["tasks"][t.name]["macro"]["f1"],
                        "tfidf_macro_f1": base_test["tasks"][t.name]["macro"]["f1"],
                        "transformer_accuracy": test["tasks"][t.name].get("accuracy"),
                        "tfidf_accuracy": base_test["tasks"][t.name].get("accuracy"),
                    }
                    for t in data.schema.tasks
                },
                "transformer_dev_mean_macro_f1": result.metrics["dev"]["mean_macro_f1"],
                "cpu_minutes_transformer": round(cpu / 60, 2),
                "cpu_minutes_tfidf": round(tfidf_cpu / 60, 3),
                "wall_minutes_transformer": round((time.time() - wall) / 60, 2),
                "steps": result.steps,
                "stopped_early": result.stopped_early,
                "auto": result.auto,
                "frozen_head": result.frozen_head,
                "threads": args.threads,
                "resumed": args.resume,
            }
            results.append(row)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            print(markdown_row(row), flush=True)
    return 0


def markdown_row(row: dict[str, Any]) -> str:
    """``| data | size | recipe | task T/B ... | CPU min |`` for benchmarks/README.md."""
    cells = [
        f"{t['transformer_macro_f1']:.3f} / {t['tfidf_macro_f1']:.3f}" for t in row["tasks"].values()
    ]
    return (
        f"| {row['data']} | {row['size']:,} | {row['recipe']} | " + " | ".join(cells)
        + f" | {row['cpu_minutes_transformer']:.1f} | {row['cpu_minutes_tfidf']:.2f} |"
    )


if __name__ == "__main__":
    sys.exit(main())
