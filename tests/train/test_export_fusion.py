"""onnxruntime's transformer fusions on the export path (export.fuse_transformer_graph, export_onnx fuse=True)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
onnx = pytest.importorskip("onnx")

import onnxruntime as ort  # noqa: E402

from khmer_civic.model.classifier import CivicClassifier  # noqa: E402
from khmer_civic.schema import default_schema  # noqa: E402
from khmer_civic.train.export import (  # noqa: E402
    SKIP_LAYER_NORM_FUSION,
    export_fp32,
    export_onnx,
    fuse_transformer_graph,
)
from khmer_civic.train.modeling import MultiTaskClassifier, load_encoder, load_tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tiny_encoder_dir: Path) -> MultiTaskClassifier:
    torch.manual_seed(3)
    return MultiTaskClassifier(load_encoder(tiny_encoder_dir), default_schema()).eval()


def _outputs(path: Path, ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return session.run(names, {"input_ids": ids, "attention_mask": mask})


def _batch(vocab: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.integers(4, vocab, size=(3, 12)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 7:] = 0  # a padded row
    mask[2, 3:] = 0
    ids[mask == 0] = 1
    return ids, mask


def test_eager_attention_fuses_and_scores_as_the_unfused_graph(tiny: MultiTaskClassifier, tmp_path: Path) -> None:
    sdpa, eager, fused = tmp_path / "sdpa.onnx", tmp_path / "eager.onnx", tmp_path / "fused.onnx"
    before = tiny.encoder.config._attn_implementation
    export_fp32(tiny, sdpa)
    export_fp32(tiny, eager, eager_attention=True)
    assert tiny.encoder.config._attn_implementation == before  # the model is left as it was
    # the default (SDPA) trace is not a pattern the optimizer recognises
    assert fuse_transformer_graph(sdpa, tmp_path / "sdpa.fused.onnx", num_heads=2, hidden_size=16)["Attention"] == 0
    counts = fuse_transformer_graph(eager, fused, num_heads=2, hidden_size=16)
    assert counts["Attention"] == 2 and counts["EmbedLayerNormalization"] == 1  # two layers, one embedding
    assert counts["SkipLayerNormalization"] >= 2
    ids, mask = _batch(int(tiny.encoder.config.vocab_size))
    reference = _outputs(sdpa, ids, mask)
    for path in (eager, fused):
        for want, got in zip(reference, _outputs(path, ids, mask)):
            np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        pooled, _ = tiny.pooled_and_logits(torch.from_numpy(ids), torch.from_numpy(mask))
    np.testing.assert_allclose(reference[-1], pooled.numpy(), atol=1e-5)


def test_the_residual_layer_norms_can_stay_unfused(tiny: MultiTaskClassifier, tmp_path: Path) -> None:
    eager, fused = tmp_path / "eager.onnx", tmp_path / "fused.onnx"
    export_fp32(tiny, eager, eager_attention=True)
    counts = fuse_transformer_graph(eager, fused, num_heads=2, hidden_size=16, skip_layer_norm=False)
    assert counts["SkipLayerNormalization"] == 0 and counts["LayerNormalization"] >= 4  # two per layer
    assert counts["Attention"] == 2 and counts["EmbedLayerNormalization"] == 1  # the other fusions still apply
    ids, mask = _batch(int(tiny.encoder.config.vocab_size))
    options = ort.SessionOptions()
    session = ort.InferenceSession(
        str(fused), options, providers=["CPUExecutionProvider"], disabled_optimizers=[SKIP_LAYER_NORM_FUSION]
    )
    got = session.run([o.name for o in session.get_outputs()], {"input_ids": ids, "attention_mask": mask})
    for want, out in zip(_outputs(eager, ids, mask), got):
        np.testing.assert_allclose(out, want, atol=1e-4, rtol=1e-4)
    # without the disabled optimiser, onnxruntime would fuse them again when it loads the graph
    for disabled, expected in (([], True), ([SKIP_LAYER_NORM_FUSION], False)):
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / "loaded.onnx")
        ort.InferenceSession(str(fused), options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
        loaded = onnx.load(str(tmp_path / "loaded.onnx")).graph
        assert any(n.op_type == "SkipLayerNormalization" for n in loaded.node) == expected


def test_a_fused_int8_export_loads_and_follows_torch(tiny: MultiTaskClassifier, tiny_encoder_dir: Path, tmp_path: Path) -> None:
    texts = ["សាលារៀន please good", "ឃុំ bad notice", "health សូម"] * 4
    results = {}
    for fuse in (False, True):
        results[fuse] = export_onnx(
            tiny,
            load_tokenizer(tiny_encoder_dir),
            tmp_path / f"model-{fuse}",
            name="tiny",
            max_length=16,
            window_stride=8,
            agreement_texts=texts,
            fuse=fuse,
            fp16_first_layers=None,
        )
    assert results[False].fused_operators is None
    assert results[True].fused_operators is not None and results[True].fused_operators["Attention"] == 2
    from khmer_civic.model.manifest import write_manifest

    write_manifest(tmp_path / "model-True")
    clf = CivicClassifier.load(tmp_path / "model-True")
    assert all(p.ok for p in clf.predict(texts))
    agreement = results[True].agreement
    assert agreement is not None
    for task, figures in agreement.tasks.items():
        assert figures["max_abs_prob_diff"] < 0.1, task
