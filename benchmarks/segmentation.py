"""Word segmentation quality and speed: raw khmer-nltk against this package's pipeline.

Quality is measured on the held-out khPOS OPEN-TEST (Ye Kyaw Thu et al. 2017; CC BY-NC-SA 4.0,
evaluation only, never copied into this repository). khPOS joins compound parts with ``_`` and
prefix/suffix compounds with ``~``; both readings are scored: compounds as one word, and
compounds as their parts.

    python benchmarks/segmentation.py --khpos ../shared/data/segmentation/khpos [--repeat 3]

Reported per system: word F1 (a predicted word counts when its start and end both match a gold
word) and boundary F1 (word-internal boundaries of the sentence), and characters per second.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def read_gold(path: Path) -> list[list[str]]:
    """khPOS sentences as lists of gold tokens, compound markers kept."""
    return [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_words(tokens: Sequence[str], compounds_as_one: bool) -> list[str]:
    words: list[str] = []
    for tok in tokens:
        if compounds_as_one:
            words.append(tok.replace("_", "").replace("~", ""))
        else:
            words.extend(p for p in tok.replace("~", "_").split("_") if p)
    return words


def spans(words: Sequence[str]) -> set[tuple[int, int]]:
    out, pos = set(), 0
    for w in words:
        out.add((pos, pos + len(w)))
        pos += len(w)
    return out


def prf(pred: set, gold: set) -> tuple[int, int, int]:
    return len(pred & gold), len(pred), len(gold)


def f1(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def score(system: Callable[[str], list[str]], gold: list[list[str]], norm: Callable[[str], str]) -> dict:
    """Word and boundary F1 for both compound readings; sentences whose output does not
    spell the input back are counted and scored as all-wrong."""
    results = {}
    for as_one in (True, False):
        word = [0, 0, 0]
        bound = [0, 0, 0]
        mismatched = 0
        for tokens in gold:
            g = [norm(w) for w in gold_words(tokens, as_one)]
            g = [w for w in g if w]
            text = "".join(g)
            pred = [t for t in system(text) if t.strip()]
            gs = spans(g)
            if "".join(pred) != text:
                mismatched += 1
                ps: set = set()
            else:
                ps = spans(pred)
            for acc, (a, b, c) in ((word, prf(ps, gs)),
                                   (bound, prf({e for _, e in ps} - {len(text)}, {e for _, e in gs} - {len(text)}))):
                acc[0] += a
                acc[1] += b
                acc[2] += c
        key = "compounds_as_one_word" if as_one else "compounds_as_parts"
        results[key] = {"word": f1(*word), "boundary": f1(*bound), "output_mismatch_sentences": mismatched}
    return results


def speed(system: Callable[[str], list[str]], texts: list[str], repeat: int) -> float:
    n_chars = sum(len(t) for t in texts)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for t in texts:
            system(t)
        best = min(best, time.perf_counter() - t0)
    return n_chars / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--khpos", type=Path, required=True, help="folder holding khPOS OPEN-TEST.word")
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (best is kept)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    import khmernltk

    from khmer_civic.text import normalize
    from khmer_civic.text.segment import Segmenter

    gold = read_gold(args.khpos / "OPEN-TEST.word")
    seg = Segmenter()
    systems = {
        "khmer-nltk word_tokenize (raw)": (lambda t: khmernltk.word_tokenize(t), lambda w: w),
        "khmer_civic normalize + segment": (seg.segment, normalize),
    }
    # warm both models up before timing
    for fn, _ in systems.values():
        fn("សួស្តី")
    texts = ["".join(gold_words(toks, True)) for toks in gold]
    report = {"sentences": len(gold), "characters": sum(map(len, texts)), "machine": platform.processor() or platform.machine(), "systems": {}}
    for name, (fn, norm) in systems.items():
        res = score(fn, gold, norm)
        res["chars_per_second"] = speed(fn, texts, args.repeat)
        report["systems"][name] = res
    raw, ours = report["systems"].values()
    report["speed_ratio_ours_over_raw"] = ours["chars_per_second"] / raw["chars_per_second"]

    print(f"khPOS OPEN-TEST: {report['sentences']} sentences, {report['characters']} characters")
    print(f"{'system':36} {'word F1 (one)':>13} {'word F1 (parts)':>15} {'bound F1 (one)':>14} {'bound F1 (parts)':>16} {'chars/s':>9}")
    for name, r in report["systems"].items():
        one, parts = r["compounds_as_one_word"], r["compounds_as_parts"]
        print(f"{name:36} {one['word']['f1']:13.4f} {parts['word']['f1']:15.4f} {one['boundary']['f1']:14.4f} "
              f"{parts['boundary']['f1']:16.4f} {r['chars_per_second']:9.0f}")
    print(f"speed ratio (ours / raw): {report['speed_ratio_ours_over_raw']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
