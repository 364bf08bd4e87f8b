"""The command line against its surroundings: a killed parent, outputs that cannot be written, a base
install without the training extra, and the end-of-run summary's rounding."""

from __future__ import annotations

import errno
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

from messy_tables import TEXTS, read_output, write_csv  # noqa: E402

from khmer_civic.cli import options as cli_options  # noqa: E402
from khmer_civic.cli import cli  # noqa: E402
from cli_helpers import one_error_line as error_line  # noqa: E402
from cli_helpers import run  # noqa: E402




# ------------------------------------------------------------------------------ workers die with their parent


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[19])


def _children(parent: int) -> dict[int, int]:
    """pid -> start time of the live children of ``parent``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == parent and stat[0] != "Z":
                found[int(entry.name)] = stat[2]
    return found


def _alive(pid: int, started: int) -> bool:
    """Whether the process ``pid`` that started at ``started`` still runs (a zombie counts as gone)."""
    stat = _proc_stat(pid)
    return stat is not None and stat[2] == started and stat[0] != "Z"


def _survivors(processes: dict[int, int], wait_s: float = 10) -> list[int]:
    """The pids of ``processes`` (pid -> start time) still alive after waiting up to ``wait_s`` for them to go."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(_alive(pid, start) for pid, start in processes.items()):
        time.sleep(0.05)
    return [pid for pid, start in processes.items() if _alive(pid, start)]


def _end(process: subprocess.Popen[Any], processes: dict[int, int]) -> None:
    """Clean up after a test: kill ``process`` if it still runs, and any of ``processes`` still alive."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)
    for pid, start in processes.items():
        if _alive(pid, start):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker processes through /proc")
def test_workers_exit_when_the_parent_is_killed(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = [(f"{i:06d}", f"{TEXTS[i % len(TEXTS)]} {i}", "") for i in range(60_000)]
    source = write_csv(tmp_path / "in.csv", rows=rows)
    output = tmp_path / "out.csv"
    checkpoint = tmp_path / ".out.csv.khmer-civic-run" / "checkpoint.json"
    command = [sys.executable, "-m", "khmer_civic.cli", "label", str(source), "-o", str(output)]
    command += ["--model", str(tiny_model_dir), "--chunk-size", "50", "--workers", "2", "--no-progress", "-q"]
    parent = subprocess.Popen(command)
    workers: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and parent.poll() is None:
            try:
                done = json.loads(checkpoint.read_text(encoding="utf-8"))["chunks_done"]
            except (OSError, ValueError, KeyError):
                done = 0
            workers = _children(parent.pid)
            if done >= 2 and len(workers) >= 2:  # mid-run: both workers have labelled chunks
                break
            time.sleep(0.02)
        assert parent.poll() is None, "the run ended before the parent could be killed"
        assert len(workers) >= 2, workers
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        left = _survivors(workers)
        assert not left, f"child processes {left} outlived their killed parent"
    finally:
        _end(parent, workers)


_WATCHED_CHILD = """
import multiprocessing, os, signal, sys, time
from concurrent.futures import ProcessPoolExecutor
from khmer_civic.io.pipeline import _watch_parent

if __name__ == "__main__":
    # the initializer is the portable watcher alone (no prctl): it blocks until the parent is gone
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=context, initializer=_watch_parent, initargs=(os.getpid(),))
    pool.submit(abs, 1)
    print(" ".join(str(pid) for pid in pool._processes), flush=True)
    time.sleep(3)  # let the child start and reach the watcher
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="checks the child process through /proc")
def test_the_portable_parent_watcher_ends_a_worker_without_prctl(tmp_path: Path) -> None:
    script = subprocess.Popen([sys.executable, "-c", _WATCHED_CHILD], stdout=subprocess.PIPE, text=True)
    children: dict[int, int] = {}
    try:
        assert script.stdout is not None
        pids = [int(pid) for pid in script.stdout.readline().split()]
        children = {pid: stat[2] for pid in pids if (stat := _proc_stat(pid)) is not None}
        assert children, "the pool started no process"
        script.wait(timeout=60)
        assert script.returncode == -signal.SIGKILL
        assert not _survivors(children)
    finally:
        _end(script, children)


# ------------------------------------------------------------------------------ outputs that cannot be written


@pytest.fixture()
def rows_csv(tmp_path: Path) -> Path:
    """30 labelable rows: several chunks with --chunk-size 10."""
    return write_csv(tmp_path / "in.csv", rows=[(str(i), f"{TEXTS[i % 2]} {i}", "") for i in range(30)])


def _command_args(command: str, model: Path) -> list[Any]:
    return ["--model", model] if command == "label" else []


@pytest.mark.parametrize("command", ["label", "tokenize"])
def test_output_under_a_regular_file_exits_2(
    command: str, tiny_model_dir: Path, tmp_path: Path, rows_csv: Path
) -> None:
    blocker = tmp_path / "somefile"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run(command, rows_csv, "-o", blocker / "out.csv", *_command_args(command, tiny_model_dir), "-q")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert f"cannot write {blocker / 'out.csv'}" in line and "is a file, not a folder" in line, line


def _plant_full_disk(where: str, output: Path) -> Any:
    """An ``after_chunk`` hook that links the file the run writes next to /dev/full (a real ENOSPC)."""
    run_dir = output.parent / f".{output.name}.khmer-civic-run"

    def after_chunk(index: int) -> None:
        if where == "part" and index == 0:
            first = next(run_dir.glob("part-000000*")).name  # the part files' suffix depends on the format
            target = run_dir / (first.replace("000000", "000001") + ".tmp")
        elif where == "checkpoint" and index == 0:
            target = run_dir / "checkpoint.json.tmp"
        elif where == "assembly" and index == 2:
            target = run_dir / "output.tmp"
        else:
            return
        target.symlink_to("/dev/full")

    return after_chunk


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for a real 'no space left' error")
@pytest.mark.parametrize(
    ("command", "suffix", "where"),
    [
        ("label", "csv", "part"), ("label", "csv", "checkpoint"), ("label", "csv", "assembly"),
        ("tokenize", "csv", "part"), ("tokenize", "xlsx", "part"), ("tokenize", "xlsx", "assembly"),
        ("tokenize", "parquet", "part"), ("tokenize", "jsonl", "assembly"),
    ],
)  # fmt: skip
def test_a_full_disk_exits_2_with_the_path_and_the_reason(
    command: str,
    suffix: str,
    where: str,
    tiny_model_dir: Path,
    tmp_path: Path,
    rows_csv: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    output = tmp_path / f"out.{suffix}"
    real_run_table = cli_options.run_table

    def run_table(*args: Any, **kwargs: Any) -> Any:
        return real_run_table(*args, after_chunk=_plant_full_disk(where, output), **kwargs)

    monkeypatch.setattr(cli_options, "run_table", run_table)
    common = [*_command_args(command, tiny_model_dir), "--chunk-size", 10, "--workers", 1, "--text-column", "message"]
    result = run(command, rows_csv, "-o", output, *common)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert line.startswith(f"Error: cannot write {output}: "), line
    assert f"No space left on device (writing {tmp_path}/." in line, line
    assert "free some space and run the same command again with --resume" in line, line
    assert not output.exists()
    assert not (tmp_path / f".{output.name}.khmer-civic-run" / "output.tmp").exists()  # no half-written copy left

    monkeypatch.setattr(cli_options, "run_table", real_run_table)
    for planted in (tmp_path / f".{output.name}.khmer-civic-run").glob("*.tmp"):
        planted.unlink()  # the disk has room again
    result = run(command, rows_csv, "-o", output, *common, "--resume")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in read_output(output)] == [str(i) for i in range(30)]


_FULL_DISK_XLSX = """
import sys
from pathlib import Path
import khmer_civic.cli.options as options
from khmer_civic.cli import main

source, output = Path(sys.argv[1]), Path(sys.argv[2])
real_run_table = options.run_table


def run_table(*args, **kwargs):
    def after_chunk(index):
        if index == 2:  # the assembled workbook goes to /dev/full
            (output.parent / f".{output.name}.khmer-civic-run" / "output.tmp").symlink_to("/dev/full")

    return real_run_table(*args, after_chunk=after_chunk, **kwargs)


options.run_table = run_table
sys.argv = ["khmer-civic", "tokenize", str(source), "-o", str(output), "--chunk-size", "10", "--workers", "1", "-q"]
main()
"""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for a real 'no space left' error")
def test_a_full_disk_under_an_xlsx_output_prints_one_line_to_the_end(tmp_path: Path, rows_csv: Path) -> None:
    # the half-written workbook's zip file retries its write when collected, after the error line was printed
    output = tmp_path / "out.xlsx"
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_XLSX, str(rows_csv), str(output)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Error: cannot write {output}: No space left on device"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("command", ["label", "tokenize"])
def test_a_read_only_file_system_exits_2_with_the_path_and_the_reason(
    command: str, tiny_model_dir: Path, tmp_path: Path, rows_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # simulated (a read-only mount needs privileges; chmod does not stop root): mkdir fails as on such a mount
    real_mkdir = os.mkdir

    def read_only_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).startswith(str(tmp_path / "ro")):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real_mkdir(path, *args, **kwargs)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(os, "mkdir", read_only_mkdir)
    output = tmp_path / "ro" / "out.parquet"
    result = run(command, rows_csv, "-o", output, *_command_args(command, tiny_model_dir), "--workers", 1, "-q")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert line.startswith(f"Error: cannot write {output}: Read-only file system (writing {tmp_path / 'ro'}/."), line
    assert "a folder you can write to" in line


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for a real 'no space left' error")
@pytest.mark.parametrize("command", ["label", "tokenize"])
def test_a_summary_that_cannot_be_written_exits_2(
    command: str, tiny_model_dir: Path, tmp_path: Path, rows_csv: Path
) -> None:
    output = tmp_path / "out.jsonl"
    args = [command, rows_csv, "-o", output, *_command_args(command, tiny_model_dir), "--workers", 1, "-q"]
    result = run(*args, "--summary", "/dev/full")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert f"cannot write /dev/full: No space left on device; the output {output} is complete" in line, line
    result = run(*args, "--summary", tmp_path / "missing-folder" / "summary.json")
    assert result.exit_code == 2 and "No such file or directory" in error_line(result)


def test_other_write_failures_of_the_environment_exit_2(
    tiny_model_dir: Path, tmp_path: Path, rows_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/archive/out.csv")

    monkeypatch.setattr(cli_options, "run_table", read_only)
    result = run("tokenize", rows_csv, "-o", tmp_path / "out.csv", "-q")
    assert result.exit_code == 2
    assert error_line(result) == "Error: cannot write /mnt/archive/out.csv: Read-only file system"


# ------------------------------------------------------------------------------ the training extra


_EXTRA = ("torch", "transformers", "datasets", "sklearn", "onnx", "matplotlib", "safetensors")


@pytest.fixture()
def base_install() -> Any:
    """Make the training extra unimportable (as in ``pip install khmer-civic``) for one test."""
    import khmer_civic

    saved = dict(sys.modules)
    saved_train = khmer_civic.__dict__.get("train")
    for name in list(sys.modules):
        if name.split(".")[0] in _EXTRA or name == "khmer_civic.train" or name.startswith("khmer_civic.train."):
            del sys.modules[name]
    for name in _EXTRA:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ModuleNotFoundError
    try:
        yield
    finally:
        for name in set(sys.modules) - set(saved):
            del sys.modules[name]
        sys.modules.update(saved)
        if saved_train is not None:
            khmer_civic.train = saved_train  # type: ignore[attr-defined]


def _install_line(line: str, readme: str) -> str:
    """The install command at the end of an error ``line``, checked to be the one ``readme`` gives."""
    command = line.rsplit("): ", 1)[1]
    assert command.startswith("pip install torch==2.13.0 ") and "[train" in command, line
    assert command in (Path(__file__).resolve().parents[2] / readme).read_text(encoding="utf-8"), command
    return command


@pytest.mark.usefixtures("base_install")
def test_train_without_the_extra_names_the_install_line(tmp_path: Path) -> None:
    data = tmp_path / "a.jsonl"
    data.write_text('{"id": "1", "text": "សាលារៀន", "topics": ["education"]}\n', encoding="utf-8")
    result = run("train", "--data", data, "--out", tmp_path / "model")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert "khmer-civic train needs the training extra" in line and "missing: torch" in line, line
    assert _install_line(line, "README.md") == 'pip install torch==2.13.0 -e ".[train,encoder]"'  # a checkout
    assert not (tmp_path / "model").exists()


@pytest.mark.usefixtures("base_install")
def test_an_installed_package_gets_the_package_install_line(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from khmer_civic.train import paths

    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    data = tmp_path / "a.jsonl"
    data.write_text('{"id": "1", "text": "សាលារៀន", "topics": ["education"]}\n', encoding="utf-8")
    result = run("evaluate", "--model", tiny_model_dir, "--data", data, "--out", tmp_path / "report")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert "khmer-civic evaluate --out needs the training extra" in line and "missing: matplotlib" in line, line
    assert _install_line(line, "training/README.md") == 'pip install torch==2.13.0 "khmer-civic[train]"'


@pytest.mark.usefixtures("base_install")
def test_evaluate_without_out_needs_no_extra(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = tmp_path / "a.jsonl"
    data.write_text('{"id": "1", "text": "សាលារៀន", "topics": ["education"]}\n', encoding="utf-8")
    result = run("evaluate", "--model", tiny_model_dir, "--data", data)
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout


@pytest.mark.usefixtures("base_install")
def test_a_missing_module_met_later_still_names_the_install_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from khmer_civic.cli import train as train_command

    monkeypatch.setattr(train_command, "require_train_extra", lambda *args, **kwargs: None)  # the early check missed it
    data = tmp_path / "a.jsonl"
    data.write_text('{"id": "1", "text": "សាលារៀន", "topics": ["education"]}\n', encoding="utf-8")
    result = run("train", "--data", data, "--out", tmp_path / "model")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert "khmer-civic train needs the training extra" in line and "pip install torch==2.13.0" in line, line


# ------------------------------------------------------------------------------ the summary rounds once


def _result(counts: dict[str, int], wall_seconds: float = 1.04996) -> Any:
    from collections import Counter

    from khmer_civic.io.columns import TextColumnChoice
    from khmer_civic.io.pipeline import RunResult

    return RunResult(
        input=Path("in.csv"), output=Path("out.csv"), text_column=TextColumnChoice("text", auto=False),
        rows=758, rows_this_run=758, resumed_from_row=0, wall_seconds=wall_seconds, workers=1,
        counts=Counter(counts), annotator_identity={},
    )  # fmt: skip


def test_summary_percentages_are_rounded_once() -> None:
    from khmer_civic.io.summary import label_summary, render_label_summary
    from khmer_civic.schema import default_schema

    # 36 / 758 = 4.749%, 180 / 758 = 23.747%, 199 / 758 = 26.253%, 33 / 758 = 4.354%: a share rounded
    # to 4 places first (0.0475, 0.2375, 0.2625, 0.0435) shows 4.8%, 23.8%, 26.2%, 4.3%
    counts = {
        "status/ok": 758, "sentiment/negative": 36, "sentiment/neutral": 689, "sentiment/positive": 33,
        "topics/education": 180, "call_to_action/true": 199,
        "topics/education|sentiment/negative": 36, "topics/education|call_to_action/true": 33,
    }  # fmt: skip
    summary = label_summary(_result(counts), default_schema())
    text = "\n".join(render_label_summary(summary))
    assert "sentiment: negative 36 (4.7%), neutral 689 (90.9%), positive 33 (4.4%)" in text, text
    assert "call_to_action: 199 rows, 26.3% of labelled rows" in text, text
    assert " 180   23.7%" in text and "negative 20.0%" in text and "call_to_action: 18.3%" in text, text
    assert "(1.0 s, " in text, text  # 1.04996 s, not 1.050 shown as 1.1
    # the JSON keeps the exact shares, so what it says and what the terminal shows agree
    assert summary["tasks"]["sentiment"]["shares"]["negative"] == 36 / 758
    assert summary["tasks"]["topics"]["labels"]["education"]["share"] == 180 / 758
    assert summary["tasks"]["call_to_action"]["rate"] == 199 / 758
    assert summary["wall_seconds"] == 1.04996


def test_tokenize_summary_rounds_once() -> None:
    from khmer_civic.io.summary import render_tokenize_summary, tokenize_summary

    summary = tokenize_summary(_result({"status/ok": 3, "tokens": 1000}))
    assert summary["tokens_per_text"] == 1000 / 3
    assert "tokens: 1,000 (333.33 per text)" in render_tokenize_summary(summary)


def test_a_dask_run_without_the_extra_names_the_install_line(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from khmer_civic import dask as civic_dask

    monkeypatch.setattr(civic_dask, "missing_modules", lambda: ["distributed"])
    source = write_csv(tmp_path / "in.csv")
    result = run("label", source, "--model", tiny_model_dir, "--dask-local", "1", "-o", tmp_path / "out.parquet")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert "needs the dask extra, which is not installed (missing: distributed)" in line, line
    assert line.endswith(civic_dask.INSTALL_LINE), line
    assert not (tmp_path / "out.parquet").exists()
