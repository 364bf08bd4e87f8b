"""``khmer-civic label --scheduler ADDRESS`` / ``--dask-local N`` (khmer_civic/cli/label_dask.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import one_error_line, run

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

import pyarrow.parquet as pq  # noqa: E402
from loopback_cluster import LoopbackCluster, comment_rows, loopback_cluster, write_comments_csv  # noqa: E402, F401


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(path).to_pylist()
    return [{k: list(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows]


@pytest.fixture()
def comments(tmp_path: Path) -> Path:
    folder = tmp_path / "dump"
    folder.mkdir()
    rows = comment_rows(90)
    for i in range(3):
        write_comments_csv(folder / f"page_{i}.csv", rows[30 * i : 30 * (i + 1)])
    return folder


@pytest.fixture()
def single(tmp_path: Path, comments: Path, tiny_model_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What plain ``label`` writes for the same rows (one file holding the three), and its summary."""
    whole = write_comments_csv(tmp_path / "whole.csv", comment_rows(90))
    summary = tmp_path / "single.json"
    result = run(
        "label", whole, "-o", tmp_path / "single.parquet", "--model", tiny_model_dir, "--workers", 1, "-q",
        "--summary", summary,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return _rows(tmp_path / "single.parquet"), json.loads(summary.read_text(encoding="utf-8"))


def test_dask_options_without_the_extra_exit_2_with_the_install_line(tmp_path: Path, comments: Path) -> None:
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "from khmer_civic.cli import cli\n"
        f"cli(['label', {str(comments)!r}, '-o', {str(tmp_path / 'out')!r}, '--scheduler', 'tcp://127.0.0.1:1'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and 'pip install "khmer-civic[dask]"' in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dask-local", "1"], "not both"),
        (["--resume"], "--resume does not apply"),
        (["--workers", "2"], "--workers does not apply"),
    ],
)
def test_options_that_do_not_go_with_a_cluster_exit_2(
    tmp_path: Path, comments: Path, extra: list[str], message: str
) -> None:
    result = run("label", comments, "-o", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1", *extra)
    assert message in one_error_line(result, 2)


def test_an_output_that_is_a_file_or_named_like_one_exits_2_before_connecting(tmp_path: Path, comments: Path) -> None:
    (tmp_path / "taken").write_text("x")
    result = run("label", comments, "-o", tmp_path / "taken", "--scheduler", "tcp://127.0.0.1:1")
    assert "is a file" in one_error_line(result, 2)
    result = run("label", comments, "-o", tmp_path / "out.csv", "--scheduler", "tcp://127.0.0.1:1")
    assert "folder of Parquet parts" in one_error_line(result, 2)


def test_an_input_of_another_format_exits_2(tmp_path: Path) -> None:
    (tmp_path / "dump.jsonl").write_text('{"message": "x"}\n')
    result = run("label", tmp_path / "dump.jsonl", "-o", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1")
    assert "cannot read" in one_error_line(result, 2)


def test_label_on_a_scheduler_writes_every_row_as_plain_label_does(
    loopback_cluster: LoopbackCluster,
    tmp_path: Path,
    comments: Path,
    tiny_model_dir: Path,
    single: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    single_rows, single_summary = single
    output = tmp_path / "labelled"
    summary = tmp_path / "summary.json"
    result = run(
        "label", comments, "-o", output, "--scheduler", loopback_cluster.address, "--model", tiny_model_dir,
        "--summary", summary, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "text column: 'message'" in result.stderr and "labelled" in result.stderr
    assert sorted(p.name for p in output.iterdir()) == [f"part.{i:06d}.parquet" for i in range(3)]
    got = _rows(output)
    assert [r["comment_id"] for r in got] == [f"{i:06d}" for i in range(90)]
    assert got == single_rows  # every column of every row, in order
    counted = json.loads(summary.read_text(encoding="utf-8"))
    assert counted["rows"] == 90 and counted["workers"] == 2
    for key in ("rows_labelled", "status", "tasks", "text_column"):
        assert counted[key] == single_summary[key], key


def test_label_on_a_local_cluster_with_a_parquet_input(tmp_path: Path, tiny_model_dir: Path) -> None:
    import pandas as pd

    rows = comment_rows(40)
    frame = pd.DataFrame(rows, columns=["comment_id", "page", "message"])
    frame["likes"] = range(40)
    frame.to_parquet(tmp_path / "comments.parquet")
    output = tmp_path / "labelled.parquet"
    output.mkdir()  # an empty folder is taken
    result = run(
        "label", tmp_path / "comments.parquet", "-o", output, "--dask-local", 1, "--model", tiny_model_dir, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pq.read_table(output)
    assert table.num_rows == 40 and table.schema.field("likes").type == "int64"  # input types kept
    assert set(table.column("label_status").to_pylist()) >= {"ok", "empty", "no_letters"}


def test_a_csv_the_cluster_cannot_parse_exits_2_naming_the_single_machine_way(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text('id,text\n1,សាលារៀនល្អ\n2,"គ្រូមិនមក\n3,មណ្ឌលសុខភាព\n', encoding="utf-8")  # a stray quote
    result = run("label", bad, "-o", tmp_path / "out", "--dask-local", 1, "--model", tiny_model_dir, "-q")
    line = one_error_line(result, 2)
    assert "cannot read this file" in line and "without --scheduler/--dask-local" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
