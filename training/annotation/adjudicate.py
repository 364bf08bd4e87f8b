"""Merge the first-pass annotations with adjudicated labels into one training set.

    python training/annotation/adjudicate.py \\
        --annotations training/data/annotations/*.jsonl \\
        --adjudications training/data/agreement/adjudication.jsonl \\
        --disagreements training/data/agreement/disagreements.jsonl \\
        --out training/data/annotated.jsonl

An adjudication file is JSON Lines, one decision per text::

    {"id": "rd-4173", "call_to_action": false, "reason": "bare question, no request to answer"}

Any of ``topics``, ``sentiment`` and ``call_to_action`` it gives replace the first-pass value
(tasks it leaves out keep it); ``reason`` (a few words) is required; ``adjudicator`` is
optional. The output holds every first-pass record, in input order, with the final labels;
an adjudicated record also carries ``adjudicated: true``, ``adjudication_reason`` and its
``first_pass`` labels. Records whose text has no letter at all (emoji-only replies) are left
out, because the classifier never labels such text and the training loader refuses it.

The output is a pure function of the inputs: run it again whenever an input changes. With
``--disagreements`` (the sheet agreement.py writes) it reports disagreements that have no
decision yet; ``--strict`` makes that an error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from annolib import (
    TASK_FIELDS,
    DataValidationError,
    LocatedRecord,
    Problem,
    is_labelable,
    labels_of,
    load_records,
    read_jsonl,
    validate_files,
    write_jsonl,
)

DECISION_FIELDS = frozenset({"id", "reason", "adjudicator", *TASK_FIELDS})


def read_decisions(paths: Sequence[str | Path]) -> dict[str, LocatedRecord]:
    """Adjudication decisions by id, checked (labels, required reason, one decision per id)."""
    result = validate_files(paths, labels_only=True)
    problems: list[Problem] = [
        p for p in result.problems if not p.message.startswith("missing field")
    ]  # a decision may leave tasks out
    decisions: dict[str, LocatedRecord] = {}
    for item in result.records:
        data = item.record
        unknown = sorted(set(data) - DECISION_FIELDS)
        if unknown:
            problems.append(Problem(item.file, item.line, f"unknown field(s) {unknown} in a decision"))
        reason = data.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(Problem(item.file, item.line, "a decision needs a short 'reason'"))
        if not any(task in data for task in TASK_FIELDS):
            problems.append(Problem(item.file, item.line, f"a decision must give at least one of {list(TASK_FIELDS)}"))
        if any(data.get(task) is None for task in TASK_FIELDS if task in data):
            problems.append(Problem(item.file, item.line, "a decision cannot set a judgement to null"))
        decisions.setdefault(item.id, item)
    if problems:
        raise DataValidationError(sorted(problems, key=lambda p: (p.file, p.line or 0)))
    return decisions


def merge(records: Sequence[Mapping[str, Any]], decisions: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """First-pass records with the decisions applied (see the module docstring).

    Raises ``KeyError`` naming the decision ids that match no record.
    """
    known = {str(r.get("id")) for r in records}
    orphans = sorted(set(decisions) - known)
    if orphans:
        raise KeyError(f"adjudication ids with no annotated record: {orphans[:10]}")
    merged: list[dict[str, Any]] = []
    for record in records:
        if not is_labelable(record.get("text")):
            continue
        out = {k: v for k, v in record.items() if k not in ("adjudicated", "adjudication_reason", "first_pass")}
        decision = decisions.get(str(record.get("id")))
        if decision is not None:
            out["first_pass"] = labels_of(record)
            for task in TASK_FIELDS:
                if task in decision:
                    out[task] = sorted(set(decision[task])) if task == "topics" else decision[task]
            out["adjudicated"] = True
            out["adjudication_reason"] = str(decision["reason"]).strip()
            if decision.get("adjudicator"):
                out["adjudicator"] = decision["adjudicator"]
        merged.append(out)
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", type=Path, nargs="+", required=True, help="first-pass annotation files")
    parser.add_argument("--adjudications", type=Path, nargs="*", default=[], help="adjudication decision files")
    parser.add_argument("--disagreements", type=Path, help="disagreements.jsonl from agreement.py, to check coverage")
    parser.add_argument("--strict", action="store_true", help="fail if a disagreement has no decision")
    parser.add_argument("--out", type=Path, required=True, help="merged JSON Lines file")
    args = parser.parse_args(argv)

    try:
        records = load_records(args.annotations)
        decisions = read_decisions(args.adjudications) if args.adjudications else {}
    except DataValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        merged = merge([r.record for r in records], {k: v.record for k, v in decisions.items()})
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 1

    dropped = [r.id for r in records if not is_labelable(r.record.get("text"))]
    undecided: list[str] = []
    if args.disagreements:
        undecided = [r.id for r in read_jsonl(args.disagreements) if r.id not in decisions]
    count = write_jsonl(args.out, merged)
    print(
        f"wrote {count} records to {args.out}: {sum(1 for r in merged if r.get('adjudicated'))} adjudicated, "
        f"{len(dropped)} left out for having no letter ({', '.join(dropped) or '-'})"
    )
    if undecided:
        print(f"{len(undecided)} disagreement(s) without a decision, keeping first-pass labels: {undecided[:10]}")
        if args.strict:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
