"""Split the merged annotations into train / dev / test.

    python training/annotation/make_splits.py --data training/data/annotated.jsonl \\
        --out training/data/splits --seed 13 --keep training/data/splits/round1_ids.json \\
        --keep training/data/splits/round3_ids.json

- About 70 / 15 / 15 per cent of the records (``--fractions``).
- Stratified by provenance and label signature (topic set, sentiment, call to action): each
  combination is spread over the three splits in those proportions, as far as its size allows.
- Texts that are the same or nearly the same are kept together: two texts whose keys (the
  text normalised with ``khmer_civic.text.normalize``, then letters, marks and digits only)
  are equal, or whose character 5-gram Jaccard similarity reaches 0.6, fall in one group, and
  groups are linked transitively; so are two texts one of which is mostly contained in the other
  (at least 0.8 of the shorter text's 5-grams in the longer one, the shorter having at least 40
  grams: ``CONTAINMENT``, ``MIN_CONTAINED_GRAMS``). Paragraphs of one news article (the same ``docId`` in
  ``source: news:<docId>:p<index>``, annolib.doc_id_of) fall in one group too. A group is never
  split across two splits.
- ``--keep IDS`` (repeatable): records whose id the file lists stay in the split it gives (a JSON
  object ``{"train": [ids], "dev": [ids], "test": [ids]}``, or a folder holding earlier
  train/dev/test.jsonl); an id kept in two different splits is an error.
  ``training/data/splits/round1_ids.json`` freezes round 1, so the round-1 test split stays
  exactly as it was and old and new models compare on it; ``round3_ids.json`` freezes every text
  of rounds 1-3 where model v2 was trained and tested, so relabelling a text moves no text. A new text
  in a group with kept texts joins their split; one that links kept texts of two splits (a
  near-duplicate of both) is left out and listed in the manifest. Kept ids missing from the
  data are an error.
- ``--new-texts-to SPLIT`` (with ``--keep``): every new text goes to SPLIT instead of being dealt,
  so the other splits stay exactly the kept ones (a targeted round that should only add training
  data, with the earlier dev and test figures still valid); a new text that would have to join kept
  texts of another split (a near-duplicate, or a paragraph of the same article) is left out and
  listed in the manifest.
- New news paragraphs and web lines (genres news and web) are dealt so that the test split
  gains at least ``--test-news-web`` (600) of them, as long as that takes no more than
  ``--max-test-share`` (0.3) of the new news/web texts; the manifest says whether the target was met.
- Every split gets records, and every provenance in the data appears in test (and dev).
- Deterministic: the same input, seed and kept ids give byte-identical files.

Writes ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` (full records, input order) and
``manifest.json`` (seed, thresholds, input checksum, kept ids, the news/web target, counts per
split and genre, near-duplicate and article groups). ``--freeze PATH`` also writes the ids of
the splits made, in the ``--keep`` format, to freeze them for a later round.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from khmer_civic.annotation.near_duplicates import NEAR_DUPLICATE_JACCARD, SHINGLE_SIZE
from khmer_civic.model.manifest import file_sha256

from annolib import (
    NEWS_WEB_GENRES,
    DataValidationError,
    doc_id_of,
    genre_of,
    label_signature,
    load_records,
    match_key,
    read_jsonl,
    write_jsonl,
)
from sample_candidates import shingles

SPLITS: tuple[str, ...] = ("train", "dev", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.70, 0.15, 0.15)
CONTAINMENT = 0.8  # a text with >= this share of its 5-grams inside another text joins its group ...
MIN_CONTAINED_GRAMS = 40  # ... when it has at least this many grams (short stock phrases would chain everything)
TEST_NEWS_WEB_TARGET = 600  # new news/web texts the test split should gain (issue 12)
MAX_TEST_SHARE = 0.3  # ... taking at most this share of the new news/web texts


class SplitError(ValueError):
    """The kept ids cannot be honoured (missing from the data, or kept near-duplicates in two splits)."""


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
    texts: Sequence[str],
    threshold: float = NEAR_DUPLICATE_JACCARD,
    size: int = SHINGLE_SIZE,
    containment: float = CONTAINMENT,
    min_grams: int = MIN_CONTAINED_GRAMS,
) -> list[int]:
    """A group number per text: equal keys, 5-gram Jaccard >= ``threshold``, or a text mostly
    contained in another (:func:`containment_pairs`; ``containment`` 0 turns that off), share a group.

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
    if containment:
        for i, j in containment_pairs(grams, containment, min_grams):
            uf.union(i, j)
    return [uf.find(i) for i in range(len(texts))]


def containment_pairs(
    grams: Sequence[frozenset[str]], threshold: float = CONTAINMENT, min_grams: int = MIN_CONTAINED_GRAMS
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` where at least ``threshold`` of the shorter text's 5-grams are in the other's
    (a text mostly contained in another), the shorter having at least ``min_grams`` grams.

    Exact, by prefix filtering: texts are indexed from the longest down, and each probes with its
    ``|A| - ceil(threshold * |A|) + 1`` rarest grams, one of which any container must hold.
    """
    frequency: Counter[str] = Counter(g for gs in grams for g in gs)
    postings: dict[str, list[int]] = defaultdict(list)
    pairs: list[tuple[int, int]] = []
    for i in sorted(range(len(grams)), key=lambda k: (-len(grams[k]), k)):
        gs = grams[i]
        if len(gs) >= min_grams:
            ordered = sorted(gs, key=lambda g: (frequency[g], g))
            prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1]
            candidates = {j for g in prefix for j in postings.get(g, ())}
            pairs += [(min(i, j), max(i, j)) for j in sorted(candidates) if len(gs & grams[j]) >= threshold * len(gs)]
        for g in gs:
            postings[g].append(i)
    return pairs


def split_groups(
    records: Sequence[Mapping[str, Any]], threshold: float = NEAR_DUPLICATE_JACCARD, containment: float = CONTAINMENT
) -> list[int]:
    """A group number per record: near-duplicate texts (:func:`near_duplicate_groups`) and
    paragraphs of one article (annolib.doc_id_of) share a group, transitively. Group numbers are
    the index of the group's first record (so without articles they equal the near-duplicate groups)."""
    groups = near_duplicate_groups([str(r.get("text", "")) for r in records], threshold, containment=containment)
    uf = _UnionFind(len(records))
    first_of: dict[Any, int] = {}
    for i, g in enumerate(groups):
        uf.union(first_of.setdefault(("text", g), i), i)
        doc = doc_id_of(records[i])
        if doc is not None:
            uf.union(first_of.setdefault(("doc", doc), i), i)
    return [uf.find(i) for i in range(len(records))]


def read_kept_ids(path: str | Path) -> dict[str, str]:
    """Split by id from a ``--keep`` file (JSON ``{"train": [...], "dev": [...], "test": [...]}``)
    or a folder holding train/dev/test.jsonl."""
    path = Path(path)
    if path.is_dir():
        lists = {name: [r.id for r in read_jsonl(path / f"{name}.jsonl")] for name in SPLITS}
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
        lists = {name: list(data.get(name, [])) for name in SPLITS}
    kept: dict[str, str] = {}
    for name, ids in lists.items():
        for rid in ids:
            if kept.setdefault(str(rid), name) != name:
                raise SplitError(f"{path}: id {rid!r} is kept in two splits")
    return kept


def read_all_kept_ids(paths: Sequence[str | Path]) -> dict[str, str]:
    """The kept splits of several ``--keep`` files together; an id kept in two splits is an error."""
    kept: dict[str, str] = {}
    for path in paths:
        for rid, name in read_kept_ids(path).items():
            if kept.setdefault(rid, name) != name:
                raise SplitError(f"{path}: id {rid!r} is kept in {name}, another --keep file keeps it in {kept[rid]}")
    return kept


def ids_digest(ids: Sequence[str]) -> str:
    """sha256 of the sorted ids, one a line: a short fingerprint of a split's membership."""
    return hashlib.sha256("".join(f"{i}\n" for i in sorted(ids)).encode("utf-8")).hexdigest()


def _group_stratum(members: Sequence[Mapping[str, Any]]) -> str:
    counts = Counter(label_signature(r) for r in members)
    return min(counts, key=lambda s: (-counts[s], s))


def _targets(fractions: Sequence[float]) -> list[float]:
    if len(fractions) != len(SPLITS) or any(f <= 0 for f in fractions):
        raise ValueError(f"need {len(SPLITS)} positive fractions")
    total = sum(fractions)
    return [f / total for f in fractions]


def _deal(
    group_ids: Sequence[int],
    records: Sequence[Mapping[str, Any]],
    members: Mapping[int, list[int]],
    targets: Sequence[float],
    rng: random.Random,
) -> dict[int, int]:
    """Groups ordered by stratum, shuffled (seeded) inside it, each to the split furthest below
    its target share of the records placed so far."""
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for g in group_ids:
        by_stratum[_group_stratum([records[i] for i in members[g]])].append(g)
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
    return split_of_group


def _is_news_web(record: Mapping[str, Any]) -> bool:
    return genre_of(record) in NEWS_WEB_GENRES


def assign_records(
    records: Sequence[Mapping[str, Any]],
    groups: Sequence[int],
    seed: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    *,
    kept: Mapping[str, str] | None = None,
    test_news_web: int = TEST_NEWS_WEB_TARGET,
    max_test_share: float = MAX_TEST_SHARE,
    new_texts_to: str | None = None,
) -> tuple[list[str | None], dict[str, Any]]:
    """The split of every record (``None``: left out) and what was done (see the module docstring).

    Kept records stay in their split and take their group with them; the other groups are dealt
    stratum by stratum in the target proportions, news/web groups apart with a test share raised
    to reach ``test_news_web`` new news/web test texts (at most ``max_test_share`` of them).
    With ``new_texts_to``, every group without kept records goes to that split, and the new records
    of a group whose kept records sit in another split are left out.
    """
    if new_texts_to is not None:
        return _assign_new_to_one_split(records, groups, kept or {}, new_texts_to)
    targets = _targets(fractions)
    if not 0 < max_test_share < 1 - targets[1]:
        raise ValueError("max_test_share must leave room for dev and train")
    kept = dict(kept or {})
    ids, members = _ids_and_groups(records, groups, kept)

    assignment: list[str | None] = [None] * len(records)
    split_of_group: dict[int, int] = {}
    excluded: list[dict[str, str]] = []
    free: list[int] = []
    for g, idx in members.items():
        fixed = {kept[ids[i]] for i in idx if ids[i] in kept}
        if len(fixed) == 1:
            split_of_group[g] = SPLITS.index(fixed.pop())
        elif not fixed:
            free.append(g)
        else:
            _split_conflict(records, idx, ids, kept, assignment, excluded)
    rng = random.Random(seed)
    news_web = [g for g in free if any(_is_news_web(records[i]) for i in members[g])]
    news_web_set = set(news_web)
    split_of_group.update(_deal([g for g in free if g not in news_web_set], records, members, targets, rng))

    # News/web: raise the test share so that test gains the target number of new texts.
    def new_news_web_in_test() -> int:
        return sum(
            1 for g, s in split_of_group.items() if s == 2 for i in members[g] if ids[i] not in kept and _is_news_web(records[i])
        )

    available = sum(1 for g in news_web for i in members[g] if _is_news_web(records[i]))
    already = new_news_web_in_test()
    needed = max(0, test_news_web - already)
    test_share = targets[2]
    if available:
        test_share = min(max(targets[2], needed / available), max(max_test_share, targets[2]))
    nw_targets = [1.0 - targets[1] - test_share, targets[1], test_share]
    # News and web apart, so that both take the raised test share (articles are large groups,
    # web lines single ones: dealt together, the lines would fill dev and test first).
    is_news = {g: any(genre_of(records[i]) == "news" for i in members[g]) for g in news_web}
    split_of_group.update(_deal([g for g in news_web if is_news[g]], records, members, nw_targets, rng))
    split_of_group.update(_deal([g for g in news_web if not is_news[g]], records, members, nw_targets, rng))
    reachable = already + math.floor(max(max_test_share, targets[2]) * available) >= test_news_web
    if reachable:  # whole groups overshoot or fall short a little: top up from train
        donors = sorted(g for g in news_web if split_of_group[g] == 0)
        rng.shuffle(donors)
        for g in donors:
            if new_news_web_in_test() >= test_news_web:
                break
            split_of_group[g] = 2

    _ensure_coverage(records, members, split_of_group, frozen={g for g in split_of_group if g not in set(free)})
    for g, s in split_of_group.items():
        for i in members[g]:
            assignment[i] = SPLITS[s]
    gained = new_news_web_in_test()
    info = {
        "kept_records": sum(1 for i in ids if i in kept),
        "excluded": excluded,
        "test_news_web": {
            "target": test_news_web,
            "max_test_share": max_test_share,
            "new_news_web_texts": sum(1 for i, r in zip(ids, records) if i not in kept and _is_news_web(r)),
            "gained_by_test": gained,
            "test_share_used": round(test_share, 4),
            "met": gained >= test_news_web,
        },
    }
    return assignment, info


def _ids_and_groups(
    records: Sequence[Mapping[str, Any]], groups: Sequence[int], kept: Mapping[str, str]
) -> tuple[list[str], dict[int, list[int]]]:
    """Every record's id and the record indices of each group; a kept id missing from the data is an error."""
    ids = [str(r.get("id")) for r in records]
    missing = sorted(set(kept) - set(ids))
    if missing:
        raise SplitError(f"{len(missing)} kept id(s) are not in the data, e.g. {missing[:5]}")
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    return ids, members


def _assign_new_to_one_split(
    records: Sequence[Mapping[str, Any]], groups: Sequence[int], kept: Mapping[str, str], split: str
) -> tuple[list[str | None], dict[str, Any]]:
    """:func:`assign_records` with ``new_texts_to``: kept records where they were, new ones in ``split``."""
    if split not in SPLITS:
        raise ValueError(f"new_texts_to must be one of {SPLITS}, got {split!r}")
    if not kept:
        raise SplitError("--new-texts-to needs kept ids (--keep): without them every text is new")
    ids, members = _ids_and_groups(records, groups, kept)
    assignment: list[str | None] = [None] * len(records)
    excluded: list[dict[str, str]] = []
    for idx in members.values():
        fixed = sorted({kept[ids[i]] for i in idx if ids[i] in kept})
        if len(fixed) > 1:
            _split_conflict(records, idx, ids, kept, assignment, excluded)
            continue
        for i in idx:
            if ids[i] in kept:
                assignment[i] = kept[ids[i]]
            elif not fixed or fixed[0] == split:
                assignment[i] = split
            else:
                excluded.append({"id": ids[i], "reason": f"near-duplicate or same article as kept texts in {fixed}; new texts go to {split} only"})
    new = [i for i in range(len(records)) if ids[i] not in kept]
    info = {
        "kept_records": len(ids) - len(new),
        "excluded": excluded,
        "new_texts_to": {"split": split, "new_texts": len(new), "placed": sum(1 for i in new if assignment[i] is not None)},
    }
    return assignment, info


def _split_conflict(
    records: Sequence[Mapping[str, Any]],
    idx: Sequence[int],
    ids: Sequence[str],
    kept: Mapping[str, str],
    assignment: list[str | None],
    excluded: list[dict[str, str]],
) -> None:
    """A group whose kept records sit in two splits: they stay, the new records that link them
    are left out. Kept records that are near-duplicates (or one article) across splits by
    themselves cannot be honoured (containment is not checked among kept records: the frozen
    splits predate that rule)."""
    kept_idx = [i for i in idx if ids[i] in kept]
    sub = split_groups([records[i] for i in kept_idx], containment=0.0)
    by_sub: dict[int, set[str]] = defaultdict(set)
    for local, i in zip(sub, kept_idx):
        by_sub[local].add(kept[ids[i]])
    if any(len(splits) > 1 for splits in by_sub.values()):
        raise SplitError(f"kept records that are near-duplicates or one article sit in two splits: {[ids[i] for i in kept_idx][:6]}")
    for i in idx:
        if ids[i] in kept:
            assignment[i] = kept[ids[i]]
        else:
            excluded.append({"id": ids[i], "reason": f"near-duplicate or same article as kept texts in {sorted({kept[ids[j]] for j in kept_idx})}"})


def assign_splits(
    records: Sequence[Mapping[str, Any]],
    groups: Sequence[int],
    seed: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> list[str]:
    """The split of every record (groups kept whole, strata spread in proportion), nothing kept.

    Groups are ordered by stratum, shuffled (seeded) inside it, and each goes to the split
    furthest below its target share of the records placed so far, so every stratum is dealt
    out in about the target proportions and small strata carry over into the next.
    """
    assignment, _ = assign_records(records, groups, seed, fractions)
    return [str(s) for s in assignment]


def _ensure_coverage(
    records: Sequence[Mapping[str, Any]],
    members: Mapping[int, list[int]],
    split_of_group: dict[int, int],
    frozen: set[int] | frozenset[int] = frozenset(),
) -> None:
    """Move the smallest suitable train groups (never a ``frozen`` one) so that no split is empty
    and dev and test hold every provenance found in the data (possible only when train can spare one)."""
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
                if s == 0 and g not in frozen and (wanted is None or wanted in group_provenances(g))
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
    *,
    kept: Mapping[str, str] | None = None,
    test_news_web: int = TEST_NEWS_WEB_TARGET,
    max_test_share: float = MAX_TEST_SHARE,
    new_texts_to: str | None = None,
) -> tuple[dict[str, list[Mapping[str, Any]]], dict[str, Any]]:
    """Records per split (input order kept) and a summary of what was done."""
    groups = split_groups(records, threshold)
    assignment, info = assign_records(
        records, groups, seed, fractions, kept=kept, test_news_web=test_news_web, max_test_share=max_test_share,
        new_texts_to=new_texts_to,
    )
    splits: dict[str, list[Mapping[str, Any]]] = {name: [] for name in SPLITS}
    for record, split in zip(records, assignment):
        if split is not None:
            splits[split].append(record)
    sizes = Counter(groups)
    docs = Counter(d for d in (doc_id_of(r) for r in records) if d is not None)
    kept = kept or {}
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
    if docs or kept or any(_is_news_web(r) for r in records):
        summary.update(
            {
                "articles": len(docs),
                "records_in_multi_paragraph_articles": sum(n for n in docs.values() if n > 1),
                "split_genre": {
                    name: dict(sorted(Counter(genre_of(r) for r in rows).items())) for name, rows in splits.items()
                },
                "new_records": {
                    name: dict(sorted(Counter(genre_of(r) for r in rows if str(r.get("id")) not in kept).items()))
                    for name, rows in splits.items()
                },
                **info,
            }
        )
    return splits, summary


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="merged annotations (adjudicate.py output)")
    parser.add_argument("--out", type=Path, required=True, help="folder for train/dev/test.jsonl and manifest.json")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--fractions", type=float, nargs=3, default=list(DEFAULT_FRACTIONS), metavar=("TRAIN", "DEV", "TEST"))
    parser.add_argument("--jaccard", type=float, default=NEAR_DUPLICATE_JACCARD, help="near-duplicate threshold")
    parser.add_argument("--keep", type=Path, action="append",
                        help="ids that keep their split: a JSON file {split: [ids]} or a splits folder (repeatable)")
    parser.add_argument("--test-news-web", type=int, default=TEST_NEWS_WEB_TARGET,
                        help="new news/web texts the test split should gain (default %(default)s)")
    parser.add_argument("--max-test-share", type=float, default=MAX_TEST_SHARE,
                        help="largest share of the new news/web texts that may go to test (default %(default)s)")
    parser.add_argument("--new-texts-to", choices=SPLITS,
                        help="put every new (not kept) text in this split; the others stay exactly the kept ones")
    parser.add_argument("--freeze", type=Path, help="also write the ids of the splits made, in the --keep format")
    args = parser.parse_args(argv)

    try:
        located = load_records([args.data])
        kept = read_all_kept_ids(args.keep) if args.keep else None
        records = [r.record for r in located]
        splits, summary = make_splits(
            records, args.seed, args.fractions, args.jaccard,
            kept=kept, test_news_web=args.test_news_web, max_test_share=args.max_test_share,
            new_texts_to=args.new_texts_to,
        )
    except (DataValidationError, SplitError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    for name, rows in splits.items():
        write_jsonl(args.out / f"{name}.jsonl", rows)
    manifest = {
        "input": str(args.data),
        "input_sha256": file_sha256(args.data),
        "seed": args.seed,
        "fractions": list(args.fractions),
        "near_duplicate": {
            "jaccard": args.jaccard, "char_ngram": SHINGLE_SIZE, "text": "khmer_civic.text.normalize",
            "containment": CONTAINMENT, "min_contained_grams": MIN_CONTAINED_GRAMS,
        },
    }
    if kept is not None:
        manifest["kept"] = {
            "from": [str(path) for path in args.keep],
            "records": len(kept),
            "ids_sha256": {name: ids_digest([i for i, s in kept.items() if s == name]) for name in SPLITS},
        }
    manifest.update(summary)
    (args.out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.freeze:
        frozen = {name: [str(r.get("id")) for r in rows] for name, rows in splits.items()}
        args.freeze.parent.mkdir(parents=True, exist_ok=True)
        args.freeze.write_text(json.dumps(frozen, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    shown = ("records", "split_records", "test_news_web", "new_texts_to")
    print(json.dumps({k: summary[k] for k in shown if k in summary}, ensure_ascii=False))
    if "test_news_web" in summary and not summary["test_news_web"]["met"]:
        tw = summary["test_news_web"]
        print(
            f"note: test gained {tw['gained_by_test']} new news/web texts, short of the target {tw['target']} "
            f"({tw['new_news_web_texts']} new news/web texts, at most {tw['max_test_share']:.0%} to test)",
            file=sys.stderr,
        )
    if summary.get("excluded"):
        print(f"note: {len(summary['excluded'])} text(s) left out of every split (see manifest.json 'excluded')", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
