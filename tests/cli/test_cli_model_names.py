"""``--model NAME|DIR``: bundled models by name on the command line, and ``info`` listing them."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import one_error_line, run

from khmer_civic.model import registry


@pytest.fixture()
def named_models(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny model bundled as ``fast`` (the default) and ``accurate``, plus a listed ``huge`` that
    is not installed; the only models folder looked in."""
    root = tmp_path / "models"
    shutil.copytree(tiny_model_dir, root / "tiny-fast")
    shutil.copytree(tiny_model_dir, root / "tiny-accurate")
    (root / registry.INDEX_NAME).write_text(
        json.dumps(
            {
                "default": "fast",
                "models": [
                    {"name": "fast", "directory": "tiny-fast", "description": "quick"},
                    {"name": "accurate", "directory": "tiny-accurate", "description": "careful"},
                    {"name": "huge", "directory": "huge-dir", "description": "not shipped"},
                ],
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(registry, "model_roots", lambda: [root])
    return root


@pytest.fixture()
def comments(tmp_path: Path) -> Path:
    path = tmp_path / "comments.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i, text in enumerate(["សាលារៀន please", "គ្រូ good", "", "ឃុំ bad", "health សូម"] * 3):
            writer.writerow([i, text])
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_label_with_a_model_name_equals_label_with_its_directory(
    named_models: Path, comments: Path, tmp_path: Path, workers: str
) -> None:
    by_name, by_path, by_default = tmp_path / "name.csv", tmp_path / "path.csv", tmp_path / "default.csv"
    for output, model in ((by_name, ["--model", "accurate"]), (by_path, ["--model", named_models / "tiny-accurate"])):
        result = run("label", comments, "-o", output, *model, "--workers", workers, "--chunk-size", 4)
        assert result.exit_code == 0, result.output
    assert by_name.read_text(encoding="utf-8") == by_path.read_text(encoding="utf-8")
    # the default (fast) is a copy of the same tiny model: same labels. In this process only:
    # worker processes look for the default in the real models folder, not the patched one.
    result = run("label", comments, "-o", by_default, "--workers", 1, "--chunk-size", 4)
    assert result.exit_code == 0, result.output
    assert by_default.read_text(encoding="utf-8") == by_name.read_text(encoding="utf-8")


def test_info_names_the_model_and_lists_the_bundled_ones(named_models: Path) -> None:
    result = run("info", "--model", "accurate")
    assert result.exit_code == 0, result.output
    assert f"path:        {named_models / 'tiny-accurate'}" in result.stdout
    assert "bundled models (--model NAME):" in result.stdout
    assert "  fast [default]: quick" in result.stdout and "  huge [not installed]: not shipped" in result.stdout
    listed = json.loads(run("info", "--json").stdout)
    assert listed["path"] == str(named_models / "tiny-fast")
    assert [(m["name"], m["default"], m["installed"]) for m in listed["bundled_models"]] == [
        ("fast", True, True), ("accurate", False, True), ("huge", False, False),
    ]


def test_an_unknown_or_missing_model_name_is_one_line(named_models: Path, comments: Path, tmp_path: Path) -> None:
    line = one_error_line(run("label", comments, "-o", tmp_path / "x.csv", "--model", "tiny"), 2)
    assert "no bundled model" in line and "fast [default], accurate, huge [not installed]" in line
    line = one_error_line(run("info", "--model", "huge"), 2)
    assert "bundled model 'huge' is not installed" in line
    assert not (tmp_path / "x.csv").exists()


def test_the_option_help_says_name_or_directory() -> None:
    result = run("label", "--help")
    assert "--model NAME|DIR" in result.stdout and "bundled model's name" in result.stdout
