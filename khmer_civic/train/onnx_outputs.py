"""Add the pooled text embedding output to an exported graph, without retraining (needs onnx, not torch).

Models exported before config.json had ``embedding_output`` have only the task outputs. The
tensor every task head reads is the mean-pooled encoder state, so exposing it needs no new
computation: :func:`add_embedding_output` adds an ``Identity`` of it as one more graph output and
changes nothing else (``training/add_embedding_output.py`` applies it to a model directory and
checks that the scores stay identical).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from khmer_civic.model.config import DEFAULT_EMBEDDING_OUTPUT

EMBEDDING_OUTPUT = DEFAULT_EMBEDDING_OUTPUT
_QUANTISATION_OPS = frozenset({"DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear"})


def find_pooled_tensor(graph: Any, task_outputs: Sequence[str]) -> str:
    """The tensor every task head reads: the last common ancestor of the task outputs (in graph
    order) that is not a quantisation step. In an exported graph it is the mean-pooled encoder
    state (``/model/Div_output_0``), which an int8 graph quantises once for all heads."""
    position = {out: (index, node) for index, node in enumerate(graph.node) for out in node.output}
    initializers = {init.name for init in graph.initializer}

    def ancestors(name: str) -> set[str]:
        seen: set[str] = set()
        stack = [name]
        while stack:
            tensor = stack.pop()
            if tensor in seen or tensor in initializers or tensor not in position:
                continue
            seen.add(tensor)
            stack.extend(i for i in position[tensor][1].input if i)
        return seen

    common = set.intersection(*(ancestors(name) for name in task_outputs))
    candidates = [t for t in common if position[t][1].op_type not in _QUANTISATION_OPS]
    if not candidates:
        raise ValueError("the task outputs share no tensor: cannot find the pooled encoder state")
    return max(candidates, key=lambda t: position[t][0])


def add_embedding_output(
    model_path: str | Path, out_path: str | Path, task_outputs: Sequence[str], name: str = EMBEDDING_OUTPUT
) -> str:
    """Write ``model_path`` to ``out_path`` with one more output, ``name``: an Identity of the
    tensor :func:`find_pooled_tensor` finds. Nothing else in the graph changes. Returns that tensor."""
    import onnx
    from onnx import TensorProto, helper, shape_inference

    model = onnx.load(str(model_path))
    graph = model.graph
    taken = {output.name for output in graph.output} | {out for node in graph.node for out in node.output}
    if name in taken:
        raise ValueError(f"{model_path} already has a tensor named {name!r}")
    source = find_pooled_tensor(graph, task_outputs)
    inferred = shape_inference.infer_shapes(model)
    dims: list[Any] = ["batch", "hidden"]
    for info in inferred.graph.value_info:
        if info.name == source and len(info.type.tensor_type.shape.dim) == 2:
            width = info.type.tensor_type.shape.dim[1]
            dims[1] = width.dim_value if width.HasField("dim_value") else "hidden"
    graph.node.append(helper.make_node("Identity", [source], [name], name=f"{name}_output"))
    graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
    onnx.save(model, str(out_path))
    return source
