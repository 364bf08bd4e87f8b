"""Pure pieces of the runtime: input triage, windows, calibration and window aggregation."""

from __future__ import annotations

import decimal
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from khmer_civic.model.inputs import prepare_input
from khmer_civic.model.runtime import aggregate_windows, calibrated_probabilities, sigmoid, softmax, split_windows
from khmer_civic.schema import LabelStatus, TaskSpec


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (None, LabelStatus.EMPTY),
        (float("nan"), LabelStatus.EMPTY),
        (np.float32("nan"), LabelStatus.EMPTY),
        (decimal.Decimal("NaN"), LabelStatus.EMPTY),
        ("", LabelStatus.EMPTY),
        ("  \t\n ", LabelStatus.EMPTY),
        ("\u200b\u200c\ufeff", LabelStatus.EMPTY),
        (42, LabelStatus.NOT_TEXT),
        (3.5, LabelStatus.NOT_TEXT),
        (True, LabelStatus.NOT_TEXT),
        (b"\xe1\x9e\x9f", LabelStatus.NOT_TEXT),
        (["សាលា"], LabelStatus.NOT_TEXT),
        ("😀🙏", LabelStatus.NO_LETTERS),
        ("012 345 678", LabelStatus.NO_LETTERS),
        ("!!! ???", LabelStatus.NO_LETTERS),
        ("សាលារៀន", LabelStatus.OK),
        ("school 😀", LabelStatus.OK),
        (np.str_("គ្រូ"), LabelStatus.OK),
    ],
)
def test_prepare_input_statuses(value: object, status: LabelStatus) -> None:
    got, text = prepare_input(value)
    assert got is status
    assert (text != "") == (status is LabelStatus.OK)


def test_prepare_input_treats_pandas_missing_values_as_empty() -> None:
    import pandas as pd  # a test dependency (pyproject.toml [test]), not a runtime one

    assert prepare_input(pd.NA)[0] is LabelStatus.EMPTY
    assert prepare_input(pd.NaT)[0] is LabelStatus.EMPTY


def test_prepare_input_normalises_text() -> None:
    status, text = prepare_input("  សាលា\u200b  រៀន  ")
    assert status is LabelStatus.OK
    assert text == "សាលា រៀន"


def test_split_windows_short_sequence_is_one_window() -> None:
    assert split_windows([5, 6, 7], 4, 2) == [[5, 6, 7]]
    assert split_windows([], 4, 2) == [[]]


def test_split_windows_long_sequence() -> None:
    assert split_windows(list(range(10)), 4, 3) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    # the last window is pulled back to end on the last token
    assert split_windows(list(range(9)), 4, 3) == [[0, 1, 2, 3], [3, 4, 5, 6], [5, 6, 7, 8]]


def test_split_windows_rejects_a_stride_that_would_skip_tokens() -> None:
    with pytest.raises(ValueError):
        split_windows(list(range(10)), 4, 5)


@settings(max_examples=200, deadline=None)
@given(
    n_tokens=st.integers(min_value=0, max_value=300),
    window=st.integers(min_value=1, max_value=40),
    data=st.data(),
)
def test_split_windows_covers_every_token_in_order(n_tokens: int, window: int, data: st.DataObject) -> None:
    stride = data.draw(st.integers(min_value=1, max_value=window))
    ids = list(range(100, 100 + n_tokens))
    windows = split_windows(ids, window, stride)
    assert all(len(w) <= window for w in windows)
    covered = set()
    starts = []
    for w in windows:
        if not w:  # only an empty input gives an empty window
            assert ids == [] and windows == [[]]
            continue
        start = w[0] - 100
        assert w == ids[start : start + len(w)]  # each window is a contiguous slice
        covered.update(w)
        starts.append(start)
    assert covered == set(ids)
    assert starts == sorted(set(starts))  # strictly increasing, no duplicate window
    if n_tokens > window:
        assert all(len(w) == window for w in windows)
        assert len(windows) == math.ceil((n_tokens - window) / stride) + 1


def test_calibration_formulas() -> None:
    logits = np.array([[2.0, -1.0, 0.5]])
    multi = TaskSpec("t", "multi_label", ("a", "b", "c"), "t", temperature=2.0)
    single = TaskSpec("s", "single_label", ("a", "b", "c"), "s", temperature=2.0)
    np.testing.assert_allclose(calibrated_probabilities(logits, multi), 1 / (1 + np.exp(-logits / 2)))
    expected = np.exp(logits / 2) / np.exp(logits / 2).sum()
    np.testing.assert_allclose(calibrated_probabilities(logits, single), expected)


def test_sigmoid_and_softmax_are_stable_for_extreme_logits() -> None:
    x = np.array([[-1000.0, 0.0, 1000.0]])
    np.testing.assert_allclose(sigmoid(x), [[0.0, 0.5, 1.0]])
    probs = softmax(x)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(), 1.0)


def test_aggregate_windows_max_for_multi_label_weighted_mean_for_single_label() -> None:
    owners = np.array([0, 0, 1])
    weights = np.array([3.0, 1.0, 2.0])
    probs = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    multi = TaskSpec("t", "multi_label", ("a", "b"), "t")
    single = TaskSpec("s", "single_label", ("a", "b"), "s")
    np.testing.assert_allclose(aggregate_windows(probs, owners, weights, 2, multi), [[0.6, 0.8], [0.5, 0.5]])
    np.testing.assert_allclose(
        aggregate_windows(probs, owners, weights, 2, single), [[(0.6 + 0.6) / 4, (2.4 + 0.4) / 4], [0.5, 0.5]]
    )
