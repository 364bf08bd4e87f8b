"""Build a tiny but complete khmer-civic model directory, without torch, for tests.

``build_tiny_model(dir)`` writes everything :meth:`CivicClassifier.load` checks:

- ``tokenizer.json``: a Hugging Face ``tokenizers`` Unigram model whose pieces are single
  characters (Khmer block, Latin letters, digits, some punctuation) plus a few whole Khmer and
  English words, behind a Metaspace pre-tokenizer; ``<s>`` ``<pad>`` ``</s>`` ``<unk>`` are ids
  0..3 as in XLM-R. The file deliberately enables truncation, padding and a ``<s> $A </s>``
  post-processor, so tests prove the library switches those off and adds bos/eos itself.
- ``model.onnx``: embedding lookup → mean over the attention mask → tanh layer → one
  MatMul+Add head per task, named by the task's ``output``; weights are random but fixed by
  ``seed``; opset 17; ``input_ids``/``attention_mask`` int64 ``[batch, seq]``. With
  ``quantize=True`` the graph is passed through onnxruntime's dynamic int8 quantiser with 7-bit
  weights, as the export does.
  With ``embedding=True`` the masked mean is also the output ``pooled`` (named in config.json).
- ``config.json`` (schema.py format), ``metrics.json``, ``MODEL_CARD.md`` and ``manifest.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

from khmer_civic.model.manifest import write_manifest
from khmer_civic.schema import MODEL_FORMAT, MODEL_FORMAT_VERSION, ModelSchema, default_schema
from khmer_civic.text import NORMALIZER_VERSION

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
BOS_ID, PAD_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
EMBEDDING_DIM = 8
HIDDEN_DIM = 8
EMBEDDING_OUTPUT = "pooled"  # the masked mean, a graph output with build_tiny_model(embedding=True)
TINY_WORDS = ("▁សាលារៀន", "▁គ្រូ", "▁មន្ទីរពេទ្យ", "▁ឃុំ", "▁សូម", "▁school", "▁health", "▁please")


def tiny_vocabulary() -> list[tuple[str, float]]:
    """(piece, log-probability) pairs: the special tokens first, then words, then characters."""
    chars = [chr(c) for c in range(0x1780, 0x1800) if chr(c).isprintable()]
    chars += [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    chars += list("0123456789.,!?-'\"()") + ["▁"]
    vocab: list[tuple[str, float]] = [(token, 0.0) for token in SPECIAL_TOKENS]
    vocab += [(word, -2.0) for word in TINY_WORDS]
    vocab += [(char, -8.0) for char in dict.fromkeys(chars)]
    return vocab


def build_tiny_tokenizer(max_length: int = 16) -> Tokenizer:
    """The tiny Unigram tokenizer described in the module docstring."""
    tokenizer = Tokenizer(models.Unigram(tiny_vocabulary(), unk_id=UNK_ID, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", BOS_ID), ("</s>", EOS_ID)]
    )
    # Traps for the library: it must switch these off (see the module docstring).
    tokenizer.enable_truncation(max_length=max(max_length // 2, 1))
    tokenizer.enable_padding(pad_id=PAD_ID, pad_token="<pad>", length=max_length)
    return tokenizer


def build_tiny_graph(schema: ModelSchema, vocab_size: int, seed: int = 0, embedding: bool = False) -> onnx.ModelProto:
    """Embedding → masked mean → tanh → one linear head per task, deterministic from ``seed``.

    With ``embedding`` the masked mean (``pooled``, ``[batch, EMBEDDING_DIM]``) is also an output."""
    rng = np.random.default_rng(seed)
    initializers = [
        numpy_helper.from_array(rng.normal(0, 1.0, (vocab_size, EMBEDDING_DIM)).astype(np.float32), "embedding"),
        numpy_helper.from_array(rng.normal(0, 1.0, (EMBEDDING_DIM, HIDDEN_DIM)).astype(np.float32), "hidden_w"),
        numpy_helper.from_array(rng.normal(0, 0.1, (HIDDEN_DIM,)).astype(np.float32), "hidden_b"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_seq"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis_feature"),
        numpy_helper.from_array(np.array(1e-6, dtype=np.float32), "epsilon"),
    ]
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_float"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_float", "axis_feature"], ["mask_3d"]),
        helper.make_node("Mul", ["embedded", "mask_3d"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis_seq"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask_float", "axis_seq"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "epsilon"], ["count_safe"]),
        helper.make_node("Div", ["summed", "count_safe"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "hidden_w"], ["hidden_linear"]),
        helper.make_node("Add", ["hidden_linear", "hidden_b"], ["hidden_pre"]),
        helper.make_node("Tanh", ["hidden_pre"], ["hidden"]),
    ]
    outputs = []
    for task in schema.tasks:
        weight = rng.normal(0, 2.0, (HIDDEN_DIM, task.n_outputs)).astype(np.float32)
        bias = rng.normal(0, 0.5, (task.n_outputs,)).astype(np.float32)
        initializers += [
            numpy_helper.from_array(weight, f"{task.output}_w"),
            numpy_helper.from_array(bias, f"{task.output}_b"),
        ]
        nodes += [
            helper.make_node("MatMul", ["hidden", f"{task.output}_w"], [f"{task.output}_linear"]),
            helper.make_node("Add", [f"{task.output}_linear", f"{task.output}_b"], [task.output]),
        ]
        outputs.append(helper.make_tensor_value_info(task.output, TensorProto.FLOAT, ["batch", task.n_outputs]))
    if embedding:
        outputs.append(helper.make_tensor_value_info(EMBEDDING_OUTPUT, TensorProto.FLOAT, ["batch", EMBEDDING_DIM]))
    graph = helper.make_graph(
        nodes,
        "tiny_civic_classifier",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        outputs=outputs,
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="khmer-civic-tests")
    model.ir_version = 8  # readable by every onnxruntime the project supports
    onnx.checker.check_model(model, full_check=True)
    return model


def tiny_config(schema: ModelSchema, *, max_length: int, window_stride: int, name: str = "tiny-civic") -> dict:
    """The config.json content of a tiny model."""
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "name": name,
        "version": "0.0.1",
        "normalizer_version": NORMALIZER_VERSION,
        "max_length": max_length,
        "window_stride": window_stride,
        "pad_token_id": PAD_ID,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "tasks": schema.to_list(),
    }


def build_tiny_model(
    directory: str | Path,
    *,
    tasks: ModelSchema | None = None,
    max_length: int = 16,
    window_stride: int | None = None,
    seed: int = 0,
    quantize: bool = False,
    embedding: bool = False,
) -> Path:
    """Write a complete, valid tiny model directory into ``directory`` and return its path.

    ``tasks`` defaults to :func:`khmer_civic.schema.default_schema`; one ONNX output is built per
    task. ``window_stride`` defaults to three quarters of the window (at least 1). With
    ``embedding`` the graph also outputs the pooled vector and config.json names it
    (``"embedding_output": "pooled"``).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    schema = tasks if tasks is not None else default_schema()
    stride = window_stride if window_stride is not None else max(1, (max_length - 2) * 3 // 4)

    tokenizer = build_tiny_tokenizer(max_length)
    tokenizer.save(str(out / "tokenizer.json"))
    graph = build_tiny_graph(schema, tokenizer.get_vocab_size(with_added_tokens=True), seed, embedding)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        fp32_path = out / "model.fp32.onnx"
        onnx.save(graph, str(fp32_path))
        # 7-bit weights, as the export quantises (khmer_civic.train.export.quantize_int8): with 8-bit
        # weights, CPUs without VNNI overflow and score unlike fp32 (and unlike VNNI CPUs)
        quantize_dynamic(str(fp32_path), str(out / "model.onnx"), weight_type=QuantType.QInt8, reduce_range=True)
        fp32_path.unlink()
    else:
        onnx.save(graph, str(out / "model.onnx"))

    config = tiny_config(schema, max_length=max_length, window_stride=stride)
    if embedding:
        config["embedding_output"] = EMBEDDING_OUTPUT
    (out / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    metrics = {
        "note": "tiny random model built for tests; these figures mean nothing",
        "tasks": {task.name: {"macro_f1": 0.0} for task in schema.tasks},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(
        "# tiny-civic\n\nRandom weights, built by tests/tiny_model.py. Not for use on real text.\n", encoding="utf-8"
    )
    write_manifest(out)
    return out


def rewrite_config(model_dir: str | Path, **changes: object) -> Path:
    """Change top-level fields of a model's config.json and write a fresh manifest (for tests)."""
    model_dir = Path(model_dir)
    path = model_dir / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(changes)
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_manifest(model_dir)
    return model_dir
