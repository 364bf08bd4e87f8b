"""Helpers shared by the benchmark scripts: paths, the machine, the input mix, timing, tables.

Not part of the package: the scripts put ``benchmarks/`` on ``sys.path`` by being run from it
(``python benchmarks/<name>.py``), and import this module as ``common``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import resource
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "khmer-civic-e5-small"
DEFAULT_RUN_DIR = REPO_ROOT / "training" / "runs" / "e5-small"
DEFAULT_SPLITS_DIR = REPO_ROOT / "training" / "data" / "splits"
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

# The realistic input mix (see build_input_mix).
SHORT_MAX_CHARS = 600
LONG_MIN_CHARS = 600
LONG_MAX_CHARS = 2000
LONG_SHARE = 0.05
LENGTH_BANDS: tuple[tuple[int, int], ...] = ((0, 20), (20, 200), (200, 600), (600, 2001))


def thread_env(threads: int) -> dict[str, str]:
    """Environment for a child process whose native thread pools should use ``threads`` threads."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = str(threads)
    env["TOKENIZERS_PARALLELISM"] = "false"  # the tokenizer's own pool would compete for the cores
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    return env


# The instruction-set extensions that decide int8/fp16 matrix speed: one "AMD EPYC" host with
# AVX-512 VNNI ran the same models 3-4 times as fast as another with AVX2 only.
VECTOR_EXTENSIONS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")


def machine_info() -> dict[str, Any]:
    """CPU model and its vector extensions, core counts, memory and library versions of this machine."""
    cpu_model = platform.processor() or "unknown"
    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        first_cpu = cpuinfo.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
        for line in first_cpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                cpu_model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    memory_gb: float | None = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions: dict[str, str] = {"python": platform.python_version()}
    for module in ("onnxruntime", "numpy", "tokenizers", "sklearn"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    return {
        "cpu": cpu_model,
        # None where the CPU's flags cannot be read (no /proc/cpuinfo)
        "vector_extensions": [name for name in VECTOR_EXTENSIONS if name in flags] if flags else None,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gb": memory_gb,
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "versions": versions,
    }


def machine_line(machine: Mapping[str, Any]) -> str:
    """One Markdown line describing the machine."""
    extensions = machine.get("vector_extensions")  # absent from results written before it was recorded
    isa = f" ({', '.join(extensions) or 'no AVX2'})" if extensions is not None else ""
    return (
        f"Machine: {machine['cpu']}{isa}, {machine['usable_cores']} cores usable "
        f"({machine['logical_cores']} logical), {machine['memory_gb']} GB RAM, {machine['system']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        + "."
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


ROUND1_IDS = "round1_ids.json"  # in a splits directory: {"test": [ids of the round-1 test texts], ...}


def round1_test_ids(splits_dir: Path) -> set[str] | None:
    """The ids of the round-1 test texts (``round1_ids.json["test"]`` in ``splits_dir``), or ``None``
    when the splits have no such file."""
    path = splits_dir / ROUND1_IDS
    if not path.is_file():
        return None
    return set(json.loads(path.read_text(encoding="utf-8"))["test"])


def read_texts(path: Path) -> list[str]:
    """The ``text`` field of every record of a JSON-lines split."""
    return [str(r["text"]) for r in read_jsonl(path)]


def build_input_mix(texts: Sequence[str], seed: int = 0, long_share: float = LONG_SHARE) -> list[str]:
    """A realistic mix of comment lengths built from annotated texts.

    Every text of at most ``SHORT_MAX_CHARS`` characters appears once, as written (Facebook
    comments and replies: mostly 20–200 characters). Long page posts are added so that they make
    ``long_share`` of the mix: each joins randomly drawn texts with newlines until it reaches a
    length drawn uniformly from ``[LONG_MIN_CHARS, LONG_MAX_CHARS]`` characters, then is cut
    there. The order is shuffled with ``seed``, so every run of every system sees the same list.
    """
    rng = random.Random(seed)
    short = [t for t in texts if t.strip() and len(t) <= SHORT_MAX_CHARS]
    if not short:
        raise ValueError("no text of at most SHORT_MAX_CHARS characters to build the mix from")
    n_long = round(len(short) * long_share / (1.0 - long_share))
    long_posts: list[str] = []
    for _ in range(n_long):
        target = rng.randint(LONG_MIN_CHARS, LONG_MAX_CHARS)
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice(short))
        long_posts.append("\n".join(parts)[:target])
    mix = short + long_posts
    rng.shuffle(mix)
    return mix


def labellable(texts: Sequence[str]) -> list[str]:
    """Texts the classifier labels (others get a status and never reach a model, so they are left out)."""
    from khmer_civic.model.runtime import prepare_input
    from khmer_civic.schema import LabelStatus

    return [t for t in texts if prepare_input(t)[0] is LabelStatus.OK]


def token_counts(model_dir: Path, texts: Sequence[str]) -> list[int]:
    """Tokens of each normalised text (no special tokens), with the model's tokenizer."""
    from khmer_civic.model.tokenizer import TextTokenizer
    from khmer_civic.text import normalize

    tokenizer = TextTokenizer.from_file(model_dir / "tokenizer.json")
    return [len(ids) for ids in tokenizer.encode([normalize(t) for t in texts])]


def describe_lengths(texts: Sequence[str], token_counts: Sequence[int] | None = None) -> dict[str, Any]:
    """Share of texts per character band, character percentiles and, if given, token percentiles."""
    n = len(texts)
    chars = sorted(len(t) for t in texts)
    bands = {f"{low}-{high - 1}": sum(low <= c < high for c in chars) for low, high in LENGTH_BANDS}
    out: dict[str, Any] = {
        "texts": n,
        "chars_total": sum(chars),
        "chars_per_band": bands,
        "chars_p50": percentile(chars, 50),
        "chars_p95": percentile(chars, 95),
        "chars_max": chars[-1] if chars else 0,
    }
    if token_counts is not None:
        tokens = sorted(token_counts)
        out.update(
            tokens_total=sum(tokens),
            tokens_p50=percentile(tokens, 50),
            tokens_p95=percentile(tokens, 95),
            tokens_max=tokens[-1] if tokens else 0,
        )
    return out


def mix_sentence(lengths: Mapping[str, Any]) -> str:
    """The input mix described in one Markdown sentence."""
    n = lengths["texts"]
    bands = lengths["chars_per_band"]
    shares = ", ".join(f"{100 * count / n:.1f}% {band} chars" for band, count in bands.items())
    line = f"{n} texts ({shares}); median {lengths['chars_p50']:.0f} chars"
    if "tokens_p50" in lengths:
        line += f" / {lengths['tokens_p50']:.0f} tokens, p95 {lengths['tokens_p95']:.0f} tokens"
    return line


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation between closest ranks)."""
    data = sorted(values)
    if not data:
        return math.nan
    if len(data) == 1:
        return float(data[0])
    position = (len(data) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return float(data[low] + (data[high] - data[low]) * (position - low))


def best_and_median(times: Sequence[float]) -> dict[str, float]:
    """Fastest and median of repeated wall-clock measurements, in seconds."""
    return {"best_s": min(times), "median_s": statistics.median(times)}


def timed_repeats(run: Callable[[], object], repeats: int, clock: Callable[[], float]) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = clock()
        run()
        times.append(clock() - start)
    return times


def _machine_busy_seconds() -> float | None:
    """CPU seconds all programs have spent busy since boot, summed over cores (``/proc/stat``)."""
    stat = Path("/proc/stat")
    if not stat.is_file():
        return None
    fields = stat.read_text(encoding="utf-8").splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class OtherLoad:
    """Measures how many cores other programs kept busy while a block ran.

    On a shared machine a timing is only as good as the quiet around it: ``cores`` is the CPU time
    used by everything but this process during the block, divided by its wall time (0 on an idle
    machine; ``None`` where ``/proc/stat`` does not exist).
    """

    def __init__(self) -> None:
        self.cores: float | None = None

    def __enter__(self) -> OtherLoad:
        self._busy = _machine_busy_seconds()
        self._own = _own_cpu_seconds()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _machine_busy_seconds()
        wall = time.perf_counter() - self._wall
        if busy is None or self._busy is None or wall <= 0:
            return
        others = (busy - self._busy) - (_own_cpu_seconds() - self._own)
        self.cores = max(others, 0.0) / wall


def quiet_enough(cores: float | None, limit: float) -> bool:
    """Whether other programs took at most ``limit`` cores (unknown counts as quiet)."""
    return cores is None or cores <= limit


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``, or ``None`` when either is missing or the reference is zero."""
    if value is None or reference is None or reference == 0 or math.isnan(value) or math.isnan(reference):
        return None
    return value / reference


def fmt(value: Any, digits: int = 1, thousands: bool = True) -> str:
    """A number for a Markdown table (``–`` for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if thousands else str(value)
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}"
    return str(value)


def fmt_ratio(value: float | None) -> str:
    """A ratio to the reference system, e.g. ``×0.42``."""
    if value is None:
        return "–"
    return f"×{value:.2f}" if value < 10 else f"×{value:.1f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one character per column (``l`` or ``r``, default: first left)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, payload: Mapping[str, Any], out: Path | None = None) -> Path:
    """Write ``payload`` as ``benchmarks/results/<name>.json`` (or ``out``)."""
    path = out or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_without_nan(payload), indent=2, ensure_ascii=False, allow_nan=False, default=_plain)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _without_nan(value: Any) -> Any:
    """NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _without_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nan(v) for v in value]
    if getattr(value, "ndim", None) is not None and hasattr(value, "tolist"):  # numpy scalars and arrays
        return _without_nan(value.tolist())
    return value


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def relative(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
