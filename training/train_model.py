"""Train, export and evaluate a khmer-civic model from a JSON recipe.

    python training/train_model.py --config training/configs/default.json \
        --data-dir training/data/splits --out models/khmer-civic-e5-small \
        --run-dir training/runs/e5-small [--resume]

Reads ``{train,dev,test}.jsonl`` from ``--data-dir`` (LABELS.md records with a ``provenance``
field), or the files given with ``--train/--dev/--test``. Writes the model directory
(model.onnx int8, tokenizer.json, config.json, metrics.json, MODEL_CARD.md, manifest.json) to
``--out`` and logs, checkpoints, reports, ``inputs.json`` and ``comparison.{json,md}``
(transformer vs the TF-IDF baseline) to ``--run-dir``. Needs the ``[train]`` extra; never
touches the network.

The same way in as ``khmer-civic train --data ... --dev ... --test ... --config ...``: both
call :func:`khmer_civic.train.prepare.prepare_training` and
:func:`~khmer_civic.train.prepare.run_training`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from local directories only
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="training recipe (JSON, TrainConfig fields)")
    parser.add_argument("--data-dir", type=Path, help="directory with train.jsonl, dev.jsonl, test.jsonl")
    parser.add_argument("--train", action="append", type=Path, default=[], help="training file (repeatable)")
    parser.add_argument("--dev", action="append", type=Path, default=[], help="dev file (repeatable)")
    parser.add_argument("--test", action="append", type=Path, default=[], help="test file (repeatable)")
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--run-dir", required=True, type=Path, help="logs, checkpoints and reports")
    parser.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline")
    parser.add_argument("--base-model", help="override the config's base_model (a local HF model directory)")
    parser.add_argument("--threads", type=int, help="override the config's torch thread count")
    parser.add_argument("--max-steps", type=int, help="override the number of steps (for smoke runs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--speed-texts", type=int, default=200, help="test texts timed one by one (0: skip)")
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
    from khmer_civic.train.data import DataValidationError
    from khmer_civic.train.prepare import TrainingRequest, TrainingSetupError, prepare_training, run_training

    train, dev, test = (_split_files(args, name) for name in ("train", "dev", "test"))
    if not train or not dev:
        print(
            "error: need training and dev files (--data-dir with train.jsonl and dev.jsonl, or --train/--dev)",
            file=sys.stderr,
        )
        return 2
    request = TrainingRequest(
        data=train,
        dev=dev,
        test=test,
        out_dir=args.out,
        run_dir=args.run_dir,
        config_path=args.config,
        overrides={"base_model": args.base_model, "threads": args.threads, "max_steps": args.max_steps},
        progress=False if args.no_progress else None,
    )
    try:
        plan = prepare_training(request, notify=lambda message: print(message, file=sys.stderr))
        comparison = run_training(plan, resume=args.resume, baseline=not args.no_baseline, speed_texts=args.speed_texts)
    except TrainingSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DataValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print((args.run_dir / "comparison.md").read_text(encoding="utf-8"))
    print(f"model: {args.out}\nrun:   {args.run_dir}")
    return 0 if comparison else 1


if __name__ == "__main__":
    sys.exit(main())
