"""Training end to end on a tiny encoder (khmer_civic.train.trainer, modeling, recipe)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from train_fixtures import make_records, tiny_config, write_jsonl  # noqa: E402

from khmer_civic.model.classifier import CivicClassifier  # noqa: E402
from khmer_civic.schema import ModelSchema, TaskSpec  # noqa: E402
from khmer_civic.train.config import TrainConfig  # noqa: E402
from khmer_civic.train.data import AnnotatedData, DataValidationError, load_annotations  # noqa: E402
from khmer_civic.train.modeling import (  # noqa: E402
    MultiTaskClassifier,
    load_encoder,
    multitask_loss,
    task_loss,
    word_embeddings,
)
from khmer_civic.train.trainer import Trainer, length_bucketed_batches  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LAYOUT = {"model.onnx", "tokenizer.json", "config.json", "metrics.json", "MODEL_CARD.md", "manifest.json"}


def _data(root: Path, config: TrainConfig, *, test: bool = True) -> AnnotatedData:
    """The validated splits of ``root`` (train, dev and, with ``test``, test) for ``config``'s tasks."""
    test_files = [root / "test.jsonl"] if test else []
    return load_annotations([root / "train.jsonl"], [root / "dev.jsonl"], test_files, config.tasks)


@pytest.fixture(scope="module")
def trained(tiny_encoder_dir: Path, splits_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One full run: train, calibrate, export, evaluate."""
    root = tmp_path_factory.mktemp("trained")
    config = tiny_config(tiny_encoder_dir)
    result = Trainer(config, run_dir=root / "run").train(_data(splits_dir, config), root / "model")
    return result, root


def test_model_directory_layout_and_loading(trained) -> None:
    result, root = trained
    model_dir = root / "model"
    assert {p.name for p in model_dir.iterdir()} == LAYOUT
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test"]["n_texts"] == 14 and set(metrics["test"]["groups"]) == {"authored", "corpus"}
    assert set(metrics["calibration"]) == {"topics", "sentiment", "call_to_action"}
    assert metrics["agreement"]["n_texts"] == 14
    assert "torch" not in metrics  # torch-side figures stay in the run directory
    assert "torch" in json.loads((root / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["calibration_test"]) == {"topics", "sentiment", "call_to_action"}
    card = (model_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "agriculture" in card and f"{metrics['test']['mean_macro_f1']:.3f}" in card

    clf = CivicClassifier.load(model_dir)
    assert clf.labels["topics"] == ["agriculture", "education", "health", "local_administration"]
    assert clf.schema == result.schema
    predictions = clf.predict(["ស្រូវ farm ល្អណាស់", "សាលារៀន bad please", None])
    assert predictions[2].status.value == "empty"
    for p in predictions[:2]:
        assert set(p.topics) <= set(clf.labels["topics"])
        assert set(p.scores["topics"]) == set(clf.labels["topics"])


def test_evaluate_model_dir_reproduces_the_test_metrics(trained, splits_dir: Path, tmp_path: Path) -> None:
    from khmer_civic.train.evaluate import evaluate_model_dir

    _, root = trained
    metrics = json.loads((root / "model" / "metrics.json").read_text(encoding="utf-8"))
    # same batch size as the trainer's evaluation: int8 activations are quantised per batch
    again = evaluate_model_dir(root / "model", [splits_dir / "test.jsonl"], tmp_path / "eval", batch_size=16)
    assert again["mean_macro_f1"] == pytest.approx(metrics["test"]["mean_macro_f1"])
    for name, task in again["tasks"].items():
        for label, figures in metrics["test"]["tasks"][name]["labels"].items():
            assert task["labels"][label] == pytest.approx(figures)
    assert set(again["groups"]) == {"authored", "corpus"}
    assert (tmp_path / "eval" / "evaluation.md").is_file()


def test_run_directory_logs_and_checkpoints(trained, tiny_encoder_dir: Path) -> None:
    result, root = trained
    run = root / "run"
    events = [json.loads(line) for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and "step" in kinds and "eval" in kinds
    evals = [e for e in events if e["event"] == "eval"]
    assert [e["step"] for e in evals] == [4, 8, 12]  # eval_every 4, 3 epochs of 4 steps
    assert all(np.isfinite(e["loss"]) for e in events if e["event"] == "step")
    assert "dev mean macro-F1" in (run / "train.log").read_text(encoding="utf-8")
    assert (run / "checkpoints" / "last" / "optimizer.safetensors").is_file()
    assert (run / "checkpoints" / "best" / "model.safetensors").is_file()
    assert (run / "model.fp32.onnx").is_file()
    assert (run / "reports" / "test.md").is_file() and (run / "reports" / "test-reliability-sentiment.png").is_file()
    best = max(evals, key=lambda e: e["dev_mean_macro_f1"])
    assert result.best_step == best["step"]
    # the run's config.json is the recipe with its "auto" settings resolved (tiny_config leaves three)
    resolved = TrainConfig.from_json(run / "config.json")
    assert resolved == tiny_config(tiny_encoder_dir, min_epochs=2, frozen_head=True, probe_heads=True)
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "min_epochs 2 (auto: half of 3 planned epochs)" in log and "frozen_head True (auto:" in log
    assert "probe_heads True (auto: the frozen-encoder head is tried)" in log


def test_identical_seeds_give_identical_metrics(tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path) -> None:
    runs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        config = tiny_config(tiny_encoder_dir, seed=seed, epochs=2)
        runs.append(Trainer(config, run_dir=tmp_path / name).train(_data(splits_dir, config)))
    a, b, c = runs
    assert a.history == b.history
    # (json: empty reliability bins hold NaN, which never compares equal to itself)
    assert json.dumps(a.dev) == json.dumps(b.dev) and json.dumps(a.test) == json.dumps(b.test)
    assert a.test["mean_macro_f1"] == b.test["mean_macro_f1"]
    assert [t.temperature for t in a.schema.tasks] == [t.temperature for t in b.schema.tasks]
    losses = [[json.loads(x).get("loss") for x in (tmp_path / n / "log.jsonl").read_text().splitlines()] for n in "ac"]
    assert losses[0] != losses[1]  # another seed really changes the run


class _Interrupted(Exception):
    pass


def test_resume_continues_exactly(tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_encoder_dir, epochs=3, eval_every=4, checkpoint_every=2)
    data = _data(splits_dir, config, test=False)
    straight = Trainer(config, run_dir=tmp_path / "straight").train(data)

    class Crashing(Trainer):
        def _save_checkpoint(self, kind, state, *args, **kwargs):  # type: ignore[no-untyped-def]
            super()._save_checkpoint(kind, state, *args, **kwargs)
            if kind == "last" and state.step == 6:
                raise _Interrupted

    with pytest.raises(_Interrupted):
        Crashing(config, run_dir=tmp_path / "resumed").train(data)
    resumed = Trainer(config, run_dir=tmp_path / "resumed").train(data, resume=True)
    assert resumed.history == straight.history
    assert json.dumps(resumed.dev) == json.dumps(straight.dev)
    assert "resumed from" in (tmp_path / "resumed" / "train.log").read_text(encoding="utf-8")

    changed = TrainConfig(**{**config.__dict__, "learning_rate": 1e-2})
    with pytest.raises(ValueError, match="learning_rate"):
        Trainer(changed, run_dir=tmp_path / "resumed").train(data, resume=True)

    # a checkpoint written before a recipe field existed resumes while the field has its default
    state_path = tmp_path / "resumed" / "checkpoints" / "last" / "state.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    del state["config"]["warmup_ratio"]
    state_path.write_text(json.dumps(state), encoding="utf-8")
    assert config.warmup_ratio == TrainConfig.warmup_ratio
    again = Trainer(config, run_dir=tmp_path / "resumed").train(data, resume=True)
    assert again.history == straight.history
    other = TrainConfig(**{**config.__dict__, "warmup_ratio": 0.3})
    with pytest.raises(ValueError, match="warmup_ratio"):
        Trainer(other, run_dir=tmp_path / "resumed").train(data, resume=True)


def test_validation_happens_before_any_model_is_loaded(tmp_path: Path) -> None:
    rows = make_records(10, partial=False)
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    for r in rows:
        r["sentiment"] = "neutral"
    one_class = write_jsonl(tmp_path / "one-class.jsonl", rows)
    dev = write_jsonl(tmp_path / "dev.jsonl", make_records(4, 100))
    with pytest.raises(DataValidationError, match="only one class"):
        load_annotations([one_class], [dev])
    config = TrainConfig(base_model=str(tmp_path / "no-such-model"), progress=False)
    with pytest.raises(DataValidationError, match="no dev file"):
        Trainer(config, run_dir=tmp_path / "run").train(load_annotations([train]))
    assert not (tmp_path / "run").exists()


def test_null_labels_are_masked_in_the_loss() -> None:
    torch.manual_seed(0)
    multi = TaskSpec("topics", "multi_label", ("a", "b"), "topics")
    single = TaskSpec("sentiment", "single_label", ("n", "u", "p"), "sentiment")
    binary = TaskSpec("cta", "binary", ("false", "true"), "cta")
    cases = [
        (multi, torch.randn(4, 2), torch.tensor([[1.0, 0], [0, 1], [1, 1], [0, 0]])),
        (single, torch.randn(4, 3), torch.tensor([0, 2, 1, 1])),
        (binary, torch.randn(4, 1), torch.tensor([1.0, 0.0, 1.0, 0.0])),
    ]
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
    keep = mask.bool()
    for task, logits, targets in cases:
        logits.requires_grad_(True)
        masked = task_loss(logits, targets, mask, task)
        subset = task_loss(logits[keep], targets[keep], torch.ones(2), task)
        assert masked.item() == pytest.approx(subset.item())
        other = targets.clone()
        other[~keep] = 1 - other[~keep] if task.type != "single_label" else 0
        assert task_loss(logits, other, mask, task).item() == pytest.approx(masked.item())
        masked.backward()
        assert torch.all(logits.grad[~keep] == 0) and torch.any(logits.grad[keep] != 0)
        weighted = task_loss(logits, targets, mask, task, torch.full((task.n_outputs,), 3.0))
        assert weighted.item() != pytest.approx(masked.item()) or task.type == "single_label"
    none_annotated = task_loss(torch.randn(2, 3, requires_grad=True), torch.tensor([0, 1]), torch.zeros(2), single)
    assert none_annotated.item() == 0.0
    total, parts = multitask_loss(
        {"topics": cases[0][1], "sentiment": cases[1][1]},
        {"topics": cases[0][2], "sentiment": cases[1][2]},
        {"topics": mask, "sentiment": torch.zeros(4)},
        ModelSchema((multi, single)),
        task_weights={"topics": 2.0},
    )
    assert parts["sentiment"] == 0.0 and total.item() == pytest.approx(2 * parts["topics"], rel=1e-6)


def test_layers_can_be_truncated_and_embeddings_frozen(
    tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path
) -> None:
    encoder = load_encoder(tiny_encoder_dir, num_layers=1)
    assert len(encoder.encoder.layer) == 1 and encoder.config.num_hidden_layers == 1
    with pytest.raises(ValueError, match="num_layers"):
        load_encoder(tiny_encoder_dir, num_layers=5)

    config = tiny_config(tiny_encoder_dir, num_layers=1, freeze_embeddings=True, epochs=1)
    trainer = Trainer(config, run_dir=tmp_path / "run")
    trainer.train(_data(splits_dir, config, test=False))
    assert isinstance(trainer.model, MultiTaskClassifier)
    assert len(trainer.model.encoder.encoder.layer) == 1
    before = load_encoder(tiny_encoder_dir)
    np.testing.assert_array_equal(
        word_embeddings(trainer.model.encoder).weight.detach().numpy(), word_embeddings(before).weight.detach().numpy()
    )


def test_length_bucketed_batches_cover_everything_once() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 100, 203).tolist()
    batches = length_bucketed_batches(lengths, 8, np.random.default_rng(1), bucket_batches=5)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(203)) and len(batches) == 26
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    shuffled = [list(range(203))[k : k + 8] for k in range(0, 203, 8)]
    assert spread < np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in shuffled]) / 2
    assert batches == length_bucketed_batches(lengths, 8, np.random.default_rng(1), bucket_batches=5)


def test_config_json_round_trip_and_the_shipped_recipe(tmp_path: Path) -> None:
    config = TrainConfig(max_length=64, window_stride=32, num_layers=6, task_weights={"topics": 2.0})
    assert TrainConfig.from_json(config.to_json(tmp_path / "c.json")) == config
    shipped = TrainConfig.from_json(REPO / "training" / "configs" / "default.json")
    assert [t.name for t in shipped.tasks] == ["topics", "sentiment", "call_to_action", "cta_type"]
    assert shipped.tasks[3].given is not None and shipped.tasks[3].given.to_dict() == {
        "task": "call_to_action",
        "label": "true",
    }
    assert shipped.tasks[0].labels == ("education", "health", "local_administration")
    with pytest.raises(ValueError, match="unknown training config key"):
        TrainConfig.from_dict({"learning_rte": 1e-4})
    with pytest.raises(ValueError, match="window_stride"):
        TrainConfig(max_length=16, window_stride=15)
    with pytest.raises(ValueError, match="min_threshold_positives"):
        TrainConfig(min_threshold_positives=0)
    with pytest.raises(ValueError, match="threshold_shrinkage"):
        TrainConfig(threshold_shrinkage=-1)
    with pytest.raises(ValueError, match="sensitive_precision"):
        TrainConfig(sensitive_precision="int4")
    with pytest.raises(ValueError, match="fp16_first_layers"):
        TrainConfig(fp16_first_layers=-1)
    # the export choices do not stop a finished run from being exported again with others (--resume)
    assert "sensitive_precision" not in TrainConfig().fingerprint()


def test_recipe_command_smoke(tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path) -> None:
    # the recipe's export settings reach the graph: per-token int8 for every MatMul the per-call
    # scale would coarsen, residual LayerNorms left apart (the teacher recipe's choices)
    config = tiny_config(
        tiny_encoder_dir, epochs=1, fp16_first_layers=1, sensitive_precision="int8_rows", skip_layer_norm_fusion=False
    )
    config_path = config.to_json(tmp_path / "recipe.json")
    out, run = tmp_path / "model", tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "training" / "train_model.py"),
            "--config",
            str(config_path),
            "--data-dir",
            str(splits_dir),
            "--out",
            str(out),
            "--run-dir",
            str(run),
            "--speed-texts",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name for p in out.iterdir()} == LAYOUT
    comparison = json.loads((run / "comparison.json").read_text(encoding="utf-8"))
    assert set(comparison["tasks"]) == {"topics", "sentiment", "call_to_action"}
    assert comparison["tasks"]["sentiment"]["baseline_macro_f1"] is not None
    assert set(comparison["groups"]) == {"authored", "corpus"}
    assert comparison["speed"]["texts"] == 5 and comparison["speed"]["ms_per_comment_mean"] > 0
    assert comparison["size"]["model_onnx_bytes"] == (out / "model.onnx").stat().st_size
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(out / "model.onnx")).graph
    assert any(n.op_type == "MatMulInteger" and "_rows_" in n.name for n in graph.node)
    assert not any(i.data_type == onnx.TensorProto.FLOAT16 for i in graph.initializer)
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["disabled_optimizers"] == ["SkipLayerNormFusion"]
    assert "Transformer (int8 ONNX) vs TF-IDF baseline" in (run / "comparison.md").read_text(encoding="utf-8")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert "baseline" in metrics and metrics["baseline"]["test"]["n_texts"] == 14
    inputs = json.loads((run / "inputs.json").read_text(encoding="utf-8"))  # the same way in as khmer-civic train
    assert inputs["dev"] == [str(splits_dir / "dev.jsonl")] and inputs["held_out_of_data"] is False

    bad = tmp_path / "bad"
    write_jsonl(bad / "train.jsonl", [{"text": "x", "sentiment": 3}])
    write_jsonl(bad / "dev.jsonl", make_records(3))
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "training" / "train_model.py"),
            "--config",
            str(config_path),
            "--data-dir",
            str(bad),
            "--out",
            str(tmp_path / "m2"),
            "--run-dir",
            str(tmp_path / "r2"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 1 and "sentiment: expected a label string" in proc.stderr
    assert not (tmp_path / "m2").exists()
