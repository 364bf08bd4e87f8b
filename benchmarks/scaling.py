"""How the shipped int8 model's throughput moves with text length and batch size.

    python benchmarks/scaling.py [--model models/khmer-civic-e5-small]

All figures are ``CivicClassifier.predict`` on a list of texts, onnxruntime with 1 and 2
intra-op threads, median of ``--repeats`` passes:

- against **text length**: texts cut from the joined test split at exactly 16, 32, 64, 126 (one
  full window), 256 and 512 tokens, plus the test split's median length; texts longer than one
  window (``max_length - 2`` tokens) are scored as several overlapping windows, shown per row;
  batches of 32;
- against **batch size** (1, 8, 32, 64 windows per onnxruntime call) on the realistic input mix
  of ``benchmarks/inference.py``.

Ends with the time a million comments of median length would take at the highest thread count,
from the measured rate. Writes ``benchmarks/results/scaling.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import common

DEFAULT_LENGTHS: tuple[int, ...] = (16, 32, 64, 126, 256, 512)
DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 8, 32, 64)
LENGTH_BATCH_SIZE = 32
REFERENCE_BATCH_SIZE = 32


def texts_of_length(pool: Sequence[str], n_tokens: int, count: int, tokenizer: Any) -> list[str]:
    """``count`` normalised texts of exactly ``n_tokens`` tokens where possible, each cut from test
    texts joined from a different starting point of ``pool``."""
    from khmer_civic.text import normalize

    out: list[str] = []
    start = 0
    while len(out) < count:
        parts: list[str] = []
        index = start
        while sum(len(p) for p in parts) < 6 * n_tokens + 200:
            parts.append(pool[index % len(pool)])
            index += 1
        joined = normalize(" ".join(parts))
        offsets = tokenizer.encode(joined, add_special_tokens=False).offsets
        start += 1
        if len(offsets) < n_tokens:
            continue
        best: tuple[int, str] | None = None
        for shift in (0, -1, 1, -2, 2, -3, 3):
            k = n_tokens + shift
            if not 1 <= k <= len(offsets):
                continue
            cut = normalize(joined[: offsets[k - 1][1]])
            got = len(tokenizer.encode(cut, add_special_tokens=False).ids)
            if best is None or abs(got - n_tokens) < abs(best[0] - n_tokens):
                best = (got, cut)
            if got == n_tokens:
                break
        if best is not None:
            out.append(best[1])
    return out


def throughput(classifier: Any, texts: Sequence[str], batch_size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Comments per second of ``classifier.predict(texts, batch_size=...)``, median of ``--repeats``.

    Measured again (after ``--retry-wait`` seconds, at most ``--retries`` times) while other
    programs took more than ``--max-other-cores``; the quietest attempt is kept.
    """
    classifier.predict(list(texts[: min(len(texts), 8)]), batch_size=batch_size)  # warm-up
    attempts: list[dict[str, Any]] = []
    for attempt in range(args.retries + 1):
        if attempt:
            print(f"  other programs took {attempts[-1]['other_cores']:.2f} cores; retrying in {args.retry_wait} s", file=sys.stderr, flush=True)
            time.sleep(args.retry_wait)
        with common.OtherLoad() as load:
            times = common.timed_repeats(
                lambda: classifier.predict(list(texts), batch_size=batch_size), args.repeats, time.perf_counter
            )
        attempts.append({"seconds": times, "comments_per_s": len(texts) / statistics.median(times), "other_cores": load.cores})
        if common.quiet_enough(load.cores, args.max_other_cores):
            break
    best = min(attempts, key=lambda a: a["other_cores"] or 0.0)
    return {**best, "attempts": len(attempts)}


def load_classifier(model_dir: Path, threads: int) -> Any:
    from khmer_civic.model.classifier import CivicClassifier

    return CivicClassifier.load(model_dir, intra_op_threads=threads, inter_op_threads=1)


def worst_other_load(row: Mapping[str, Any], threads: Sequence[int]) -> float | None:
    """The most cores other programs took during any of a row's measurements."""
    values = [row["threads"][str(t)].get("other_cores") for t in threads]
    known = [v for v in values if v is not None]
    return max(known) if known else None


def length_rows(results: Mapping[str, Any], threads: Sequence[int]) -> list[list[str]]:
    rows = []
    for row in results["by_length"]:
        cells = [
            f"{row['tokens']}" + (" (median)" if row.get("median") else ""),
            common.fmt(row["mean_tokens"], 1),
            str(row["windows_per_text"]),
            common.fmt(row["texts"]),
        ]
        for t in threads:
            m = row["threads"][str(t)]
            cells += [common.fmt(m["comments_per_s"], 1), common.fmt(m["tokens_per_s"], 0)]
        first, last = str(threads[0]), str(threads[-1])
        if len(threads) > 1:
            cells.append(common.fmt_ratio(common.ratio(row["threads"][last]["comments_per_s"], row["threads"][first]["comments_per_s"])))
        cells.append(common.fmt(worst_other_load(row, threads), 2))
        rows.append(cells)
    return rows


def batch_rows(results: Mapping[str, Any], threads: Sequence[int]) -> list[list[str]]:
    rows = []
    for row in results["by_batch_size"]:
        cells = [str(row["batch_size"])]
        for t in threads:
            m = row["threads"][str(t)]
            cells.append(f"{common.fmt(m['comments_per_s'], 1)} ({common.fmt_ratio(m['ratio_to_batch_32'])})")
        cells.append(common.fmt(worst_other_load(row, threads), 2))
        rows.append(cells)
    return rows


def markdown_report(report: Mapping[str, Any]) -> str:
    threads = report["settings"]["threads"]
    length_header = ["tokens per text", "measured mean", "windows per text", "texts"]
    for t in threads:
        length_header += [f"{t} thread{'s' if t > 1 else ''}: comments/s", "tokens/s"]
    if len(threads) > 1:
        length_header.append(f"{threads[-1]} / {threads[0]} threads")
    length_header.append("cores used by other programs")
    batch_header = ["batch size"] + [f"{t} thread{'s' if t > 1 else ''}: comments/s (× batch 32)" for t in threads]
    batch_header.append("cores used by other programs")
    million = report["million_comments"]
    return (
        f"{common.machine_line(report['machine'])}\n\n"
        f"Model `{report['model']}` (int8 ONNX, CivicClassifier.predict), median of "
        f"{report['settings']['repeats']} passes; onnxruntime intra-op threads as shown, inter-op 1.\n\n"
        f"Throughput against text length (batches of {LENGTH_BATCH_SIZE}; tokens exclude the two special tokens):\n\n"
        + common.markdown_table(length_header, length_rows(report, threads))
        + f"\n\nThroughput against batch size, realistic mix ({common.mix_sentence(report['mix'])}):\n\n"
        + common.markdown_table(batch_header, batch_rows(report, threads))
        + f"\n\n{million['sentence']}\n"
    )


def run(args: argparse.Namespace) -> int:
    from tokenizers import Tokenizer

    model_dir = Path(args.model)
    test_texts = common.read_texts(Path(args.splits) / "test.jsonl")
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    test_tokens = common.token_counts(model_dir, test_texts)
    median_tokens = int(round(statistics.median(test_tokens)))

    from khmer_civic.model.config import load_config

    config = load_config(model_dir)
    window_tokens, stride = config.window_tokens, config.window_stride

    def windows_for(n: int) -> int:
        return 1 if n <= window_tokens else len(range(0, n - window_tokens, stride)) + 1

    lengths = sorted(set(args.lengths) | {median_tokens})
    sets: dict[int, list[str]] = {}
    for n in lengths:
        count = max(args.min_texts, args.token_budget // n)
        if args.limit:
            count = min(count, args.limit)
        sets[n] = texts_of_length(test_texts, n, count, tokenizer)
    mix = common.labellable(common.build_input_mix(test_texts, seed=args.seed))
    if args.limit:
        mix = mix[: args.limit]

    by_length: list[dict[str, Any]] = []
    by_batch: list[dict[str, Any]] = []
    for n in lengths:
        counts = common.token_counts(model_dir, sets[n])
        by_length.append(
            {
                "tokens": n,
                "median": n == median_tokens,
                "texts": len(sets[n]),
                "mean_tokens": statistics.fmean(counts),
                "exact_share": sum(c == n for c in counts) / len(counts),
                "windows_per_text": windows_for(n),
                "threads": {},
            }
        )
    for b in args.batch_sizes:
        by_batch.append({"batch_size": b, "threads": {}})

    for t in args.threads:
        print(f"measuring at {t} thread(s) ...", file=sys.stderr, flush=True)
        classifier = load_classifier(model_dir, t)
        for row in by_length:
            m = throughput(classifier, sets[row["tokens"]], LENGTH_BATCH_SIZE, args)
            m["tokens_per_s"] = m["comments_per_s"] * row["mean_tokens"]
            row["threads"][str(t)] = m
        for row in by_batch:
            row["threads"][str(t)] = throughput(classifier, mix, row["batch_size"], args)
        reference = next((r for r in by_batch if r["batch_size"] == REFERENCE_BATCH_SIZE), None)
        for row in by_batch:
            m = row["threads"][str(t)]
            m["ratio_to_batch_32"] = (
                common.ratio(m["comments_per_s"], reference["threads"][str(t)]["comments_per_s"]) if reference else None
            )

    top = max(args.threads)
    median_row = next(r for r in by_length if r["median"])
    rate = median_row["threads"][str(top)]["comments_per_s"]
    hours = 1_000_000 / rate / 3600
    mix_rate = next((r["threads"][str(top)]["comments_per_s"] for r in by_batch if r["batch_size"] == REFERENCE_BATCH_SIZE), None)
    sentence = (
        f"A million comments of median length ({median_tokens} tokens, the test split's median) would take about "
        f"**{hours:.1f} hours** on this machine at {top} thread{'s' if top > 1 else ''} "
        f"({rate:,.0f} comments/s measured, batches of {LENGTH_BATCH_SIZE})"
    )
    if mix_rate:
        sentence += f"; a million from the realistic mix, about {1_000_000 / mix_rate / 3600:.1f} hours ({mix_rate:,.0f} comments/s)"
    sentence += "."
    report = {
        "benchmark": "scaling",
        "command": "python benchmarks/scaling.py " + " ".join(sys.argv[1:]),
        "machine": common.machine_info(),
        "model": common.relative(model_dir),
        "settings": {
            "threads": args.threads,
            "repeats": args.repeats,
            "length_batch_size": LENGTH_BATCH_SIZE,
            "window_tokens": window_tokens,
            "window_stride": stride,
            "token_budget": args.token_budget,
            "min_texts": args.min_texts,
            "seed": args.seed,
            "limit": args.limit,
            "max_other_cores": args.max_other_cores,
            "retries": args.retries,
        },
        "test_median_tokens": median_tokens,
        "mix": common.describe_lengths(mix, common.token_counts(model_dir, mix)),
        "by_length": by_length,
        "by_batch_size": by_batch,
        "million_comments": {
            "threads": top,
            "median_tokens": median_tokens,
            "comments_per_s": rate,
            "hours": hours,
            "mix_comments_per_s": mix_rate,
            "mix_hours": 1_000_000 / mix_rate / 3600 if mix_rate else None,
            "sentence": sentence,
        },
    }
    path = common.write_results("scaling", report, args.out)
    print(markdown_report(report))
    print(f"results: {common.relative(path)}", file=sys.stderr)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=common.DEFAULT_MODEL_DIR, help="the int8 model directory")
    parser.add_argument("--splits", type=Path, default=common.DEFAULT_SPLITS_DIR, help="dir with test.jsonl")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to measure")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(DEFAULT_LENGTHS), help="tokens per text")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(DEFAULT_BATCH_SIZES))
    parser.add_argument("--token-budget", type=int, default=16384, help="texts per length: budget // tokens ...")
    parser.add_argument("--min-texts", type=int, default=64, help="... but at least this many")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per measurement")
    parser.add_argument("--limit", type=int, default=0, help="at most N texts per measurement (smoke runs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input mix")
    parser.add_argument("--max-other-cores", type=float, default=0.15, help="measure again when other programs took more cores than this")
    parser.add_argument("--retries", type=int, default=3, help="re-measurements allowed per figure")
    parser.add_argument("--retry-wait", type=int, default=30, help="seconds to wait before re-measuring")
    parser.add_argument("--out", type=Path, help="JSON output (default benchmarks/results/scaling.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
