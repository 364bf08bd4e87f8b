"""Tag an unlabelled pool with cue strata and drop what is already annotated (later rounds).

    python training/annotation/cue_pool.py --pool /tmp/pool.jsonl --cues training/data/batches/r4_cues.json \
        --annotated training/data/annotations/*.jsonl --out /tmp/pool_cued.jsonl

``--cues`` is a JSON object ``{"stratum": "regular expression", ...}``; a pool record gets the first
stratum (in file order) whose expression matches its normalised text (``khmer_civic.text.normalize``),
in a ``cue`` column, and records that match none are left out. ``khmer-civic select --quota
cue=<stratum>:N`` then picks from each stratum. A cue only chooses what gets read: annotators label
the text, never the cue. Prints the count per stratum.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from annolib import read_jsonl, write_jsonl

from khmer_civic.text import normalize


def read_cues(path: Path) -> dict[str, re.Pattern[str]]:
    """The strata of a cues file, in file order, each with its compiled expression."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: expected a JSON object of stratum -> regular expression")
    return {str(name): re.compile(normalize(str(pattern))) for name, pattern in raw.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=Path, required=True, help="JSON Lines pool (news_web_pool.py)")
    parser.add_argument("--cues", type=Path, required=True, help="JSON object: stratum -> regular expression")
    parser.add_argument("--annotated", type=Path, nargs="*", default=[], help="annotation files whose ids are left out")
    parser.add_argument("--out", type=Path, required=True, help="the tagged pool (keep it out of the repository)")
    args = parser.parse_args(argv)

    cues = read_cues(args.cues)
    done = {item.id for path in args.annotated for item in read_jsonl(path)}
    counts: Counter[str] = Counter()
    kept = []
    for item in read_jsonl(args.pool):
        if item.id in done:
            counts["already annotated"] += 1
            continue
        text = normalize(str(item.record.get("text", "")))
        stratum = next((name for name, pattern in cues.items() if pattern.search(text)), None)
        counts[stratum or "no cue"] += 1
        if stratum is not None:
            kept.append({**item.record, "cue": stratum})
    write_jsonl(args.out, kept)
    print(f"wrote {len(kept)} records to {args.out}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
