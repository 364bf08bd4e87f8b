"""A real Dask cluster on loopback for the tests of khmer_civic.dask: ``dask scheduler`` and
``dask worker`` started as separate processes (as on several machines), learnt through a
scheduler file, always killed at the end (:func:`running_cluster`; the fixture
``loopback_cluster``: import it into a test module). Also the comment tables the tests label."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 300  # generous: a shared, loaded machine starts a Python process slowly

# Comments for the tables: real text, texts that get a status (empty, no letters), a quoted line
# break, a CSV-injection look-alike, and long texts of many model windows.
TEXTS = (
    "សាលារៀនភូមិយើងខ្វះគ្រូ",
    "school has no teacher, please help; thanks",
    "",
    "   ",
    "12345",
    "😀🙏🙏",
    "ជួរទីមួយ\nជួរទីពីរ មន្ទីរពេទ្យ",
    'គាត់និយាយថា "សូមជួយ" ម្តងទៀត',
    "ទូរស័ព្ទ 012 345 678 ឬ sok@example.org @Dara",
    "=HYPERLINK(1) ឃុំ",
    "\u200b\u200b",
    " ".join(["សាលារៀនភូមិយើងខ្វះគ្រូ", "មន្ទីរពេទ្យឆ្ងាយ", "សូមជួយផង"] * 12),
)


def comment_rows(n: int) -> list[tuple[str, str, str]]:
    """``n`` rows (comment_id, page, message); ids are unique and zero-padded (they must stay text)."""
    return [(f"{i:06d}", f"page {i % 7}", TEXTS[i % len(TEXTS)] + ("" if i % 3 else f" {i}")) for i in range(n)]


def write_comments_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["comment_id", "page", "message"])
        writer.writerows(rows)
    return path


@dataclass
class LoopbackCluster:
    """A scheduler and its workers, each a process of its own; ``client`` is connected to them."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    client: Any
    logs: list[Path] = field(default_factory=list)

    def worker_pids(self) -> dict[str, int]:
        """Worker address → pid, as the scheduler knows them."""
        return dict(self.client.run(os.getpid))

    def kill_worker(self, address: str) -> None:
        """SIGKILL the worker process at ``address`` (no cleanup runs: as a machine that dies)."""
        os.kill(self.worker_pids()[address], signal.SIGKILL)

    def log_text(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs)


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args], stdout=handle, stderr=subprocess.STDOUT, env=env
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


@contextmanager
def running_cluster(directory: Path, n_workers: int = 2) -> Iterator[LoopbackCluster]:
    """``dask scheduler`` and ``n_workers`` ``dask worker`` processes (one thread each, no nanny, so that
    a killed worker stays dead) on 127.0.0.1, their logs in ``directory``; all killed on the way out,
    whatever happened inside. Also used by benchmarks/dask_label.py."""
    from distributed import Client

    directory.mkdir(parents=True, exist_ok=True)
    scheduler_file = directory / "scheduler.json"
    logs = [directory / "scheduler.log"]
    processes: list[subprocess.Popen[bytes]] = []
    client = None
    try:
        scheduler = _start(
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            logs[0],
        )
        processes.append(scheduler)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not scheduler_file.exists():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dask scheduler did not start:\n{logs[0].read_text(errors='replace')}")
            time.sleep(0.1)
        workers = []
        for i in range(n_workers):
            logs.append(directory / f"worker{i}.log")
            worker = _start(
                [
                    "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--nthreads", "1",
                    "--nworkers", "1", "--no-nanny", "--no-dashboard", "--name", f"worker{i}",
                ],
                logs[-1],
            )  # fmt: skip
            processes.append(worker)
            workers.append(worker)
        client = Client(scheduler_file=str(scheduler_file), timeout=START_TIMEOUT_S)
        client.wait_for_workers(n_workers, timeout=START_TIMEOUT_S)
        yield LoopbackCluster(client.scheduler.address, scheduler, workers, client, logs)
    finally:
        if client is not None:
            client.close()
        for process in reversed(processes):
            _stop(process)


@pytest.fixture(scope="module")
def loopback_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """A scheduler and two workers (:func:`running_cluster`) shared by a module's tests (a test that
    kills a worker goes last)."""
    pytest.importorskip("distributed")
    with running_cluster(tmp_path_factory.mktemp("loopback_cluster"), 2) as cluster:
        yield cluster
