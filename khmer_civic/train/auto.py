"""The small-data rule: training settings left to ``"auto"`` are chosen from the data's size.

A recipe may leave ``epochs``, ``learning_rate``, ``head_learning_rate``,
``early_stopping_patience``, ``min_epochs``, ``eval_every``, ``class_weighting``,
``frozen_head`` and ``probe_heads`` to ``"auto"`` (the :class:`~khmer_civic.train.config.TrainConfig` defaults);
:func:`resolve_auto` replaces each by a value from :class:`DataProfile` (the number of training
texts, the texts per class of the scarcest task, the class imbalance, the dev size) at the start
of training. A value written in the recipe always wins. With ``N`` training texts:

==========================  =============================================================
setting                     auto value
==========================  =============================================================
epochs                      ``round(400 / sqrt(N))`` within [3, 20]: 20 up to 400 texts,
                            15 at 700, 7 at 3,000, 3 from 13,100
learning_rate (encoder)     5e-5 up to 10,000 texts, 3e-5 above
head_learning_rate          20 x the encoder's learning rate
eval_every                  once per epoch
early_stopping_patience     ``max(3, ceil(epochs / 4))`` evaluations (= epochs)
min_epochs                  ``ceil(epochs / 2)``: no early stop before that many epochs
class_weighting             ``"sqrt"`` when a single-label or binary task's largest class is
                            more than 3 x its smallest, or a multi-label label is positive
                            in under 10% of its annotated texts; else ``"none"``
frozen_head                 tried when the scarcest task has under 30 training texts per
                            class (a multi-label task: positives per label, on average):
                            encoder embeddings + logistic regression heads, kept
                            instead of the fine-tuned model when its dev score is higher;
                            the fine-tuned model then starts from these heads
probe_heads                 whenever the frozen-encoder head is tried: the task heads
                            start from its logistic regressions (linear probing, then
                            fine-tuning) instead of at random. Measured: better at 100
                            training texts, worse at 300 (benchmarks/README.md)
==========================  =============================================================

No torch here: the rule needs numpy only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from khmer_civic.train.config import TrainConfig
    from khmer_civic.train.data import AnnotatedData

AUTO = "auto"
AUTO_FIELDS = (
    "epochs",
    "learning_rate",
    "head_learning_rate",
    "eval_every",
    "early_stopping_patience",
    "min_epochs",
    "class_weighting",
    "frozen_head",
    "probe_heads",
)
MIN_EPOCHS, MAX_EPOCHS = 3, 20
EPOCH_SCALE = 400.0  # epochs = EPOCH_SCALE / sqrt(N), clipped
LARGE_DATA = 10_000  # training texts above which the encoder learns more slowly
SMALL_LR, LARGE_LR = 5e-5, 3e-5
HEAD_LR_FACTOR = 20.0
IMBALANCE_RATIO = 3.0  # largest / smallest class of a single-label or binary task
RARE_POSITIVE_RATE = 0.10  # a multi-label label rarer than this asks for class weights
FEW_SHOT_PER_CLASS = 30  # texts per class below which the frozen-encoder head is tried


@dataclass(frozen=True)
class DataProfile:
    """What the rule reads from the data: sizes and class balance of the training split."""

    n_train: int
    n_dev: int
    texts_per_class: float  # min over tasks of annotated training texts / classes (multi-label: mean positives per label)
    smallest_class: int  # fewest training texts of any class (label positives for multi-label)
    imbalance: float  # max over single-label and binary tasks of largest / smallest class
    rarest_positive_rate: float  # min over multi-label labels of positives / annotated texts (1 if none)

    @classmethod
    def of(cls, data: AnnotatedData) -> DataProfile:
        """The profile of validated data (its training and dev splits)."""
        from khmer_civic.train.data import task_targets

        train = data["train"]
        per_class, smallest, imbalance, rarest = math.inf, math.inf, 1.0, 1.0
        for task in data.schema.tasks:
            targets, mask = task_targets(train, task)
            keep = mask > 0
            annotated = int(keep.sum())
            if task.type == "multi_label":
                positives = targets[keep].reshape(annotated, -1).sum(axis=0)
                counts = positives
                if annotated:
                    rarest = min(rarest, float(positives.min()) / annotated)
            elif task.type == "single_label":
                counts = np.bincount(targets[keep].astype(np.int64), minlength=len(task.labels)).astype(float)
            else:
                positives = float(targets[keep].sum())
                counts = np.asarray([annotated - positives, positives])
            classes = max(len(counts), 1)
            # a multi-label label is its own yes/no decision learnt from its positives: its
            # "texts per class" is the mean number of positives per label, not annotated / labels
            # (100 texts with 3 topics: about 16, not 33)
            scarce = float(counts.mean()) if task.type == "multi_label" and len(counts) else annotated / classes
            per_class = min(per_class, scarce)
            smallest = min(smallest, float(counts.min()) if len(counts) else 0.0)
            if task.type != "multi_label" and len(counts):
                imbalance = max(imbalance, float(counts.max()) / max(float(counts.min()), 1.0))
        return cls(
            n_train=len(train),
            n_dev=len(data["dev"]),
            texts_per_class=0.0 if per_class == math.inf else per_class,
            smallest_class=0 if smallest == math.inf else int(smallest),
            imbalance=imbalance,
            rarest_positive_rate=rarest,
        )


def auto_epochs(n_train: int) -> int:
    """``round(400 / sqrt(N))`` clipped to [3, 20]."""
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, round(EPOCH_SCALE / math.sqrt(max(n_train, 1))))))


def auto_learning_rate(n_train: int) -> float:
    """The encoder's learning rate: 5e-5 up to 10,000 training texts, 3e-5 above."""
    return SMALL_LR if n_train <= LARGE_DATA else LARGE_LR


def auto_patience(epochs: float) -> int:
    """Evaluations (one per epoch) without a dev gain before stopping: ``max(3, ceil(epochs / 4))``."""
    return max(3, math.ceil(epochs / 4))


def auto_min_epochs(epochs: float) -> int:
    """Epochs always trained before early stopping may end the run: half the planned ones."""
    return math.ceil(epochs / 2)


def auto_class_weighting(profile: DataProfile) -> str:
    """``"sqrt"`` for imbalanced data (see the module docstring), else ``"none"``."""
    imbalanced = profile.imbalance > IMBALANCE_RATIO or profile.rarest_positive_rate < RARE_POSITIVE_RATE
    return "sqrt" if imbalanced else "none"


def auto_frozen_head(profile: DataProfile) -> bool:
    """Whether to try the frozen-encoder head: under 30 training texts per class."""
    return profile.texts_per_class < FEW_SHOT_PER_CLASS


def resolve_auto(config: TrainConfig, profile: DataProfile) -> tuple[TrainConfig, dict[str, str]]:
    """``config`` with every ``"auto"`` setting replaced by the rule's value, and one note per
    replaced setting saying what it became and why (e.g. ``"epochs": "15 (auto: 700 training texts)"``)."""
    values: dict[str, Any] = {}
    notes: dict[str, str] = {}
    n = profile.n_train

    def choose(name: str, value: Any, why: str) -> Any:
        current = getattr(config, name)
        if current != AUTO:
            return current
        values[name] = value
        notes[name] = f"{_show(value)} (auto: {why})"
        return value

    texts = f"{n:,} training texts"
    epochs = choose("epochs", auto_epochs(n), texts)
    lr = choose("learning_rate", auto_learning_rate(n), texts)
    choose("head_learning_rate", HEAD_LR_FACTOR * lr, f"{HEAD_LR_FACTOR:g} x the encoder's learning rate")
    choose("eval_every", None, f"once per epoch; {profile.n_dev:,} dev texts")
    planned = float(epochs)
    choose("early_stopping_patience", auto_patience(planned), f"epochs without a dev gain, of {_show(planned)} planned")
    choose("min_epochs", auto_min_epochs(planned), f"half of {_show(planned)} planned epochs")
    choose(
        "class_weighting",
        auto_class_weighting(profile),
        f"largest/smallest class {profile.imbalance:.1f}, rarest label {profile.rarest_positive_rate:.0%} positive",
    )
    frozen = choose("frozen_head", auto_frozen_head(profile), f"{profile.texts_per_class:.0f} training texts per class")
    tried = frozen is True
    choose("probe_heads", tried, "the frozen-encoder head is tried" if tried else "no frozen-encoder head")
    return dataclasses.replace(config, **values), notes


def unresolved(config: TrainConfig) -> list[str]:
    """The settings of ``config`` still ``"auto"``."""
    return [name for name in AUTO_FIELDS if getattr(config, name) == AUTO]


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def auto_notes_lines(notes: Mapping[str, str]) -> list[str]:
    """``"name value (auto: why)"`` lines, in the order of :data:`AUTO_FIELDS`."""
    return [f"{name} {notes[name]}" for name in AUTO_FIELDS if name in notes]
