"""Labelling on a Dask cluster (khmer_civic.dask): rows/s by worker count, the cost of a partition,
and what 100 million comments would take on a real cluster.

    python benchmarks/dask_label.py [--rows 1200] [--partitions 12] [--workers 1 2] [--model DIR]

For each worker count a cluster is started on loopback as on several machines: ``dask
scheduler`` and ``dask worker --nthreads 1 --no-nanny`` processes (tests/loopback_cluster.py).
Each worker loads the model once before the clock starts (the load is timed on its own), then
``label_dataframe`` + ``to_parquet`` label the realistic comment mix of benchmarks/inference.py
(common.build_input_mix over the test split, labellable texts only, repeated up to ``--rows``),
read from ``--partitions`` Parquet files. Rows/s is rows over the wall time of that run.

Per-partition overhead, on the largest cluster, without a model:

- *task*: a trivial task (``client.map``) round trip, per task, from ``--overhead-tasks`` tasks;
- *partition*: reading and writing a partition of Parquet with Dask, from the same rows
  (``--overhead-rows``) read as one file and as ``--overhead-partitions`` files:
  ``(t_many - t_one) / (many - 1)``.

Besides wall times, the CPU seconds of the workers and of the scheduler are read from the
system (psutil): on a machine shared with other programs, rows per worker CPU-second is what one
core gives when it is the worker's alone, where wall-clock rows/s mostly measures the sharing.
The last column of each table is how many cores programs other than this benchmark (its client,
scheduler and workers) kept busy, from ``/proc/stat``. The estimate for 100 million comments on
10 machines of 8 cores takes the 1-worker rows per CPU-second as one core's rate and adds the
partitions' CPU cost (spread over the workers) and the model load. Writes
``benchmarks/results/dask_label.json`` and prints Markdown.
"""

from __future__ import annotations

import argparse
import math
import operator
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import common

sys.path.insert(0, str(common.REPO_ROOT / "tests"))  # loopback_cluster: the cluster the tests start

ESTIMATE_ROWS = 100_000_000
ESTIMATE_MACHINES = 10
ESTIMATE_CORES = 8
ESTIMATE_PARTITION_ROWS = 20_000


def comment_table(texts: Sequence[str], rows: int, partitions: int, folder: Path) -> Path:
    """``rows`` comments (``texts`` repeated) with an id and a page, as ``partitions`` Parquet files."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "comment_id": [f"{i:09d}" for i in range(rows)],
            "page": [f"page {i % 50}" for i in range(rows)],
            "message": [texts[i % len(texts)] for i in range(rows)],
        }
    )
    bounds = [round(rows * k / partitions) for k in range(partitions + 1)]
    for k in range(partitions):
        frame.iloc[bounds[k] : bounds[k + 1]].to_parquet(folder / f"part{k:04d}.parquet", index=False)
    return folder


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds used so far by these processes (0 for one that is gone)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


class Timed:
    """Wall time of a block, the CPU seconds each group of processes used in it, and the cores that
    programs other than this one and those groups kept busy meanwhile."""

    def __init__(self, groups: Mapping[str, Sequence[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self.seconds = math.nan
        self.cpu: dict[str, float] = {}
        self.other_cores: float | None = None

    def __enter__(self) -> Timed:
        self._load = common.OtherLoad().__enter__()
        self._cpu = {name: process_cpu_seconds(pids) for name, pids in self.groups.items()}
        self._own = process_cpu_seconds([os.getpid()])
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self._load.__exit__(*exc)
        self.cpu = {name: process_cpu_seconds(pids) - self._cpu[name] for name, pids in self.groups.items()}
        self.cpu["client"] = process_cpu_seconds([os.getpid()]) - self._own
        if self._load.cores is not None:
            ours = sum(v for k, v in self.cpu.items() if k != "client") / self.seconds
            self.other_cores = max(self._load.cores - ours, 0.0)


def cluster_pids(cluster: Any) -> dict[str, list[int]]:
    """The cluster's processes by role."""
    return {"scheduler": [cluster.scheduler.pid], "workers": [w.pid for w in cluster.workers]}


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def label_run(cluster: Any, source: Path, model: Path | None, output: Path, rows: int) -> dict[str, Any]:
    """Load the model on every worker (timed), then label ``source`` into ``output`` (timed)."""
    from khmer_civic import dask as kdask
    from khmer_civic.io.annotators import LabelJob

    job = LabelJob(model_path=str(model.resolve()) if model else None, intra_op_threads=1)
    columns = job.describe()
    digest = columns.identity()["digest"]
    client = cluster.client
    with Timed(cluster_pids(cluster)) as load:
        client.run(lambda: kdask.worker_labeller(job, digest) and None)
    memory = client.run(rss_mib)
    labelled = kdask.label_dataframe(kdask.read_table(source), "message", model)
    write = kdask.write_parquet(labelled, output, columns, compute=False)
    with Timed(cluster_pids(cluster)) as run:
        client.compute(write).result()
    kdask.finish_output(output)
    import pyarrow.parquet as pq

    written = pq.read_table(output, columns=["label_status"]).num_rows
    if written != rows:
        raise RuntimeError(f"{written} rows written for {rows}")
    return {
        "workers": len(cluster.workers),
        "rows": rows,
        "partitions": labelled.npartitions,
        "model_load_s": load.seconds,
        "model_load_cpu_s": load.cpu["workers"],
        "worker_rss_mib": sorted(memory.values()),
        "wall_s": run.seconds,
        "rows_per_s": rows / run.seconds,
        "worker_cpu_s": run.cpu["workers"],
        "scheduler_cpu_s": run.cpu["scheduler"],
        "rows_per_cpu_s": rows / run.cpu["workers"],
        "other_cores": run.other_cores,
    }


def overhead_run(cluster: Any, folder: Path, rows: int, many: int, tasks: int) -> dict[str, Any]:
    """The cost of a task and of a Parquet partition, without a model (see the module docstring)."""
    import dask.dataframe as dd
    import pandas as pd

    client = cluster.client
    client.gather(client.map(operator.neg, range(10)))  # connections warm
    with Timed(cluster_pids(cluster)) as map_many:
        client.gather(client.map(operator.neg, range(tasks), pure=False))
    frame = pd.DataFrame({"comment_id": range(rows), "message": ["សាលារៀន"] * rows})
    one, split = folder / "one", folder / "many"
    one.mkdir(parents=True)
    split.mkdir()
    frame.to_parquet(one / "all.parquet", index=False)
    bounds = [round(rows * k / many) for k in range(many + 1)]
    for k in range(many):
        frame.iloc[bounds[k] : bounds[k + 1]].to_parquet(split / f"p{k:05d}.parquet", index=False)
    times: dict[str, Timed] = {}
    for name, source in (("one", one), ("many", split)):
        for repeat in range(3):
            target = folder / f"out_{name}_{repeat}"
            with Timed(cluster_pids(cluster)) as timed:
                dd.read_parquet(str(source)).to_parquet(str(target), write_index=False, compute=False).compute()
            if name not in times or timed.seconds < times[name].seconds:
                times[name] = timed

    def per_partition(measure: Any) -> float:
        return (measure(times["many"]) - measure(times["one"])) / (many - 1)

    return {
        "workers": len(cluster.workers),
        "tasks": tasks,
        "per_task_s": map_many.seconds / tasks,
        "per_task_scheduler_cpu_s": map_many.cpu["scheduler"] / tasks,
        "tasks_other_cores": map_many.other_cores,
        "partition_rows": rows,
        "partitions_many": many,
        "one_partition_s": times["one"].seconds,
        "many_partitions_s": times["many"].seconds,
        "per_partition_s": per_partition(lambda t: t.seconds),
        "per_partition_cpu_s": per_partition(lambda t: sum(t.cpu.values())),
        "per_partition_scheduler_cpu_s": per_partition(lambda t: t.cpu["scheduler"]),
        "partitions_other_cores": [times["one"].other_cores, times["many"].other_cores],
    }


def estimate(per_core_rows_s: float, per_partition_s: float, scheduler_per_partition_s: float, load_s: float) -> dict[str, Any]:
    """Hours for ESTIMATE_ROWS comments on ESTIMATE_MACHINES x ESTIMATE_CORES one-thread workers.

    Labelling and the partitions' own costs are shared by the workers; the scheduler handles the
    partitions one after another, alongside (a bottleneck only if its total came near the rest).
    """
    cores = ESTIMATE_MACHINES * ESTIMATE_CORES
    partitions = math.ceil(ESTIMATE_ROWS / ESTIMATE_PARTITION_ROWS)
    labelling_s = ESTIMATE_ROWS / (cores * per_core_rows_s)
    partition_s = partitions * per_partition_s / cores
    return {
        "rows": ESTIMATE_ROWS,
        "machines": ESTIMATE_MACHINES,
        "cores_per_machine": ESTIMATE_CORES,
        "workers": cores,
        "partition_rows": ESTIMATE_PARTITION_ROWS,
        "partitions": partitions,
        "per_core_rows_s": per_core_rows_s,
        "per_partition_s": per_partition_s,
        "scheduler_per_partition_s": scheduler_per_partition_s,
        "model_load_s": load_s,
        "labelling_s": labelling_s,
        "partitions_s": partition_s,
        "scheduler_s": partitions * scheduler_per_partition_s,
        "total_h": (load_s + labelling_s + partition_s) / 3600,
    }


def markdown_report(report: Mapping[str, Any]) -> str:
    runs = report["runs"]
    base = runs[0]["rows_per_s"]
    rows = [
        [
            str(r["workers"]),
            common.fmt(r["rows"]),
            str(r["partitions"]),
            f"{r['model_load_s']:.1f} ({r['model_load_cpu_s']:.1f})",
            common.fmt(r["wall_s"]),
            common.fmt(r["rows_per_s"]),
            common.fmt_ratio(common.ratio(r["rows_per_s"], base)),
            common.fmt(r["worker_cpu_s"]),
            common.fmt(r["rows_per_cpu_s"]),
            ", ".join(f"{m:.0f}" for m in r["worker_rss_mib"]),
            common.fmt(r["other_cores"], 2),
        ]
        for r in runs
    ]
    parts = [
        common.machine_line(report["machine"]),
        "",
        f"Input: {report['mix']}; repeated to {common.fmt(runs[0]['rows'])} rows.",
        "",
        common.markdown_table(
            [
                "workers", "rows", "partitions", "model load, wall (CPU) s", "wall (s)", "rows/s", "speed-up",
                "worker CPU (s)", "rows per worker CPU-second", "worker memory (MiB)", "cores taken by others",
            ],
            rows,
        ),  # fmt: skip
    ]
    o = report["overhead"]
    parts += [
        "",
        f"Overhead on {o['workers']} workers, no model: a trivial task {1000 * o['per_task_s']:.2f} ms wall, "
        f"{1000 * o['per_task_scheduler_cpu_s']:.2f} ms of scheduler CPU ({o['tasks']} tasks; others took "
        f"{common.fmt(o['tasks_other_cores'], 2)} cores). A Parquet partition (read, write, schedule): "
        f"{1000 * o['per_partition_s']:.1f} ms wall, {1000 * o['per_partition_cpu_s']:.1f} ms CPU in all, "
        f"{1000 * o['per_partition_scheduler_cpu_s']:.1f} ms of it on the scheduler "
        f"({common.fmt(o['partition_rows'])} rows as 1 file: {o['one_partition_s']:.2f} s, as "
        f"{o['partitions_many']} files: {o['many_partitions_s']:.2f} s; best of 3; others took "
        + " / ".join(common.fmt(c, 2) for c in o["partitions_other_cores"])
        + " cores).",
    ]
    e = report["estimate"]
    parts += [
        "",
        f"Estimate: {common.fmt(e['rows'])} comments on {e['machines']} machines x {e['cores_per_machine']} cores "
        f"({e['workers']} one-thread workers), partitions of {common.fmt(e['partition_rows'])} rows "
        f"({common.fmt(e['partitions'])} partitions): labelling {e['rows']:,} / ({e['workers']} x "
        f"{e['per_core_rows_s']:.1f} rows/s) = {e['labelling_s'] / 3600:.1f} h; partitions "
        f"{common.fmt(e['partitions'])} x {1000 * e['per_partition_s']:.0f} ms / {e['workers']} = "
        f"{e['partitions_s']:.0f} s; model load {e['model_load_s']:.0f} s; scheduler "
        f"{common.fmt(e['partitions'])} x {1000 * e['scheduler_per_partition_s']:.1f} ms = {e['scheduler_s']:.0f} s "
        f"alongside: about **{e['total_h']:.1f} h**.",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--splits", type=Path, default=common.DEFAULT_SPLITS_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overhead-rows", type=int, default=20_000)
    parser.add_argument("--overhead-partitions", type=int, default=200)
    parser.add_argument("--overhead-tasks", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from loopback_cluster import running_cluster

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    texts = common.labellable(common.build_input_mix(common.read_texts(args.splits / "test.jsonl"), seed=args.seed))
    report: dict[str, Any] = {
        "machine": common.machine_info(),
        "mix": common.mix_sentence(common.describe_lengths(texts)),
        "runs": [],
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    with tempfile.TemporaryDirectory(prefix="dask_label_") as scratch:
        root = Path(scratch)
        source = comment_table(texts, args.rows, args.partitions, root / "input")
        for n in args.workers:
            with running_cluster(root / f"cluster{n}", n) as cluster:
                result = label_run(cluster, source, args.model, root / f"out{n}", args.rows)
                print(f"{n} worker(s): {result}", file=sys.stderr)  # figures so far, in case a later step fails
                report["runs"].append(result)
                if n == max(args.workers):
                    report["overhead"] = overhead_run(
                        cluster, root / "overhead", args.overhead_rows, args.overhead_partitions, args.overhead_tasks
                    )
                    print(f"overhead: {report['overhead']}", file=sys.stderr)
    one = next(r for r in report["runs"] if r["workers"] == min(args.workers))
    overhead = report["overhead"]
    report["estimate"] = estimate(
        one["rows_per_cpu_s"],  # a core's rate: rows per CPU-second of the workers
        overhead["per_partition_cpu_s"],
        overhead["per_partition_scheduler_cpu_s"],
        one["model_load_cpu_s"] / one["workers"],
    )
    path = common.write_results("dask_label", report, args.out)
    print(markdown_report(report))
    print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
