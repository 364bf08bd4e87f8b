"""Check annotation files against the LABELS.md record format.

    python training/annotation/validate.py training/data/annotations/*.jsonl
    python training/annotation/validate.py --labels-only training/data/agreement/pass2_*.jsonl

Every record needs ``id`` (non-empty string), ``text`` (non-empty string with letters),
``topics`` (list drawn from education, health, local_administration, or null), ``sentiment``
(positive, neutral, negative, or null), ``call_to_action`` (true, false, or null), ``source``
(string) and ``provenance`` (corpus or authored); ids must be unique across all the files given.
``cta_type`` (LABELS.md v1.3) may be absent or null (not judged); otherwise it is a list drawn from
engage, attend, contact, report, use_service, comply, vote, donate, other, without repeats:
``[]`` when call_to_action is false, at least one label when it is true. News paragraphs need
``source: news:<docId>:p<index>``, id ``nw-<docId>-p<index>`` and the article's ``url``; web lines
``source: oscar_web_lines`` and id ``ow-<line>`` (training/data/README.md). ``--labels-only``
checks second-pass files, which carry id and judgements only.

cta_type overlay files (``cta_type_*.jsonl``: ``{"id", "cta_type", "annotator", "note"?}`` per
call-to-action text) are recognised by name and checked as such: a non-empty cta_type, an
annotator, each id once; given together with annotation files, each id must be one of theirs.
Whether its text's final call_to_action is true is checked by adjudicate.py.

Prints every problem as ``file:line: message`` and exits with status 1 if there is any.
Texts without any letter (emoji-only replies) are warnings, not problems: they stay in the
annotation files but adjudicate.py leaves them out of the merged training set, because the
classifier never labels such text.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from annolib import validate_files


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", type=Path, nargs="+", help="JSON Lines annotation files")
    parser.add_argument("--labels-only", action="store_true", help="files hold id + judgements only (second pass)")
    args = parser.parse_args(argv)

    result = validate_files(args.files, labels_only=args.labels_only)
    records, problems = result.records, result.problems
    for problem in problems:
        print(problem)
    for warning in result.warnings:
        print(f"{warning} [warning: kept here, left out of the merged training set]")
    per_file = Counter(r.file for r in [*records, *result.overlays])
    for path in args.files:
        print(f"{path}: {per_file.get(str(path), 0)} records", file=sys.stderr)
    if problems:
        print(f"FAILED: {len(problems)} problem(s) in {len(args.files)} file(s)", file=sys.stderr)
        return 1
    overlays = f" and {len(result.overlays)} cta_type overlay line(s)" if result.overlays else ""
    print(f"OK: {len(records)} records{overlays} in {len(args.files)} file(s), ids unique", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
