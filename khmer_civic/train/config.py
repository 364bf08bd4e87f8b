"""The training configuration: everything a training run depends on (:class:`TrainConfig`).

A recipe (``training/configs/default.json``) is a TrainConfig as JSON; the trainer
(:mod:`khmer_civic.train.trainer`) and :func:`khmer_civic.train.prepare.prepare_training` take one.
No torch here: reading and checking a recipe needs no training extra beyond numpy.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from khmer_civic.train.auto import AUTO, AUTO_FIELDS
from khmer_civic.train.data import DEFAULT_TASKS, TaskConfig
from khmer_civic.train.paths import DEFAULT_BASE_MODEL

__all__ = ["AUTO", "CLASS_WEIGHTING", "DEFAULT_BASE_MODEL", "RESUME_FIELDS", "SENSITIVE_PRECISIONS", "TrainConfig"]

CLASS_WEIGHTING = ("none", "sqrt", "balanced")
# How the int8 export computes the precision-sensitive MatMuls (khmer_civic.train.export.quantize_int8).
SENSITIVE_PRECISIONS: tuple[str, ...] = ("fp16", "int8_rows")
# Config fields that change what a resumed run would compute; the others (threads, logging,
# patience ...) may differ between the interrupted run and its continuation.
RESUME_FIELDS = (
    "base_model",
    "tasks",
    "max_length",
    "window_stride",
    "batch_size",
    "learning_rate",
    "head_learning_rate",
    "epochs",
    "max_steps",
    "warmup_ratio",
    "weight_decay",
    "max_grad_norm",
    "head_dropout",
    "freeze_embeddings",
    "class_weighting",
    "max_class_weight",
    "task_weights",
    "exercise_prompt_weights",
    "seed",
    "num_layers",
    "bucket_batches",
)


@dataclass
class TrainConfig:
    """Everything a training run depends on; JSON round-trips with :meth:`from_json`/:meth:`to_json`."""

    base_model: str = DEFAULT_BASE_MODEL  # local HF model dir (or a hub id, with a network)
    tasks: tuple[TaskConfig, ...] = DEFAULT_TASKS
    name: str = "khmer-civic-e5-small"
    version: str = "0.1.0"
    description: str | None = None  # first paragraph of MODEL_CARD.md
    max_length: int = 128  # tokens per window, bos/eos included
    window_stride: int = 96
    batch_size: int = 16
    eval_batch_size: int = 64
    # "auto" (the default of the settings below marked so): chosen from the data at the start of
    # training by the small-data rule of khmer_civic.train.auto; a value given here always wins.
    learning_rate: float | str = AUTO
    head_learning_rate: float | str | None = AUTO  # None: same as learning_rate
    epochs: float | str = AUTO
    max_steps: int | None = None  # overrides epochs when set
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float | None = 1.0
    head_dropout: float = 0.1
    freeze_embeddings: bool = True  # word embeddings only; ~4x faster steps on CPU
    class_weighting: str = AUTO  # "none" | "sqrt" | "balanced" (pos_weight / CE class weights) | "auto"
    max_class_weight: float = 10.0
    task_weights: dict[str, float] = field(default_factory=dict)
    # Per task, the loss weight of a textbook exercise prompt (train.data.is_exercise_prompt: an rdlab
    # sentence with a ចូរ-prompt or a question form) relative to other records; {} (the default): every
    # record weighs 1. E.g. {"call_to_action": 0.25, "cta_type": 0.25} so that exercise prompts do not
    # define "call to action"; 0 drops them from that task's loss.
    exercise_prompt_weights: dict[str, float] = field(default_factory=dict)
    report_groups: str = "provenance"  # per-group figures in metrics, card and reports: a field, or "genre"
    early_stopping_patience: int | str | None = AUTO  # evaluations without dev improvement; None: never stop
    min_epochs: float | str | None = AUTO  # epochs trained before early stopping may stop; None: 0
    eval_every: int | str | None = AUTO  # steps between dev evaluations; None: once per epoch
    frozen_head: bool | str = AUTO  # also try encoder embeddings + logistic regression heads; kept if better on dev
    probe_heads: bool | str = AUTO  # start the heads from logistic regressions on the untouched encoder's embeddings
    checkpoint_every: int | None = None  # steps between checkpoints; None: at each evaluation
    checkpoint_dir: str | None = None  # None: <run_dir>/checkpoints
    seed: int = 13
    num_layers: int | None = None  # keep only the encoder's first k layers
    threads: int | None = None  # torch threads; None: torch's default
    deterministic: bool = True
    bucket_batches: int = 50  # batches per length bucket
    calibrate: bool = True
    tune_thresholds: bool = True
    min_threshold_positives: int = 5  # dev positives a label needs for a tuned threshold; fewer: 0.5
    threshold_shrinkage: float = 10.0  # pseudo-positives pulling a tuned threshold toward 0.5; 0: none
    log_every: int = 10
    agreement_texts: int = 500  # texts for the torch vs int8 check (test, else dev)
    progress: bool = True
    # The int8 export (khmer_civic.train.export.export_onnx); not part of a resumed run's fingerprint,
    # so a finished run can be exported again with other choices (--resume).
    fp16_first_layers: int | None = 2  # MatMuls kept out of the per-call int8 scale; None: none kept out
    sensitive_precision: str = "fp16"  # how those compute: "fp16" weights or "int8_rows" (a scale per token)
    fuse_graph: bool = False  # onnxruntime's transformer fusions (export.fuse_transformer_graph)
    skip_layer_norm_fusion: bool = True  # residual Add + LayerNorm as one SkipLayerNormalization

    def __post_init__(self) -> None:
        self.tasks = tuple(t if isinstance(t, TaskConfig) else TaskConfig.from_dict(t) for t in self.tasks)
        errors = []
        if self.max_length < 3:
            errors.append(f"max_length {self.max_length} must be at least 3")
        elif not 1 <= self.window_stride <= self.max_length - 2:
            errors.append(f"window_stride {self.window_stride} must be between 1 and max_length - 2")
        if self.min_threshold_positives < 1:
            errors.append("min_threshold_positives must be positive")
        if not self.threshold_shrinkage >= 0:
            errors.append("threshold_shrinkage must be 0 or more")
        for key in ("batch_size", "eval_batch_size", "log_every", "bucket_batches"):
            if getattr(self, key) < 1:
                errors.append(f"{key} must be positive")
        for key in AUTO_FIELDS:
            value = getattr(self, key)
            if isinstance(value, str) and value != AUTO and key != "class_weighting":
                errors.append(f"{key} {value!r} must be a number, null or \"auto\"")
        numbers = ("eval_every", "checkpoint_every", "max_steps", "num_layers", "threads", "early_stopping_patience")
        for key in numbers:
            value = getattr(self, key)
            if value is not None and not isinstance(value, str) and value < 1:
                errors.append(f"{key} must be positive or null")
        for key in ("learning_rate", "epochs"):
            value = getattr(self, key)
            if value is None:
                errors.append(f"{key} must be a number or \"auto\"")
        head_lr = self.head_learning_rate
        if head_lr is not None and not isinstance(head_lr, str) and head_lr <= 0:
            errors.append("head_learning_rate must be positive, null or \"auto\"")
        if isinstance(self.learning_rate, int | float) and self.learning_rate <= 0:
            errors.append("learning_rate must be positive")
        if self.min_epochs is not None and not isinstance(self.min_epochs, str) and self.min_epochs < 0:
            errors.append("min_epochs must be 0 or more, null or \"auto\"")
        for key in ("frozen_head", "probe_heads"):
            if getattr(self, key) not in (True, False, AUTO):
                errors.append(f"{key} {getattr(self, key)!r} must be true, false or \"auto\"")
        for task, weight in self.exercise_prompt_weights.items():
            if not 0.0 <= float(weight) <= 1.0:
                errors.append(f"exercise_prompt_weights[{task!r}] {weight} must be in [0, 1]")
        if self.class_weighting not in (*CLASS_WEIGHTING, AUTO):
            errors.append(f"class_weighting {self.class_weighting!r} is not one of {(*CLASS_WEIGHTING, AUTO)}")
        if isinstance(self.epochs, int | float) and self.epochs <= 0 and self.max_steps is None:
            errors.append("epochs must be positive (or set max_steps)")
        if not 0 <= self.warmup_ratio < 1:
            errors.append("warmup_ratio must be in [0, 1)")
        if self.fp16_first_layers is not None and self.fp16_first_layers < 0:
            errors.append("fp16_first_layers must be 0 or more, or null")
        if self.sensitive_precision not in SENSITIVE_PRECISIONS:
            errors.append(f"sensitive_precision must be one of {', '.join(SENSITIVE_PRECISIONS)}")
        if errors:
            raise ValueError("bad training config: " + "; ".join(errors))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["tasks"] = [t.to_dict() for t in self.tasks]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys are an error (a typo would silently do nothing)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {"comment", "_comment"})
        if unknown:
            raise ValueError(f"unknown training config key(s): {unknown}")
        kwargs = {k: v for k, v in data.items() if k in known}
        if "tasks" in kwargs:
            kwargs["tasks"] = tuple(TaskConfig.from_dict(t) for t in kwargs["tasks"])
        return cls(**kwargs)

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    def fingerprint(self) -> dict[str, Any]:
        """The fields a resumed run must share with the run it continues."""
        d = self.to_dict()
        return {k: d[k] for k in RESUME_FIELDS}
