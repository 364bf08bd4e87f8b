"""Distil a trained teacher into a smaller, faster student: the first ``k`` layers of its encoder.

::

    from khmer_civic.train.distill import DistillConfig, distill

    config = DistillConfig.from_json("training/configs/distill.json")
    result = distill(config, train=[...], dev=[...], test=[...], run_dir="training/runs/fast",
                     out_dir="models/khmer-civic-fast")

``training/distill_model.py`` is the one command around :func:`distill`. What it does:

1. **The teacher** is a trained model in two forms: its exported model directory
   (``teacher_model``: the schema with its labels, temperatures and thresholds, the tokenizer and
   the ONNX graph) and its torch weights (``teacher_checkpoint``: its training run's
   ``checkpoints/best``, the run directory, or, when the run is not at hand, as on a fresh clone,
   the model directory itself: the weights are then read back from its graph by
   :mod:`.graph_weights`, int8 ones within half a quantisation step). The student keeps the
   teacher's tasks and labels.
2. **The student** is the teacher's encoder cut to its first ``num_layers`` layers, with the
   teacher's fine-tuned weights for those layers, its embeddings and its heads (without a
   checkpoint: the base encoder's first layers and fresh heads).
3. **The data** is the gold training split plus an unlabelled pool (:mod:`.distill_pool`: the
   shared corpora and any other texts, deduplicated, with every dev/test text and its
   near-duplicates left out). Dev chooses the checkpoint and calibrates the student; test is
   only measured.
4. **Soft targets** come from the teacher's ONNX graph, not from torch: the raw logits of each
   training text's first window (the window the student trains on), scored through the
   inference runtime (:class:`~khmer_civic.model.runtime.WindowedRunner`). The int8 graph
   decides as the fp32 one on 98-99% of texts; ``teacher_graph`` may name the run's fp32 graph
   (``model.fp32.onnx``) instead. They are cached in ``<run_dir>/teacher/`` chunk by chunk, so an
   interrupted or resumed run never scores a window twice. ``extra_teachers`` (model directories
   with the same tasks, labels and windows, e.g. the same recipe trained with other seeds) make the
   teacher an ensemble: each one's graph is scored and cached the same way
   (``<run_dir>/teacher-1/`` ...) and the soft targets are the mean of the teachers' softened
   probabilities (the pooled embeddings, when ``embedding_weight`` matches them, are the first
   teacher's).
5. **The loss** per task is ``alpha * soft + (1 - alpha) * gold``: ``soft`` compares the student's
   and the teacher's temperature-softened outputs (``temperature`` T; KL divergence of the
   softmaxes for single-label tasks, binary cross-entropy of the sigmoids for multi-label and
   binary ones; times T², so its gradients keep their size whatever T); ``gold`` is the
   trainer's own loss on the rows that have gold labels (none in the pool). With
   ``embedding_weight`` > 0 the loss adds that weight times the mean squared error between the
   student's and the teacher's pooled text embeddings (the teacher's ``embedding_output``,
   scored and cached with its logits), as sentence-transformers distils an embedding model: the
   student's last layer learns to give the representation the copied heads were trained on. A dependent task
   (cta_type, ``given`` call_to_action true) learns its soft targets only where the teacher
   decides its parent label (the teacher's calibrated call_to_action probability reaches its
   threshold), and its gold targets only where the gold parent holds, as in training.
6. Everything else is :class:`~khmer_civic.train.trainer.Trainer`: length-bucketed batches,
   dev evaluation and early stopping, resumable checkpoints, calibration on dev, int8 export
   through :mod:`.export`, metrics.json and the model card (with the teacher's figures beside
   the student's under ``distillation``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from khmer_civic.model.classifier import usable_cores
from khmer_civic.model.config import (
    METRICS_NAME,
    MODEL_NAME,
    TOKENIZER_NAME,
    ModelConfig,
    load_config,
    read_json,
)
from khmer_civic.model.manifest import file_sha256
from khmer_civic.model.runtime import (
    WindowedRunner,
    calibrated_probabilities,
    create_session,
    decisions,
    holds,
)
from khmer_civic.model.tokenizer import TextTokenizer
from khmer_civic.schema import ModelSchema
from khmer_civic.train.config import RESUME_FIELDS, TrainConfig
from khmer_civic.train.data import AnnotatedData, Example, TaskConfig, load_annotations
from khmer_civic.train.distill_pool import (
    PoolText,
    build_pool,
    read_pool,
    write_pool,
)
from khmer_civic.train.evaluate import summarize
from khmer_civic.train.modeling import MultiTaskClassifier
from khmer_civic.train.trainer import Trainer, TrainResult

Notify = Callable[[str], None]

# Fields of a DistillConfig that change what a resumed run computes (beside the TrainConfig ones).
DISTILL_RESUME_FIELDS = (
    "teacher_model",
    "teacher_checkpoint",
    "teacher_graph",
    "extra_teachers",
    "temperature",
    "alpha",
    "embedding_weight",
)
EMBEDDING_KEY = "__pooled__"  # the student's pooled embedding among the training outputs
POOL_NAME = "pool.jsonl"
POOL_META_NAME = "pool.meta.json"
TEACHER_CACHE = "teacher"


def _silent(message: str) -> None:
    del message


@dataclass
class DistillConfig(TrainConfig):
    """A student's recipe: a :class:`TrainConfig` (``num_layers`` = the student's k, ``base_model`` =
    the teacher's base encoder, its learning rates, epochs, seed, checkpoint_every ...) plus the
    teacher, the distillation loss and the pool."""

    name: str = "khmer-civic-fast"
    num_layers: int | None = 4  # the student keeps the teacher encoder's first k layers
    teacher_model: str = ""  # the teacher's exported model directory (schema, tokenizer, model.onnx)
    teacher_checkpoint: str | None = None  # its torch weights: a run's checkpoints/best, the run, or a model dir
    teacher_graph: str | None = None  # ONNX graph for the soft targets; None: teacher_model/model.onnx
    extra_teachers: tuple[str, ...] = ()  # more model directories whose soft targets are averaged in
    temperature: float = 2.0  # softens teacher and student outputs in the soft loss
    alpha: float = 0.7  # weight of the soft loss; 1 - alpha: the gold loss
    embedding_weight: float = 0.0  # weight of the MSE between student and teacher pooled embeddings; 0: off
    pool_files: tuple[str, ...] = ()  # unlabelled texts (.txt lines, .jsonl "text" lines)
    pool_min_khmer: int = 10  # Khmer characters a pool text needs
    pool_max_per_file: int | None = None  # at most this many texts per pool file (seeded sample)
    teacher_chunk_size: int = 2000  # windows scored per cached chunk
    teacher_threads: int | None = None  # windows scored at once by the teacher; None: one per core

    def __post_init__(self) -> None:
        self.pool_files = tuple(str(p) for p in self.pool_files)
        self.extra_teachers = tuple(str(p) for p in self.extra_teachers)
        if self.frozen_head not in (False, None):
            # the frozen-encoder candidate would swap the student for the base encoder: never for a student
            self.frozen_head = False
        if self.probe_heads not in (False, None):
            # the student starts from the teacher's heads, not from a probe of the base encoder
            self.probe_heads = False
        super().__post_init__()
        errors = []
        if self.num_layers is None:
            errors.append("num_layers (the student's layers) must be set")
        if not self.temperature > 0:
            errors.append(f"temperature {self.temperature} must be positive")
        if not 0.0 <= self.alpha <= 1.0:
            errors.append(f"alpha {self.alpha} must be in [0, 1]")
        if not self.embedding_weight >= 0.0:
            errors.append(f"embedding_weight {self.embedding_weight} must be 0 or more")
        if self.teacher_chunk_size < 1:
            errors.append("teacher_chunk_size must be positive")
        if self.pool_max_per_file is not None and self.pool_max_per_file < 1:
            errors.append("pool_max_per_file must be positive or null")
        if errors:
            raise ValueError("bad distillation config: " + "; ".join(errors))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["pool_files"] = list(self.pool_files)
        out["extra_teachers"] = list(self.extra_teachers)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistillConfig:
        config = super().from_dict(data)
        assert isinstance(config, DistillConfig)
        return config

    @classmethod
    def from_json(cls, path: str | Path) -> DistillConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def fingerprint(self) -> dict[str, Any]:
        d = self.to_dict()
        return {k: d[k] for k in (*RESUME_FIELDS, *DISTILL_RESUME_FIELDS) if k in d}


# ------------------------------------------------------------------------------ the teacher


def teacher_weights_file(checkpoint: str | os.PathLike[str]) -> Path:
    """The file holding a teacher's weights: a safetensors file, a checkpoint directory holding
    ``model.safetensors``, a run directory (its ``checkpoints/best``), else an ONNX graph or an
    exported model directory (its ``model.onnx``)."""
    path = Path(checkpoint)
    for candidate in (
        path,
        path / "model.safetensors",
        path / "checkpoints" / "best" / "model.safetensors",
        path / MODEL_NAME,
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no teacher weights at {path}: give model.safetensors, a checkpoint directory holding it, "
        "a training run directory (its checkpoints/best), or the teacher's model directory (its model.onnx)"
    )


def load_teacher_layers(student: MultiTaskClassifier, checkpoint: str | os.PathLike[str]) -> dict[str, int]:
    """Copy the teacher's weights into ``student`` wherever the student has the same parameter: the
    embeddings, the first k layers, the heads. From an ONNX graph (:mod:`.graph_weights`) the
    student's frozen parameters keep the base encoder's values, which the teacher also kept
    frozen. Raises ``ValueError`` when a student parameter is missing from the checkpoint or has
    another shape (another encoder, other labels). Returns how many tensors were copied and how
    many (the dropped layers) were left out."""
    from safetensors.torch import load_file

    from khmer_civic.train.graph_weights import load_graph_weights, misfit

    file = teacher_weights_file(checkpoint)
    if file.suffix == ".onnx":
        return load_graph_weights(student, file)
    teacher = load_file(str(file))
    own = student.state_dict()
    missing = sorted(k for k in own if k not in teacher)
    wrong = sorted(k for k in own if k in teacher and tuple(teacher[k].shape) != tuple(own[k].shape))
    if missing or wrong:
        raise ValueError(
            f"the teacher checkpoint {checkpoint} does not fit the student (same base encoder and labels needed): "
            + misfit(missing, wrong)
        )
    student.load_state_dict({k: teacher[k] for k in own})
    return {"copied": len(own), "left_out": len(set(teacher) - set(own))}


def teacher_graph_path(config: DistillConfig) -> Path:
    """The ONNX graph that gives the soft targets: ``teacher_graph``, else the teacher's model.onnx."""
    return Path(config.teacher_graph) if config.teacher_graph else Path(config.teacher_model) / MODEL_NAME


def teacher_runner(config: DistillConfig) -> WindowedRunner:
    """The teacher's graph behind the inference runtime. The model directory's int8 graph is scored
    window by window (its ``batching``); another graph (``teacher_graph``, e.g. the run's fp32
    export) in padded batches, which an fp32 graph scores row by row."""
    model_dir = Path(config.teacher_model)
    teacher_config = load_config(model_dir)
    graph = teacher_graph_path(config)
    if config.teacher_graph:
        teacher_config = dataclasses.replace(teacher_config, batching="padded")
    threads = config.teacher_threads or usable_cores()
    per_window = teacher_config.batching == "per_window"
    session = create_session(
        graph, intra_op_threads=1 if per_window else threads, disabled_optimizers=teacher_config.disabled_optimizers
    )
    tokenizer = TextTokenizer.from_file(model_dir / TOKENIZER_NAME)
    return WindowedRunner(session, tokenizer, teacher_config, parallel=threads if per_window else 1)


def cached_teacher_logits(
    runner: WindowedRunner,
    windows: Sequence[Sequence[int]],
    cache_dir: Path,
    *,
    graph_digest: str,
    chunk_size: int = 2000,
    batch_size: int = 32,
    extra_outputs: Sequence[str] = (),
    notify: Notify = _silent,
) -> dict[str, np.ndarray]:
    """Raw teacher logits per task for ``windows``, scored ``chunk_size`` windows at a time, each
    chunk saved under ``cache_dir`` as it is done; chunks already there (same graph, same windows,
    same outputs) are read instead of scored. Returns ``{task: [n_windows, n_outputs] float32}``,
    plus ``{name: values}`` for each of ``extra_outputs`` (other graph outputs, e.g. the pooled
    embedding)."""
    tasks = runner.config.schema.tasks
    clash = sorted(set(extra_outputs) & {task.name for task in tasks})
    if clash:
        raise ValueError(f"extra outputs {clash} share a task's name")
    names = [task.output for task in tasks]
    names += [name for name in extra_outputs if name not in names]
    h = hashlib.sha256(graph_digest.encode())
    for window in windows:
        h.update(np.asarray(window, dtype=np.int64).tobytes() + b"|")
    meta = {"key": h.hexdigest(), "windows": len(windows), "chunk_size": chunk_size, "outputs": names}
    meta_path = cache_dir / "meta.json"
    if not meta_path.is_file() or read_json(meta_path) != meta:
        shutil.rmtree(cache_dir, ignore_errors=True)
        cache_dir.mkdir(parents=True)
        meta_path.write_text(json.dumps(meta) + "\n", encoding="utf-8")
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    starts = range(0, len(windows), chunk_size)
    for number, start in enumerate(starts):
        path = cache_dir / f"chunk-{number:05d}.npz"
        if path.is_file():
            with np.load(path) as stored:
                values = {name: stored[name] for name in names}
        else:
            scored = runner.window_outputs(windows[start : start + chunk_size], names, batch_size)
            values = {name: scored[name].astype(np.float32) for name in names}
            partial = path.with_name(path.stem + ".partial.npz")
            np.savez(partial, **values)
            os.replace(partial, path)
            notify(f"teacher: scored {min(start + chunk_size, len(windows)):,} of {len(windows):,} windows")
        for name in names:
            parts[name].append(values[name])
    by_output = {name: np.concatenate(parts[name]) if parts[name] else np.zeros((0, 1), np.float32) for name in names}
    return {**{task.name: by_output[task.output] for task in tasks}, **{name: by_output[name] for name in extra_outputs}}


@dataclass(frozen=True)
class SoftTargets:
    """The teacher's temperature-softened probabilities per training row, and where each task's
    soft loss applies (1.0; for a dependent task, rows where the teacher decides its parent label)."""

    probs: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    embeddings: torch.Tensor | None = None  # the teacher's pooled embedding per row, when matched


def soft_targets(
    logits: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]],
    teacher: ModelSchema | Sequence[ModelSchema],
    temperature: float,
) -> SoftTargets:
    """:class:`SoftTargets` from the teacher's raw logits (see the module docstring, step 5). With
    several teachers (one logits mapping and one schema each, the first being the main teacher):
    the mean of their softened probabilities, and a dependent task's mask where the mean of their
    calibrated parent probabilities meets the main teacher's decision rule."""
    all_logits = [logits] if isinstance(logits, Mapping) else list(logits)
    schemas = [teacher] if isinstance(teacher, ModelSchema) else list(teacher)
    if len(all_logits) != len(schemas) or not schemas:
        raise ValueError(f"{len(all_logits)} teachers' logits for {len(schemas)} teacher schemas")
    main = schemas[0]
    probs: dict[str, torch.Tensor] = {}
    masks: dict[str, torch.Tensor] = {}
    for task in main.tasks:
        softening = dataclasses.replace(task, temperature=temperature)
        softened = [calibrated_probabilities(np.asarray(one[task.name], dtype=np.float64), softening) for one in all_logits]
        probs[task.name] = torch.from_numpy(np.mean(softened, axis=0).astype(np.float32))
        mask = np.ones(len(softened[0]), dtype=np.float32)
        if task.given is not None:
            parent = main[task.given.task]
            parent_probs = np.mean(
                [
                    calibrated_probabilities(np.asarray(one[parent.name], dtype=np.float64), schema[parent.name])
                    for one, schema in zip(all_logits, schemas, strict=True)
                ],
                axis=0,
            )
            mask = holds(decisions(parent_probs, parent), parent, task.given.label).astype(np.float32)
        masks[task.name] = torch.from_numpy(mask)
    return SoftTargets(probs, masks)


def distillation_loss(
    logits: Mapping[str, torch.Tensor],
    teacher_probs: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor],
    schema: ModelSchema,
    temperature: float,
    task_weights: Mapping[str, float] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The soft loss of a batch: per task, the student's temperature-softened outputs against the
    teacher's (``teacher_probs``, already softened), masked mean over rows, times T²; the
    weighted sum over tasks and each task's part."""
    total = torch.zeros((), dtype=torch.float32)
    parts: dict[str, float] = {}
    for task in schema.tasks:
        scaled = logits[task.name] / temperature
        target = teacher_probs[task.name].to(scaled.dtype)
        mask = masks[task.name].to(scaled.dtype)
        if float(mask.sum()) == 0.0:
            loss = scaled.sum() * 0.0
        else:
            if task.type == "single_label":
                log_student = F.log_softmax(scaled, dim=-1)
                per_row = (target * (torch.log(target.clamp(min=1e-12)) - log_student)).sum(dim=-1)
            else:
                per_row = F.binary_cross_entropy_with_logits(scaled, target.reshape(scaled.shape), reduction="none")
                per_row = per_row.mean(dim=-1)
            loss = (per_row * mask).sum() / mask.sum() * temperature**2
        total = total + float((task_weights or {}).get(task.name, 1.0)) * loss
        parts[task.name] = float(loss.detach())
    return total, parts


# ------------------------------------------------------------------------------ the trainer


def _ensemble_key(config: ModelConfig) -> tuple[Any, ...]:
    """What the teachers of an ensemble must share: tasks, labels and windows."""
    return (tuple((t.name, t.type, t.labels) for t in config.schema.tasks), config.max_length, config.window_stride)


class DistillTrainer(Trainer):
    """A :class:`Trainer` whose model is the student and whose loss adds the teacher's soft targets."""

    config: DistillConfig

    def __init__(self, config: DistillConfig, run_dir: str | Path | None = None, notify: Notify = _silent) -> None:
        super().__init__(config, run_dir)
        self.notify = notify
        self.teacher_config = load_config(config.teacher_model)
        self.extra_teacher_configs = [load_config(path) for path in config.extra_teachers]
        for path, extra in zip(config.extra_teachers, self.extra_teacher_configs, strict=True):
            if _ensemble_key(extra) != _ensemble_key(self.teacher_config):
                raise ValueError(
                    f"extra teacher {path} does not give {config.teacher_model}'s tasks, labels and windows: "
                    "an ensemble's teachers must share them"
                )
        self.soft: SoftTargets | None = None
        self.teacher_weights: dict[str, int] | None = None

    def build_model(self, schema: ModelSchema) -> MultiTaskClassifier:
        """The base encoder cut to k layers, then the teacher's weights for everything it kept."""
        from tokenizers import Tokenizer

        model = super().build_model(schema)
        teacher_vocab = Tokenizer.from_file(str(Path(self.config.teacher_model) / TOKENIZER_NAME)).get_vocab()
        if teacher_vocab != self.tokenizer.backend_tokenizer.get_vocab():
            raise ValueError(
                f"the teacher's tokenizer ({self.config.teacher_model}) is not the base model's "
                f"({self.config.base_model}): distil from the base encoder the teacher was trained from"
            )
        if self.config.teacher_checkpoint:
            self.teacher_weights = load_teacher_layers(model, self.config.teacher_checkpoint)  # frozen stay frozen
        return model

    def _prepare(self, examples: list[Example], schema: ModelSchema, *, training: bool) -> Any:
        split = super()._prepare(examples, schema, training=training)
        if training:
            self.soft = self.teacher_soft_targets(split.windows)
        return split

    def teacher_soft_targets(self, windows: Sequence[Sequence[int]]) -> SoftTargets:
        """The teacher's soft targets for the training windows (cached in the run directory), with
        its pooled embeddings when ``embedding_weight`` > 0."""
        cfg = self.config
        embedding = self.teacher_config.embedding_output if cfg.embedding_weight > 0 else None
        if cfg.embedding_weight > 0 and not embedding:
            raise ValueError(
                f"embedding_weight needs the teacher's pooled embedding, and {cfg.teacher_model} exports none "
                "(its config.json has no embedding_output): re-export the teacher, or set embedding_weight 0"
            )
        if self.teacher_config.max_length != cfg.max_length:
            raise ValueError(
                f"the teacher reads windows of {self.teacher_config.max_length} tokens, the student "
                f"{cfg.max_length}: use the teacher's max_length"
            )
        teachers = [cfg, *(dataclasses.replace(cfg, teacher_model=path, teacher_graph=None) for path in cfg.extra_teachers)]
        scored: list[dict[str, np.ndarray]] = []
        for number, teacher_cfg in enumerate(teachers):
            graph = teacher_graph_path(teacher_cfg)
            cache = self.run_dir / (TEACHER_CACHE if number == 0 else f"{TEACHER_CACHE}-{number}")
            self.notify(f"teacher: scoring {len(windows):,} training windows with {graph} (cached in {cache})")
            scored.append(
                cached_teacher_logits(
                    teacher_runner(teacher_cfg),
                    windows,
                    cache,
                    graph_digest=file_sha256(graph),
                    chunk_size=cfg.teacher_chunk_size,
                    batch_size=cfg.eval_batch_size,
                    extra_outputs=(embedding,) if embedding and number == 0 else (),
                    notify=self.notify,
                )
            )
        schemas = [self.teacher_config.schema, *(extra.schema for extra in self.extra_teacher_configs)]
        soft = soft_targets(scored, schemas, cfg.temperature)
        if embedding:
            soft = dataclasses.replace(soft, embeddings=torch.from_numpy(np.asarray(scored[0][embedding], np.float32)))
        return soft

    def training_outputs(
        self, model: MultiTaskClassifier, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The logits per task, and the pooled embedding (under :data:`EMBEDDING_KEY`) when it is matched."""
        if self.config.embedding_weight <= 0:
            return super().training_outputs(model, input_ids, attention_mask)
        pooled, logits = model.pooled_and_logits(input_ids, attention_mask)
        return {**logits, EMBEDDING_KEY: pooled}

    def batch_loss(
        self,
        logits: Mapping[str, torch.Tensor],
        rows: Sequence[int],
        targets: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
        schema: ModelSchema,
        weights: Mapping[str, torch.Tensor | None],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``alpha`` x the soft loss + (1 - ``alpha``) x the trainer's gold loss (+ ``embedding_weight``
        x the embedding MSE)."""
        assert self.soft is not None
        cfg = self.config
        logits = dict(logits)
        pooled = logits.pop(EMBEDDING_KEY, None)
        gold, gold_parts = super().batch_loss(logits, rows, targets, schema, weights)
        index = torch.tensor(list(rows), dtype=torch.long)
        soft, soft_parts = distillation_loss(
            logits,
            {k: v[index] for k, v in self.soft.probs.items()},
            {k: v[index] for k, v in self.soft.masks.items()},
            schema,
            cfg.temperature,
            cfg.task_weights,
        )
        parts = {**gold_parts, **{f"{name}_soft": value for name, value in soft_parts.items()}}
        total = cfg.alpha * soft + (1.0 - cfg.alpha) * gold
        if pooled is not None and self.soft.embeddings is not None:
            target = self.soft.embeddings[index]
            if target.shape != pooled.shape:
                raise ValueError(
                    f"the teacher's embeddings are {tuple(target.shape[1:])} wide, the student's {tuple(pooled.shape[1:])}"
                )
            matched = F.mse_loss(pooled, target.to(pooled.dtype))
            total = total + cfg.embedding_weight * matched
            parts["embedding"] = float(matched.detach())
        return total, parts


# ------------------------------------------------------------------------------ data and the whole run


def teacher_tasks(teacher: ModelSchema) -> tuple[TaskConfig, ...]:
    """The teacher's tasks with their labels fixed: the student learns exactly those."""
    return tuple(TaskConfig(t.name, t.type, tuple(t.labels), t.given) for t in teacher.tasks)


def pool_examples(pool: Sequence[PoolText], schema: ModelSchema) -> list[Example]:
    """Pool texts as training examples without gold labels (every task ``None``)."""
    empty = {task.name: None for task in schema.tasks}
    return [
        Example(item.id, item.text, dict(empty), {"source": item.source, "provenance": "pool"}, item.source, n)
        for n, item in enumerate(pool, start=1)
    ]


def _pool_settings(config: DistillConfig, data: AnnotatedData) -> dict[str, Any]:
    texts = hashlib.sha256()
    for split in ("train", "dev", "test"):
        for ex in data[split]:
            texts.update(f"{split}\t{ex.text}\n".encode())
    files = [[Path(p).name, Path(p).stat().st_size] for p in config.pool_files]
    return {
        "files": files,
        "min_khmer": config.pool_min_khmer,
        "max_per_file": config.pool_max_per_file,
        "seed": config.seed,
        "annotated": texts.hexdigest(),
    }


def prepare_pool(config: DistillConfig, data: AnnotatedData, run_dir: Path, notify: Notify = _silent) -> tuple[list[PoolText], dict[str, Any]]:
    """The pool of ``config.pool_files`` for ``data`` (dev/test left out, train texts not repeated),
    built once and kept in the run directory (``pool.jsonl``, ``pool.meta.json`` with its report);
    read back when the files, settings and annotated texts are the same."""
    settings = _pool_settings(config, data)
    pool_path, meta_path = run_dir / POOL_NAME, run_dir / POOL_META_NAME
    if pool_path.is_file() and meta_path.is_file():
        meta = read_json(meta_path)
        if meta.get("settings") == settings:
            pool = read_pool(pool_path)
            notify(f"pool: {len(pool):,} texts read from {pool_path}")
            return pool, meta["report"]
    notify(f"pool: building from {len(config.pool_files)} file(s) (dev/test near-duplicates left out) ...")
    pool, report = build_pool(
        config.pool_files,
        held_out=[ex.text for split in ("dev", "test") for ex in data[split]],
        known=[ex.text for ex in data["train"]],
        min_khmer=config.pool_min_khmer,
        max_per_file=config.pool_max_per_file,
        seed=config.seed,
    )
    for line in report.lines():
        notify(f"pool: {line}")
    write_pool(pool, pool_path)
    meta_path.write_text(json.dumps({"settings": settings, "report": report.to_dict()}, indent=2) + "\n", encoding="utf-8")
    return pool, report.to_dict()


def distillation_data(
    config: DistillConfig,
    train: Sequence[str | Path],
    dev: Sequence[str | Path],
    test: Sequence[str | Path],
    run_dir: Path,
    notify: Notify = _silent,
) -> tuple[AnnotatedData, dict[str, Any]]:
    """The validated gold splits (the teacher's tasks and labels) with the pool added to train."""
    teacher = load_config(config.teacher_model).schema
    data = load_annotations(list(train), list(dev), list(test), teacher_tasks(teacher))
    if [t.labels for t in data.schema.tasks] != [t.labels for t in teacher.tasks]:
        raise ValueError("the annotated data does not give the teacher's tasks and labels")
    pool, report = prepare_pool(config, data, run_dir, notify) if config.pool_files else ([], {"total": 0})
    splits = dict(data.splits)
    splits["train"] = [*data["train"], *pool_examples(pool, data.schema)]
    return AnnotatedData(data.schema, splits), report


def distill(
    config: DistillConfig,
    *,
    train: Sequence[str | Path],
    dev: Sequence[str | Path],
    test: Sequence[str | Path] = (),
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    resume: bool = False,
    notify: Notify = _silent,
) -> TrainResult:
    """Build the pool, train the student against the teacher, calibrate, export and evaluate it
    (see the module docstring). ``train``/``dev``/``test``: annotation files (LABELS.md records)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data, pool_report = distillation_data(config, train, dev, test, run_dir, notify)
    trainer = DistillTrainer(config, run_dir, notify)
    teacher_metrics_path = Path(config.teacher_model) / METRICS_NAME
    teacher_metrics = read_json(teacher_metrics_path) if teacher_metrics_path.is_file() else {}
    extra = {
        "distillation": {
            "teacher": {
                "name": trainer.teacher_config.name,
                "version": trainer.teacher_config.version,
                **{split: summarize(teacher_metrics[split]) for split in ("dev", "test") if teacher_metrics.get(split)},
            },
            "extra_teachers": [
                {"name": c.name, "version": c.version, "directory": path}
                for path, c in zip(config.extra_teachers, trainer.extra_teacher_configs, strict=True)
            ],
            "student_layers": config.num_layers,
            "temperature": config.temperature,
            "alpha": config.alpha,
            "embedding_weight": config.embedding_weight,
            "pool": pool_report,
            "gold_train_texts": sum(1 for ex in data["train"] if ex.meta.get("provenance") != "pool"),
        }
    }
    return trainer.train(data, out_dir, resume=resume, extra_metrics=extra)
