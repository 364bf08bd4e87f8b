"""Torch weights read back from an exported graph (khmer_civic.train.graph_weights)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnx")

from train_fixtures import tiny_config  # noqa: E402

from khmer_civic.model.config import load_config  # noqa: E402
from khmer_civic.model.tokenizer import TextTokenizer  # noqa: E402
from khmer_civic.schema import ModelSchema  # noqa: E402
from khmer_civic.train.data import load_annotations  # noqa: E402
from khmer_civic.train.distill import load_teacher_layers, teacher_weights_file  # noqa: E402
from khmer_civic.train.export import fuse_transformer_graph, onnx_runner, torch_probabilities  # noqa: E402
from khmer_civic.train.graph_weights import GraphWeightsError, load_graph_weights, state_dict_from_graph  # noqa: E402
from khmer_civic.train.modeling import MultiTaskClassifier, load_encoder  # noqa: E402
from khmer_civic.train.trainer import Trainer  # noqa: E402

EXPORTS = {
    "fp16 first layers, int8 elsewhere": {"fp16_first_layers": 1, "sensitive_precision": "fp16"},
    "int8 with a scale per token": {"fp16_first_layers": 1, "sensitive_precision": "int8_rows"},
}


@pytest.fixture(scope="module", params=list(EXPORTS))
def trained(request: pytest.FixtureRequest, tiny_encoder_dir: Path, splits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny model trained and exported one way: (model directory, run directory)."""
    root = tmp_path_factory.mktemp("graph_weights")
    # no frozen-encoder candidate: the exported model is the best checkpoint
    config = tiny_config(tiny_encoder_dir, epochs=1, eval_every=2, frozen_head=False, **EXPORTS[request.param])
    data = load_annotations([splits_dir / "train.jsonl"], [splits_dir / "dev.jsonl"], [splits_dir / "test.jsonl"], config.tasks)
    Trainer(config, run_dir=root / "run").train(data, root / "model")
    return root / "model", root / "run"


def _trained_weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / "checkpoints" / "best" / "model.safetensors"))


def test_every_weight_comes_back_within_its_storage_precision(trained: tuple[Path, Path]) -> None:
    model_dir, run = trained
    recovered = state_dict_from_graph(model_dir)
    original = _trained_weights(run)
    params = {k: v for k, v in original.items() if not k.endswith(("position_ids", "token_type_ids"))}
    assert set(recovered) == set(params)
    exact, rounded = 0, 0
    for key, value in params.items():
        back = recovered[key]
        if key.endswith("position_embeddings.weight"):
            assert back.shape[0] <= value.shape[0] and back.shape[1:] == value.shape[1:], key
            value = value[: back.shape[0]]
        assert back.shape == value.shape, key
        if torch.equal(back, value):
            exact += 1
            continue
        rounded += 1
        # int8: within half a step of a scale set by the largest weight of a column (or of the
        # tensor); fp16: within fp16's relative precision
        step = value.abs().max() / 63
        assert (back - value).abs().max() <= step / 2 + 1e-6, key
    assert exact > 0 and rounded > 0  # biases and LayerNorms stay fp32; matrices are quantised
    fp32 = state_dict_from_graph(run / "model.fp32.onnx")  # the run's unquantised export: exact
    assert all(torch.equal(fp32[key], params[key][: len(fp32[key])]) for key in params)


def test_a_model_built_from_the_graph_scores_like_the_graph(
    trained: tuple[Path, Path], tiny_encoder_dir: Path, splits_dir: Path
) -> None:
    model_dir, _ = trained
    config = load_config(model_dir)
    model = MultiTaskClassifier(load_encoder(tiny_encoder_dir), config.schema)
    counts = load_graph_weights(model, model_dir, keep_frozen=False)
    assert counts["left_out"] == 0 and counts["copied"] > 0
    model.eval()
    texts = [json.loads(line)["text"] for line in (splits_dir / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    from_graph = onnx_runner(model_dir, 1).probabilities(texts)
    from_torch = torch_probabilities(model, TextTokenizer.from_file(model_dir / "tokenizer.json"), texts, config)
    for task in config.schema.tasks:
        gap = np.abs(np.asarray(from_graph[task.name]) - np.asarray(from_torch[task.name])).max()
        assert gap < 0.05, (task.name, gap)


def test_a_smaller_student_takes_the_first_layers_and_keeps_its_frozen_weights(
    trained: tuple[Path, Path], tiny_encoder_dir: Path
) -> None:
    model_dir, run = trained
    schema = load_config(model_dir).schema
    student = MultiTaskClassifier(load_encoder(tiny_encoder_dir, 1), schema)
    words = student.encoder.embeddings.word_embeddings.weight
    words.requires_grad_(False)
    before = words.detach().clone()
    assert teacher_weights_file(model_dir).name == "model.onnx"
    counts = load_teacher_layers(student, model_dir)
    assert counts["left_out"] > 0 and counts["kept"] == 1
    assert torch.equal(student.encoder.embeddings.word_embeddings.weight, before)
    original = _trained_weights(run)
    query = "encoder.encoder.layer.0.attention.self.query.weight"
    assert torch.allclose(student.state_dict()[query], original[query], atol=float(original[query].abs().max()) / 63)
    assert torch.equal(student.state_dict()["heads.sentiment.bias"], original["heads.sentiment.bias"])
    positions = student.encoder.embeddings.position_embeddings.weight
    assert positions.shape[0] == 64  # the graph's cut table filled from the first rows on


def test_other_labels_or_a_fused_graph_are_refused(trained: tuple[Path, Path], tiny_encoder_dir: Path, tmp_path: Path) -> None:
    model_dir, _ = trained
    schema = load_config(model_dir).schema
    other = ModelSchema(
        tuple(t if t.type == "binary" else dataclasses.replace(t, labels=t.labels[:2], thresholds={}) for t in schema.tasks)
    )
    with pytest.raises(GraphWeightsError, match="does not fit the model"):
        load_graph_weights(MultiTaskClassifier(load_encoder(tiny_encoder_dir, 1), other), model_dir)
    fused = tmp_path / "fused.onnx"
    counts = fuse_transformer_graph(model_dir / "model.onnx", fused, num_heads=2, hidden_size=16)
    assert sum(counts.values()) > 0
    with pytest.raises(GraphWeightsError, match="transformer fusions"):
        state_dict_from_graph(fused)
    with pytest.raises(FileNotFoundError):
        state_dict_from_graph(tmp_path / "nothing")
