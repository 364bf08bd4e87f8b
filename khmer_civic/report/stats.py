"""The engagement statistics of the report: bootstrap intervals of medians and a rate ratio.

**Medians.** The median engagement (reactions, comments, shares ...) of posts with and without a
call to action, each with a 95% percentile-bootstrap interval: :data:`BOOTSTRAP_RESAMPLES`
resamples of the posts, drawn with the fixed seed :data:`BOOTSTRAP_SEED`, so the same data give
the same interval.

**Rate ratio.** How many times the engagement of a post with a call to action is that of a
post without one, from a count regression of the post's figure on ``has_cta`` with fixed effects
for the page and the period (week or month) it was posted in:
``log E[y] = b0 + b * has_cta + page effect + period effect``; the rate ratio is ``exp(b)`` with the
95% Wald interval ``exp(b ± 1.96 se)``. The model is a negative binomial regression (NB2, the
dispersion estimated by maximum likelihood) fitted with statsmodels; should it not converge, a
quasi-Poisson GLM (Poisson estimates, standard errors scaled by the Pearson dispersion) is
fitted instead, and the method says which. Pages and periods whose posts all have zero are left
out of the fit (their fixed effect would be minus infinity, and they say nothing about ``b``).

**Too few posts.** A median needs :data:`MIN_POSTS_PER_GROUP` posts with a figure in its group;
the rate ratio needs that many posts with and without a call to action, and at least
:data:`MIN_RESIDUAL_DF` more posts than the model has parameters. Below that the report says
"too few posts" instead of a number.

statsmodels is imported inside :func:`rate_ratio` only (the optional ``report`` extra).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_POSTS_PER_GROUP = 10
MIN_RESIDUAL_DF = 10
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261206
CONFIDENCE = 0.95
_Z = 1.959963984540054  # the standard normal's 97.5% quantile
_RESAMPLE_CELLS = 4_000_000  # resampled values held in memory at once

NEGATIVE_BINOMIAL = "negative binomial (NB2)"
QUASI_POISSON = "quasi-Poisson"
# Why an estimate is missing.
TOO_FEW_POSTS = "too_few_posts"
NOT_ESTIMABLE = "not_estimable"


@dataclass(frozen=True)
class Interval:
    """An estimate and its 95% interval."""

    estimate: float
    low: float
    high: float

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def median_interval(
    values: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    minimum: int = MIN_POSTS_PER_GROUP,
) -> Interval | None:
    """The median of ``values`` and its percentile-bootstrap 95% interval; ``None`` below ``minimum`` values."""
    data = np.asarray(values, dtype=float)
    if data.size < max(minimum, 1):
        return None
    rng = np.random.default_rng(seed)
    per_block = max(1, _RESAMPLE_CELLS // data.size)
    medians: list[np.ndarray] = []
    done = 0
    while done < resamples:
        block = min(per_block, resamples - done)
        picks = rng.integers(0, data.size, size=(block, data.size))
        medians.append(np.median(data[picks], axis=1))
        done += block
    boot = np.concatenate(medians)
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    return Interval(float(np.median(data)), float(low), float(high))


@dataclass(frozen=True)
class RateRatio:
    """The rate ratio of posts with a call to action to posts without, or why there is none."""

    interval: Interval | None
    method: str | None
    posts_used: int  # posts in the fit (posts of all-zero pages or periods left out)
    posts_with_cta: int
    posts_without_cta: int
    parameters: int  # columns of the design matrix
    dispersion: float | None  # NB2 alpha, or the quasi-Poisson scale
    reason: str | None = None  # TOO_FEW_POSTS or NOT_ESTIMABLE when interval is None


def design_matrix(has_cta: Sequence[bool], pages: Sequence[str], periods: Sequence[str]) -> np.ndarray:
    """Columns: intercept, has_cta, one indicator per page and per period but the first of each (sorted)."""
    n = len(has_cta)
    columns = [np.ones(n), np.asarray(has_cta, dtype=float)]
    for groups in (pages, periods):
        levels = sorted(set(groups))
        index = {level: i for i, level in enumerate(levels)}
        codes = np.fromiter((index[g] for g in groups), dtype=int, count=n)
        for level in range(1, len(levels)):
            columns.append((codes == level).astype(float))
    return np.column_stack(columns)


def _informative(counts: np.ndarray, pages: Sequence[str], periods: Sequence[str]) -> np.ndarray:
    """Posts outside the pages and periods whose posts all have zero (repeated until none is left)."""
    keep = np.ones(counts.size, dtype=bool)
    while True:
        before = int(keep.sum())
        for groups in (pages, periods):
            totals: dict[str, float] = {}
            for i in np.flatnonzero(keep):
                totals[groups[i]] = totals.get(groups[i], 0.0) + counts[i]
            keep &= np.fromiter((totals.get(g, 1.0) > 0 for g in groups), dtype=bool, count=counts.size)
        if int(keep.sum()) == before:
            return keep


def rate_ratio(
    counts: Sequence[int],
    has_cta: Sequence[bool],
    pages: Sequence[str],
    periods: Sequence[str],
    *,
    minimum: int = MIN_POSTS_PER_GROUP,
) -> RateRatio:
    """The rate ratio exp(b) of the count regression in the module docstring, with its 95% interval."""
    y_all = np.asarray(counts, dtype=float)
    cta_all = np.asarray(has_cta, dtype=bool)
    with_cta, without_cta = int(cta_all.sum()), int((~cta_all).sum())

    def missing(reason: str, used: int = 0, parameters: int = 0) -> RateRatio:
        return RateRatio(None, None, used, with_cta, without_cta, parameters, None, reason)

    if min(with_cta, without_cta) < minimum:
        return missing(TOO_FEW_POSTS, len(y_all))
    keep = _informative(y_all, pages, periods)
    y, cta = y_all[keep], cta_all[keep]
    kept_pages = [p for p, k in zip(pages, keep) if k]
    kept_periods = [p for p, k in zip(periods, keep) if k]
    x = design_matrix(cta.tolist(), kept_pages, kept_periods)
    used, parameters = int(y.size), x.shape[1]
    if min(int(cta.sum()), int((~cta).sum())) < minimum or used - parameters < MIN_RESIDUAL_DF:
        return missing(TOO_FEW_POSTS, used, parameters)
    if np.linalg.matrix_rank(x) < parameters:  # has_cta confounded with the pages and periods
        return missing(NOT_ESTIMABLE, used, parameters)
    fitted = _negative_binomial(y, x) or _quasi_poisson(y, x)
    if fitted is None:
        return missing(NOT_ESTIMABLE, used, parameters)
    beta, se, method, dispersion = fitted
    interval = Interval(math.exp(beta), math.exp(beta - _Z * se), math.exp(beta + _Z * se))
    return RateRatio(interval, method, used, with_cta, without_cta, parameters, dispersion)


def _usable(beta: float, se: float) -> bool:
    return math.isfinite(beta) and math.isfinite(se) and se > 0 and abs(beta) < 50


def _negative_binomial(y: np.ndarray, x: np.ndarray) -> tuple[float, float, str, float] | None:
    """b, se(b), the method and alpha of an NB2 fit; ``None`` when it does not converge."""
    from statsmodels.discrete.discrete_model import NegativeBinomial

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            result = NegativeBinomial(y, x, loglike_method="nb2").fit(method="newton", maxiter=100, disp=0)
        except (ValueError, np.linalg.LinAlgError, OverflowError):
            return None
        if not result.mle_retvals.get("converged", False):
            return None
        beta, se = float(result.params[1]), float(result.bse[1])
        alpha = float(result.params[-1])
    return (beta, se, NEGATIVE_BINOMIAL, alpha) if _usable(beta, se) and math.isfinite(alpha) else None


def _quasi_poisson(y: np.ndarray, x: np.ndarray) -> tuple[float, float, str, float] | None:
    """b, se(b), the method and the Pearson dispersion of a quasi-Poisson GLM."""
    import statsmodels.api as sm

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            result = sm.GLM(y, x, family=sm.families.Poisson()).fit(scale="X2")
        except (ValueError, np.linalg.LinAlgError, OverflowError):
            return None
        beta, se, scale = float(result.params[1]), float(result.bse[1]), float(result.scale)
    return (beta, se, QUASI_POISSON, scale) if _usable(beta, se) else None
