"""khmer_civic.dask: label a Dask DataFrame, on the synchronous scheduler and on a real cluster of
separate scheduler and worker processes on loopback (tests/loopback_cluster.py)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

import dask  # noqa: E402
import dask.dataframe as dd  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from loopback_cluster import LoopbackCluster, comment_rows, loopback_cluster, write_comments_csv  # noqa: E402, F401

from khmer_civic import dask as kdask  # noqa: E402
from khmer_civic.io.annotators import LabelJob  # noqa: E402
from khmer_civic.io.errors import ColumnClashError, MissingColumnError, OutputError, UnreadableTableError  # noqa: E402
from khmer_civic.io.pipeline import RunOptions, run_table  # noqa: E402

# How long a cluster run may take before the test gives up: generous, since a machine shared
# with other jobs can starve the worker processes for minutes (the tests time nothing).
RESULT_TIMEOUT_S = 900


def _cell(value: Any) -> Any:
    """A Parquet cell as a comparable Python value (lists of labels as lists)."""
    return list(value) if isinstance(value, list | tuple) or hasattr(value, "tolist") else value


def _rows(table_path: Path) -> list[dict[str, Any]]:
    """The rows of a Parquet file or folder of parts (parts in name order)."""
    return [{k: _cell(v) for k, v in row.items()} for row in pq.read_table(table_path).to_pylist()]


def _added_names(model_dir: Path) -> list[str]:
    return [c.name for c in LabelJob(str(model_dir)).describe().added_columns]


@pytest.fixture()
def comments_csv(tmp_path: Path) -> Path:
    return write_comments_csv(tmp_path / "comments.csv", comment_rows(240))


@pytest.fixture()
def single_process_output(tmp_path: Path, comments_csv: Path, tiny_model_dir: Path) -> Path:
    """What ``label`` writes for the comments on one machine, in one process."""
    output = tmp_path / "single.parquet"
    run_table(
        RunOptions(input=comments_csv, output=output, text_column="message", chunk_size=50),
        LabelJob(str(tiny_model_dir)),
        notify=lambda message: None,
    )
    return output


def _frame(texts: list[object], npartitions: int = 3) -> dd.DataFrame:
    pdf = pd.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": pd.Series(texts, dtype=object)})
    pdf.index = pd.Index([10 * i for i in range(len(texts))], name="row")
    return dd.from_pandas(pdf, npartitions=npartitions, sort=True)


TEXTS: list[object] = ["សាលារៀនភូមិយើងខ្វះគ្រូ", None, "", "😀", "school please", 7, "ឃុំ", "\u200b", "health", "សូម"] * 3


# ------------------------------------------------------------------------------ one process


def test_result_keeps_rows_index_and_partitions_and_its_meta_is_true(tiny_model_dir: Path) -> None:
    ddf = _frame(TEXTS)
    labelled = kdask.label_dataframe(ddf, "text", tiny_model_dir)
    assert labelled.npartitions == ddf.npartitions
    assert labelled.divisions == ddf.divisions
    computed = labelled.compute(scheduler="sync")
    assert list(computed.index) == list(ddf.index.compute())
    assert list(computed.columns) == [*ddf.columns, *_added_names(tiny_model_dir)]
    assert dict(computed.dtypes) == dict(labelled.dtypes)  # the meta promised what the partitions hold
    assert computed["topics"].dtype == object and computed["call_to_action"].dtype == "boolean"


def test_columns_are_those_label_builds_for_the_same_texts(tiny_model_dir: Path) -> None:
    labeller = LabelJob(str(tiny_model_dir)).build()
    expected = labeller.annotate(TEXTS)
    with dask.config.set({"dataframe.convert-string": False}):  # keep the number 7 a number
        computed = kdask.label_dataframe(_frame(TEXTS), "text", tiny_model_dir).compute(scheduler="sync")
    for name, values in expected.items():
        got = [None if v is pd.NA or (isinstance(v, float) and v != v) else v for v in computed[name].tolist()]
        assert got == values, name
    assert set(expected["label_status"]) >= {"ok", "empty", "no_letters", "not_text"}


def test_the_text_column_can_be_found_by_name(tiny_model_dir: Path) -> None:
    ddf = _frame(TEXTS).rename(columns={"text": "comment_message"})
    labelled = kdask.label_dataframe(ddf, None, tiny_model_dir).compute(scheduler="sync")
    assert labelled["label_status"].iloc[0] == "ok"


def test_a_missing_text_column_or_a_clash_is_refused_before_any_work(tiny_model_dir: Path) -> None:
    with pytest.raises(MissingColumnError):
        kdask.label_dataframe(_frame(TEXTS), "body", tiny_model_dir)
    labelled = kdask.label_dataframe(_frame(TEXTS), "text", tiny_model_dir)
    with pytest.raises(ColumnClashError):
        kdask.label_dataframe(labelled, "text", tiny_model_dir)


def test_mask_pii_masks_the_text_after_labelling(tiny_model_dir: Path) -> None:
    texts: list[object] = ["ទូរស័ព្ទ 012 345 678 សាលារៀន", "@Dara សូមជួយ"]
    plain = kdask.label_dataframe(_frame(texts, 1), "text", tiny_model_dir).compute(scheduler="sync")
    masked = kdask.label_dataframe(_frame(texts, 1), "text", tiny_model_dir, mask_pii=True).compute(scheduler="sync")
    assert masked["text"].tolist() == ["ទូរស័ព្ទ [PHONE] សាលារៀន", "[MENTION] សូមជួយ"]
    pd.testing.assert_frame_equal(plain.drop(columns="text"), masked.drop(columns="text"))


def test_a_process_loads_a_model_once_for_all_its_threads(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")  # a key no other test has loaded
    job = LabelJob(str(model), intra_op_threads=1)
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(kdask.worker_labeller(job))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 4 and len({id(labeller) for labeller in got}) == 1
    assert kdask.worker_labeller(job) is got[0]


def test_a_worker_with_another_model_at_the_path_refuses_to_label(tiny_model_dir: Path, tmp_path: Path) -> None:
    from tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "other", seed=1)
    labelled = kdask.label_dataframe(_frame(TEXTS), "text", tiny_model_dir)
    digest = LabelJob(str(tiny_model_dir)).describe().identity()["digest"]
    pdf = labelled.partitions[0].compute(scheduler="sync")[["id", "text"]]
    with pytest.raises(kdask.ModelMismatchError, match="digest"):
        kdask.label_partition(pdf, LabelJob(str(other)), "text", digest)


def test_the_model_is_sent_as_a_path_not_as_an_object(tiny_model_dir: Path) -> None:
    from khmer_civic.model.classifier import CivicClassifier

    classifier = CivicClassifier.load(tiny_model_dir)
    labelled = kdask.label_dataframe(_frame(TEXTS), "text", classifier)
    graph = dict(labelled.__dask_graph__())
    assert not any("CivicClassifier" in repr(task) for task in graph.values())
    assert labelled.compute(scheduler="sync")["label_status"].iloc[0] == "ok"


# ------------------------------------------------------------------------------ files


def test_read_table_takes_a_file_a_glob_or_a_folder_and_refuses_mixed_formats(tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    write_comments_csv(folder / "a.csv", comment_rows(5))
    write_comments_csv(folder / "b.csv", comment_rows(7))
    for source in (folder / "a.csv", str(folder / "*.csv"), folder):
        ddf = kdask.read_table(source)
        assert list(ddf.columns) == ["comment_id", "page", "message"]
    frame = kdask.read_table(folder).compute(scheduler="sync")
    assert len(frame) == 12 and frame["comment_id"].iloc[0] == "000000"  # read as text: zeros kept
    assert sum("\n" in m for m in frame["message"]) == 1  # a quoted line break stays inside its cell
    pd.DataFrame({"message": ["x"]}).to_parquet(folder / "c.parquet")
    with pytest.raises(UnreadableTableError, match="mixes formats"):
        kdask.read_table(folder)
    with pytest.raises(UnreadableTableError, match="no file matches"):
        kdask.read_table(str(tmp_path / "nothing" / "*.csv"))


def test_output_must_be_a_new_or_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        kdask.check_output_dir(tmp_path / "file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "part.0.parquet").write_text("x")
    with pytest.raises(OutputError, match="not empty"):
        kdask.check_output_dir(tmp_path / "full")
    with pytest.raises(OutputError, match="folder of Parquet parts"):
        kdask.check_output_dir(tmp_path / "labelled.csv")
    kdask.check_output_dir(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    kdask.check_output_dir(tmp_path / "empty")


def test_parquet_output_has_the_types_label_writes(
    tmp_path: Path, comments_csv: Path, tiny_model_dir: Path, single_process_output: Path
) -> None:
    columns = LabelJob(str(tiny_model_dir)).describe()
    labelled = kdask.label_dataframe(kdask.read_table(comments_csv), "message", tiny_model_dir)
    with dask.config.set(scheduler="sync"):
        kdask.write_parquet(labelled, tmp_path / "out", columns)
    written = pq.read_schema(sorted((tmp_path / "out").iterdir())[0])
    single = pq.read_schema(single_process_output)
    for name in _added_names(tiny_model_dir):
        assert written.field(name).type == single.field(name).type, name
    assert not kdask.partial_dir(tmp_path / "out").exists()


# ------------------------------------------------------------------------------ a real cluster


def _label_on(cluster: LoopbackCluster, source: Path, model_dir: Path, output: Path) -> Any:
    """Start writing the labelled ``source`` to ``output`` on the cluster; the future of the write."""
    columns = LabelJob(str(model_dir)).describe()
    labelled = kdask.label_dataframe(kdask.read_table(source), "message", model_dir)
    write = kdask.write_parquet(labelled, output, columns, compute=False)
    return cluster.client.compute(write)


def test_cluster_labels_equal_single_process_label_row_for_row(
    loopback_cluster: LoopbackCluster, tmp_path: Path, tiny_model_dir: Path, single_process_output: Path
) -> None:
    folder = tmp_path / "parts_in"
    folder.mkdir()
    rows = comment_rows(240)
    for i in range(4):  # four files: four partitions at least, spread over both workers
        write_comments_csv(folder / f"comments_{i}.csv", rows[60 * i : 60 * (i + 1)])
    output = tmp_path / "labelled"
    _label_on(loopback_cluster, folder, tiny_model_dir, output).result(timeout=RESULT_TIMEOUT_S)
    kdask.finish_output(output)
    got, expected = _rows(output), _rows(single_process_output)
    assert len(got) == len(expected) == 240
    for mine, theirs in zip(got, expected):
        for name in ["comment_id", "message", *_added_names(tiny_model_dir)]:
            assert mine[name] == theirs[name], (name, mine["comment_id"])
    # the work was done by the two `dask worker` processes this test started
    assert set(loopback_cluster.worker_pids().values()) == {worker.pid for worker in loopback_cluster.workers}
    loaded = loopback_cluster.client.run(lambda: len(kdask._labellers))
    assert sorted(loaded.values()) == [1, 1]  # each worker loaded the model once


def test_a_worker_killed_mid_job_loses_no_row_and_labels_none_twice(
    loopback_cluster: LoopbackCluster, tmp_path: Path, tiny_model_dir: Path, single_process_output: Path
) -> None:
    folder = tmp_path / "many_parts"
    folder.mkdir()
    rows = comment_rows(240)
    n_files = 48  # many small partitions: the job outlasts the moment the victim is caught busy
    for i in range(n_files):
        write_comments_csv(folder / f"c{i:02d}.csv", rows[5 * i : 5 * (i + 1)])
    output = tmp_path / "labelled"
    victim = sorted(loopback_cluster.worker_pids())[0]
    staging = kdask.partial_dir(output)
    future = _label_on(loopback_cluster, folder, tiny_model_dir, output)
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while True:  # wait until the victim is busy with a partition and some parts are written
        written = len(list(staging.glob("*.parquet"))) if staging.exists() else 0
        busy = loopback_cluster.client.processing().get(victim)
        if written >= 2 and busy:
            break
        assert not future.done() and time.monotonic() < deadline, loopback_cluster.log_text()
        time.sleep(0.02)
    loopback_cluster.kill_worker(victim)
    written_at_kill = len(list(staging.glob("*.parquet")))
    future.result(timeout=RESULT_TIMEOUT_S)
    kdask.finish_output(output)
    assert written_at_kill < n_files  # the job was still running when the worker died
    assert victim not in loopback_cluster.worker_pids()
    got, expected = _rows(output), _rows(single_process_output)
    assert [r["comment_id"] for r in got] == [r["comment_id"] for r in expected]  # each row once, in order
    assert len({r["comment_id"] for r in got}) == 240
    names = _added_names(tiny_model_dir)
    assert [[r[n] for n in names] for r in got] == [[r[n] for n in names] for r in expected]
