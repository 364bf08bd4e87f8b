"""Temperature scaling, thresholds and ECE (khmer_civic.train.calibrate)."""

from __future__ import annotations

import numpy as np
import pytest

from khmer_civic.model.runtime import sigmoid, softmax
from khmer_civic.schema import TaskSpec
from khmer_civic.train.calibrate import (
    WindowLogits,
    calibrate_task,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    text_probabilities,
)

MULTI = TaskSpec("topics", "multi_label", ("a", "b", "c"), "topics")
SINGLE = TaskSpec("sentiment", "single_label", ("negative", "neutral", "positive"), "sentiment")
BINARY = TaskSpec("cta", "binary", ("false", "true"), "cta")


def _synthetic(task: TaskSpec, overconfidence: float, n: int = 3000, seed: int = 0):
    """Labels drawn from calibrated probabilities, logits then multiplied (miscalibrated)."""
    rng = np.random.default_rng(seed)
    if task.type == "single_label":
        true_logits = rng.normal(0, 1.5, (n, len(task.labels)))
        p = softmax(true_logits)
        y = np.array([rng.choice(len(task.labels), p=row) for row in p])
    else:
        width = task.n_outputs
        true_logits = rng.normal(0, 1.5, (n, width))
        y = (rng.random((n, width)) < sigmoid(true_logits)).astype(np.float32)
        if task.type == "binary":
            y = y[:, 0]
    mask = np.ones(n, dtype=np.float32)
    mask[::10] = 0  # unannotated rows must not count
    return WindowLogits.one_per_text({task.name: true_logits * overconfidence}), y, mask


@pytest.mark.parametrize("task", [MULTI, SINGLE, BINARY], ids=lambda t: t.type)
@pytest.mark.parametrize("overconfidence", [3.0, 0.4])
def test_temperature_undoes_miscalibration(task: TaskSpec, overconfidence: float) -> None:
    windows, y, mask = _synthetic(task, overconfidence)
    temperature = fit_temperature(windows, y, mask, task)
    assert temperature == pytest.approx(overconfidence, rel=0.15)
    before = text_probabilities(windows, task, 1.0)
    after = text_probabilities(windows, task, temperature)
    assert negative_log_likelihood(after, y, mask, task) < negative_log_likelihood(before, y, mask, task) - 0.01
    assert expected_calibration_error(after, y, mask, task) < expected_calibration_error(before, y, mask, task)


def test_calibrate_task_reports_before_and_after() -> None:
    windows, y, mask = _synthetic(BINARY, 4.0)
    spec, report = calibrate_task(windows, y, mask, BINARY)
    assert spec.temperature == report.temperature
    assert report.nll_after < report.nll_before and report.ece_after < report.ece_before
    assert 0.02 <= spec.threshold <= 0.98


def test_choose_threshold_maximises_f1() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = np.round(rng.random(30), 2)  # ties included
        y = (rng.random(30) < p).astype(int)
        if y.sum() == 0:
            continue
        t = choose_threshold(p, y, bounds=(0.0, 1.0), min_positives=1, shrinkage=0)

        def f1(th: float, p: np.ndarray = p, y: np.ndarray = y) -> float:
            pred = p >= th
            tp = (pred & (y == 1)).sum()
            return 2 * tp / (pred.sum() + y.sum())

        best = max(f1(th) for th in np.unique(p))
        assert f1(t) == pytest.approx(best)
        assert not np.any(np.isclose(p, t))  # cuts fall between probabilities


def test_choose_threshold_without_positives_and_bounds() -> None:
    assert choose_threshold(np.array([0.1, 0.9]), np.array([0, 0]), min_positives=1) == 0.5
    exact = {"min_positives": 1, "shrinkage": 0}
    assert choose_threshold(np.array([0.999, 0.9995, 0.1]), np.array([1, 1, 0]), **exact) == pytest.approx(0.5495)
    # the best cut (0.99975) lies outside the allowed range and is clipped
    assert choose_threshold(np.array([0.995, 0.9995, 0.999]), np.array([0, 1, 0]), **exact) == 0.98


def test_too_few_positives_keep_the_default_cut() -> None:
    # 4 positives, all scored low: the F1-best cut would be 0.04, but 4 < 5 positives is too few
    p = np.r_[np.full(4, 0.05), np.full(200, 0.03)]
    y = np.r_[np.ones(4), np.zeros(200)]
    assert choose_threshold(p, y, min_positives=1, shrinkage=0) == pytest.approx(0.04)
    assert choose_threshold(p, y, shrinkage=0) == 0.5  # default min_positives = MIN_TUNING_POSITIVES = 5
    p5, y5 = np.r_[p, 0.05], np.r_[y, 1.0]
    assert choose_threshold(p5, y5, shrinkage=0) == pytest.approx(0.04)  # 5 positives: tuned
    assert choose_threshold(p5, y5, min_positives=10, shrinkage=0) == 0.5


def test_a_cut_chosen_on_few_positives_is_pulled_toward_half() -> None:
    # the F1-best cut is 0.04 both times; 5 positives pull it two thirds of the way back to 0.5
    # (5 / (5 + 10) of the distance kept), 500 positives hardly at all
    few_p = np.r_[np.full(5, 0.05), np.full(200, 0.03)]
    few_y = np.r_[np.ones(5), np.zeros(200)]
    assert choose_threshold(few_p, few_y) == pytest.approx(0.5 - 0.46 * 5 / 15)
    assert choose_threshold(few_p, few_y, shrinkage=5) == pytest.approx(0.5 - 0.46 * 5 / 10)
    many_p = np.r_[np.full(500, 0.05), np.full(2000, 0.03)]
    many_y = np.r_[np.ones(500), np.zeros(2000)]
    assert choose_threshold(many_p, many_y) == pytest.approx(0.5 - 0.46 * 500 / 510)
    # a cut above 0.5 is pulled down the same way
    high_p = np.r_[np.full(10, 0.95), np.full(40, 0.9)]
    high_y = np.r_[np.ones(10), np.zeros(40)]
    assert choose_threshold(high_p, high_y) == pytest.approx(0.5 + 0.425 * 10 / 20)


def test_calibrate_task_lists_the_labels_left_untuned() -> None:
    windows, y, mask = _synthetic(MULTI, 1.0, n=400)
    y[:, 1] = 0
    y[:15:3, 1] = 1  # label b: 5 positives, but every 10th row is unannotated (row 0): 4 count
    spec, report = calibrate_task(windows, y, mask, MULTI)
    assert report.untuned == ("b",) and spec.thresholds["b"] == 0.5
    assert spec.thresholds["a"] != 0.5
    spec, report = calibrate_task(windows, y, mask, MULTI, min_positives=3)
    assert report.untuned == () and spec.thresholds["b"] != 0.5


def test_windows_are_folded_like_the_runtime() -> None:
    logits = {
        "topics": np.array([[0.0, 2.0, -1.0], [3.0, -2.0, 0.0], [1.0, 1.0, 1.0]]),
        "sentiment": np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 2.0, 0.0]]),
    }
    windows = WindowLogits(logits, owners=np.array([0, 0, 1]), weights=np.array([3.0, 1.0, 5.0]), n_texts=2)
    topics = text_probabilities(windows, MULTI, 2.0)
    np.testing.assert_allclose(topics[0], sigmoid(np.array([3.0, 2.0, 0.0]) / 2))  # max over windows
    sentiment = text_probabilities(windows, SINGLE)
    expected = (3 * softmax(logits["sentiment"][0]) + softmax(logits["sentiment"][1])) / 4
    np.testing.assert_allclose(sentiment[0], expected)
    np.testing.assert_allclose(sentiment[1], softmax(logits["sentiment"][2]))


def test_ece_by_hand() -> None:
    probs = np.array([[0.05], [0.15], [0.95], [0.85]])
    y = np.array([0.0, 1.0, 1.0, 1.0])
    # gaps per bin: [0, .1) .05 vs 0; [.1, .2) .15 vs 1; [.8, .9) .85 vs 1; [.9, 1] .95 vs 1
    ece = expected_calibration_error(probs, y, np.ones(4), BINARY, n_bins=10)
    assert ece == pytest.approx((0.05 + 0.85 + 0.15 + 0.05) / 4)
    single = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    ece = expected_calibration_error(single, np.array([0, 2]), np.ones(2), SINGLE, n_bins=10)
    assert ece == pytest.approx((0.3 + 0.6) / 2)
    assert np.isnan(expected_calibration_error(single, np.array([0, 2]), np.zeros(2), SINGLE))


def test_nll_ignores_unannotated_rows() -> None:
    probs = np.array([[0.9], [0.5], [0.1]])
    a = negative_log_likelihood(probs, np.array([1.0, 0.0, 0.0]), np.array([1, 0, 1]), BINARY)
    b = negative_log_likelihood(probs, np.array([1.0, 1.0, 0.0]), np.array([1, 0, 1]), BINARY)
    assert a == b == pytest.approx(-np.log(0.9))
