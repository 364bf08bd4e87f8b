"""Export a trained :class:`~khmer_civic.train.modeling.MultiTaskClassifier` as a model directory.

:func:`export_onnx` writes the parts that make a model loadable: ``model.onnx`` (int8, dynamic
quantisation of an fp32 ``torch.onnx.export`` graph), ``tokenizer.json`` and ``config.json``
(the contract of :mod:`khmer_civic.schema`), and measures how closely the int8 graph follows the
torch model on a list of texts. :func:`finalize_model_dir` then adds ``metrics.json`` and
``MODEL_CARD.md`` and seals the directory with ``manifest.json``.

The fp32 graph never goes into the model directory; keep it (``fp32_path``) in a run directory
(``*.fp32.onnx`` is git-ignored) or let it be deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from khmer_civic.model.config import (
    CONFIG_NAME,
    DEFAULT_EMBEDDING_OUTPUT,
    METRICS_NAME,
    MODEL_NAME,
    TOKENIZER_NAME,
    ModelConfig,
)
from khmer_civic.model.manifest import write_manifest
from khmer_civic.model.runtime import WindowedRunner, create_session, schema_decisions
from khmer_civic.model.tokenizer import TextTokenizer
from khmer_civic.schema import ModelSchema
from khmer_civic.text import NORMALIZER_VERSION
from khmer_civic.train.calibrate import WindowLogits, text_probabilities
from khmer_civic.train.config import SENSITIVE_PRECISIONS
from khmer_civic.train.evaluate import write_json, write_model_card
from khmer_civic.train.modeling import (
    MultiTaskClassifier,
    encode_windows,
    predict_window_logits,
    special_token_ids,
    text_tokenizer_from_hf,
)

ONNX_OPSET = 17
INPUT_NAMES: tuple[str, str] = ("input_ids", "attention_mask")
EMBEDDING_OUTPUT = DEFAULT_EMBEDDING_OUTPUT  # the graph output of the mean-pooled encoder state


class _OnnxWrapper(nn.Module):
    """Returns the task logits in schema order, then the pooled embedding (ONNX outputs are positional)."""

    def __init__(self, model: MultiTaskClassifier) -> None:
        super().__init__()
        self.model = model
        self.names = [t.name for t in model.schema.tasks]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pooled, logits = self.model.pooled_and_logits(input_ids, attention_mask)
        return (*(logits[name] for name in self.names), pooled)


@dataclass(frozen=True)
class Agreement:
    """How often the int8 ONNX graph makes the torch model's decision, per task."""

    n_texts: int
    tasks: Mapping[str, Mapping[str, float]]  # task -> decision_agreement, max_abs_prob_diff

    def to_dict(self) -> dict[str, Any]:
        return {"n_texts": self.n_texts, "tasks": {k: dict(v) for k, v in self.tasks.items()}}


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote and measured."""

    model_dir: Path
    config: ModelConfig
    onnx_bytes: int
    fp32_bytes: int
    agreement: Agreement | None
    fused_operators: Mapping[str, int] | None = None  # with fuse=True: fused operators in the graph


def export_fp32(
    model: MultiTaskClassifier,
    path: str | Path,
    *,
    opset: int = ONNX_OPSET,
    eager_attention: bool = False,
    max_length: int | None = None,
) -> Path:
    """``torch.onnx.export`` (TorchScript exporter) with dynamic batch and sequence axes.

    Outputs: each task's logits, then ``pooled`` (the mean-pooled encoder state, ``[batch, hidden]``).
    ``eager_attention`` traces the encoder's plain (eager) attention instead of its default
    ``scaled_dot_product_attention``: the same numbers, written as the MatMul/Softmax pattern that
    onnxruntime's transformer optimizer fuses into one Attention node (:func:`fuse_transformer_graph`).
    ``max_length``: the longest input the graph will get (config.json ``max_length``); the position
    table keeps only the rows such inputs reach (e5-small: 128 of 512), and a longer input fails in
    onnxruntime instead of being scored. The model itself is left as it was.
    """
    with contextlib.ExitStack() as stack:
        if max_length is not None:
            stack.enter_context(_positions_up_to(model.encoder, max_length))
        if eager_attention:
            stack.enter_context(_attention_implementation(model.encoder, "eager"))
        return _trace_to_onnx(model, Path(path), opset)


def _trace_to_onnx(model: MultiTaskClassifier, path: Path, opset: int) -> Path:
    """The trace and write behind :func:`export_fp32`, with the encoder as it is now."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _OnnxWrapper(model).eval()
    encoder_config: Any = model.encoder.config
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 5, 2, 1, 1]], dtype=torch.long).clamp(max=encoder_config.vocab_size - 1)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.long)
    outputs = [t.output for t in model.schema.tasks] + [EMBEDDING_OUTPUT]
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes.update({name: {0: "batch"} for name in outputs})
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns about Python-level shape checks in transformers' mask code; the
        # graph is checked against torch on padded batches of other sizes in the tests
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*aten::index.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    return path


@contextlib.contextmanager
def _positions_up_to(encoder: nn.Module, max_length: int) -> Iterator[None]:
    """Inside, ``encoder``'s position table holds only the rows inputs of ``max_length`` tokens use.

    BERT numbers positions from 0; RoBERTa-style embeddings (a ``padding_idx`` attribute) start
    after the padding index. Encoders without a learnt position table are left alone.
    """
    embeddings = getattr(encoder, "embeddings", None)
    table = getattr(embeddings, "position_embeddings", None)
    padding_idx = getattr(embeddings, "padding_idx", None)
    rows = max_length + (padding_idx + 1 if isinstance(padding_idx, int) else 0)
    if not isinstance(table, nn.Embedding) or rows >= table.num_embeddings:
        yield
        return
    cut = nn.Embedding(rows, table.embedding_dim, padding_idx=table.padding_idx)
    with torch.no_grad():
        cut.weight.copy_(table.weight[:rows])
    embeddings.position_embeddings = cut
    try:
        yield
    finally:
        embeddings.position_embeddings = table


@contextlib.contextmanager
def _attention_implementation(encoder: nn.Module, name: str) -> Iterator[None]:
    """Inside, ``encoder`` computes attention with the transformers implementation ``name``."""
    config: Any = encoder.config
    before = getattr(config, "_attn_implementation", None)
    setter = getattr(encoder, "set_attn_implementation", None)
    if not callable(setter):
        raise ValueError(f"{type(encoder).__name__} cannot switch its attention implementation")
    setter(name)
    try:
        yield
    finally:
        if before is not None and before != name:
            setter(before)


# The fused operators of onnxruntime's transformer optimizer counted by fuse_transformer_graph.
FUSED_OPERATORS = ("Attention", "EmbedLayerNormalization", "SkipLayerNormalization", "LayerNormalization", "BiasGelu", "Gelu", "FastGelu")


# onnxruntime's load-time fusion that a graph exported with skip_layer_norm=False must not get:
# its fused SkipLayerNormalization kernel is slower than Add + LayerNormalization on an AVX2 CPU
# (about 160 against 64 microseconds for 50 tokens of 384 values; benchmarks/README.md,
# "Building the student's graph").
SKIP_LAYER_NORM_FUSION = "SkipLayerNormFusion"


def fuse_transformer_graph(
    fp32_path: str | Path, fused_path: str | Path, *, num_heads: int, hidden_size: int, skip_layer_norm: bool = True
) -> dict[str, int]:
    """Rewrite a BERT-style fp32 graph with onnxruntime's transformer fusions (attention, embedding +
    LayerNorm, skip + LayerNorm, bias + GELU) into ``fused_path``; returns how many of each
    fused operator the graph holds. Offline fusions only (``opt_level`` 0): the file holds no
    machine-specific kernels. Attention fuses only on an eager-attention export
    (:func:`export_fp32` ``eager_attention``); on the default SDPA trace it finds none.
    ``skip_layer_norm`` False leaves each residual Add and its LayerNormalization apart (the
    session must then be opened without :data:`SKIP_LAYER_NORM_FUSION`).
    The graph's inputs and outputs are unchanged (``input_ids``/``attention_mask`` stay int64).
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = skip_layer_norm
    options.enable_bias_skip_layer_norm = skip_layer_norm
    optimized = optimize_model(
        str(fp32_path),
        model_type="bert",
        num_heads=num_heads,
        hidden_size=hidden_size,
        opt_level=0,
        optimization_options=options,
    )
    optimized.save_model_to_file(str(fused_path))
    counts = optimized.get_fused_operator_statistics()
    return {name: int(counts.get(name, 0)) for name in FUSED_OPERATORS}


def precision_sensitive_matmuls(model_path: str | Path, *, first_layers: int = 2) -> list[str]:
    """MatMul nodes to keep out of int8: every feed-forward output projection, and the
    feed-forward input projections of the first ``first_layers`` layers.

    Found by shape, not by name: a constant 2-D weight with more rows than columns maps the
    wide feed-forward activation back to the hidden size (1536 → 384 in e5-small); one with
    more columns than rows is an up-projection, taken in graph order. The GELU activations
    feeding the down-projections carry a few very large values, so one per-tensor int8 scale
    is coarse for all the rest; the first layers' errors are carried through every later one.
    """
    import onnx

    return _precision_sensitive(onnx.load(str(model_path), load_external_data=False).graph, first_layers)


def _precision_sensitive(graph: Any, first_layers: int) -> list[str]:
    """:func:`precision_sensitive_matmuls` of a loaded graph."""
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    down, up = [], []
    for node in graph.node:
        shape = shapes.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if shape is None or len(shape) != 2 or shape[0] == shape[1]:
            continue
        (down if shape[0] > shape[1] else up).append(node.name)
    return down + up[:first_layers]


def store_weights_fp16(model_path: str | Path, node_names: Sequence[str]) -> None:
    """Rewrite the constant weights of ``node_names`` as float16 followed by a Cast to float32.

    The graph computes exactly as before up to fp16 rounding of those weights (relative error
    below 1e-3); the file holds them in half the bytes. onnxruntime folds the Cast at load.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_path))
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    wanted = set(node_names)
    for node in list(graph.node):
        if node.name not in wanted or node.input[1] not in inits:
            continue
        init = inits[node.input[1]]
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype("float16"), init.name + "_fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        cast_out = init.name + "_as_fp32"
        graph.node.insert(
            list(graph.node).index(node),
            helper.make_node("Cast", [half.name], [cast_out], to=onnx.TensorProto.FLOAT, name=init.name + "_cast"),
        )
        node.input[1] = cast_out
    onnx.save(model, str(model_path))


def quantize_int8(
    fp32_path: str | Path,
    int8_path: str | Path,
    *,
    per_channel: bool = True,
    fp16_first_layers: int | None = 2,
    reduce_range: bool = True,
    sensitive: str = "fp16",
) -> Path:
    """Dynamic quantisation to int8 weights (QInt8) with onnxruntime.

    ``per_channel`` gives each output column its own scale: on the e5 encoder it cut the mean
    logit error against fp32 by about a third for the same size and speed.
    ``reduce_range`` quantises weights to 7 bits: x86 CPUs without VNNI (AVX2 only, e.g. the AMD
    EPYC this was measured on) multiply uint8 activations by int8 weights with 16-bit saturating
    adds, which overflow with 8-bit weights and move scores by a different amount than on a VNNI
    CPU; with 7-bit weights they cannot overflow, so a model scores alike on both. On the tiny test
    encoder without VNNI: largest logit error against fp32 5.89 with 8-bit weights, 0.16 with 7.
    Unless ``fp16_first_layers`` is None, the MatMuls of :func:`precision_sensitive_matmuls`
    stay out of the per-call activation scale, computed as ``sensitive`` says (fp16 weights by
    default). On model v1 (1,517 dev+test texts), quantising everything changed 2.5% of
    topic and 2.6% of sentiment decisions against the fp32 graph; keeping these out as fp16
    changes 0.8% and 0.4%, for 8 MB more (45 MB in all).

    ``sensitive`` says how those MatMuls compute: ``"fp16"`` (fp16 weights, fp32 arithmetic) or
    ``"int8_rows"`` (:func:`quantize_rows_int8`: int8 with one activation scale per token, so a
    few outlier tokens no longer coarsen every other token's scale). On the 2-layer student,
    int8_rows kept every task's decisions at 99.1% or more of the fp32 graph's, as fp16 did,
    for a smaller file and faster scoring (benchmarks/README.md, "Building the student's graph").
    """
    if sensitive not in SENSITIVE_PRECISIONS:
        raise ValueError(f"sensitive must be one of {SENSITIVE_PRECISIONS}, got {sensitive!r}")
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path = Path(int8_path)
    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    keep = [] if fp16_first_layers is None else _precision_sensitive(graph, fp16_first_layers)
    # fused graphs (fuse_transformer_graph) hold contrib operators whose outputs ONNX shape
    # inference cannot type; they are float32, as everything else between the int64 inputs and the outputs
    fused = any(node.domain == "com.microsoft" for node in graph.node)
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT} if fused else {}
    quantize_dynamic(
        str(fp32_path),
        str(int8_path),
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        reduce_range=reduce_range,
        nodes_to_exclude=keep,
        extra_options=extra,
    )
    if keep and sensitive == "fp16":
        store_weights_fp16(int8_path, keep)
    elif keep:
        quantize_rows_int8(int8_path, keep, reduce_range=reduce_range)
    return int8_path


def quantize_rows_int8(model_path: str | Path, node_names: Sequence[str], *, reduce_range: bool = True) -> None:
    """Rewrite the fp32 MatMuls ``node_names`` (constant weight) as int8 with per-row activation scales.

    onnxruntime's dynamic quantisation gives an activation tensor one scale; here each row (each
    token) gets its own, ``max|x_row| / 127``, computed at run time with standard ONNX operators
    (uint8 activations around zero point 128, ``MatMulInteger``, then both scales applied). Weights
    are symmetric int8 with one scale per output column, 7-bit when ``reduce_range`` (see
    :func:`quantize_int8`). A row's result depends on that row only.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_path))
    graph = model.graph
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    inits = {init.name: init for init in graph.initializer}
    wanted = set(node_names)
    qmax = 63 if reduce_range else 127
    shared = "row_int8"
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(127.0, np.float32), f"{shared}_qmax"),
            numpy_helper.from_array(np.array(1e-12, np.float32), f"{shared}_tiny"),
            numpy_helper.from_array(np.array(128.0, np.float32), f"{shared}_offset"),
            numpy_helper.from_array(np.array(128, np.uint8), f"{shared}_zero_point"),
        ]
    )
    if opset >= 18:
        graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), f"{shared}_last_axis"))
    for node in list(graph.node):
        if node.name not in wanted or node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        x, weight_name = node.input[0], node.input[1]
        weight = numpy_helper.to_array(inits[weight_name]).astype(np.float32)  # [K, N]
        column_scale = np.maximum(np.abs(weight).max(axis=0), 1e-12) / qmax
        weight_q = np.clip(np.round(weight / column_scale), -qmax, qmax).astype(np.int8)
        p = node.name.strip("/").replace("/", "_") + "_rows"
        graph.initializer.remove(inits[weight_name])
        graph.initializer.extend(
            [
                numpy_helper.from_array(weight_q, f"{p}_weight"),
                numpy_helper.from_array(column_scale.astype(np.float32), f"{p}_weight_scale"),
                numpy_helper.from_array(np.zeros(weight.shape[1], np.int8), f"{p}_weight_zero_point"),
            ]
        )
        if opset >= 18:
            row_max = helper.make_node("ReduceMax", [f"{p}_abs", f"{shared}_last_axis"], [f"{p}_max"], keepdims=1)
        else:
            row_max = helper.make_node("ReduceMax", [f"{p}_abs"], [f"{p}_max"], axes=[-1], keepdims=1)
        steps = [
            helper.make_node("Abs", [x], [f"{p}_abs"]),
            row_max,
            helper.make_node("Div", [f"{p}_max", f"{shared}_qmax"], [f"{p}_scale_raw"]),
            helper.make_node("Max", [f"{p}_scale_raw", f"{shared}_tiny"], [f"{p}_scale"]),
            helper.make_node("Div", [x, f"{p}_scale"], [f"{p}_scaled"]),
            helper.make_node("Round", [f"{p}_scaled"], [f"{p}_rounded"]),
            helper.make_node("Add", [f"{p}_rounded", f"{shared}_offset"], [f"{p}_shifted"]),
            helper.make_node("Cast", [f"{p}_shifted"], [f"{p}_uint8"], to=onnx.TensorProto.UINT8),
            helper.make_node(
                "MatMulInteger",
                [f"{p}_uint8", f"{p}_weight", f"{shared}_zero_point", f"{p}_weight_zero_point"],
                [f"{p}_int32"],
            ),
            helper.make_node("Cast", [f"{p}_int32"], [f"{p}_float"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [f"{p}_float", f"{p}_weight_scale"], [f"{p}_columns"]),
            helper.make_node("Mul", [f"{p}_columns", f"{p}_scale"], [node.output[0]]),
        ]
        at = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, step in enumerate(steps):
            step.name = f"{p}_{step.op_type}_{offset}"
            graph.node.insert(at + offset, step)
    onnx.save(model, str(model_path))


def save_tokenizer_json(hf_tokenizer: Any, path: str | Path) -> Path:
    """The fast tokenizer's backend as tokenizer.json, with truncation and padding off."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    path = Path(path)
    backend.save(str(path))
    return path


def torch_probabilities(
    model: MultiTaskClassifier,
    text_tokenizer: TextTokenizer,
    texts: Sequence[str],
    config: ModelConfig,
    batch_size: int = 32,
) -> dict[str, np.ndarray]:
    """Calibrated per-text probabilities from the torch model, windowed like the runtime."""
    windows, owners, weights = encode_windows(
        text_tokenizer,
        list(texts),
        max_length=config.max_length,
        window_stride=config.window_stride,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
    )
    logits = predict_window_logits(model, windows, config.pad_token_id, batch_size)
    wl = WindowLogits(logits, owners, weights, len(texts))
    return {task.name: text_probabilities(wl, task) for task in config.schema.tasks}


def measure_agreement(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], schema: ModelSchema
) -> Agreement:
    """Share of texts with identical decisions, and the largest probability gap, per task."""
    tasks: dict[str, dict[str, float]] = {}
    n = 0
    decided_a, decided_b = schema_decisions(reference, schema), schema_decisions(candidate, schema)
    for task in schema.tasks:
        a = np.asarray(reference[task.name], dtype=np.float64)
        b = np.asarray(candidate[task.name], dtype=np.float64)
        n = len(a)
        if n == 0:
            tasks[task.name] = {"decision_agreement": float("nan"), "max_abs_prob_diff": float("nan")}
            continue
        da, db = decided_a[task.name], decided_b[task.name]
        same = (da == db) if da.ndim == 1 else (da == db).all(axis=1)
        tasks[task.name] = {
            "decision_agreement": float(same.mean()),
            "max_abs_prob_diff": float(np.abs(a - b).max()),
        }
    return Agreement(n_texts=n, tasks=tasks)


def onnx_runner(model_dir: str | Path, intra_op_threads: int | None = None) -> WindowedRunner:
    """A :class:`WindowedRunner` over the directory's model.onnx (no manifest needed)."""
    from khmer_civic.model.config import load_config

    model_dir = Path(model_dir)
    config = load_config(model_dir)
    session = create_session(
        model_dir / MODEL_NAME, intra_op_threads=intra_op_threads, disabled_optimizers=config.disabled_optimizers
    )
    return WindowedRunner(session, TextTokenizer.from_file(model_dir / TOKENIZER_NAME), config)


def export_onnx(
    model: MultiTaskClassifier,
    tokenizer: Any,
    out_dir: str | Path,
    *,
    schema: ModelSchema | None = None,
    name: str,
    version: str = "0.1.0",
    max_length: int,
    window_stride: int,
    fp32_path: str | Path | None = None,
    agreement_texts: Sequence[str] = (),
    opset: int = ONNX_OPSET,
    per_channel: bool = True,
    batch_size: int = 32,
    fp16_first_layers: int | None = 2,
    fuse: bool = False,
    sensitive: str = "fp16",
    skip_layer_norm: bool = True,
) -> ExportResult:
    """Write model.onnx (int8), tokenizer.json and config.json into ``out_dir``.

    ``schema`` carries the calibrated temperatures and thresholds (default: the model's own).
    ``fp32_path``: where to keep the fp32 graph (outside ``out_dir``); by default it is deleted.
    ``agreement_texts``: normalised texts on which the torch model and the int8 graph are
    compared (decisions per task and probability gaps), returned in the result.
    ``fp16_first_layers``, ``sensitive``: see :func:`quantize_int8` (``fp16_first_layers`` None:
    every MatMul int8 with one activation scale per call).
    ``fuse``: export eager attention and apply onnxruntime's transformer fusions
    (:func:`fuse_transformer_graph`) before quantising; the fp32 graph kept is the fused one.
    ``skip_layer_norm`` False: each residual Add and its LayerNorm stay apart (no
    SkipLayerNormalization, offline or at load: config.json lists :data:`SKIP_LAYER_NORM_FUSION` in
    ``disabled_optimizers``).
    Finish the directory with :func:`finalize_model_dir`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    schema = schema or model.schema
    if [t.name for t in schema.tasks] != [t.name for t in model.schema.tasks]:
        raise ValueError("the export schema must list the model's tasks in the same order")
    ids = special_token_ids(tokenizer)
    config = ModelConfig(
        name=name,
        version=version,
        schema=schema,
        max_length=max_length,
        window_stride=window_stride,
        normalizer_version=NORMALIZER_VERSION,
        embedding_output=EMBEDDING_OUTPUT,
        disabled_optimizers=() if skip_layer_norm else (SKIP_LAYER_NORM_FUSION,),
        **ids,
    )
    ModelConfig.from_dict(config.to_dict())  # the same checks as at load time
    temp_dir = None
    if fp32_path is None:
        temp_dir = tempfile.mkdtemp(prefix="khmer-civic-export-")
        fp32 = Path(temp_dir) / "model.fp32.onnx"
    else:
        fp32 = Path(fp32_path)
        if fp32.resolve().parent == out.resolve():
            raise ValueError("keep the fp32 graph outside the model directory")
    fused_operators = None
    try:
        export_fp32(model, fp32, opset=opset, eager_attention=fuse, max_length=max_length)
        if fuse:
            encoder_config: Any = model.encoder.config
            unfused = fp32.with_name(fp32.stem + ".unfused.onnx")
            os.replace(fp32, unfused)
            try:
                fused_operators = fuse_transformer_graph(
                    unfused,
                    fp32,
                    num_heads=int(encoder_config.num_attention_heads),
                    hidden_size=int(encoder_config.hidden_size),
                    skip_layer_norm=skip_layer_norm,
                )
            finally:
                unfused.unlink(missing_ok=True)
        fp32_bytes = fp32.stat().st_size
        quantize_int8(
            fp32, out / MODEL_NAME, per_channel=per_channel, fp16_first_layers=fp16_first_layers, sensitive=sensitive
        )
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    save_tokenizer_json(tokenizer, out / TOKENIZER_NAME)
    (out / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    agreement = None
    if agreement_texts:
        texts = list(agreement_texts)
        reference = torch_probabilities(model, text_tokenizer_from_hf(tokenizer), texts, config, batch_size)
        candidate = onnx_runner(out).probabilities(texts, batch_size)
        agreement = measure_agreement(reference, candidate, schema)
    return ExportResult(
        model_dir=out,
        config=config,
        onnx_bytes=(out / MODEL_NAME).stat().st_size,
        fp32_bytes=fp32_bytes,
        agreement=agreement,
        fused_operators=fused_operators,
    )


def finalize_model_dir(model_dir: str | Path, metrics: Mapping[str, Any], *, description: str | None = None) -> Path:
    """Write metrics.json and MODEL_CARD.md (from the metrics), then manifest.json."""
    model_dir = Path(model_dir)
    write_json(metrics, model_dir / METRICS_NAME)
    write_model_card(model_dir, metrics, description=description)
    return write_manifest(model_dir)

