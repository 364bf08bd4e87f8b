"""Export a blind batch to annotate: id, text, source and provenance only, never labels.

Used for the independent second pass of the agreement sample, and for any new round:

    python training/annotation/export_batch.py --from training/data/annotations/authored_*.jsonl \
        --sample 60 --seed 7 --out training/data/batches/agreement_authored.jsonl
    python training/annotation/export_batch.py --from training/data/batches/real_0*.jsonl \
        --ids training/data/batches/agreement_sample_real.txt --out training/data/batches/agreement_real.jsonl

``--sample N`` draws N records from each input file (seeded); ``--ids`` keeps the listed ids.
Several ``--out`` batches can be merged with ``--append``. A news paragraph keeps its ``url``
(the record format needs it; it is no label). cta_type overlay files (``cta_type_*.jsonl``, no
text) among the inputs are skipped.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

BLIND_FIELDS = ("id", "text", "source", "url", "provenance")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def blind(record: dict) -> dict:
    """The record without any label or annotator field."""
    return {k: record[k] for k in BLIND_FIELDS if k in record}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="inputs", type=Path, nargs="+", required=True)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--ids", type=Path, help="file with one id a line")
    group.add_argument("--sample", type=int, help="records to draw from each input file")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--append", action="store_true", help="add to an existing batch instead of replacing it")
    args = ap.parse_args()
    args.inputs = [p for p in args.inputs if not p.name.startswith("cta_type_")]  # overlays hold no text

    rng = random.Random(args.seed)
    chosen: list[dict] = []
    if args.ids:
        wanted = [line.strip() for line in args.ids.read_text(encoding="utf-8").splitlines() if line.strip()]
        by_id = {r["id"]: r for path in args.inputs for r in read_jsonl(path)}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise SystemExit(f"{len(missing)} ids not found in the inputs, e.g. {missing[:5]}")
        chosen = [by_id[i] for i in wanted]
    else:
        for path in args.inputs:
            records = read_jsonl(path)
            chosen.extend(rng.sample(records, min(args.sample, len(records))))
    out = [blind(r) for r in chosen]
    if args.append and args.out.exists():
        seen = {r["id"] for r in read_jsonl(args.out)}
        out = read_jsonl(args.out) + [r for r in out if r["id"] not in seen]
    rng.shuffle(out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(out)} records to {args.out}")


if __name__ == "__main__":
    main()
