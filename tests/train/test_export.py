"""ONNX export, int8 quantisation and the model directory (khmer_civic.train.export)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from khmer_civic.model.classifier import CivicClassifier  # noqa: E402
from khmer_civic.model.config import load_config  # noqa: E402
from khmer_civic.model.manifest import verify_manifest  # noqa: E402
from khmer_civic.schema import ModelSchema, TaskSpec  # noqa: E402
from khmer_civic.train.export import (  # noqa: E402
    export_fp32,
    export_onnx,
    finalize_model_dir,
    precision_sensitive_matmuls,
    quantize_int8,
    quantize_rows_int8,
)
from khmer_civic.train.modeling import MultiTaskClassifier, load_encoder, load_tokenizer, pad_batch  # noqa: E402

SCHEMA = ModelSchema(
    tasks=(
        TaskSpec(
            "topics",
            "multi_label",
            ("agriculture", "education", "health"),
            "topics",
            temperature=1.3,
            thresholds={"agriculture": 0.4, "education": 0.5, "health": 0.6},
        ),
        TaskSpec("sentiment", "single_label", ("negative", "neutral", "positive"), "sentiment", temperature=0.8),
        TaskSpec("call_to_action", "binary", ("false", "true"), "call_to_action", threshold=0.45),
    )
)
TEXTS = ["សាលារៀន គ្រូ ល្អណាស់", "farm bad please", "ឃុំ " * 20 + "health", "n"]
LAYOUT = {"model.onnx", "tokenizer.json", "config.json", "metrics.json", "MODEL_CARD.md", "manifest.json"}


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_encoder_dir: Path):
    torch.manual_seed(1)
    model = MultiTaskClassifier(load_encoder(tiny_encoder_dir), SCHEMA)
    with torch.no_grad():  # make the heads' outputs differ visibly between texts
        for head in model.heads.values():
            head.weight.normal_(0, 2.0)
    return model.eval(), load_tokenizer(tiny_encoder_dir)


def test_fp32_graph_matches_torch_on_padded_batches(model_and_tokenizer, tmp_path: Path) -> None:
    model, _ = model_and_tokenizer
    path = export_fp32(model, tmp_path / "m.fp32.onnx")
    graph = onnx.load(str(path))
    assert [i.name for i in graph.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in graph.graph.output] == ["topics", "sentiment", "call_to_action", "pooled"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert all(i.type == "tensor(int64)" for i in session.get_inputs())
    # batch and sequence sizes unlike the export's dummy input (2 x 5)
    windows = [[0, 10, 11, 12, 13, 14, 15, 2], [0, 20, 2], [0, 30, 31, 2], [0, 40, 41, 42, 43, 44, 45, 46, 47, 48, 2]]
    ids, mask = pad_batch(windows, pad_token_id=1)
    outputs = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    with torch.no_grad():
        expected = model(ids, mask)
    for task, got in zip(SCHEMA.tasks, outputs):
        assert got.shape == (4, task.n_outputs)
        np.testing.assert_allclose(got, expected[task.name].numpy(), atol=1e-4)
    with torch.no_grad():  # the last output: the mean-pooled encoder state the heads read
        pooled, _ = model.pooled_and_logits(ids, mask)
    np.testing.assert_allclose(outputs[-1], pooled.numpy(), atol=1e-4)
    # padding must not change a text's logits
    alone = session.run(None, {"input_ids": ids[1:2, :3].numpy(), "attention_mask": mask[1:2, :3].numpy()})
    np.testing.assert_allclose(alone[0], outputs[0][1:2], atol=1e-4)


def test_export_writes_the_model_directory(model_and_tokenizer, tmp_path: Path) -> None:
    model, tokenizer = model_and_tokenizer
    out, fp32 = tmp_path / "model", tmp_path / "run" / "model.fp32.onnx"
    result = export_onnx(
        model,
        tokenizer,
        out,
        schema=SCHEMA,
        name="tiny-export",
        version="0.0.1",
        max_length=16,
        window_stride=8,
        fp32_path=fp32,
        agreement_texts=TEXTS,
    )
    assert fp32.is_file() and not list(out.glob("*.fp32.onnx"))
    assert {p.name for p in out.iterdir()} == {"model.onnx", "tokenizer.json", "config.json"}

    config = load_config(out)
    assert config.schema == SCHEMA
    assert (config.max_length, config.window_stride) == (16, 8)
    assert (config.bos_token_id, config.pad_token_id, config.eos_token_id) == (0, 1, 2)
    assert config.name == "tiny-export" and config.normalizer_version >= 1
    assert config.batching == "per_window"  # dynamic int8: one activation scale per call
    assert config.embedding_output == "pooled"

    tok = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    assert tok["truncation"] is None and tok["padding"] is None

    ops = {node.op_type for node in onnx.load(str(out / "model.onnx")).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul"}  # int8 weights

    agreement = result.agreement
    assert agreement is not None and agreement.n_texts == len(TEXTS)
    for name in SCHEMA.task_names:
        assert 0.0 <= agreement.tasks[name]["decision_agreement"] <= 1.0
        assert 0.0 <= agreement.tasks[name]["max_abs_prob_diff"] < 0.1
    assert agreement.tasks["sentiment"]["decision_agreement"] >= 0.75

    finalize_model_dir(out, {"test": None, "training": {"best_step": 3}})
    assert {p.name for p in out.iterdir()} == LAYOUT
    assert set(verify_manifest(out)) == LAYOUT - {"manifest.json"}
    assert "best step: 3" in (out / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_exported_model_loads_in_the_classifier(model_and_tokenizer, tmp_path: Path) -> None:
    model, tokenizer = model_and_tokenizer
    out = tmp_path / "model"
    export_onnx(model, tokenizer, out, schema=SCHEMA, name="tiny-export", max_length=16, window_stride=8)
    finalize_model_dir(out, {})
    clf = CivicClassifier.load(out)
    assert clf.labels["topics"] == ["agriculture", "education", "health"]
    predictions = clf.predict(TEXTS)
    assert all(set(p.topics) <= {"agriculture", "education", "health"} for p in predictions)
    assert all(p.sentiment in SCHEMA["sentiment"].labels for p in predictions)
    scores = clf.predict_proba(TEXTS[0])
    assert scores["call_to_action"]["true"] == pytest.approx(1 - scores["call_to_action"]["false"])
    # same text, same scores, whatever the batch around it
    alone = [clf.predict_proba(text) for text in TEXTS]
    for batch_size in (1, 3, 32):
        for got, want in zip(clf.predict_proba(list(TEXTS), batch_size=batch_size), alone):
            for task in want:
                assert got[task] == pytest.approx(want[task], abs=1e-6)


def test_fp32_graph_may_not_go_into_the_model_directory(model_and_tokenizer, tmp_path: Path) -> None:
    model, tokenizer = model_and_tokenizer
    with pytest.raises(ValueError, match="outside the model directory"):
        export_onnx(
            model, tokenizer, tmp_path, name="x", max_length=16, window_stride=8, fp32_path=tmp_path / "model.fp32.onnx"
        )


def test_schema_must_match_the_model(model_and_tokenizer, tmp_path: Path) -> None:
    model, tokenizer = model_and_tokenizer
    other = ModelSchema(tasks=(SCHEMA["sentiment"], SCHEMA["topics"], SCHEMA["call_to_action"]))
    with pytest.raises(ValueError, match="same order"):
        export_onnx(model, tokenizer, tmp_path / "m", schema=other, name="x", max_length=16, window_stride=8)


def test_sensitive_layers_stay_float16_and_close_to_fp32(model_and_tokenizer, tmp_path: Path) -> None:
    model, _ = model_and_tokenizer
    fp32 = export_fp32(model, tmp_path / "m.fp32.onnx")
    graph = onnx.load(str(fp32)).graph
    n_layers = model.encoder.config.num_hidden_layers
    keep = precision_sensitive_matmuls(fp32, first_layers=1)
    assert len(keep) == n_layers + 1  # every down-projection, and the first layer's up-projection
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    weights = {n.name: shapes[n.input[1]] for n in graph.node if n.name in keep}
    assert sum(1 for s in weights.values() if s[0] > s[1]) == n_layers

    mixed = quantize_int8(fp32, tmp_path / "mixed.onnx", fp16_first_layers=1)
    plain = quantize_int8(fp32, tmp_path / "plain.onnx", fp16_first_layers=None)
    mixed_graph = onnx.load(str(mixed)).graph
    casts = [n for n in mixed_graph.node if n.op_type == "Cast"]
    halves = [i for i in mixed_graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert len(halves) == len(keep) and len(casts) >= len(keep)
    assert not any(n.op_type == "Cast" and n.input[0].endswith("_fp16") for n in onnx.load(str(plain)).graph.node)

    ids, mask = pad_batch([[0, 10, 11, 12, 2], [0, 20, 21, 2], [0, 30, 2]], pad_token_id=1)
    feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    run = lambda p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)  # noqa: E731
    reference, got = run(fp32), run(mixed)
    for ref, out in zip(reference, got):
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, atol=0.5)  # int8 error, bounded


def _one_matmul_graph(weight: np.ndarray, path: Path) -> Path:
    """A graph computing ``x @ weight`` for float ``x`` of shape [batch, seq, K]."""
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="/layer/output/dense/MatMul")
    graph = helper.make_graph(
        [node],
        "one_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, weight.shape[1]])],
        [numpy_helper.from_array(weight.astype(np.float32), "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_row_scaled_int8_gives_each_token_its_own_scale(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(64, 16))
    path = _one_matmul_graph(weight, tmp_path / "m.onnx")
    quantize_rows_int8(path, ["/layer/output/dense/MatMul"])  # 7-bit weights: exact on AVX2 and VNNI alike
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "MatMulInteger" in ops and "MatMul" not in ops
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = rng.normal(size=(2, 5, 64)).astype(np.float32)
    x[0, 0] *= 40.0  # one outlier token, as the first tokens of a window carry in the real encoder
    got = session.run(None, {"x": x})[0]
    exact = x @ weight.astype(np.float32)
    # every token keeps a scale of its own: the outlier does not coarsen its neighbours
    ordinary = np.abs(got[:, 1:] - exact[:, 1:]).max() / np.abs(exact[:, 1:]).max()
    assert ordinary < 0.05  # one scale for the whole call would be 40 times coarser for them
    # and a token's result does not depend on the other tokens or texts in the call
    alone = session.run(None, {"x": x[1:2, 3:4]})[0]
    np.testing.assert_array_equal(alone[0, 0], got[1, 3])


def test_row_scaled_export_follows_fp32_and_is_smaller(model_and_tokenizer, tmp_path: Path) -> None:
    model, _ = model_and_tokenizer
    fp32 = export_fp32(model, tmp_path / "m.fp32.onnx")
    rows = quantize_int8(fp32, tmp_path / "rows.onnx", fp16_first_layers=0, sensitive="int8_rows")
    halves = quantize_int8(fp32, tmp_path / "halves.onnx", fp16_first_layers=0)
    graph = onnx.load(str(rows)).graph
    assert not [i for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert sum(n.op_type == "MatMulInteger" for n in graph.node) >= model.encoder.config.num_hidden_layers
    ids, mask = pad_batch([[0, 10, 11, 12, 2], [0, 20, 21, 2], [0, 30, 2]], pad_token_id=1)
    feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    run = lambda p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)  # noqa: E731
    for ref, out in zip(run(fp32), run(rows)):
        np.testing.assert_allclose(out, ref, atol=0.5)
    with pytest.raises(ValueError, match="sensitive"):
        quantize_int8(fp32, tmp_path / "bad.onnx", sensitive="int4")
    assert halves.exists()


def test_the_position_table_keeps_only_the_rows_windows_reach(model_and_tokenizer, tmp_path: Path) -> None:
    model, _ = model_and_tokenizer
    table = model.encoder.embeddings.position_embeddings
    full = export_fp32(model, tmp_path / "full.onnx")
    cut = export_fp32(model, tmp_path / "cut.onnx", max_length=12)
    assert model.encoder.embeddings.position_embeddings is table  # the model is left as it was
    shapes = lambda p: {tuple(i.dims) for i in onnx.load(str(p)).graph.initializer}  # noqa: E731
    hidden = table.embedding_dim
    assert (table.num_embeddings, hidden) in shapes(full)
    assert (12, hidden) in shapes(cut) and (table.num_embeddings, hidden) not in shapes(cut)
    assert (tmp_path / "cut.onnx").stat().st_size < (tmp_path / "full.onnx").stat().st_size
    ids, mask = pad_batch([[0, *range(10, 20), 2], [0, 20, 21, 2]], pad_token_id=1)  # 12 tokens, and a padded row
    feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    run = lambda p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)  # noqa: E731
    for want, got in zip(run(full), run(cut)):
        np.testing.assert_allclose(got, want, atol=1e-6)
