"""Give an exported model the pooled text embedding output, without retraining.

    python training/add_embedding_output.py models/khmer-civic-e5-small \
        --check training/data/splits/test.jsonl

Models exported before ``embedding_output`` existed lack the output that
``CivicClassifier.embed`` and ``khmer-civic select`` read. This adds it to model.onnx (an Identity
of the mean-pooled encoder state the task heads read: khmer_civic.train.onnx_outputs),
names it in config.json and rewrites manifest.json. Before anything in the directory is replaced,
the patched copy must give exactly the same ``predict_proba`` (bit for bit) as the original on
every text of ``--check``; otherwise the directory is left as it was and the script exits 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.config import CONFIG_NAME, MODEL_NAME
from khmer_civic.model.manifest import write_manifest
from khmer_civic.train.onnx_outputs import EMBEDDING_OUTPUT, add_embedding_output


def check_texts(paths: list[Path]) -> list[str]:
    """The ``text`` of every record of JSON Lines files."""
    texts = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle if line.strip()]
    return texts


def patch(model_dir: Path, texts: list[str]) -> int:
    """Patch a copy, compare it with the original on ``texts``, and replace the files when equal."""
    original = CivicClassifier.load(model_dir)
    if original.has_embeddings:
        print(f"{model_dir} already names an embedding output: nothing to do")
        return 0
    with tempfile.TemporaryDirectory(prefix="embedding-output-") as temp:
        copy = Path(temp) / "model"
        shutil.copytree(model_dir, copy)
        outputs = [task.output for task in original.schema.tasks]
        source = add_embedding_output(model_dir / MODEL_NAME, copy / MODEL_NAME, outputs)
        config = json.loads((model_dir / CONFIG_NAME).read_text(encoding="utf-8"))
        config["embedding_output"] = EMBEDDING_OUTPUT
        (copy / CONFIG_NAME).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_manifest(copy)
        patched = CivicClassifier.load(copy)
        before = original.score_arrays(texts).probabilities
        after = patched.score_arrays(texts, embeddings=True)
        same = all(np.array_equal(before[t], after.probabilities[t], equal_nan=True) for t in before)
        gap = max(float(np.nanmax(np.abs(before[t] - after.probabilities[t]), initial=0.0)) for t in before)
        print(f"pooled tensor: {source}; embedding width {after.embeddings.shape[1]}")  # type: ignore[union-attr]
        print(f"{len(texts)} check texts: probabilities identical: {same} (largest difference {gap:.3g})")
        if not same:
            print("the patched graph scores differently: the model directory is left unchanged", file=sys.stderr)
            return 1
        for name in (MODEL_NAME, CONFIG_NAME):
            shutil.copyfile(copy / name, model_dir / name)
    write_manifest(model_dir)
    CivicClassifier.load(model_dir)  # the manifest and the graph check pass
    print(f"{model_dir}: model.onnx gains output {EMBEDDING_OUTPUT!r}; config.json and manifest.json rewritten")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument(
        "--check", type=Path, nargs="+", required=True, help="JSONL files whose texts must score the same"
    )
    args = parser.parse_args(argv)
    return patch(args.model_dir, check_texts(args.check))


if __name__ == "__main__":
    sys.exit(main())
