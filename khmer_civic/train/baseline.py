"""A strong cheap baseline: TF-IDF over character n-grams + logistic regression per task.

Character n-grams (``analyzer="char_wb"``) need no word segmentation, which suits Khmer
written without spaces between words. Each task gets its own classifier, trained only on the
records annotated for it: one logistic regression per label for multi_label tasks (one-vs-rest),
a multinomial one for single_label tasks and a plain one for binary tasks. Decision thresholds
(multi_label, binary) are chosen on dev with the same rule as the transformer's
(:func:`khmer_civic.train.calibrate.choose_threshold`), and figures come from the same
:func:`khmer_civic.train.evaluate.evaluate_predictions`.

The baseline is not saved: refitting takes seconds, and nothing has to be pickled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from khmer_civic.schema import ModelSchema, TaskSpec
from khmer_civic.text import normalize
from khmer_civic.train.calibrate import MIN_TUNING_POSITIVES, choose_threshold
from khmer_civic.train.data import task_targets
from khmer_civic.train.evaluate import evaluate_predictions


class TfidfBaseline:
    """TF-IDF character n-grams + one logistic regression per task (per label for multi_label).

    Thresholds are the best dev cuts (with ``min_threshold_positives``), not pulled toward 0.5
    (``threshold_shrinkage=0``): the baseline is the bar a transformer must clear, and on small
    data the pull weakens it (measured in benchmarks/README.md, "Learning curve").
    """

    def __init__(
        self,
        schema: ModelSchema,
        *,
        ngram_range: tuple[int, int] = (1, 4),
        min_df: int = 2,
        max_features: int | None = 200_000,
        C: float = 4.0,
        class_weight: str | None = "balanced",
        seed: int = 0,
        min_threshold_positives: int = MIN_TUNING_POSITIVES,
        threshold_shrinkage: float = 0.0,
    ) -> None:
        self.schema = schema
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.C = C
        self.class_weight = class_weight
        self.seed = seed
        self.min_threshold_positives = min_threshold_positives
        self.threshold_shrinkage = threshold_shrinkage
        self.vectorizer: TfidfVectorizer | None = None
        self.models: dict[str, list[LogisticRegression | float]] = {}

    def _new_model(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000, random_state=self.seed)

    def fit(self, train: Sequence[Any], dev: Sequence[Any] = ()) -> TfidfBaseline:
        """Fit on ``train`` records (LABELS.md records or Examples); choose thresholds on ``dev``."""
        texts = [normalize(r["text"]) for r in train]
        min_df = self.min_df if len(texts) >= 4 * self.min_df else 1
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            min_df=min_df,
            sublinear_tf=True,
            max_features=self.max_features,
            dtype=np.float32,
        )
        x = self.vectorizer.fit_transform(texts)
        self.models = {}
        for task in self.schema.tasks:
            y, mask = task_targets(train, task)
            keep = np.flatnonzero(mask > 0)
            columns = [y[keep, j] for j in range(len(task.labels))] if task.type == "multi_label" else [y[keep]]
            fitted: list[LogisticRegression | float] = []
            for col in columns:
                if len(np.unique(col)) < 2:  # a constant column: predict its base rate
                    fitted.append(float(col[0]) if len(col) else 0.0)
                else:
                    fitted.append(self._new_model().fit(x[keep], col))
            self.models[task.name] = fitted
        if dev:
            self.schema = self._tune_thresholds(dev)
        return self

    def predict_proba(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Probabilities per task: ``[N, n_labels]``; binary tasks ``[N, 1]`` (p(true))."""
        if self.vectorizer is None:
            raise RuntimeError("fit the baseline first")
        x = self.vectorizer.transform([normalize(t) for t in texts])
        out: dict[str, np.ndarray] = {}
        for task in self.schema.tasks:
            fitted = self.models[task.name]
            if task.type == "single_label":
                model = fitted[0]
                probs = np.zeros((x.shape[0], len(task.labels)))
                if isinstance(model, LogisticRegression):
                    probs[:, model.classes_.astype(int)] = model.predict_proba(x)
                else:
                    probs[:, int(model)] = 1.0
                out[task.name] = probs
            else:
                cols = [_positive_proba(m, x) for m in fitted]
                out[task.name] = np.stack(cols, axis=1)
        return out

    def _tune_thresholds(self, dev: Sequence[Any]) -> ModelSchema:
        probs = self.predict_proba([r["text"] for r in dev])
        specs: list[TaskSpec] = []
        rule = {"min_positives": self.min_threshold_positives, "shrinkage": self.threshold_shrinkage}
        for task in self.schema.tasks:
            y, mask = task_targets(dev, task)
            keep = mask > 0
            if task.type == "multi_label":
                thresholds = {
                    lab: choose_threshold(probs[task.name][keep, j], y[keep, j], **rule)
                    for j, lab in enumerate(task.labels)
                }
                specs.append(dataclasses.replace(task, thresholds=thresholds))
            elif task.type == "binary":
                threshold = choose_threshold(probs[task.name][keep, 0], y[keep], **rule)
                specs.append(dataclasses.replace(task, threshold=threshold))
            else:
                specs.append(task)
        return ModelSchema(tasks=tuple(specs))

    def evaluate(self, records: Sequence[Any], *, groups: Sequence[Any] | str | None = None) -> dict[str, Any]:
        """:func:`evaluate_predictions` of this baseline on annotated records."""
        probs = self.predict_proba([r["text"] for r in records])
        return evaluate_predictions(records, probs, self.schema, groups=groups)


def _positive_proba(model: LogisticRegression | float, x: Any) -> np.ndarray:
    if not isinstance(model, LogisticRegression):
        return np.full(x.shape[0], float(model))
    return model.predict_proba(x)[:, list(model.classes_).index(1.0)]
