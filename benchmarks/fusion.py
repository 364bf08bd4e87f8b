"""Does onnxruntime's transformer fusion speed up the int8 graph? (issue 14, the speed path)

Builds the e5-small architecture the shipped model uses (the cut base encoder at
training/cache/e5-small-cut, its first ``--layers`` layers, random heads: the speed of a graph
does not depend on its trained values), exports it twice through the project's export path
(khmer_civic.train.export.export_onnx: int8, the fp16-kept MatMuls as shipped), once as before
and once with ``fuse=True`` (eager attention traced, then onnxruntime's BERT fusions), and scores
the same texts window by window (the shipped ``per_window`` batching) on one thread, the two
graphs interleaved. Prints node counts, fused operators, milliseconds per text and how often the
two graphs make the same decisions.

    python benchmarks/fusion.py --layers 4 12 --texts 300 --repeats 3
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time
from pathlib import Path

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", type=Path, default=common.REPO_ROOT / "training" / "cache" / "e5-small-cut")
    parser.add_argument("--layers", nargs="+", type=int, default=[4, 12])
    parser.add_argument("--texts", type=int, default=300, help="test texts scored (the test split)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import onnx
    import torch

    from khmer_civic.model.classifier import CivicClassifier
    from khmer_civic.model.config import load_config
    from khmer_civic.model.manifest import write_manifest
    from khmer_civic.train.export import export_onnx, measure_agreement
    from khmer_civic.train.modeling import (
        MultiTaskClassifier,
        load_encoder,
        load_tokenizer,
    )

    schema = load_config(common.DEFAULT_MODEL_DIR).schema
    texts = common.read_texts(common.DEFAULT_SPLITS_DIR / "test.jsonl")[: args.texts]
    tokenizer = load_tokenizer(args.encoder)
    print(common.machine_line(common.machine_info()))
    print("| layers | graph | nodes | Attention | SkipLayerNorm | BiasGelu | MB | ms/text (1 thread, median) | same decisions |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in args.layers:
        torch.manual_seed(0)
        model = MultiTaskClassifier(load_encoder(args.encoder, k), schema).eval()
        with tempfile.TemporaryDirectory() as tmp:
            results, classifiers = {}, {}
            for fuse in (False, True):
                out = Path(tmp) / f"fuse-{fuse}"
                results[fuse] = export_onnx(model, tokenizer, out, schema=schema, name="bench", max_length=128,
                                            window_stride=96, fuse=fuse)
                write_manifest(out)
                classifiers[fuse] = CivicClassifier.load(out, intra_op_threads=1)
            times: dict[bool, list[float]] = {False: [], True: []}
            probs: dict[bool, dict] = {}
            for _ in range(args.repeats):
                for fuse in (False, True):
                    start = time.perf_counter()
                    scored = classifiers[fuse].score_arrays(texts)
                    times[fuse].append((time.perf_counter() - start) * 1000 / len(texts))
                    probs[fuse] = scored.probabilities  # per_window scores do not change between passes
            agreement = measure_agreement(probs[False], probs[True], schema)
            same = min(v["decision_agreement"] for v in agreement.tasks.values())
            for fuse in (False, True):
                graph = onnx.load(str(Path(tmp) / f"fuse-{fuse}" / "model.onnx")).graph
                ops = collections.Counter(n.op_type for n in graph.node)
                print(
                    f"| {k} | {'fused' if fuse else 'as shipped'} | {len(graph.node)} | "
                    f"{ops['Attention'] + ops['QAttention']} | {ops['SkipLayerNormalization']} | {ops['BiasGelu']} | "
                    f"{results[fuse].onnx_bytes / 1e6:.1f} | {statistics.median(times[fuse]):.2f} | "
                    f"{'-' if not fuse else f'{same:.2%} (worst task)'} |"
                )


if __name__ == "__main__":
    main()
