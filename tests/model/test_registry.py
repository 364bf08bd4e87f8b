"""Bundled models by name (khmer_civic.model.registry) and CivicClassifier.load(NAME)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from khmer_civic.model import registry
from khmer_civic.model.classifier import CivicClassifier, default_model_dir
from khmer_civic.model.config import ConfigFormatError, ModelNotFoundError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def bundled(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder with an index naming one installed model (``big``, the default, alias ``a``),
    a second installed one (``small``) and one not installed (``planned``); the only root looked in."""
    root = tmp_path / "models"
    shutil.copytree(tiny_model_dir, root / "big-dir")
    shutil.copytree(tiny_model_dir, root / "small-dir")
    write_index(
        root,
        {
            "default": "big",
            "models": [
                {"name": "big", "directory": "big-dir", "aliases": ["a"], "description": "the big one"},
                {"name": "small", "directory": "small-dir"},
                {"name": "planned", "directory": "planned-dir"},
            ],
        },
    )
    monkeypatch.setattr(registry, "model_roots", lambda: [tmp_path / "nothing-here", root])
    return root


def write_index(root: Path, data: object) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / registry.INDEX_NAME).write_text(json.dumps(data), encoding="utf-8")


def test_names_aliases_and_the_default_resolve_to_their_directories(bundled: Path) -> None:
    assert registry.resolve_model_dir("big") == bundled / "big-dir"
    assert registry.resolve_model_dir("a") == bundled / "big-dir"
    assert registry.resolve_model_dir("small") == bundled / "small-dir"
    assert registry.resolve_model_dir(None) == bundled / "big-dir" == default_model_dir()
    listed = registry.bundled_models()
    assert [(m.name, m.default, m.installed) for m in listed] == [
        ("big", True, True), ("small", False, True), ("planned", False, False),
    ]
    assert listed[0].to_dict()["aliases"] == ["a"] and listed[0].description == "the big one"


def test_load_by_name_gives_the_same_model_as_by_path(bundled: Path) -> None:
    by_name = CivicClassifier.load("small")
    by_path = CivicClassifier.load(bundled / "small-dir")
    assert by_name.path == by_path.path == bundled / "small-dir"
    text = "សាលារៀន please"
    assert by_name.predict_proba(text) == by_path.predict_proba(text)
    assert CivicClassifier.load().path == bundled / "big-dir"


def test_an_existing_directory_wins_over_a_name(bundled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(bundled / "small-dir", tmp_path / "work" / "big")
    monkeypatch.chdir(tmp_path / "work")
    assert registry.resolve_model_dir("big") == Path("big")
    assert CivicClassifier.load("big").path == Path("big")


def test_a_path_object_is_always_a_path(bundled: Path) -> None:
    # Path("small") is the folder small in the working directory, never the bundled model
    assert registry.resolve_model_dir(Path("small")) == Path("small")
    with pytest.raises(ModelNotFoundError, match="does not exist or is not a directory"):
        CivicClassifier.load(Path("small"))


def test_unknown_names_and_missing_models_are_clear_errors(bundled: Path) -> None:
    with pytest.raises(ModelNotFoundError) as unknown:
        CivicClassifier.load("nope")
    message = str(unknown.value)
    assert "'nope'" in message and "big (also a) [default]" in message and "planned [not installed]" in message
    with pytest.raises(ModelNotFoundError, match="bundled model 'planned' is not installed") as planned:
        CivicClassifier.load("planned")
    assert str(bundled / "planned-dir") in str(planned.value)
    # a value that looks like a path is a path: its absence is reported as a missing directory
    for value in ("./nope", "some/where", str(bundled / "nope")):
        with pytest.raises(ModelNotFoundError, match="does not exist or is not a directory"):
            CivicClassifier.load(value)


def test_a_missing_default_names_where_it_was_looked_for(bundled: Path) -> None:
    write_index(bundled, {"default": "planned", "models": [{"name": "planned", "directory": "planned-dir"}]})
    with pytest.raises(ModelNotFoundError, match="default model 'planned'") as missing:
        default_model_dir()
    assert "planned-dir" in str(missing.value) and "nothing-here" in str(missing.value)


@pytest.mark.parametrize(
    ("index", "problem"),
    [
        ({"default": "x", "models": []}, "non-empty list"),
        ({"default": "x", "models": [{"directory": "d"}]}, "needs a 'name'"),
        ({"default": "x", "models": [{"name": "x", "directory": "/abs"}]}, "relative 'directory'"),
        ({"default": "y", "models": [{"name": "x", "directory": "d"}]}, "'default' 'y'"),
        (
            {"default": "x", "models": [{"name": "x", "directory": "d"}, {"name": "z", "directory": "e", "aliases": ["x"]}]},
            "two models",
        ),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_a_broken_index_is_a_config_error(bundled: Path, index: object, problem: str) -> None:
    write_index(bundled, index)
    with pytest.raises(ConfigFormatError, match=problem):
        registry.bundled_models()


def test_without_an_index_the_one_model_directory_is_the_default(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "_models"
    shutil.copytree(tiny_model_dir, root / "khmer-civic-e5-small")
    monkeypatch.setattr(registry, "model_roots", lambda: [tmp_path / "empty", root])
    assert default_model_dir() == root / "khmer-civic-e5-small"
    assert registry.resolve_model_dir("accurate") == root / "khmer-civic-e5-small"


def test_the_checkout_index_names_the_shipped_model() -> None:
    data = json.loads((REPO / "models" / registry.INDEX_NAME).read_text(encoding="utf-8"))
    names = {m["name"]: m["directory"] for m in data["models"]}
    assert {"accurate", "fast"} <= set(names) and data["default"] in names
    assert (REPO / "models" / names["accurate"] / "config.json").is_file()
    assert names[data["default"]] in {p.name for p in (REPO / "models").iterdir() if (p / "config.json").is_file()}


def test_every_installed_checkout_model_loads_by_name_with_the_same_tasks() -> None:
    """The checkout's bundled models (the accurate teacher and the distilled student) load by
    their names, pass their manifest check, and decide the same tasks with the same labels."""
    data = json.loads((REPO / "models" / registry.INDEX_NAME).read_text(encoding="utf-8"))
    installed = [m["name"] for m in data["models"] if (REPO / "models" / m["directory"] / "config.json").is_file()]
    assert "accurate" in installed
    schemas = {}
    for name in installed:
        clf = CivicClassifier.load(name, intra_op_threads=1)
        assert clf.path == (REPO / "models" / {m["name"]: m["directory"] for m in data["models"]}[name]).resolve()
        prediction = clf.predict("សាលារៀនភូមិយើងខ្វះគ្រូ")
        assert prediction.ok and set(prediction.labels) == {t.name for t in clf.config.schema.tasks}
        schemas[name] = [(t.name, t.type, tuple(t.labels)) for t in clf.config.schema.tasks]
    assert all(schema == schemas["accurate"] for schema in schemas.values())
