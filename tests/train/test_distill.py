"""Distillation on the tiny encoder: teacher -> student -> export -> load -> predict (khmer_civic.train.distill)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
onnx = pytest.importorskip("onnx")

from train_fixtures import make_records, tiny_config, write_jsonl  # noqa: E402

from khmer_civic.annotation.near_duplicates import NearDuplicateIndex, match_key  # noqa: E402
from khmer_civic.model.classifier import CivicClassifier  # noqa: E402
from khmer_civic.model.config import load_config  # noqa: E402
from khmer_civic.model.runtime import WindowedRunner  # noqa: E402
from khmer_civic.schema import Given, ModelSchema  # noqa: E402
from khmer_civic.train.data import TaskConfig, load_annotations  # noqa: E402
from khmer_civic.train.distill import (  # noqa: E402
    DistillConfig,
    DistillTrainer,
    distill,
    distillation_data,
    distillation_loss,
    load_teacher_layers,
    soft_targets,
)
from khmer_civic.train.distill_pool import build_pool, read_pool  # noqa: E402
from khmer_civic.train.modeling import MultiTaskClassifier, load_encoder  # noqa: E402
from khmer_civic.train.trainer import Trainer  # noqa: E402

TASKS = (
    TaskConfig("topics", "multi_label"),
    TaskConfig("sentiment", "single_label", ("negative", "neutral", "positive")),
    TaskConfig("call_to_action", "binary"),
    TaskConfig("cta_type", "multi_label", ("engage", "comply", "report", "use_service"), Given("call_to_action", "true")),
)
POOL_LINES = [
    "សាលារៀន ល្អណាស់ please",
    "ឃុំ farm notice",
    "មន្ទីរពេទ្យ bad សូម",
    "គ្រូ school good",
    "health ពេទ្យ អាក្រក់",
    "commune មេភូមិ notice",
    "ស្រូវ កសិករ good",
]


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("distill_splits")
    for name, n, offset in (("train", 36, 0), ("dev", 18, 100), ("test", 18, 200)):
        write_jsonl(root / f"{name}.jsonl", make_records(n, offset, cta_type=True))
    return root


@pytest.fixture(scope="module")
def teacher(tiny_encoder_dir: Path, splits: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A trained, exported 2-layer tiny teacher: (model directory, run directory)."""
    root = tmp_path_factory.mktemp("teacher")
    config = tiny_config(tiny_encoder_dir, tasks=TASKS, epochs=1, eval_every=2)
    data = load_annotations([splits / "train.jsonl"], [splits / "dev.jsonl"], [splits / "test.jsonl"], TASKS)
    Trainer(config, run_dir=root / "run").train(data, root / "model")
    return root / "model", root / "run"


@pytest.fixture(scope="module")
def pool_files(splits: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A text file (new texts, a duplicate, a dev text, a near-duplicate of a test text, a train text)
    and a JSONL file whose record holds two paragraphs."""
    root = tmp_path_factory.mktemp("pool")
    dev_text = json.loads((splits / "dev.jsonl").read_text(encoding="utf-8").splitlines()[3])["text"]
    test_texts = [json.loads(line)["text"] for line in (splits / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    test_text = next(t for t in test_texts if sum("\u1780" <= ch <= "\u17ff" for ch in t) >= 4)
    train_text = json.loads((splits / "train.jsonl").read_text(encoding="utf-8").splitlines()[2])["text"]
    lines = [*POOL_LINES, POOL_LINES[0], dev_text, test_text + " !!", train_text, "hello world"]
    (root / "lines.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    record = {"text": "ព័ត៌មាន ឃុំ សាលារៀន notice\nសូម ចូលរួម មន្ទីរពេទ្យ please"}
    write_jsonl(root / "news.jsonl", [record])
    return [root / "lines.txt", root / "news.jsonl"]


def _config(encoder: Path, teacher: tuple[Path, Path], pool_files: list[Path], **overrides: Any) -> DistillConfig:
    base = tiny_config(encoder, tasks=TASKS, epochs=1, eval_every=3).to_dict()
    settings = {
        **base,
        "name": "tiny-student",
        "num_layers": 1,
        "teacher_model": str(teacher[0]),
        "teacher_checkpoint": str(teacher[1]),
        "pool_files": [str(p) for p in pool_files],
        "pool_min_khmer": 2,
        "temperature": 2.0,
        "alpha": 0.7,
        "teacher_chunk_size": 16,
        **overrides,
    }
    return DistillConfig.from_dict(settings)


def _split_files(splits: Path) -> dict[str, list[Path]]:
    return {name: [splits / f"{name}.jsonl"] for name in ("train", "dev", "test")}


# ------------------------------------------------------------------------------ the pool


def test_the_pool_leaves_out_held_out_texts_their_near_duplicates_and_repeats(pool_files: list[Path], splits: Path) -> None:
    held = [json.loads(line)["text"] for n in ("dev", "test") for line in (splits / f"{n}.jsonl").read_text().splitlines()]
    known = [json.loads(line)["text"] for line in (splits / "train.jsonl").read_text().splitlines()]
    pool, report = build_pool(pool_files, held_out=held, known=known, min_khmer=2)
    keys = [match_key(item.text) for item in pool]
    assert len(keys) == len(set(keys))  # no repeats
    index = NearDuplicateIndex()
    for text in held:
        index.add(text)
    assert not any(index.matches(item.text) for item in pool)
    assert report.held_out["lines.txt"] == 2 and report.duplicate["lines.txt"] == 1 and report.known["lines.txt"] == 1
    assert report.little_khmer["lines.txt"] == 1  # "hello world"
    assert report.kept["lines.txt"] == len(POOL_LINES) and report.kept["news.jsonl"] == 2  # one text per paragraph
    assert report.total == len(pool) == len(POOL_LINES) + 2
    capped, capped_report = build_pool(pool_files, held_out=held, max_per_file=3, min_khmer=2)
    assert capped_report.kept["lines.txt"] == 3 and len(capped) == 5
    ids = [int(item.id.split(":")[1]) for item in capped if item.source == "lines.txt"]
    assert ids == sorted(ids)  # the sample keeps file order


# ------------------------------------------------------------------------------ pieces


def test_the_student_starts_from_the_teachers_first_layers(tiny_encoder_dir: Path, teacher: tuple[Path, Path]) -> None:
    from safetensors.torch import load_file

    schema = load_config(teacher[0]).schema
    student = MultiTaskClassifier(load_encoder(tiny_encoder_dir, 1), schema)
    counts = load_teacher_layers(student, teacher[1])
    weights = load_file(str(teacher[1] / "checkpoints" / "best" / "model.safetensors"))
    own = student.state_dict()
    assert counts["left_out"] > 0 and counts["copied"] == len(own)
    assert not any(".layer.1." in key for key in own)
    for key, value in own.items():
        assert torch.equal(value, weights[key]), key
    other = ModelSchema(
        tuple(t if t.type == "binary" else dataclasses.replace(t, labels=t.labels[:2], thresholds={}) for t in schema.tasks)
    )
    with pytest.raises(ValueError, match="does not fit the student"):
        load_teacher_layers(MultiTaskClassifier(load_encoder(tiny_encoder_dir, 1), other), teacher[1])


def test_the_soft_loss_is_flat_where_student_and_teacher_agree(teacher: tuple[Path, Path]) -> None:
    schema = load_config(teacher[0]).schema
    rng = np.random.default_rng(0)
    raw = {t.name: rng.normal(0, 2, (6, t.n_outputs)) for t in schema.tasks}
    soft = soft_targets(raw, schema, temperature=2.0)
    same = {k: torch.tensor(v, dtype=torch.float32, requires_grad=True) for k, v in raw.items()}
    loss, parts = distillation_loss(same, soft.probs, soft.masks, schema, 2.0)
    loss.backward()
    for name, logits in same.items():
        assert logits.grad is not None and float(logits.grad.abs().max()) < 1e-5, name
    assert parts["sentiment"] == pytest.approx(0.0, abs=1e-6)  # KL of a distribution with itself
    moved = {k: (v.detach() + 1.0).requires_grad_() for k, v in same.items()}
    assert float(distillation_loss(moved, soft.probs, soft.masks, schema, 2.0)[0].detach()) > float(loss.detach())
    # cta_type's soft targets count only where the teacher decides call_to_action true
    cta = schema["call_to_action"]
    decided = (1 / (1 + np.exp(-raw["call_to_action"][:, 0] / cta.temperature))) >= cta.threshold
    assert soft.masks["cta_type"].numpy().astype(bool).tolist() == decided.tolist()
    assert soft.masks["topics"].numpy().tolist() == [1.0] * 6
    zero = {k: torch.zeros_like(v) for k, v in soft.masks.items()}
    assert float(distillation_loss(moved, soft.probs, zero, schema, 2.0)[0].detach()) == 0.0


def test_several_teachers_give_the_mean_of_their_softened_probabilities(teacher: tuple[Path, Path]) -> None:
    schema = load_config(teacher[0]).schema
    rng = np.random.default_rng(1)
    first = {t.name: rng.normal(0, 2, (8, t.n_outputs)) for t in schema.tasks}
    second = {t.name: rng.normal(0, 2, (8, t.n_outputs)) for t in schema.tasks}
    alone = [soft_targets(raw, schema, temperature=2.0) for raw in (first, second)]
    both = soft_targets([first, second], [schema, schema], temperature=2.0)
    for task in schema.tasks:
        expected = (alone[0].probs[task.name] + alone[1].probs[task.name]) / 2
        assert torch.allclose(both.probs[task.name], expected), task.name
    # cta_type counts where the mean calibrated call_to_action probability meets the teacher's threshold
    cta = schema["call_to_action"]
    p = [1 / (1 + np.exp(-raw["call_to_action"][:, 0] / cta.temperature)) for raw in (first, second)]
    assert both.masks["cta_type"].numpy().astype(bool).tolist() == ((p[0] + p[1]) / 2 >= cta.threshold).tolist()
    same = soft_targets([first, first], [schema, schema], temperature=2.0)
    assert all(torch.allclose(same.probs[k], alone[0].probs[k]) for k in same.probs)
    with pytest.raises(ValueError, match="teacher schemas"):
        soft_targets([first, second], [schema], temperature=2.0)


def test_an_ensemble_teacher_scores_each_graph_into_its_own_cache(
    tiny_encoder_dir: Path, teacher: tuple[Path, Path], pool_files: list[Path], splits: Path, tmp_path: Path
) -> None:
    second = tmp_path / "second-teacher"
    shutil.copytree(teacher[0], second)
    config = _config(tiny_encoder_dir, teacher, pool_files, extra_teachers=[str(second)], max_steps=2)
    assert DistillConfig.from_dict(config.to_dict()).extra_teachers == (str(second),)
    distill(config, **_split_files(splits), run_dir=tmp_path / "run", out_dir=tmp_path / "model")
    assert sorted((tmp_path / "run" / "teacher").glob("chunk-*.npz")) and sorted((tmp_path / "run" / "teacher-1").glob("chunk-*.npz"))
    for a, b in zip(sorted((tmp_path / "run" / "teacher").glob("chunk-*.npz")), sorted((tmp_path / "run" / "teacher-1").glob("chunk-*.npz")), strict=True):
        with np.load(a) as one, np.load(b) as other:  # the copy's graph gives the same scores
            assert all(np.array_equal(one[name], other[name]) for name in one.files)
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text(encoding="utf-8"))
    assert [t["directory"] for t in metrics["distillation"]["extra_teachers"]] == [str(second)]

    other_windows = tmp_path / "other-windows"
    shutil.copytree(teacher[0], other_windows)
    settings = json.loads((other_windows / "config.json").read_text(encoding="utf-8"))
    settings["window_stride"] = settings["window_stride"] - 1
    (other_windows / "config.json").write_text(json.dumps(settings), encoding="utf-8")
    refused = _config(tiny_encoder_dir, teacher, pool_files, extra_teachers=[str(other_windows)], max_steps=1)
    with pytest.raises(ValueError, match="must share them"):
        distill(refused, **_split_files(splits), run_dir=tmp_path / "run2")


def test_config_round_trips_and_rejects_bad_values(tmp_path: Path) -> None:
    config = DistillConfig(teacher_model="t", pool_files=("a.txt",), num_layers=3, temperature=3.0)
    config.to_json(tmp_path / "c.json")
    assert DistillConfig.from_json(tmp_path / "c.json") == config
    assert {"temperature", "alpha", "teacher_model", "embedding_weight"} <= set(config.fingerprint())
    for bad in ({"temperature": 0}, {"alpha": 1.5}, {"num_layers": None}, {"embedding_weight": -1.0}):
        with pytest.raises(ValueError, match="bad distillation config"):
            DistillConfig(teacher_model="t", **bad)
    with pytest.raises(ValueError, match="sensitive_precision"):  # the export fields are TrainConfig's
        DistillConfig(teacher_model="t", sensitive_precision="int4")
    with pytest.raises(ValueError, match="unknown"):
        DistillConfig.from_dict({"teacher_model": "t", "temprature": 2})


def test_the_checked_in_recipe_reads() -> None:
    recipe = Path(__file__).resolve().parents[2] / "training" / "configs" / "distill.json"
    config = DistillConfig.from_json(recipe)
    assert config.num_layers is not None and config.temperature > 0 and 0 <= config.alpha <= 1


# ------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def distilled(tiny_encoder_dir: Path, teacher: tuple[Path, Path], pool_files: list[Path], splits: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    root = tmp_path_factory.mktemp("student")
    # the shipped recipe's export: down-projections in int8 with a scale per token, residual LayerNorms unfused
    config = _config(
        tiny_encoder_dir, teacher, pool_files, fp16_first_layers=0, sensitive_precision="int8_rows",
        fuse_graph=True, skip_layer_norm_fusion=False,
    )
    result = distill(config, **_split_files(splits), run_dir=root / "run", out_dir=root / "model")
    return result, root


def test_teacher_to_student_to_export_to_load_to_predict(distilled: tuple[Any, Path], teacher: tuple[Path, Path]) -> None:
    result, root = distilled
    student = CivicClassifier.load(root / "model")
    teacher_clf = CivicClassifier.load(teacher[0])
    assert student.labels == teacher_clf.labels
    metrics = json.loads((root / "model" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["training"]["num_layers"] == 1
    assert metrics["distillation"]["student_layers"] == 1 and metrics["distillation"]["pool"]["total"] == len(POOL_LINES) + 2
    assert metrics["distillation"]["teacher"]["name"] == teacher_clf.config.name and "test" in metrics["distillation"]["teacher"]
    assert metrics["test"]["n_texts"] == 18
    graph = onnx.load(str(root / "model" / "model.onnx")).graph
    assert any(n.op_type == "MatMulInteger" and n.name.endswith("_rows_MatMulInteger_8") for n in graph.node)
    assert not any(i.data_type == onnx.TensorProto.FLOAT16 for i in graph.initializer)
    assert not any(n.op_type == "SkipLayerNormalization" for n in graph.node)
    assert student.config.disabled_optimizers == ("SkipLayerNormFusion",)
    texts = ["សាលារៀន please good", "ឃុំ bad", None, "health សូម notice"]
    predictions = student.predict(texts)
    assert predictions[2].status.value == "empty"
    for p in predictions[:2] + predictions[3:]:
        assert p.ok and p.sentiment in student.labels["sentiment"]
        assert set(p.topics) <= set(student.labels["topics"])
        assert isinstance(p.call_to_action, bool)
        assert (p.labels["cta_type"] == []) == (not p.call_to_action)
    events = [json.loads(line) for line in (root / "run" / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    steps = [e for e in events if e["event"] == "step"]
    assert steps and all("sentiment_soft" in e["task_loss"] for e in steps)
    assert all(np.isfinite(e["loss"]) for e in steps)


def test_the_student_can_match_the_teachers_embeddings(
    tiny_encoder_dir: Path, teacher: tuple[Path, Path], pool_files: list[Path], splits: Path, tmp_path: Path
) -> None:
    """embedding_weight > 0: the teacher's pooled embeddings are scored and cached with its logits,
    and every step's loss has an embedding part."""
    embedding = CivicClassifier.load(teacher[0]).config.embedding_output
    assert embedding  # the tiny teacher exports its pooled embedding
    config = _config(tiny_encoder_dir, teacher, pool_files, embedding_weight=1.0, max_steps=3, log_every=1)
    distill(config, **_split_files(splits), run_dir=tmp_path / "run")
    events = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    steps = [e for e in events if e["event"] == "step"]
    assert len(steps) == 3 and all(e["task_loss"]["embedding"] > 0 for e in steps)
    hidden = json.loads((tiny_encoder_dir / "config.json").read_text(encoding="utf-8"))["hidden_size"]
    chunks = sorted((tmp_path / "run" / "teacher").glob("chunk-*.npz"))
    assert chunks
    with np.load(chunks[0]) as stored:
        assert stored[embedding].shape[1] == hidden


def test_embedding_matching_needs_a_teacher_that_exports_embeddings(
    tiny_encoder_dir: Path, teacher: tuple[Path, Path], pool_files: list[Path], splits: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old-teacher"
    shutil.copytree(teacher[0], old)
    settings = json.loads((old / "config.json").read_text(encoding="utf-8"))
    settings.pop("embedding_output")
    (old / "config.json").write_text(json.dumps(settings), encoding="utf-8")
    config = _config(tiny_encoder_dir, (old, teacher[1]), pool_files, embedding_weight=1.0, max_steps=1)
    with pytest.raises(ValueError, match="embedding_output"):
        distill(config, **_split_files(splits), run_dir=tmp_path / "run")


def test_no_dev_or_test_text_is_in_the_student_s_training_pool(distilled: tuple[Any, Path], splits: Path) -> None:
    _, root = distilled
    pool = read_pool(root / "run" / "pool.jsonl")
    index = NearDuplicateIndex()
    for name in ("dev", "test"):
        for line in (splits / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            index.add(json.loads(line)["text"])
    assert pool and not any(index.matches(item.text) for item in pool)


def test_a_resumed_run_reuses_the_pool_and_the_teacher_scores_and_ends_like_an_uninterrupted_one(
    tiny_encoder_dir: Path, teacher: tuple[Path, Path], pool_files: list[Path], splits: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = {"max_steps": 4, "eval_every": 2, "checkpoint_every": 2}
    config = _config(tiny_encoder_dir, teacher, pool_files, **settings)
    files = _split_files(splits)
    whole = distill(config, **files, run_dir=tmp_path / "whole")

    class Stop(Exception):
        pass

    original = DistillTrainer.batch_loss

    def stop_at_step_three(self: DistillTrainer, *args: Any) -> Any:
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            raise Stop
        return original(self, *args)

    monkeypatch.setattr(DistillTrainer, "batch_loss", stop_at_step_three)
    with pytest.raises(Stop):
        distill(config, **files, run_dir=tmp_path / "cut")
    monkeypatch.setattr(DistillTrainer, "batch_loss", original)
    assert (tmp_path / "cut" / "checkpoints" / "last").is_dir()

    def no_scoring(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the teacher scored windows that were cached")

    monkeypatch.setattr(WindowedRunner, "window_outputs", no_scoring)
    resumed = distill(config, **files, run_dir=tmp_path / "cut", resume=True)
    assert resumed.steps == whole.steps == 4
    assert [h["step"] for h in resumed.history] == [2, 4]
    assert resumed.history == whole.history
    log = (tmp_path / "cut" / "train.log").read_text(encoding="utf-8")
    assert "resumed from" in log
    data, _ = distillation_data(config, files["train"], files["dev"], files["test"], tmp_path / "cut")
    assert len(data["train"]) == 36 + len(POOL_LINES) + 2


def test_the_one_command_distils_a_curve_of_students(
    teacher: tuple[Path, Path], pool_files: list[Path], splits: Path, tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "training" / "distill_model.py"
    spec = importlib.util.spec_from_file_location("distill_model", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recipe = _config(tiny_encoder_dir, teacher, [], teacher_model="nowhere", teacher_checkpoint=None)
    recipe.to_json(tmp_path / "recipe.json")
    common = ["--config", tmp_path / "recipe.json", "--teacher", teacher[0], "--teacher-run", teacher[1],
              "--data-dir", splits, "--pool", *pool_files, "--max-steps", 2, "--speed-texts", 3]
    code = module.main([str(a) for a in [*common, "--layers", 1, 2, "--out", tmp_path / "fast", "--run-dir", tmp_path / "runs"]])
    assert code == 0
    curve = (tmp_path / "runs" / "curve.md").read_text(encoding="utf-8")
    assert curve.count("\n") == 4 and "| 1 |" in curve and "| 2 |" in curve  # header, rule, one row per k
    for k in (1, 2):
        assert CivicClassifier.load(tmp_path / f"fast-k{k}").predict("សាលារៀន please").ok
        metrics = json.loads((tmp_path / f"fast-k{k}" / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["training"]["num_layers"] == k
    # the second student reused the first one's pool and teacher scores
    assert (tmp_path / "runs" / "k2" / "teacher" / "meta.json").read_text() == (tmp_path / "runs" / "k1" / "teacher" / "meta.json").read_text()
    assert module.main([str(a) for a in [*common[:2], "--teacher", tmp_path / "missing", "--data-dir", splits,
                                          "--out", tmp_path / "x", "--run-dir", tmp_path / "y"]]) == 2
