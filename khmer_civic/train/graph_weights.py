"""Read a model's torch weights back from its exported ONNX graph.

A shipped model directory holds only ``model.onnx``; the torch weights of its training run stay
outside git. :func:`state_dict_from_graph` recovers a :class:`~khmer_civic.train.modeling.MultiTaskClassifier`
state dict from the graph itself, so that a model can be distilled or fine-tuned further from a
fresh clone. Weights stored in fp32 come back exactly; fp16 ones as their fp16 values; int8 ones
(dynamic quantisation: ``MatMulInteger`` weights with a scale and zero point per output column,
``DequantizeLinear`` embedding tables) as ``(q - zero_point) * scale``, within half a
quantisation step of the weights that were exported.

The graph must be the plain export of :mod:`.export` (``torch.onnx.export`` of the model, then
quantised): every linear layer is a ``MatMul`` or ``MatMulInteger`` followed by the ``Add`` of
its named bias. A graph rewritten by onnxruntime's transformer fusions (packed attention
weights) is refused with a clear error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from khmer_civic.model.config import MODEL_NAME

GRAPH_PREFIX = "model."  # the export wraps the classifier as ``model`` (see export._OnnxWrapper)
_PASS_THROUGH = ("Cast", "Mul")  # between a linear layer's matmul and the Add of its bias
# onnxruntime's transformer fusions pack or hide the weights of whole blocks
FUSED_OPS = frozenset(
    {"Attention", "QAttention", "MultiHeadAttention", "EmbedLayerNormalization", "QEmbedLayerNormalization",
     "SkipLayerNormalization", "BiasGelu", "FastGelu", "FusedMatMul", "Gelu"}
)


class GraphWeightsError(ValueError):
    """The graph does not hold a parameter the model needs, or holds it in an unknown form."""


def graph_file(path: str | os.PathLike[str]) -> Path:
    """``path`` itself when it is a file, else the ``model.onnx`` of the model directory ``path``."""
    path = Path(path)
    return path if path.is_file() else path / MODEL_NAME


def state_dict_from_graph(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Every parameter the exported graph holds, under the classifier's own names, as fp32 tensors.

    ``path`` is a ``.onnx`` file or a model directory. Linear weights come back in torch's
    ``[out, in]`` layout; quantised tensors dequantised. Embedding tables come back with the rows
    the graph kept (the export may cut the position table to the windows' length)."""
    import onnx
    from onnx import numpy_helper

    file = graph_file(path)
    if not file.is_file():
        raise FileNotFoundError(f"no ONNX graph at {file}")
    graph = onnx.load(str(file)).graph
    fused = sorted({node.op_type for node in graph.node} & FUSED_OPS)
    if fused:
        raise GraphWeightsError(
            f"{file} was rewritten by onnxruntime's transformer fusions ({', '.join(fused)}): its weights "
            "cannot be read back; use the model's training run, or a graph exported with fuse_graph false"
        )
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:  # the exporter stores equal tensors once, the others as Identity of it
        if node.op_type == "Identity" and node.input[0] in arrays:
            arrays[node.output[0]] = arrays[node.input[0]]
    producers = {out: node for node in graph.node for out in node.output}
    weights: dict[str, np.ndarray] = {}

    for name, value in arrays.items():
        if not name.startswith(GRAPH_PREFIX):
            continue
        key = name[len(GRAPH_PREFIX) :]
        if key.endswith("_quantized"):
            key, value = key.removesuffix("_quantized"), _dequantized(arrays, name, f"{name.removesuffix('_quantized')}_zero_point")
        elif key.endswith(("_scale", "_zero_point")) or value.dtype.kind != "f":
            continue
        if key.endswith(".weight_Transposed"):  # a head exported as Gemm: stored as [in, out]
            key, value = key.removesuffix("_Transposed"), value.T
        weights[key] = value.astype(np.float32)

    for node in graph.node:
        if node.op_type != "Add":
            continue
        biases = [i for i in node.input if i.startswith(GRAPH_PREFIX) and i.endswith(".bias") and i in arrays]
        if len(biases) != 1:
            continue
        layer = biases[0][len(GRAPH_PREFIX) : -len(".bias")]
        if f"{layer}.weight" in weights:
            continue  # stored under its own name, already read above
        other = next(i for i in node.input if i != biases[0])
        weights[f"{layer}.weight"] = _linear_weight(other, producers, arrays, layer)
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}


def _dequantized(arrays: Mapping[str, np.ndarray], name: str, zero_point: str) -> np.ndarray:
    """The int8/uint8 initializer ``name`` as ``(q - zero_point) * scale``: per tensor (scalars), or
    per output column of a [in, out] matrix. Its scale is ``<name without _quantized>_scale`` (the
    dynamic quantiser's naming) or ``<name>_scale`` (export.quantize_rows_int8's). Raises
    :class:`GraphWeightsError` when the scale or the zero point is not stored."""
    scale = next((c for c in (f"{name.removesuffix('_quantized')}_scale", f"{name}_scale") if c in arrays), None)
    if name not in arrays or scale is None or zero_point not in arrays:
        raise GraphWeightsError(f"{name}: no stored int8 weight with a scale and zero point")
    q, zero = arrays[name].astype(np.int32), np.asarray(arrays[zero_point], np.int32)
    return (q - zero).astype(np.float32) * np.asarray(arrays[scale], np.float32)


def _linear_weight(tensor: str, producers: Mapping[str, Any], arrays: Mapping[str, np.ndarray], layer: str) -> np.ndarray:
    """The weight of the linear layer whose matmul output ``tensor`` is (through Cast/Mul), as [out, in]."""
    node = _find_matmul(tensor, producers)
    if node is None:
        found = producers[tensor].op_type if tensor in producers else "nothing"
        raise GraphWeightsError(
            f"{layer}: its bias is added to {found}, not to a MatMul: not a plain export "
            "(a graph fused by onnxruntime's transformer optimiser cannot be read back)"
        )
    name = node.input[1]
    if node.op_type == "MatMulInteger":
        matrix = _dequantized(arrays, name, node.input[3] if len(node.input) > 3 else "")
    elif name in arrays:
        matrix = arrays[name].astype(np.float32)
    elif name in producers and producers[name].op_type == "Cast" and producers[name].input[0] in arrays:
        matrix = arrays[producers[name].input[0]].astype(np.float32)  # an fp16 weight cast up at run time
    else:
        raise GraphWeightsError(f"{layer}: the weight of its MatMul ({name}) is not stored in the graph")
    return matrix.T


def _find_matmul(tensor: str, producers: Mapping[str, Any], depth: int = 4) -> Any:
    """The MatMul or MatMulInteger that ``tensor`` comes from through at most ``depth`` Cast/Mul nodes."""
    node = producers.get(tensor)
    if node is None:
        return None
    if node.op_type in ("MatMul", "MatMulInteger"):
        return node
    if node.op_type not in _PASS_THROUGH or depth == 0:
        return None
    for name in node.input:
        found = _find_matmul(name, producers, depth - 1)
        if found is not None:
            return found
    return None


def load_graph_weights(model: torch.nn.Module, path: str | os.PathLike[str], *, keep_frozen: bool = True) -> dict[str, int]:
    """Copy the weights of the graph at ``path`` into ``model`` (a classifier with the same tasks,
    labels and encoder shape, possibly fewer layers). Parameters the model has frozen
    (``requires_grad`` False, e.g. word embeddings trained frozen) keep their own values when
    ``keep_frozen``: the base encoder's exact weights rather than their int8 copy. An embedding
    table the graph cut short is filled from its first rows. Raises :class:`GraphWeightsError` when
    the graph lacks a parameter or holds it with another shape. Returns how many tensors were
    copied, kept and left out (the graph's layers the model does not have)."""
    recovered = state_dict_from_graph(path)
    params = dict(model.named_parameters())  # buffers (position ids ...) are not weights
    frozen = {name for name, p in params.items() if not p.requires_grad} if keep_frozen else set()
    update: dict[str, torch.Tensor] = {}
    missing, wrong = [], []
    for key, current in params.items():
        if key in frozen:
            continue
        value = recovered.get(key)
        if value is None:
            missing.append(key)
        elif value.shape == current.shape:
            update[key] = value
        elif value.ndim == 2 and value.shape[1] == current.shape[1] and value.shape[0] < current.shape[0] and "embeddings" in key:
            filled = current.detach().clone()
            filled[: value.shape[0]] = value
            update[key] = filled
        else:
            wrong.append(f"{key} {tuple(value.shape)} vs {tuple(current.shape)}")
    if missing or wrong:
        raise GraphWeightsError(f"the graph {graph_file(path)} does not fit the model: {misfit(missing, wrong)}")
    model.load_state_dict(update, strict=False)
    return {"copied": len(update), "kept": len(frozen), "left_out": len(set(recovered) - set(params))}


def misfit(missing: list[str], wrong: list[str]) -> str:
    """What keeps weights from loading into a model: its parameters missing from them, and those
    there with another shape (the first five of each)."""
    return "; ".join(([f"missing {missing[:5]}"] if missing else []) + ([f"other shapes {wrong[:5]}"] if wrong else []))
