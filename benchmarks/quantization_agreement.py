"""How often the shipped int8 model decides like its fp32 graph, per task, on the test split.

    python benchmarks/quantization_agreement.py [--model models/khmer-civic-e5-small] \
        [--fp32 training/runs/e5-small/model.fp32.onnx] [--data training/data/splits/test.jsonl]

The fp32 graph is the export the int8 model was quantised from (it matches the torch model to
1e-4 in the export tests); the run directory that holds it is made by the training recipe.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.manifest import write_manifest


def decisions(clf: CivicClassifier, texts: list[str]) -> list[dict]:
    return [dict(p.labels) for p in clf.predict(texts, batch_size=32)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("models/khmer-civic-e5-small"))
    ap.add_argument("--fp32", type=Path, default=Path("training/runs/e5-small/model.fp32.onnx"))
    ap.add_argument("--data", type=Path, default=Path("training/data/splits/test.jsonl"))
    args = ap.parse_args()
    texts = [json.loads(line)["text"] for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        fp32_dir = Path(tmp)
        for name in ("tokenizer.json", "config.json"):
            shutil.copy(args.model / name, fp32_dir / name)
        shutil.copy(args.fp32, fp32_dir / "model.onnx")
        write_manifest(fp32_dir)
        reference = decisions(CivicClassifier.load(fp32_dir), texts)
    shipped = decisions(CivicClassifier.load(args.model), texts)
    tasks = list(reference[0])
    print(f"{len(texts)} texts of {args.data}")
    print("| task | same decision, int8 vs fp32 |\n|---|---:|")
    for task in tasks:
        same = sum(a[task] == b[task] for a, b in zip(reference, shipped)) / len(texts)
        print(f"| {task} | {same:.2%} |")
    print(f"| all tasks at once | {sum(a == b for a, b in zip(reference, shipped)) / len(texts):.2%} |")


if __name__ == "__main__":
    main()
