"""Inference speed, latency, memory and load time: the shipped model against what users would use instead.

    python benchmarks/inference.py [--model models/khmer-civic-e5-small] [--fast-model models/khmer-civic-fast]
                                   [--run-dir training/runs/e5-small] [--mix round1|test]

Systems, each run in a fresh subprocess per thread count (1 and 2 by default), one after another:

- ``onnx-int8``: the shipped int8 model through ``CivicClassifier`` (the reference: every other
  figure is also given as a ratio to it, within the same run and thread count);
- ``fast-int8``: a second int8 model directory, ``--fast-model`` (default: the bundled "fast"
  student of ``models/index.json``), measured exactly like ``onnx-int8``; its ratios are the
  student's figures over the accurate model's in the same run. Skipped, with a note, when the
  directory is not there;
- ``onnx-fp32``: the same trained weights as an fp32 ONNX graph (``<run-dir>/model.fp32.onnx``)
  through the same ``CivicClassifier`` code, from a temporary model directory with its own manifest;
- ``torch-fp32``: the best checkpoint (``<run-dir>/checkpoints/best``) in PyTorch, written the way
  a user would by hand: a ``transformers`` tokenizer over the model directory's tokenizer.json,
  ``truncation=True, max_length=<config max_length>``, batches of 32 in input order;
- ``torch-fp32-windows``: the same checkpoint scored exactly like the runtime (windows for long
  posts, length-sorted batches of 32) with the training package's helpers, which separates the
  cost of the framework from the cost of batching and windows;
- ``tfidf``: the TF-IDF + logistic regression baseline (fitted on the train split, thresholds on
  dev; only prediction is timed; it has no saved form, so its "load" is the fit).

Inputs: the realistic mix of :func:`common.build_input_mix` (every source text of at most 600
characters once, plus 5% long posts of 600–2,000 characters joined from source texts). ``--mix``
picks the source texts:

- ``round1`` (default): the test texts whose id is in ``round1_ids.json["test"]`` of the splits
  directory (758 comments and textbook sentences; a mix of 796 texts, median 27 tokens). It is the
  test split as it was when the speed targets were set, so figures stay comparable over time;
- ``test``: every text of today's test split, which also holds news and web paragraphs (a heavier
  mix: median 34 tokens).

The printed Inputs line and the JSON (``settings.mix``, ``inputs.mix``) say which mix was used.
Per system: comments per second labelling the whole mix in one call (median of ``--repeats``);
latency of one comment at a time (p50/p95 over the mix, one pass); model load time; time to import
its libraries; peak resident memory of its process (``getrusage`` max RSS, so for the baseline it
includes fitting); and the share of texts with the same decisions as ``onnx-int8``. Also reported:
characters per second of ``khmer_civic.text.normalize`` alone on the test split.

Writes ``benchmarks/results/inference.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import common

SYSTEMS: tuple[str, ...] = ("onnx-int8", "fast-int8", "onnx-fp32", "torch-fp32", "torch-fp32-windows", "tfidf")
REFERENCE = "onnx-int8"
STUDENT = "fast-int8"
SYSTEM_TITLES: dict[str, str] = {
    "onnx-int8": "shipped int8 ONNX, CivicClassifier",
    "fast-int8": "fast student int8 ONNX, CivicClassifier",
    "onnx-fp32": "fp32 ONNX, CivicClassifier",
    "torch-fp32": "PyTorch fp32, hand-written (truncate at max_length, input order)",
    "torch-fp32-windows": "PyTorch fp32, runtime's windows + length-sorted batches",
    "tfidf": "TF-IDF + logistic regression baseline",
}
BATCH_SIZE = 32
MIXES: dict[str, str] = {  # --mix choice -> its source texts, for the Inputs line ({n}: how many)
    "round1": "the {n} round-1 test texts (ids in round1_ids.json)",
    "test": "all {n} texts of the test split",
}

Decisions = dict[str, list[Any]]


# =============================================================================================
# Worker side: one system, one thread count, one fresh process.


def rss_now_mb() -> float | None:
    """Current resident memory of this process (VmRSS), in MB."""
    status = Path("/proc/self/status")
    if not status.is_file():
        return None
    for line in status.read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (``ru_maxrss`` is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class LoadedSystem:
    """A loaded system: a batch labeller and a one-text labeller, both returning decisions."""

    def __init__(
        self,
        label_batch: Callable[[Sequence[str]], Decisions],
        label_one: Callable[[str], object],
        model_bytes: int | None,
    ) -> None:
        self.label_batch = label_batch
        self.label_one = label_one
        self.model_bytes = model_bytes


def decisions_from_probabilities(probs: Mapping[str, Any], schema: Any) -> Decisions:
    """Per-task decisions, one per text, from per-task probability arrays (binary: p(true)),
    by the runtime's own rule (thresholds, and a dependent task such as cta_type decided only
    where its parent holds), so the torch systems are compared with the ONNX ones like for like."""
    from khmer_civic.model.runtime import decided_labels, schema_decisions

    decided = schema_decisions(probs, schema)  # binary p(true) as [N] or [N, 1]: runtime.decisions takes both
    return {task.name: [decided_labels(task, row) for row in decided[task.name]] for task in schema.tasks}


def load_onnx(model_dir: Path, threads: int) -> LoadedSystem:
    from khmer_civic.model.classifier import CivicClassifier

    classifier = CivicClassifier.load(model_dir, intra_op_threads=threads, inter_op_threads=1)
    names = classifier.schema.task_names

    def label_batch(texts: Sequence[str]) -> Decisions:
        predictions = classifier.predict(list(texts), batch_size=BATCH_SIZE)
        return {name: [p.labels[name] for p in predictions] for name in names}

    return LoadedSystem(label_batch, classifier.predict, (model_dir / "model.onnx").stat().st_size)


def build_torch_model(run_dir: Path, base_model: Path | None, schema: Any) -> tuple[Any, int]:
    """The train-side model class with the best checkpoint's weights (no pretrained download or copy)."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel

    from khmer_civic.train.modeling import MultiTaskClassifier, truncate_layers

    run_config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    base = base_model or Path(run_config["base_model"])
    if not base.is_absolute():
        base = common.REPO_ROOT / base
    encoder_config = AutoConfig.from_pretrained(str(base), local_files_only=True)
    try:
        encoder = AutoModel.from_config(encoder_config, add_pooling_layer=False)
    except TypeError:
        encoder = AutoModel.from_config(encoder_config)
    if run_config.get("num_layers"):
        truncate_layers(encoder, int(run_config["num_layers"]))
    model = MultiTaskClassifier(encoder, schema)
    checkpoint = run_dir / "checkpoints" / "best" / "model.safetensors"
    model.load_state_dict(load_file(str(checkpoint)))
    model.eval()
    return model, checkpoint.stat().st_size


def load_torch_by_hand(model_dir: Path, run_dir: Path, base_model: Path | None, threads: int) -> LoadedSystem:
    import numpy as np
    import torch
    from transformers import PreTrainedTokenizerFast

    from khmer_civic.model.config import load_config
    from khmer_civic.text import normalize

    torch.set_num_threads(threads)
    config = load_config(model_dir)
    schema = config.schema
    model, model_bytes = build_torch_model(run_dir, base_model, schema)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(model_dir / "tokenizer.json"),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )

    def probabilities(texts: Sequence[str]) -> dict[str, Any]:
        encoded = tokenizer(
            [normalize(t) for t in texts],
            padding=True,
            truncation=True,
            max_length=config.max_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            logits = model(encoded["input_ids"], encoded["attention_mask"])
        out = {}
        for task in schema.tasks:
            scaled = logits[task.name] / task.temperature
            probs = torch.softmax(scaled, dim=-1) if task.type == "single_label" else torch.sigmoid(scaled)
            out[task.name] = probs.numpy().astype(np.float64)
        return out

    def label_batch(texts: Sequence[str]) -> Decisions:
        merged: Decisions = {task.name: [] for task in schema.tasks}
        for start in range(0, len(texts), BATCH_SIZE):
            chunk = decisions_from_probabilities(probabilities(texts[start : start + BATCH_SIZE]), schema)
            for name, values in chunk.items():
                merged[name].extend(values)
        return merged

    def label_one(text: str) -> object:
        return decisions_from_probabilities(probabilities([text]), schema)

    return LoadedSystem(label_batch, label_one, model_bytes)


def load_torch_windows(model_dir: Path, run_dir: Path, base_model: Path | None, threads: int) -> LoadedSystem:
    import torch

    from khmer_civic.model.config import load_config
    from khmer_civic.model.tokenizer import TextTokenizer
    from khmer_civic.text import normalize
    from khmer_civic.train.export import torch_probabilities

    torch.set_num_threads(threads)
    config = load_config(model_dir)
    model, model_bytes = build_torch_model(run_dir, base_model, config.schema)
    text_tokenizer = TextTokenizer.from_file(model_dir / "tokenizer.json")

    def label_batch(texts: Sequence[str]) -> Decisions:
        normalised = [normalize(t) for t in texts]
        probs = torch_probabilities(model, text_tokenizer, normalised, config, batch_size=BATCH_SIZE)
        return decisions_from_probabilities(probs, config.schema)

    return LoadedSystem(label_batch, lambda text: label_batch([text]), model_bytes)


def load_tfidf(model_dir: Path, splits_dir: Path) -> tuple[LoadedSystem, float]:
    """The baseline fitted as the training recipe fits it; returns it and the seconds reading the data took."""
    from khmer_civic.model.config import load_config
    from khmer_civic.train.baseline import TfidfBaseline
    from khmer_civic.train.data import TaskConfig, load_annotations

    schema = load_config(model_dir).schema
    started = time.perf_counter()
    tasks = [TaskConfig(t.name, t.type, t.labels) for t in schema.tasks]
    data = load_annotations([splits_dir / "train.jsonl"], [splits_dir / "dev.jsonl"], tasks=tasks)
    read_seconds = time.perf_counter() - started
    baseline = TfidfBaseline(data.schema, seed=_recipe_seed(model_dir)).fit(data["train"], data["dev"])

    def label_batch(texts: Sequence[str]) -> Decisions:
        return decisions_from_probabilities(baseline.predict_proba(list(texts)), baseline.schema)

    return LoadedSystem(label_batch, lambda text: baseline.predict_proba([text]), None), read_seconds


def _recipe_seed(model_dir: Path) -> int:
    """The seed the training recipe gave the baseline (from metrics.json), 13 when unknown."""
    metrics = model_dir / "metrics.json"
    if metrics.is_file():
        training = json.loads(metrics.read_text(encoding="utf-8")).get("training", {})
        seed = training.get("seed", (training.get("config") or {}).get("seed"))
        if isinstance(seed, int):
            return seed
    return 13


IMPORTS: dict[str, tuple[str, ...]] = {
    "onnx-int8": ("khmer_civic.model.classifier",),
    "fast-int8": ("khmer_civic.model.classifier",),
    "onnx-fp32": ("khmer_civic.model.classifier",),
    "torch-fp32": ("torch", "transformers", "safetensors.torch", "khmer_civic.train.modeling"),
    "torch-fp32-windows": ("torch", "transformers", "safetensors.torch", "khmer_civic.train.export"),
    "tfidf": ("sklearn.linear_model", "sklearn.feature_extraction.text", "khmer_civic.train.baseline"),
}


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Load one system, time it on the inputs, report as a dict (printed as JSON)."""
    import importlib

    texts: list[str] = json.loads(Path(args.inputs).read_text(encoding="utf-8"))
    latency_texts = texts if args.latency_texts <= 0 else texts[: args.latency_texts]
    system, threads = args.worker, args.threads[0]
    clock = time.perf_counter

    started = clock()
    for module in IMPORTS[system]:
        importlib.import_module(module)
    import_s = clock() - started
    rss_after_import = rss_now_mb()

    extra: dict[str, Any] = {}
    started = clock()
    if system == "onnx-int8":
        loaded = load_onnx(Path(args.model), threads)
    elif system == "fast-int8":
        loaded = load_onnx(Path(args.fast_model), threads)
    elif system == "onnx-fp32":
        loaded = load_onnx(Path(args.fp32_dir), threads)
    elif system == "torch-fp32":
        loaded = load_torch_by_hand(Path(args.model), Path(args.run_dir), args.base_model, threads)
    elif system == "torch-fp32-windows":
        loaded = load_torch_windows(Path(args.model), Path(args.run_dir), args.base_model, threads)
    elif system == "tfidf":
        loaded, read_s = load_tfidf(Path(args.model), Path(args.splits))
        extra["data_read_s"] = read_s
    else:
        raise ValueError(f"unknown system {system!r}")
    load_s = clock() - started
    if system == "tfidf":
        load_s -= extra["data_read_s"]  # the fit alone
    rss_after_load = rss_now_mb()

    loaded.label_batch(texts[:BATCH_SIZE])  # warm-up: first-call allocations, lazy kernels
    decisions: Decisions = {}

    def batch_run() -> None:
        decisions.update(loaded.label_batch(texts))

    with common.OtherLoad() as batch_load:
        batch_times = common.timed_repeats(batch_run, args.repeats, clock)
    latencies_ms = []
    with common.OtherLoad() as latency_load:
        for text in latency_texts:
            begin = clock()
            loaded.label_one(text)
            latencies_ms.append((clock() - begin) * 1000.0)
    chars = sum(len(t) for t in texts)
    median_s = common.best_and_median(batch_times)["median_s"]
    return {
        "system": system,
        "threads": threads,
        "texts": len(texts),
        "batch_seconds": batch_times,
        "comments_per_s": len(texts) / median_s,
        "chars_per_s": chars / median_s,
        "latency_texts": len(latency_texts),
        "latency_p50_ms": common.percentile(latencies_ms, 50),
        "latency_p95_ms": common.percentile(latencies_ms, 95),
        "latency_mean_ms": sum(latencies_ms) / len(latencies_ms),
        "load_s": load_s,
        "import_s": import_s,
        "rss_after_import_mb": rss_after_import,
        "rss_after_load_mb": rss_after_load,
        "peak_rss_mb": peak_rss_mb(),
        "model_file_bytes": loaded.model_bytes,
        "other_cores_batch": batch_load.cores,
        "other_cores_latency": latency_load.cores,
        "decisions": decisions,
        **extra,
    }


# =============================================================================================
# Orchestrator side.


def default_fast_model_dir() -> Path:
    """The directory the model registry gives the name "fast" (installed or not)."""
    from khmer_civic.model.registry import bundled_models

    try:
        found = next((m for m in bundled_models() if "fast" in m.names), None)
    except (OSError, ValueError):  # an unreadable index (ConfigFormatError is a ValueError): the checkout's folder
        found = None
    return found.directory if found is not None else common.REPO_ROOT / "models" / "khmer-civic-fast"


def mix_source_texts(splits_dir: Path, mix: str) -> list[str]:
    """The test texts the input mix is built from: all of them (``test``) or, for ``round1``, those
    whose id is in ``round1_ids.json["test"]``, in the split's order."""
    records = common.read_jsonl(splits_dir / "test.jsonl")
    if mix == "test":
        return [str(r["text"]) for r in records]
    if mix != "round1":
        raise ValueError(f"unknown mix {mix!r}; choose from {', '.join(MIXES)}")
    ids_path = splits_dir / common.ROUND1_IDS
    wanted = common.round1_test_ids(splits_dir)
    if wanted is None:
        raise FileNotFoundError(f"--mix round1 needs {ids_path}")
    texts = [str(r["text"]) for r in records if r.get("id") in wanted]
    if not texts:
        raise ValueError(f"no text of {splits_dir / 'test.jsonl'} has an id listed in {ids_path}")
    return texts


def build_mix(splits_dir: Path, mix: str, seed: int, limit: int = 0) -> tuple[list[str], int]:
    """The labellable input mix of :func:`common.build_input_mix` over :func:`mix_source_texts`
    (its first ``limit`` texts when ``limit``), and how many source texts it was built from."""
    source = mix_source_texts(splits_dir, mix)
    texts = common.labellable(common.build_input_mix(source, seed=seed))
    return (texts[:limit] if limit else texts), len(source)


def build_fp32_model_dir(model_dir: Path, fp32_graph: Path, parent: Path) -> Path:
    """A model directory with the shipped tokenizer and config and the fp32 graph, freshly sealed."""
    from khmer_civic.model.manifest import REQUIRED_FILES, write_manifest

    target = parent / "fp32-model"
    target.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy2(model_dir / name, target / name)
    shutil.copy2(fp32_graph, target / "model.onnx")
    write_manifest(target, REQUIRED_FILES)
    return target


def normalisation_speed(texts: Sequence[str], repeats: int) -> dict[str, Any]:
    """Characters per second of ``normalize`` over ``texts`` (median of ``repeats`` passes)."""
    from khmer_civic.text import normalize

    normalize(texts[0])  # compiled patterns, first-call costs
    times = common.timed_repeats(lambda: [normalize(t) for t in texts], repeats, time.perf_counter)
    chars = sum(len(t) for t in texts)
    median_s = common.best_and_median(times)["median_s"]
    return {
        "texts": len(texts),
        "chars": chars,
        "seconds": times,
        "chars_per_s": chars / median_s,
        "texts_per_s": len(texts) / median_s,
    }


def spawn_worker(system: str, threads: int, args: argparse.Namespace, inputs: Path, fp32_dir: Path | None) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        system,
        "--threads",
        str(threads),
        "--inputs",
        str(inputs),
        "--model",
        str(args.model),
        "--fast-model",
        str(args.fast_model),
        "--run-dir",
        str(args.run_dir),
        "--splits",
        str(args.splits),
        "--repeats",
        str(args.repeats),
        "--latency-texts",
        str(args.latency_texts),
    ]
    if fp32_dir is not None:
        command += ["--fp32-dir", str(fp32_dir)]
    if args.base_model is not None:
        command += ["--base-model", str(args.base_model)]
    done = subprocess.run(command, env=common.thread_env(threads), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{system} at {threads} thread(s) failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def other_cores(result: Mapping[str, Any]) -> float | None:
    """The larger of the other programs' loads during the batch and the latency timings."""
    values = [v for v in (result.get("other_cores_batch"), result.get("other_cores_latency")) if v is not None]
    return max(values) if values else None


def measure_quietly(system: str, threads: int, args: argparse.Namespace, inputs: Path, fp32_dir: Path | None) -> dict:
    """Run a worker; while other programs took more than ``--max-other-cores``, wait and run it
    again (at most ``--retries`` more times) and keep the quietest attempt."""
    attempts: list[dict[str, Any]] = []
    for attempt in range(args.retries + 1):
        if attempt:
            print(f"  other programs took {other_cores(attempts[-1]):.2f} cores; retrying in {args.retry_wait} s", file=sys.stderr, flush=True)
            time.sleep(args.retry_wait)
        load_before = os.getloadavg()[0]
        result = spawn_worker(system, threads, args, inputs, fp32_dir)
        result["loadavg_1min_before_after"] = [load_before, os.getloadavg()[0]]
        attempts.append(result)
        if common.quiet_enough(other_cores(result), args.max_other_cores):
            break
    best = min(attempts, key=lambda r: other_cores(r) or 0.0)
    best["attempts"] = len(attempts)
    best["other_cores"] = other_cores(best)
    return best


def agreement(reference: Decisions, other: Decisions) -> dict[str, float]:
    """Share of texts with the same decision, per task and for all tasks at once."""
    names = list(reference)
    n = len(reference[names[0]])
    per_task = {}
    all_same = [True] * n
    for name in names:
        same = [a == b for a, b in zip(reference[name], other.get(name, [None] * n))]
        per_task[name] = sum(same) / n
        all_same = [x and y for x, y in zip(all_same, same)]
    return {"all_tasks": sum(all_same) / n, **per_task}


def with_ratios(results: list[dict[str, Any]]) -> None:
    """Add, in place, each figure's ratio to the reference system at the same thread count."""
    keys = ("comments_per_s", "latency_p50_ms", "latency_p95_ms", "load_s", "peak_rss_mb", "model_file_bytes")
    for row in results:
        reference = next((r for r in results if r["system"] == REFERENCE and r["threads"] == row["threads"]), None)
        if reference is None:
            continue
        row["ratio_to_int8"] = {k: common.ratio(row.get(k), reference.get(k)) for k in keys}
        row["same_decisions_as_int8"] = agreement(reference["decisions"], row["decisions"])
        one_thread = next((r for r in results if r["system"] == row["system"] and r["threads"] == 1), None)
        if one_thread is not None:
            row["speedup_over_1_thread"] = common.ratio(row["comments_per_s"], one_thread["comments_per_s"])


def cell(value: Any, ratio: float | None, digits: int = 1) -> str:
    return f"{common.fmt(value, digits)} ({common.fmt_ratio(ratio)})"


def title(system: str) -> str:
    """The table title of a system (its key when it has none, e.g. in an older results file)."""
    return SYSTEM_TITLES.get(system, system)


def speed_table(results: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in results:
        q = r.get("ratio_to_int8", {})
        same = r.get("same_decisions_as_int8", {}).get("all_tasks")
        rows.append(
            [
                title(r["system"]),
                str(r["threads"]),
                cell(r["comments_per_s"], q.get("comments_per_s")),
                cell(r["latency_p50_ms"], q.get("latency_p50_ms"), 2),
                cell(r["latency_p95_ms"], q.get("latency_p95_ms"), 2),
                cell(r["load_s"], q.get("load_s"), 2),
                cell(r["peak_rss_mb"], q.get("peak_rss_mb"), 0),
                "–" if same is None else f"{100 * same:.1f}%",
                common.fmt(r.get("other_cores"), 2),
            ]
        )
    header = [
        "system",
        "threads",
        "comments/s, batch",
        "p50 ms, one comment",
        "p95 ms, one comment",
        "load s",
        "peak RSS MB",
        "same decisions as int8",
        "cores used by other programs",
    ]
    return common.markdown_table(header, rows)


def detail_table(results: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    fewest = min((r["threads"] for r in results), default=1)
    for r in results:
        if r["threads"] != fewest:
            continue
        size = r.get("model_file_bytes")
        rows.append(
            [
                title(r["system"]),
                "–" if size is None else f"{size / 1e6:.1f}",
                common.fmt(r.get("import_s"), 2),
                common.fmt(r.get("load_s"), 2),
                common.fmt(r.get("rss_after_import_mb"), 0),
                common.fmt(r.get("rss_after_load_mb"), 0),
                common.fmt(r.get("peak_rss_mb"), 0),
                common.fmt(
                    next(
                        (x.get("speedup_over_1_thread") for x in results if x["system"] == r["system"] and x["threads"] == 2),
                        None,
                    ),
                    2,
                ),
            ]
        )
    header = [
        "system",
        "model file MB",
        "import s",
        "load s",
        "RSS after import MB",
        "RSS after load MB",
        f"peak RSS MB ({fewest} thread{'s' if fewest != 1 else ''})",
        "2 threads / 1 thread",
    ]
    return common.markdown_table(header, rows)


def student_table(results: Sequence[Mapping[str, Any]]) -> str | None:
    """The fast student against the accurate int8 model, one row per thread count (``None`` when
    the student was not measured)."""
    rows = []
    for r in results:
        if r["system"] != STUDENT:
            continue
        q = r.get("ratio_to_int8", {})
        same = r.get("same_decisions_as_int8", {}).get("all_tasks")
        size = r.get("model_file_bytes")
        import_load = None if r.get("import_s") is None or r.get("load_s") is None else r["import_s"] + r["load_s"]
        rows.append(
            [
                str(r["threads"]),
                common.fmt(r.get("comments_per_s"), 1),
                common.fmt_ratio(q.get("comments_per_s")),
                common.fmt(r.get("latency_p50_ms"), 2),
                "–" if size is None else f"{size / 1e6:.1f}",
                common.fmt(r.get("peak_rss_mb"), 0),
                common.fmt(import_load, 2),
                "–" if same is None else f"{100 * same:.1f}%",
            ]
        )
    if not rows:
        return None
    header = [
        "threads",
        "student comments/s",
        "× accurate int8",
        "p50 ms, one comment",
        "model file MB",
        "peak RSS MB",
        "import + load s",
        "same decisions as accurate int8",
    ]
    return common.markdown_table(header, rows)


def normalisation_table(norm: Mapping[str, Any]) -> str:
    return common.markdown_table(
        ["step", "texts", "chars", "chars/s", "texts/s"],
        [
            [
                "`khmer_civic.text.normalize` (1 thread)",
                common.fmt(norm["texts"]),
                common.fmt(norm["chars"]),
                common.fmt(norm["chars_per_s"], 0),
                common.fmt(norm["texts_per_s"], 0),
            ]
        ],
    )


def inputs_line(inputs: Mapping[str, Any]) -> str:
    """The Inputs sentence: which mix, how many source texts, and the mix's lengths."""
    mix = inputs.get("mix")
    if mix is None:  # a results file written before --mix existed: the whole test split
        return f"Inputs: {common.mix_sentence(inputs)}"
    source = MIXES.get(mix, mix).format(n=common.fmt(inputs.get("source_texts")))
    return f"Inputs: the `{mix}` mix, built from {source}: {common.mix_sentence(inputs)}"


def markdown_report(report: Mapping[str, Any]) -> str:
    results = report["results"]
    latency_texts = results[0]["latency_texts"] if results else "–"
    parts = [
        common.machine_line(report["machine"]),
        "",
        (
            f"{inputs_line(report['inputs'])}. Batch figures: the whole list in one call "
            f"(batches of {BATCH_SIZE}), median of {report['settings']['repeats']} runs; one-comment latency over "
            f"{latency_texts} texts, one pass. (×n) = this figure / the accurate int8 model's (`{REFERENCE}`) figure "
            f"at the same thread count, so for the fast student it is its speed-up over the accurate model. "
            f"Cores used by other programs: CPU time the rest of the machine took during the timings, in cores "
            f"(a system is rerun, up to {report['settings']['retries']} times, while this exceeds {report['settings']['max_other_cores']})."
        ),
        "",
        speed_table(results),
        "",
        detail_table(results),
    ]
    student = student_table(results)
    if student is not None:
        parts += ["", f"Fast student (`{report.get('fast_model', STUDENT)}`) against the accurate int8 model, same run:", "", student]
    skipped = report.get("skipped") or {}
    if skipped:
        parts += ["", "Not measured: " + "; ".join(f"`{name}` ({why})" for name, why in skipped.items()) + "."]
    parts += ["", normalisation_table(report["normalisation"])]
    return "\n".join(parts) + "\n"


def run_orchestrator(args: argparse.Namespace) -> int:
    model_dir, run_dir = Path(args.model), Path(args.run_dir)
    if not (model_dir / "config.json").is_file():
        print(f"error: {model_dir} is not a model directory", file=sys.stderr)
        return 2
    test_texts = common.read_texts(Path(args.splits) / "test.jsonl")
    try:
        mix, n_source = build_mix(Path(args.splits), args.mix, args.seed, args.limit)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    systems = [s for s in args.systems.split(",") if s]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        print(f"error: unknown systems {unknown}; choose from {', '.join(SYSTEMS)}", file=sys.stderr)
        return 2
    if REFERENCE not in systems:
        systems.insert(0, REFERENCE)
    skipped: dict[str, str] = {}
    fp32_graph = run_dir / "model.fp32.onnx"
    checkpoint = run_dir / "checkpoints" / "best" / "model.safetensors"
    if args.fast_model is None:
        args.fast_model = default_fast_model_dir()
    if STUDENT in systems and not (Path(args.fast_model) / "config.json").is_file():
        skipped[STUDENT] = f"{args.fast_model} holds no config.json: the student is not installed there"
    if "onnx-fp32" in systems and not fp32_graph.is_file():
        skipped["onnx-fp32"] = f"{fp32_graph} does not exist"
    for name in ("torch-fp32", "torch-fp32-windows"):
        if name in systems and not checkpoint.is_file():
            skipped[name] = f"{checkpoint} does not exist"
    systems = [s for s in systems if s not in skipped]

    machine = common.machine_info()
    print(common.machine_line(machine), file=sys.stderr)
    for name, why in skipped.items():
        print(f"skipping {name}: {why}", file=sys.stderr)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="khmer-civic-inference-") as tmp:
        inputs = Path(tmp) / "inputs.json"
        inputs.write_text(json.dumps(mix, ensure_ascii=False), encoding="utf-8")
        fp32_dir = build_fp32_model_dir(model_dir, fp32_graph, Path(tmp)) if "onnx-fp32" in systems else None
        for threads in args.threads:
            for system in systems:
                print(f"running {system} at {threads} thread(s) ...", file=sys.stderr, flush=True)
                results.append(measure_quietly(system, threads, args, inputs, fp32_dir))
    with_ratios(results)
    report = {
        "benchmark": "inference",
        "command": "python benchmarks/inference.py " + " ".join(sys.argv[1:]),
        "machine": machine,
        "model": common.relative(model_dir),
        "fast_model": common.relative(Path(args.fast_model)),
        "run_dir": common.relative(run_dir),
        "settings": {
            "mix": args.mix,
            "threads": args.threads,
            "repeats": args.repeats,
            "batch_size": BATCH_SIZE,
            "seed": args.seed,
            "limit": args.limit,
            "max_other_cores": args.max_other_cores,
            "retries": args.retries,
        },
        "inputs": {
            "mix": args.mix,
            "source_texts": n_source,
            **common.describe_lengths(mix, common.token_counts(model_dir, mix)),
        },
        "systems": {s: SYSTEM_TITLES[s] for s in systems},
        "skipped": skipped,
        "normalisation": normalisation_speed(test_texts, args.repeats),
        "results": [{k: v for k, v in r.items() if k != "decisions"} for r in results],
    }
    path = common.write_results("inference", report, args.out)
    print(markdown_report(report))
    print(f"results: {common.relative(path)}", file=sys.stderr)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=common.DEFAULT_MODEL_DIR, help="the int8 model directory")
    parser.add_argument(
        "--fast-model",
        type=Path,
        help='the fast student\'s int8 model directory (default: the bundled "fast" model; skipped when missing)',
    )
    parser.add_argument("--run-dir", type=Path, default=common.DEFAULT_RUN_DIR, help="run dir with model.fp32.onnx and checkpoints/best")
    parser.add_argument("--splits", type=Path, default=common.DEFAULT_SPLITS_DIR, help="dir with train/dev/test.jsonl")
    parser.add_argument("--base-model", type=Path, help="encoder config dir (default: the run's base_model)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to measure")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the whole mix")
    parser.add_argument("--latency-texts", type=int, default=0, help="texts timed one at a time (0: the whole mix)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N texts of the mix (smoke runs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input mix")
    parser.add_argument(
        "--mix",
        choices=tuple(MIXES),
        default="round1",
        help="source texts of the input mix: round1 = the round-1 test texts (default), test = the whole test split",
    )
    parser.add_argument("--max-other-cores", type=float, default=0.15, help="rerun a system when other programs took more cores than this")
    parser.add_argument("--retries", type=int, default=3, help="reruns allowed per system and thread count")
    parser.add_argument("--retry-wait", type=int, default=60, help="seconds to wait before a rerun")
    parser.add_argument("--out", type=Path, help="JSON output (default benchmarks/results/inference.json)")
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--fp32-dir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # clean up temporary files
    if args.worker:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        print(json.dumps(run_worker(args), ensure_ascii=False, default=common._plain))
        return 0
    return run_orchestrator(args)


if __name__ == "__main__":
    sys.exit(main())
