"""Write the unlabelled pool of annotation round 2: news paragraphs and web lines, in the record
format of training/data/README.md ("Record format for news and web texts").

    python training/annotation/news_web_pool.py --corpora ../shared/data/corpora --out /tmp/pool_r2.jsonl

- News (``news_2019_articles.jsonl``): one record per paragraph as published (the article's
  ``text`` split on line feeds; paragraph index = position in that split, from 0, so it can be
  found again), surrounding whitespace stripped and nothing else changed (publishers' zero-width
  spaces kept): ``{"id": "nw-<docId>-p<index>", "text", "source": "news:<docId>:p<index>",
  "url", "category", "provenance": "corpus", "genre": "news"}``. A paragraph repeated in its article (a headline
  printed twice) is written once, at its first index.
- Web (``oscar_web_lines.txt``): one record per line, the CRF word segmentation undone (a space
  between two Khmer characters removed, other runs of spaces made one): ``{"id": "ow-<line>",
  "text", "source": "oscar_web_lines", "provenance": "corpus", "genre": "web"}`` (lines counted from 1).
- ``genre`` is annolib.genre_of of the record, a column ``khmer-civic select --quota genre=news:N``
  can stratify on (the tools themselves always derive the genre with genre_of).
- Lines and paragraphs the classifier would not label, or with fewer than ``--min-khmer`` Khmer
  characters (headings, bylines, captions), are left out.

The pool is the input of ``khmer-civic select``, which drops near-duplicates of what is already
annotated and picks the batch. It holds publishers' and site owners' text: keep it out of the
repository (only the selected paragraphs, as annotation records with their URL, go in).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from annolib import genre_of, is_labelable, validate_files, write_jsonl

from khmer_civic.train.distill_pool import MIN_KHMER, unsegment

NEWS_FILE = "news_2019_articles.jsonl"
WEB_FILE = "oscar_web_lines.txt"
KHMER = "\u1780-\u17ff\u19e0-\u19ff"
KHMER_CHAR = re.compile(f"[{KHMER}]")

# A CRF-segmented line as running text (spaces between two Khmer characters removed): the
# library's rule, shared with the distillation pool.
desegment = unsegment


def _keep(text: str, min_khmer: int) -> bool:
    return is_labelable(text) and len(KHMER_CHAR.findall(text)) >= min_khmer


def news_records(path: Path, min_khmer: int = MIN_KHMER) -> Iterator[dict[str, Any]]:
    """One record per kept paragraph of every article in ``path``."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            article = json.loads(line)
            doc = str(article["docId"])
            seen: set[str] = set()
            for index, paragraph in enumerate(str(article.get("text", "")).split("\n")):
                text = paragraph.strip()
                if not _keep(text, min_khmer) or text in seen:
                    continue
                seen.add(text)
                yield {
                    "id": f"nw-{doc}-p{index}",
                    "text": text,
                    "source": f"news:{doc}:p{index}",
                    "url": article.get("url"),
                    "category": article.get("category"),
                    "provenance": "corpus",
                    "genre": "news",
                }


def web_records(path: Path, min_khmer: int = MIN_KHMER) -> Iterator[dict[str, Any]]:
    """One record per kept line of ``path`` (line numbers from 1)."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            text = desegment(line)
            if _keep(text, min_khmer):
                yield {
                    "id": f"ow-{number}", "text": text, "source": "oscar_web_lines", "provenance": "corpus", "genre": "web",
                }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, required=True, help="folder with the news and OSCAR files")
    parser.add_argument("--out", type=Path, required=True, help="JSON Lines pool (keep it out of the repository)")
    parser.add_argument("--min-khmer", type=int, default=MIN_KHMER, help="fewest Khmer characters a text needs")
    parser.add_argument("--no-web", action="store_true", help="news paragraphs only")
    parser.add_argument("--no-news", action="store_true", help="web lines only")
    args = parser.parse_args(argv)

    records: list[dict[str, Any]] = []
    if not args.no_news:
        records += news_records(args.corpora / NEWS_FILE, args.min_khmer)
    news = len(records)
    if not args.no_web:
        records += web_records(args.corpora / WEB_FILE, args.min_khmer)
    assert all(genre_of(r) == r["genre"] for r in records)  # the column agrees with the one mapping
    count = write_jsonl(args.out, records)
    # The pool has no labels yet: check the id, source and url formats only.
    problems = [p for p in validate_files([args.out], labels_only=True).problems if "missing field" not in p.message]
    problems += [
        p for p in validate_files([args.out]).problems
        if any(k in p.message for k in ("'source'", "'id'", "'url'", "provenance", "duplicate"))
    ]
    for problem in problems[:20]:
        print(problem, file=sys.stderr)
    print(f"wrote {count} records to {args.out}: {news} news paragraphs, {count - news} web lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
