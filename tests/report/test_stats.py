"""The engagement statistics against data built with a known effect (khmer_civic.report.stats)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("statsmodels")

from report_data import true_median  # noqa: E402

from khmer_civic.report import stats  # noqa: E402
from khmer_civic.report.stats import (  # noqa: E402
    MIN_POSTS_PER_GROUP,
    NEGATIVE_BINOMIAL,
    NOT_ESTIMABLE,
    QUASI_POISSON,
    TOO_FEW_POSTS,
    median_interval,
    rate_ratio,
)

TRUE_RATE_RATIO = 1.5


def posts(seed: int, n: int = 400, *, rate_ratio: float = TRUE_RATE_RATIO, alpha: float = 0.6):
    """Counts with page and month effects, a CTA effect of ``rate_ratio`` and NB2 noise (dispersion ``alpha``)."""
    rng = np.random.default_rng(seed)
    page = rng.integers(0, 8, n)
    month = rng.integers(0, 6, n)
    cta = rng.random(n) < 0.4
    mean = np.exp(2.0 + np.linspace(-1, 1, 8)[page] + np.linspace(-0.5, 0.5, 6)[month] + np.log(rate_ratio) * cta)
    counts = rng.poisson(rng.gamma(1 / alpha, alpha * mean))
    return counts.tolist(), cta.tolist(), [f"page{p}" for p in page], [f"2026-{m + 1:02d}" for m in month]


def test_the_rate_ratio_interval_covers_the_true_effect():
    result = rate_ratio(*posts(seed=3))
    assert result.method == NEGATIVE_BINOMIAL and result.reason is None
    assert result.interval is not None and result.interval.covers(TRUE_RATE_RATIO)
    assert result.interval.low < result.interval.estimate < result.interval.high
    assert result.posts_used == 400 and result.posts_with_cta + result.posts_without_cta == 400
    assert result.parameters == 2 + 7 + 5  # intercept, has_cta, 7 page and 5 month indicators
    assert 0.3 < result.dispersion < 1.2  # NB2 alpha near the 0.6 it was drawn with


def test_the_interval_covers_the_truth_about_as_often_as_it_says():
    covered = sum(rate_ratio(*posts(seed=100 + k, n=300)).interval.covers(TRUE_RATE_RATIO) for k in range(20))
    assert covered >= 16  # a 95% interval; 16 of 20 or fewer happens with probability < 2%


def test_no_effect_gives_an_interval_around_one():
    result = rate_ratio(*posts(seed=5, rate_ratio=1.0))
    assert result.interval.covers(1.0)
    assert not result.interval.covers(TRUE_RATE_RATIO)


def test_page_effects_are_adjusted_for():
    """CTA posts mostly on the busy pages: the raw ratio of means is far above 1.5, the model's is not."""
    rng = np.random.default_rng(11)
    n = 500
    page = rng.integers(0, 5, n)
    cta = rng.random(n) < np.where(page >= 3, 0.8, 0.1)
    mean = np.exp(1.0 + 1.2 * page + np.log(TRUE_RATE_RATIO) * cta)
    counts = rng.poisson(rng.gamma(2.0, mean / 2.0))
    raw = counts[cta].mean() / counts[~cta].mean()
    result = rate_ratio(counts.tolist(), cta.tolist(), [str(p) for p in page], ["2026-01"] * n)
    assert raw > 3
    assert result.interval.covers(TRUE_RATE_RATIO)


def test_too_few_posts_below_the_minimum():
    counts, cta, pages, periods = posts(seed=1, n=200)
    keep = [i for i in range(200) if not cta[i]] + [i for i in range(200) if cta[i]][: MIN_POSTS_PER_GROUP - 1]
    result = rate_ratio(*([seq[i] for i in keep] for seq in (counts, cta, pages, periods)))
    assert result.interval is None and result.reason == TOO_FEW_POSTS
    assert result.posts_with_cta == MIN_POSTS_PER_GROUP - 1
    assert median_interval(list(range(MIN_POSTS_PER_GROUP - 1))) is None
    assert median_interval(list(range(MIN_POSTS_PER_GROUP))) is not None


def test_more_parameters_than_posts_allow_is_too_few():
    n = 24  # 12 with and 12 without, but 20 pages: fewer than MIN_RESIDUAL_DF posts left over
    result = rate_ratio([3, 5] * 12, [True, False] * 12, [f"p{i % 20}" for i in range(n)], ["m"] * n)
    assert result.reason == TOO_FEW_POSTS and result.interval is None


def test_a_call_to_action_confounded_with_the_page_cannot_be_estimated():
    counts, _, _, periods = posts(seed=2, n=100)
    pages = ["a"] * 50 + ["b"] * 50
    cta = [True] * 50 + [False] * 50
    result = rate_ratio(counts, cta, pages, periods)
    assert result.interval is None and result.reason == NOT_ESTIMABLE


def test_pages_whose_posts_all_have_zero_are_left_out():
    counts, cta, pages, periods = posts(seed=4, n=300)
    silent = [i for i, p in enumerate(pages) if p == "page0"]
    for i in silent:
        counts[i] = 0
    result = rate_ratio(counts, cta, pages, periods)
    assert result.posts_used == 300 - len(silent)
    assert result.interval.covers(TRUE_RATE_RATIO)


def test_quasi_poisson_when_the_negative_binomial_fit_fails(monkeypatch):
    monkeypatch.setattr(stats, "_negative_binomial", lambda y, x: None)
    result = rate_ratio(*posts(seed=3))
    assert result.method == QUASI_POISSON
    assert result.interval.covers(TRUE_RATE_RATIO)
    assert result.dispersion > 1  # overdispersed counts


def test_bootstrap_median_intervals_cover_the_true_medians():
    counts, cta, _, _ = posts(seed=8, n=400, alpha=0.6)
    for has_cta in (True, False):
        values = [c for c, flag in zip(counts, cta) if flag is has_cta]
        interval = median_interval(values)
        assert interval.estimate == float(np.median(values))
        truth = true_median(has_cta, rate_ratio=TRUE_RATE_RATIO, dispersion=0.6, pages=8, months=6,
                            page_span=1.0, month_span=0.5)  # fmt: skip
        assert interval.covers(truth), (has_cta, interval, truth)


def test_the_bootstrap_is_repeatable_and_its_seed_matters():
    values = np.random.default_rng(9).lognormal(2.0, 1.0, 200).tolist()  # continuous: no ties between resamples
    assert median_interval(values) == median_interval(values)
    widths = {median_interval(values, seed=s, resamples=300) for s in range(5)}
    assert len(widths) > 1
