"""One transformer encoder, one linear head per task, one forward pass.

The encoder is any Hugging Face model loadable with ``AutoModel`` (by default the rebuilt
multilingual-e5-small with a cut vocabulary, a local ``BertModel`` directory). Its last hidden
states are mean-pooled over the attention mask, as e5 does, and every task reads the pooled
vector through its own ``nn.Linear``. The forward pass returns a dict of logits per task with
the widths the ONNX contract of :mod:`khmer_civic.schema` asks for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from khmer_civic.schema import ModelSchema, TaskSpec

Logits = dict[str, torch.Tensor]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the hidden states over positions where ``attention_mask`` is 1."""
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    summed = (hidden * mask).sum(dim=1)
    count = mask.sum(dim=1).clamp(min=1e-6)
    return summed / count


class MultiTaskClassifier(nn.Module):
    """Encoder + mean pooling + dropout + one linear head per task of ``schema``."""

    def __init__(self, encoder: nn.Module, schema: ModelSchema, head_dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.schema = schema
        encoder_config: Any = encoder.config  # a transformers PretrainedConfig
        hidden = int(encoder_config.hidden_size)
        self.dropout = nn.Dropout(head_dropout)
        self.heads = nn.ModuleDict({task.name: nn.Linear(hidden, task.n_outputs) for task in schema.tasks})
        for head in self.heads.values():
            assert isinstance(head, nn.Linear)
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Logits:
        """Logits per task: ``[B, n_labels]`` (multi_label, single_label) or ``[B, 1]`` (binary)."""
        return self.pooled_and_logits(input_ids, attention_mask)[1]

    def pooled_and_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, Logits]:
        """The mean-pooled encoder state ``[B, hidden]`` (before dropout: the text embedding the
        ONNX graph exposes) and the logits of :meth:`forward`."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        pooled = mean_pool(hidden, attention_mask)
        dropped = self.dropout(pooled)
        return pooled, {name: head(dropped) for name, head in self.heads.items()}


def _is_local_dir(path: str | os.PathLike[str]) -> bool:
    return Path(path).is_dir()


def load_encoder(base_model: str | os.PathLike[str], num_layers: int | None = None) -> nn.Module:
    """``AutoModel`` from a local directory (or a hub id, only when a network is available).

    ``num_layers`` keeps only the first ``k`` transformer layers (for a smaller, faster student).
    """
    from transformers import AutoModel

    local = _is_local_dir(base_model)
    kwargs: dict[str, Any] = {"local_files_only": local}
    try:
        try:
            encoder = AutoModel.from_pretrained(str(base_model), add_pooling_layer=False, **kwargs)
        except TypeError:  # model classes without a pooler do not take the argument
            encoder = AutoModel.from_pretrained(str(base_model), **kwargs)
    except OSError as exc:
        hint = (
            "it is not a local directory; pass the path of a Hugging Face model directory "
            "(e.g. the rebuilt encoder at training/cache/e5-small-cut)"
            if not local
            else "the directory is not a loadable Hugging Face model"
        )
        raise FileNotFoundError(f"cannot load base model {str(base_model)!r}: {hint} ({exc})") from exc
    if num_layers is not None:
        truncate_layers(encoder, num_layers)
    return encoder


def load_tokenizer(base_model: str | os.PathLike[str]) -> Any:
    """The fast tokenizer stored with the base model."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_model), local_files_only=_is_local_dir(base_model))
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{base_model}: a fast (tokenizer.json) tokenizer is needed for export")
    return tokenizer


def special_token_ids(tokenizer: Any) -> dict[str, int]:
    """pad/bos/eos ids of a tokenizer; BERT-style ``[CLS]``/``[SEP]`` stand in for bos/eos."""
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    pad = tokenizer.pad_token_id
    missing = [name for name, value in (("bos/cls", bos), ("eos/sep", eos), ("pad", pad)) if value is None]
    if missing:
        raise ValueError(f"the tokenizer has no {', '.join(missing)} token")
    return {"pad_token_id": int(pad), "bos_token_id": int(bos), "eos_token_id": int(eos)}


def _layer_list(encoder: nn.Module) -> tuple[nn.Module, str]:
    for owner_path, attr in (("encoder", "layer"), ("transformer", "layer"), ("encoder", "layers")):
        owner = getattr(encoder, owner_path, None)
        if owner is not None and isinstance(getattr(owner, attr, None), nn.ModuleList):
            return owner, attr
    raise ValueError(f"cannot find the layer list of {type(encoder).__name__} to truncate it")


def truncate_layers(encoder: nn.Module, num_layers: int) -> None:
    """Keep the first ``num_layers`` transformer layers of ``encoder`` (in place)."""
    owner, attr = _layer_list(encoder)
    layers: nn.ModuleList = getattr(owner, attr)
    if not 1 <= num_layers <= len(layers):
        raise ValueError(f"num_layers must be between 1 and {len(layers)}, got {num_layers}")
    setattr(owner, attr, nn.ModuleList(list(layers)[:num_layers]))
    config = encoder.config
    for key in ("num_hidden_layers", "n_layers", "num_layers"):
        if hasattr(config, key):
            setattr(config, key, num_layers)
            break


def word_embeddings(encoder: nn.Module) -> nn.Module:
    """The token embedding matrix module of an encoder."""
    get = getattr(encoder, "get_input_embeddings", None)
    emb = get() if callable(get) else None
    if emb is None:
        raise ValueError(f"{type(encoder).__name__} exposes no input embeddings")
    return emb


def freeze_word_embeddings(encoder: nn.Module) -> int:
    """Stop gradients to the token embeddings; returns the number of frozen parameters."""
    emb = word_embeddings(encoder)
    frozen = 0
    for p in emb.parameters():
        p.requires_grad_(False)
        frozen += p.numel()
    return frozen


# ------------------------------------------------------------------------------ loss


def label_weights(
    targets: np.ndarray, mask: np.ndarray, task: TaskSpec, mode: str, max_weight: float = 10.0
) -> torch.Tensor | None:
    """Positive weights (multi_label/binary) or class weights (single_label) from training counts.

    ``mode``: ``"none"`` (returns ``None``), ``"balanced"`` (negatives/positives, or
    ``n / (k * n_c)`` for single_label) or ``"sqrt"`` (its square root, a milder correction).
    Weights are clipped to ``[1 / max_weight, max_weight]``.
    """
    if mode == "none":
        return None
    if mode not in ("balanced", "sqrt"):
        raise ValueError(f"class weighting {mode!r} is not one of 'none', 'balanced', 'sqrt'")
    keep = mask > 0
    if task.type == "single_label":
        counts = np.bincount(targets[keep].astype(np.int64), minlength=len(task.labels)).astype(np.float64)
        w = counts.sum() / (len(task.labels) * np.maximum(counts, 1.0))
    else:
        y = targets[keep].reshape(int(keep.sum()), -1).astype(np.float64)
        pos = y.sum(axis=0)
        neg = y.shape[0] - pos
        w = neg / np.maximum(pos, 1.0)
    if mode == "sqrt":
        w = np.sqrt(w)
    w = np.clip(w, 1.0 / max_weight, max_weight)
    return torch.tensor(w, dtype=torch.float32)


def task_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    task: TaskSpec,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Loss of one task over the annotated rows of a batch (``mask`` 1), 0 when there are none.

    BCE-with-logits (``weight`` = pos_weight) for multi_label and binary, averaged over labels
    then rows; cross-entropy (``weight`` = class weights, weighted mean) for single_label. Rows
    with ``mask`` 0 contribute nothing, to the loss or to the gradient; other mask values weigh
    their rows in the mean (e.g. down-weighted exercise prompts, train.data.down_weight_exercise_prompts).
    """
    mask = mask.to(logits.dtype)
    n = mask.sum()
    if float(n) == 0.0:
        return logits.sum() * 0.0
    if task.type == "single_label":
        per_row = F.cross_entropy(logits, targets.long(), weight=weight, reduction="none")
        row_weight = mask if weight is None else mask * weight[targets.long()]
        return (per_row * row_weight).sum() / row_weight.sum().clamp(min=1e-12)
    if task.type == "binary":
        logits = logits.reshape(-1)
        targets = targets.reshape(-1)
        per_row = F.binary_cross_entropy_with_logits(
            logits, targets.to(logits.dtype), pos_weight=weight, reduction="none"
        )
    else:
        per_row = F.binary_cross_entropy_with_logits(
            logits, targets.to(logits.dtype), pos_weight=weight, reduction="none"
        ).mean(dim=1)
    return (per_row * mask).sum() / n


def multitask_loss(
    logits: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor],
    schema: ModelSchema,
    weights: Mapping[str, torch.Tensor | None] | None = None,
    task_weights: Mapping[str, float] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of :func:`task_loss` over tasks; also returns each task's loss as a float."""
    total = torch.zeros((), dtype=torch.float32)
    parts: dict[str, float] = {}
    for task in schema.tasks:
        w = (weights or {}).get(task.name)
        loss = task_loss(logits[task.name], targets[task.name], masks[task.name], task, w)
        total = total + float((task_weights or {}).get(task.name, 1.0)) * loss
        parts[task.name] = float(loss.detach())
    return total, parts


# ------------------------------------------------------------------------------ inference in torch


def text_tokenizer_from_hf(hf_tokenizer: Any) -> Any:
    """The inference-side :class:`~khmer_civic.model.tokenizer.TextTokenizer` for a fast HF
    tokenizer (a copy of its backend), so training sees exactly the ids inference will see."""
    from tokenizers import Tokenizer

    from khmer_civic.model.tokenizer import TextTokenizer

    return TextTokenizer(Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str()))


def encode_windows(
    text_tokenizer: Any,
    texts: list[str],
    *,
    max_length: int,
    window_stride: int,
    bos_token_id: int,
    eos_token_id: int,
    first_window_only: bool = False,
) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
    """Model inputs for ``texts`` exactly as the runtime builds them.

    Returns ``(windows, owners, weights)``: each window is ``[bos, ..., eos]`` of at most
    ``max_length`` ids, ``owners[i]`` the index of window ``i``'s text and ``weights[i]`` its
    number of text tokens (at least 1). With ``first_window_only`` each text gives its first window.
    """
    from khmer_civic.model.runtime import split_windows

    window_tokens = max_length - 2
    windows: list[list[int]] = []
    owners: list[int] = []
    for index, ids in enumerate(text_tokenizer.encode(texts)):
        pieces = [ids[:window_tokens]] if first_window_only else split_windows(ids, window_tokens, window_stride)
        for piece in pieces:
            windows.append([bos_token_id, *piece, eos_token_id])
            owners.append(index)
    weights = np.asarray([max(len(w) - 2, 1) for w in windows], dtype=np.float64)
    return windows, np.asarray(owners, dtype=np.int64), weights


def pad_batch(windows: list[list[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` (int64) for windows padded to the longest one."""
    width = max(len(w) for w in windows)
    ids = torch.full((len(windows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, w in enumerate(windows):
        ids[row, : len(w)] = torch.tensor(w, dtype=torch.long)
        mask[row, : len(w)] = 1
    return ids, mask


def _score_in_length_order(
    model: MultiTaskClassifier,
    windows: list[list[int]],
    pad_token_id: int,
    batch_size: int,
    keep: Callable[[list[int], torch.Tensor, torch.Tensor], None],
) -> None:
    """Call ``keep(rows, ids, mask)`` for length-sorted batches of ``windows`` (eval mode, no
    gradients; ``rows``: the batch's indices into ``windows``), then restore the model's mode."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                ids, mask = pad_batch([windows[i] for i in rows], pad_token_id)
                keep(rows, ids, mask)
    finally:
        model.train(was_training)


def predict_window_logits(
    model: MultiTaskClassifier, windows: list[list[int]], pad_token_id: int, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Raw logits of every window per task (eval mode, length-sorted batches, input order kept)."""
    out = {t.name: np.zeros((len(windows), t.n_outputs), dtype=np.float64) for t in model.schema.tasks}

    def keep(rows: list[int], ids: torch.Tensor, mask: torch.Tensor) -> None:
        for name, value in model(ids, mask).items():
            out[name][rows] = value.double().numpy()

    _score_in_length_order(model, windows, pad_token_id, batch_size, keep)
    return out


def predict_pooled(
    model: MultiTaskClassifier, windows: list[list[int]], pad_token_id: int, batch_size: int = 64
) -> np.ndarray:
    """The mean-pooled encoder state of every window (``[n_windows, hidden]``, float64; eval mode,
    length-sorted batches, input order kept): the features of the frozen-encoder head."""
    out = np.zeros((len(windows), int(model.encoder.config.hidden_size)), dtype=np.float64)

    def keep(rows: list[int], ids: torch.Tensor, mask: torch.Tensor) -> None:
        out[rows] = model.pooled_and_logits(ids, mask)[0].double().numpy()

    _score_in_length_order(model, windows, pad_token_id, batch_size, keep)
    return out


def set_heads(model: MultiTaskClassifier, heads: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Overwrite the linear heads of ``model`` with the given weights and biases, per task."""
    with torch.no_grad():
        for name, (weight, bias) in heads.items():
            head = model.heads[name]
            assert isinstance(head, nn.Linear)
            head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
            head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))
