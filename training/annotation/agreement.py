"""Inter-annotator agreement between the first pass and an independent second pass.

    python training/annotation/agreement.py \\
        --first training/data/annotations/*.jsonl \\
        --second training/data/agreement/pass2_Q1.jsonl \\
        --out training/data/agreement/

Pairs the two passes by id (texts, sources and provenance come from the first pass) and
computes, for every task, raw agreement and Cohen's kappa with a bootstrap 95% interval:
sentiment (three classes), call_to_action (two), each topic as its own yes/no judgement, and
the share of texts whose whole topic set matches. ``cta_type`` (multi-label) is compared on the
texts both passes marked call_to_action true and both gave a cta_type: kappa per label (yes/no),
a pooled kappa over every (text, label) decision, their macro mean, and the exact set match.
Figures are given overall, per provenance, per genre (annolib.genre_of: textbook, wikipedia,
news, web, authored posts and comments, romanized), per source and per first-pass annotator. A
task left null on either side is not compared.

cta_type overlay files (``cta_type_*.jsonl``) may be given among ``--first``: their labels join
the first-pass records whose call_to_action is true.

Writes ``agreement.json`` (every figure), ``agreement.md`` (the same as tables) and
``disagreements.jsonl`` (one line per text the passes disagree on, with both label sets: the
sheet to adjudicate from; see adjudicate.py). Output depends only on the inputs and ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annolib import (
    CTA_TYPE,
    CTA_TYPES,
    GENRES,
    SENTIMENTS,
    TASK_FIELDS,
    TOPICS,
    DataValidationError,
    LocatedRecord,
    apply_overlays,
    cta_types_compared,
    genre_of,
    labels_of,
    load_overlays,
    load_records,
    markdown_table,
    task_values_differ,
    write_jsonl,
)

BOOTSTRAP_SAMPLES = 1000
MIN_GROUP_ITEMS = 10  # smaller source/annotator groups are left out of the tables


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over the same items; ``None`` when it is undefined.

    Undefined means no items, or both raters gave one and the same category to every item
    (expected agreement 1).
    """
    if len(first) != len(second):
        raise ValueError("the two raters must judge the same items")
    n = len(first)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second)) / n
    counts_first, counts_second = Counter(first), Counter(second)
    expected = sum(counts_first[c] * counts_second.get(c, 0) for c in counts_first) / (n * n)
    if 1.0 - expected <= 1e-12:
        return None
    return (observed - expected) / (1.0 - expected)


def bootstrap_kappa_interval(
    first: Sequence[Hashable], second: Sequence[Hashable], samples: int, seed: int
) -> list[float] | None:
    """Percentile 95% interval of kappa over ``samples`` resamples of the items (seeded)."""
    n = len(first)
    if n < 2 or samples <= 0:
        return None
    categories = sorted(set(first) | set(second), key=str)
    code = {c: i for i, c in enumerate(categories)}
    a = np.array([code[x] for x in first])
    b = np.array([code[x] for x in second])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    ra, rb = a[idx], b[idx]
    observed = (ra == rb).mean(axis=1)
    expected = np.zeros(samples)
    for c in range(len(categories)):
        expected += (ra == c).mean(axis=1) * (rb == c).mean(axis=1)
    defined = expected < 1.0 - 1e-12
    if not defined.any():
        return None
    kappas = (observed[defined] - expected[defined]) / (1.0 - expected[defined])
    low, high = np.percentile(kappas, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def categorical_agreement(
    first: Sequence[Hashable], second: Sequence[Hashable], labels: Sequence[Hashable], samples: int, seed: int
) -> dict[str, Any]:
    """Counts, raw agreement, kappa (with interval) and confusion matrix of one judgement."""
    n = len(first)
    agree = sum(a == b for a, b in zip(first, second))
    seen = [*labels, *sorted({*first, *second} - set(labels), key=str)]
    matrix = [[sum(1 for a, b in zip(first, second) if a == row and b == col) for col in seen] for row in seen]
    return {
        "n": n,
        "agreement": _rounded(agree / n) if n else None,
        "kappa": _rounded(cohen_kappa(first, second)),
        "kappa_ci95": bootstrap_kappa_interval(first, second, samples, seed),
        "first_counts": {str(lab): sum(1 for a in first if a == lab) for lab in seen},
        "second_counts": {str(lab): sum(1 for b in second if b == lab) for lab in seen},
        "confusion": {"labels": [str(lab) for lab in seen], "first_rows_second_columns": matrix},
    }


def _has(label: str, labels: set[str]) -> str:
    return str(label in labels).lower()


def label_set_agreement(
    label: str, sets: Sequence[tuple[set[str], set[str]]], samples: int, seed: int
) -> dict[str, Any]:
    """Agreement on one label of a multi-label judgement, as a yes/no decision per text: ``sets``
    holds the (first pass, second pass) label sets of each text judged in both."""
    figures = categorical_agreement(
        [_has(label, a) for a, _ in sets], [_has(label, b) for _, b in sets], ("false", "true"), samples, seed
    )
    return {
        "n": figures["n"],
        "agreement": figures["agreement"],
        "kappa": figures["kappa"],
        "kappa_ci95": figures["kappa_ci95"],
        "first_positive": figures["first_counts"].get("true", 0),
        "second_positive": figures["second_counts"].get("true", 0),
        "both_positive": sum(1 for a, b in sets if label in a and label in b),
    }


@dataclass(frozen=True)
class Pair:
    """One text judged in both passes."""

    id: str
    first: Mapping[str, Any]
    second: Mapping[str, Any]


def task_agreement(pairs: Sequence[Pair], samples: int, seed: int) -> dict[str, Any]:
    """Every agreement figure for a group of pairs."""
    out: dict[str, Any] = {"items": len(pairs)}
    first_labels = [labels_of(p.first) for p in pairs]
    second_labels = [labels_of(p.second) for p in pairs]

    both = [(a["sentiment"], b["sentiment"]) for a, b in zip(first_labels, second_labels)]
    both = [(a, b) for a, b in both if a is not None and b is not None]
    out["sentiment"] = categorical_agreement([a for a, _ in both], [b for _, b in both], SENTIMENTS, samples, seed)

    both = [(a["call_to_action"], b["call_to_action"]) for a, b in zip(first_labels, second_labels)]
    both = [(a, b) for a, b in both if a is not None and b is not None]
    out["call_to_action"] = categorical_agreement(
        [str(a).lower() for a, _ in both], [str(b).lower() for _, b in both], ("false", "true"), samples, seed
    )

    topic_pairs = [
        (set(a["topics"]), set(b["topics"]))
        for a, b in zip(first_labels, second_labels)
        if a["topics"] is not None and b["topics"] is not None
    ]
    per_label = {label: label_set_agreement(label, topic_pairs, samples, seed) for label in TOPICS}
    exact = sum(1 for a, b in topic_pairs if a == b)
    out["topics"] = {
        "n": len(topic_pairs),
        "exact_match": _rounded(exact / len(topic_pairs)) if topic_pairs else None,
        "per_label": per_label,
        "first_none": sum(1 for a, _ in topic_pairs if not a),
        "second_none": sum(1 for _, b in topic_pairs if not b),
    }
    out[CTA_TYPE] = cta_type_agreement(pairs, samples, seed)
    disagreements = Counter(task for p in pairs for task in task_values_differ(p.first, p.second))
    out["disagreements"] = {task: disagreements.get(task, 0) for task in (*TASK_FIELDS, CTA_TYPE)}
    out["texts_with_any_disagreement"] = sum(1 for p in pairs if task_values_differ(p.first, p.second))
    return out


def cta_type_agreement(pairs: Sequence[Pair], samples: int, seed: int) -> dict[str, Any]:
    """cta_type agreement on the pairs both passes marked call_to_action true and both gave a cta_type.

    ``per_label``: each label as a yes/no judgement (kappa, raw agreement, positives);
    ``pooled_kappa``: one kappa over every (text, label) yes/no decision; ``macro_kappa``: the
    mean of the per-label kappas that are defined; ``exact_match``: share of texts whose whole
    cta_type set matches.
    """
    sets = [s for s in (cta_types_compared(p.first, p.second) for p in pairs) if s is not None]
    per_label = {label: label_set_agreement(label, sets, samples, seed) for label in CTA_TYPES}
    pooled_a = [_has(label, a) for label in CTA_TYPES for a, _ in sets]
    pooled_b = [_has(label, b) for label in CTA_TYPES for _, b in sets]
    defined = [v["kappa"] for v in per_label.values() if v["kappa"] is not None]
    exact = sum(1 for a, b in sets if a == b)
    return {
        "n": len(sets),
        "exact_match": _rounded(exact / len(sets)) if sets else None,
        "pooled_kappa": _rounded(cohen_kappa(pooled_a, pooled_b)),
        "macro_kappa": _rounded(sum(defined) / len(defined)) if defined else None,
        "per_label": per_label,
    }


def pair_passes(
    first: Sequence[LocatedRecord], second: Sequence[LocatedRecord]
) -> tuple[list[Pair], list[str]]:
    """Pairs in second-pass order, and the second-pass ids with no first-pass record (yet)."""
    by_id = {r.id: r.record for r in first}
    pairs: list[Pair] = []
    missing: list[str] = []
    for located in second:
        record = by_id.get(located.id)
        if record is None:
            missing.append(located.id)
        else:
            pairs.append(Pair(located.id, record, located.record))
    return pairs, missing


def group_pairs(pairs: Sequence[Pair]) -> dict[str, list[Pair]]:
    """The pairs overall, per provenance, per genre (every one present), per source and per
    first-pass annotator (groups of at least MIN_GROUP_ITEMS texts)."""
    groups: dict[str, list[Pair]] = {"all": list(pairs)}
    provenances = sorted({str(p.first.get("provenance")) for p in pairs if p.first.get("provenance") is not None})
    for value in provenances:
        groups[f"provenance={value}"] = [p for p in pairs if str(p.first.get("provenance")) == value]
    for genre in GENRES:
        members = [p for p in pairs if genre_of(p.first) == genre]
        if members:
            groups[f"genre={genre}"] = members
    for key in ("source", "annotator"):
        values = sorted({str(p.first.get(key)) for p in pairs if p.first.get(key) is not None})
        for value in values:
            members = [p for p in pairs if str(p.first.get(key)) == value]
            if len(members) >= MIN_GROUP_ITEMS:
                groups[f"{key}={value}"] = members
    return groups


def compute_agreement(
    first: Sequence[LocatedRecord], second: Sequence[LocatedRecord], samples: int = BOOTSTRAP_SAMPLES, seed: int = 13
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The agreement report (a JSON-ready dict) and the disagreement sheet (one dict per text)."""
    pairs, missing = pair_passes(first, second)
    groups = {name: task_agreement(members, samples, seed) for name, members in group_pairs(pairs).items()}
    second_annotators = sorted({str(r.record.get("annotator")) for r in second if r.record.get("annotator")})
    report = {
        "second_pass_records": len(second),
        "paired": len(pairs),
        "second_pass_ids_without_first_pass": len(missing),
        "missing_ids_sample": missing[:20],
        "second_annotators": second_annotators,
        "bootstrap_samples": samples,
        "seed": seed,
        "groups": groups,
    }
    sheet: list[dict[str, Any]] = []
    for pair in sorted(pairs, key=lambda p: p.id):
        differs = task_values_differ(pair.first, pair.second)
        if not differs:
            continue
        sheet.append(
            {
                "id": pair.id,
                "text": pair.first.get("text"),
                "source": pair.first.get("source"),
                "provenance": pair.first.get("provenance"),
                "genre": genre_of(pair.first),
                "differs": differs,
                "first": {**labels_of(pair.first, with_cta_type=True), **_who(pair.first)},
                "second": {**labels_of(pair.second, with_cta_type=True), **_who(pair.second)},
            }
        )
    return report, sheet


def _who(record: Mapping[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in ("annotator", "note") if record.get(key)}


def _main_group(name: str) -> bool:
    """Groups shown in the detailed tables: all, per provenance, per genre."""
    return name == "all" or name.startswith(("provenance=", "genre="))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _fmt_ci(ci: Sequence[float] | None) -> str:
    return "" if not ci else f" ({ci[0]:.2f}–{ci[1]:.2f})"


def render_markdown(report: Mapping[str, Any], inputs: Mapping[str, Any]) -> str:
    """The report as Markdown tables."""
    lines = [
        "# Inter-annotator agreement (generated by training/annotation/agreement.py)",
        "",
        f"First pass: {', '.join(inputs['first'])}  ",
        f"Second pass: {', '.join(inputs['second'])} (annotator(s) {', '.join(report['second_annotators']) or '?'})",
        "",
        f"Texts in the second pass: {report['second_pass_records']}; paired with a first-pass record: "
        f"{report['paired']}; not (yet) in the first pass: {report['second_pass_ids_without_first_pass']}.",
        "Kappa is Cohen's kappa; brackets give a bootstrap 95% interval "
        f"({report['bootstrap_samples']} resamples, seed {report['seed']}). Topics are judged one label at a time.",
        "",
        "## Cohen's kappa",
        "",
        "Genres as annolib.genre_of maps sources (textbook, wikipedia, news, web, authored_post, "
        "authored_comment, romanized). cta_type: pooled kappa over every (text, label) decision on the texts "
        "both passes marked call_to_action true (their number in brackets; n/a where cta_type was not judged in "
        "both passes).",
        "",
    ]
    lines += markdown_table(
        ["group", "texts", "sentiment", "call_to_action", *TOPICS, "topic set exact match", "cta_type"],
        [
            [
                name,
                g["items"],
                _fmt(g["sentiment"]["kappa"]),
                _fmt(g["call_to_action"]["kappa"]),
                *(_fmt(g["topics"]["per_label"][t]["kappa"]) for t in TOPICS),
                _fmt(g["topics"]["exact_match"]),
                f"{_fmt(g[CTA_TYPE]['pooled_kappa'])} ({g[CTA_TYPE]['n']})",
            ]
            for name, g in report["groups"].items()
        ],
    )
    lines += ["", "## cta_type (texts both passes marked call_to_action true)", ""]
    lines += markdown_table(
        ["group", "texts", "pooled kappa", "macro kappa", "exact set match", *CTA_TYPES],
        [
            [
                name,
                c["n"],
                _fmt(c["pooled_kappa"]),
                _fmt(c["macro_kappa"]),
                _fmt(c["exact_match"]),
                *(
                    f"{_fmt(per['kappa'])} ({per['first_positive']}/{per['second_positive']})"
                    for per in (c["per_label"][lab] for lab in CTA_TYPES)
                ),
            ]
            for name, c in ((name, g[CTA_TYPE]) for name, g in report["groups"].items() if _main_group(name))
        ],
    )
    lines += ["", "Per label: kappa (texts with the label in the first / second pass)."]
    lines += [
        "",
        "## Raw agreement, intervals and label counts (first pass / second pass)",
        "",
        "| group | judgement | texts | raw agreement | kappa (95% interval) | positives or label counts |",
        "|---|---|---|---|---|---|",
    ]
    for name, g in report["groups"].items():
        if not _main_group(name):
            continue
        s = g["sentiment"]
        counts = ", ".join(f"{lab} {s['first_counts'][lab]}/{s['second_counts'][lab]}" for lab in s["first_counts"])
        lines.append(
            f"| {name} | sentiment | {s['n']} | {_fmt(s['agreement'])} | {_fmt(s['kappa'])}{_fmt_ci(s['kappa_ci95'])} | {counts} |"
        )
        c = g["call_to_action"]
        lines.append(
            f"| {name} | call_to_action | {c['n']} | {_fmt(c['agreement'])} | {_fmt(c['kappa'])}{_fmt_ci(c['kappa_ci95'])} "
            f"| true {c['first_counts'].get('true', 0)}/{c['second_counts'].get('true', 0)} |"
        )
        for label, t in g["topics"]["per_label"].items():
            lines.append(
                f"| {name} | {label} | {t['n']} | {_fmt(t['agreement'])} | {_fmt(t['kappa'])}{_fmt_ci(t['kappa_ci95'])} "
                f"| {t['first_positive']}/{t['second_positive']} (both {t['both_positive']}) |"
            )
    lines += ["", "## Sentiment confusion (rows: first pass, columns: second pass)", ""]
    for name, g in report["groups"].items():
        if not _main_group(name):
            continue
        conf = g["sentiment"]["confusion"]
        lines += [f"**{name}**", "", "| first \\ second | " + " | ".join(conf["labels"]) + " |",
                  "|---" * (len(conf["labels"]) + 1) + "|"]
        for label, row in zip(conf["labels"], conf["first_rows_second_columns"]):
            lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
        lines.append("")
    lines += ["## Texts the passes disagree on", "",
              "| group | any task | topics | sentiment | call_to_action | cta_type |", "|---|---|---|---|---|---|"]
    for name, g in report["groups"].items():
        d = g["disagreements"]
        lines.append(
            f"| {name} | {g['texts_with_any_disagreement']} | {d['topics']} | {d['sentiment']} | {d['call_to_action']} "
            f"| {d[CTA_TYPE]} |"
        )
    lines += ["", "The disagreement sheet, `disagreements.jsonl`, lists them with both label sets for adjudication.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=Path, nargs="+", required=True, help="first-pass annotation files (full records)")
    parser.add_argument("--second", type=Path, nargs="+", required=True, help="second-pass files (id + labels)")
    parser.add_argument("--out", type=Path, required=True, help="folder for agreement.json/.md and disagreements.jsonl")
    parser.add_argument("--bootstrap", type=int, default=BOOTSTRAP_SAMPLES, help="resamples for the kappa intervals")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)

    try:
        first = load_records(args.first)
        overlays = load_overlays(args.first)
        second = load_records(args.second, labels_only=True)
    except DataValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    if overlays:
        merged = apply_overlays([r.record for r in first], {k: v.record for k, v in overlays.items()}, cta_true_only=True)
        first = [LocatedRecord(record, r.file, r.line) for record, r in zip(merged, first)]
    report, sheet = compute_agreement(first, second, args.bootstrap, args.seed)
    inputs = {"first": [str(p) for p in args.first], "second": [str(p) for p in args.second]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agreement.json").write_text(
        json.dumps({"inputs": inputs, **report}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    (args.out / "agreement.md").write_text(render_markdown(report, inputs), encoding="utf-8")
    write_jsonl(args.out / "disagreements.jsonl", sheet)
    overall = report["groups"]["all"]
    print(
        f"paired {report['paired']} of {report['second_pass_records']}; kappa sentiment "
        f"{_fmt(overall['sentiment']['kappa'])}, call_to_action {_fmt(overall['call_to_action']['kappa'])}, "
        + ", ".join(f"{t} {_fmt(overall['topics']['per_label'][t]['kappa'])}" for t in TOPICS)
        + f"; topic sets equal {_fmt(overall['topics']['exact_match'])}; cta_type pooled "
        f"{_fmt(overall[CTA_TYPE]['pooled_kappa'])} on {overall[CTA_TYPE]['n']} texts; {len(sheet)} texts to adjudicate"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
