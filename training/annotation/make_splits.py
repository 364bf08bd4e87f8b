"""Split the merged annotations into train / dev / test.

    python training/annotation/make_splits.py --data training/data/annotated.jsonl \\
        --out training/data/splits --seed 13

- About 70 / 15 / 15 per cent of the records (``--fractions``).
- Stratified by provenance and label signature (topic set, sentiment, call to action): each
  combination is spread over the three splits in those proportions, as far as its size allows.
- Texts that are the same or nearly the same are kept together: two texts whose keys (the
  text normalised with ``khmer_civic.text.normalize``, then letters, marks and digits only)
  are equal, or whose character 5-gram Jaccard similarity reaches 0.6, fall in one group, and
  groups are linked transitively. A group is never split across two splits.
- Every split gets records, and every provenance in the data appears in test (and dev).
- Deterministic: the same input and seed give byte-identical files.

Writes ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` (full records, input order) and
``manifest.json`` (seed, thresholds, input checksum, counts, near-duplicate groups).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from khmer_civic.model.manifest import file_sha256

from annolib import DataValidationError, label_signature, load_records, match_key, write_jsonl
from sample_candidates import shingles

SPLITS: tuple[str, ...] = ("train", "dev", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.70, 0.15, 0.15)
NEAR_DUPLICATE_JACCARD = 0.6
SHINGLE_SIZE = 5


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def near_duplicate_groups(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD, size: int = SHINGLE_SIZE
) -> list[int]:
    """A group number per text: equal keys, or 5-gram Jaccard >= ``threshold``, share a group.

    Exact (no pair above the threshold is missed) and fast enough for tens of thousands of
    texts: only pairs that share one of their rarest grams (prefix filtering) are compared.
    Group numbers are the index of the group's first text.
    """
    keys = [match_key(t) for t in texts]
    grams = [shingles(k, size) if k else frozenset() for k in keys]
    uf = _UnionFind(len(texts))
    first_with_key: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in first_with_key:
            uf.union(first_with_key[key], i)
        else:
            first_with_key[key] = i
    frequency: Counter[str] = Counter(g for gs in grams for g in gs)
    # Two sets with Jaccard >= t share at least ceil(t * |A|) grams, so each one's
    # (|A| - ceil(t * |A|) + 1) rarest grams must meet the other's.
    postings: dict[str, list[int]] = defaultdict(list)
    for i, gs in enumerate(grams):
        if not gs:
            continue
        ordered = sorted(gs, key=lambda g: (frequency[g], g))
        prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1]
        candidates: set[int] = set()
        for g in prefix:
            candidates.update(postings[g])
            postings[g].append(i)
        for j in candidates:
            if uf.find(i) == uf.find(j):
                continue
            other = grams[j]
            if min(len(gs), len(other)) < threshold * max(len(gs), len(other)):
                continue
            shared = len(gs & other)
            if shared / (len(gs) + len(other) - shared) >= threshold:
                uf.union(i, j)
    return [uf.find(i) for i in range(len(texts))]


def _group_stratum(members: Sequence[Mapping[str, Any]]) -> str:
    counts = Counter(label_signature(r) for r in members)
    return min(counts, key=lambda s: (-counts[s], s))


def assign_splits(
    records: Sequence[Mapping[str, Any]],
    groups: Sequence[int],
    seed: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> list[str]:
    """The split of every record (groups kept whole, strata spread in proportion).

    Groups are ordered by stratum, shuffled (seeded) inside it, and each goes to the split
    furthest below its target share of the records placed so far, so every stratum is dealt
    out in about the target proportions and small strata carry over into the next.
    """
    if len(fractions) != len(SPLITS) or any(f <= 0 for f in fractions):
        raise ValueError(f"need {len(SPLITS)} positive fractions")
    total_fraction = sum(fractions)
    targets = [f / total_fraction for f in fractions]
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for g, idx in members.items():
        by_stratum[_group_stratum([records[i] for i in idx])].append(g)
    rng = random.Random(seed)
    placed = [0, 0, 0]
    split_of_group: dict[int, int] = {}
    for stratum in sorted(by_stratum):
        ordered = sorted(by_stratum[stratum])
        rng.shuffle(ordered)
        for g in ordered:
            size = len(members[g])
            after = sum(placed) + size
            deficits = [targets[s] * after - placed[s] for s in range(len(SPLITS))]
            best = max(range(len(SPLITS)), key=lambda s: (deficits[s], -s))
            split_of_group[g] = best
            placed[best] += size
    _ensure_coverage(records, members, split_of_group)
    return [SPLITS[split_of_group[g]] for g in groups]


def _ensure_coverage(
    records: Sequence[Mapping[str, Any]], members: Mapping[int, list[int]], split_of_group: dict[int, int]
) -> None:
    """Move the smallest suitable train groups so that no split is empty and dev and test
    hold every provenance found in the data (possible only when train can spare one)."""
    provenances = sorted({str(r.get("provenance")) for r in records})

    def group_provenances(g: int) -> set[str]:
        return {str(records[i].get("provenance")) for i in members[g]}

    for split in (2, 1):  # test first, then dev
        for wanted in [None, *provenances]:
            in_split = [g for g, s in split_of_group.items() if s == split]
            if wanted is None and in_split:
                continue
            if wanted is not None and any(wanted in group_provenances(g) for g in in_split):
                continue
            donors = [
                g
                for g, s in split_of_group.items()
                if s == 0 and (wanted is None or wanted in group_provenances(g))
            ]
            train_size = sum(len(members[g]) for g, s in split_of_group.items() if s == 0)
            donors = [g for g in donors if len(members[g]) < train_size]
            if donors:
                split_of_group[min(donors, key=lambda g: (len(members[g]), g))] = split


def make_splits(
    records: Sequence[Mapping[str, Any]],
    seed: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    threshold: float = NEAR_DUPLICATE_JACCARD,
) -> tuple[dict[str, list[Mapping[str, Any]]], dict[str, Any]]:
    """Records per split (input order kept) and a summary of what was done."""
    groups = near_duplicate_groups([str(r.get("text", "")) for r in records], threshold)
    assignment = assign_splits(records, groups, seed, fractions)
    splits: dict[str, list[Mapping[str, Any]]] = {name: [] for name in SPLITS}
    for record, split in zip(records, assignment):
        splits[split].append(record)
    sizes = Counter(groups)
    summary = {
        "records": len(records),
        "groups": len(sizes),
        "records_in_multi_text_groups": sum(n for n in sizes.values() if n > 1),
        "largest_group": max(sizes.values(), default=0),
        "split_records": {name: len(rows) for name, rows in splits.items()},
        "split_provenance": {
            name: dict(sorted(Counter(str(r.get("provenance")) for r in rows).items())) for name, rows in splits.items()
        },
    }
    return splits, summary


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="merged annotations (adjudicate.py output)")
    parser.add_argument("--out", type=Path, required=True, help="folder for train/dev/test.jsonl and manifest.json")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--fractions", type=float, nargs=3, default=list(DEFAULT_FRACTIONS), metavar=("TRAIN", "DEV", "TEST"))
    parser.add_argument("--jaccard", type=float, default=NEAR_DUPLICATE_JACCARD, help="near-duplicate threshold")
    args = parser.parse_args(argv)

    try:
        located = load_records([args.data])
    except DataValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    records = [r.record for r in located]
    splits, summary = make_splits(records, args.seed, args.fractions, args.jaccard)
    for name, rows in splits.items():
        write_jsonl(args.out / f"{name}.jsonl", rows)
    manifest = {
        "input": str(args.data),
        "input_sha256": file_sha256(args.data),
        "seed": args.seed,
        "fractions": list(args.fractions),
        "near_duplicate": {"jaccard": args.jaccard, "char_ngram": SHINGLE_SIZE, "text": "khmer_civic.text.normalize"},
        **summary,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
