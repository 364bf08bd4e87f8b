"""The TF-IDF + logistic regression baseline (khmer_civic.train.baseline)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from train_fixtures import make_records  # noqa: E402

from khmer_civic.schema import ModelSchema, TaskSpec  # noqa: E402
from khmer_civic.train.baseline import TfidfBaseline  # noqa: E402

SCHEMA = ModelSchema(
    tasks=(
        TaskSpec("topics", "multi_label", ("agriculture", "education", "health", "local_administration"), "topics"),
        TaskSpec("sentiment", "single_label", ("negative", "neutral", "positive"), "sentiment"),
        TaskSpec("call_to_action", "binary", ("false", "true"), "call_to_action"),
    )
)


def test_baseline_beats_chance_on_a_separable_set() -> None:
    train, dev, test = make_records(70, 0), make_records(21, 1000), make_records(35, 2000)
    model = TfidfBaseline(SCHEMA).fit(train, dev)
    result = model.evaluate(test, groups="provenance")
    # chance: about 1/3 macro-F1 for sentiment, 0.5 for the others; cue words make these easy
    assert result["tasks"]["sentiment"]["macro"]["f1"] > 0.8
    assert result["tasks"]["call_to_action"]["macro"]["f1"] > 0.8
    assert result["tasks"]["topics"]["macro"]["f1"] > 0.7
    assert set(result["groups"]) == {"authored", "corpus"}


def test_probability_shapes_and_thresholds_from_dev() -> None:
    train, dev = make_records(42, 0), make_records(14, 500)
    model = TfidfBaseline(SCHEMA, ngram_range=(2, 5)).fit(train, dev)
    probs = model.predict_proba(["សាលារៀន ល្អណាស់ សូម", "farm bad"])
    assert probs["topics"].shape == (2, 4)
    assert probs["sentiment"].shape == (2, 3)
    np.testing.assert_allclose(probs["sentiment"].sum(axis=1), 1.0)
    assert probs["call_to_action"].shape == (2, 1)
    assert probs["call_to_action"][0, 0] > probs["call_to_action"][1, 0]
    thresholds = model.schema["topics"].thresholds
    assert set(thresholds) == set(SCHEMA["topics"].labels)
    assert all(0.02 <= t <= 0.98 for t in thresholds.values())


def test_thresholds_need_enough_dev_positives() -> None:
    train, dev = make_records(42, 0), make_records(14, 500)
    tuned = TfidfBaseline(SCHEMA, ngram_range=(2, 5), min_threshold_positives=1).fit(train, dev)
    untuned = TfidfBaseline(SCHEMA, ngram_range=(2, 5), min_threshold_positives=len(dev) + 1).fit(train, dev)
    assert any(t != 0.5 for t in tuned.schema["topics"].thresholds.values())
    assert set(untuned.schema["topics"].thresholds.values()) == {0.5}
    assert untuned.schema["call_to_action"].threshold == 0.5
    # the baseline keeps its best dev cuts unless asked for the transformer's pull toward 0.5
    pull = TfidfBaseline(SCHEMA, ngram_range=(2, 5), min_threshold_positives=1, threshold_shrinkage=10).fit(train, dev)
    pulled, best = pull.schema["topics"].thresholds, tuned.schema["topics"].thresholds
    assert all(abs(pulled[k] - 0.5) <= abs(best[k] - 0.5) for k in best)
    assert any(abs(pulled[k] - 0.5) < abs(best[k] - 0.5) for k in best)


def test_unannotated_records_are_left_out_of_training() -> None:
    train = make_records(30, 0, partial=False)
    for r in train[:10]:
        r["sentiment"] = None
    model = TfidfBaseline(SCHEMA).fit(train)
    assert model.models["sentiment"][0].n_features_in_ > 0
    assert sum(model.models["sentiment"][0].classes_.shape) == 3


def test_predict_before_fit_fails() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        TfidfBaseline(SCHEMA).predict_proba(["x"])
