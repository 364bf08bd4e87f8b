"""Counts per genre and split, and the targets of annotation round 2 (issue 12), met or not.

    python training/annotation/counts.py --data training/data/annotated.jsonl \\
        --splits training/data/splits --round1 training/data/splits/round1_ids.json \\
        --batches training/data/batches \\
        --annotations training/data/annotations/*.jsonl --second training/data/agreement/pass2_*.jsonl \\
        --adjudications training/data/agreement/adjudication*.jsonl

Prints, per genre (annolib.genre_of) and split, the number of texts, calls to action (and the
appeals relayed by news, where ``relayed_appeal`` is marked), local_administration, education,
health, negative, positive, the random-sample texts (``cue: "random"`` or, in a
``khmer-civic select`` batch, ``selection: random``, in their batch file (.jsonl, .csv, .tsv) or
record) and each cta_type label: once for the new texts (every id not in ``--round1``) and once
for all texts. Then the issue's targets, each with the figure reached and whether it is met:

- new real texts (provenance corpus) >= 3000, of which news paragraphs >= 2000 and web lines >= 500;
- among the new real texts: call to action 500 (>= 200 appeals relayed by news),
  local_administration 500, education 300, health 300, negative 500, positive 250, and a random
  sample >= 500;
- every call-to-action text has a cta_type (round 1 included);
- >= 500 new texts annotated a second time (``--second``), kappa >= .75 per task on the new real
  texts and >= .6 for cta_type (pooled kappa), every disagreement adjudicated;
- the test split gains >= 600 new news/web texts, and the round-1 test split is unchanged.

A target whose input is not given is "not measured". ``--json PATH`` also writes every figure.
Exit status 0 whether or not the targets are met (1 only for unreadable input); ``--require``
makes an unmet target an error.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from annolib import (
    CTA_TYPE,
    CTA_TYPES,
    GENRES,
    NEWS_WEB_GENRES,
    RELAYED_APPEAL,
    DataValidationError,
    LocatedRecord,
    apply_overlays,
    genre_of,
    load_overlays,
    load_records,
    read_jsonl,
)
from adjudicate import read_decisions

SPLITS = ("train", "dev", "test")
NOT_SPLIT = "not split"
RANDOM_CUE = "random"

# Issue 12's targets for the new texts (round 2).
TARGETS: dict[str, int] = {
    "new real texts": 3000,
    "news paragraphs": 2000,
    "web lines": 500,
    "call_to_action": 500,
    "appeals relayed by news": 200,
    "local_administration": 500,
    "education": 300,
    "health": 300,
    "negative": 500,
    "positive": 250,
    "random sample": 500,
    "annotated twice": 500,
    "test split gains news/web": 600,
}
KAPPA_TARGET = 0.75
CTA_TYPE_KAPPA_TARGET = 0.6

COLUMNS: tuple[str, ...] = (
    "texts", "call_to_action", "relayed", "local_administration", "education", "health", "negative", "positive",
    "random",
)


def count_row(records: Iterable[Mapping[str, Any]], random_ids: set[str]) -> dict[str, Any]:
    """Every count of a group of records (relayed is None when no record marks it)."""
    rows = list(records)
    topics = Counter(t for r in rows for t in (r.get("topics") or []))
    sentiment = Counter(r.get("sentiment") for r in rows)
    cta = [r for r in rows if r.get("call_to_action") is True]
    marked = any(RELAYED_APPEAL in r for r in rows)
    types = Counter(t for r in cta for t in (r.get(CTA_TYPE) or []))
    return {
        "texts": len(rows),
        "call_to_action": len(cta),
        "relayed": sum(1 for r in cta if r.get(RELAYED_APPEAL) is True) if marked else None,
        "local_administration": topics["local_administration"],
        "education": topics["education"],
        "health": topics["health"],
        "negative": sentiment["negative"],
        "positive": sentiment["positive"],
        "random": sum(1 for r in rows if str(r.get("id")) in random_ids),
        "cta_without_type": sum(1 for r in cta if r.get(CTA_TYPE) is None),
        "cta_type": {label: types[label] for label in CTA_TYPES},
    }


def _is_random(row: Mapping[str, Any]) -> bool:
    return row.get("cue") == RANDOM_CUE or row.get("selection") == RANDOM_CUE


def random_sample_ids(records: Iterable[Mapping[str, Any]], batches: Path | None) -> set[str]:
    """Ids drawn as plain random texts: ``cue: "random"`` (sample_candidates.py) or ``selection:
    random`` (khmer-civic select) on the record or in a batch file (.jsonl, .csv or .tsv)."""
    ids = {str(r.get("id")) for r in records if _is_random(r)}
    if batches is not None and batches.is_dir():
        for path in sorted(batches.iterdir()):
            if path.suffix == ".jsonl":
                ids.update(item.id for item in read_jsonl(path) if _is_random(item.record))
            elif path.suffix in (".csv", ".tsv"):
                with path.open(encoding="utf-8-sig", newline="") as handle:
                    reader = csv.DictReader(handle, delimiter="," if path.suffix == ".csv" else "\t")
                    ids.update(str(row.get("id")) for row in reader if _is_random(row))
    return ids


def split_membership(folder: Path | None) -> dict[str, str]:
    """Split by id from a folder's train/dev/test.jsonl (those that exist)."""
    out: dict[str, str] = {}
    if folder is None:
        return out
    for name in SPLITS:
        path = folder / f"{name}.jsonl"
        if path.is_file():
            out.update({item.id: name for item in read_jsonl(path)})
    return out


def read_round1(path: Path | None) -> dict[str, str] | None:
    if path is None or not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(i): name for name in SPLITS for i in data.get(name, [])}


def table(
    records: Sequence[Mapping[str, Any]], split_of: Mapping[str, str], random_ids: set[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Counts by genre (and "all"), then by split (and "all", and "not split" when some are)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    by_genre: dict[str, list[Mapping[str, Any]]] = {"all": list(records)}
    for record in records:
        by_genre.setdefault(genre_of(record), []).append(record)
    for genre in (*GENRES, "all"):
        in_genre = by_genre.get(genre, [])
        if not in_genre:
            continue
        by_split: dict[str, dict[str, Any]] = {}
        for split in (*SPLITS, NOT_SPLIT):
            members = [r for r in in_genre if split_of.get(str(r.get("id")), NOT_SPLIT) == split]
            if members or split != NOT_SPLIT:
                by_split[split] = count_row(members, random_ids)
        by_split["all"] = count_row(in_genre, random_ids)
        out[genre] = by_split
    return out


def new_text_agreement(
    first: Sequence[LocatedRecord], second: Sequence[LocatedRecord], new_ids: set[str]
) -> dict[str, Any] | None:
    """Kappa per task on the new real texts judged twice (agreement.py's figures, no intervals)."""
    import agreement  # the tool next to this one

    real_new = [r for r in first if r.id in new_ids and r.record.get("provenance") == "corpus"]
    wanted = {r.id for r in real_new}
    paired = [s for s in second if s.id in wanted]
    if not paired:
        return None
    report, _ = agreement.compute_agreement(real_new, paired, samples=0)
    g = report["groups"]["all"]
    return {
        "texts": g["items"],
        "sentiment": g["sentiment"]["kappa"],
        "call_to_action": g["call_to_action"]["kappa"],
        **{t: v["kappa"] for t, v in g["topics"]["per_label"].items()},
        "cta_type_pooled": g[CTA_TYPE]["pooled_kappa"],
        "cta_type_texts": g[CTA_TYPE]["n"],
    }


def _status(value: Any, required: float, measured: bool = True) -> str:
    if not measured or value is None:
        return "not measured"
    return "met" if value >= required else "NOT met"


def targets(
    counts_new: Mapping[str, Mapping[str, Mapping[str, Any]]],
    counts_all: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    twice_new: int | None,
    kappa: Mapping[str, Any] | None,
    undecided: int | None,
    test_news_web: int | None,
    round1_test_unchanged: bool | None,
) -> list[dict[str, Any]]:
    """One row per target: name, required, reached, status."""
    real_genres = [g for g in counts_new if g != "all" and g not in ("authored_post", "authored_comment", "romanized")]
    empty: dict[str, Any] = {k: 0 for k in COLUMNS}

    def real(key: str) -> int:
        return sum(counts_new[g]["all"][key] for g in real_genres if g in counts_new)

    news = counts_new.get("news", {}).get("all", empty)
    relayed_marked = news.get("relayed") is not None
    rows = [
        ("new real texts", real("texts")),
        ("news paragraphs", news["texts"]),
        ("web lines", counts_new.get("web", {}).get("all", empty)["texts"]),
        ("call_to_action", real("call_to_action")),
        ("appeals relayed by news", news.get("relayed") if relayed_marked else None),
        ("local_administration", real("local_administration")),
        ("education", real("education")),
        ("health", real("health")),
        ("negative", real("negative")),
        ("positive", real("positive")),
        ("random sample", real("random")),
        ("annotated twice", twice_new),
        ("test split gains news/web", test_news_web),
    ]
    out = [
        {"target": name, "required": f">= {TARGETS[name]}", "reached": value,
         "status": _status(value, TARGETS[name])}
        for name, value in rows
    ]
    if news["texts"] and not relayed_marked:
        relayed_row = next(row for row in out if row["target"] == "appeals relayed by news")
        relayed_row["status"] = f"not marked (no news record carries {RELAYED_APPEAL})"
    missing = counts_all.get("all", {}).get("all", {}).get("cta_without_type")
    out.append({"target": "cta_type on every call to action", "required": "0 without",
                "reached": missing, "status": "not measured" if missing is None else ("met" if missing == 0 else "NOT met")})
    if kappa is None:
        out.append({"target": f"kappa per task on new real texts >= {KAPPA_TARGET}", "required": f">= {KAPPA_TARGET}",
                    "reached": None, "status": "not measured"})
        out.append({"target": f"cta_type kappa (pooled) >= {CTA_TYPE_KAPPA_TARGET}", "required": f">= {CTA_TYPE_KAPPA_TARGET}",
                    "reached": None, "status": "not measured"})
    else:
        for task, value in kappa.items():
            if task in ("texts", "cta_type_texts"):
                continue
            required = CTA_TYPE_KAPPA_TARGET if task == "cta_type_pooled" else KAPPA_TARGET
            out.append({"target": f"kappa {task} (new real texts, n={kappa['texts']})", "required": f">= {required}",
                        "reached": value, "status": _status(value, required)})
    out.append({"target": "every disagreement adjudicated", "required": "0 undecided", "reached": undecided,
                "status": "not measured" if undecided is None else ("met" if undecided == 0 else "NOT met")})
    out.append({"target": "round-1 test split unchanged", "required": "yes", "reached": round1_test_unchanged,
                "status": "not measured" if round1_test_unchanged is None else ("met" if round1_test_unchanged else "NOT met")})
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render_counts(title: str, counts: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """Two Markdown tables: labels and cta_type, one row per genre and split."""
    header = ["genre", "split", *COLUMNS]
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for genre, by_split in counts.items():
        for split, row in by_split.items():
            lines.append("| " + " | ".join([genre, split, *(_cell(row[c]) for c in COLUMNS)]) + " |")
    lines += ["", f"### {title}: cta_type (calls to action)", ""]
    header = ["genre", "split", "call_to_action", "without cta_type", *CTA_TYPES]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for genre, by_split in counts.items():
        for split, row in by_split.items():
            lines.append(
                "| " + " | ".join([genre, split, str(row["call_to_action"]), str(row["cta_without_type"]),
                                   *(str(row["cta_type"][t]) for t in CTA_TYPES)]) + " |"
            )
    return lines + [""]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="merged annotations (adjudicate.py output)")
    parser.add_argument("--splits", type=Path, help="folder with train/dev/test.jsonl")
    parser.add_argument("--round1", type=Path, help="round-1 ids (splits/round1_ids.json): every other id is new")
    parser.add_argument("--batches", type=Path, help="batch folder, for the texts drawn as a random sample")
    parser.add_argument("--annotations", type=Path, nargs="*", default=[], help="first-pass files (with overlays)")
    parser.add_argument("--second", type=Path, nargs="*", default=[], help="second-pass files")
    parser.add_argument("--adjudications", type=Path, nargs="*", default=[], help="adjudication decision files")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--require", action="store_true", help="exit 1 when a measured target is not met")
    args = parser.parse_args(argv)

    try:
        data = [r.record for r in load_records([args.data])]
        first = load_records(args.annotations) if args.annotations else []
        overlays = load_overlays(args.annotations) if args.annotations else {}
        second = load_records(args.second, labels_only=True) if args.second else []
        decisions = read_decisions(args.adjudications) if args.adjudications else None
    except DataValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    round1 = read_round1(args.round1)
    split_of = split_membership(args.splits)
    random_ids = random_sample_ids(data, args.batches)
    new = [r for r in data if round1 is not None and str(r.get("id")) not in round1] if round1 is not None else []
    new_ids = {str(r.get("id")) for r in new}
    counts_new = table(new, split_of, random_ids)
    counts_all = table(data, split_of, random_ids)

    twice = len({s.id for s in second} & new_ids) if args.second else None
    kappa = None
    if first and second:
        merged = apply_overlays([r.record for r in first], {k: v.record for k, v in overlays.items()}, cta_true_only=True)
        first = [LocatedRecord(rec, r.file, r.line) for rec, r in zip(merged, first)]
        kappa = new_text_agreement(first, second, new_ids)
    undecided = None
    if second and first and decisions is not None:
        import agreement

        _, sheet = agreement.compute_agreement(first, second, samples=0)
        decided = set(decisions)
        undecided = sum(1 for row in sheet if row["id"] not in decided)
    test_news_web = None
    round1_unchanged = None
    if round1 is not None and split_of:
        test_news_web = sum(
            1 for r in new if split_of.get(str(r.get("id"))) == "test" and genre_of(r) in NEWS_WEB_GENRES
        )
        round1_test = {i for i, s in round1.items() if s == "test"}
        in_test = {i for i, s in split_of.items() if s == "test"}
        round1_unchanged = round1_test <= in_test and not ((set(round1) - round1_test) & in_test)
    goal_rows = targets(
        counts_new, counts_all, twice_new=twice, kappa=kappa, undecided=undecided,
        test_news_web=test_news_web, round1_test_unchanged=round1_unchanged,
    )

    lines = ["# Annotation counts (training/annotation/counts.py)", ""]
    if round1 is None:
        lines += ["No --round1 ids: every text counts as round 1; the new-text targets are not measured.", ""]
    lines += [f"Texts: {len(data)}, of which new (not in round 1): {len(new)}. Genres: annolib.genre_of. "
              "Targets are counted on the new real texts (provenance corpus).", "",
              "## Targets (issue 12)", "", "| target | required | reached | status |", "|---|---|---|---|"]
    lines += [f"| {row['target']} | {row['required']} | {_cell(row['reached'])} | {row['status']} |" for row in goal_rows]
    lines.append("")
    if round1 is not None:
        lines += render_counts("New texts (round 2)", counts_new)
    lines += render_counts("All texts", counts_all)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(
            json.dumps({"targets": goal_rows, "new": counts_new, "all": counts_all}, ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
    if args.require and any(row["status"] == "NOT met" for row in goal_rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
