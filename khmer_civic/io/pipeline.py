"""Run a table command (label, tokenize) over a whole file: chunks, workers, checkpoint, output.

:func:`run_table` reads the input in chunks of ``chunk_size`` rows, has an annotator add its
columns to each chunk, writes every finished chunk as a part file and records it in a
checkpoint, and at the end assembles the parts into a temporary file that replaces the output
in one ``os.replace``. Memory holds a few chunks at a time, whatever the size of the file.

Workers. With ``workers > 1`` chunks are annotated in a pool of worker processes (started
with ``spawn``); each worker loads the model once, runs onnxruntime with ``--threads``
intra-op threads (default one), and gets whole chunks. At most two chunks per worker are in
flight and results are taken in chunk order, so memory stays flat and the output does not
depend on the number of workers.
The main process reads, writes and keeps the books; it loads no model (``Job.describe``). Workers
end with the main process, even when it is killed with SIGKILL and runs no cleanup
(:func:`init_worker`).

Output. An output, part file or checkpoint that cannot be written (a full disk, a read-only folder)
stops the run with :class:`~khmer_civic.io.errors.OutputError`, naming the file and the system's
reason; a half-written file is removed and the finished chunks stay for ``resume``.

Why processes rather than onnxruntime's intra-op threads (``--threads``, default 1): worker
processes also run the Python part of the work (normalisation, window bookkeeping, building
rows) in parallel, which threads cannot; they keep every chunk's scores identical whatever
``--workers`` is; and they do not degrade when another program holds a core, whereas
onnxruntime's intra-op threads spin while they wait for each other. Measured on the 2-core
development machine with the shipped model (benchmarks/README.md, "Batch labelling"): with
one core busy elsewhere, 1 process x 2 intra-op threads gave 0.72x the rows/s of 1 x 1, and
2 processes x 1 thread 0.99x; in a run whose background load was not recorded, 2 workers
labelled 4,000 comments 1.79x faster than 1 (no cleaner figure could be taken: the machine was
shared the whole time). The price is memory: one model per worker (about 350 MiB each for the shipped
model).

Resume. A run is identified by its settings (command, model, text column, chunk size, output
format ...) and the sha256 of the input. ``resume=True`` continues a checkpointed run with the
same settings from its first unfinished chunk; the chunk boundaries are the same, every chunk
is computed the same way, and the output is assembled from the parts in order, so the result
is byte for byte the file an uninterrupted run writes (XLSX: the same cells; its zip
container carries a timestamp).
"""

from __future__ import annotations

import ctypes
import errno
import gc
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from khmer_civic.io.annotators import AddedColumns, Annotator, Columns, Job
from khmer_civic.io.checkpoint import Checkpoint, RunDirectory, differing_settings, fsync_file
from khmer_civic.io.columns import TextColumnChoice, check_no_clash, find_text_column
from khmer_civic.io.errors import OutputError, ResumeError, TableError
from khmer_civic.io.formats import TableFormat, output_format
from khmer_civic.io.platforms import PlatformFormat, PlatformReader
from khmer_civic.io.readers import RowProblem, SourceRow, TableReader, open_table
from khmer_civic.io.writers import XLSX_MAX_ROWS, PartWriter, TableLayout, make_writer

DEFAULT_CHUNK_SIZE = 2000
MAX_DEFAULT_WORKERS = 8
IN_FLIGHT_PER_WORKER = 2
# Job fields that change where or how fast, not what, a run computes: a run may resume with others.
_PLACE_ONLY = frozenset({"model_path", "intra_op_threads"})


def default_workers() -> int:
    """One worker per usable core, at most :data:`MAX_DEFAULT_WORKERS` (each holds a model)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


@dataclass(frozen=True)
class RunOptions:
    """What to read, where to write, and how."""

    input: Path
    output: Path
    text_column: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    workers: int = 1
    resume: bool = False
    mask_pii: bool = False
    sheet: str | None = None
    bom: bool = False
    formula_guard: bool = True  # CSV/TSV: ' before text a spreadsheet would run (see khmer_civic.io.writers)
    input_format: str | None = None  # a platform export's format (khmer_civic.io.platforms); None: detected
    timezone: str | None = None  # the IANA zone of a platform export's times that carry none

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise TableError(f"the chunk size must be at least 1 row, got {self.chunk_size}")
        if self.workers < 1:
            raise TableError(f"the number of workers must be at least 1, got {self.workers}")


@dataclass(frozen=True)
class RunResult:
    """What a finished run did; ``counts`` are the annotator's summary counts over all rows."""

    input: Path
    output: Path
    text_column: TextColumnChoice
    rows: int
    rows_this_run: int
    resumed_from_row: int
    wall_seconds: float
    workers: int
    counts: Counter[str]
    annotator_identity: dict[str, str]
    input_format: str | None = None  # the platform export's format, when the input was one
    skipped: dict[str, int] = field(default_factory=dict)  # items a platform reader left out, by kind

    @property
    def rows_per_second(self) -> float:
        return self.rows_this_run / self.wall_seconds if self.wall_seconds > 0 else 0.0


class Progress:
    """Progress display interface; the CLI passes a tqdm bar, tests and scripts pass nothing."""

    def start(self, total: int | None, initial: int) -> None:
        """Called once, before the first chunk."""

    def advance(self, rows: int) -> None:
        """Called after each chunk is written."""

    def close(self) -> None:
        """Called at the end, also on failure."""


# ------------------------------------------------------------------------------ workers


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_PARENT_POLL_SECONDS = 1.0


def _die_with_parent_linux() -> bool:
    """Ask the Linux kernel to SIGKILL this process when its parent dies; ``False`` where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    """Wait in this (daemon) thread until the parent process is gone, then end the worker at once.

    A process started by multiprocessing holds a pipe to its parent whose end of file means the
    parent has died (``multiprocessing.parent_process()``; a process handle on Windows); without one,
    poll for the parent pid to change (an orphan is adopted by another process).
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
    else:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL_SECONDS)
    os._exit(1)


def init_worker(parent_pid: int) -> None:
    """Worker initializer: the worker ends when its parent does, even after ``kill -9`` (no cleanup runs).

    On Linux the kernel kills the worker (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon thread
    watches the parent as well (:func:`_watch_parent`). A parent that died before this ran is caught
    by the pid check.
    """
    _die_with_parent_linux()
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="watch-parent", daemon=True).start()


@cache
def _worker_annotator(job: Job) -> Annotator:
    """The annotator of ``job`` in this worker process, built on first use and kept."""
    return job.build(quiet=True)


def annotate_in_worker(job: Job, texts: list[object]) -> Columns:
    """Worker entry point: annotate one chunk's texts."""
    return _worker_annotator(job).annotate(texts)


def _read_problems(rows: Sequence[SourceRow], text_column: str) -> list[str | None]:
    """Per row, why its text could not be read (its status: ``unreadable_row`` ...), or ``None``."""
    problems: list[str | None] = []
    for row in rows:
        if row.problem is not None:
            problems.append(row.problem.value)
        elif text_column in row.undecodable:
            problems.append(RowProblem.UNDECODABLE.value)
        else:
            problems.append(None)
    return problems


def _readable_texts(rows: Sequence[SourceRow], problems: Sequence[str | None], text_column: str) -> list[object]:
    """The text cells of the rows read without a problem, in order: what the annotator sees."""
    return [row.values.get(text_column) for row, problem in zip(rows, problems) if problem is None]


def _with_problem_rows(columns: Columns, problems: Sequence[str | None], status_column: str) -> Columns:
    """The annotator's columns (readable rows only) spread over every row of the chunk.

    A row that could not be read gets its problem as its status and no other value: each row's
    status is set once, here or by the annotator.
    """
    if not any(problems):
        return columns
    out: Columns = {name: [] for name in columns}
    annotated = 0
    for problem in problems:
        for name, values in columns.items():
            if problem is None:
                out[name].append(values[annotated])
            else:
                out[name].append(problem if name == status_column else None)
        annotated += problem is None
    return out


Chunk = tuple[int, list[SourceRow]]


def annotate_chunks(
    chunks: Iterator[Chunk],
    job: Job,
    annotator: Annotator | None,
    status: str,
    text_column: str,
    workers: int,
) -> Iterator[tuple[int, list[SourceRow], Columns]]:
    """Annotate chunks in order, in this process with ``annotator`` (``workers == 1``) or in a process
    pool whose workers build ``job``'s annotator.

    Only the rows read without a problem reach the annotator; the others get their problem as
    their ``status`` column (:func:`_with_problem_rows`).
    """
    if workers <= 1:
        if annotator is None:
            raise ValueError("annotate_chunks needs an annotator to annotate in this process")
        for index, rows in chunks:
            problems = _read_problems(rows, text_column)
            columns = annotator.annotate(_readable_texts(rows, problems, text_column))
            yield index, rows, _with_problem_rows(columns, problems, status)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(os.getpid(),),
    )
    pending: deque[tuple[int, list[SourceRow], list[str | None], Future[Columns]]] = deque()
    try:
        for index, rows in chunks:
            problems = _read_problems(rows, text_column)
            future = pool.submit(annotate_in_worker, job, _readable_texts(rows, problems, text_column))
            pending.append((index, rows, problems, future))
            if len(pending) >= IN_FLIGHT_PER_WORKER * workers:
                done_index, done_rows, done_problems, done = pending.popleft()
                yield done_index, done_rows, _with_problem_rows(done.result(), done_problems, status)
        while pending:
            done_index, done_rows, done_problems, done = pending.popleft()
            yield done_index, done_rows, _with_problem_rows(done.result(), done_problems, status)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------------------ the run


def _chunks(rows: Iterator[SourceRow], chunk_size: int, first_index: int) -> Iterator[Chunk]:
    index = first_index
    while batch := list(itertools.islice(rows, chunk_size)):
        yield index, batch
        index += 1


def _finish_rows(
    rows: Sequence[SourceRow], columns: Columns, text_column: str, mask: Callable[[str], str] | None
) -> list[dict[str, Any]]:
    """Output rows: each input row's values (its text masked when ``mask``), then the added columns."""
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        values = dict(row.values)
        if mask is not None:
            text = values.get(text_column)
            if isinstance(text, str):
                values[text_column] = mask(text)
        for name, values_of_column in columns.items():
            values[name] = values_of_column[i]
        out.append(values)
    return out


def _write_part(writer: PartWriter, rows: list[dict[str, Any]], part: Path) -> None:
    """Write a part file under a temporary name, flush it to disk, then give it its name."""
    temp = part.with_name(part.name + ".tmp")
    try:
        writer.write_part(rows, temp)
        fsync_file(temp)
        os.replace(temp, part)
    except OSError:
        _discard(temp)
        raise


def _discard(path: Path) -> None:
    """Remove a half-written file (it would only take space); never fails."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


# errno values that mean "no room left": freeing space and resuming helps (EDQUOT is not on every platform)
_NO_SPACE = frozenset(code for code in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", None)) if code)


@contextmanager
def _writing(output: Path, chunks_kept: int, file: Path) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``output`` or ``file`` of its run directory into an
    :class:`~khmer_civic.io.errors.OutputError` that names the file, the reason and what to do."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            hint = "free some space and run the same command again"
            if chunks_kept:
                hint += f" with --resume to keep the {chunks_kept} finished chunk(s)"
        else:
            hint = "choose an output in a folder you can write to"
        error = OutputError.from_os_error(output, exc, hint=hint, writing=file)
        _release_quietly(exc)
        raise error from exc


def _release_quietly(exc: BaseException) -> None:
    """Free the objects of a failed write now, with their finalizers' errors muted: a writer left open
    (openpyxl's zip file) would otherwise retry the write when collected and print "Exception ignored"
    tracebacks after the one-line error."""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        traceback.clear_frames(exc.__traceback__)
        gc.collect()
    finally:
        sys.unraisablehook = hook


def _run_settings(
    options: RunOptions,
    job: Job,
    identity: dict[str, str],
    text_column: str,
    out_format: TableFormat,
    fingerprint: dict[str, Any],
    platform: str | None = None,
) -> dict[str, Any]:
    """Everything that decides the output's bytes; a run resumes only when these are unchanged."""
    job_fields = {k: v for k, v in vars(job).items() if k not in _PLACE_ONLY}
    return {
        "command": job.command,
        "job": {"type": type(job).__name__, **job_fields},
        "annotator": identity,  # the model is identified by its content, not by where it lies
        "text_column": text_column,
        "chunk_size": options.chunk_size,
        "output_format": out_format.value,
        "mask_pii": options.mask_pii,
        "sheet": options.sheet,
        "bom": options.bom,
        "formula_guard": options.formula_guard,
        "input": fingerprint,  # size and sha256 of the input file
        "input_format": platform,  # None (absent in older checkpoints): a plain table
        "timezone": options.timezone if platform else None,
    }


def _same_file(a: Path, b: Path) -> bool:
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def run_table(
    options: RunOptions,
    job: Job,
    *,
    notify: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    progress: Progress | None = None,
    annotator: Annotator | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> RunResult:
    """Annotate every row of ``options.input`` and write ``options.output`` (see the module docstring).

    ``notify`` receives one-line messages for the user (the text column chosen, a run being
    resumed or discarded); ``progress`` is told about rows done; ``annotator`` is ``job.build()`` when
    the caller already has it (otherwise it is built when this process annotates: with ``workers > 1``
    only the workers load a model, and this process uses ``job.describe()``); ``after_chunk(index)``
    runs after each chunk is checkpointed (tests use it to interrupt a run). Raises
    :class:`~khmer_civic.io.errors.TableError` for problems with the files or settings (its subclass
    :class:`~khmer_civic.io.errors.OutputError` when the output or its run directory cannot be written) and
    :class:`~khmer_civic.schema.ModelConfigError` for a bad model directory.
    """
    started = time.perf_counter()
    progress = progress or Progress()
    out_format = output_format(options.output)
    if _same_file(options.input, options.output):
        raise TableError(f"the output {options.output} is the input file; choose another output name")
    if options.output.is_dir():
        raise TableError(f"the output {options.output} is a directory; give a file name")
    if not options.output.parent.is_dir():
        problem = "is a file, not a folder" if options.output.parent.exists() else "does not exist"
        raise OutputError(f"cannot write {options.output}: the output folder {options.output.parent} {problem}")

    with open_table(
        options.input, sheet=options.sheet, format_name=options.input_format, timezone=options.timezone
    ) as reader:
        platform = _platform_of(reader)
        if platform is not None and options.text_column is None:
            choice = TextColumnChoice(reader.text_column, auto=True)
        else:
            choice = find_text_column(reader.columns, options.text_column, source=str(options.input))
        if annotator is None and options.workers == 1:
            annotator = job.build()
        # with workers, this process only writes: the columns and identity need no model session
        described: AddedColumns = annotator if annotator is not None else job.describe()
        added = described.added_columns
        check_no_clash(reader.columns, [c.name for c in added], source=str(options.input))
        total = reader.count_rows()
        if out_format is TableFormat.XLSX and total > XLSX_MAX_ROWS:
            raise TableError(
                f"{options.input} has {total:,} rows and an XLSX sheet holds at most {XLSX_MAX_ROWS:,}; "
                "write .csv, .jsonl or .parquet instead"
            )
        if platform is not None:
            how = "named by --format" if options.input_format else "detected; --format NAME forces another"
            notify(f"input: {platform.description} ({platform.name}, {how}); text column: {choice.name!r}")
        elif choice.auto:
            notify(f"text column: {choice.name!r} (found by name; use --text-column to pick another)")
        identity = described.identity()
        settings = _run_settings(
            options, job, identity, choice.name, out_format, reader.fingerprint(), platform.name if platform else None
        )
        run_dir = RunDirectory(options.output)
        with _writing(options.output, 0, run_dir.path):
            checkpoint = _open_checkpoint(run_dir, settings, options, notify)
        layout = TableLayout(
            original=tuple(reader.columns),
            original_kinds=reader.column_kinds(),
            added=tuple(added),
            arrow_fields=tuple(reader.arrow_fields() or ()) or None,
        )
        writer = make_writer(out_format, layout, bom=options.bom, formula_guard=options.formula_guard)
        start_row = checkpoint.rows_done
        remaining_chunks = -(-(total - start_row) // options.chunk_size) if total > start_row else 0
        workers = max(1, min(options.workers, remaining_chunks))  # no idle workers for small files
        if annotator is None and workers == 1:
            annotator = job.build(quiet=True)  # describe() gave the load warnings already
        mask = None
        if options.mask_pii:
            from khmer_civic.text import mask_pii

            mask = mask_pii
        progress.start(total, start_row)
        try:
            chunks = _chunks(reader.rows(start_row), options.chunk_size, checkpoint.chunks_done)
            annotated = annotate_chunks(chunks, job, annotator, described.status_column, choice.name, workers)
            for index, rows, columns in annotated:
                finished = _finish_rows(rows, columns, choice.name, mask)
                part = run_dir.part_path(index, writer.part_suffix)
                with _writing(options.output, checkpoint.chunks_done, part):
                    _write_part(writer, finished, part)
                checkpoint.chunks_done = index + 1
                checkpoint.rows_done += len(rows)
                checkpoint.counts.update(described.count(columns))
                with _writing(options.output, checkpoint.chunks_done - 1, run_dir.checkpoint_path):
                    run_dir.save(checkpoint)
                progress.advance(len(rows))
                if after_chunk is not None:
                    after_chunk(index)
        finally:
            progress.close()

    parts = run_dir.parts(checkpoint.chunks_done, writer.part_suffix)
    assembled = run_dir.assembled_path
    with _writing(options.output, checkpoint.chunks_done, assembled):
        try:
            writer.assemble(parts, assembled)
            fsync_file(assembled)
            os.replace(assembled, options.output)
        except OSError:
            _discard(assembled)
            raise
    run_dir.remove()
    for note in writer.notes():  # e.g. XLSX cells cut to Excel's limit
        notify(note)
    return RunResult(
        input=options.input,
        output=options.output,
        text_column=choice,
        rows=checkpoint.rows_done,
        rows_this_run=checkpoint.rows_done - start_row,
        resumed_from_row=start_row,
        wall_seconds=time.perf_counter() - started,
        workers=workers,
        counts=checkpoint.counts,
        annotator_identity=identity,
        input_format=platform.name if platform else None,
        skipped=dict(getattr(reader, "skipped", {})),
    )


def _platform_of(reader: TableReader) -> PlatformFormat | None:
    """The platform export format a reader maps (:mod:`khmer_civic.io.platforms`), or ``None`` for a plain table."""
    return reader.platform if isinstance(reader, PlatformReader) else None


def _open_checkpoint(
    run_dir: RunDirectory, settings: dict[str, Any], options: RunOptions, notify: Callable[[str], None]
) -> Checkpoint:
    """The checkpoint to continue (``--resume``) or a fresh one; discards stale runs."""
    saved = run_dir.load() if run_dir.exists() else None
    if options.resume and saved is not None:
        changed = differing_settings(saved.settings, settings)
        if changed:
            raise ResumeError(
                f"cannot resume the unfinished run for {options.output}: "
                f"{', '.join(changed)} changed since it started; run again without --resume to start over"
            )
        run_dir.drop_parts_from(saved.chunks_done)
        notify(f"resuming after {saved.rows_done:,} rows ({saved.chunks_done} chunks) already done")
        return saved
    if options.resume:
        notify(f"nothing to resume for {options.output}; starting from the first row")
    elif run_dir.path.exists():
        done = f" ({saved.rows_done:,} rows done)" if saved is not None else ""
        notify(f"discarding an unfinished run for {options.output}{done}; use --resume to continue one instead")
    checkpoint = Checkpoint(settings=settings)
    run_dir.start(checkpoint)
    return checkpoint
