"""Re-measure a model directory's dev and test figures with the installed runtime, in place.

    python training/reevaluate_model.py --model models/khmer-civic-e5-small --splits training/data/splits

For when the inference path or the gold labels change but the weights do not (for example the
switch to scoring each window alone, which makes a text's scores independent of its batch, or
adjudications that relabel dev/test texts after training): the ``dev`` and
``test`` evaluations in ``metrics.json`` are replaced by a fresh run of the exported model
through ``CivicClassifier`` on ``<splits>/dev.jsonl`` and ``<splits>/test.jsonl``, then
``MODEL_CARD.md`` and ``manifest.json`` are rewritten from them. Everything else in
``metrics.json`` (training, calibration, the torch-vs-int8 agreement measured at export, the
baseline) is kept as recorded. Prints the mean macro-F1 before and after per split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from khmer_civic.model.config import METRICS_NAME, load_config
from khmer_civic.train.evaluate import evaluate_model_dir
from khmer_civic.train.export import finalize_model_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="model directory to update")
    ap.add_argument("--splits", type=Path, required=True, help="folder with dev.jsonl and test.jsonl")
    args = ap.parse_args()

    metrics = json.loads((args.model / METRICS_NAME).read_text(encoding="utf-8"))
    config = load_config(args.model)
    # per-group figures as the recipe reported them (its report_groups; older recipes: provenance)
    recorded = (metrics.get("training") or {}).get("config") or {}
    group_field = recorded.get("report_groups") or "provenance"
    for split in ("dev", "test"):
        path = args.splits / f"{split}.jsonl"
        if not path.is_file():
            print(f"{split}: {path} not found, kept as recorded")
            continue
        before = (metrics.get(split) or {}).get("mean_macro_f1")
        metrics[split] = evaluate_model_dir(args.model, [path], group_field=group_field)
        print(f"{split}: mean macro-F1 {before} -> {metrics[split]['mean_macro_f1']} ({metrics[split]['n_texts']} texts)")
    metrics["evaluated_with"] = {"batching": config.batching}
    finalize_model_dir(args.model, metrics, description=recorded.get("description"))
    print(f"rewrote {args.model / METRICS_NAME}, MODEL_CARD.md and manifest.json")


if __name__ == "__main__":
    main()
