"""The few-shot candidate: the base encoder left as it is, logistic regression heads on its embeddings.

On a few dozen texts per class, fine-tuning a whole encoder is noisy; a linear classifier on the
encoder's mean-pooled embeddings is cheap and often as good or better. :func:`fit_frozen_heads`
fits one per task (multinomial for single_label, one binary regression per label otherwise) on
the training texts' first windows, the inverse regularisation strength ``C`` chosen on dev, and
returns weights in the shape of :class:`~khmer_civic.train.modeling.MultiTaskClassifier`'s
``nn.Linear`` heads (the standardisation of the features is folded into them). The trainer keeps
this candidate instead of the fine-tuned model when its dev score is higher, so it exports
through the same ONNX path: the base encoder with these heads.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from khmer_civic.schema import ModelSchema, TaskSpec
from khmer_civic.train.calibrate import WindowLogits, text_probabilities
from khmer_civic.train.evaluate import evaluate_predictions, selection_score

C_GRID: tuple[float, ...] = (0.1, 1.0, 10.0)
_FLAT_LOGIT = 8.0  # the logit given to a label that never / always holds in training


@dataclass
class FrozenHeads:
    """Head weights per task (``[n_outputs, hidden]``, ``[n_outputs]``) and how they were chosen."""

    heads: dict[str, tuple[np.ndarray, np.ndarray]]
    c: float
    dev_score: float
    scores: dict[float, float]  # dev selection score per C tried

    def summary(self) -> dict[str, Any]:
        return {"C": self.c, "dev_score": self.dev_score, "dev_score_per_C": {str(k): v for k, v in self.scores.items()}}


def _logistic(c: float, balanced: bool) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None)


def _fit_binary(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float, balanced: bool) -> tuple[np.ndarray, float]:
    """Weight row and bias of one yes/no regression; a constant logit when only one answer occurs."""
    if len(np.unique(y)) < 2:
        return np.zeros(x.shape[1]), _FLAT_LOGIT if (len(y) and y[0] > 0) else -_FLAT_LOGIT
    model = _logistic(c, balanced).fit(x, y.astype(np.int64), sample_weight=w)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0])


def _fit_task(
    x: np.ndarray, targets: np.ndarray, mask: np.ndarray, task: TaskSpec, c: float, balanced: bool
) -> tuple[np.ndarray, np.ndarray]:
    keep = mask > 0
    xs, w, y = x[keep], mask[keep].astype(np.float64), targets[keep]
    hidden = x.shape[1]
    if task.type == "single_label":
        k = len(task.labels)
        weight, bias = np.zeros((k, hidden)), np.full(k, -_FLAT_LOGIT)
        classes = np.unique(y)
        model = _logistic(c, balanced).fit(xs, y.astype(np.int64), sample_weight=w)
        if len(classes) == 2:  # one regression row: class 1 against class 0
            weight[classes[1]], bias[classes[1]] = model.coef_[0], model.intercept_[0]
            weight[classes[0]], bias[classes[0]] = 0.0, 0.0
        else:
            for row, label in enumerate(model.classes_):
                weight[label], bias[label] = model.coef_[row], model.intercept_[row]
        return weight, bias
    if task.type == "binary":
        row, b = _fit_binary(xs, y.reshape(-1), w, c, balanced)
        return row[None, :], np.asarray([b])
    y = y.reshape(len(xs), -1)
    rows = [_fit_binary(xs, y[:, j], w, c, balanced) for j in range(y.shape[1])]
    return np.stack([r for r, _ in rows]), np.asarray([b for _, b in rows])


def fit_heads(
    features: np.ndarray,
    targets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    schema: ModelSchema,
    *,
    c: float,
    balanced: bool = False,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Logistic regression heads on standardised ``features`` (one row per training text), with the
    standardisation folded in: the returned heads read the raw features."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-8] = 1.0
    z = (features - mean) / scale
    heads = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes on tiny data
        for task in schema.tasks:
            y, m = targets[task.name]
            weight, bias = _fit_task(z, y, m, task, c, balanced)
            folded = weight / scale
            heads[task.name] = (folded, bias - folded @ mean)
    return heads


def head_logits(heads: Mapping[str, tuple[np.ndarray, np.ndarray]], features: np.ndarray) -> dict[str, np.ndarray]:
    """Logits per task of the heads on ``features`` (one row per window)."""
    return {name: features @ w.T + b for name, (w, b) in heads.items()}


def fit_frozen_heads(
    train_features: np.ndarray,
    train_targets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    dev_features: np.ndarray,
    dev_owners: np.ndarray,
    dev_weights: np.ndarray,
    dev_examples: Sequence[Any],
    schema: ModelSchema,
    *,
    balanced: bool = False,
    c_grid: Sequence[float] = C_GRID,
) -> FrozenHeads:
    """Heads for each ``C`` of ``c_grid``, scored on dev (windows folded per text as at inference);
    the best by dev mean macro-F1 (ties: the smaller ``C``)."""
    best: FrozenHeads | None = None
    scores: dict[float, float] = {}
    for c in c_grid:
        heads = fit_heads(train_features, train_targets, schema, c=c, balanced=balanced)
        windows = WindowLogits(head_logits(heads, dev_features), dev_owners, dev_weights, len(dev_examples))
        probs = {task.name: text_probabilities(windows, task) for task in schema.tasks}
        score = selection_score(evaluate_predictions(dev_examples, probs, schema))
        scores[c] = score
        if best is None or score > best.dev_score + 1e-9:
            best = FrozenHeads(heads, c, score, scores)
    assert best is not None
    return best
