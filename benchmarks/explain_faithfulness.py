"""Are explanations faithful, and what do they cost? (``CivicClassifier.explain``, shipped model.)

    python benchmarks/explain_faithfulness.py [--model models/khmer-civic-e5-small] \
        [--data training/data/splits/test.jsonl] [--sample 300] [--seed 0] [--repeats 9]

Faithfulness (deletion test). For each text of a fixed-seed sample of the test split (``--sample``,
0: every text) with at least 4 words, and each task, the model's predicted label (multi_label: the
most probable predicted label, or the most probable label when none is) is explained by
leave-one-word-out occlusion. Then two variants of the text are scored: without its 3 words of
largest contribution, and without 3 words drawn at random (``random.Random(seed)``). The drop is
``p(label | text) - p(label | variant)``. Reported per task: mean drop for both, their ratio
(top-3 / random; none when random deletions do not lower p on average), and the share of texts
where the top-3 deletion dropped more.

Cost. Median wall time of ``clf.explain(text, "sentiment")`` over ``--repeats`` calls, one
onnxruntime thread, for a short comment (the test text closest to 20 tokens) and a long one (test
texts joined until just over one 126-token window: 2 windows), after one warm-up call; also the
cost of ``clf.predict`` on the same text, for scale. The deletion test itself runs with two
windows scored at once (``intra_op_threads=2``). Writes ``benchmarks/results/explain.json`` and
prints Markdown tables.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DEFAULT_MODEL_DIR,
    DEFAULT_SPLITS_DIR,
    OtherLoad,
    fmt,
    machine_info,
    machine_line,
    markdown_table,
    read_texts,
    relative,
    timed_repeats,
    write_results,
)

from khmer_civic.model.classifier import CivicClassifier  # noqa: E402
from khmer_civic.model.explain import explanation, label_probabilities, occlude  # noqa: E402
from khmer_civic.model.inputs import prepare_input  # noqa: E402
from khmer_civic.schema import LabelStatus  # noqa: E402
from khmer_civic.text import normalize  # noqa: E402

DELETED = 3
MIN_WORDS = DELETED + 1


def without_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every ``(start, end)`` span cut out, read back by the normaliser."""
    out, cursor = [], 0
    for start, end in sorted(spans):
        out.append(text[cursor:start])
        cursor = end
    return normalize("".join(out) + text[cursor:])


def deletion_drops(clf: CivicClassifier, texts: list[str], seed: int) -> dict[str, Any]:
    """Per task: the drops after deleting the top-3 and 3 random words of each text."""
    rng = random.Random(seed)
    runner = clf._runner
    drops: dict[str, dict[str, list[float]]] = {t.name: {"top": [], "random": []} for t in clf.schema.tasks}
    skipped = 0
    for i, text in enumerate(texts):
        occlusion = occlude(runner, text)
        if len(occlusion.spans) < MIN_WORDS:
            skipped += 1
            continue
        variants, labels = [], []
        for spec in clf.schema.tasks:
            e = explanation(occlusion, spec)
            order = sorted(range(len(e.words)), key=lambda k: -e.words[k].contribution)
            chosen = {"top": order[:DELETED], "random": rng.sample(range(len(e.words)), DELETED)}
            for kind, picks in chosen.items():
                variants.append(without_spans(e.text, [(e.words[k].start, e.words[k].end) for k in picks]))
                labels.append((spec, e.label, e.probability, kind))
        probs = runner.probabilities(variants)
        for row, (spec, label, p_full, kind) in enumerate(labels):
            p = label_probabilities(spec, probs[spec.name][row])[spec.labels.index(label)]
            drops[spec.name][kind].append(p_full - float(p))
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(texts)} texts", flush=True)
    per_task = {}
    for task, kinds in drops.items():
        top, rnd = np.asarray(kinds["top"]), np.asarray(kinds["random"])
        per_task[task] = {
            "texts": len(top),
            "mean_drop_top3": float(top.mean()),
            "mean_drop_random3": float(rnd.mean()),
            "ratio": float(top.mean() / rnd.mean()) if rnd.mean() > 0 else None,  # None: random does not lower p
            "share_top3_drops_more": float((top > rnd).mean()),
        }
    return {"per_task": per_task, "skipped_under_4_words": skipped}


def pick_lengths(clf: CivicClassifier, texts: list[str]) -> dict[str, str]:
    """A short comment (closest to 20 tokens) and a long one (joined texts, just over one window)."""
    tokenizer, window = clf._runner.tokenizer, clf.config.window_tokens
    counts = [len(ids) for ids in tokenizer.encode(texts)]
    short = texts[min(range(len(texts)), key=lambda i: abs(counts[i] - 20))]
    parts: list[str] = []
    for text, n in sorted(zip(texts, counts), key=lambda tc: abs(tc[1] - 12)):
        parts.append(text)
        if len(tokenizer.encode([" ".join(parts)])[0]) > window:
            break
    return {"short": short, "long": " ".join(parts)}


def cost(clf: CivicClassifier, text: str, repeats: int) -> dict[str, Any]:
    """Median ms of ``explain`` and ``predict`` for one text, with its tokens, windows and words."""
    ids = clf._runner.tokenizer.encode([normalize(text)])[0]
    windows, _ = clf._runner.windows([normalize(text)])
    clf.explain(text, "sentiment")
    with OtherLoad() as load:
        explain_times = timed_repeats(lambda: clf.explain(text, "sentiment"), repeats, time.perf_counter)
        predict_times = timed_repeats(lambda: clf.predict(text), repeats, time.perf_counter)
    words = len(clf.explain(text, "sentiment").words)
    return {
        "tokens": len(ids),
        "windows": len(windows),
        "words": words,
        "explain_ms_median": 1000 * statistics.median(explain_times),
        "predict_ms_median": 1000 * statistics.median(predict_times),
        "other_cores": load.cores,
        "text": text,
    }


def render(payload: dict[str, Any]) -> str:
    rows = [
        [
            f"`{task}`",
            fmt(r["texts"], 0),
            fmt(r["mean_drop_top3"], 3),
            fmt(r["mean_drop_random3"], 3),
            f"×{r['ratio']:.1f}" if r["ratio"] is not None else "–",
            f"{100 * r['share_top3_drops_more']:.1f}%",
        ]
        for task, r in payload["faithfulness"]["per_task"].items()
    ]
    table = markdown_table(
        ["task", "texts", "mean drop, top-3 deleted", "mean drop, 3 random deleted", "ratio", "top-3 drops more"], rows
    )
    cost_rows = [
        [kind, fmt(c["tokens"], 0), fmt(c["windows"], 0), fmt(c["words"], 0), fmt(c["explain_ms_median"], 0),
         fmt(c["predict_ms_median"], 1), fmt(c["other_cores"], 2)]
        for kind, c in payload["cost"].items()
    ]  # fmt: skip
    header = ["comment", "tokens", "windows", "words", "explain (ms, median)", "predict (ms, median)", "other cores"]
    cost_table = markdown_table(header, cost_rows)
    return table + "\n\n" + cost_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--data", type=Path, default=DEFAULT_SPLITS_DIR / "test.jsonl")
    ap.add_argument("--sample", type=int, default=300, help="texts drawn with --seed (0: the whole split)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    texts = [t for t in read_texts(args.data) if prepare_input(t)[0] is LabelStatus.OK]
    sample = random.Random(args.seed).sample(texts, args.sample) if 0 < args.sample < len(texts) else texts
    print(f"{len(sample)} of {len(texts)} labellable texts of {relative(args.data)}", flush=True)
    started = time.perf_counter()
    with OtherLoad() as load:
        faithfulness = deletion_drops(CivicClassifier.load(args.model, intra_op_threads=2), sample, args.seed)
    faithfulness.update(seconds=time.perf_counter() - started, other_cores=load.cores)
    one_thread = CivicClassifier.load(args.model, intra_op_threads=1)
    lengths = pick_lengths(one_thread, texts)
    payload = {
        "command": "python benchmarks/explain_faithfulness.py " + " ".join(sys.argv[1:]),
        "model": relative(args.model),
        "data": relative(args.data),
        "sample": len(sample),
        "labellable_texts": len(texts),
        "seed": args.seed,
        "machine": machine_info(),
        "faithfulness": faithfulness,
        "cost": {kind: cost(one_thread, text, args.repeats) for kind, text in lengths.items()},
    }
    path = write_results("explain", payload, args.out)
    print(machine_line(payload["machine"]))
    print(render(payload))
    print(f"deletion test: {faithfulness['seconds']:.0f} s, other programs held {fmt(load.cores, 2)} cores")
    print(f"wrote {relative(path)}")


if __name__ == "__main__":
    main()
