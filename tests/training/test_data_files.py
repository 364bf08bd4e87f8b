"""The project's annotation data files.

Covers training/data/annotations/*.jsonl (cta_type overlays included), the second-pass files
training/data/agreement/pass2_*.jsonl, the adjudication decisions, training/data/annotated.jsonl,
training/data/splits/{train,dev,test}.jsonl and splits/round1_ids.json. Every one of them is part of
the repository: a missing file fails. Nothing outside the repository is read.
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
ADJUDICATION_FILES = sorted((DATA / "agreement").glob("adjudication*.jsonl"))
ANNOTATED = DATA / "annotated.jsonl"
SPLIT_FILES = {name: DATA / "splits" / f"{name}.jsonl" for name in SPLITS}
ROUND1_IDS = DATA / "splits" / "round1_ids.json"
ROUND3_IDS = DATA / "splits" / "round3_ids.json"
FROZEN_IDS = (ROUND1_IDS, ROUND3_IDS)  # every later split keeps these
# sha256 of each round-1 split's sorted ids, one a line (make_splits.ids_digest): the round-1 splits the
# shipped model was trained and tested on. round1_ids.json must keep exactly these, so that old and new
# models compare on the same round-1 test split.
ROUND1_DIGESTS = {
    "train": "e763c0885d93873fe65eb226c599ea46c8d5e674e53e08af30e1773bec925d7e",
    "dev": "93687876b86ac4acb224e36f0da40da94584139ccf7381a40b223ab8939602d4",
    "test": "835144c35e3b5ea66f3b41bea2e982f7f118b25abb7f031a664e35b7c567babf",
}

# The same for round3_ids.json: every text of rounds 1-3 in the split model v2 was trained and tested on.
# Relabelling a text (an adjudication) must move no text between splits, or v2's test figures would be
# measured on texts it was trained on.
ROUND3_DIGESTS = {
    "train": "27fa67bf1829f09f2270442693ed8e99923f418bf7984a7df7d5aa057ad61c6c",
    "dev": "a812340873b6df51bd1be8eadc66060696746a0c1e972ea9b47aaa160fc8fc96",
    "test": "70ac99b04b33cfa2147707066cc22c50cb4bb807460243708ffbcf14d4eb4c61",
}


annolib = load_tool("annolib")
adjudicate = load_tool("adjudicate")
make_splits = load_tool("make_splits")


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


def test_overlays_are_recognised() -> None:
    overlays = [p for p in ANNOTATION_FILES if annolib.is_overlay_file(p)]
    assert overlays, "the round-1 cta_type overlays (annotations/cta_type_r1_*.jsonl) are missing"
    result = _assert_valid(overlays)
    assert result.overlays and not result.records


@pytest.mark.parametrize("path", ADJUDICATION_FILES, ids=[p.name for p in ADJUDICATION_FILES])
def test_adjudication_decisions_are_valid(path: Path) -> None:
    assert adjudicate.read_decisions([path])


def _merge_inputs() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    records = [r.record for r in annolib.load_records(ANNOTATION_FILES)]
    overlays = {k: v.record for k, v in annolib.load_overlays(ANNOTATION_FILES).items()}
    decisions = {k: v.record for k, v in adjudicate.read_decisions(ADJUDICATION_FILES).items()}
    return records, decisions, overlays


def test_annotated_set_is_exactly_the_merge_of_its_inputs() -> None:
    _require(ANNOTATED)
    records, decisions, overlays = _merge_inputs()
    merged = adjudicate.merge(records, decisions, overlays)  # raises on an overlay for a text that is not a call to action
    on_disk = _records(ANNOTATED)
    assert [r["id"] for r in on_disk] == [r["id"] for r in merged], "annotated.jsonl is out of date (rerun adjudicate.py)"
    stale = [a["id"] for a, b in zip(on_disk, merged) if a != b]
    assert not stale, f"annotated.jsonl differs from the merge of its inputs (rerun adjudicate.py): {stale[:5]}"


def test_annotated_records_carry_cta_type_where_call_to_action_is_judged() -> None:
    records = _records(ANNOTATED)
    missing_field = [r["id"] for r in records if "cta_type" not in r]
    assert not missing_field, f"adjudicate.py writes cta_type on every record: {missing_field[:5]}"
    assert all(r["cta_type"] == [] for r in records if r["call_to_action"] is False)
    _require(ROUND1_IDS)
    round1 = {i for ids in json.loads(ROUND1_IDS.read_text(encoding="utf-8")).values() for i in ids}
    untyped = [r["id"] for r in records if r["id"] in round1 and r["call_to_action"] is True and not r["cta_type"]]
    assert not untyped, f"round-1 calls to action without cta_type: {untyped[:5]}"


def test_every_record_has_a_known_genre() -> None:
    unknown = sorted({str(r.get("source")) for r in _records(ANNOTATED) if annolib.genre_of(r) == "other"})
    assert not unknown, f"sources with no genre (add them to annolib.SOURCE_GENRES): {unknown[:5]}"


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
        excluded = {e["id"] for e in _manifest().get("excluded", [])}
        in_splits = sorted(r["id"] for records in splits.values() for r in records)
        expected = sorted(r["id"] for r in _records(ANNOTATED) if r["id"] not in excluded)
        assert in_splits == expected, "splits are out of date (rerun make_splits.py)"


def _manifest() -> dict[str, Any]:
    path = DATA / "splits" / "manifest.json"
    _require(path)
    return json.loads(path.read_text(encoding="utf-8"))


def test_split_records_carry_the_final_labels() -> None:
    final = {r["id"]: r for r in _records(ANNOTATED)}
    stale = []
    for name, records in _split_records().items():
        for r in records:
            f = final.get(r["id"])
            tasks = [t for t in (*annolib.TASK_FIELDS, "cta_type") if t in r]  # split files may predate cta_type
            if f is None or r["text"] != f["text"] or any(r[t] != f.get(t) for t in tasks):
                stale.append((name, r["id"]))
    assert not stale, f"split records whose labels differ from annotated.jsonl (rerun make_splits.py): {stale[:5]}"


def test_no_article_spans_two_splits() -> None:
    split_of_doc: dict[str, str] = {}
    crossing = []
    for name, records in _split_records().items():
        for r in records:
            doc = annolib.doc_id_of(r)
            if doc is not None and split_of_doc.setdefault(doc, name) != name:
                crossing.append((doc, split_of_doc[doc], name))
    assert not crossing, f"paragraphs of one article in two splits: {crossing[:5]}"


def test_round1_splits_are_unchanged() -> None:
    _require(ROUND1_IDS)
    round1 = json.loads(ROUND1_IDS.read_text(encoding="utf-8"))
    assert {name: make_splits.ids_digest(round1[name]) for name in SPLITS} == ROUND1_DIGESTS, (
        "splits/round1_ids.json no longer lists the round-1 splits"
    )
    splits = {name: {r["id"] for r in records} for name, records in _split_records().items()}
    for name in SPLITS:
        moved = sorted(set(round1[name]) - splits[name])
        assert not moved, f"round-1 {name} texts no longer in {name}: {moved[:5]} (make_splits.py --keep {ROUND1_IDS.name})"
    new_in_test = splits["test"] - set(round1["test"])
    assert not new_in_test & (set(round1["train"]) | set(round1["dev"]))


def test_round3_splits_are_unchanged() -> None:
    _require(ROUND3_IDS)
    round3 = json.loads(ROUND3_IDS.read_text(encoding="utf-8"))
    assert {name: make_splits.ids_digest(round3[name]) for name in SPLITS} == ROUND3_DIGESTS, (
        "splits/round3_ids.json no longer lists the splits model v2 was trained and tested on"
    )
    splits = {name: {r["id"] for r in records} for name, records in _split_records().items()}
    for name in SPLITS:
        moved = sorted(set(round3[name]) - splits[name])
        assert not moved, f"{name} texts of rounds 1-3 no longer in {name}: {moved[:5]} (make_splits.py --keep {ROUND3_IDS.name})"


def test_near_duplicates_stay_in_one_split() -> None:
    splits = _split_records()
    make_splits = load_tool("make_splits")
    rows = [(name, r) for name in SPLITS for r in splits[name]]
    groups = make_splits.near_duplicate_groups([r["text"] for _, r in rows], containment=0.0)
    split_of_group: dict[int, str] = {}
    crossing = []
    for group, (name, r) in zip(groups, rows):
        if split_of_group.setdefault(group, name) != name:
            crossing.append(r["id"])
    assert not crossing, f"near-duplicate texts span two splits: {crossing[:5]}"
    # a text mostly contained in another shares its split, except between round-1 texts (frozen before that rule)
    round1 = {i for ids in json.loads(ROUND1_IDS.read_text(encoding="utf-8")).values() for i in ids}
    keys = [make_splits.match_key(r["text"]) for _, r in rows]
    grams = [make_splits.shingles(k, make_splits.SHINGLE_SIZE) if k else frozenset() for k in keys]
    contained = [
        (rows[i][1]["id"], rows[j][1]["id"])
        for i, j in make_splits.containment_pairs(grams)
        if rows[i][0] != rows[j][0] and not {rows[i][1]["id"], rows[j][1]["id"]} <= round1
    ]
    assert not contained, f"texts contained in texts of another split: {contained[:5]}"


def _keep_files(manifest: dict[str, Any]) -> list[Path]:
    """The --keep files the splits were made with (the manifest names them); round 1 and rounds 1-3 among them."""
    files = [ROOT / p for p in manifest["kept"]["from"]]
    assert set(FROZEN_IDS) <= set(files), f"the splits must keep {[str(p) for p in FROZEN_IDS]}"
    return files


def test_split_manifest_matches_the_split_files() -> None:
    splits = _split_records()
    manifest = _manifest()
    assert manifest["split_records"] == {name: len(v) for name, v in splits.items()}
    if "kept" in manifest:  # made with --keep: the kept ids are those of the files it names
        kept = make_splits.read_all_kept_ids(_keep_files(manifest))
        assert manifest["kept"]["ids_sha256"] == {
            name: make_splits.ids_digest([i for i, s in kept.items() if s == name]) for name in SPLITS
        }


def test_make_splits_reproduces_the_split_files() -> None:
    """make_splits.py, run on annotated.jsonl with the manifest's settings and the kept ids it names (rounds 1,
    1-3, 1-4 ...), gives exactly the committed splits (so a new round never moves an earlier text)."""
    manifest = _manifest()
    target = manifest.get("test_news_web", {})
    splits, _ = make_splits.make_splits(
        _records(ANNOTATED),
        manifest["seed"],
        manifest["fractions"],
        manifest["near_duplicate"]["jaccard"],
        kept=make_splits.read_all_kept_ids(_keep_files(manifest)),
        test_news_web=target.get("target", make_splits.TEST_NEWS_WEB_TARGET),
        max_test_share=target.get("max_test_share", make_splits.MAX_TEST_SHARE),
        new_texts_to=manifest.get("new_texts_to", {}).get("split"),
    )
    on_disk = _split_records()
    for name in SPLITS:
        assert [r["id"] for r in splits[name]] == [r["id"] for r in on_disk[name]], name
