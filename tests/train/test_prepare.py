"""khmer_civic.train.prepare and paths: what ``khmer-civic train`` and ``training/train_model.py`` do
before training (no model is trained here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from train_fixtures import make_records, write_jsonl, write_labels_csv  # noqa: E402

from khmer_civic.train import data as data_module  # noqa: E402
from khmer_civic.train import paths  # noqa: E402
from khmer_civic.train.data import load_annotations  # noqa: E402
from khmer_civic.train.prepare import (  # noqa: E402
    HeldOutDataError,
    TrainingRequest,
    TrainingSetupError,
    prepare_training,
    resolve_base_model,
)



@pytest.fixture()
def encoder(tmp_path: Path) -> Path:
    """A directory that passes for a local Hugging Face model (nothing is loaded from it here)."""
    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    return folder


@pytest.fixture()
def annotations(tmp_path: Path) -> list[Path]:
    records = make_records(60)
    records[5]["note"] = {"nested": ["kept", 2.5, None]}  # other fields travel into the split files
    return [write_jsonl(tmp_path / "a.jsonl", records[:30]), write_labels_csv(tmp_path / "b.csv", records[30:])]


def test_each_annotation_file_is_read_once_and_the_split_equals_its_files(
    annotations: list[Path], encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real = data_module.read_raw_records

    def counting(path: Any) -> Any:
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(data_module, "read_raw_records", counting)
    notes: list[str] = []
    request = TrainingRequest(data=annotations, out_dir=tmp_path / "model", base_model=str(encoder), overrides={"seed": 3})
    plan = prepare_training(request, notes.append)
    assert sorted(reads) == sorted(str(p) for p in annotations)  # read once each; the split files never
    assert plan.held_out == tmp_path / "model.run" / "data"
    assert [p.name for p in plan.files["dev"]] == ["dev.jsonl"] and plan.fractions == (0.15, 0.15)
    assert any(note.startswith("held out of --data (seed 3): train ") for note in notes)
    assert plan.config.name == "model" and plan.config.base_model == str(encoder.resolve())

    monkeypatch.setattr(data_module, "read_raw_records", real)
    reread = load_annotations(plan.files["train"], plan.files["dev"], plan.files["test"], plan.config.tasks)
    assert reread.schema == plan.data.schema
    assert reread.splits == plan.data.splits  # the data trained on is what the split files hold
    inputs = plan.inputs()
    assert inputs["held_out_of_data"] is True and inputs["train"] == [str(plan.held_out / "train.jsonl")]
    assert not (plan.run_dir / "inputs.json").exists()  # written when the run starts


def test_with_dev_files_nothing_is_held_out(annotations: list[Path], encoder: Path, tmp_path: Path) -> None:
    dev = write_jsonl(tmp_path / "dev.jsonl", make_records(12, 100))
    request = TrainingRequest(data=annotations, dev=[dev], out_dir=tmp_path / "m", base_model=str(encoder))
    plan = prepare_training(request)
    assert plan.held_out is None and plan.files == {"train": annotations, "dev": [dev], "test": []}
    assert plan.inputs()["dev_fraction"] is None and not (tmp_path / "m.run").exists()


def test_problems_before_any_work(annotations: list[Path], encoder: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingSetupError, match="--run-dir must lie outside"):
        prepare_training(TrainingRequest(data=annotations, out_dir=tmp_path / "m", run_dir=tmp_path / "m" / "run"))
    few = write_jsonl(tmp_path / "few.jsonl", make_records(5, partial=False))
    with pytest.raises(TrainingSetupError, match="5 texts are too few to hold out a dev split: pass --dev FILE"):
        prepare_training(TrainingRequest(data=[few], out_dir=tmp_path / "m", base_model=str(encoder)))
    bad = tmp_path / "bad.json"
    bad.write_text('{"learning_rte": 1}', encoding="utf-8")
    with pytest.raises(TrainingSetupError, match=r"bad.json: unknown training config key\(s\): \['learning_rte'\]"):
        prepare_training(TrainingRequest(data=annotations, out_dir=tmp_path / "m", config_path=bad))


def test_a_label_left_only_in_dev_after_the_split(
    annotations: list[Path], encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from khmer_civic.train import prepare

    def unlucky(examples: list[Any], tasks: Any, **_: Any) -> dict[str, list[Any]]:
        rare = [ex for ex in examples if "agriculture" in (ex.labels["topics"] or [])]
        return {"train": [ex for ex in examples if ex not in rare], "dev": rare, "test": []}

    monkeypatch.setattr(prepare, "split_examples", unlucky)
    with pytest.raises(HeldOutDataError) as caught:
        prepare_training(TrainingRequest(data=annotations, out_dir=tmp_path / "m", base_model=str(encoder)))
    problem = caught.value.problems[0]
    assert problem.file == str(tmp_path / "m.run" / "data" / "dev.jsonl") and problem.line == 1  # in the split file
    assert "agriculture" in problem.message and "never seen in the training split" in problem.message


def test_default_locations_outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.default_encoder_dir() == tmp_path / "xdg" / "khmer-civic" / "e5-small-cut"
    assert paths.default_run_dir("x") == tmp_path / "xdg" / "khmer-civic" / "runs" / "x"
    assert paths.default_recipe_file() is None and paths.project_splits_dir() is None
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert paths.cache_dir() == Path.home() / ".cache" / "khmer-civic"


def test_default_locations_in_the_checkout() -> None:
    root = paths.checkout_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert paths.default_encoder_dir() == root / "training" / "cache" / "e5-small-cut"
    assert paths.default_recipe_file() == root / "training" / "configs" / "default.json"


def test_outside_a_checkout_the_default_recipe_is_the_accurate_models_not_the_default_students(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from khmer_civic.model import registry
    from khmer_civic.train.prepare import read_recipe

    root = tmp_path / "_models"
    recorded = {"student-dir": {"num_layers": 2, "temperature": 2.0}, "teacher-dir": {"epochs": 4, "seed": 7}}
    for folder, config in recorded.items():
        (root / folder).mkdir(parents=True)
        (root / folder / "config.json").write_text("{}", encoding="utf-8")
        (root / folder / "metrics.json").write_text(json.dumps({"training": {"config": config}}), encoding="utf-8")
    index = {"default": "fast", "models": [{"name": "fast", "directory": "student-dir"},
                                            {"name": "accurate", "directory": "teacher-dir"}]}  # fmt: skip
    (root / registry.INDEX_NAME).write_text(json.dumps(index), encoding="utf-8")
    monkeypatch.setattr(registry, "model_roots", lambda: [root])
    monkeypatch.setattr(paths, "checkout_root", lambda: None)

    recipe = read_recipe(None)
    assert recipe.settings == {"epochs": 4, "seed": 7} and "teacher-dir" in recipe.source


def test_the_default_encoder_goes_where_it_is_asked(tmp_path: Path, encoder: Path) -> None:
    assert resolve_base_model(None, "", encoder_dir=encoder) == str(encoder)  # present: used as it is
    assert resolve_base_model(None, paths.DEFAULT_BASE_MODEL, encoder_dir=encoder) == str(encoder)
    assert resolve_base_model(str(encoder), "ignored") == str(encoder.resolve())
    with pytest.raises(TrainingSetupError, match="no such directory"):
        resolve_base_model(None, "./nowhere")
    with pytest.raises(TrainingSetupError, match="not a Hugging Face model directory"):
        resolve_base_model(str(tmp_path), "")


def test_split_files_hold_what_the_data_holds(tmp_path: Path) -> None:
    from khmer_civic.train.data import RecordCache, read_examples

    records = make_records(8)
    records[2]["meta"] = {"nested": [1, 2.5, None]}
    examples = read_examples([write_jsonl(tmp_path / "x.jsonl", records)])
    cache = RecordCache()
    tasks = data_module.DEFAULT_TASKS
    path = cache.write(examples, tasks, tmp_path / "out" / "split.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[2])["meta"] == {"nested": [1, 2.5, None]}
    assert read_examples([path]) == data_module._parse_files([path], tasks, [], cache)


def test_default_recipe_schedule_follows_the_data_unless_the_project_data_is_added(
    annotations: list[Path], encoder: Path, tmp_path: Path
) -> None:
    from khmer_civic.train.auto import AUTO, AUTO_FIELDS

    shipped = json.loads((paths.default_recipe_file() or Path()).read_text(encoding="utf-8"))
    notes: list[str] = []
    own = prepare_training(TrainingRequest(data=annotations, out_dir=tmp_path / "m1", base_model=str(encoder)), notes.append)
    assert all(getattr(own.config, name) == AUTO for name in AUTO_FIELDS)
    assert own.config.batch_size == shipped["batch_size"] and own.config.max_length == shipped["max_length"]
    assert any("follow the size of the data" in note for note in notes)

    splits = tmp_path / "splits"
    for split, offset in (("train", 1000), ("dev", 1300), ("test", 1400)):
        write_jsonl(splits / f"{split}.jsonl", make_records(40, offset))
    request = TrainingRequest(
        data=annotations, out_dir=tmp_path / "m2", base_model=str(encoder), project_data=True, project_splits=splits
    )
    with_project = prepare_training(request)
    assert with_project.config.epochs == shipped["epochs"]
    assert with_project.config.learning_rate == shipped["learning_rate"]
    assert with_project.config.class_weighting == shipped["class_weighting"]

    recipe = tmp_path / "tasks-only.json"
    recipe.write_text(json.dumps({"tasks": [{"name": "sentiment", "type": "single_label"}]}), encoding="utf-8")
    request = TrainingRequest(data=annotations, out_dir=tmp_path / "m3", base_model=str(encoder), config_path=recipe)
    assert all(getattr(prepare_training(request).config, name) == AUTO for name in AUTO_FIELDS)
