"""Draw the candidate pool for the first real annotation round and split it into batches.

Cue words only decide which corpus lines are worth reading; the labels themselves come
from annotators reading each text against training/data/LABELS (v1.2). The pool mixes
cue-chosen strata with a uniformly random share so that texts about none of the
civic topics appear at a realistic rate.

Usage:
    python training/annotation/sample_candidates.py \
        --corpora /work/shared/data/corpora --out training/data/batches --seed 13

Standalone: uses only the standard library, and the same seed gives the same files.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

RDLAB_FILE = "rdlab_wild_khmer_sentences.txt"
WIKI_FILE = "khmer_wikipedia_5k.txt"
SOURCE_NAMES = {"rd": "rdlab_wild_khmer_sentences", "wk": "khmer_wikipedia_5k"}

MIN_KHMER_CHARS = 25
MAX_CHARS = 600
SHINGLE_SIZE = 5
NEAR_DUPLICATE_JACCARD = 0.7

POOL_SIZE = 2800
BATCH_COUNT = 8
AGREEMENT_SIZE = 220
WIKI_SHARE = 0.15
RANDOM_SHARE = 0.25
# Draw order matters: later strata are credited with earlier picks that carry their cues.
# The random share is drawn first and the hard cases last, taking what room is left.
STRATUM_TARGETS: dict[str, int] = {
    "education": 650,
    "health": 650,
    "local_administration": 650,
    "call_to_action": 450,
    "hard_case": 150,
}
# Within the call-to-action quota, this share comes from strong cues (requests to the reader).
STRONG_CTA_SHARE = 0.7
STRATA_ORDER: tuple[str, ...] = ("random", *STRATUM_TARGETS)

ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
WHITESPACE = re.compile(r"\s+")
KHMER_CHAR = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")

# Longer words that contain a cue as a substring but mean something else; they are blanked
# out before cue matching (e.g. ក្របខណ្ឌ "framework" contains ខណ្ឌ "khan").
MASKED_WORDS: tuple[str, ...] = (
    "ក្របខណ្ឌ", "លក្ខខណ្ឌ", "វាក្យខណ្ឌ", "អនុខណ្ឌ",
    "កុំមុយនី", "កុំព្យូទ", "កុំផ្លិច",
    "សូម្បី", "ក្រូម៉ូសូម", "រីបូសូម", "សូមទ្រង់", "សូមថ្លែង", "សូមគោរព", "សូមជម្រាប", "សូមជំរាប",
    "សូមប្តេជ្ញា", "សូមបេ្តជា្ញ",
    "ក្នុងស្រុក", "អ្នកស្រុក", "ចំណាកស្រុក", "ស្រុកកំណើត", "ស្រុកទេស", "ចាស់ស្រុក", "ស្រុកខ្មែរ",
    "ឃុំខ្លួន", "ឃុំឃាំង", "ឃុំគ្រង",
    "សាលាដំបូង", "សាលាឧទ្ធរណ៍", "សាលាក្តី", "សាលាក្ដី",
    "ថ្នាំសម្លាប់", "ថ្នាំសំលាប់", "ថ្នាំកសិកម្ម", "ថ្នាំពណ៌", "ថ្នាំលាប",
    "សន្តិសុខភាព", "សន្ដិសុខភាព",
)

EDUCATION_CUES: tuple[str, ...] = (
    "សាលារៀន", "បឋមសិក្សា", "មធ្យមសិក្សា", "មត្តេយ្យ", "គ្រូបង្រៀន", "លោកគ្រូ", "អ្នកគ្រូ",
    "សិស្ស", "និស្សិត", "ការអប់រំ", "គណៈកម្មការទ្រទ្រង់សាលា", "វិទ្យាល័យ", "ប្រឡង",
    "អាហារូបករណ៍", "អក្ខរកម្ម", "បោះបង់ការសិក្សា", "ថ្នាក់រៀន", "សៀវភៅសិក្សា",
    "ចុះឈ្មោះចូលរៀន", "បណ្តុះបណ្តាលវិជ្ជាជីវៈ", "បណ្ដុះបណ្ដាលវិជ្ជាជីវៈ",
)
# Education cues that name schooling itself, so អប់រំ next to them is not a homonym.
SCHOOLING_CUES: tuple[str, ...] = tuple(c for c in EDUCATION_CUES if c != "ការអប់រំ")

HEALTH_CUES: tuple[str, ...] = (
    "មណ្ឌលសុខភាព", "ពេទ្យ", "វេជ្ជបណ្ឌិត", "ឆ្មប", "គិលានុបដ្ឋាក", "វ៉ាក់សាំង",
    "ចាក់ថ្នាំបង្ការ", "ជំងឺ", "មូលនិធិសមធម៌", "ប័ណ្ណក្រីក្រ", "ថ្នាំ", "សុខភាព",
    "សុខាភិបាល", "ព្យាបាល", "អនាម័យ", "មេរោគ", "កូវីដ", "គ្រុនឈាម", "គ្រុនចាញ់", "អេដស៍",
    "មាតុភាព", "សម្ភព",
)

LOCAL_ADMINISTRATION_CUES: tuple[str, ...] = (
    "ឃុំ", "សង្កាត់", "ស្រុក", "ខណ្ឌ", "មេភូមិ", "ក្រុមប្រឹក្សាខេត្ត", "ក្រុមប្រឹក្សាក្រុង",
    "ក្រុមប្រឹក្សារាជធានី", "អភិបាលខេត្ត",
    "អភិបាលស្រុក", "អភិបាលក្រុង", "រដ្ឋបាលខេត្ត", "រដ្ឋបាលថ្នាក់ក្រោមជាតិ", "សំបុត្រកំណើត",
    "សំបុត្រអាពាហ៍ពិពាហ៍", "សំបុត្រមរណភាព", "អត្រានុកូលដ្ឋាន", "អត្តសញ្ញាណប័ណ្ណ",
    "សៀវភៅគ្រួសារ", "សៀវភៅស្នាក់នៅ", "ច្រកចេញចូលតែមួយ", "អាជ្ញាធរ", "ប្លង់ដី",
    "វិវាទដីធ្លី", "ផ្លូវថ្នល់", "ផ្លូវលំ", "ផ្លូវបេតុង", "ផ្លូវក្រួសក្រហម", "ផ្លូវភូមិ",
    "ជួសជុលផ្លូវ", "ស្ថាបនាផ្លូវ", "ប្រឡាយ", "ទ្វារទឹក", "លូបង្ហូរទឹក", "សាលាក្រុង",
    "សាលារាជធានី", "សាលាខេត្ត",
)

# Requests addressed to the reader; ចូលរួម and ត្រូវ are common in plain prose, so they are weak.
STRONG_CTA_CUES: tuple[str, ...] = (
    "សូម", "អញ្ជើញ", "ចែករំលែក", "ទាក់ទងមក", "ទាក់ទងតាម", "ទាក់ទងលេខ", "ទូរស័ព្ទមក",
    "អំពាវនាវ", "ចុចលើ", "ចុចទីនេះ", "ផ្សាយផ្ទាល់",
)
# កុំ mid-sentence is mostly "so as not to" (ការពារកុំឲ្យ); it is a strong cue only as an opener.
WEAK_CTA_CUES: tuple[str, ...] = (
    "ចូលរួម", "កុំ", "ចុះឈ្មោះ", "ដាក់ពាក្យ", "ហាមឃាត់", "ត្រូវតែ", "គ្រប់គ្នាត្រូវ", "យើងត្រូវ", "អ្នកត្រូវ",
)
# A sentence that opens with one of these reads as an imperative.
IMPERATIVE_OPENERS: tuple[str, ...] = ("ចូរ", "សូម", "កុំ", "ត្រូវ", "ចុច", "ហាម")
PASSIVE_OPENER = "ត្រូវបាន"

HARD_CASE_WORDS: tuple[str, ...] = (
    "សាលាដំបូង", "សាលាឧទ្ធរណ៍", "សាលាក្តី", "សាលាក្ដី", "ឃុំខ្លួន", "ឃុំឃាំង",
)
DISASTER_WORDS: tuple[str, ...] = ("ព្យុះ", "ទឹកជំនន់", "ខ្យល់កន្ត្រាក់", "គ្រោះធម្មជាតិ", "រន្ទះ")
DAMAGE_WORDS: tuple[str, ...] = ("ខូចខាត", "បាក់", "រលំ", "ដួល", "រលាយ")
HANDOUT_WORDS: tuple[str, ...] = ("អំណោយ", "ចែកជូន", "ឧបត្ថម្ភ")
CIVIC_ITEM_WORDS: tuple[str, ...] = ("សាលារៀន", "សិស្ស", "គ្រូ", "មណ្ឌលសុខភាព", "មន្ទីរពេទ្យ")
ANIMAL_CROP_WORDS: tuple[str, ...] = ("សត្វ", "ជ្រូក", "គោ", "ក្របី", "មាន់", "ដំណាំ", "ស្រូវ", "បសុ")
COSMETIC_WORDS: tuple[str, ...] = ("សម្ផស្ស", "ស្បែកស", "គ្រឿងសំអាង", "គ្រឿងសម្អាង")


@dataclass(frozen=True)
class Candidate:
    """One corpus line that passed the filters, with the cue strata it belongs to."""

    candidate_id: str
    text: str
    source: str
    strata: frozenset[str] = field(default_factory=frozenset)
    strong_cta: bool = False


def normalize_for_matching(text: str) -> str:
    """Drop zero-width characters and collapse whitespace (NFC), for cue matching and dedup."""
    text = unicodedata.normalize("NFC", text)
    text = ZERO_WIDTH.sub("", text)
    return WHITESPACE.sub(" ", text).strip()


def near_duplicate_key(text: str) -> str:
    """Letters, marks and digits only, lower-cased: spacing and punctuation variants collide."""
    kept = (ch for ch in normalize_for_matching(text).lower() if unicodedata.category(ch)[0] in "LMN")
    return "".join(kept)


def shingles(key: str, size: int = SHINGLE_SIZE) -> frozenset[str]:
    """Character n-gram set of a near-duplicate key (the whole key if it is shorter)."""
    if len(key) <= size:
        return frozenset({key})
    return frozenset(key[i : i + size] for i in range(len(key) - size + 1))


def keep_line(text: str) -> bool:
    """True for lines long enough to judge and short enough to read (not headings/fragments)."""
    if len(text) > MAX_CHARS:
        return False
    return len(KHMER_CHAR.findall(text)) >= MIN_KHMER_CHARS


def _contains_any(text: str, words: Iterable[str]) -> bool:
    return any(word in text for word in words)


def _mask(text: str) -> str:
    for word in MASKED_WORDS:
        text = text.replace(word, " ")
    return text


def cue_strata(text: str) -> tuple[frozenset[str], bool]:
    """Return the cue strata a text belongs to and whether it carries a strong request cue."""
    plain = normalize_for_matching(text)
    masked = _mask(plain)
    strata: set[str] = set()
    if _contains_any(masked, EDUCATION_CUES):
        strata.add("education")
    if _contains_any(masked, HEALTH_CUES):
        strata.add("health")
    if _contains_any(masked, LOCAL_ADMINISTRATION_CUES):
        strata.add("local_administration")

    opening = masked.lstrip()
    opens_imperative = any(opening.startswith(word) for word in IMPERATIVE_OPENERS) and not opening.startswith(
        PASSIVE_OPENER
    )
    strong_cta = _contains_any(masked, STRONG_CTA_CUES) or (opens_imperative and not opening.startswith("ចូរ"))
    # Textbook exercise prompts ("ចូរពន្យល់ ...") are numerous, so they only count as weak cues.
    if strong_cta or opens_imperative or _contains_any(masked, WEAK_CTA_CUES):
        strata.add("call_to_action")

    school_homonym = "អប់រំ" in plain and not _contains_any(masked, SCHOOLING_CUES)
    damage_list = _contains_any(plain, DISASTER_WORDS) and _contains_any(plain, DAMAGE_WORDS)
    handout_list = _contains_any(plain, HANDOUT_WORDS) and _contains_any(plain, CIVIC_ITEM_WORDS)
    animal_or_crop_disease = "ជំងឺ" in plain and _contains_any(plain, ANIMAL_CROP_WORDS)
    if (
        _contains_any(plain, HARD_CASE_WORDS)
        or school_homonym
        or damage_list
        or handout_list
        or animal_or_crop_disease
        or _contains_any(plain, COSMETIC_WORDS)
    ):
        strata.add("hard_case")
    return frozenset(strata), strong_cta


def read_corpus(path: Path, prefix: str) -> list[tuple[str, str]]:
    """(id, stripped text) for every non-empty line; ids carry the 1-based line number."""
    rows: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.strip()
            if text:
                rows.append((f"{prefix}-{line_number}", text))
    return rows


def build_candidates(rows: Sequence[tuple[str, str]], source: str) -> tuple[list[Candidate], Counter[str]]:
    """Filter lines, drop exact and key-level duplicates (first occurrence wins), tag strata."""
    seen_keys: set[str] = set()
    candidates: list[Candidate] = []
    dropped: Counter[str] = Counter()
    for candidate_id, text in rows:
        if not keep_line(text):
            dropped["too_long" if len(text) > MAX_CHARS else "too_short"] += 1
            continue
        key = near_duplicate_key(text)
        if key in seen_keys:
            dropped["duplicate"] += 1
            continue
        seen_keys.add(key)
        strata, strong_cta = cue_strata(text)
        candidates.append(Candidate(candidate_id, text, source, strata, strong_cta))
    return candidates, dropped


class NearDuplicateIndex:
    """Shingle inverted index over accepted texts; rejects a text too similar to one of them."""

    def __init__(self, threshold: float = NEAR_DUPLICATE_JACCARD) -> None:
        self.threshold = threshold
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._sizes: list[int] = []

    def is_near_duplicate(self, text: str) -> bool:
        grams = shingles(near_duplicate_key(text))
        overlap: Counter[int] = Counter()
        for gram in grams:
            overlap.update(self._postings.get(gram, ()))
        for doc, shared in overlap.items():
            union = len(grams) + self._sizes[doc] - shared
            if union and shared / union >= self.threshold:
                return True
        return False

    def add(self, text: str) -> None:
        grams = shingles(near_duplicate_key(text))
        doc = len(self._sizes)
        self._sizes.append(len(grams))
        for gram in grams:
            self._postings[gram].append(doc)


@dataclass
class Pool:
    """Texts picked so far, with the stratum each was drawn for."""

    picked: dict[str, tuple[Candidate, str]] = field(default_factory=dict)
    index: NearDuplicateIndex = field(default_factory=NearDuplicateIndex)

    def add(self, candidate: Candidate, stratum: str) -> bool:
        if candidate.candidate_id in self.picked or self.index.is_near_duplicate(candidate.text):
            return False
        self.picked[candidate.candidate_id] = (candidate, stratum)
        self.index.add(candidate.text)
        return True

    def count_with_cue(self, stratum: str) -> int:
        return sum(1 for candidate, _ in self.picked.values() if stratum in candidate.strata)

    def count_source(self, source: str) -> int:
        return sum(1 for candidate, _ in self.picked.values() if candidate.source == source)


def _draw(pool: Pool, eligible: Sequence[Candidate], wanted: int, stratum: str, rng: random.Random) -> int:
    """Add up to `wanted` random members of `eligible` to the pool; return how many were added."""
    if wanted <= 0:
        return 0
    order = list(eligible)
    rng.shuffle(order)
    added = 0
    for candidate in order:
        if added >= wanted:
            break
        if pool.add(candidate, stratum):
            added += 1
    return added


def _draw_split_by_source(
    pool: Pool, by_source: dict[str, list[Candidate]], wanted: int, wiki_wanted: int, stratum: str, rng: random.Random
) -> None:
    """Draw `wanted` texts, `wiki_wanted` of them from Wikipedia when it has enough."""
    wiki_added = _draw(pool, by_source["wk"], min(wiki_wanted, wanted), stratum, rng)
    _draw(pool, by_source["rd"], wanted - wiki_added, stratum, rng)


def sample_pool(
    candidates: Sequence[Candidate],
    seed: int,
    pool_size: int = POOL_SIZE,
    targets: dict[str, int] | None = None,
    wiki_share: float = WIKI_SHARE,
    random_share: float = RANDOM_SHARE,
) -> list[tuple[Candidate, str]]:
    """Pick the pool: a uniform random share first, then each cue stratum up to its target
    (texts already picked that carry the cue count towards it), then random texts up to size."""
    targets = STRATUM_TARGETS if targets is None else targets
    rng = random.Random(seed)
    pool = Pool()

    def split(members: Iterable[Candidate]) -> dict[str, list[Candidate]]:
        groups: dict[str, list[Candidate]] = {"rd": [], "wk": []}
        for candidate in members:
            groups[candidate.candidate_id.split("-", 1)[0]].append(candidate)
        return groups

    random_wanted = round(pool_size * random_share)
    _draw_split_by_source(pool, split(candidates), random_wanted, round(random_wanted * wiki_share), "random", rng)
    for stratum, target in targets.items():
        members = [c for c in candidates if stratum in c.strata]
        wanted = min(target - pool.count_with_cue(stratum), pool_size - len(pool.picked))
        if wanted <= 0:
            continue
        if stratum == "call_to_action":
            strong_wanted = round(wanted * STRONG_CTA_SHARE)
            strong = split(c for c in members if c.strong_cta)
            _draw_split_by_source(pool, strong, strong_wanted, round(strong_wanted * wiki_share), stratum, rng)
            wanted = min(target - pool.count_with_cue(stratum), pool_size - len(pool.picked))
        _draw_split_by_source(pool, split(members), wanted, round(wanted * wiki_share), stratum, rng)

    # Top up to the pool size with more random texts.
    _draw(pool, candidates, pool_size - len(pool.picked), "random", rng)

    # Cued Wikipedia paragraphs are scarce: swap random-share corpus lines that carry no cue for
    # random Wikipedia paragraphs until Wikipedia reaches its share of the pool.
    wiki_shortfall = round(pool_size * wiki_share) - pool.count_source(SOURCE_NAMES["wk"])
    swappable = sorted(
        candidate_id
        for candidate_id, (candidate, stratum) in pool.picked.items()
        if stratum == "random" and candidate.source == SOURCE_NAMES["rd"] and not candidate.strata
    )
    rng.shuffle(swappable)
    swaps = _draw(pool, split(candidates)["wk"], min(wiki_shortfall, len(swappable)), "random", rng)
    for candidate_id in swappable[:swaps]:
        del pool.picked[candidate_id]
    return list(pool.picked.values())


def split_into_batches(picked: Sequence[tuple[Candidate, str]], batch_count: int, seed: int) -> list[list[tuple[Candidate, str]]]:
    """Deal each stratum (and source) round-robin over the batches, then shuffle every batch."""
    rng = random.Random(seed + 1)
    ordered: list[tuple[Candidate, str]] = []
    for stratum in STRATA_ORDER:
        for source in SOURCE_NAMES.values():
            group = [row for row in picked if row[1] == stratum and row[0].source == source]
            group.sort(key=lambda row: row[0].candidate_id)
            rng.shuffle(group)
            ordered.extend(group)
    batches: list[list[tuple[Candidate, str]]] = [[] for _ in range(batch_count)]
    for position, row in enumerate(ordered):
        batches[position % batch_count].append(row)
    for batch in batches:
        rng.shuffle(batch)
    return batches


def choose_agreement_sample(batches: Sequence[Sequence[tuple[Candidate, str]]], size: int, seed: int) -> list[str]:
    """Evenly spaced picks from each batch sorted by stratum, so every batch and stratum is represented."""
    rng = random.Random(seed + 2)
    base, extra = divmod(size, len(batches))
    chosen: list[str] = []
    for batch_number, batch in enumerate(batches):
        wanted = min(len(batch), base + (1 if batch_number < extra else 0))
        if wanted == 0:
            continue
        rank = {stratum: i for i, stratum in enumerate(STRATA_ORDER)}
        keyed = [(rank[stratum], rng.random(), candidate.candidate_id) for candidate, stratum in batch]
        keyed.sort()
        step = len(keyed) / wanted
        offset = rng.random() * step
        chosen.extend(keyed[int(offset + i * step)][2] for i in range(wanted))
    return chosen


def write_outputs(
    out_dir: Path,
    batches: Sequence[Sequence[tuple[Candidate, str]]],
    agreement_ids: Sequence[str],
    readme_text: str,
) -> None:
    """Write real_NN.jsonl batches, the agreement id list and the README."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for batch_number, batch in enumerate(batches, start=1):
        with (out_dir / f"real_{batch_number:02d}.jsonl").open("w", encoding="utf-8") as handle:
            for candidate, stratum in batch:
                record = {
                    "id": candidate.candidate_id,
                    "text": candidate.text,
                    "source": candidate.source,
                    "provenance": "corpus",
                    "cue": stratum,
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    (out_dir / "agreement_sample_real.txt").write_text("\n".join(agreement_ids) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(readme_text, encoding="utf-8")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def describe(
    args: argparse.Namespace,
    batches: Sequence[Sequence[tuple[Candidate, str]]],
    agreement_ids: Sequence[str],
    corpus_stats: dict[str, dict[str, int]],
) -> str:
    """README text: how the batches were made and what is in them."""
    picked = [row for batch in batches for row in batch]
    drawn_rows = []
    for number, batch in enumerate(batches, start=1):
        counts = Counter(stratum for _, stratum in batch)
        wiki = sum(1 for candidate, _ in batch if candidate.source == SOURCE_NAMES["wk"])
        drawn_rows.append([f"real_{number:02d}", *(counts[s] for s in STRATA_ORDER), wiki, len(batch)])
    totals = Counter(stratum for _, stratum in picked)
    wiki_total = sum(1 for candidate, _ in picked if candidate.source == SOURCE_NAMES["wk"])
    drawn_rows.append(["total", *(totals[s] for s in STRATA_ORDER), wiki_total, len(picked)])
    cue_rows = [
        [stratum, sum(1 for c, _ in picked if stratum in c.strata), STRATUM_TARGETS[stratum]]
        for stratum in STRATUM_TARGETS
    ]
    corpus_rows = [
        [name, stats["lines"], stats["too_short"], stats["too_long"], stats["duplicate"], stats["kept"]]
        for name, stats in corpus_stats.items()
    ]
    by_id = {c.candidate_id: stratum for c, stratum in picked}
    agreement_cues = Counter(by_id[i] for i in agreement_ids)
    return f"""# Candidate batches for the first real annotation round (issue 4)

Made by

```
python training/annotation/sample_candidates.py --corpora <shared>/data/corpora --out {args.out} --seed {args.seed}
```

(`<shared>` is the read-only reference folder; the script reads nothing else and needs no network.)
The same seed rebuilds the same files byte for byte.

## What the files are
- `real_01.jsonl` ... `real_{len(batches):02d}.jsonl`: one candidate a line,
  `{{"id", "text", "source", "provenance": "corpus", "cue"}}`. `id` is `rd-<line>` or `wk-<line>`, the
  1-based line number in the corpus file; `text` is that line, stripped, unchanged otherwise.
- `cue` is the stratum a text was **drawn for**, not a label. Cue words only chose what to read:
  annotate every text from what it says, following LABELS.md v1.2. Many `education`-cued texts
  will not be `education`, and `random` texts can carry any label.
- `agreement_sample_real.txt`: {len(agreement_ids)} ids, annotated by two people each, spread over all batches.

## How the pool was drawn
1. Corpora: `{RDLAB_FILE}` (one sentence a line, textbook/government/news prose; MIT per its
   package) and `{WIKI_FILE}` (Wikipedia paragraphs, CC BY-SA 4.0: attribute when redistributed).
2. Dropped: lines with fewer than {MIN_KHMER_CHARS} Khmer characters (headings, fragments, non-Khmer),
   lines over {MAX_CHARS} characters, and duplicates, keeping the first occurrence. Duplicates are
   found on a key made of letters, marks and digits only (zero-width characters, whitespace and
   punctuation removed); inside the pool, a text whose character {SHINGLE_SIZE}-gram Jaccard similarity
   with an already picked text reaches {NEAR_DUPLICATE_JACCARD} is also skipped.
3. First a uniformly random share ({int(RANDOM_SHARE * 100)}% of the pool, `random`), so texts about none of the
   topics appear at a realistic rate. Then strata by cue words, in this order: `education`,
   `health`, `local_administration`, `call_to_action`, `hard_case` (see the cue lists in the script;
   substrings with another meaning such as ក្របខណ្ឌ, កុំព្យូទ័រ, សូម្បី, ក្នុងស្រុក, សន្តិសុខភាព are blanked
   before matching). A stratum's target counts the texts already in the pool that carry its cue,
   so each text is in the pool once and `cue` names the stratum it was drawn for.
   `call_to_action` takes {int(STRONG_CTA_SHARE * 100)}% of its draw from strong request cues (សូម, អញ្ជើញ,
   ចែករំលែក, ទាក់ទងមក, អំពាវនាវ, imperative openers such as សូម/កុំ/ត្រូវ/ចុច), the rest from any cue
   including weak ones (ចូលរួម, កុំ mid-sentence, ចុះឈ្មោះ, ត្រូវតែ, textbook prompts opening with ចូរ).
   `hard_case` covers homonyms (អប់រំ away from schooling, សាលាដំបូង, ឃុំខ្លួន), storm-damage and
   handout lists, animal/crop disease and cosmetics; it comes last and only fills what the pool
   still lacks, so with seed 13 its target is already met by texts drawn for other strata.
   About {int(WIKI_SHARE * 100)}% of each draw comes from Wikipedia where it has enough cued paragraphs; at the
   end, random-share corpus lines carrying no cue are swapped for random Wikipedia paragraphs until
   Wikipedia makes up {int(WIKI_SHARE * 100)}% of the pool.
4. Batches: each stratum and source is dealt round-robin over the {len(batches)} batches, then each batch
   is shuffled. The agreement sample takes evenly spaced texts from every batch after sorting it by
   stratum.

## Corpus filtering
{_table(["corpus", "non-empty lines", "too short", "too long", "duplicate", "kept"], corpus_rows)}

## Texts per stratum they were drawn for, per batch
{_table(["batch", *STRATA_ORDER, "of which Wikipedia", "total"], drawn_rows)}

## Texts in the pool carrying each cue (overlaps counted in every stratum they match)
{_table(["cue", "texts in pool", "target"], cue_rows)}

## Agreement sample by drawn stratum
{_table(["stratum", "ids"], [[s, agreement_cues[s]] for s in STRATA_ORDER])}
"""


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, required=True, help="folder holding the two corpus files")
    parser.add_argument("--out", type=Path, required=True, help="output folder for the batches")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)

    candidates: list[Candidate] = []
    corpus_stats: dict[str, dict[str, int]] = {}
    for prefix, file_name in (("rd", RDLAB_FILE), ("wk", WIKI_FILE)):
        rows = read_corpus(args.corpora / file_name, prefix)
        kept, dropped = build_candidates(rows, SOURCE_NAMES[prefix])
        candidates.extend(kept)
        corpus_stats[file_name] = {"lines": len(rows), **dropped, "kept": len(kept)}
        for reason in ("too_short", "too_long", "duplicate"):
            corpus_stats[file_name].setdefault(reason, 0)

    picked = sample_pool(candidates, args.seed)
    batches = split_into_batches(picked, BATCH_COUNT, args.seed)
    agreement_ids = choose_agreement_sample(batches, AGREEMENT_SIZE, args.seed)
    readme = describe(args, batches, agreement_ids, corpus_stats)
    write_outputs(args.out, batches, agreement_ids, readme)
    print(readme)


if __name__ == "__main__":
    main()
