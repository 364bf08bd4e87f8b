"""Label a Dask DataFrame on a cluster: the ``label`` columns for data sets past one machine.

Install with ``pip install "khmer-civic[dask]"``. :func:`label_dataframe` adds to every row of a
``dask.dataframe.DataFrame`` the columns ``khmer-civic label`` writes (one per task,
``label_status``, one score per label), built by the same code (:class:`~khmer_civic.io.annotators.Labeller`),
so a row gets the same labels and scores on a cluster as from ``label`` on one machine.

How the work is spread:

- Each partition is one task; the rows, index and partitions of the input are kept. A task
  carries its partition and a small recipe (:class:`~khmer_civic.io.annotators.LabelJob`: the
  model's path, batch size, threads) and the model's digest; never a model.
- Each worker process loads the model once, on its first partition, and keeps it for every
  later one (:func:`worker_labeller`, a per-process cache shared by the worker's threads). The
  model must be at the same path on every worker: the bundled one (``model=None``: each
  worker's installed package) or a directory on a shared file system. A worker whose model
  differs from the one the client read (another package version, another file) refuses to
  label, naming both digests.
- onnxruntime scores with one thread per task, so a worker started with ``--nthreads T``
  labels T partitions at once on T cores: the worker's threads are the threads that score.
  Workers of one thread each (``dask worker --nworkers N --nthreads 1``) are the setting the
  measurements favour (benchmarks/README.md, "Batch labelling" and "Dask").
- A worker lost mid-run costs only its partitions: Dask runs them again elsewhere and every
  row is labelled once in the result.

:func:`read_table` and :func:`write_parquet` are what ``khmer-civic label --scheduler`` uses
around it: CSV/TSV/Parquet in (a file, a glob or a folder), a folder of Parquet parts out.
"""

from __future__ import annotations

import glob
import os
import shutil
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from khmer_civic import extras
from khmer_civic.io.annotators import LabelColumns, LabelJob, Labeller, label_counts
from khmer_civic.io.columns import (
    FLAG,
    LABEL,
    LABELS,
    SCORE,
    STATUS,
    TEXT,
    check_no_clash,
    find_text_column,
)
from khmer_civic.io.errors import OutputError, TableError, UnreadableTableError
from khmer_civic.io.formats import INPUT_SUFFIXES, TableFormat
from khmer_civic.io.writers import AddedColumn, TableLayout, arrow_schema
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE
from khmer_civic.model.manifest import model_digest

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from khmer_civic.model.classifier import CivicClassifier

EXTRA_MODULES = ("dask", "distributed", "pandas")
INSTALL_LINE = 'pip install "khmer-civic[dask]"'
# Formats read on a cluster, and what each reads with.
DASK_INPUT_FORMATS = (TableFormat.CSV, TableFormat.TSV, TableFormat.PARQUET)
# A CSV file is read as one partition (a quoted comment may hold a line break, which splitting the
# file at byte offsets would cut), then split into partitions of about this many bytes of file.
CSV_PARTITION_BYTES = 4 << 20
PART_NAME_DIGITS = 6  # part.000000.parquet ...: the file names sort in row order


class ModelMismatchError(RuntimeError):
    """A worker's model is not the one the client read (another version or another file at that path)."""


def missing_modules() -> list[str]:
    """The modules of the ``dask`` extra that are not installed."""
    return extras.missing_modules(EXTRA_MODULES)


# ------------------------------------------------------------------------------ on the workers


_labellers: dict[LabelJob, Labeller] = {}
_labellers_lock = threading.Lock()


def worker_labeller(job: LabelJob, expected_digest: str | None = None) -> Labeller:
    """The labeller of ``job`` in this process: loaded by the first task that needs it, then kept.

    The lock makes a worker's threads wait for one load instead of each loading a copy. With
    ``expected_digest`` (the client's :func:`~khmer_civic.model.manifest.model_digest`) a model
    whose content differs raises :class:`ModelMismatchError` instead of labelling.
    """
    with _labellers_lock:
        labeller = _labellers.get(job)
        if labeller is None:
            labeller = job.build(quiet=True)
            found = model_digest(labeller.classifier.path)
            if expected_digest is not None and found != expected_digest:
                raise ModelMismatchError(
                    f"the model at {labeller.classifier.path} on {os.uname().nodename} has digest {found}, "
                    f"the client's has {expected_digest}: install the same khmer-civic version (bundled model) "
                    "or put one model directory on a shared path for every machine"
                )
            _labellers[job] = labeller
    return labeller


def _pandas_values(values: Sequence[Any], kind: str) -> Any:
    """One added column as a pandas array of the dtype :func:`label_dataframe` promises for its kind:
    lists of labels as objects, labels and statuses as strings, flags as nullable booleans,
    scores as floats (NaN where the row has none)."""
    import numpy as np
    import pandas as pd

    if kind == LABELS:
        array = np.empty(len(values), dtype=object)
        for i, value in enumerate(values):  # element by element: equal-length lists must stay lists
            array[i] = value
        return array
    if kind == SCORE:
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    if kind == FLAG:
        return pd.array(list(values), dtype="boolean")
    if kind in (LABEL, STATUS, TEXT):
        return pd.array(list(values), dtype="string")
    raise ValueError(f"no pandas type for added columns of kind {kind!r}")


def _with_added(partition: pd.DataFrame, columns: Mapping[str, Sequence[Any]], added: Sequence[AddedColumn]) -> Any:
    """``partition`` with the added columns after its own, by position (an index may repeat)."""
    out = partition.copy(deep=False)
    for column in added:
        out[column.name] = _pandas_values(columns[column.name], column.kind)
    return out


def label_partition(
    partition: pd.DataFrame,
    job: LabelJob,
    text_column: str,
    expected_digest: str | None = None,
    mask_pii: bool = False,
) -> pd.DataFrame:
    """One partition with the labels of its texts (runs on a worker; see :func:`label_dataframe`)."""
    labeller = worker_labeller(job, expected_digest)
    texts = partition[text_column].tolist()
    out = _with_added(partition, labeller.annotate(texts), labeller.added_columns)
    if mask_pii:
        from khmer_civic.text import mask_pii as mask

        out[text_column] = [mask(t) if isinstance(t, str) else t for t in texts]
    return out  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ on the client


def _model_path(model: str | os.PathLike[str] | CivicClassifier | None) -> str | None:
    """The model directory the workers load, as an absolute path (``None``: each worker's bundled model)."""
    if model is None:
        return None
    path = getattr(model, "path", model)  # a loaded CivicClassifier: its directory, not the object
    return str(Path(path).resolve())


def label_job(
    model: str | os.PathLike[str] | CivicClassifier | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    threads: int = 1,
) -> LabelJob:
    """The job the workers run for ``model`` (see :func:`label_dataframe` for the arguments)."""
    return LabelJob(model_path=_model_path(model), batch_size=batch_size, intra_op_threads=threads)


def label_dataframe(
    ddf: dd.DataFrame,
    text_column: str | None = "text",
    model: str | os.PathLike[str] | CivicClassifier | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    threads: int = 1,
    mask_pii: bool = False,
) -> dd.DataFrame:
    """``ddf`` with the columns ``khmer-civic label`` adds, computed lazily partition by partition.

    The result has the rows, index, divisions and partitions of ``ddf``, its columns, then one
    column per task of the model (``topics``: lists of labels, object; ``sentiment``: string;
    ``call_to_action``: nullable boolean), ``label_status`` (string: ``ok`` or why the row has
    no labels) and one float score per label (NaN for unlabelled rows); its ``meta`` says so.

    ``text_column``: the column holding the texts (``None``: found by name, as ``label`` does).
    ``model``: a model directory present at the same path on every worker, or a loaded
    :class:`~khmer_civic.model.CivicClassifier` (only its path is sent); ``None``: the bundled
    model of each worker's installed package. ``threads``: onnxruntime threads per task (one
    per worker thread by default; see the module docstring). ``mask_pii``: mask phone numbers,
    e-mails and @mentions in the text column after labelling.

    Reads the model's config.json and manifest here (no onnxruntime session); raises
    :class:`~khmer_civic.io.errors.MissingColumnError` for a missing text column,
    :class:`~khmer_civic.io.errors.ColumnClashError` when ``ddf`` already has an added column,
    and :class:`~khmer_civic.schema.ModelConfigError` for an unusable model directory.
    """
    job = label_job(model, batch_size, threads=threads)
    return label_with(ddf, job, job.describe(), text_column, mask_pii=mask_pii)


def label_with(
    ddf: dd.DataFrame,
    job: LabelJob,
    described: LabelColumns,
    text_column: str | None = "text",
    *,
    mask_pii: bool = False,
) -> dd.DataFrame:
    """:func:`label_dataframe` with the job and its :meth:`~khmer_civic.io.annotators.LabelJob.describe`
    already made (a caller that needs the columns too checks and hashes the model once)."""
    added = described.added_columns
    columns = [str(c) for c in ddf.columns]
    choice = find_text_column(columns, text_column, source="the DataFrame")
    check_no_clash(columns, [c.name for c in added], source="the DataFrame")
    meta = _with_added(ddf._meta, {c.name: [] for c in added}, added)
    digest = described.identity()["digest"]
    return ddf.map_partitions(
        label_partition, job, choice.name, digest, mask_pii, meta=meta, align_dataframes=False
    )


def added_arrow_types(schema_columns: Sequence[AddedColumn]) -> dict[str, Any]:
    """The Arrow type of each added column, as ``label`` writes it to Parquet."""
    types = arrow_schema(TableLayout(original=(), original_kinds={}, added=tuple(schema_columns)))
    return {field.name: field.type for field in types}


def partition_counts(partition: pd.DataFrame, columns: LabelColumns) -> pd.DataFrame:
    """The summary counts (:func:`~khmer_civic.io.annotators.label_counts`) of a labelled partition,
    as a two-column frame (``key``, ``count``) that concatenates across partitions."""
    import pandas as pd

    values: dict[str, list[Any]] = {}
    for column in columns.added_columns:
        values[column.name] = [_python_value(v, column.kind) for v in partition[column.name].tolist()]
    counts: Counter[str] = label_counts(columns.schema, values) if len(partition) else Counter()
    return pd.DataFrame({"key": list(counts), "count": list(counts.values())}).astype({"key": object, "count": "int64"})


def _python_value(value: Any, kind: str) -> Any:
    """A cell of an added column as :class:`~khmer_civic.io.annotators.Labeller` made it (lists, bools, str)."""
    import pandas as pd

    if value is None or (not isinstance(value, list | tuple) and kind != LABELS and pd.isna(value)):
        return None
    if kind == LABELS:
        return list(value)  # Parquet gives numpy arrays back
    if kind == FLAG:
        return bool(value)
    return value


# ------------------------------------------------------------------------------ files


def _input_files(source: str) -> list[Path]:
    """The files a source names: itself, the matches of a glob, or the table files in a folder (recursively)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
        if not files:
            raise UnreadableTableError(f"the folder {path} holds no .csv, .tsv or .parquet file")
        return files
    if glob.has_magic(source):
        files = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        if not files:
            raise UnreadableTableError(f"no file matches {source}")
        return files
    if not path.exists():
        raise UnreadableTableError(f"{path} does not exist")
    return [path]


def input_format_of(files: Sequence[Path]) -> TableFormat:
    """The one format of a set of input files (CSV, TSV or Parquet, told from their extensions)."""
    formats = {INPUT_SUFFIXES.get(p.suffix.lower()) for p in files}
    if len(formats) > 1:
        raise UnreadableTableError(
            "the input mixes formats (" + ", ".join(sorted(str(f.value) if f else "?" for f in formats)) + "); "
            "give files of one format"
        )
    fmt = formats.pop()
    if fmt not in DASK_INPUT_FORMATS:
        shown = f"{files[0].suffix or 'no extension'}"
        raise UnreadableTableError(
            f"cannot read {files[0]} ({shown}) on a Dask cluster: use .csv, .tsv or .parquet "
            "(or label it on one machine, without --scheduler)"
        )
    return fmt  # type: ignore[return-value]


def cluster_csv_problem(source: str | os.PathLike[str], exc: BaseException) -> str:
    """What to tell a user whose CSV the cluster's parser (pandas) cannot read."""
    reason = " ".join(str(exc).split())[:200]
    return (
        f"{os.fspath(source)}: the CSV parser of a Dask cluster cannot read this file ({reason}); a stray "
        "quote or a broken row stops a cluster run. Label it without --scheduler/--dask-local, which flags "
        "such a row unreadable_row and reads every other row, or repair the file"
    )


def read_table(source: str | os.PathLike[str]) -> dd.DataFrame:
    """A Dask DataFrame of a CSV/TSV/Parquet file, glob or folder (the files must be of one format).

    CSV/TSV cells are read as text (UTF-8, a byte-order mark skipped, invalid bytes as U+FFFD;
    empty cells stay empty strings); each file is one partition, split after reading into parts
    of about :data:`CSV_PARTITION_BYTES` of file. Parquet keeps its column types and its
    partitioning by Dask (about one partition per row group or file).
    """
    import dask.dataframe as dd

    files = _input_files(os.fspath(source))
    fmt = input_format_of(files)
    names = [str(p) for p in files]
    if fmt is TableFormat.PARQUET:
        folder = Path(source)  # a folder is read as a data set: hive partition columns (year=2024/) kept
        return dd.read_parquet(str(folder) if folder.is_dir() else names)
    try:
        ddf = dd.read_csv(
            names,
            sep="\t" if fmt is TableFormat.TSV else ",",
            blocksize=None,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            encoding_errors="replace",
        )
    except ValueError as exc:  # pandas' ParserError is a ValueError; Dask wraps others in one
        raise UnreadableTableError(cluster_csv_problem(source, exc)) from None
    total = sum(p.stat().st_size for p in files)
    wanted = max(ddf.npartitions, -(-total // CSV_PARTITION_BYTES))
    return ddf.repartition(npartitions=wanted) if wanted > ddf.npartitions else ddf


def part_name(index: int) -> str:
    """The file name of part ``index`` (zero-padded, so that sorting the names gives the row order)."""
    return f"part.{index:0{PART_NAME_DIGITS}d}.parquet"


def check_output_dir(output: Path) -> None:
    """Refuse an output that is a file or a folder with something in it (parts would mix)."""
    if output.exists() and not output.is_dir():
        raise OutputError(f"the output {output} is a file: with a Dask cluster the output is a folder of Parquet parts")
    if output.is_dir() and any(output.iterdir()):
        raise OutputError(f"the output folder {output} is not empty; give a new or empty folder")
    if output.suffix.lower() in (".csv", ".tsv", ".jsonl", ".xlsx"):
        raise OutputError(
            f"the output {output} is named like a {output.suffix} file: with a Dask cluster the output is a "
            "folder of Parquet parts; give a folder name (e.g. labelled/ or labelled.parquet)"
        )
    if not output.parent.is_dir():
        raise OutputError(f"cannot write {output}: the folder {output.parent} does not exist")


def partial_dir(output: Path) -> Path:
    """The folder the parts are written to before it takes the output's name."""
    return output.with_name(f".{output.name}.partial")


def output_schema(labelled: dd.DataFrame, columns: LabelColumns, known: Mapping[str, Any] | None = None) -> Any:
    """The Arrow schema of the output: the added columns as ``label`` writes them, the others with
    the types in ``known`` (e.g. a Parquet input's own), else inferred from their dtype (text for
    an ``object`` column, whose values Dask cannot see before the run)."""
    import pyarrow as pa

    added = added_arrow_types(columns.added_columns)
    known = dict(known or {})
    sample = labelled._meta_nonempty
    fields = []
    for name in sample.columns:
        if name in added:
            kind = added[name]
        elif name in known:
            kind = known[name]
        elif sample[name].dtype == object:
            kind = pa.string()
        else:
            kind = pa.Schema.from_pandas(sample[[name]], preserve_index=False).field(str(name)).type
        fields.append(pa.field(str(name), kind))
    return pa.schema(fields)


def write_parquet(
    labelled: dd.DataFrame,
    output: Path,
    columns: LabelColumns,
    *,
    known_types: Mapping[str, Any] | None = None,
    compute: bool = True,
) -> Any:
    """Write a labelled frame to ``output`` as Parquet parts (``part.000000.parquet`` ..., in row order).

    The parts go to a hidden folder beside ``output`` that takes its name when every part is
    written, so ``output`` never holds a partial result. ``compute=False``: return the Dask
    object to compute (then call :func:`finish_output`). Types: :func:`output_schema`; a named
    index is written as a column.
    """
    check_output_dir(output)
    staging = partial_dir(output)
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted run
    if labelled.index.name is not None:
        labelled = labelled.reset_index()
    write = labelled.to_parquet(
        str(staging),
        name_function=part_name,
        schema=output_schema(labelled, columns, known_types),
        write_index=False,
        compute=False,
    )
    if not compute:
        return write
    write.compute()
    finish_output(output)
    return None


def parquet_types(source: str | os.PathLike[str]) -> dict[str, Any]:
    """The Arrow type of each column of a Parquet input (its first file), to write them back unchanged."""
    import pyarrow.parquet as pq

    files = _input_files(os.fspath(source))
    if input_format_of(files) is not TableFormat.PARQUET:
        return {}
    return {field.name: field.type for field in pq.read_schema(files[0])}


def finish_output(output: Path) -> None:
    """Give the written parts the output's name (an empty output folder is replaced)."""
    staging = partial_dir(output)
    if not staging.is_dir():
        raise TableError(f"no parts were written for {output}")
    if output.is_dir():
        output.rmdir()  # checked empty before the run
    os.replace(staging, output)
