"""``CivicClassifier``: load a model directory, predict, save. Training lives in khmer_civic.train.

Example::

    from khmer_civic import CivicClassifier

    clf = CivicClassifier.load()                       # the bundled default model
    pred = clf.predict("សាលារៀនភូមិយើងខ្វះគ្រូ")
    pred.topics, pred.sentiment, pred.call_to_action   # (['education'], 'negative', False)
    clf.predict(["...", None, 42])                      # one Prediction per input, same order

The classifier learns its tasks, labels, thresholds and temperatures from the model's
config.json, so a retrained model with another task set needs no code change. One loaded
classifier may be shared between threads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from khmer_civic.model import registry
from khmer_civic.model.config import (
    CONFIG_NAME,
    METRICS_NAME,
    MODEL_NAME,
    TOKENIZER_NAME,
    ConfigFormatError,
    ModelConfig,
    ModelNotFoundError,
    load_config,
    read_json,
)
from khmer_civic.model.explain import Explanation, PushingWordsRun, explanation, occlude, pushing_words, task_named
from khmer_civic.model.manifest import MANIFEST_NAME, ManifestError, file_sha256, verify_manifest, write_manifest
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE, check_batch_size, prepare_input
from khmer_civic.model.runtime import (
    WindowedRunner,
    check_graph,
    check_threads,
    create_session,
    decided_labels,
    schema_decisions,
)
from khmer_civic.model.tokenizer import TextTokenizer
from khmer_civic.schema import LabelStatus, ModelConfigError, ModelSchema, Prediction, TaskSpec
from khmer_civic.text import NORMALIZER_VERSION

Scores = dict[str, dict[str, float]]
Texts = str | Iterable[object]  # one text, or any iterable of values (see CivicClassifier.predict)


class NormalizerVersionWarning(UserWarning):
    """The model was trained with another text normaliser than the one installed."""


def default_model_dir() -> Path:
    """Where the bundled default model lives (the ``default`` of the bundled models' index.json,
    :mod:`khmer_civic.model.registry`).

    Looked for, in order:

    1. ``khmer_civic/_models/<directory>/`` inside the installed package (a wheel ships the
       models there as package data);
    2. ``models/<directory>/`` at the root of a source checkout (an editable install imports
       the package from ``<repo>/khmer_civic``).

    Raises :class:`~khmer_civic.model.config.ModelNotFoundError` listing both places when
    neither exists.
    """
    return registry.default_model_dir()


def check_model_dir(
    path: str | Path | None, *, verify: bool = True, stacklevel: int = 2
) -> tuple[Path, ModelConfig, dict[str, str] | None]:
    """The checks of :meth:`CivicClassifier.load` that need no onnxruntime session.

    ``path``: a model directory, a bundled model's name (``"fast"``, ``"accurate"``: see
    :func:`~khmer_civic.model.registry.resolve_model_dir`) or ``None`` (:func:`default_model_dir`).
    The directory and its required files exist, every file
    matches manifest.json (unless ``verify=False``), config.json follows the contract; warns when
    the model was trained with another normaliser. Returns the directory, its config and the
    digests of the files checked (``None`` without ``verify``).
    """
    model_dir = default_model_dir() if path is None else registry.resolve_model_dir(path)
    if not model_dir.is_dir():
        raise ModelNotFoundError(f"model directory {model_dir} does not exist or is not a directory")
    for name in (CONFIG_NAME, MODEL_NAME, TOKENIZER_NAME):
        if not (model_dir / name).is_file():
            raise ModelNotFoundError(f"{model_dir / name} does not exist: a model directory needs {name}")
    digests = verify_manifest(model_dir) if verify else None
    config = load_config(model_dir)
    if config.normalizer_version != NORMALIZER_VERSION:
        warnings.warn(
            f"{model_dir / CONFIG_NAME}: the model was trained with normaliser version "
            f"{config.normalizer_version}, this library has version {NORMALIZER_VERSION}; "
            "predictions may be less accurate",
            NormalizerVersionWarning,
            stacklevel=stacklevel,
        )
    return model_dir, config, digests


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the platform tells, else the core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class CivicClassifier:
    """Civic topics, sentiment and calls to action for Khmer texts, on CPU with onnxruntime.

    Build one with :meth:`load`. Instances are immutable after loading and safe to share between
    threads.
    """

    def __init__(
        self,
        model_dir: Path,
        config: ModelConfig,
        runner: WindowedRunner,
        metrics: Mapping[str, Any] | None = None,
        digests: Mapping[str, str] | None = None,
    ) -> None:
        self._model_dir = model_dir
        self._config = config
        self._runner = runner
        self._metrics = metrics
        self._digests = dict(digests) if digests else {}

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        providers: Sequence[str] | None = None,
        intra_op_threads: int | None = None,
        inter_op_threads: int | None = None,
        verify: bool = True,
    ) -> CivicClassifier:
        """Load a model: ``None`` (the bundled default model, see :func:`default_model_dir`), a
        bundled model's name (``"fast"``, ``"accurate"``; ``khmer-civic info`` lists them) or the
        path of a model directory (an existing directory wins over a name).

        Checks, in order: the directory and its required files exist; every file matches its
        sha256 in manifest.json (skipped when ``verify=False``); config.json follows the
        contract; tokenizer.json is readable and knows the special ids; model.onnx has the
        inputs and the per-task outputs (with widths) that config.json names. Any failure raises
        a :class:`~khmer_civic.schema.ModelConfigError` subclass naming the file. A model trained
        with another normaliser version only warns (:class:`NormalizerVersionWarning`).

        ``providers``: onnxruntime execution providers (default CPU only);
        ``intra_op_threads``: how many threads score (default: one per usable core);
        ``inter_op_threads``: onnxruntime's inter-op pool (default: its own). A ``per_window``
        model (every int8 model) scores up to ``intra_op_threads`` windows at once, each on one
        onnxruntime thread: on two cores this labels more texts per second than two threads
        sharing one window, and a window's scores are the same whatever the thread count. A
        ``padded`` model hands the threads to onnxruntime's intra-op pool.
        """
        model_dir, config, digests = check_model_dir(path, verify=verify, stacklevel=3)
        tokenizer = TextTokenizer.from_file(model_dir / TOKENIZER_NAME)
        tokenizer.check_special_ids(config.special_token_ids)
        check_threads(intra_op_threads=intra_op_threads, inter_op_threads=inter_op_threads)
        parallel = 1
        if config.batching == "per_window":
            parallel = intra_op_threads or usable_cores()  # None and 0 (onnxruntime's "default") alike
        session = create_session(
            model_dir / MODEL_NAME,
            providers=providers,
            intra_op_threads=1 if parallel > 1 else intra_op_threads,
            inter_op_threads=inter_op_threads,
            disabled_optimizers=config.disabled_optimizers,
        )
        check_graph(session, config, str(model_dir / MODEL_NAME))
        metrics_path = model_dir / METRICS_NAME
        metrics = read_json(metrics_path) if metrics_path.is_file() else None
        if metrics is not None and not isinstance(metrics, Mapping):
            raise ConfigFormatError(f"{metrics_path}: expected a JSON object, found {type(metrics).__name__}")
        return cls(model_dir, config, WindowedRunner(session, tokenizer, config, parallel), metrics, digests)

    # ------------------------------------------------------------------ description

    @property
    def path(self) -> Path:
        """The directory the model was loaded from."""
        return self._model_dir

    @property
    def config(self) -> ModelConfig:
        return self._config

    @property
    def schema(self) -> ModelSchema:
        """The tasks this model predicts, from its config.json."""
        return self._config.schema

    @property
    def labels(self) -> dict[str, list[str]]:
        """Labels of every task, in config order: ``{"topics": [...], "sentiment": [...], ...}``."""
        return {task.name: list(task.labels) for task in self.schema.tasks}

    @property
    def metrics(self) -> Mapping[str, Any] | None:
        """The content of metrics.json, or ``None`` when the model has none."""
        return self._metrics

    def info(self) -> dict[str, Any]:
        """A JSON-ready description: name, version, tasks, thresholds, metrics and settings."""
        cfg = self._config
        thresholds: dict[str, Any] = {}
        for task in cfg.schema.tasks:
            if task.type == "multi_label":
                thresholds[task.name] = {label: task.threshold_for(label) for label in task.labels}
            elif task.type == "binary":
                thresholds[task.name] = task.threshold
        return {
            "name": cfg.name,
            "version": cfg.version,
            "path": str(self._model_dir),
            "format_version": cfg.format_version,
            "normalizer_version": cfg.normalizer_version,
            "max_length": cfg.max_length,
            "window_stride": cfg.window_stride,
            "tasks": cfg.schema.to_list(),
            "thresholds": thresholds,
            "metrics": self._metrics,
            "providers": list(self._runner.session.get_providers()),
        }

    def __repr__(self) -> str:
        tasks = ", ".join(f"{t.name}:{t.type}[{len(t.labels)}]" for t in self.schema.tasks)
        return (
            f"CivicClassifier(name={self._config.name!r}, version={self._config.version!r}, "
            f"tasks=[{tasks}], path={str(self._model_dir)!r})"
        )

    # ------------------------------------------------------------------ prediction

    @overload
    def predict_proba(self, texts: str, *, batch_size: int = ...) -> Scores: ...
    @overload
    def predict_proba(self, texts: Iterable[object], *, batch_size: int = ...) -> list[Scores]: ...

    def predict_proba(self, texts: Texts, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Scores | list[Scores]:
        """Calibrated probabilities per task and label.

        ``multi_label``: ``sigmoid(logit / T)`` per label (independent, need not sum to 1);
        ``single_label``: ``softmax(logits / T)`` (sums to 1); ``binary``:
        ``{"false": 1 - p, "true": p}`` with ``p = sigmoid(logit / T)``. ``T`` is the task's
        temperature from config.json. Long texts are scored by windows (see
        :mod:`khmer_civic.model.runtime`).

        A single ``str`` gives one dict; any other iterable gives a list, same length and order.
        Inputs that cannot be labelled (``None``, NaN, non-strings, blank or letterless strings)
        give an empty dict instead of raising.
        """
        return self._run(texts, batch_size, scores_only=True)

    @overload
    def predict(self, texts: str, *, batch_size: int = ...) -> Prediction: ...
    @overload
    def predict(self, texts: Iterable[object], *, batch_size: int = ...) -> list[Prediction]: ...

    def predict(self, texts: Texts, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Prediction | list[Prediction]:
        """Label texts. A single ``str`` gives one :class:`Prediction`; an iterable gives a list.

        Decision rules, with the calibrated probabilities of :meth:`predict_proba`:

        - ``multi_label``: every label whose probability is >= its threshold
          (``thresholds`` in config.json, 0.5 when absent), in config order; may be empty.
        - ``single_label``: the most probable label (the first in config order on a tie).
        - ``binary``: ``True`` when p(true) >= the task's ``threshold``.
        - a dependent ``multi_label`` task (``given`` in config.json, e.g. cta_type given
          call_to_action true): as multi_label, plus at least its most probable label, where the
          parent's decision holds; ``[]`` elsewhere (its scores are reported either way).

        Bad inputs never raise and never shift rows: ``None``, NaN, ``""`` and blank strings get
        status ``EMPTY``; non-strings (numbers, bytes ...) ``NOT_TEXT``; strings without a Khmer
        or Latin letter ``NO_LETTERS``; strings holding a lone surrogate (``"\\ud83d"``, half an
        emoji, which no tokenizer can encode) ``UNDECODABLE``. Those predictions have every label
        ``None`` and no scores.
        ``batch_size`` is the number of windows scored per onnxruntime call for models whose
        batching is ``padded``; models with ``per_window`` batching (every int8 model, the
        default one included) score each window alone. Either way a text's scores do not depend
        on the other texts, their order or ``batch_size``. It must be a positive int
        (``ValueError`` otherwise, even when no text reaches the model).
        """
        return self._run(texts, batch_size, scores_only=False)

    def _run(self, texts: Texts, batch_size: int, *, scores_only: bool) -> Any:
        scored = self.score_arrays(texts, batch_size=batch_size)
        probs = scored.probabilities  # NaN rows (not labelled) are decided too, and never read
        decided = {} if scores_only else schema_decisions(probs, self.schema)
        tasks = self.schema.tasks
        results: list[Any] = []
        for i, status in enumerate(scored.statuses):
            if status is not LabelStatus.OK:
                results.append({} if scores_only else Prediction({t.name: None for t in tasks}, {}, status))
                continue
            scores = {task.name: _scores(task, probs[task.name][i]) for task in tasks}
            if scores_only:
                results.append(scores)
            else:
                labels = {task.name: decided_labels(task, decided[task.name][i]) for task in tasks}
                results.append(Prediction(labels, scores, LabelStatus.OK))
        return results[0] if isinstance(texts, str) else results

    # ------------------------------------------------------------------ explanations

    def explain(self, text: object, task: str, label: str | None = None) -> Explanation:
        """Which words made ``label`` of ``task`` (default: the predicted label; multi_label: the most
        probable predicted label, or the most probable label when none is predicted).

        Each word of the segmented, normalised text gets ``p(label | text) - p(label | text without
        the word)``: positive supports the label. All leave-one-word-out variants are scored in one
        call, long texts by windows (:mod:`khmer_civic.model.explain`). ``ValueError`` for an unknown
        task or label, and :class:`~khmer_civic.model.explain.UnexplainableTextError` (a ``ValueError``
        with the ``status``) for a text that cannot be labelled.
        """
        spec = task_named(self.schema, task)
        return explanation(occlude(self._runner, text), spec, label, self.schema)

    def explain_all(self, text: object) -> list[Explanation]:
        """:meth:`explain` of every task's default label, in config order, from one scoring of the variants."""
        occlusion = occlude(self._runner, text)
        return [explanation(occlusion, spec, schema=self.schema) for spec in self.schema.tasks]

    def pushing_words(
        self,
        texts: Iterable[object],
        *,
        task: str | None = None,
        label: str | None = None,
        advance: Callable[[int], None] | None = None,
    ) -> PushingWordsRun:
        """Explain each text's predicted labels (of ``task``, default all; only ``label`` when given) and
        count, per label, the texts where each word is among the top-3 positive contributors
        (``.counts.table(top)``). Texts that cannot be labelled are skipped and counted by status;
        ``advance(1)`` is called after each text."""
        return pushing_words(self._runner, self.schema, texts, task=task, label=label, advance=advance)

    # ------------------------------------------------------------------ embeddings

    @property
    def has_embeddings(self) -> bool:
        """Whether the graph exposes pooled text embeddings (config.json ``embedding_output``)."""
        return self._config.embedding_output is not None

    def embed(self, texts: Texts, *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """The model's pooled text embeddings, one float32 row per input, in input order (a single
        ``str`` gives one vector).

        Each window's vector is the encoder's last hidden state mean-pooled over its tokens (what
        the task heads read); a text longer than one window gets the mean of its windows' vectors,
        each weighted by its number of text tokens. Rows are not L2-normalised. Inputs that
        cannot be labelled (see :meth:`predict`) get a row of NaN, so rows never shift. Like the
        scores, a row does not depend on the other texts or ``batch_size``. Raises
        :class:`~khmer_civic.schema.ModelConfigError` for a model without an embedding output
        (exported before it existed: ``training/add_embedding_output.py`` adds it).
        """
        rows = self.score_arrays(texts, batch_size=batch_size, embeddings=True).embeddings
        assert rows is not None
        return rows[0] if isinstance(texts, str) else rows

    def score_arrays(
        self, texts: Texts, *, batch_size: int = DEFAULT_BATCH_SIZE, embeddings: bool = False
    ) -> ScoredTexts:
        """Probabilities per task as arrays (one row per input, NaN rows for inputs that cannot be
        labelled) and, with ``embeddings``, the rows of :meth:`embed`, from one pass of the model."""
        values = [texts] if isinstance(texts, str) else _as_list(texts)
        check_batch_size(batch_size)
        if embeddings and not self.has_embeddings:
            raise ModelConfigError(
                f"{self._model_dir}: this model has no embedding output (config.json 'embedding_output'); "
                "add it with training/add_embedding_output.py"
            )
        prepared = [prepare_input(value) for value in values]
        ok_rows = np.asarray([row for row, (status, _) in enumerate(prepared) if status is LabelStatus.OK], dtype=int)
        probs, vectors = self._runner.scores_and_embeddings(
            [prepared[row][1] for row in ok_rows], batch_size, embeddings=embeddings
        )
        full = {}
        for task in self.schema.tasks:
            full[task.name] = np.full((len(values), task.n_outputs), np.nan, dtype=np.float64)
            full[task.name][ok_rows] = probs[task.name]
        rows = None
        if vectors is not None:
            dim = vectors.shape[1] if len(ok_rows) else self._embedding_dim()
            rows = np.full((len(values), dim), np.nan, dtype=np.float32)
            if len(ok_rows):
                rows[ok_rows] = vectors
        return ScoredTexts([status for status, _ in prepared], full, rows)

    def _embedding_dim(self) -> int:
        """Width of the embedding output, from the graph (or by scoring a two-token window)."""
        name = self._config.embedding_output
        node = next(n for n in self._runner.session.get_outputs() if n.name == name)
        if len(node.shape) == 2 and isinstance(node.shape[1], int):
            return node.shape[1]
        probe = [[self._config.bos_token_id, self._config.eos_token_id]]
        return int(self._runner.window_outputs(probe, [str(name)], 1)[str(name)].shape[1])

    # ------------------------------------------------------------------ saving

    def save(self, path: str | Path) -> Path:
        """Copy the model directory to ``path`` (which must not exist, or be empty) with a fresh manifest.

        When the model was loaded with ``verify=True``, the copied files are checked against the
        digests seen at load, so files changed on disk since then are not blessed by the new
        manifest. The copy is built beside ``path`` and moved into place at the end.
        """
        target = Path(path)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise FileExistsError(f"{target} exists and is not an empty directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            copy = staging / "model"
            shutil.copytree(self._model_dir, copy, ignore=shutil.ignore_patterns(MANIFEST_NAME, "__pycache__"))
            for name, digest in self._digests.items():
                if file_sha256(copy / name) != digest:
                    raise ManifestError(f"{self._model_dir / name} changed on disk after the model was loaded")
            write_manifest(copy)
            if target.exists():
                target.rmdir()
            os.replace(copy, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target


@dataclass(frozen=True)
class ScoredTexts:
    """What :meth:`CivicClassifier.score_arrays` returns, one row per input text."""

    statuses: list[LabelStatus]
    probabilities: dict[str, np.ndarray]  # task -> [N, n_outputs] (binary: p(true)); NaN rows: not labelled
    embeddings: np.ndarray | None  # [N, dim] float32, NaN rows: not labelled; None unless asked for


def _as_list(texts: object) -> list[object]:
    if texts is None or isinstance(texts, (bytes, bytearray, memoryview, Mapping)):
        raise TypeError(
            f"predict() takes a str or an iterable of texts, got {type(texts).__name__}"
            + ("; decode bytes to str first" if isinstance(texts, (bytes, bytearray, memoryview)) else "")
        )
    if not isinstance(texts, Iterable):
        raise TypeError(f"predict() takes a str or an iterable of texts, got {type(texts).__name__}")
    return list(texts)


def _scores(task: TaskSpec, row: np.ndarray) -> dict[str, float]:
    if task.type == "binary":
        p = float(row[0])
        return {"false": 1.0 - p, "true": p}
    return {label: float(value) for label, value in zip(task.labels, row)}
