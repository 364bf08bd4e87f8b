"""Near-duplicate texts: character 5-gram Jaccard similarity of normalised texts.

Two texts are near-duplicates when their keys are equal or the Jaccard similarity of their
character 5-gram sets reaches 0.6. A key is the text normalised (:func:`khmer_civic.text.normalize`),
lower-cased and reduced to letters, marks and digits, so spacing, punctuation, emoji and the
typed order of Khmer marks do not matter. This is the rule of the annotation tools
(training/annotation: ``annolib.match_key``, ``make_splits.near_duplicate_groups``), which keep
near-duplicates in one split.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict

from khmer_civic.text import normalize

NEAR_DUPLICATE_JACCARD = 0.6
SHINGLE_SIZE = 5


def match_key(text: str) -> str:
    """The normalised text reduced to letters, marks and digits, lower-cased."""
    return "".join(ch for ch in normalize(text).lower() if unicodedata.category(ch)[0] in "LMN")


def shingles(key: str, size: int = SHINGLE_SIZE) -> frozenset[str]:
    """The character ``size``-grams of a key (the whole key when shorter; nothing for an empty key)."""
    if not key:
        return frozenset()
    if len(key) <= size:
        return frozenset({key})
    return frozenset(key[i : i + size] for i in range(len(key) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0


class NearDuplicateIndex:
    """Texts added so far, indexed by 5-gram; tells whether a new text is a near-duplicate of one.

    Exact: no pair at or above the threshold is missed. Jaccard >= t means the query's grams
    shared with a stored text number at least ceil(t * q) of its q grams, so any
    q - ceil(t * q) + 1 of them meet the stored text: only those, the rarest in the index, are
    looked up (prefix filtering), and each text found is then compared exactly.
    """

    def __init__(self, threshold: float = NEAR_DUPLICATE_JACCARD, size: int = SHINGLE_SIZE) -> None:
        self.threshold = threshold
        self.size = size
        self._keys: set[str] = set()
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._grams: list[frozenset[str]] = []

    def __len__(self) -> int:
        return len(self._grams)

    def matches(self, text: str) -> bool:
        """Whether ``text`` is a near-duplicate of a text added before."""
        key = match_key(text)
        if not key:
            return False
        if key in self._keys:
            return True
        grams = shingles(key, self.size)
        ordered = sorted(grams, key=lambda g: (len(self._postings.get(g, ())), g))
        probe = ordered[: len(ordered) - math.ceil(self.threshold * len(ordered) - 1e-9) + 1]
        seen: set[int] = set()
        for gram in probe:
            for doc in self._postings.get(gram, ()):
                if doc in seen:
                    continue
                seen.add(doc)
                other = self._grams[doc]
                if min(len(grams), len(other)) < self.threshold * max(len(grams), len(other)):
                    continue  # sizes too far apart for the threshold
                if jaccard(grams, other) >= self.threshold:
                    return True
        return False

    def add(self, text: str) -> None:
        """Index ``text`` (a text without letters or digits is not indexed)."""
        key = match_key(text)
        if not key:
            return
        self._keys.add(key)
        grams = shingles(key, self.size)
        doc = len(self._grams)
        self._grams.append(grams)
        for gram in grams:
            self._postings[gram].append(doc)
