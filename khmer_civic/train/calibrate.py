"""Temperature scaling, decision thresholds and calibration error, fitted on dev data.

Everything here works on the probabilities the inference runtime produces
(:mod:`khmer_civic.model.runtime`): per window ``sigmoid(logit / T)`` or ``softmax(logits / T)``,
folded into one row per text by the maximum (multi_label, binary) or the token-weighted mean
(single_label). Fitting on those same probabilities means the temperatures and thresholds
written to config.json are the ones that are best for the shipped decision rule.

- :func:`fit_temperature`: one temperature per task, minimising dev negative log-likelihood by a
  1-D search over ``log T`` (coarse grid, then golden-section refinement).
- :func:`choose_threshold`: the probability cut that maximises F1 of one binary decision, tuned
  only where dev has at least ``MIN_TUNING_POSITIVES`` positives (a cut chosen on three or four
  positives follows their noise: a label with 3 dev positives got a cut of 0.02 and 35 false
  positives on test); with fewer, the calibrated default 0.5. A tuned cut is then pulled toward
  0.5 by ``THRESHOLD_SHRINKAGE`` pseudo-positives: with 11-14 positives (a 100-text dev set) the
  best-F1 cut lands low, trading precision for recall that does not hold on new texts; with
  hundreds of positives the pull is negligible.
- :func:`expected_calibration_error`: ECE with equal-width bins. For single_label tasks it
  compares the top label's probability with its accuracy; for multi_label and binary tasks
  every (text, label) probability is compared with the observed frequency of that label.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from khmer_civic.model.runtime import aggregate_windows, calibrated_probabilities
from khmer_civic.schema import ModelSchema, TaskSpec

TEMPERATURE_BOUNDS: tuple[float, float] = (0.05, 20.0)
THRESHOLD_BOUNDS: tuple[float, float] = (0.02, 0.98)
MIN_TUNING_POSITIVES = 5  # dev positives a label needs before its threshold is tuned
THRESHOLD_SHRINKAGE = 10.0  # pseudo-positives pulling a tuned cut toward 0.5 (choose_threshold)
DEFAULT_THRESHOLD = 0.5
_EPS = 1e-12


@dataclass(frozen=True)
class WindowLogits:
    """Raw logits per window of some texts, and which text (``owners``) each window belongs to.

    ``weights`` are the windows' text-token counts (the single_label mean is weighted by them).
    With one window per text, ``owners`` is ``arange(n_texts)``.
    """

    logits: Mapping[str, np.ndarray]  # task name -> [n_windows, n_outputs]
    owners: np.ndarray
    weights: np.ndarray
    n_texts: int

    @classmethod
    def one_per_text(cls, logits: Mapping[str, np.ndarray]) -> WindowLogits:
        """Wrap per-text logits (no windows)."""
        n = len(next(iter(logits.values())))
        return cls(
            {k: np.asarray(v, dtype=np.float64).reshape(n, -1) for k, v in logits.items()}, np.arange(n), np.ones(n), n
        )


def text_probabilities(windows: WindowLogits, task: TaskSpec, temperature: float | None = None) -> np.ndarray:
    """Per-text calibrated probabilities as the runtime computes them (``[n_texts, n_outputs]``)."""
    spec = task if temperature is None else dataclasses.replace(task, temperature=float(temperature))
    window_probs = calibrated_probabilities(np.asarray(windows.logits[task.name], dtype=np.float64), spec)
    return aggregate_windows(window_probs, windows.owners, windows.weights, windows.n_texts, spec)


def negative_log_likelihood(probs: np.ndarray, targets: np.ndarray, mask: np.ndarray, task: TaskSpec) -> float:
    """Mean NLL over annotated rows (multi_label: averaged over labels too)."""
    keep = np.asarray(mask) > 0
    if not keep.any():
        return float("nan")
    p = np.clip(np.asarray(probs, dtype=np.float64)[keep], _EPS, 1 - _EPS)
    y = np.asarray(targets)[keep]
    if task.type == "single_label":
        return float(-np.mean(np.log(p[np.arange(len(y)), y.astype(np.int64)])))
    y = y.reshape(p.shape).astype(np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_temperature(
    windows: WindowLogits,
    targets: np.ndarray,
    mask: np.ndarray,
    task: TaskSpec,
    bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
) -> float:
    """The temperature in ``bounds`` minimising dev NLL of the runtime's probabilities."""
    if not (np.asarray(mask) > 0).any():
        return 1.0

    def objective(log_t: float) -> float:
        return negative_log_likelihood(text_probabilities(windows, task, math.exp(log_t)), targets, mask, task)

    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    grid = np.linspace(lo, hi, 41)
    values = [objective(float(x)) for x in grid]
    best = int(np.argmin(values))
    a = float(grid[max(best - 1, 0)])
    b = float(grid[min(best + 1, len(grid) - 1)])
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = objective(c), objective(d)
    for _ in range(40):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = objective(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = objective(d)
    candidates = [(values[best], float(grid[best])), (fc, c), (fd, d)]
    return float(math.exp(min(candidates)[1]))


def reliability_table(
    probs: np.ndarray, targets: np.ndarray, mask: np.ndarray, task: TaskSpec, n_bins: int = 10
) -> list[dict[str, float]]:
    """Equal-width bins of predicted probability: count, mean confidence and observed accuracy."""
    conf, hit = _confidence_pairs(probs, targets, mask, task)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = which == b
        count = int(sel.sum())
        rows.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "count": count,
                "confidence": float(conf[sel].mean()) if count else float("nan"),
                "accuracy": float(hit[sel].mean()) if count else float("nan"),
            }
        )
    return rows


def expected_calibration_error(
    probs: np.ndarray, targets: np.ndarray, mask: np.ndarray, task: TaskSpec, n_bins: int = 10
) -> float:
    """ECE: count-weighted mean gap between confidence and accuracy over the bins."""
    rows = reliability_table(probs, targets, mask, task, n_bins)
    total = sum(r["count"] for r in rows)
    if total == 0:
        return float("nan")
    return float(sum(r["count"] * abs(r["confidence"] - r["accuracy"]) for r in rows if r["count"]) / total)


def _confidence_pairs(
    probs: np.ndarray, targets: np.ndarray, mask: np.ndarray, task: TaskSpec
) -> tuple[np.ndarray, np.ndarray]:
    keep = np.asarray(mask) > 0
    p = np.asarray(probs, dtype=np.float64)[keep]
    y = np.asarray(targets)[keep]
    if task.type == "single_label":
        if len(y) == 0:
            return np.zeros(0), np.zeros(0)
        return p.max(axis=1), (p.argmax(axis=1) == y.astype(np.int64)).astype(np.float64)
    return p.reshape(-1), y.reshape(-1).astype(np.float64)


def too_few_positives(positives: np.ndarray, min_positives: int = MIN_TUNING_POSITIVES) -> bool:
    """Whether these examples hold too few positives (none, or under ``min_positives``) to tune a cut on."""
    n_pos = float(np.asarray(positives, dtype=np.float64).sum())
    return n_pos == 0 or n_pos < min_positives


def choose_threshold(
    probs: np.ndarray,
    positives: np.ndarray,
    bounds: tuple[float, float] = THRESHOLD_BOUNDS,
    *,
    min_positives: int = MIN_TUNING_POSITIVES,
    shrinkage: float = THRESHOLD_SHRINKAGE,
) -> float:
    """The cut ``t`` (predict positive when ``p >= t``) with the highest F1 on these examples,
    pulled toward 0.5 by ``shrinkage`` pseudo-positives.

    Cuts lie halfway between consecutive distinct probabilities; among equally good cuts the one
    nearest 0.5 wins. The answer is ``0.5 + (best - 0.5) * n / (n + shrinkage)`` for ``n``
    positives (``shrinkage=0``: the best cut itself). With fewer than ``min_positives`` positive
    examples (none included) the answer is 0.5: too few positives to choose a cut from.
    """
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    y = np.asarray(positives, dtype=np.float64).reshape(-1)
    if len(p) == 0 or too_few_positives(y, min_positives):
        return DEFAULT_THRESHOLD
    n_pos = y.sum()
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    k = np.arange(1, len(p) + 1)
    f1 = 2 * tp / (k + n_pos)
    # a cut is only possible after the last of a run of equal probabilities
    valid = np.append(p_sorted[1:] < p_sorted[:-1], True)
    nxt = np.append(p_sorted[1:], 0.0)
    cuts = (p_sorted + nxt) / 2
    best_f1 = f1[valid].max()
    good = valid & np.isclose(f1, best_f1, rtol=0, atol=1e-12)
    cut = float(np.clip(cuts[good][np.argmin(np.abs(cuts[good] - 0.5))], *bounds))
    pull = float(n_pos) / (float(n_pos) + max(float(shrinkage), 0.0))
    return DEFAULT_THRESHOLD + (cut - DEFAULT_THRESHOLD) * pull


@dataclass(frozen=True)
class TaskCalibration:
    """What was fitted for one task on dev and how much it helped."""

    temperature: float
    thresholds: dict[str, float]  # multi_label
    threshold: float  # binary
    untuned: tuple[str, ...]  # labels left at 0.5: fewer than min_positives dev positives
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def tune_task_thresholds(
    task: TaskSpec,
    probs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    *,
    min_positives: int = MIN_TUNING_POSITIVES,
    shrinkage: float = THRESHOLD_SHRINKAGE,
) -> tuple[TaskSpec, tuple[str, ...]]:
    """``task`` with thresholds chosen on calibrated ``probs`` ``[N, n_outputs]`` against the
    annotated rows (``mask`` 1) of ``targets`` (:func:`choose_threshold` per label of a multi-label
    task, on p(true) of a binary one; a single-label task is returned as it is), and the labels left
    at 0.5 for having fewer than ``min_positives`` positives."""
    keep = np.asarray(mask) > 0
    p = np.asarray(probs, dtype=np.float64).reshape(len(keep), -1)[keep]
    y = np.asarray(targets)[keep]
    if task.type == "multi_label":
        thresholds = {
            label: choose_threshold(p[:, j], y[:, j], min_positives=min_positives, shrinkage=shrinkage)
            for j, label in enumerate(task.labels)
        }
        untuned = tuple(label for j, label in enumerate(task.labels) if too_few_positives(y[:, j], min_positives))
        return dataclasses.replace(task, thresholds=thresholds, threshold=DEFAULT_THRESHOLD), untuned
    if task.type == "binary":
        threshold = choose_threshold(p[:, 0], y, min_positives=min_positives, shrinkage=shrinkage)
        untuned = (task.labels[-1],) if too_few_positives(y, min_positives) else ()
        return dataclasses.replace(task, thresholds={}, threshold=threshold), untuned
    return dataclasses.replace(task, thresholds={}, threshold=DEFAULT_THRESHOLD), ()


def calibrate_task(
    windows: WindowLogits,
    targets: np.ndarray,
    mask: np.ndarray,
    task: TaskSpec,
    *,
    fit_temp: bool = True,
    tune_thresholds: bool = True,
    min_positives: int = MIN_TUNING_POSITIVES,
    shrinkage: float = THRESHOLD_SHRINKAGE,
    n_bins: int = 10,
) -> tuple[TaskSpec, TaskCalibration]:
    """Fit a task's temperature, then its thresholds on the calibrated probabilities (a label's
    threshold only when dev has ``min_positives`` of its positives, else 0.5; pulled toward 0.5 by
    ``shrinkage``: see :func:`choose_threshold`)."""
    before = text_probabilities(windows, task, 1.0)
    temperature = fit_temperature(windows, targets, mask, task) if fit_temp else 1.0
    after = text_probabilities(windows, task, temperature)
    if tune_thresholds:
        tuned, untuned = tune_task_thresholds(task, after, targets, mask, min_positives=min_positives, shrinkage=shrinkage)
    else:
        tuned, untuned = dataclasses.replace(task, thresholds={}, threshold=DEFAULT_THRESHOLD), ()
    spec = dataclasses.replace(tuned, temperature=temperature)
    report = TaskCalibration(
        temperature=temperature,
        thresholds=dict(spec.thresholds),
        threshold=spec.threshold,
        untuned=untuned,
        nll_before=negative_log_likelihood(before, targets, mask, task),
        nll_after=negative_log_likelihood(after, targets, mask, task),
        ece_before=expected_calibration_error(before, targets, mask, task, n_bins),
        ece_after=expected_calibration_error(after, targets, mask, task, n_bins),
    )
    return spec, report


def calibrate_schema(
    schema: ModelSchema,
    windows: WindowLogits,
    targets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    fit_temp: bool = True,
    tune_thresholds: bool = True,
    min_positives: int = MIN_TUNING_POSITIVES,
    shrinkage: float = THRESHOLD_SHRINKAGE,
) -> tuple[ModelSchema, dict[str, TaskCalibration]]:
    """:func:`calibrate_task` for every task; ``targets`` maps task -> (targets, mask)."""
    specs = []
    reports: dict[str, TaskCalibration] = {}
    for task in schema.tasks:
        y, m = targets[task.name]
        spec, report = calibrate_task(
            windows,
            y,
            m,
            task,
            fit_temp=fit_temp,
            tune_thresholds=tune_thresholds,
            min_positives=min_positives,
            shrinkage=shrinkage,
        )
        specs.append(spec)
        reports[task.name] = report
    return ModelSchema(tasks=tuple(specs)), reports
