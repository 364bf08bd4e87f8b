"""The unlabelled pool a student model is distilled on (:mod:`khmer_civic.train.distill`).

:func:`build_pool` reads plain-text files (one text per line) and JSON Lines files (each
record's ``text`` field, one text per non-empty line of it: a news article gives its
paragraphs), and keeps a text when

- the classifier would label it (:func:`~khmer_civic.model.inputs.prepare_input`; the text is
  kept normalised, as the model sees it) and it has at least ``min_khmer`` Khmer characters
  (headings, bylines and captions have fewer);
- its match key (:func:`khmer_civic.annotation.near_duplicates.match_key`: letters, marks and
  digits of the normalised, lower-cased text) is new: exact duplicates, and the annotated
  training texts given as ``known`` (they come with gold labels), are read once;
- it is no near-duplicate of a held-out text (``held_out``: the dev and test texts; character
  5-gram Jaccard >= 0.6, the annotation tools' rule): nothing the student is chosen or
  measured on leaks into what it learns from.

Word-segmented lines (the OSCAR web lines are CRF output, a space between every two words)
are joined back first, as the annotation pool tool does (``training/annotation/news_web_pool.py``).
``max_per_file`` keeps at most that many texts per file (a file's texts are examined in a
seeded random order until it has that many), so the 212,000 textbook sentences do not drown the
news and web texts. The pool is written as JSON
Lines (``id``, ``text``, ``source``) into the run directory, and read back from there on a
resumed run, so a resumed run trains on exactly the same texts. Needs no torch.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from khmer_civic.annotation.near_duplicates import NearDuplicateIndex, match_key
from khmer_civic.model.inputs import prepare_input
from khmer_civic.schema import LabelStatus

MIN_KHMER = 10
_KHMER = "\u1780-\u17ff\u19e0-\u19ff"
_KHMER_CHAR = re.compile(f"[{_KHMER}]")
_SEGMENT_SPACE = re.compile(f"(?<=[{_KHMER}]) +(?=[{_KHMER}])")
_SPACES = re.compile(r"[ \t]+")
# Files whose lines are word-segmented (a space between every two words): joined back first.
SEGMENTED_FILES = frozenset({"oscar_web_lines.txt"})


@dataclass(frozen=True)
class PoolText:
    """One unlabelled text of the pool: normalised, with where it came from."""

    id: str
    text: str
    source: str  # the file's name


@dataclass
class PoolReport:
    """What :func:`build_pool` read and dropped, per file."""

    read: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    unlabellable: Counter[str] = field(default_factory=Counter)
    little_khmer: Counter[str] = field(default_factory=Counter)
    duplicate: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    held_out: Counter[str] = field(default_factory=Counter)
    sampled_out: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.kept.values())

    def to_dict(self) -> dict[str, Any]:
        names = ("read", "kept", "unlabellable", "little_khmer", "duplicate", "known", "held_out", "sampled_out")
        return {"total": self.total, **{name: dict(getattr(self, name)) for name in names}}

    def lines(self) -> list[str]:
        """One line per file: kept of read, and why the others were dropped."""
        out = []
        for source, read in self.read.items():
            reasons = ", ".join(
                f"{name.replace('_', ' ')} {counter[source]:,}"
                for name, counter in (
                    ("duplicate", self.duplicate),
                    ("annotated for training", self.known),
                    ("near-duplicate of dev/test", self.held_out),
                    ("unlabellable", self.unlabellable),
                    ("under the Khmer minimum", self.little_khmer),
                    ("not examined, over the per-file cap", self.sampled_out),
                )
                if counter[source]
            )
            out.append(f"{source}: kept {self.kept[source]:,} of {read:,} texts" + (f" (dropped: {reasons})" if reasons else ""))
        out.append(f"pool: {self.total:,} texts")
        return out


def unsegment(line: str) -> str:
    """A word-segmented line as running text: spaces between two Khmer characters removed, other
    runs of spaces made one (training/annotation/news_web_pool.py uses it too)."""
    return _SPACES.sub(" ", _SEGMENT_SPACE.sub("", line)).strip()


def raw_texts(path: str | os.PathLike[str]) -> Iterator[str]:
    """Every candidate text of one file: a line of a text file, a line of a JSONL record's ``text``."""
    path = Path(path)
    segmented = path.name in SEGMENTED_FILES
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if path.suffix == ".jsonl":
                if not line.strip():
                    continue
                record = json.loads(line)
                value = record.get("text") if isinstance(record, dict) else None
                if isinstance(value, str):
                    yield from (part.strip() for part in value.split("\n") if part.strip())
            else:
                text = unsegment(line) if segmented else line.strip()
                if text:
                    yield text


def build_pool(
    files: Sequence[str | os.PathLike[str]],
    *,
    held_out: Iterable[str] = (),
    known: Iterable[str] = (),
    min_khmer: int = MIN_KHMER,
    max_per_file: int | None = None,
    seed: int = 13,
) -> tuple[list[PoolText], PoolReport]:
    """The deduplicated, leak-free pool of ``files`` (see the module docstring) and its report.

    ``held_out``: texts the pool must not contain or nearly contain (dev and test);
    ``known``: texts already in the training data (left out of the pool, exact match key).
    """
    blocked = NearDuplicateIndex()
    for text in held_out:
        blocked.add(text)
    known_keys = {key for key in (match_key(t) for t in known) if key}
    seen: set[str] = set()
    report = PoolReport()
    pool: list[PoolText] = []
    rng = np.random.default_rng(seed)
    for path in map(Path, files):
        if not path.is_file():
            raise FileNotFoundError(f"pool file {path} does not exist")
        source = path.name
        candidates = list(raw_texts(path))
        report.read[source] += len(candidates)
        # with a cap, texts are examined in a seeded random order until the cap is reached
        order = rng.permutation(len(candidates)) if max_per_file is not None else range(len(candidates))
        kept: list[tuple[int, PoolText]] = []
        examined = 0
        for index in order:
            if max_per_file is not None and len(kept) >= max_per_file:
                break
            examined += 1
            number = int(index) + 1
            status, text = prepare_input(candidates[index])
            if status is not LabelStatus.OK:
                report.unlabellable[source] += 1
                continue
            if len(_KHMER_CHAR.findall(text)) < min_khmer:
                report.little_khmer[source] += 1
                continue
            key = match_key(text)
            if key in known_keys:
                report.known[source] += 1
                continue
            if key in seen:
                report.duplicate[source] += 1
                continue
            seen.add(key)
            if blocked.matches(text):
                report.held_out[source] += 1
                continue
            kept.append((number, PoolText(f"{path.stem}:{number}", text, source)))
        report.sampled_out[source] += len(candidates) - examined
        report.kept[source] += len(kept)
        pool.extend(item for _, item in sorted(kept, key=lambda pair: pair[0]))
    return pool, report


def write_pool(pool: Sequence[PoolText], path: str | os.PathLike[str]) -> Path:
    """The pool as JSON Lines (``id``, ``text``, ``source``), written to a temporary file and moved."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for item in pool:
            handle.write(json.dumps({"id": item.id, "text": item.text, "source": item.source}, ensure_ascii=False) + "\n")
    os.replace(partial, path)
    return path


def read_pool(path: str | os.PathLike[str]) -> list[PoolText]:
    """A pool written by :func:`write_pool`."""
    with Path(path).open(encoding="utf-8") as handle:
        return [PoolText(r["id"], r["text"], r["source"]) for r in map(json.loads, handle) if r]
