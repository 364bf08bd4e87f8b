"""benchmarks/student_curve.py: the run logs read at a step, the table, and one run on a tiny teacher."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import their helpers as ``common``
sys.path.insert(0, str(ROOT / "tests" / "train"))  # train_fixtures: the tiny encoder and records

import student_curve

TASKS = ("topics", "sentiment", "call_to_action", "cta_type")


def write_log(path: Path, events: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")


def eval_event(step: int, scores: tuple[float, ...]) -> dict[str, Any]:
    per_task = dict(zip(TASKS, scores))
    return {"event": "eval", "step": step, "dev_mean_macro_f1": sum(scores) / len(scores), "dev_macro_f1": per_task}


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    """k2: evaluated at 1000, 2000 (twice: resumed; the later line counts) and 3000, stopped at 3100
    of 6000; k3: evaluated at 1000 only, stopped at 1500; k6: no run."""
    root = tmp_path / "runs"
    write_log(root / "k2" / "log.jsonl", [
        {"event": "start", "step": 0, "total_steps": 6000},
        {"event": "step", "step": 1000, "loss": 1.0},
        eval_event(1000, (0.5, 0.5, 0.5, 0.1)),
        eval_event(2000, (0.1, 0.1, 0.1, 0.1)),
        {"event": "start", "step": 1900, "total_steps": 6000},
        eval_event(2000, (0.8, 0.6, 0.9, 0.3)),
        eval_event(3000, (0.9, 0.7, 0.9, 0.4)),
        {"event": "step", "step": 3100, "loss": 0.5},
    ])
    write_log(root / "k3" / "log.jsonl", [
        {"event": "start", "step": 0, "total_steps": 6000},
        eval_event(1000, (0.7, 0.6, 0.8, 0.2)),
        {"event": "step", "step": 1500, "loss": 0.7},
    ])
    return root


def test_a_run_is_read_at_the_step_with_its_best_eval_and_last_step(runs: Path) -> None:
    k2 = student_curve.run_quality(runs / "k2", 2000)
    assert k2["at_step"]["tasks"] == dict(zip(TASKS, (0.8, 0.6, 0.9, 0.3)))  # the resumed run's eval
    assert k2["at_step"]["mean"] == pytest.approx(0.65)
    assert k2["best"] == {"step": 3000, "mean": pytest.approx(0.725), "tasks": dict(zip(TASKS, (0.9, 0.7, 0.9, 0.4)))}
    assert k2["last_step"] == 3100 and k2["total_steps"] == 6000
    assert k2["eval_steps"] == [1000, 2000, 3000]

    k3 = student_curve.run_quality(runs / "k3", 2000)
    assert k3["at_step"] is None  # stopped before the step: no figure there
    assert k3["best"]["step"] == 1000 and k3["last_step"] == 1500

    k6 = student_curve.run_quality(runs / "k6", 2000)
    assert k6["run"] is None and k6["at_step"] is None and k6["best"] is None and k6["last_step"] is None


def test_the_teacher_is_read_from_its_run_log_and_its_metrics(runs: Path, tmp_path: Path) -> None:
    model = tmp_path / "teacher"
    model.mkdir()
    dev = {"mean_macro_f1": 0.8, "tasks": {t: {"macro": {"f1": 0.8}} for t in TASKS}}
    (model / "metrics.json").write_text(json.dumps({"dev": dev}), encoding="utf-8")
    quality = student_curve.teacher_quality(model, runs / "k2")
    assert quality["best"]["step"] == 3000  # the highest dev mean of the log
    assert quality["metrics_json_dev"] == {"mean": 0.8, "tasks": dict.fromkeys(TASKS, 0.8)}


def test_the_table_has_dashes_where_a_run_or_its_step_is_missing(runs: Path) -> None:
    def speed(cps: float, mb: float) -> dict[str, float]:
        return {"comments_per_s": cps, "model_onnx_mb": mb}

    report = {
        "tasks": list(TASKS),
        "settings": {"step": 2000},
        "teacher": {"layers": 12, "quality": student_curve.teacher_quality(runs, runs / "k2"), "speed": speed(100.0, 45.0)},
        "students": [
            {"k": k, "quality": student_curve.run_quality(runs / f"k{k}", 2000),
             "speed": {"int8": speed(100.0 * k, 10.0 + k), "fp16x2": speed(90.0 * k, 12.0 + k)}}
            for k in (2, 3, 6)
        ],
    }
    lines = student_curve.curve_table(report).splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")] for line in lines[2:]}
    assert header[5] == "mean at step 2,000" and len(header) == 14
    assert all(len(cells) == len(header) for cells in rows.values())
    assert rows["2"][1:9] == ["0.800", "0.600", "0.900", "0.300", "0.650", "0.725 (3,000)", "3,100 / 6,000", "200"]
    assert rows["2"][9:] == ["×2.00", "12.0", "180", "×1.80", "14.0"]
    assert rows["3"][1:7] == ["–"] * 5 + ["0.575 (1,000)"]  # no eval at 2,000 but a best eval
    assert rows["3"][8:10] == ["300", "×3.00"]
    assert rows["6"][1:8] == ["–"] * 7 and rows["6"][8] == "600"  # no run: speed only
    assert rows["teacher (12 layers)"][6] == "0.725 (3,000)" and rows["teacher (12 layers)"][9] == "×1.00"


# ------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trained, exported 2-layer tiny teacher, its run, a student recipe and a test split."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from train_fixtures import (
        build_tiny_encoder,
        make_records,
        tiny_config,
        write_jsonl,
    )

    from khmer_civic.train.data import TaskConfig, load_annotations
    from khmer_civic.train.distill import DistillConfig
    from khmer_civic.train.trainer import Trainer

    root = tmp_path_factory.mktemp("curve")
    encoder = build_tiny_encoder(root / "tiny-bert", max_positions=64)
    for name, n, offset in (("train", 24, 0), ("dev", 12, 100), ("test", 12, 200)):
        write_jsonl(root / "splits" / f"{name}.jsonl", make_records(n, offset))
    tasks = (
        TaskConfig("topics", "multi_label"),
        TaskConfig("sentiment", "single_label", ("negative", "neutral", "positive")),
        TaskConfig("call_to_action", "binary"),
    )
    config = tiny_config(encoder, tasks=tasks, epochs=1, eval_every=2)
    data = load_annotations(*([root / "splits" / f"{n}.jsonl"] for n in ("train", "dev", "test")), tasks)
    Trainer(config, run_dir=root / "run").train(data, root / "model")
    recipe = DistillConfig.from_dict({**config.to_dict(), "name": "tiny-student", "num_layers": 1, "teacher_model": "elsewhere"})
    recipe.to_json(root / "recipe.json")
    return {"root": root, "model": root / "model", "run": root / "run", "recipe": root / "recipe.json", "splits": root / "splits"}


def test_one_run_on_a_tiny_teacher_measures_every_k_and_the_teacher(tiny_teacher: dict[str, Path], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    write_log(runs / "k1" / "log.jsonl", [eval_event(4, (0.5, 0.6, 0.7, 0.0))])
    out = tmp_path / "curve.json"
    code = student_curve.main([
        "--teacher", str(tiny_teacher["model"]), "--teacher-run", str(tiny_teacher["run"]), "--runs", str(runs),
        "--layers", "1", "2", "--step", "4", "--threads", "1", "--repeats", "1", "--mix", "test",
        "--splits", str(tiny_teacher["splits"]), "--recipe", str(tiny_teacher["recipe"]), "--out", str(out),
    ])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [s["k"] for s in report["students"]] == [1, 2]
    teacher_bytes = (tiny_teacher["model"] / "model.onnx").stat().st_size
    assert report["teacher"]["speed"]["model_onnx_bytes"] == teacher_bytes
    assert report["teacher"]["quality"]["best"] is not None  # the tiny teacher's own run log
    passes = [report["teacher"]["speed"][key]["comments_per_s"] for key in ("before_students", "after_students")]
    assert report["teacher"]["speed"]["comments_per_s"] == max(passes)  # the faster teacher timing is the reference
    k1, k2 = report["students"]
    assert k1["quality"]["at_step"]["mean"] == pytest.approx(0.45) and k2["quality"]["run"] is None
    for student in (k1, k2):
        for variant in ("int8", "fp16x2"):
            measured = student["speed"][variant]
            assert measured["texts"] == report["inputs"]["texts"] > 0 and measured["comments_per_s"] > 0
            assert measured["ratio_to_teacher"] == pytest.approx(
                measured["comments_per_s"] / report["teacher"]["speed"]["comments_per_s"]
            )
    # fewer layers, smaller graph; the two exports of a student are two different graphs
    assert k1["speed"]["int8"]["model_onnx_bytes"] < k2["speed"]["int8"]["model_onnx_bytes"]
    assert k2["speed"]["fp16x2"]["model_onnx_bytes"] != k2["speed"]["int8"]["model_onnx_bytes"]
    printed = capsys.readouterr().out
    assert "| 1 |" in printed and "| 2 |" in printed and "teacher (2 layers)" in printed
    assert "Machine:" in printed and "cores busy during these timings" in printed
    assert "Command: `python benchmarks/student_curve.py --teacher " in printed and "--layers 1 2 --step 4" in printed
