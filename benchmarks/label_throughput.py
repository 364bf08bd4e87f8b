"""Throughput and peak memory of ``khmer-civic label`` on synthetic comments, by number of workers.

Writes N synthetic comments (default 100,000) to a CSV, then runs the real command line
(``python -m khmer_civic.cli label``) once per ``--workers`` value, timing it and sampling the
resident memory of the whole process tree (main process plus workers). It checks that every
run wrote the same bytes.

The comments are built here from a small hand-made word list (civic words, function words,
a little English, emoji, phone numbers, @mentions); lengths follow a mix typical of comment
dumps: 70% short (3–15 words), 25% medium (16–60), 5% long posts (120–400 words, several
model windows), 1% empty and 1% emoji- or digit-only. Half of the texts are written without
spaces between Khmer words, as is common.

``--compare`` additionally measures, on the first 2,000 texts and in this process, the two
ways of using several cores: one onnxruntime session with N intra-op threads, versus N worker
processes with one thread each (the design ``label`` uses).

Without ``--model`` the tiny random test model (tests/tiny_model.py) is built and used: its
speed says little about the shipped model, whose network is far larger. Pass
``--model models/khmer-civic-e5-small`` (or any model directory) for real figures.

    python benchmarks/label_throughput.py --rows 100000 --workers 1 2 [--model DIR] [--compare]
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# A small Khmer vocabulary written for this benchmark.
CIVIC_WORDS = (
    "សាលារៀន គ្រូបង្រៀន សិស្ស ការប្រឡង សៀវភៅ ថ្នាក់រៀន នាយកសាលា អាហារូបករណ៍ សាកលវិទ្យាល័យ "
    "មន្ទីរពេទ្យ គ្រូពេទ្យ ថ្នាំពេទ្យ ជំងឺ មណ្ឌលសុខភាព វ៉ាក់សាំង អ្នកជំងឺ សុខភាព ឆ្មប "
    "ឃុំ សង្កាត់ ភូមិ មេភូមិ មេឃុំ អាជ្ញាធរ ផ្លូវ ទឹកស្អាត អគ្គិសនី សំរាម លិខិតបញ្ជាក់ "
    "អត្តសញ្ញាណប័ណ្ណ សំបុត្រកំណើត ស្ពាន ប្រឡាយ ដីធ្លី"
).split()
COMMON_WORDS = (
    "សូម ជួយ អរគុណ ល្អ ល្អណាស់ អាក្រក់ យឺត លឿន ថ្លៃ ខ្វះ ពិបាក ស្រួល រីករាយ ខឹង ព្រួយ "
    "យើង ខ្ញុំ គាត់ ពួកគេ បង ប្អូន លោក អ្នក កូន ម្តាយ ឪពុក ប្រជាពលរដ្ឋ រដ្ឋាភិបាល ក្រសួង "
    "និង ដែល ជា មាន គ្មាន ទេ នៅ ក្នុង ពី ទៅ មក បាន នឹង កំពុង ត្រូវ ចង់ ដឹង ឃើញ ធ្វើ "
    "ថ្ងៃនេះ ម្សិលមិញ ឆ្នាំ ខែ ពេល រហូត ណាស់ ច្រើន តិច ទាំងអស់ ម្តងទៀត ឆាប់ៗ "
    "ជួសជុល សាងសង់ ចែកចាយ បើក បិទ ចុះឈ្មោះ ដាក់ពាក្យ ទទួល បង់ ថ្លៃសេវា ពន្ធ"
).split()
ENGLISH_WORDS = "school teacher hospital doctor commune road water please thanks good bad help".split()
EXTRAS = ("😀", "👍", "🙏", "😡", "012 345 678", "@Sokha", "https://fb.me/x", "!!", "?", "2024")


def synthetic_comment(rng: random.Random) -> str:
    """One comment with the length mix of the module docstring."""
    r = rng.random()
    if r < 0.01:
        return ""
    if r < 0.02:
        return rng.choice(("😀😀", "👍", "🙏🙏🙏", "12345", "?!"))
    r = rng.random()
    n = rng.randint(3, 15) if r < 0.70 else rng.randint(16, 60) if r < 0.95 else rng.randint(120, 400)
    words = []
    for _ in range(n):
        x = rng.random()
        if x < 0.05:
            words.append(rng.choice(ENGLISH_WORDS))
        elif x < 0.08:
            words.append(rng.choice(EXTRAS))
        elif x < 0.40:
            words.append(rng.choice(CIVIC_WORDS))
        else:
            words.append(rng.choice(COMMON_WORDS))
    return ("" if rng.random() < 0.5 else " ").join(words)


def write_comments(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    pages = ["Ministry of Education", "ក្រសួងសុខាភិបាល", "Phnom Penh City Hall", "ឃុំ ស្វាយ"]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["comment_id", "page", "created_time", "message"])
        for i in range(rows):
            writer.writerow(
                [f"{i:07d}", rng.choice(pages), f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", synthetic_comment(rng)]
            )


def _tree_rss_kib(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (Linux /proc), in KiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat, all cores)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds(extra_pids: Sequence[int] = ()) -> float:
    """CPU seconds of this process, its waited-for children, and the live processes ``extra_pids``."""
    total = sum(os.times()[:4])  # user, system, children's user, children's system
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in extra_pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            continue
    return total


class OtherLoad:
    """How many cores other programs kept busy while a measurement ran.

    Figures measured on a shared machine are comparable only when this is close to 0.
    """

    def __init__(self, extra_pids: Sequence[int] = ()) -> None:
        self.extra_pids = extra_pids
        self.busy = busy_cpu_seconds()
        self.own = own_cpu_seconds(extra_pids)
        self.started = time.perf_counter()

    def cores(self) -> float:
        wall = time.perf_counter() - self.started
        others = (busy_cpu_seconds() - self.busy) - (own_cpu_seconds(self.extra_pids) - self.own)
        return max(others, 0.0) / wall


def run_label(source: Path, output: Path, model: Path, workers: int, chunk_size: int) -> dict[str, float]:
    """Run the CLI once; wall time and the peak of the process tree's resident memory."""
    command = [
        sys.executable, "-m", "khmer_civic.cli", "label", str(source), "-o", str(output),
        "--model", str(model), "--workers", str(workers), "--chunk-size", str(chunk_size), "--no-progress", "-q",
    ]  # fmt: skip
    load = OtherLoad()
    started = time.perf_counter()
    process = subprocess.Popen(command)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kib(process.pid))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"khmer-civic label failed with exit status {code}")
    return {"wall": wall, "tree_peak_mib": peak / 1024, "other_cores": load.cores()}


def compare_designs(model: Path, texts: list[str], cores: int) -> list[tuple[str, float, float]]:
    """Rows/s of one session with ``cores`` intra-op threads versus ``cores`` single-thread workers."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from khmer_civic.io.annotators import LabelJob
    from khmer_civic.io.pipeline import annotate_in_worker

    chunks = [texts[i : i + 250] for i in range(0, len(texts), 250)]
    results = []

    def timed(name: str, work: Callable[[], object], pids: Sequence[int] = ()) -> None:
        load, started = OtherLoad(pids), time.perf_counter()
        work()
        wall = time.perf_counter() - started
        results.append((name, len(texts) / wall, load.cores()))

    for threads in sorted({1, cores}):
        labeller = LabelJob(str(model), intra_op_threads=threads).build(quiet=True)
        labeller.annotate(texts[:20])
        timed(f"1 process, {threads} intra-op thread(s)", lambda: [labeller.annotate(c) for c in chunks])
    job = LabelJob(str(model), intra_op_threads=1)
    with ProcessPoolExecutor(cores, mp_context=get_context("spawn")) as pool:
        list(pool.map(annotate_in_worker, [job] * cores, [texts[:20]] * cores))  # models loaded
        pids = list(pool._processes)  # the workers, to count their CPU as ours
        timed(
            f"{cores} worker processes, 1 thread each",
            lambda: list(pool.map(annotate_in_worker, [job] * len(chunks), chunks)),
            pids,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--model", type=Path, help="model directory (default: the tiny random test model)")
    parser.add_argument("--compare", action="store_true", help="also compare intra-op threads with worker processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep the generated CSV and outputs in this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="khmer-civic-bench-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        model = args.model
        model_note = str(model)
        if model is None:
            sys.path.insert(0, str(REPO / "tests"))
            from tiny_model import build_tiny_model

            model = build_tiny_model(Path(scratch) / "tiny-model")
            model_note = "tiny random test model (tests/tiny_model.py)"
        source = work / "comments.csv"
        write_comments(source, args.rows, args.seed)
        size_mib = source.stat().st_size / 2**20
        print(f"model: {model_note}")
        print(
            f"input: {args.rows:,} synthetic comments, {size_mib:.1f} MiB; "
            f"chunk size {args.chunk_size}; cores {os.cpu_count()}"
        )

        rows = []
        outputs = []
        for workers in args.workers:
            output = work / f"labelled-{workers}w.csv"
            figures = run_label(source, output, model, workers, args.chunk_size)
            outputs.append(output)
            rows.append((workers, figures))
            print(f"  workers {workers}: {figures['wall']:.1f} s", flush=True)
        identical = all(filecmp.cmp(outputs[0], other, shallow=False) for other in outputs[1:])
        largest_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        base = rows[0][1]["wall"]
        print()
        print(
            "| workers | wall time (s) | rows/s | speed-up | peak memory, all processes (MiB) "
            "| cores taken by other programs |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        for workers, figures in rows:
            print(
                f"| {workers} | {figures['wall']:.1f} | {args.rows / figures['wall']:,.0f} | "
                f"{base / figures['wall']:.2f} | {figures['tree_peak_mib']:.0f} | {figures['other_cores']:.2f} |"
            )
        print()
        print(f"outputs identical across worker counts: {identical}; largest single process: {largest_child:.0f} MiB")

        if args.compare:
            with open(source, encoding="utf-8", newline="") as handle:
                texts = [row["message"] for _, row in zip(range(2000), csv.DictReader(handle))]
            cores = max(args.workers)
            print()
            print(f"| {len(texts):,} texts, model only (no file I/O) | rows/s | cores taken by other programs |")
            print("|---|---:|---:|")
            for name, rate, others in compare_designs(model, texts, cores):
                print(f"| {name} | {rate:,.1f} | {others:.2f} |")


if __name__ == "__main__":
    main()
