"""The khmer-civic command line: exit codes, one-line messages, summaries, info, a killed run resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "io"))

from messy_tables import (
    IDS,
    STATUSES,
    TEXTS,
    messy_records,
    read_output,
    write_csv,
    write_parquet,
    write_xlsx,
)  # noqa: E402

from khmer_civic.cli import options as cli_options  # noqa: E402
from khmer_civic.cli import cli  # noqa: E402
from cli_helpers import one_error_line, run  # noqa: E402




@pytest.fixture()
def messy_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "messy.csv", header=("id", "comment_text"))


def test_label_finds_the_column_writes_the_output_and_summarises(
    tiny_model_dir: Path, tmp_path: Path, messy_csv: Path
) -> None:
    output = tmp_path / "out.csv"
    summary_path = tmp_path / "summary.json"
    result = run(
        "label", messy_csv, "-o", output, "--model", tiny_model_dir, "--summary", summary_path, "--chunk-size", 5
    )
    assert result.exit_code == 0, result.output
    assert "text column: 'comment_text' (found by name; use --text-column to pick another)" in result.stderr
    rows = read_output(output)
    assert [r["id"] for r in rows] == IDS and [r["label_status"] for r in rows] == STATUSES
    n_ok = STATUSES.count("ok")
    assert f"labelled {n_ok:,} of {len(IDS):,} rows -> {output}" in result.stderr
    assert "not labelled: empty 3, no_letters 2" in result.stderr
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["rows"] == len(IDS) and summary["rows_labelled"] == n_ok
    assert summary["status"] == {"ok": n_ok, "empty": 3, "no_letters": 2}
    assert set(summary["tasks"]) == {"topics", "sentiment", "call_to_action"}
    assert summary["wall_seconds"] > 0 and summary["rows_per_second"] > 0
    assert result.stdout == ""  # stdout stays clean for pipes


def test_named_text_column_says_nothing_and_quiet_says_nothing(
    tiny_model_dir: Path, tmp_path: Path, messy_csv: Path
) -> None:
    result = run(
        "label", messy_csv, "-o", tmp_path / "o.jsonl", "--model", tiny_model_dir, "--text-column", "COMMENT_TEXT"
    )
    assert result.exit_code == 0 and "text column" not in result.stderr
    result = run("label", messy_csv, "-o", tmp_path / "o.jsonl", "--model", tiny_model_dir, "-q")
    assert result.exit_code == 0 and result.stderr == ""


def _truncated(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("missing column", r"no column 'msg' in .*messy.csv; available columns: 'id', 'comment_text', 'n'"),
        ("no text column", r"found no text column .*available columns: 'id', 'n'"),
        ("output format", r"cannot tell the output format of .*out.docx .*\.csv"),
        ("missing input", r"missing.csv does not exist"),
        ("old excel", r"save the sheet as .xlsx"),
        ("truncated parquet", r"not a readable Parquet file|not a complete Parquet file"),
        ("truncated xlsx", r"not a readable XLSX workbook"),
        ("bad model", r"model.*(does not exist|config.json)"),
        ("labelled twice", r"already has the column\(s\) 'topics'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tiny_model_dir: Path, tmp_path: Path, messy_csv: Path, case: str, pattern: str
) -> None:
    source, output, model = messy_csv, tmp_path / "out.csv", tiny_model_dir
    extra: list[Any] = []
    if case == "missing column":
        extra = ["--text-column", "msg"]
    elif case == "no text column":
        source = tmp_path / "numbers.csv"
        source.write_text("id,n\n1,2\n", encoding="utf-8")
    elif case == "output format":
        output = tmp_path / "out.docx"
    elif case == "missing input":
        source = tmp_path / "missing.csv"
    elif case == "old excel":
        source = tmp_path / "old.xls"
        source.write_bytes(b"\xd0\xcf\x11\xe0")
    elif case == "truncated parquet":
        source = _truncated(write_parquet(tmp_path / "in.parquet", messy_records()))
    elif case == "truncated xlsx":
        source = _truncated(write_xlsx(tmp_path / "in.xlsx", ["id", "message"], [["1", "សាលា"]] * 50))
    elif case == "bad model":
        model = tmp_path / "not-a-model"
        model.mkdir()
    elif case == "labelled twice":
        assert run("label", messy_csv, "-o", tmp_path / "first.csv", "--model", model).exit_code == 0
        source = tmp_path / "first.csv"
    result = run("label", source, "-o", output, "--model", model, *extra)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert line.startswith("Error: ")
    assert __import__("re").search(pattern, line), line
    assert not output.exists()


def test_unexpected_failure_exits_1_with_a_hint_and_debug_shows_it(
    tiny_model_dir: Path, tmp_path: Path, messy_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli_options, "run_table", broken)
    result = run("label", messy_csv, "-o", tmp_path / "out.csv", "--model", tiny_model_dir)
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "unexpected failure: RuntimeError: disk on fire" in line and "--debug" in line
    for args in (["label", "--debug"], ["--debug", "label"]):
        result = run(*args, messy_csv, "-o", tmp_path / "out.csv", "--model", tiny_model_dir)
        assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)  # raised: traceback shown


def test_interrupt_exits_130_and_points_to_resume(
    tiny_model_dir: Path, tmp_path: Path, messy_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_options, "run_table", interrupted)
    result = run("label", messy_csv, "-o", tmp_path / "out.csv", "--model", tiny_model_dir)
    assert result.exit_code == 130 and "--resume" in one_error_line(result)


def test_missing_default_model_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from khmer_civic.model import classifier
    from khmer_civic.model.config import ModelNotFoundError

    def nowhere() -> Path:
        raise ModelNotFoundError("the default model 'khmer-civic-e5-small' is not installed")

    monkeypatch.setattr(classifier, "default_model_dir", nowhere)
    result = run("info")
    assert result.exit_code == 2
    assert "not installed (on the command line: --model DIR)" in one_error_line(result)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bad_model_is_one_line_before_any_work_whatever_the_workers(
    tiny_model_dir: Path, tmp_path: Path, messy_csv: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    output = tmp_path / "out.csv"
    nowhere = tmp_path / "nowhere"
    result = run("label", messy_csv, "-o", output, "--model", nowhere, "--workers", workers)
    assert result.exit_code == 2
    assert one_error_line(result) == f"Error: model directory {nowhere} does not exist or is not a directory"
    from khmer_civic.model import classifier
    from khmer_civic.model.config import ModelNotFoundError

    def not_installed() -> Path:
        raise ModelNotFoundError("the default model 'khmer-civic-e5-small' is not installed")

    monkeypatch.setattr(classifier, "default_model_dir", not_installed)
    result = run("label", messy_csv, "-o", output, "--workers", workers)
    assert result.exit_code == 2
    assert one_error_line(result).endswith("is not installed (on the command line: --model DIR)")
    assert not output.exists() and not list(tmp_path.glob(".out.csv*"))


def test_label_with_workers_reads_only_the_model_config(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from khmer_civic.cli import label as label_command
    from khmer_civic.io.annotators import LabelJob

    def loaded(self: Any, **kwargs: Any) -> Any:
        raise AssertionError("the command loaded the model the workers use")

    monkeypatch.setattr(LabelJob, "build", loaded)
    annotator, schema = label_command._model(LabelJob(str(tiny_model_dir)), tiny_model_dir, workers=2)
    assert annotator is None and schema.task_names == ["topics", "sentiment", "call_to_action"]


def test_info_text_and_json(tiny_model_dir: Path) -> None:
    result = run("info", "--model", tiny_model_dir)
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in (
        "model:       tiny-civic 0.0.1",
        "max length:  16 tokens",
        "normalizer:  version 1",
        "topics (multi_label): education, health, local_administration",
        "thresholds education 0.500",
        "call_to_action (binary): false, true",
        "true when p >= 0.500; temperature 1.000",
        "tasks.topics.macro_f1: 0.000",
    ):
        assert expected in text, text
    data = json.loads(run("info", "--model", tiny_model_dir, "--json").stdout)
    assert data["name"] == "tiny-civic" and data["max_length"] == 16
    assert [t["name"] for t in data["tasks"]] == ["topics", "sentiment", "call_to_action"]
    assert data["thresholds"]["call_to_action"] == 0.5 and data["metrics"]["tasks"]["topics"]["macro_f1"] == 0.0


def test_info_shows_test_metrics(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    from khmer_civic.model.manifest import write_manifest

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    test = {
        "n_texts": 758,
        "mean_macro_f1": 0.71,
        "tasks": {
            "sentiment": {
                "n": 700, "macro": {"f1": 0.66}, "micro": {"f1": 0.7}, "accuracy": 0.7, "ece": 0.04,
                "labels": {"negative": {"precision": 0.8, "recall": 0.7, "f1": 0.75, "support": 300}},
            }
        },
    }  # fmt: skip
    (model / "metrics.json").write_text(json.dumps({"test": test}), encoding="utf-8")
    write_manifest(model)
    text = run("info", "--model", model).stdout
    assert "test metrics: 758 texts, mean macro-F1 0.710" in text
    assert "sentiment: n 700, macro-F1 0.660, micro-F1 0.700, accuracy 0.700, ece 0.040" in text
    assert "negative: precision 0.800, recall 0.700, F1 0.750, support 300" in text


def test_tokenize_command(tmp_path: Path, messy_csv: Path) -> None:
    result = run("tokenize", messy_csv, "-o", tmp_path / "words.xlsx", "--workers", 1)
    assert result.exit_code == 0, result.output
    rows = read_output(tmp_path / "words.xlsx")
    assert [r["id"] for r in rows] == IDS
    assert rows[0]["tokens"] == "សាលារៀន ភូមិ យើង ខ្វះ គ្រូ"
    assert f"tokenized {len(IDS) - 3} of {len(IDS)} rows" in result.stderr


def _cli_command(*args: Any) -> list[str]:
    return [sys.executable, "-m", "khmer_civic.cli", *(str(a) for a in args)]


def test_killed_run_resumes_to_the_same_bytes(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = [(f"{i:05d}", f"{TEXTS[i % len(TEXTS)]} {i}", "") for i in range(6000)]
    source = write_csv(tmp_path / "in.csv", rows=rows)
    common = ["--model", tiny_model_dir, "--chunk-size", 100, "--workers", 1, "--no-progress", "-q"]
    clean = tmp_path / "clean.csv"
    assert subprocess.run(_cli_command("label", source, "-o", clean, *common), timeout=300).returncode == 0

    output = tmp_path / "killed.csv"
    checkpoint = tmp_path / ".killed.csv.khmer-civic-run" / "checkpoint.json"
    process = subprocess.Popen(_cli_command("label", source, "-o", output, *common))
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            done = json.loads(checkpoint.read_text(encoding="utf-8"))["chunks_done"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 3:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not output.exists()

    resumed = subprocess.run(
        _cli_command("label", source, "-o", output, *common[:-1], "--resume"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after" in resumed.stderr
    assert output.read_bytes() == clean.read_bytes()
    assert not checkpoint.parent.exists()


def test_label_run_imports_no_torch(tiny_model_dir: Path, tmp_path: Path, messy_csv: Path) -> None:
    script = (
        "import sys\n"
        "from khmer_civic.cli import main\n"
        f"sys.argv = ['khmer-civic', 'label', {str(messy_csv)!r}, '-o', {str(tmp_path / 'o.parquet')!r}, "
        f"'--model', {str(tiny_model_dir)!r}, '-q']\n"
        "try:\n    main()\nexcept SystemExit as exit_:\n    assert exit_.code in (0, None), exit_.code\n"
        "print('HEAVY=' + ','.join(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY=\n" in result.stdout


def test_threads_and_workers_do_not_change_the_bytes(tiny_model_dir: Path, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", rows=[(str(i), f"{TEXTS[i % len(TEXTS)]} {i}", "") for i in range(30)])
    outputs = []
    for name, extra in (("a", ["--workers", 1]), ("b", ["--workers", 1, "--threads", 2]), ("c", ["--workers", 2])):
        output = tmp_path / f"{name}.jsonl"
        result = run("label", source, "-o", output, "--model", tiny_model_dir, "--chunk-size", 8, "-q", *extra)
        assert result.exit_code == 0, result.output
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
