"""From strings to calibrated probabilities: the onnxruntime side of the classifier.

Pipeline for a batch of texts:

1. :func:`~khmer_civic.model.inputs.prepare_input` decides whether each value can be labelled
   (``LabelStatus``) and normalises it with :func:`khmer_civic.text.normalize`; values that cannot be labelled never
   reach the model.
2. The tokenizer turns each text into piece ids without special tokens.
3. :func:`split_windows` cuts a text longer than ``max_length - 2`` tokens into overlapping
   windows of ``max_length - 2`` tokens whose starts are ``window_stride`` apart, the last one
   ending on the last token. Nothing is truncated: every token lies in at least one window.
   Each window gets ``bos ... eos`` around it.
4. How windows share an onnxruntime call is the model's ``batching`` (config.json):

   - ``per_window`` (the default, and what every exported int8 model declares): each window is
     scored alone, without padding. onnxruntime's dynamic int8 quantisation computes one
     activation scale per call, over every row and every padding position of the batch, so in a
     padded batch a text's scores would depend on its neighbours. Alone, a window's scores are a
     function of that window only: the same text gets the same scores whatever the batch size,
     order, chunk size or worker count. Measured on the shipped model against padded batches of
     32: 0.91x the throughput on one thread, 1.02x on two, where ``parallel`` windows are scored
     side by side (benchmarks/README.md, "Same text, same labels").
   - ``padded``: windows from all texts are sorted by length and cut into batches of
     ``batch_size``; each batch is padded with ``pad_token_id`` to its own longest window
     (``attention_mask`` is 0 on padding). Only for graphs that score each row independently
     (fp32, static or per-row activation scales); rows then agree across batchings to
     floating-point rounding (about 1e-7).
5. One ``onnxruntime.InferenceSession`` scores every window. Logits become calibrated
   probabilities per window: ``sigmoid(logit / T)`` for ``multi_label`` and ``binary`` tasks,
   ``softmax(logits / T)`` for ``single_label`` tasks, ``T`` being the task's temperature.
6. Windows are folded back into one row per text:

   - ``multi_label`` and ``binary``: the **maximum** probability over the text's windows, per
     label. A topic or an appeal anywhere in a long post counts for the whole post.
   - ``single_label``: the **mean** of the windows' probability vectors, each weighted by its
     number of text tokens. The result still sums to 1.

   A text that fits in one window is scored exactly as that window.
7. :func:`decisions` applies the decision rule (the thresholds of config.json) to the
   probabilities of one task, :func:`schema_decisions` to every task of a model, dependent tasks
   (``given``, see :mod:`khmer_civic.schema`) included; the classifier and the evaluation
   (khmer_civic.train.evaluate) both use it.

Thread safety: ``InferenceSession.run`` may be called from several threads at once, and so may
``tokenizers.Tokenizer.encode_batch``. :class:`WindowedRunner` keeps no per-call state on the
instance (all buffers are local to a call), so one runner, and one classifier, can serve many
threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from khmer_civic.model.config import ModelConfig
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE
from khmer_civic.model.inputs import prepare_input as prepare_input  # re-exported: benchmarks import it from here
from khmer_civic.model.tokenizer import TextTokenizer
from khmer_civic.schema import ModelConfigError, ModelSchema, TaskSpec

INPUT_NAMES: tuple[str, str] = ("input_ids", "attention_mask")
DEFAULT_PROVIDERS: tuple[str, ...] = ("CPUExecutionProvider",)


class ModelGraphError(ModelConfigError):
    """model.onnx cannot be loaded or lacks the inputs/outputs that config.json describes."""


# --------------------------------------------------------------------------------------------
# Windows and calibration


def split_windows(token_ids: Sequence[int], window_tokens: int, stride: int) -> list[list[int]]:
    """Cut ``token_ids`` into windows of at most ``window_tokens`` ids.

    A sequence that fits gives one window (possibly empty). A longer one gives windows starting at
    ``0, stride, 2 * stride, ...`` plus a final window ending on the last id, so that, with
    ``stride <= window_tokens``, every id falls in at least one window.
    """
    if window_tokens < 1 or not 1 <= stride <= window_tokens:
        raise ValueError(f"need 1 <= stride <= window_tokens, got stride={stride}, window_tokens={window_tokens}")
    ids = list(token_ids)
    if len(ids) <= window_tokens:
        return [ids]
    last_start = len(ids) - window_tokens
    starts = [*range(0, last_start, stride), last_start]
    return [ids[start : start + window_tokens] for start in starts]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large positive and negative inputs."""
    return np.exp(-np.logaddexp(0.0, -x))


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis."""
    shifted = x - x.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def calibrated_probabilities(logits: np.ndarray, task: TaskSpec) -> np.ndarray:
    """Per-row probabilities from raw logits, temperature-scaled.

    ``binary`` and ``multi_label`` rows hold one sigmoid per output (for ``binary``: p(true));
    ``single_label`` rows hold a softmax over the labels.
    """
    scaled = np.asarray(logits, dtype=np.float64) / task.temperature
    return softmax(scaled) if task.type == "single_label" else sigmoid(scaled)


def aggregate_windows(
    window_probs: np.ndarray, owners: np.ndarray, weights: np.ndarray, n_texts: int, task: TaskSpec
) -> np.ndarray:
    """Fold per-window probabilities into one row per text (max, or length-weighted mean)."""
    if task.type == "single_label":
        return mean_over_windows(window_probs, owners, weights, n_texts)
    out = np.full((n_texts, window_probs.shape[1]), -np.inf, dtype=np.float64)
    np.maximum.at(out, owners, window_probs)
    return out


def mean_over_windows(vectors: np.ndarray, owners: np.ndarray, weights: np.ndarray, n_texts: int) -> np.ndarray:
    """One row per text: the mean of its windows' rows, each weighted by ``weights`` (text tokens)."""
    sums = np.zeros((n_texts, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, owners, np.asarray(vectors, dtype=np.float64) * weights[:, None])
    totals = np.bincount(owners, weights=weights, minlength=n_texts)
    return sums / totals[:, None]


def decisions(probs: np.ndarray, task: TaskSpec) -> np.ndarray:
    """The decision rule: per-text probabilities (``[N, n_outputs]``) to decisions.

    ``multi_label``: a 0/1 matrix ``[N, n_labels]``, 1 where the probability is >= the label's
    threshold; ``binary``: a 0/1 matrix ``[N, 1]``, 1 where p(true) >= the task's threshold;
    ``single_label``: label indices ``[N]``, the most probable label (the first on a tie).
    """
    p = np.asarray(probs, dtype=np.float64)
    if task.type == "single_label":
        return p.argmax(axis=1)
    if task.type == "binary":
        column = p[:, :1] if p.ndim == 2 else p.reshape(-1, 1)  # p(true), given as [N, 1] or [N]
        return (column >= task.threshold).astype(np.int64)
    thresholds = np.array([task.threshold_for(label) for label in task.labels])
    return (p >= thresholds[None, :]).astype(np.int64)


def holds(decided: np.ndarray, task: TaskSpec, label: str) -> np.ndarray:
    """Per text (bool ``[N]``): whether ``task``'s decisions (:func:`decisions`) hold ``label``."""
    if task.type == "single_label":
        return np.asarray(decided) == task.labels.index(label)
    column = np.asarray(decided)[:, 0 if task.type == "binary" else task.labels.index(label)]
    if task.type == "binary":
        return column == (1 if label == "true" else 0)
    return column == 1


def dependent_decisions(probs: np.ndarray, task: TaskSpec, parent_holds: np.ndarray) -> np.ndarray:
    """A dependent task's decisions: its thresholds, at least its most probable label, where its
    parent holds (``parent_holds``, bool ``[N]``); no label elsewhere."""
    decided = decisions(probs, task)
    if len(decided):
        top = np.asarray(probs, dtype=np.float64).argmax(axis=1)
        decided[np.arange(len(decided)), top] = 1
    decided[~np.asarray(parent_holds, dtype=bool)] = 0
    return decided


def schema_decisions(probs: Mapping[str, np.ndarray], schema: ModelSchema) -> dict[str, np.ndarray]:
    """:func:`decisions` for every task of ``schema``, a dependent task's by :func:`dependent_decisions`."""
    out = {task.name: decisions(probs[task.name], task) for task in schema.tasks if task.given is None}
    for task in schema.tasks:
        if task.given is not None:
            parent = schema[task.given.task]
            out[task.name] = dependent_decisions(
                probs[task.name], task, holds(out[parent.name], parent, task.given.label)
            )
    return {task.name: out[task.name] for task in schema.tasks}


def decided_labels(task: TaskSpec, decided: np.ndarray) -> list[str] | str | bool:
    """One text's row of :func:`decisions` as a prediction's label: a list, a label or a bool."""
    if task.type == "multi_label":
        return [label for label, on in zip(task.labels, decided) if on]
    if task.type == "single_label":
        return task.labels[int(decided)]
    return bool(decided[0])


# --------------------------------------------------------------------------------------------
# Session


def check_threads(**counts: object) -> None:
    """Each thread count must be a non-negative int or None (0 and None: onnxruntime's default)."""
    for label, value in counts.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{label} must be a non-negative int or None, got {value!r}")


def create_session(
    model_path: Path,
    *,
    providers: Sequence[str] | None = None,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    disabled_optimizers: Sequence[str] = (),
) -> ort.InferenceSession:
    """Open ``model.onnx`` with full graph optimisation; CPU unless ``providers`` says otherwise.

    ``intra_op_threads`` / ``inter_op_threads``: onnxruntime thread pools (``None``: its default,
    one thread per core for intra-op). ``disabled_optimizers``: onnxruntime optimisations left out
    (the model's config.json ``disabled_optimizers``).
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: int8 graphs otherwise log benign warnings
    check_threads(intra_op_threads=intra_op_threads, inter_op_threads=inter_op_threads)
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    if inter_op_threads is not None:
        options.inter_op_num_threads = inter_op_threads
    chosen = list(providers) if providers is not None else list(DEFAULT_PROVIDERS)
    available = ort.get_available_providers()
    unknown = [p for p in chosen if (p[0] if isinstance(p, tuple) else p) not in available]
    if unknown:
        raise ValueError(f"onnxruntime providers {unknown} are not available here; available: {available}")
    if not model_path.is_file():
        raise ModelGraphError(f"{model_path} does not exist")
    try:
        return ort.InferenceSession(
            str(model_path), sess_options=options, providers=chosen, disabled_optimizers=list(disabled_optimizers)
        )
    except Exception as exc:  # onnxruntime raises its own exception classes for bad graphs
        raise ModelGraphError(f"{model_path}: onnxruntime cannot load this graph: {exc}") from exc


def check_graph(session: ort.InferenceSession, config: ModelConfig, source: str) -> None:
    """Check that the graph takes the contract's inputs and has each task's output and width.

    Shapes are first compared statically, then by scoring one two-token window, which also
    catches graphs whose output widths are symbolic.
    """
    inputs = {node.name: node for node in session.get_inputs()}
    for name in INPUT_NAMES:
        node = inputs.get(name)
        if node is None:
            raise ModelGraphError(f"{source}: the graph has no input {name!r} (inputs: {sorted(inputs)})")
        if node.type != "tensor(int64)" or len(node.shape) != 2:
            raise ModelGraphError(
                f"{source}: input {name!r} must be int64 [batch, seq], found {node.type} {node.shape}"
            )
    extra = sorted(set(inputs) - set(INPUT_NAMES))
    if extra:
        raise ModelGraphError(f"{source}: the graph needs inputs this library does not feed: {extra}")

    outputs = {node.name: node for node in session.get_outputs()}
    for task in config.schema.tasks:
        node = outputs.get(task.output)
        if node is None:
            raise ModelGraphError(
                f"{source}: task {task.name!r} reads output {task.output!r}, which the graph lacks "
                f"(outputs: {sorted(outputs)})"
            )
        shape = node.shape
        if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != task.n_outputs):
            raise ModelGraphError(
                f"{source}: output {task.output!r} has shape {shape}, task {task.name!r} "
                f"({task.type}) needs [batch, {task.n_outputs}]"
            )

    probe_ids = np.array([[config.bos_token_id, config.eos_token_id]], dtype=np.int64)
    try:
        results = session.run(
            [t.output for t in config.schema.tasks],
            {"input_ids": probe_ids, "attention_mask": np.ones_like(probe_ids)},
        )
    except Exception as exc:
        raise ModelGraphError(f"{source}: scoring a test input failed: {exc}") from exc
    for task, result in zip(config.schema.tasks, results):
        if np.shape(result) != (1, task.n_outputs):
            raise ModelGraphError(
                f"{source}: output {task.output!r} gave shape {np.shape(result)} for one input, "
                f"task {task.name!r} needs (1, {task.n_outputs})"
            )
    check_embedding_output(session, config, source)


def check_embedding_output(session: ort.InferenceSession, config: ModelConfig, source: str) -> None:
    """When config.json names an ``embedding_output``, the graph has it as a float ``[batch, dim]``."""
    name = config.embedding_output
    if name is None:
        return
    node = next((n for n in session.get_outputs() if n.name == name), None)
    if node is None:
        raise ModelGraphError(f"{source}: config.json names the embedding output {name!r}, which the graph lacks")
    probe_ids = np.array([[config.bos_token_id, config.eos_token_id]], dtype=np.int64)
    try:
        (result,) = session.run([name], {"input_ids": probe_ids, "attention_mask": np.ones_like(probe_ids)})
    except Exception as exc:
        raise ModelGraphError(f"{source}: computing the embedding output {name!r} failed: {exc}") from exc
    if np.ndim(result) != 2 or np.shape(result)[0] != 1 or not np.issubdtype(np.asarray(result).dtype, np.floating):
        raise ModelGraphError(
            f"{source}: embedding output {name!r} gave {np.asarray(result).dtype} {np.shape(result)} for one input, "
            "expected float (1, dim)"
        )


# --------------------------------------------------------------------------------------------
# Runner


@dataclass(frozen=True)
class WindowedRunner:
    """Scores normalised texts with one session, windows for long texts, batches by length."""

    session: ort.InferenceSession
    tokenizer: TextTokenizer
    config: ModelConfig
    parallel: int = 1  # windows scored at once by per_window models (threads calling session.run)

    def windows(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray]:
        """All model inputs for ``texts`` (bos/eos added) and, per window, the index of its text."""
        cfg = self.config
        windows: list[list[int]] = []
        owners: list[int] = []
        for index, ids in enumerate(self.tokenizer.encode(texts)):
            for piece in split_windows(ids, cfg.window_tokens, cfg.window_stride):
                windows.append([cfg.bos_token_id, *piece, cfg.eos_token_id])
                owners.append(index)
        return windows, np.asarray(owners, dtype=np.int64)

    def window_logits(self, windows: Sequence[Sequence[int]], batch_size: int) -> dict[str, np.ndarray]:
        """Raw logits of each window per task output, rows in the order of ``windows`` (see :meth:`window_outputs`)."""
        return self.window_outputs(windows, [task.output for task in self.config.schema.tasks], batch_size)

    def probabilities(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> dict[str, np.ndarray]:
        """Calibrated probabilities per task, one row per text (see the module docstring).

        ``texts`` must already be normalised and labellable (see
        :func:`~khmer_civic.model.inputs.prepare_input`). For a ``binary`` task the single column is p(true).
        """
        return self.scores_and_embeddings(texts, batch_size, embeddings=False)[0]

    def window_outputs(
        self, windows: Sequence[Sequence[int]], names: Sequence[str], batch_size: int
    ) -> dict[str, np.ndarray]:
        """The raw values of the ONNX outputs ``names`` for each window, rows in the order of ``windows``.

        ``per_window`` models score each window alone (``batch_size`` is not used), ``parallel``
        windows at a time; ``padded`` models score length-sorted batches of ``batch_size``. Either
        way a window's values do not depend on the other windows. ``batch_size`` is checked where
        it enters (``CivicClassifier.predict``, :func:`~khmer_civic.model.inputs.check_batch_size`).
        """
        size = 1 if self.config.batching == "per_window" else batch_size
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        batches = [order[begin : begin + size] for begin in range(0, len(order), size)]

        def run(rows: list[int]) -> list[np.ndarray]:
            width = max(len(windows[i]) for i in rows)
            input_ids = np.full((len(rows), width), self.config.pad_token_id, dtype=np.int64)
            attention_mask = np.zeros((len(rows), width), dtype=np.int64)
            for slot, i in enumerate(rows):
                input_ids[slot, : len(windows[i])] = windows[i]
                attention_mask[slot, : len(windows[i])] = 1
            return self.session.run(list(names), {"input_ids": input_ids, "attention_mask": attention_mask})

        if self.parallel > 1 and len(batches) > 1:
            with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="khmer-civic-window") as pool:
                results = list(pool.map(run, batches))  # session.run releases the GIL
        else:
            results = [run(rows) for rows in batches]
        out: dict[str, np.ndarray] = {}
        for rows, values in zip(batches, results):
            for name, value in zip(names, values):
                if name not in out:
                    out[name] = np.empty((len(windows), *np.shape(value)[1:]), dtype=np.float64)
                out[name][rows] = value
        return out

    def scores_and_embeddings(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE, *, embeddings: bool = True
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """:meth:`probabilities` and, from the same model calls, one embedding row per text.

        A text's embedding is the mean of its windows' ``embedding_output`` vectors, each weighted
        by its number of text tokens (as ``single_label`` probabilities are); ``None`` when
        ``embeddings`` is false. Raises ``ValueError`` for a model without an embedding output.
        """
        name = self.config.embedding_output
        if embeddings and name is None:
            raise ValueError(f"model {self.config.name!r} has no embedding output (config.json 'embedding_output')")
        tasks = self.config.schema.tasks
        if not texts:
            empty = {task.name: np.empty((0, task.n_outputs), dtype=np.float64) for task in tasks}
            return empty, (np.empty((0, 0), dtype=np.float32) if embeddings else None)
        windows, owners = self.windows(texts)
        names = [task.output for task in tasks] + ([name] if embeddings and name else [])
        values = self.window_outputs(windows, names, batch_size)
        weights = np.asarray([max(len(w) - 2, 1) for w in windows], dtype=np.float64)
        probs = {
            task.name: aggregate_windows(
                calibrated_probabilities(values[task.output], task), owners, weights, len(texts), task
            )
            for task in tasks
        }
        if not embeddings or name is None:
            return probs, None
        return probs, mean_over_windows(values[name], owners, weights, len(texts)).astype(np.float32)
