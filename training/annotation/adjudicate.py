"""Merge the first-pass annotations, cta_type overlays and adjudicated labels into one training set.

    python training/annotation/adjudicate.py \\
        --annotations training/data/annotations/*.jsonl \\
        --adjudications training/data/agreement/adjudication.jsonl \\
        --disagreements training/data/agreement/disagreements.jsonl \\
        --out training/data/annotated.jsonl

An adjudication file is JSON Lines, one decision per text::

    {"id": "rd-4173", "call_to_action": false, "reason": "bare question, no request to answer"}
    {"id": "au-posts-0026", "cta_type": ["use_service"], "reason": "booster at the health centre (3b step 3)"}

Any of ``topics``, ``sentiment``, ``call_to_action`` and ``cta_type`` it gives replace the
first-pass value (tasks it leaves out keep it); ``relayed_appeal`` (true or false) sets or removes
that marker, which is also dropped from any text whose final call_to_action is not true;
``reason`` (a few words) is required;
``adjudicator`` is optional. The output holds every first-pass record, in input order, with the
final labels; an adjudicated record also carries ``adjudicated: true``, ``adjudication_reason``
and its ``first_pass`` labels (topics, sentiment, call_to_action, and cta_type when the decision
changed it). Records whose text has no letter at all (emoji-only replies) are left out, because
the classifier never labels such text and the training loader refuses it.

**cta_type.** cta_type overlay files (``cta_type_*.jsonl``, one ``{"id", "cta_type", "annotator",
"note"?}`` line per call-to-action text; round 1 got its cta_type this way) may be given among
``--annotations`` or with ``--overlays``: each line sets the cta_type of the record with its id.
Every output record carries ``cta_type``, right after ``call_to_action``:

- final ``call_to_action`` true: the decision's cta_type, else the overlay's or the record's own,
  else null (not judged yet); a decision that turns call_to_action true keeps no first-pass ``[]``;
- final ``call_to_action`` false: ``[]``; an overlay (unless the decision gives call_to_action
  false with ``cta_type: []``, overruling the types of a first-pass call to action), or a decision
  giving labels, for such a text
  is an error, since cta_type is only for calls to action;
- call_to_action null: cta_type null.

The output is a pure function of the inputs: run it again whenever an input changes. With
``--disagreements`` (the sheet agreement.py writes) it reports disagreements that have no
decision yet; ``--strict`` makes that an error, and also a call to action without cta_type.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from annolib import (
    CTA_TYPE,
    TASK_FIELDS,
    DataValidationError,
    LocatedRecord,
    Problem,
    canonical_cta_type,
    is_labelable,
    labels_of,
    load_overlays,
    load_records,
    read_jsonl,
    split_overlay_paths,
    validate_files,
    with_field_after,
    write_jsonl,
)

DECISION_TASKS: tuple[str, ...] = (*(t for t in TASK_FIELDS if t != CTA_TYPE), CTA_TYPE)
RELAYED_APPEAL = "relayed_appeal"  # a marker, not a task: a decision may set it (true) or remove it (false)
DECISION_FIELDS = frozenset({"id", "reason", "adjudicator", RELAYED_APPEAL, *DECISION_TASKS})
# A decision may give cta_type alone: the text's call_to_action then comes from the first pass.
_CTA_FROM_FIRST_PASS = "but call_to_action was not judged"


class MergeError(ValueError):
    """Inputs that cannot be merged (cta_type against the final call_to_action); one message a case."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


def read_decisions(paths: Sequence[str | Path]) -> dict[str, LocatedRecord]:
    """Adjudication decisions by id, checked (labels, required reason, one decision per id)."""
    result = validate_files(paths, labels_only=True)
    problems: list[Problem] = [
        p for p in result.problems if not p.message.startswith("missing field") and _CTA_FROM_FIRST_PASS not in p.message
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
        if not any(task in data for task in (*DECISION_TASKS, RELAYED_APPEAL)):
            problems.append(
                Problem(item.file, item.line, f"a decision must give at least one of {[*DECISION_TASKS, RELAYED_APPEAL]}")
            )
        if RELAYED_APPEAL in data and not isinstance(data[RELAYED_APPEAL], bool):
            problems.append(Problem(item.file, item.line, f"{RELAYED_APPEAL} in a decision must be true or false"))
        if any(data.get(task) is None for task in DECISION_TASKS if task in data):
            problems.append(Problem(item.file, item.line, "a decision cannot set a judgement to null"))
        decisions.setdefault(item.id, item)
    if problems:
        raise DataValidationError(sorted(problems, key=lambda p: (p.file, p.line or 0)))
    return decisions


def _final_cta_type(
    record: Mapping[str, Any], final_cta: Any, decision: Mapping[str, Any] | None, overlay: Mapping[str, Any] | None
) -> tuple[list[str] | None, list[str] | None, str | None]:
    """``(final cta_type, first-pass cta_type, problem)`` of one record (see the module docstring)."""
    rid = record.get("id")
    own = canonical_cta_type(record.get(CTA_TYPE))
    first = own
    if overlay is not None:
        value = canonical_cta_type(overlay[CTA_TYPE])
        if own is not None and own != value:
            return None, own, f"{rid}: cta_type {own} in the annotation file and {value} in an overlay"
        first = value
    decided = canonical_cta_type(decision[CTA_TYPE]) if decision is not None and CTA_TYPE in decision else None
    if final_cta is True:
        if decided is not None:
            if not decided:
                return None, first, f"{rid}: the decision gives cta_type [] but call_to_action is true"
            return decided, first, None
        if record.get("call_to_action") is not True and first == []:
            return None, first, None  # the first pass said false, so its [] is no judgement
        if first == []:
            return None, first, f"{rid}: call_to_action is true but cta_type is []"
        return first, first, None
    if final_cta is False:
        emptied = decision is not None and decision.get("call_to_action") is False and decided == []
        if overlay is not None and not emptied:  # only a decision giving false and cta_type [] overrides it
            return [], first, f"{rid}: a cta_type overlay ({overlay[CTA_TYPE]}) for a text whose final call_to_action is false"
        if decided:
            return [], first, f"{rid}: the decision gives cta_type {decided} but call_to_action is false"
        return [], first, None
    if overlay is not None or decided:
        return None, first, f"{rid}: cta_type given for a text whose call_to_action was not judged"
    return None, first, None


def _final_relayed_appeal(record: Mapping[str, Any], decision: Mapping[str, Any] | None) -> bool:
    """Whether the merged record keeps ``relayed_appeal: true``: the decision's word if it gives one,
    else the first pass's; never on a text whose final call_to_action is not true."""
    wanted = record.get(RELAYED_APPEAL) is True
    if decision is not None and RELAYED_APPEAL in decision:
        wanted = decision[RELAYED_APPEAL] is True
    return wanted and record.get("call_to_action") is True


def merge(
    records: Sequence[Mapping[str, Any]],
    decisions: Mapping[str, Mapping[str, Any]],
    overlays: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """First-pass records with the overlays and decisions applied (see the module docstring).

    Raises ``KeyError`` naming the decision or overlay ids that match no record, and
    :class:`MergeError` listing every cta_type that contradicts the final call_to_action.
    """
    overlays = overlays or {}
    known = {str(r.get("id")) for r in records}
    orphans = sorted(set(decisions) - known)
    if orphans:
        raise KeyError(f"adjudication ids with no annotated record: {orphans[:10]}")
    orphans = sorted(set(overlays) - known)
    if orphans:
        raise KeyError(f"cta_type overlay ids with no annotated record: {orphans[:10]}")
    merged: list[dict[str, Any]] = []
    problems: list[str] = []
    for record in records:
        if not is_labelable(record.get("text")):
            continue
        out = {k: v for k, v in record.items() if k not in ("adjudicated", "adjudication_reason", "first_pass")}
        rid = str(record.get("id"))
        decision = decisions.get(rid)
        if decision is not None:
            for task in DECISION_TASKS:
                if task in decision and task != CTA_TYPE:
                    out[task] = sorted(set(decision[task])) if task == "topics" else decision[task]
        final, first, problem = _final_cta_type(record, out.get("call_to_action"), decision, overlays.get(rid))
        if problem:
            problems.append(problem)
        out = with_field_after(out, CTA_TYPE, final)
        relayed = _final_relayed_appeal(out, decision)
        out.pop(RELAYED_APPEAL, None)
        if relayed:
            out = with_field_after(out, RELAYED_APPEAL, True, after=CTA_TYPE)
        elif decision is not None and decision.get(RELAYED_APPEAL) is True:
            problems.append(f"{rid}: the decision marks a relayed appeal but call_to_action is not true")
        if decision is not None:
            out["first_pass"] = labels_of(record)
            if first is not None and first != final:
                out["first_pass"][CTA_TYPE] = first
            out["adjudicated"] = True
            out["adjudication_reason"] = str(decision["reason"]).strip()
            if decision.get("adjudicator"):
                out["adjudicator"] = decision["adjudicator"]
        merged.append(out)
    if problems:
        raise MergeError(problems)
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--annotations", type=Path, nargs="+", required=True,
        help="first-pass annotation files (cta_type_*.jsonl overlays among them are merged as overlays)",
    )
    parser.add_argument("--overlays", type=Path, nargs="*", default=[], help="more cta_type overlay files")
    parser.add_argument("--adjudications", type=Path, nargs="*", default=[], help="adjudication decision files")
    parser.add_argument("--disagreements", type=Path, help="disagreements.jsonl from agreement.py, to check coverage")
    parser.add_argument(
        "--strict", action="store_true", help="fail if a disagreement has no decision or a call to action no cta_type"
    )
    parser.add_argument("--out", type=Path, required=True, help="merged JSON Lines file")
    args = parser.parse_args(argv)

    record_paths, overlay_paths = split_overlay_paths(args.annotations)
    bad_overlays = [str(p) for p in args.overlays if p not in overlay_paths and not p.name.startswith("cta_type_")]
    if bad_overlays:
        print(f"overlay files are named cta_type_*.jsonl: {bad_overlays}", file=sys.stderr)
        return 1
    overlay_paths += [p for p in args.overlays if p not in overlay_paths]
    try:
        records = load_records([*record_paths, *overlay_paths])
        overlays = load_overlays(overlay_paths)
        decisions = read_decisions(args.adjudications) if args.adjudications else {}
    except DataValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        merged = merge(
            [r.record for r in records],
            {k: v.record for k, v in decisions.items()},
            {k: v.record for k, v in overlays.items()},
        )
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 1
    except MergeError as exc:
        for message in exc.messages:
            print(message, file=sys.stderr)
        print(f"FAILED: {len(exc.messages)} cta_type problem(s)", file=sys.stderr)
        return 1

    dropped = [r.id for r in records if not is_labelable(r.record.get("text"))]
    undecided: list[str] = []
    if args.disagreements:
        undecided = [r.id for r in read_jsonl(args.disagreements) if r.id not in decisions]
    count = write_jsonl(args.out, merged)
    cta = [r for r in merged if r.get("call_to_action") is True]
    missing_type = [str(r.get("id")) for r in cta if r.get(CTA_TYPE) is None]
    print(
        f"wrote {count} records to {args.out}: {sum(1 for r in merged if r.get('adjudicated'))} adjudicated, "
        f"{len(dropped)} left out for having no letter ({', '.join(dropped) or '-'}); "
        f"{len(overlays)} cta_type overlay line(s) merged; calls to action with cta_type "
        f"{len(cta) - len(missing_type)} of {len(cta)}"
    )
    status = 0
    if missing_type:
        print(f"{len(missing_type)} call(s) to action without cta_type yet: {missing_type[:10]}")
        if args.strict:
            status = 1
    if undecided:
        print(f"{len(undecided)} disagreement(s) without a decision, keeping first-pass labels: {undecided[:10]}")
        if args.strict:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
