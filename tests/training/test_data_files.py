"""The project's annotation data files.

Covers training/data/annotations/*.jsonl, the second-pass files training/data/agreement/pass2_*.jsonl,
training/data/annotated.jsonl and training/data/splits/{train,dev,test}.jsonl. Every one of them is
part of the repository: a missing file fails. Nothing outside the repository is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from annotation_tools import load_tool

from khmer_civic.text import normalize

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "training" / "data"

SPLITS = ("train", "dev", "test")
ANNOTATION_FILES = sorted((DATA / "annotations").glob("*.jsonl"))
PASS2_FILES = sorted((DATA / "agreement").glob("pass2_*.jsonl"))
ANNOTATED = DATA / "annotated.jsonl"
SPLIT_FILES = {name: DATA / "splits" / f"{name}.jsonl" for name in SPLITS}


annolib = load_tool("annolib")


def _require(*paths: Path) -> None:
    missing = [str(p.relative_to(ROOT)) for p in paths if not p.is_file()]
    assert not missing, f"missing from the repository: {', '.join(missing)}"


def _records(path: Path) -> list[dict[str, Any]]:
    return [r.record for r in annolib.read_jsonl(path)]


def _assert_valid(paths: list[Path], labels_only: bool = False) -> annolib.Validation:
    result = annolib.validate_files(paths, labels_only=labels_only)
    assert not result.problems, "\n".join(str(p) for p in result.problems[:30])
    return result


@pytest.mark.parametrize("path", ANNOTATION_FILES, ids=[p.name for p in ANNOTATION_FILES])
def test_annotation_file_follows_the_record_format(path: Path) -> None:
    _assert_valid([path])


def test_annotation_ids_are_unique_across_files() -> None:
    assert ANNOTATION_FILES, f"no annotation files in {DATA / 'annotations'}"
    _assert_valid(ANNOTATION_FILES)


@pytest.mark.parametrize("path", PASS2_FILES, ids=[p.name for p in PASS2_FILES])
def test_second_pass_file_has_valid_labels(path: Path) -> None:
    _assert_valid([path], labels_only=True)


def test_annotated_set_is_valid_and_matches_the_annotations() -> None:
    _require(ANNOTATED)
    result = _assert_valid([ANNOTATED])
    assert not result.warnings, "letterless texts belong in the annotation files only"
    records = [r.record for r in result.records]
    assert records, "annotated.jsonl is empty"
    for r in records:
        if r.get("adjudicated"):
            assert isinstance(r.get("adjudication_reason"), str) and r["adjudication_reason"].strip(), r["id"]
    if ANNOTATION_FILES:
        first_pass = {
            r["id"]: r for path in ANNOTATION_FILES if not annolib.is_overlay_file(path) for r in _records(path)
        }
        stale = [r["id"] for r in records if r["id"] not in first_pass or first_pass[r["id"]]["text"] != r["text"]]
        assert not stale, f"annotated.jsonl is out of date (rerun adjudicate.py); e.g. {stale[:5]}"


def _split_records() -> dict[str, list[dict[str, Any]]]:
    _require(*SPLIT_FILES.values())
    return {name: _records(path) for name, path in SPLIT_FILES.items()}


@pytest.mark.parametrize("name", SPLITS)
def test_split_file_follows_the_record_format(name: str) -> None:
    _require(SPLIT_FILES[name])
    result = _assert_valid([SPLIT_FILES[name]])
    assert result.records, f"{name} split is empty"
    assert not result.warnings


def test_splits_are_disjoint_and_complete() -> None:
    splits = _split_records()
    _assert_valid(list(SPLIT_FILES.values()))  # ids unique across the three files
    assert all(splits[name] for name in SPLITS), {name: len(v) for name, v in splits.items()}
    split_of_text: dict[str, str] = {}
    clashes = []
    for name, records in splits.items():
        for r in records:
            key = normalize(r["text"])
            if split_of_text.setdefault(key, name) != name:
                clashes.append((r["id"], split_of_text[key], name))
    assert not clashes, f"the same normalised text in two splits: {clashes[:5]}"
    assert {r["provenance"] for r in splits["test"]} >= {"corpus", "authored"}
    if ANNOTATED.is_file():
        in_splits = sorted(r["id"] for records in splits.values() for r in records)
        assert in_splits == sorted(r["id"] for r in _records(ANNOTATED)), "splits are out of date (rerun make_splits.py)"


def test_near_duplicates_stay_in_one_split() -> None:
    splits = _split_records()
    make_splits = load_tool("make_splits")
    rows = [(name, r) for name in SPLITS for r in splits[name]]
    groups = make_splits.near_duplicate_groups([r["text"] for _, r in rows])
    split_of_group: dict[int, str] = {}
    crossing = []
    for group, (name, r) in zip(groups, rows):
        if split_of_group.setdefault(group, name) != name:
            crossing.append(r["id"])
    assert not crossing, f"near-duplicate texts span two splits: {crossing[:5]}"


def test_split_manifest_matches_the_split_files() -> None:
    splits = _split_records()
    manifest_path = DATA / "splits" / "manifest.json"
    _require(manifest_path)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["split_records"] == {name: len(v) for name, v in splits.items()}
