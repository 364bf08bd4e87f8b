"""benchmarks/inference.py end to end on tiny models: the fast student's system, --mix, skipping."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCHMARKS / "inference.py"
sys.path.insert(0, str(BENCHMARKS))  # the scripts import their helpers as ``common``

import inference

WORDS = ("សាលារៀន", "គ្រូ", "មន្ទីរពេទ្យ", "ឃុំ", "សូម", "ផ្លូវ", "ទឹក", "ភ្លើង", "ជួយ", "ល្អ", "អាក្រក់", "ថ្លៃ")
ROUND1 = ("t00", "t03", "t05", "t08", "t11")


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test split of 12 Khmer texts, five of them listed as round 1's test ids."""
    out = tmp_path_factory.mktemp("splits")
    records = [{"id": f"t{i:02d}", "text": " ".join(WORDS[i:] + WORDS[:i][: i % 4])} for i in range(len(WORDS))]
    (out / "test.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    ids = {"train": [], "dev": [], "test": [*ROUND1, "gone-since"]}
    (out / "round1_ids.json").write_text(json.dumps(ids), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny model with other weights, standing in for the distilled student."""
    from tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("student") / "tiny-fast", seed=7)


def run_benchmark(tmp_path: Path, model: Path, fast: Path, splits: Path, *extra: str) -> tuple[dict, str]:
    out = tmp_path / "inference.json"
    command = [sys.executable, str(SCRIPT), "--model", str(model), "--fast-model", str(fast), "--splits", str(splits)]
    command += ["--systems", "onnx-int8,fast-int8", "--threads", "1", "--repeats", "1", "--retries", "0"]
    command += ["--out", str(out), *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


def test_round1_mix_keeps_only_the_listed_test_texts_in_split_order(splits: Path) -> None:
    all_texts = inference.mix_source_texts(splits, "test")
    round1 = inference.mix_source_texts(splits, "round1")
    assert len(all_texts) == len(WORDS)
    assert round1 == [all_texts[int(i[1:])] for i in ROUND1]


def test_round1_mix_without_the_ids_file_is_an_error(tmp_path: Path, splits: Path) -> None:
    (tmp_path / "test.jsonl").write_text((splits / "test.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="round1_ids.json"):
        inference.mix_source_texts(tmp_path, "round1")


def test_student_is_measured_beside_the_accurate_model_with_ratios(
    tmp_path: Path, tiny_model_dir: Path, student_dir: Path, splits: Path
) -> None:
    report, stdout = run_benchmark(tmp_path, tiny_model_dir, student_dir, splits)

    assert report["settings"]["mix"] == report["inputs"]["mix"] == "round1"
    assert report["inputs"]["source_texts"] == len(ROUND1)
    assert report["inputs"]["texts"] == len(ROUND1)  # five short texts: no long post is added
    assert report["skipped"] == {}
    rows = {r["system"]: r for r in report["results"]}
    assert set(rows) == {"onnx-int8", "fast-int8"}
    teacher, student = rows["onnx-int8"], rows["fast-int8"]
    assert student["model_file_bytes"] == (student_dir / "model.onnx").stat().st_size
    assert student["ratio_to_int8"]["comments_per_s"] == pytest.approx(
        student["comments_per_s"] / teacher["comments_per_s"]
    )
    assert student["ratio_to_int8"]["model_file_bytes"] == pytest.approx(
        student["model_file_bytes"] / teacher["model_file_bytes"]
    )
    assert 0.0 <= student["same_decisions_as_int8"]["all_tasks"] <= 1.0
    for key in ("import_s", "load_s", "rss_after_load_mb", "peak_rss_mb", "latency_p50_ms"):
        assert student[key] is not None and student[key] >= 0

    assert "Inputs: the `round1` mix, built from the 5 round-1 test texts" in stdout
    assert stdout.count("fast student int8 ONNX, CivicClassifier") == 2  # speed and detail tables
    assert "Fast student (" in stdout
    assert "Not measured" not in stdout


def test_missing_student_is_skipped_and_the_test_mix_uses_every_text(
    tmp_path: Path, tiny_model_dir: Path, splits: Path
) -> None:
    missing = tmp_path / "no-such-model"
    report, stdout = run_benchmark(tmp_path, tiny_model_dir, missing, splits, "--mix", "test")

    assert report["settings"]["mix"] == report["inputs"]["mix"] == "test"
    assert report["inputs"]["source_texts"] == len(WORDS)
    assert report["inputs"]["texts"] == len(WORDS) + 1  # plus one long post (5% of the mix)
    assert set(report["skipped"]) == {"fast-int8"}
    assert [r["system"] for r in report["results"]] == ["onnx-int8"]
    assert "fast-int8" not in report["systems"]
    assert "Not measured: `fast-int8`" in stdout and str(missing) in stdout
    assert "Fast student (" not in stdout
    assert "Inputs: the `test` mix, built from all 12 texts of the test split" in stdout
