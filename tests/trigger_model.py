"""A tiny model where one word decides the labels: each task's logits are ``count(trigger) * weight + bias``.

The trigger is the tokenizer piece ``▁health`` (tests/tiny_model.py's vocabulary), so the word
``health`` (written after a space or at the start) switches every task on, and no other word
changes any score: leave-one-word-out contributions are exactly zero for every other word.

- ``topics`` (multi_label): biases -5, -4, -6, the trigger adds 10 to ``health`` only: without it
  nothing is predicted and ``health`` is the most probable label;
- ``sentiment`` (single_label): bias favours ``negative``; the trigger adds 10 to ``positive``;
- ``call_to_action`` (binary): bias -5; the trigger adds 10.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tiny_model import build_tiny_tokenizer, tiny_config

from khmer_civic.model.manifest import write_manifest
from khmer_civic.schema import default_schema

TRIGGER_PIECE = "▁health"
TRIGGER_WORD = "health"
WEIGHTS = {"topics": ([0.0, 10.0, 0.0], [-5.0, -4.0, -6.0]), "sentiment": ([0.0, 0.0, 10.0], [2.0, 0.0, -1.0]),
           "call_to_action": ([10.0], [-5.0])}  # fmt: skip


def build_trigger_model(directory: str | Path, *, max_length: int = 16) -> Path:
    """Write the trigger model (default schema) into ``directory`` and return it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    schema = default_schema()
    tokenizer = build_tiny_tokenizer(max_length)
    tokenizer.save(str(out / "tokenizer.json"))
    trigger = tokenizer.token_to_id(TRIGGER_PIECE)
    inits = [
        numpy_helper.from_array(np.array(trigger, dtype=np.int64), "trigger"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_seq"),
    ]
    nodes = [
        helper.make_node("Equal", ["input_ids", "trigger"], ["is_trigger"]),
        helper.make_node("Cast", ["is_trigger"], ["trigger_float"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["attention_mask"], ["mask_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["trigger_float", "mask_float"], ["trigger_masked"]),
        helper.make_node("ReduceSum", ["trigger_masked", "axis_seq"], ["count"], keepdims=1),
    ]
    outputs = []
    for task in schema.tasks:
        weight, bias = WEIGHTS[task.name]
        inits += [
            numpy_helper.from_array(np.array([weight], dtype=np.float32), f"{task.output}_w"),
            numpy_helper.from_array(np.array(bias, dtype=np.float32), f"{task.output}_b"),
        ]
        nodes += [
            helper.make_node("Mul", ["count", f"{task.output}_w"], [f"{task.output}_scaled"]),
            helper.make_node("Add", [f"{task.output}_scaled", f"{task.output}_b"], [task.output]),
        ]
        outputs.append(helper.make_tensor_value_info(task.output, TensorProto.FLOAT, ["batch", task.n_outputs]))
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
              for name in ("input_ids", "attention_mask")]  # fmt: skip
    graph = helper.make_graph(nodes, "trigger_classifier", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="khmer-civic-tests")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(out / "model.onnx"))
    config = tiny_config(schema, max_length=max_length, window_stride=max(1, (max_length - 2) * 3 // 4))
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text("# trigger model\n\nBuilt by tests/trigger_model.py.\n", encoding="utf-8")
    write_manifest(out)
    return out
