"""Pooled text embeddings: ``CivicClassifier.embed``, the optional ``embedding_output`` of config.json,
and adding the output to a graph exported without it (the scores must not move)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tiny_model import EMBEDDING_DIM, build_tiny_model, rewrite_config

from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.config import ConfigFormatError, ModelConfig, load_config
from khmer_civic.model.inputs import prepare_input
from khmer_civic.model.runtime import ModelGraphError
from khmer_civic.schema import ModelConfigError

TEXTS = [
    "សាលារៀនភូមិយើងខ្វះគ្រូ",
    "សូមជួយចែករំលែក",
    "health centre closed again",
    "ឃុំ ជួសជុល ផ្លូវ ភូមិ ខាងជើង ហើយ ប្រជាពលរដ្ឋ សប្បាយចិត្ត ណាស់ ព្រោះ ផ្លូវ ល្អ",  # several windows
    "ok",
]


@pytest.fixture(scope="module")
def embedding_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("emb") / "tiny-emb", embedding=True, quantize=True)


@pytest.fixture(scope="module")
def clf(embedding_dir: Path) -> CivicClassifier:
    return CivicClassifier.load(embedding_dir)


def test_embed_gives_one_row_per_input_and_nan_for_what_cannot_be_labelled(clf: CivicClassifier) -> None:
    values: list[object] = [TEXTS[0], None, "", "😀😀", 42, TEXTS[3]]
    rows = clf.embed(values)
    assert rows.shape == (6, EMBEDDING_DIM) and rows.dtype == np.float32
    assert np.isnan(rows[[1, 2, 3, 4]]).all()
    assert np.isfinite(rows[[0, 5]]).all()
    assert clf.embed([]).shape == (0, EMBEDDING_DIM)
    assert clf.embed([None]).shape == (1, EMBEDDING_DIM)
    np.testing.assert_array_equal(clf.embed(TEXTS[0]), rows[0])  # one str: one vector


def test_embedding_of_a_text_does_not_depend_on_its_batch(clf: CivicClassifier) -> None:
    together = clf.embed(TEXTS, batch_size=3)
    for i, text in enumerate(TEXTS):
        np.testing.assert_array_equal(clf.embed([text], batch_size=1)[0], together[i])
    np.testing.assert_array_equal(clf.embed(list(reversed(TEXTS)))[::-1], together)


def test_long_text_is_the_token_weighted_mean_of_its_windows(clf: CivicClassifier) -> None:
    runner = clf._runner
    text = TEXTS[3]
    normalised = prepare_input(text)[1]
    windows, _ = runner.windows([normalised])
    assert len(windows) > 1
    vectors = runner.window_outputs(windows, ["pooled"], 1)["pooled"]
    weights = np.array([len(w) - 2 for w in windows], dtype=np.float64)
    expected = (vectors * weights[:, None]).sum(axis=0) / weights.sum()
    np.testing.assert_allclose(clf.embed([text])[0], expected, rtol=1e-6)


def test_score_arrays_match_predict_proba_and_share_the_pass(clf: CivicClassifier) -> None:
    scored = clf.score_arrays([*TEXTS, None], embeddings=True)
    assert scored.embeddings is not None and np.isnan(scored.embeddings[-1]).all()
    assert np.isnan(scored.probabilities["topics"][-1]).all()
    proba = clf.predict_proba(TEXTS)
    for i, scores in enumerate(proba):
        assert list(scored.probabilities["topics"][i]) == pytest.approx(list(scores["topics"].values()), abs=0)
        assert scored.probabilities["call_to_action"][i, 0] == scores["call_to_action"]["true"]
    np.testing.assert_array_equal(scored.embeddings[:-1], clf.embed(TEXTS))


def test_models_without_the_output_load_predict_and_refuse_embed(tiny_model_dir: Path) -> None:
    old = CivicClassifier.load(tiny_model_dir)
    assert not old.has_embeddings
    assert "embedding_output" not in json.loads((tiny_model_dir / "config.json").read_text(encoding="utf-8"))
    assert old.predict(TEXTS[0]).ok
    assert old.score_arrays(TEXTS).embeddings is None
    with pytest.raises(ModelConfigError, match="no embedding output"):
        old.embed(TEXTS)


def test_config_round_trip_keeps_the_key_only_when_set(embedding_dir: Path, tiny_model_dir: Path) -> None:
    config = load_config(embedding_dir)
    assert config.embedding_output == "pooled" and config.to_dict()["embedding_output"] == "pooled"
    assert "embedding_output" not in load_config(tiny_model_dir).to_dict()
    data = config.to_dict()
    for bad in ("", 3, "topics"):
        with pytest.raises(ConfigFormatError, match="embedding_output"):
            ModelConfig.from_dict({**data, "embedding_output": bad})


def test_config_naming_a_missing_output_fails_at_load(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    rewrite_config(copy, embedding_output="pooled")
    with pytest.raises(ModelGraphError, match="embedding output 'pooled'"):
        CivicClassifier.load(copy)


def test_adding_the_output_to_an_old_graph_keeps_every_score(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from khmer_civic.train.onnx_outputs import add_embedding_output

    old_dir = build_tiny_model(tmp_path / "old", quantize=True)
    new_dir = tmp_path / "new"
    shutil.copytree(old_dir, new_dir)
    outputs = ["topics", "sentiment", "call_to_action"]
    with pytest.raises(ValueError, match="already has a tensor named 'pooled'"):
        add_embedding_output(old_dir / "model.onnx", new_dir / "model.onnx", outputs)  # the tiny graph's mean
    source = add_embedding_output(old_dir / "model.onnx", new_dir / "model.onnx", outputs, name="text_embedding")
    assert source == "hidden"  # the tiny graph's heads read the tanh layer
    rewrite_config(new_dir, embedding_output="text_embedding")
    old, new = CivicClassifier.load(old_dir), CivicClassifier.load(new_dir)
    assert old.predict_proba(TEXTS) == new.predict_proba(TEXTS)
    assert new.embed(TEXTS).shape == (len(TEXTS), EMBEDDING_DIM)
