"""Fine-tune one encoder with a head per task, then calibrate, export and evaluate it.

::

    from khmer_civic.train.config import TrainConfig
    from khmer_civic.train.data import load_annotations
    from khmer_civic.train.trainer import Trainer

    config = TrainConfig.from_json("training/configs/default.json")
    data = load_annotations(["splits/train.jsonl"], ["splits/dev.jsonl"], ["splits/test.jsonl"], config.tasks)
    result = Trainer(config, run_dir="training/runs/e5-small").train(data, "models/khmer-civic-e5-small")

The trainer takes validated data (:class:`~khmer_civic.train.data.AnnotatedData`: read and
checked by :mod:`khmer_civic.train.data`, where every problem stops before a model is loaded),
not file names. What :meth:`Trainer.train` does, in order:

1. checks that there is dev data (it chooses the checkpoint, temperatures and thresholds) and
   resolves the settings left to ``"auto"`` from the data's size (:mod:`.auto`; logged to
   train.log, written resolved to the run's config.json);
2. fixes every seed (python, numpy, torch) and asks torch for deterministic kernels, so two runs
   with the same config and data give the same numbers;
3. trains with AdamW and a linear warm-up/decay schedule on length-bucketed batches (each text's
   first window), evaluating dev macro-F1 every ``eval_every`` steps (default: every epoch),
   checkpointing (model, optimizer, scheduler and RNG state; resumable) and stopping early
   after ``early_stopping_patience`` evaluations without improvement, never before
   ``min_epochs`` epochs; the best dev checkpoint is kept; with ``frozen_head`` the base
   encoder with logistic regression heads (:mod:`.frozen_head`) is a second candidate, kept
   when its dev score is higher; with ``probe_heads`` the fine-tuned model starts from those
   logistic regression heads (linear probing, then fine-tuning);
4. fits a temperature per task and the decision thresholds on dev (:mod:`.calibrate`);
5. exports the int8 ONNX model directory (:mod:`.export`), scores dev and test with it through
   the inference runtime, and writes metrics.json, MODEL_CARD.md and manifest.json.

The run directory holds ``log.jsonl`` (one JSON object per logged step and evaluation),
``train.log`` (the same as text), ``checkpoints/{last,best}`` and, after export,
``model.fp32.onnx`` and the evaluation reports. Checkpoints hold safetensors and JSON only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from khmer_civic.schema import ModelSchema
from khmer_civic.train.auto import DataProfile, auto_notes_lines, resolve_auto
from khmer_civic.train.calibrate import (
    TaskCalibration,
    WindowLogits,
    calibrate_schema,
    expected_calibration_error,
    text_probabilities,
)
from khmer_civic.train.config import TrainConfig
from khmer_civic.train.data import (
    AnnotatedData,
    DataValidationError,
    Example,
    Problem,
    all_targets,
    down_weight_exercise_prompts,
    to_hf_dataset,
)
from khmer_civic.train.evaluate import evaluate_predictions, selection_score, write_json, write_report
from khmer_civic.train.export import ExportResult, export_onnx, finalize_model_dir, onnx_runner
from khmer_civic.train.frozen_head import FrozenHeads, fit_frozen_heads
from khmer_civic.train.modeling import (
    MultiTaskClassifier,
    encode_windows,
    freeze_word_embeddings,
    label_weights,
    load_encoder,
    load_tokenizer,
    multitask_loss,
    pad_batch,
    predict_pooled,
    predict_window_logits,
    set_heads,
    special_token_ids,
    text_tokenizer_from_hf,
)
from khmer_civic.train.paths import default_run_dir


def replace_directory(staging: Path, target: Path, old: Path) -> None:
    """Put the finished directory ``staging`` at ``target``; a previous ``target`` is moved to ``old``
    first and deleted last, so a crash never leaves neither."""
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


@dataclass
class TrainResult:
    """What a run produced: the calibrated schema, figures and where things were written."""

    schema: ModelSchema
    best_step: int
    steps: int
    stopped_early: bool
    seconds: float  # wall time of the training loop, summed over resumed runs
    history: list[dict[str, Any]]
    dev: dict[str, Any]
    test: dict[str, Any] | None
    calibration: dict[str, TaskCalibration]
    run_dir: Path
    model_dir: Path | None = None
    export: ExportResult | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # the model directory's metrics.json
    run_metrics: dict[str, Any] = field(default_factory=dict)  # the same plus torch figures (run dir)
    calibration_test: dict[str, dict[str, float]] = field(default_factory=dict)  # test ECE before/after
    auto: dict[str, str] = field(default_factory=dict)  # settings chosen by the small-data rule, with why
    frozen_head: dict[str, Any] | None = None  # the frozen-encoder candidate's figures, when tried


class RunLog:
    """Append-only run log: ``log.jsonl`` (machine-readable) and ``train.log`` (text)."""

    def __init__(self, run_dir: Path, *, append: bool, echo: bool = False) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        mode = "a" if append else "w"
        self._jsonl = open(run_dir / "log.jsonl", mode, encoding="utf-8")
        self._text = open(run_dir / "train.log", mode, encoding="utf-8")
        self._echo = echo
        self._start = time.time()

    def event(self, kind: str, **fields: Any) -> None:
        record = {"event": kind, "time": round(time.time(), 3), **fields}
        self._jsonl.write(json.dumps(_plain(record), ensure_ascii=False) + "\n")
        self._jsonl.flush()

    def text(self, message: str) -> None:
        line = f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {message}"
        self._text.write(line + "\n")
        self._text.flush()
        if self._echo:
            from tqdm import tqdm

            tqdm.write(line)

    def close(self) -> None:
        self._jsonl.close()
        self._text.close()


def _plain(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def length_bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, bucket_batches: int = 50
) -> list[list[int]]:
    """Shuffled batches of similar lengths: shuffle, sort within buckets of
    ``batch_size * bucket_batches`` texts by length, cut into batches, shuffle the batches."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * bucket_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk].tolist(), key=lambda i: lengths[i])
        batches.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class _Split:
    """A split ready for the model: windows (first window per text for training), targets."""

    examples: list[Example]
    windows: list[list[int]]
    owners: np.ndarray
    weights: np.ndarray
    targets: dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class _LoopState:
    step: int = 0
    best_score: float = -math.inf
    best_step: int = 0
    evals_since_best: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0  # time in the training loop, summed over resumed runs


class Trainer:
    """Runs one training recipe (:class:`TrainConfig`) and writes its run and model directories."""

    def __init__(self, config: TrainConfig, run_dir: str | Path | None = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config.name)
        self.checkpoint_dir = Path(config.checkpoint_dir) if config.checkpoint_dir else self.run_dir / "checkpoints"
        self.model: MultiTaskClassifier | None = None
        self.tokenizer: Any = None
        self.token_ids: dict[str, int] = {}
        self.auto_notes: dict[str, str] = {}  # what resolve_auto chose, per setting
        self.frozen_head: dict[str, Any] | None = None  # the frozen-encoder candidate, when tried
        self._min_stop_step = 0

    # ------------------------------------------------------------------ data

    def _prepare(self, examples: list[Example], schema: ModelSchema, *, training: bool) -> _Split:
        cfg = self.config
        text_tokenizer = text_tokenizer_from_hf(self.tokenizer)
        if training:
            # the datasets library holds the training table; tokenisation is a batched map over it
            table = to_hf_dataset(examples, schema)
            table = table.map(
                lambda batch: {"ids": text_tokenizer.encode(batch["text"])}, batched=True, batch_size=1000
            )
            window_tokens = cfg.max_length - 2
            windows = [
                [self.token_ids["bos_token_id"], *ids[:window_tokens], self.token_ids["eos_token_id"]]
                for ids in table["ids"]
            ]
            owners = np.arange(len(windows))
            weights = np.asarray([max(len(w) - 2, 1) for w in windows], dtype=np.float64)
        else:
            windows, owners, weights = encode_windows(
                text_tokenizer,
                [ex.text for ex in examples],
                max_length=cfg.max_length,
                window_stride=cfg.window_stride,
                bos_token_id=self.token_ids["bos_token_id"],
                eos_token_id=self.token_ids["eos_token_id"],
            )
        targets = all_targets(examples, schema)
        if training:
            down_weight_exercise_prompts(examples, targets, cfg.exercise_prompt_weights)
        return _Split(examples, windows, owners, weights, targets)

    # ------------------------------------------------------------------ model

    def build_model(self, schema: ModelSchema) -> MultiTaskClassifier:
        """Load the tokenizer and encoder (truncated and frozen as configured) and add heads."""
        cfg = self.config
        self.tokenizer = load_tokenizer(cfg.base_model)
        self.token_ids = special_token_ids(self.tokenizer)
        encoder = load_encoder(cfg.base_model, cfg.num_layers)
        max_positions = getattr(encoder.config, "max_position_embeddings", None)
        if max_positions is not None and cfg.max_length > max_positions:
            raise ValueError(f"max_length {cfg.max_length} exceeds the encoder's {max_positions} positions")
        if cfg.freeze_embeddings:
            freeze_word_embeddings(encoder)
        self.model = MultiTaskClassifier(encoder, schema, head_dropout=cfg.head_dropout)
        return self.model

    def _optimizer(self, model: MultiTaskClassifier) -> torch.optim.Optimizer:
        cfg = self.config
        groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            is_head = name.startswith("heads.")
            no_decay = param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
            groups.setdefault((is_head, no_decay), []).append(param)
        head_lr = cfg.head_learning_rate if cfg.head_learning_rate is not None else cfg.learning_rate
        param_groups = [
            {
                "params": params,
                "lr": head_lr if is_head else cfg.learning_rate,
                "weight_decay": 0.0 if no_decay else cfg.weight_decay,
            }
            for (is_head, no_decay), params in sorted(groups.items())
        ]
        return torch.optim.AdamW(param_groups, lr=cfg.learning_rate)

    @staticmethod
    def _schedule(
        optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int
    ) -> torch.optim.lr_scheduler.LambdaLR:
        def factor(step: int) -> float:
            if step < warmup_steps:
                return (step + 1) / max(warmup_steps, 1)
            return max(0.0, (total_steps - step) / max(total_steps - warmup_steps, 1))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    # ------------------------------------------------------------------ prediction

    def predict_windows(self, split: _Split) -> WindowLogits:
        """Raw logits per window of a prepared split, with the window→text mapping."""
        assert self.model is not None
        logits = predict_window_logits(
            self.model, split.windows, self.token_ids["pad_token_id"], self.config.eval_batch_size
        )
        return WindowLogits(logits, split.owners, split.weights, len(split.examples))

    def _evaluate(self, split: _Split, schema: ModelSchema, groups: str | None = None) -> dict[str, Any]:
        wl = self.predict_windows(split)
        probs = {task.name: text_probabilities(wl, task) for task in schema.tasks}
        return evaluate_predictions(split.examples, probs, schema, groups=groups)

    # ------------------------------------------------------------------ checkpoints

    def _save_checkpoint(self, kind: str, state: _LoopState, optimizer: Any, scheduler: Any, data_key: str) -> None:
        from safetensors.torch import save_file

        assert self.model is not None
        target = self.checkpoint_dir / kind
        staging = self.checkpoint_dir / f"{kind}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        save_file(
            {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}, str(staging / "model.safetensors")
        )
        meta: dict[str, Any] = {
            "step": state.step,
            "best_score": state.best_score if math.isfinite(state.best_score) else None,
            "best_step": state.best_step,
            "evals_since_best": state.evals_since_best,
            "stopped_early": state.stopped_early,
            "history": state.history,
            "train_seconds": state.train_seconds,
            "config": self.config.fingerprint(),
            "data": data_key,
        }
        if kind == "last":
            tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
            opt_state = optimizer.state_dict()
            for index, values in opt_state["state"].items():
                for key, value in values.items():
                    tensors[f"state.{index}.{key}"] = torch.as_tensor(value).detach().contiguous()
            save_file(tensors, str(staging / "optimizer.safetensors"))
            np_state: tuple[Any, ...] = tuple(np.random.get_state())
            meta.update(
                optimizer_param_groups=opt_state["param_groups"],
                scheduler={k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"},
                python_random=_jsonable_random_state(random.getstate()),
                numpy_random=[
                    np_state[0],
                    np_state[1].tolist(),
                    *[float(x) if isinstance(x, float) else int(x) for x in np_state[2:]],
                ],
            )
        (staging / "state.json").write_text(json.dumps(_plain(meta)) + "\n", encoding="utf-8")
        replace_directory(staging, target, self.checkpoint_dir / f"{kind}.old")

    def _last_checkpoint(self) -> Path | None:
        for name in ("last", "last.old"):
            path = self.checkpoint_dir / name
            if (path / "state.json").is_file() and (path / "optimizer.safetensors").is_file():
                return path
        return None

    def _load_model_weights(self, path: Path) -> None:
        from safetensors.torch import load_file

        assert self.model is not None
        self.model.load_state_dict(load_file(str(path / "model.safetensors")))

    def _resume(self, path: Path, optimizer: Any, scheduler: Any, data_key: str) -> _LoopState:
        from safetensors.torch import load_file

        meta = json.loads((path / "state.json").read_text(encoding="utf-8"))
        saved, now = meta["config"], _plain(self.config.fingerprint())
        # a field newer than the checkpoint is unchanged when it has its default value
        defaults = _plain({k: _field_default(self.config, k) for k in now if k not in saved})
        changed = sorted(k for k in now if saved.get(k, defaults.get(k)) != now[k])
        if changed:
            raise ValueError(f"cannot resume from {path}: the config changed in {changed}; start a new run instead")
        if meta["data"] != data_key:
            raise ValueError(f"cannot resume from {path}: the training data changed since the checkpoint")
        self._load_model_weights(path)
        tensors = load_file(str(path / "optimizer.safetensors"))
        opt_state: dict[str, Any] = {"state": {}, "param_groups": meta["optimizer_param_groups"]}
        for key, value in tensors.items():
            if key.startswith("state."):
                _, index, name = key.split(".", 2)
                opt_state["state"].setdefault(int(index), {})[name] = value
        optimizer.load_state_dict(opt_state)
        scheduler.load_state_dict({**meta["scheduler"], "lr_lambdas": [None] * len(optimizer.param_groups)})
        torch.set_rng_state(tensors["rng.torch"])
        random.setstate(_random_state_from_json(meta["python_random"]))
        np_state = meta["numpy_random"]
        np.random.set_state((np_state[0], np.asarray(np_state[1], dtype=np.uint32), *np_state[2:]))
        return _LoopState(
            step=meta["step"],
            best_score=meta["best_score"] if meta["best_score"] is not None else -math.inf,
            best_step=meta["best_step"],
            evals_since_best=meta["evals_since_best"],
            stopped_early=meta["stopped_early"],
            history=meta["history"],
            train_seconds=float(meta.get("train_seconds", 0.0)),
        )

    # ------------------------------------------------------------------ the loop

    def resolve(self, data: AnnotatedData) -> TrainConfig:
        """Replace the config's ``"auto"`` settings by the small-data rule's values for ``data``
        (:func:`~khmer_civic.train.auto.resolve_auto`); the notes go to :attr:`auto_notes`."""
        self.config, notes = resolve_auto(self.config, DataProfile.of(data))
        self.auto_notes.update(notes)
        return self.config

    def fit(self, data: AnnotatedData, *, resume: bool = False) -> _LoopState:
        """Train on ``data['train']``, select on ``data['dev']``; leaves the best weights loaded."""
        cfg = self.resolve(data)
        schema = data.schema
        _seed_everything(cfg.seed)
        model = self.build_model(schema)
        train = self._prepare(data["train"], schema, training=True)
        dev = self._prepare(data["dev"], schema, training=False)
        data_key = _data_fingerprint(data)
        probe = self._linear_probe(train, dev, schema) if (cfg.frozen_head or cfg.probe_heads) else None
        if probe is not None and cfg.probe_heads:
            # linear probing, then fine-tuning: the heads start from the probe's logistic
            # regressions, so fine-tuning improves on them instead of starting from random heads
            set_heads(model, probe.heads)
        candidate = probe if cfg.frozen_head else None

        weights = {
            task.name: label_weights(*train.targets[task.name], task, cfg.class_weighting, cfg.max_class_weight)
            for task in schema.tasks
        }
        steps_per_epoch = math.ceil(len(train.windows) / cfg.batch_size)
        total_steps = cfg.max_steps if cfg.max_steps is not None else max(1, math.ceil(cfg.epochs * steps_per_epoch))
        eval_every = cfg.eval_every or steps_per_epoch
        self._min_stop_step = math.ceil(float(cfg.min_epochs or 0) * steps_per_epoch)
        checkpoint_every = cfg.checkpoint_every or eval_every
        optimizer = self._optimizer(model)
        scheduler = self._schedule(optimizer, total_steps, int(cfg.warmup_ratio * total_steps))

        last = self._last_checkpoint() if resume else None
        if not resume:  # a fresh run: drop this trainer's own checkpoints, nothing else
            for name in ("last", "best"):
                for suffix in ("", ".tmp", ".old"):
                    shutil.rmtree(self.checkpoint_dir / f"{name}{suffix}", ignore_errors=True)
        log = RunLog(self.run_dir, append=last is not None, echo=False)
        try:
            if last is not None:
                state = self._resume(last, optimizer, scheduler, data_key)
                log.text(f"resumed from {last} at step {state.step}")
            else:
                state = _LoopState()
                if resume:
                    log.text(f"no checkpoint under {self.checkpoint_dir}; starting from scratch")
                cfg.to_json(self.run_dir / "config.json")
                write_json(data.summary(), self.run_dir / "data_summary.json")
            n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            log.text(
                f"train {len(train.examples)} texts, dev {len(dev.examples)}; {steps_per_epoch} steps/epoch, "
                f"{total_steps} steps; {n_trainable:,} trainable parameters; eval every {eval_every} steps"
            )
            log.event(
                "start",
                step=state.step,
                total_steps=total_steps,
                steps_per_epoch=steps_per_epoch,
                trainable_parameters=n_trainable,
                train=len(train.examples),
                dev=len(dev.examples),
            )
            for line in auto_notes_lines(self.auto_notes):
                log.text(line)
            if self.auto_notes:
                log.event("auto", **self.auto_notes)
            if not state.stopped_early and state.step < total_steps:
                self._loop(
                    model,
                    train,
                    dev,
                    schema,
                    weights,
                    optimizer,
                    scheduler,
                    state,
                    log,
                    total_steps,
                    steps_per_epoch,
                    eval_every,
                    checkpoint_every,
                    data_key,
                )
            best = self.checkpoint_dir / "best"
            if (best / "model.safetensors").is_file():
                self._load_model_weights(best)
            log.text(f"best dev score {state.best_score:.4f} at step {state.best_step}")
            if candidate is not None:
                self._choose_frozen(candidate, state, schema, log)
        finally:
            log.close()
        return state

    def _linear_probe(self, train: _Split, dev: _Split, schema: ModelSchema) -> FrozenHeads:
        """Logistic regression heads on the untouched encoder's embeddings (train: first windows;
        dev: every window, folded per text), ``C`` chosen on dev: the frozen-encoder candidate and
        the fine-tuned model's starting heads. Uses no random numbers."""
        assert self.model is not None
        pad, batch = self.token_ids["pad_token_id"], self.config.eval_batch_size
        return fit_frozen_heads(
            predict_pooled(self.model, train.windows, pad, batch),
            train.targets,
            predict_pooled(self.model, dev.windows, pad, batch),
            dev.owners,
            dev.weights,
            dev.examples,
            schema,
            balanced=self.config.class_weighting != "none",
        )

    def _choose_frozen(self, candidate: FrozenHeads, state: _LoopState, schema: ModelSchema, log: RunLog) -> None:
        """Keep the frozen-encoder candidate (the base encoder reloaded, its heads set) when its dev
        score beats the fine-tuned model's best."""
        chosen = candidate.dev_score > state.best_score + 1e-9
        self.frozen_head = {**candidate.summary(), "fine_tuned_dev_score": state.best_score, "chosen": chosen}
        log.event("frozen_head", **self.frozen_head)
        verdict = "kept instead of the fine-tuned model" if chosen else "the fine-tuned model kept"
        log.text(
            f"frozen-encoder head (logistic regression, C {candidate.c:g}): dev score {candidate.dev_score:.4f} "
            f"vs fine-tuned {state.best_score:.4f}: {verdict}"
        )
        if chosen:
            model = self.build_model(schema)
            set_heads(model, candidate.heads)

    def _loop(
        self,
        model: MultiTaskClassifier,
        train: _Split,
        dev: _Split,
        schema: ModelSchema,
        weights: Mapping[str, torch.Tensor | None],
        optimizer: Any,
        scheduler: Any,
        state: _LoopState,
        log: RunLog,
        total_steps: int,
        steps_per_epoch: int,
        eval_every: int,
        checkpoint_every: int,
        data_key: str,
    ) -> None:
        from tqdm import tqdm

        cfg = self.config
        lengths = [len(w) for w in train.windows]
        pad = self.token_ids["pad_token_id"]
        targets = {name: (torch.from_numpy(y), torch.from_numpy(m)) for name, (y, m) in train.targets.items()}
        bar = tqdm(total=total_steps, initial=state.step, disable=not cfg.progress, desc="training", unit="step")
        loop_started, loop_seconds_before = time.time(), state.train_seconds
        running: list[float] = []
        model.train()
        try:
            while state.step < total_steps and not state.stopped_early:
                epoch = state.step // steps_per_epoch
                rng = np.random.default_rng([cfg.seed, epoch])
                batches = length_bucketed_batches(lengths, cfg.batch_size, rng, cfg.bucket_batches)
                for rows in batches[state.step % steps_per_epoch :]:
                    ids, mask = pad_batch([train.windows[i] for i in rows], pad)
                    loss, parts = self.batch_loss(self.training_outputs(model, ids, mask), rows, targets, schema, weights)
                    loss.backward()
                    if cfg.max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(
                            [p for p in model.parameters() if p.requires_grad], cfg.max_grad_norm
                        )
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    state.step += 1
                    running.append(float(loss.detach()))
                    bar.update(1)
                    bar.set_postfix(loss=f"{np.mean(running[-cfg.log_every :]):.4f}")
                    if state.step % cfg.log_every == 0 or state.step == total_steps:
                        log.event(
                            "step",
                            step=state.step,
                            epoch=state.step / steps_per_epoch,
                            loss=float(np.mean(running[-cfg.log_every :])),
                            task_loss=parts,
                            lr=scheduler.get_last_lr()[0],
                        )
                    state.train_seconds = loop_seconds_before + (time.time() - loop_started)
                    evaluated = False
                    if state.step % eval_every == 0 or state.step == total_steps:
                        self._dev_evaluation(dev, schema, state, log)
                        evaluated = True
                        if state.best_step == state.step:
                            self._save_checkpoint("best", state, optimizer, scheduler, data_key)
                    if evaluated or state.step % checkpoint_every == 0:
                        self._save_checkpoint("last", state, optimizer, scheduler, data_key)
                    if state.stopped_early or state.step >= total_steps:
                        break
        finally:
            bar.close()

    def training_outputs(
        self, model: MultiTaskClassifier, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """What :meth:`batch_loss` receives for a training batch: the logits per task (the
        distillation trainer adds the pooled embedding)."""
        return dict(model(input_ids, attention_mask))

    def batch_loss(
        self,
        logits: Mapping[str, torch.Tensor],
        rows: Sequence[int],
        targets: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
        schema: ModelSchema,
        weights: Mapping[str, torch.Tensor | None],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one training batch (``rows`` of the training split, their ``logits``) and each
        task's part: :func:`multitask_loss` on the gold targets. The distillation trainer
        (:mod:`.distill`) adds the teacher's soft targets here."""
        index = torch.tensor(list(rows), dtype=torch.long)
        return multitask_loss(
            logits,
            {k: v[0][index] for k, v in targets.items()},
            {k: v[1][index] for k, v in targets.items()},
            schema,
            weights,
            self.config.task_weights,
        )

    def _dev_evaluation(self, dev: _Split, schema: ModelSchema, state: _LoopState, log: RunLog) -> None:
        cfg = self.config
        result = self._evaluate(dev, schema)
        score = selection_score(result)
        improved = score > state.best_score + 1e-9
        if improved:
            state.best_score, state.best_step, state.evals_since_best = score, state.step, 0
        else:
            state.evals_since_best += 1
        per_task = {name: m.get("macro", {}).get("f1") for name, m in result["tasks"].items()}
        entry = {"step": state.step, "dev_mean_macro_f1": score, "dev_macro_f1": per_task, "improved": improved}
        state.history.append(entry)
        log.event("eval", **entry)
        log.text(f"step {state.step}: dev mean macro-F1 {score:.4f} {per_task}" + (" (best)" if improved else ""))
        patience = cfg.early_stopping_patience
        if patience is not None and state.evals_since_best >= patience and state.step >= self._min_stop_step:
            state.stopped_early = True
            log.text(f"early stop: {state.evals_since_best} evaluations without improvement")

    # ------------------------------------------------------------------ whole run

    def train(
        self,
        data: AnnotatedData,
        out_dir: str | Path | None = None,
        *,
        resume: bool = False,
        extra_metrics: Mapping[str, Any] | None = None,
    ) -> TrainResult:
        """Train on ``data`` (validated splits: train, dev, optionally test), calibrate on dev and (with
        ``out_dir``) export, evaluate and seal. Raises :class:`DataValidationError` before any training
        when there is no dev data.

        ``extra_metrics`` (e.g. ``{"baseline": ...}``) is merged into metrics.json and the card.
        """
        require_dev(data)  # before any training
        started = time.time()
        with self.torch_settings():
            state = self.fit(data, resume=resume)
            result = self._finish(data, state, out_dir, started, extra_metrics or {})
        return result

    @contextmanager
    def torch_settings(self) -> Iterator[None]:
        """The config's torch thread count and deterministic kernels, restored afterwards."""
        cfg = self.config
        previous_threads = torch.get_num_threads()
        previous_deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            if cfg.threads:
                torch.set_num_threads(cfg.threads)
            if cfg.deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
            yield
        finally:
            torch.set_num_threads(previous_threads)
            torch.use_deterministic_algorithms(previous_deterministic)

    def dev_score(self, data: AnnotatedData, weights: Mapping[str, torch.Tensor]) -> float:
        """The dev selection score (mean macro-F1, before calibration) of ``weights`` (a state dict of
        this config's model); builds the model when there is none yet."""
        self.resolve(data)
        if self.model is None:
            self.build_model(data.schema)
        assert self.model is not None
        self.model.load_state_dict(dict(weights))
        return selection_score(self._evaluate(self._prepare(data["dev"], data.schema, training=False), data.schema))

    def _finish(
        self,
        data: AnnotatedData,
        state: _LoopState,
        out_dir: str | Path | None,
        started: float,
        extra: Mapping[str, Any],
    ) -> TrainResult:
        cfg = self.config
        assert self.model is not None
        schema = data.schema
        dev = self._prepare(data["dev"], schema, training=False)
        dev_windows = self.predict_windows(dev)
        calibrated, calibration = calibrate_schema(
            schema,
            dev_windows,
            dev.targets,
            fit_temp=cfg.calibrate,
            tune_thresholds=cfg.tune_thresholds,
            min_positives=cfg.min_threshold_positives,
            shrinkage=cfg.threshold_shrinkage,
        )
        seconds = time.time() - started
        dev_probs = {task.name: text_probabilities(dev_windows, task) for task in calibrated.tasks}
        dev_result = evaluate_predictions(dev.examples, dev_probs, calibrated, groups=self.config.report_groups)
        test_result = None
        calibration_test: dict[str, dict[str, float]] = {}
        if data["test"]:
            test = self._prepare(data["test"], schema, training=False)
            test_windows = self.predict_windows(test)
            test_probs = {task.name: text_probabilities(test_windows, task) for task in calibrated.tasks}
            test_result = evaluate_predictions(
                test.examples, test_probs, calibrated, groups=self.config.report_groups
            )
            for task in schema.tasks:  # calibration checked on data it was not fitted on
                y, m = test.targets[task.name]
                calibration_test[task.name] = {
                    "ece_before": expected_calibration_error(text_probabilities(test_windows, task, 1.0), y, m, task),
                    "ece_after": test_result["tasks"][task.name].get("ece", float("nan")),
                }
        result = TrainResult(
            schema=calibrated,
            best_step=state.best_step,
            steps=state.step,
            stopped_early=state.stopped_early,
            seconds=state.train_seconds or seconds,
            history=state.history,
            dev=dev_result,
            test=test_result,
            calibration=calibration,
            run_dir=self.run_dir,
            calibration_test=calibration_test,
            auto=dict(self.auto_notes),
            frozen_head=self.frozen_head,
        )
        if out_dir is not None:
            self._export(data, result, Path(out_dir), extra)
        else:
            write_report(dev_result, self.run_dir / "reports", title=f"{cfg.name}: dev (torch)", stem="dev")
        write_json(
            result.run_metrics
            or {
                "dev": dev_result,
                "test": test_result,
                "calibration": {k: v.to_dict() for k, v in calibration.items()},
            },
            self.run_dir / "metrics.json",
        )
        return result

    def _export(self, data: AnnotatedData, result: TrainResult, out_dir: Path, extra: Mapping[str, Any]) -> None:
        """Export into a staging directory beside ``out_dir``, evaluate the int8 model, then swap it in."""
        cfg = self.config
        assert self.model is not None
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = out_dir.parent / f".{out_dir.name}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        check_split = data["test"] or data["dev"]
        agreement_texts = [ex.text for ex in check_split[: cfg.agreement_texts]]
        exported = export_onnx(
            self.model,
            self.tokenizer,
            staging,
            schema=result.schema,
            name=cfg.name,
            version=cfg.version,
            max_length=cfg.max_length,
            window_stride=cfg.window_stride,
            fp32_path=self.run_dir / "model.fp32.onnx",
            agreement_texts=agreement_texts,
            batch_size=cfg.eval_batch_size,
            fp16_first_layers=cfg.fp16_first_layers,
            sensitive=cfg.sensitive_precision,
            fuse=cfg.fuse_graph,
            skip_layer_norm=cfg.skip_layer_norm_fusion,
        )
        runner = onnx_runner(staging)
        reports = self.run_dir / "reports"
        onnx_results: dict[str, Any] = {}
        for split in ("dev", "test"):
            examples = data[split]
            if not examples:
                continue
            probs = runner.probabilities([ex.text for ex in examples], cfg.eval_batch_size)
            onnx_results[split] = evaluate_predictions(examples, probs, result.schema, groups=self.config.report_groups)
            write_report(onnx_results[split], reports, title=f"{cfg.name}: {split} (int8 ONNX)", stem=split)
        encoder_config = self.model.encoder.config
        metrics: dict[str, Any] = {
            "name": cfg.name,
            "version": cfg.version,
            "test": onnx_results.get("test"),
            "dev": onnx_results.get("dev"),
            "calibration": {k: v.to_dict() for k, v in result.calibration.items()},
            "calibration_test": result.calibration_test or None,
            "agreement": exported.agreement.to_dict() if exported.agreement else None,
            "training": {
                "base_model": Path(cfg.base_model).name,
                "num_layers": int(getattr(encoder_config, "num_hidden_layers", 0)) or None,
                "best_step": result.best_step,
                "steps": result.steps,
                "stopped_early": result.stopped_early,
                "seconds": round(result.seconds, 1),
                "seed": cfg.seed,
                "auto": result.auto or None,
                "frozen_head": result.frozen_head,
                "config": cfg.to_dict(),
            },
            "data": data.summary(),
            "size": {"model_onnx_bytes": exported.onnx_bytes, "fp32_onnx_bytes": exported.fp32_bytes},
            **dict(extra),
        }
        metrics = {k: v for k, v in metrics.items() if v is not None}
        finalize_model_dir(staging, metrics, description=cfg.description)
        replace_directory(staging, out_dir, out_dir.parent / f".{out_dir.name}.old")
        result.model_dir = out_dir
        result.export = dataclasses.replace(exported, model_dir=out_dir)
        result.metrics = metrics
        result.run_metrics = {**metrics, "torch": {"dev": result.dev, "test": result.test}}


def require_dev(data: AnnotatedData) -> None:
    """Raise :class:`DataValidationError` when ``data`` has no dev split, which training needs."""
    if not data["dev"]:
        why = "dev data chooses the checkpoint, the temperatures and the thresholds"
        raise DataValidationError([Problem("<arguments>", None, f"no dev file given: {why}")])


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _jsonable_random_state(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _random_state_from_json(data: list[Any]) -> tuple[Any, ...]:
    return (data[0], tuple(data[1]), data[2])


def _field_default(config: TrainConfig, name: str) -> Any:
    """The default value of the config field ``name`` (``None`` when it has none)."""
    for f in dataclasses.fields(config):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None


def _data_fingerprint(data: AnnotatedData) -> str:
    h = hashlib.sha256()
    for split in ("train", "dev"):
        for ex in data[split]:
            h.update(json.dumps([split, ex.id, ex.text, _plain(dict(ex.labels))], ensure_ascii=False).encode())
    h.update(json.dumps(data.schema.to_list()).encode())
    return h.hexdigest()
