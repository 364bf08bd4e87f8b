"""CivicClassifier.load: every broken model directory fails with a clear ModelConfigError."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from tiny_model import build_tiny_model, rewrite_config

from khmer_civic.model.classifier import CivicClassifier, NormalizerVersionWarning, default_model_dir
from khmer_civic.model.config import ConfigFormatError, ModelNotFoundError
from khmer_civic.model.manifest import ManifestError, write_manifest
from khmer_civic.model.runtime import ModelGraphError
from khmer_civic.model.tokenizer import TokenizerLoadError
from khmer_civic.schema import ModelConfigError


@pytest.fixture()
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def _config(model_dir: Path) -> dict[str, Any]:
    return json.loads((model_dir / "config.json").read_text(encoding="utf-8"))


def _write_and_remanifest(model_dir: Path, name: str, content: str | bytes) -> None:
    path = model_dir / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    write_manifest(model_dir)


def test_errors_are_model_config_errors() -> None:
    for error in (ModelNotFoundError, ConfigFormatError, ManifestError, ModelGraphError, TokenizerLoadError):
        assert issubclass(error, ModelConfigError) and issubclass(error, ValueError)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist") as info:
        CivicClassifier.load(tmp_path / "nowhere")
    assert "nowhere" in str(info.value)


@pytest.mark.parametrize("name", ["config.json", "model.onnx", "tokenizer.json"])
def test_missing_required_file(model_copy: Path, name: str) -> None:
    (model_copy / name).unlink()
    with pytest.raises(ModelNotFoundError, match=name.replace(".", r"\.")):
        CivicClassifier.load(model_copy)


def test_missing_manifest_fails_unless_verification_is_off(model_copy: Path) -> None:
    (model_copy / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="manifest.json"):
        CivicClassifier.load(model_copy)
    assert CivicClassifier.load(model_copy, verify=False).predict("គ្រូ").ok


def test_tampered_model_onnx(model_copy: Path) -> None:
    data = bytearray((model_copy / "model.onnx").read_bytes())
    data[-10] ^= 0x01  # same size, one bit flipped in the weights
    (model_copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ManifestError, match=r"model\.onnx"):
        CivicClassifier.load(model_copy)


def test_tampered_config_json(model_copy: Path) -> None:
    config = _config(model_copy)
    config["tasks"][2]["threshold"] = 0.01
    (model_copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"config\.json"):
        CivicClassifier.load(model_copy)
    # with the check off, the edited (still valid) config is used as it is
    assert CivicClassifier.load(model_copy, verify=False).info()["thresholds"]["call_to_action"] == 0.01


def test_bad_json(model_copy: Path) -> None:
    _write_and_remanifest(model_copy, "config.json", '{"format": "khmer-civic-model", ')
    with pytest.raises(ConfigFormatError, match=r"config\.json is not valid JSON"):
        CivicClassifier.load(model_copy)


def test_foreign_format(model_copy: Path) -> None:
    hf_config = {"model_type": "bert", "hidden_size": 384, "architectures": ["BertModel"]}
    _write_and_remanifest(model_copy, "config.json", json.dumps(hf_config))
    with pytest.raises(ConfigFormatError, match="not a khmer-civic model config"):
        CivicClassifier.load(model_copy)


def test_json_that_is_not_an_object(model_copy: Path) -> None:
    _write_and_remanifest(model_copy, "config.json", "[1, 2, 3]")
    with pytest.raises(ConfigFormatError, match="JSON object"):
        CivicClassifier.load(model_copy)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 2}, "upgrade khmer-civic"),
        ({"format_version": "1"}, "'format_version' must be an integer"),
        ({"max_length": 2}, "max_length"),
        ({"window_stride": 15}, "window_stride"),
        ({"window_stride": 0}, "window_stride"),
        ({"pad_token_id": -1}, "pad_token_id"),
        ({"name": ""}, "'name'"),
        ({"tasks": []}, "at least one task"),
        ({"tasks": "topics"}, "'tasks' must be a list"),
        ({"tasks": ["topics"]}, "'tasks' must be a list"),
        ({"disabled_optimizers": "SkipLayerNormFusion"}, "'disabled_optimizers' must be a list"),
        ({"disabled_optimizers": [""]}, "'disabled_optimizers' must be a list"),
    ],
)
def test_contract_violations(model_copy: Path, changes: dict[str, Any], message: str) -> None:
    rewrite_config(model_copy, **changes)
    with pytest.raises(ConfigFormatError, match=message) as info:
        CivicClassifier.load(model_copy)
    assert "config.json" in str(info.value)


def test_missing_field(model_copy: Path) -> None:
    config = _config(model_copy)
    del config["max_length"]
    _write_and_remanifest(model_copy, "config.json", json.dumps(config))
    with pytest.raises(ConfigFormatError, match="'max_length' is missing"):
        CivicClassifier.load(model_copy)


@pytest.mark.parametrize(
    ("task_changes", "message"),
    [
        ({"type": "regression"}, "unknown type 'regression'"),
        ({"thresholds": {"sport": 0.5}}, "unknown labels"),
        ({"thresholds": {"health": 1.5}}, r"outside \[0, 1\]"),
        ({"temperature": 0}, "temperature"),
        ({"labels": []}, "non-empty"),
    ],
)
def test_bad_task_entries(model_copy: Path, task_changes: dict[str, Any], message: str) -> None:
    config = _config(model_copy)
    config["tasks"][0].update(task_changes)
    rewrite_config(model_copy, tasks=config["tasks"])
    with pytest.raises(ConfigFormatError, match=message):
        CivicClassifier.load(model_copy)


def test_task_reading_an_output_the_graph_lacks(model_copy: Path) -> None:
    config = _config(model_copy)
    config["tasks"].append({"name": "urgent", "type": "binary", "labels": ["false", "true"], "output": "urgent_logit"})
    rewrite_config(model_copy, tasks=config["tasks"])
    with pytest.raises(ModelGraphError, match="urgent_logit") as info:
        CivicClassifier.load(model_copy)
    assert "model.onnx" in str(info.value)


def test_output_width_disagrees_with_labels(model_copy: Path) -> None:
    config = _config(model_copy)
    config["tasks"][0]["labels"].append("agriculture")  # the graph still has 3 topic logits
    rewrite_config(model_copy, tasks=config["tasks"])
    with pytest.raises(ModelGraphError, match="topics"):
        CivicClassifier.load(model_copy)


def test_two_tasks_reading_one_output(model_copy: Path) -> None:
    config = _config(model_copy)
    config["tasks"].append({**config["tasks"][2], "name": "call_to_action_copy"})
    rewrite_config(model_copy, tasks=config["tasks"])
    with pytest.raises(ConfigFormatError, match="same ONNX output"):
        CivicClassifier.load(model_copy)


def test_graph_with_symbolic_widths_is_checked_by_running_it(tmp_path: Path) -> None:
    import onnx

    model_dir = build_tiny_model(tmp_path / "m")
    graph = onnx.load(str(model_dir / "model.onnx"))
    for output in graph.graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "width"  # hide the static width
    onnx.save(graph, str(model_dir / "model.onnx"))
    config = _config(model_dir)
    config["tasks"][1]["labels"] = ["negative", "positive"]  # graph gives 3 sentiment logits
    rewrite_config(model_dir, tasks=config["tasks"])
    with pytest.raises(ModelGraphError, match="sentiment"):
        CivicClassifier.load(model_dir)


def test_unreadable_model_onnx(model_copy: Path) -> None:
    _write_and_remanifest(model_copy, "model.onnx", b"this is not a protobuf graph")
    with pytest.raises(ModelGraphError, match=r"model\.onnx"):
        CivicClassifier.load(model_copy)


def test_unreadable_tokenizer(model_copy: Path) -> None:
    _write_and_remanifest(model_copy, "tokenizer.json", '{"version": "1.0", "model": {"type": "Nonsense"}}')
    with pytest.raises(TokenizerLoadError, match=r"tokenizer\.json"):
        CivicClassifier.load(model_copy)


def test_special_token_id_outside_vocabulary(model_copy: Path) -> None:
    rewrite_config(model_copy, eos_token_id=10_000_000)
    with pytest.raises(TokenizerLoadError, match="eos token id 10000000"):
        CivicClassifier.load(model_copy)


def test_normalizer_version_mismatch_only_warns(model_copy: Path) -> None:
    rewrite_config(model_copy, normalizer_version=999)
    with pytest.warns(NormalizerVersionWarning, match="999"):
        clf = CivicClassifier.load(model_copy)
    assert clf.predict("គ្រូ").ok


def test_matching_normalizer_version_does_not_warn(tiny_model_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CivicClassifier.load(tiny_model_dir)


def test_session_options(tiny_model_dir: Path) -> None:
    clf = CivicClassifier.load(tiny_model_dir, intra_op_threads=1, inter_op_threads=1)
    assert clf.predict("គ្រូ").ok
    with pytest.raises(ValueError, match="intra_op_threads"):
        CivicClassifier.load(tiny_model_dir, intra_op_threads=-1)
    with pytest.raises(ValueError, match="not available"):
        CivicClassifier.load(tiny_model_dir, providers=["NoSuchExecutionProvider"])


def test_a_model_may_turn_off_load_time_optimisations(model_copy: Path) -> None:
    rewrite_config(model_copy, disabled_optimizers=["SkipLayerNormFusion", "GeluFusion"])
    clf = CivicClassifier.load(model_copy)
    assert clf.config.disabled_optimizers == ("SkipLayerNormFusion", "GeluFusion")
    assert clf.config.to_dict()["disabled_optimizers"] == ["SkipLayerNormFusion", "GeluFusion"]
    assert clf.predict("គ្រូ").ok


def test_default_model_resolution() -> None:
    from khmer_civic.model.registry import bundled_models

    directory = next(model.directory.name for model in bundled_models() if model.default)
    try:
        found = default_model_dir()
    except ModelNotFoundError as exc:  # no model shipped in this checkout yet
        assert directory in str(exc) and "_models" in str(exc)
        with pytest.raises(ModelNotFoundError):
            CivicClassifier.load()
    else:
        assert found.name == directory and (found / "config.json").is_file()
        clf = CivicClassifier.load()
        assert clf.path == found
        assert clf.predict("សាលារៀនភូមិយើងខ្វះគ្រូ").ok

