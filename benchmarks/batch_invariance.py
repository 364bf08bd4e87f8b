"""Same text, same labels: how each way of quantising and batching the model keeps a row's scores.

    python benchmarks/batch_invariance.py [--model models/khmer-civic-e5-small] \
        [--data training/data/splits/test.jsonl] [--corpora ../shared/data/corpora] [--repeats 3]

``--corpora`` (optional, read from ``../shared``, never copied here) adds 300 news paragraphs of
``news_2019_articles.jsonl`` and 200 lines of ``oscar_web_lines.txt`` to the test split, drawn
with a fixed seed; without it only the test split is used. Needs the training extra (onnx).

Variants of the shipped model, each scored through ``CivicClassifier`` with one onnxruntime thread:

- ``dynamic-padded``: the shipped int8 graph (onnxruntime dynamic quantisation: one activation
  scale per call) in length-sorted padded batches — the behaviour before per-window batching;
- ``dynamic-per-window``: the same graph, each window scored alone (the shipped setting);
- ``static-qdq``: static int8 (QDQ) with activation ranges calibrated (MinMax) on 400 train-split
  texts, weights per channel, the same layers kept in float; padded batches;
- ``nbits8-block32``: onnxruntime's MatMulNBits, 8-bit weights in blocks of 32 with int8
  compute (activations quantised per row and block); padded batches;
- ``fp32-reference``: the shipped graph with every int8 weight dequantised back to fp32 and no
  activation quantisation; padded batches. It has the int8 model's weights, so agreement with it
  measures what activation quantisation (the thing being chosen here) changes. The fp32 graph the
  int8 model was exported from is not kept in the repository.

Per variant: for batch sizes 1, 7 and 32 and the reversed list in batches of 32, how many texts
get another decision (any task) than when scored one at a time, and the largest score difference;
the share of texts with the fp32 reference's decisions (per task and all at once); texts per second
of the batch-32 pass. Then the speed of ``dynamic-padded`` (before) and ``dynamic-per-window``
(after) on the realistic comment mix of :func:`common.build_input_mix`, loaded with 1 and 2
``intra_op_threads`` (padded: onnxruntime's intra-op pool; per-window: that many windows side by
side, one onnxruntime thread each), interleaved repeats, with the cores other programs held.
``--speed-only`` re-measures just that part into the existing results file (for a quieter machine). Writes
``benchmarks/results/batch_invariance.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DEFAULT_MODEL_DIR,
    DEFAULT_SPLITS_DIR,
    RESULTS_DIR,
    OtherLoad,
    build_input_mix,
    fmt,
    machine_info,
    machine_line,
    markdown_table,
    read_texts,
    relative,
    write_results,
)

from khmer_civic.model.classifier import CivicClassifier  # noqa: E402
from khmer_civic.model.manifest import write_manifest  # noqa: E402

Decision = tuple[Any, ...]


# --------------------------------------------------------------------------------------------
# Texts


def news_paragraphs(corpora: Path, n: int, rng: random.Random) -> list[str]:
    paragraphs = []
    for line in (corpora / "news_2019_articles.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            paragraphs += [p.strip() for p in json.loads(line)["text"].split("\n") if len(p.strip()) > 40]
    return rng.sample(paragraphs, min(n, len(paragraphs)))


def web_lines(corpora: Path, n: int, rng: random.Random) -> list[str]:
    lines = [x.strip() for x in (corpora / "oscar_web_lines.txt").read_text(encoding="utf-8").splitlines()]
    lines = [x for x in lines if len(x) > 20]
    return rng.sample(lines, min(n, len(lines)))


# --------------------------------------------------------------------------------------------
# Variants of the graph


def dequantized_graph(int8_path: Path, out_path: Path) -> None:
    """The int8 graph with each DynamicQuantizeLinear → MatMulInteger → Cast → Mul chain replaced
    by a float MatMul over the dequantised weights ``(q - zero_point) * scale``."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(int8_path))
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    replaced: dict[int, Any] = {}
    dropped: set[int] = set()
    new_inits = []
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        a_q, w_q, _a_zp, w_zp = node.input
        quantize = producer[a_q]
        cast = consumers[node.output[0]][0]
        mul = consumers[cast.output[0]][0]
        scales = producer[next(i for i in mul.input if i != cast.output[0])]
        w_scale = next(i for i in scales.input if i != quantize.output[1])
        weights = numpy_helper.to_array(inits[w_q]).astype(np.float32)
        zero = numpy_helper.to_array(inits[w_zp]).astype(np.float32)
        scale = numpy_helper.to_array(inits[w_scale]).astype(np.float32)
        name = w_q + "_dequantized"
        new_inits.append(numpy_helper.from_array((weights - zero) * scale, name))
        replaced[id(node)] = helper.make_node("MatMul", [quantize.input[0], name], [mul.output[0]], name=node.name)
        dropped |= {id(cast), id(mul), id(scales), id(quantize)}
    nodes = [replaced.get(id(n), n) for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(new_inits)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.save(model, str(out_path))


def static_qdq_graph(fp32_path: Path, out_path: Path, model_dir: Path, calibration_texts: Sequence[str]) -> None:
    """Static int8 (QDQ): MinMax activation ranges from ``calibration_texts`` (one window each)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static

    from khmer_civic.model.config import load_config
    from khmer_civic.model.tokenizer import TextTokenizer
    from khmer_civic.text import normalize

    config = load_config(model_dir)
    tokenizer = TextTokenizer.from_file(model_dir / "tokenizer.json")
    feeds = []
    for ids in tokenizer.encode([normalize(t) for t in calibration_texts]):
        window = np.array([[config.bos_token_id, *ids[: config.window_tokens], config.eos_token_id]], dtype=np.int64)
        feeds.append({"input_ids": window, "attention_mask": np.ones_like(window)})

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    constants = {init.name for init in graph.initializer}
    # activation × activation products (attention) and the fp16-stored layers stay in float
    keep_float = [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] not in constants]
    quantize_static(
        str(fp32_path),
        str(out_path),
        Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=keep_float,
        calibrate_method=CalibrationMethod.MinMax,
    )


def nbits8_graph(fp32_path: Path, out_path: Path) -> None:
    """MatMulNBits, 8-bit symmetric weights in blocks of 32, int8 compute (accuracy level 4)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(fp32_path)), bits=8, block_size=32, is_symmetric=True, accuracy_level=4
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(out_path), False)


def variant_dir(model_dir: Path, parent: Path, name: str, batching: str, graph: Path | None = None) -> Path:
    """A copy of the model directory with another graph and/or batching, and a fresh manifest."""
    target = parent / name
    target.mkdir()
    for item in ("tokenizer.json", "metrics.json"):
        shutil.copy(model_dir / item, target / item)
    shutil.copy(graph or model_dir / "model.onnx", target / "model.onnx")
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    config["batching"] = batching
    (target / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_manifest(target)
    return target


# --------------------------------------------------------------------------------------------
# Measurements


def decisions_of(predictions: Sequence[Any]) -> tuple[list, np.ndarray]:
    """Each prediction's decisions (task, label) and its scores, one row per prediction."""
    decisions = [tuple((task, repr(p.labels[task])) for task in p.labels) for p in predictions]
    scores = np.array([[v for s in p.scores.values() for v in s.values()] for p in predictions])
    return decisions, scores


def decisions_and_scores(clf: CivicClassifier, texts: Sequence[str], batch_size: int) -> tuple[list, np.ndarray]:
    return decisions_of(clf.predict(list(texts), batch_size=batch_size))


def invariance(clf: CivicClassifier, texts: Sequence[str]) -> dict[str, Any]:
    """Flips and score gaps of batched runs against one text per call; speed of the batch-32 pass."""
    ref_decisions, ref_scores = decisions_of([clf.predict(t) for t in texts])
    runs: dict[str, Any] = {}
    seconds_32 = 0.0
    for name, batch_size, reverse in (("batch 1", 1, False), ("batch 7", 7, False), ("batch 32", 32, False),
                                      ("reversed, batch 32", 32, True)):
        order = list(range(len(texts)))[::-1] if reverse else list(range(len(texts)))
        start = time.perf_counter()
        decisions, scores = decisions_and_scores(clf, [texts[i] for i in order], batch_size)
        if name == "batch 32":
            seconds_32 = time.perf_counter() - start
        back = np.argsort(order)
        decisions = [decisions[i] for i in back]
        scores = scores[back]
        runs[name] = {
            "texts_with_another_decision": sum(a != b for a, b in zip(decisions, ref_decisions)),
            "max_abs_score_diff": float(np.abs(scores - ref_scores).max()),
        }
    return {"runs": runs, "decisions": ref_decisions, "texts_per_s_batch32": len(texts) / seconds_32}


def agreement(decisions: Sequence[Decision], reference: Sequence[Decision]) -> dict[str, float]:
    tasks = [task for task, _ in reference[0]]
    out = {task: float(np.mean([a[i] == b[i] for a, b in zip(decisions, reference)])) for i, task in enumerate(tasks)}
    out["all tasks"] = float(np.mean([a == b for a, b in zip(decisions, reference)]))
    return out


def interleaved_speed(
    systems: dict[str, Callable[[], object]], n_texts: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """Texts per second of each system, repeats interleaved (A B A B ...), median and best."""
    times: dict[str, list[float]] = {name: [] for name in systems}
    others: dict[str, list[float]] = {name: [] for name in systems}
    for run in systems.values():
        run()  # warm-up
    for _ in range(repeats):
        for name, run in systems.items():
            with OtherLoad() as load:
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
            if load.cores is not None:
                others[name].append(load.cores)
    return {
        name: {
            "median_texts_per_s": n_texts / statistics.median(t),
            "best_texts_per_s": n_texts / min(t),
            "other_cores_median": statistics.median(others[name]) if others[name] else None,
        }
        for name, t in times.items()
    }


# --------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--data", type=Path, default=DEFAULT_SPLITS_DIR / "test.jsonl")
    ap.add_argument("--train", type=Path, default=DEFAULT_SPLITS_DIR / "train.jsonl", help="calibration texts")
    ap.add_argument("--corpora", type=Path, default=None, help="../shared/data/corpora (news and web lines)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--speed-only",
        action="store_true",
        help="only re-measure the speed on the mix; keep the variants of the existing results file",
    )
    args = ap.parse_args()
    if args.speed_only:
        rerun_speed(args)
        return

    rng = random.Random(0)
    split_texts = read_texts(args.data)
    texts = list(split_texts)
    sources = {relative(args.data): len(texts)}
    if args.corpora:
        news, web = news_paragraphs(args.corpora, 300, rng), web_lines(args.corpora, 200, rng)
        texts += news + web
        sources.update({"news paragraphs": len(news), "web lines": len(web)})
    print(f"{len(texts)} texts: {sources}", flush=True)

    variants: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="khmer-civic-bench-") as tmp:
        parent = Path(tmp)
        fp32 = parent / "fp32.onnx"
        dequantized_graph(args.model / "model.onnx", fp32)
        dirs = {
            "fp32-reference": variant_dir(args.model, parent, "fp32", "padded", fp32),
            "dynamic-padded": variant_dir(args.model, parent, "dynamic-padded", "padded"),
            "dynamic-per-window": variant_dir(args.model, parent, "dynamic-per-window", "per_window"),
        }
        static = parent / "static.onnx"
        static_qdq_graph(fp32, static, args.model, read_texts(args.train)[:400])
        dirs["static-qdq"] = variant_dir(args.model, parent, "static-qdq", "padded", static)
        try:
            nbits = parent / "nbits.onnx"
            nbits8_graph(fp32, nbits)
            dirs["nbits8-block32"] = variant_dir(args.model, parent, "nbits8-block32", "padded", nbits)
        except ImportError as exc:  # onnx_ir missing: the variant is reported as skipped
            print(f"nbits8-block32 skipped: {exc}", flush=True)

        results: dict[str, Any] = {}
        for name, path in dirs.items():
            clf = CivicClassifier.load(path, intra_op_threads=1)
            results[name] = invariance(clf, texts)
            results[name]["onnx_mb"] = (path / "model.onnx").stat().st_size / 1e6
            print(f"{name}: {results[name]['runs']}  {results[name]['texts_per_s_batch32']:.1f} texts/s", flush=True)
        reference = results["fp32-reference"]["decisions"]
        for name, res in results.items():
            res["agreement_with_fp32_reference"] = agreement(res.pop("decisions"), reference)
            variants[name] = res

    n_mix, speed = mix_speed(args.model, args.data, args.repeats)
    payload = {
        "machine": machine_info(),
        "model": relative(args.model),
        "texts": sources,
        "mix_texts": n_mix,
        "variants": variants,
        "speed_on_mix": speed,
    }
    path = write_results("batch_invariance", payload, args.out)
    print(machine_line(payload["machine"]))
    print(render(payload))
    print(f"wrote {relative(path)}")


def mix_speed(model: Path, data: Path, repeats: int) -> tuple[int, dict[str, Any]]:
    """Speed of padded batches (before) and per-window scoring (after) on the realistic mix."""
    mix = build_input_mix(read_texts(data))
    speed: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="khmer-civic-bench-") as tmp:
        dirs = {b: variant_dir(model, Path(tmp), b, b) for b in ("padded", "per_window")}
        for threads in (1, 2):
            systems = {}
            for batching, name in (("padded", "dynamic-padded"), ("per_window", "dynamic-per-window")):
                clf = CivicClassifier.load(dirs[batching], intra_op_threads=threads)
                systems[name] = lambda c=clf: c.predict(mix)
            speed[f"{threads} thread(s)"] = interleaved_speed(systems, len(mix), repeats)
            print(threads, speed[f"{threads} thread(s)"], flush=True)
    return len(mix), speed


def rerun_speed(args: argparse.Namespace) -> None:
    path = args.out or RESULTS_DIR / "batch_invariance.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["mix_texts"], payload["speed_on_mix"] = mix_speed(args.model, args.data, args.repeats)
    payload["speed_machine"] = machine_info()
    write_results("batch_invariance", payload, path)
    print(render(payload))


def render(payload: dict[str, Any]) -> str:
    """The Markdown tables of benchmarks/README.md from the results."""
    runs = ["batch 1", "batch 7", "batch 32", "reversed, batch 32"]
    rows = []
    for name, res in payload["variants"].items():
        agree = res["agreement_with_fp32_reference"]
        rows.append(
            [name]
            + [f"{res['runs'][r]['texts_with_another_decision']} / {res['runs'][r]['max_abs_score_diff']:.1e}" for r in runs]
            + [f"{agree[t]:.2%}" for t in agree]
            + [fmt(res["texts_per_s_batch32"]), fmt(res["onnx_mb"])]
        )
    tasks = list(next(iter(payload["variants"].values()))["agreement_with_fp32_reference"])
    header = ["variant"] + [f"{r}: flips / max Δscore" for r in runs]
    header += [f"same as fp32: {t}" for t in tasks] + ["texts/s (1 thread, batch 32)", "MB"]
    table = markdown_table(header, rows)
    speed_rows = []
    for threads, systems in payload["speed_on_mix"].items():
        base = systems["dynamic-padded"]["median_texts_per_s"]
        for name, s in systems.items():
            speed_rows.append(
                [threads, name, fmt(s["median_texts_per_s"]), fmt(s["best_texts_per_s"]),
                 f"×{s['median_texts_per_s'] / base:.2f}", fmt(s["other_cores_median"], 2)]
            )
    speed = markdown_table(
        ["threads", "batching", "median texts/s", "best texts/s", "vs padded", "cores held by others"], speed_rows
    )
    return table + "\n\n" + speed


if __name__ == "__main__":
    main()
