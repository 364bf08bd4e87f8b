"""How the student's int8 graph is built, and what each choice costs (issue 14, the speed path).

Two measurements:

1. **LayerNorm kernels.** onnxruntime's fused ``SkipLayerNormalization`` (residual Add, bias Add
   and LayerNorm in one operator) against the same computation as ``Add`` + ``LayerNormalization``,
   one thread, hidden size 384 (e5-small), for 8, 50 and 128 tokens.
2. **Export variants of one trained student.** From the fp32 graph a distillation run keeps
   (``<run-dir>/model.fp32.onnx``, exported with ``skip_layer_norm_fusion`` false: residual
   LayerNorms unfused), through the project's own quantiser (``khmer_civic.train.export.quantize_int8``):

   - ``fp16 down-projections`` (``sensitive="fp16"``), onnxruntime fusing the LayerNorms at load
     (how khmer-civic-fast 0.1.1 ran);
   - ``every MatMul int8`` (``fp16_first_layers=None``), LayerNorms fused at load;
   - ``per-token int8 down-projections`` (``sensitive="int8_rows"``), LayerNorms fused at load;
   - the same with the LayerNorms left apart (``SkipLayerNormFusion`` disabled: khmer-civic-fast 0.1.2).

   Per variant: file size, decisions equal to the fp32 graph's on the test split (per task),
   and texts per second scoring the inference benchmark's ``round1`` comment mix window by window
   on one thread (the variants interleaved, median of ``--repeats``).

Needs the training extra (onnx) and a distillation run directory (not kept in the repository)::

    python benchmarks/student_export.py --model models/khmer-civic-fast --run-dir training/runs/fast --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import numpy as np

VARIANTS: dict[str, dict[str, Any]] = {
    "fp16 down-projections (0.1.1)": {"fp16_first_layers": 0, "sensitive": "fp16", "unfused": False},
    "every MatMul int8": {"fp16_first_layers": None, "sensitive": "fp16", "unfused": False},
    "per-token int8 down-projections": {"fp16_first_layers": 0, "sensitive": "int8_rows", "unfused": False},
    "per-token int8, LayerNorms unfused (0.1.2)": {"fp16_first_layers": 0, "sensitive": "int8_rows", "unfused": True},
}


def layer_norm_kernels(repeats: int = 2000) -> list[list[str]]:
    """Microseconds per call: fused SkipLayerNormalization against Add + LayerNormalization."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    hidden = 384
    consts = [
        numpy_helper.from_array(np.ones(hidden, np.float32), "gamma"),
        numpy_helper.from_array(np.zeros(hidden, np.float32), "beta"),
        numpy_helper.from_array(np.full(hidden, 0.1, np.float32), "bias"),
    ]
    fused = [helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta", "bias"], ["y"], domain="com.microsoft", epsilon=1e-12)]
    apart = [
        helper.make_node("Add", ["x", "skip"], ["sum"]),
        helper.make_node("Add", ["sum", "bias"], ["biased"]),
        helper.make_node("LayerNormalization", ["biased", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-12),
    ]

    def session(nodes: list[Any]) -> Any:
        inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, None, hidden]) for n in ("x", "skip")]
        graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], consts)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        return ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"], disabled_optimizers=["SkipLayerNormFusion"]
        )

    sessions = {"SkipLayerNormalization": session(fused), "Add + LayerNormalization": session(apart)}
    rng = np.random.default_rng(0)
    rows = []
    for tokens in (8, 50, 128):
        feed = {name: rng.normal(size=(1, tokens, hidden)).astype(np.float32) for name in ("x", "skip")}
        outputs = [s.run(None, feed)[0] for s in sessions.values()]
        micros = {}
        for name, s in sessions.items():
            for _ in range(50):
                s.run(None, feed)
            start = time.perf_counter()
            for _ in range(repeats):
                s.run(None, feed)
            micros[name] = (time.perf_counter() - start) / repeats * 1e6
        gap = float(np.abs(outputs[0] - outputs[1]).max())
        rows.append([str(tokens), *(f"{v:.1f}" for v in micros.values()), f"×{micros['SkipLayerNormalization'] / micros['Add + LayerNormalization']:.2f}", f"{gap:.1e}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=common.REPO_ROOT / "models" / "khmer-civic-fast")
    parser.add_argument("--run-dir", type=Path, required=True, help="the student's distillation run (model.fp32.onnx)")
    parser.add_argument("--splits", type=Path, default=common.DEFAULT_SPLITS_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from inference import build_mix

    from khmer_civic.model.config import load_config
    from khmer_civic.model.runtime import WindowedRunner, create_session
    from khmer_civic.model.tokenizer import TextTokenizer
    from khmer_civic.text import normalize
    from khmer_civic.train.export import SKIP_LAYER_NORM_FUSION, measure_agreement, quantize_int8

    print(common.machine_line(common.machine_info()))
    print("\nLayerNorm kernels, microseconds per call (1 thread, hidden 384):\n")
    print(common.markdown_table(["tokens", "SkipLayerNormalization", "Add + LayerNormalization", "fused / apart", "largest output gap"], layer_norm_kernels()))

    config = load_config(args.model)
    tokenizer = TextTokenizer.from_file(args.model / "tokenizer.json")
    fp32 = args.run_dir / "model.fp32.onnx"
    test = [normalize(t) for t in common.read_texts(args.splits / "test.jsonl")]
    test = [t for t in test if t.strip()]
    mix = [normalize(t) for t in build_mix(args.splits, "round1", 0)[0]]

    def runner(graph: Path, unfused: bool) -> WindowedRunner:
        disabled = [SKIP_LAYER_NORM_FUSION] if unfused else []
        return WindowedRunner(create_session(graph, intra_op_threads=1, disabled_optimizers=disabled), tokenizer, config)

    with tempfile.TemporaryDirectory() as tmp:
        reference = runner(fp32, True).probabilities(test)
        runners, rows = {}, {}
        for name, spec in VARIANTS.items():
            graph = Path(tmp) / f"{len(runners)}.onnx"
            quantize_int8(fp32, graph, fp16_first_layers=spec["fp16_first_layers"], sensitive=spec["sensitive"])
            runners[name] = runner(graph, spec["unfused"])
            agreement = measure_agreement(reference, runners[name].probabilities(test), config.schema)
            rows[name] = [name, f"{os.path.getsize(graph) / 1e6:.2f}"] + [
                f"{100 * agreement.tasks[task.name]['decision_agreement']:.2f}%" for task in config.schema.tasks
            ]
        times: dict[str, list[float]] = {name: [] for name in runners}
        with common.OtherLoad() as load:
            for _ in range(args.repeats):
                for name, r in runners.items():
                    start = time.perf_counter()
                    r.probabilities(mix)
                    times[name].append(time.perf_counter() - start)
    header = ["graph", "MB", *(f"same decisions as fp32: {t.name}" for t in config.schema.tasks), "texts/s (1 thread, median)"]
    table = [rows[name] + [f"{len(mix) / statistics.median(times[name]):.1f}"] for name in runners]
    print(f"\nExport variants of {args.model.name} ({len(test)} test texts for agreement; the round1 mix, {len(mix)} texts, for speed):\n")
    print(common.markdown_table(header, table))
    print(f"\nOther programs took {common.fmt(load.cores, 2)} cores during the timings.")


if __name__ == "__main__":
    main()
