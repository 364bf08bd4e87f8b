"""Metrics and reports (khmer_civic.train.evaluate), checked against scikit-learn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

sklearn_metrics = pytest.importorskip("sklearn.metrics")

from khmer_civic.model.config import ModelConfig  # noqa: E402
from khmer_civic.schema import ModelSchema, TaskSpec  # noqa: E402
from khmer_civic.train.evaluate import evaluate_predictions, write_model_card, write_report  # noqa: E402

SCHEMA = ModelSchema(
    tasks=(
        TaskSpec(
            "topics",
            "multi_label",
            ("agriculture", "education", "health"),
            "topics",
            thresholds={"agriculture": 0.3, "education": 0.5, "health": 0.7},
        ),
        TaskSpec("sentiment", "single_label", ("negative", "neutral", "positive"), "sentiment"),
        TaskSpec("call_to_action", "binary", ("false", "true"), "call_to_action", threshold=0.4),
    )
)


def _example(n: int = 60, seed: int = 1):
    rng = np.random.default_rng(seed)
    topics_y = rng.random((n, 3)) < 0.4
    sent_y = rng.integers(0, 3, n)
    cta_y = rng.random(n) < 0.3
    topics_p = np.clip(topics_y * 0.5 + rng.random((n, 3)) * 0.6, 0, 1)
    sent_p = rng.random((n, 3)) + np.eye(3)[sent_y] * 0.8
    sent_p /= sent_p.sum(axis=1, keepdims=True)
    cta_p = np.clip(cta_y * 0.4 + rng.random(n) * 0.6, 0, 1)
    gold = []
    for i in range(n):
        gold.append(
            {
                "text": f"t{i}",
                "topics": None if i % 9 == 0 else [SCHEMA["topics"].labels[j] for j in range(3) if topics_y[i, j]],
                "sentiment": None if i % 7 == 0 else SCHEMA["sentiment"].labels[sent_y[i]],
                "call_to_action": None if i % 5 == 0 else bool(cta_y[i]),
                "provenance": "corpus" if i % 2 else "authored",
            }
        )
    probs = {"topics": topics_p, "sentiment": sent_p, "call_to_action": cta_p}
    return gold, probs, (topics_y, sent_y, cta_y)


def test_metrics_equal_sklearn() -> None:
    gold, probs, (topics_y, sent_y, cta_y) = _example()
    result = evaluate_predictions(gold, probs, SCHEMA)
    n = len(gold)

    keep = np.array([i % 9 != 0 for i in range(n)])
    pred = (probs["topics"] >= np.array([0.3, 0.5, 0.7])).astype(int)[keep]
    truth = topics_y.astype(int)[keep]
    m = result["tasks"]["topics"]
    assert m["n"] == keep.sum()
    p, r, f, s = sklearn_metrics.precision_recall_fscore_support(truth, pred, average=None, zero_division=0)
    for j, label in enumerate(SCHEMA["topics"].labels):
        assert (
            m["labels"][label]["precision"],
            m["labels"][label]["recall"],
            m["labels"][label]["f1"],
        ) == pytest.approx((p[j], r[j], f[j]))
        assert m["labels"][label]["support"] == s[j]
        tn, fp, fn, tp = sklearn_metrics.confusion_matrix(truth[:, j], pred[:, j]).ravel()
        assert m["confusion"][label] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    for avg in ("macro", "micro"):
        p, r, f, _ = sklearn_metrics.precision_recall_fscore_support(truth, pred, average=avg, zero_division=0)
        assert (m[avg]["precision"], m[avg]["recall"], m[avg]["f1"]) == pytest.approx((p, r, f))

    keep = np.array([i % 7 != 0 for i in range(n)])
    pred = probs["sentiment"].argmax(axis=1)[keep]
    truth = sent_y[keep]
    m = result["tasks"]["sentiment"]
    assert m["confusion"]["matrix"] == sklearn_metrics.confusion_matrix(truth, pred, labels=[0, 1, 2]).tolist()
    f = sklearn_metrics.f1_score(truth, pred, average=None, labels=[0, 1, 2], zero_division=0)
    assert [m["labels"][lab]["f1"] for lab in SCHEMA["sentiment"].labels] == pytest.approx(f)
    assert m["macro"]["f1"] == pytest.approx(sklearn_metrics.f1_score(truth, pred, average="macro", zero_division=0))
    assert m["micro"]["f1"] == pytest.approx(sklearn_metrics.accuracy_score(truth, pred))

    keep = np.array([i % 5 != 0 for i in range(n)])
    pred = (probs["call_to_action"] >= 0.4).astype(int)[keep]
    truth = cta_y.astype(int)[keep]
    m = result["tasks"]["call_to_action"]
    assert m["labels"]["true"]["f1"] == pytest.approx(sklearn_metrics.f1_score(truth, pred))
    assert m["macro"]["f1"] == pytest.approx(sklearn_metrics.f1_score(truth, pred, average="macro"))
    assert m["confusion"]["matrix"] == sklearn_metrics.confusion_matrix(truth, pred).tolist()
    assert m["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(truth, pred))
    assert result["mean_macro_f1"] == pytest.approx(np.mean([t["macro"]["f1"] for t in result["tasks"].values()]))


def test_groups_match_evaluating_each_group_alone() -> None:
    gold, probs, _ = _example()
    result = evaluate_predictions(gold, probs, SCHEMA, groups="provenance")
    assert set(result["groups"]) == {"authored", "corpus"}
    idx = [i for i, g in enumerate(gold) if g["provenance"] == "corpus"]
    alone = evaluate_predictions([gold[i] for i in idx], {k: np.asarray(v)[idx] for k, v in probs.items()}, SCHEMA)
    assert result["groups"]["corpus"]["tasks"]["sentiment"]["macro"] == alone["tasks"]["sentiment"]["macro"]
    assert result["groups"]["corpus"]["n_texts"] == len(idx)


def test_task_without_annotation() -> None:
    gold = [{"text": "a", "topics": ["health"], "sentiment": None, "call_to_action": None}]
    probs = {
        "topics": np.array([[0.1, 0.2, 0.9]]),
        "sentiment": np.array([[0.2, 0.3, 0.5]]),
        "call_to_action": np.array([0.9]),
    }
    result = evaluate_predictions(gold, probs, SCHEMA)
    assert result["tasks"]["sentiment"] == {"type": "single_label", "n": 0}
    assert result["tasks"]["topics"]["exact_match"] == 1.0
    with pytest.raises(ValueError, match="prediction rows"):
        evaluate_predictions(gold * 2, probs, SCHEMA)


def test_reports_and_model_card(tmp_path: Path) -> None:
    gold, probs, _ = _example()
    result = evaluate_predictions(gold, probs, SCHEMA, groups="provenance")
    paths = write_report(result, tmp_path / "reports", title="example", stem="test")
    assert json.loads(paths["json"].read_text())["tasks"]["sentiment"]["n"] == result["tasks"]["sentiment"]["n"]
    md = paths["markdown"].read_text()
    assert "![reliability diagram of topics](test-reliability-topics.png)" in md
    assert paths["png_topics"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| corpus |" in md

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    config = ModelConfig(
        name="card-test",
        version="9.9",
        schema=SCHEMA,
        max_length=32,
        window_stride=16,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        normalizer_version=1,
    )
    (model_dir / "config.json").write_text(json.dumps(config.to_dict()))
    card = write_model_card(
        model_dir,
        {
            "test": result,
            "calibration": {
                "topics": {
                    "temperature": 1.5,
                    "ece_before": 0.2,
                    "ece_after": 0.05,
                    "nll_before": 0.7,
                    "nll_after": 0.6,
                }
            },
        },
    )
    text = card.read_text()
    f1 = result["tasks"]["call_to_action"]["labels"]["true"]["f1"]
    assert "# card-test 9.9" in text
    assert f"{f1:.3f}" in text
    assert "true if p >= 0.400" in text and "agriculture 0.300" in text
    assert "| topics | 1.500 | 0.200 | 0.050 | 0.700 | 0.600 | – | – |" in text
