"""Join an annotator's labels file with its batch into annotation records (LABELS.md format).

    python training/annotation/merge_labels.py --batch training/data/batches/r2_01.jsonl \
        --labels training/data/batches/r2_01.labels.jsonl \
        --selection training/data/batches/r2_selection.jsonl \
        --out training/data/annotations/round2_01.jsonl

For batches annotated without Label Studio (whose exports ``khmer-civic import-labels`` reads):
the annotator writes only ``{"id", "topics", "sentiment", "call_to_action", "cta_type",
"relayed_appeal"?, "note"?, "annotator"}`` per text, in batch order; this tool adds the text and
the metadata of the batch record (source, url, provenance, category ...) and, from
``--selection`` (``khmer-civic select``'s picks), why the text was chosen (``selection``:
random or uncertain, so counts.py can report the random sample). Every id of the batch must be
labelled exactly once and no other id may appear; the result is checked with annolib's
validation (exit status 1 and ``file:line: message`` lines on a problem, nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from annolib import CTA_TYPE, TASK_FIELDS, read_jsonl, validate_files, with_field_after, write_jsonl

LABEL_KEYS = (*TASK_FIELDS, CTA_TYPE, "relayed_appeal", "note", "annotator")
BATCH_KEYS = ("source", "url", "provenance", "category", "docId", "paragraph")


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [item.record for item in read_jsonl(path)]


def merge(batch: list[dict[str, Any]], labels: list[dict[str, Any]], selection: dict[str, str]) -> list[dict[str, Any]]:
    """One record per batch text, in batch order; raises ValueError naming missing or extra ids."""
    by_id: dict[str, dict[str, Any]] = {}
    for item in labels:
        if item.get("id") in by_id:
            raise ValueError(f"id {item.get('id')!r} is labelled twice")
        by_id[item.get("id")] = item
    batch_ids = [row["id"] for row in batch]
    missing = [i for i in batch_ids if i not in by_id]
    extra = sorted(set(by_id) - set(batch_ids), key=str)
    if missing or extra:
        raise ValueError(f"labels do not match the batch: missing {missing[:5]} ({len(missing)}), extra {extra[:5]}")
    records = []
    for row in batch:
        label = by_id[row["id"]]
        record: dict[str, Any] = {"id": row["id"], "text": row["text"]}
        record.update({key: label[key] for key in TASK_FIELDS if key in label})
        record = with_field_after(record, CTA_TYPE, label.get(CTA_TYPE))
        if label.get("relayed_appeal") is True:
            record["relayed_appeal"] = True
        record.update({key: row[key] for key in BATCH_KEYS if row.get(key) not in (None, "")})
        if row["id"] in selection:
            record["selection"] = selection[row["id"]]
        record["annotator"] = label.get("annotator")
        if label.get("note"):
            record["note"] = label["note"]
        records.append(record)
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=Path, required=True)
    ap.add_argument("--labels", type=Path, required=True)
    ap.add_argument("--selection", type=Path, help="id -> selection of khmer-civic select's batch (JSONL)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    selection = {}
    if args.selection:
        selection = {r["id"]: r["selection"] for r in read_lines(args.selection) if r.get("selection")}
    try:
        records = merge(read_lines(args.batch), read_lines(args.labels), selection)
    except (ValueError, KeyError) as exc:  # DataValidationError (a bad line) is a ValueError
        sys.exit(f"{args.labels}: {exc}")
    staging = args.out.with_name(f".{args.out.stem}.staging.jsonl")
    write_jsonl(staging, records)
    report = validate_files([staging])
    if report.problems:
        staging.unlink()
        for problem in report.problems:
            print(str(problem).replace(str(staging), str(args.out)), file=sys.stderr)
        sys.exit(1)
    staging.replace(args.out)
    print(f"wrote {len(records)} records to {args.out}")


if __name__ == "__main__":
    main()
