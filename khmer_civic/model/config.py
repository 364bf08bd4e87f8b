"""Read and check a model directory's ``config.json`` (the contract in :mod:`khmer_civic.schema`).

Every problem raises a :class:`~khmer_civic.schema.ModelConfigError` subclass whose message names
the file and what is wrong with it, so a user who points the library at the wrong folder learns
why at load time rather than from a confusing failure inside onnxruntime.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from khmer_civic.schema import MODEL_FORMAT, MODEL_FORMAT_VERSION, ModelConfigError, ModelSchema

CONFIG_NAME = "config.json"
MODEL_NAME = "model.onnx"
TOKENIZER_NAME = "tokenizer.json"
METRICS_NAME = "metrics.json"
MODEL_CARD_NAME = "MODEL_CARD.md"

# How windows share an onnxruntime call (config.json "batching"; see WindowedRunner):
# "per_window": each window is scored alone, unpadded. Required for graphs whose activations are
#   quantised with one scale per call (onnxruntime's dynamic int8), where a row's scores would
#   otherwise depend on the other rows and the padding of its batch. The default.
# "padded": windows are sorted by length and scored in padded batches; only for graphs that
#   score each row independently of the others (fp32, or static/per-row activation scales).
BATCHING_MODES: tuple[str, ...] = ("per_window", "padded")
DEFAULT_BATCHING = "per_window"
# The ONNX output holding each window's mean-pooled encoder state (config.json "embedding_output",
# optional: models exported before it have none and still load; CivicClassifier.embed needs it).
DEFAULT_EMBEDDING_OUTPUT = "pooled"
# onnxruntime load-time graph optimisations the model's graph must not get (config.json
# "disabled_optimizers", optional; names as onnxruntime spells them, e.g. "SkipLayerNormFusion" for a
# graph exported with its residual LayerNorms left apart because that is faster; see train.export).


class ModelNotFoundError(ModelConfigError):
    """The model directory, or a file it must contain, does not exist."""


class ConfigFormatError(ModelConfigError):
    """config.json (or metrics.json) is not valid JSON, is of another format or breaks the contract."""


@dataclass(frozen=True)
class ModelConfig:
    """The parsed and checked content of a model's ``config.json``."""

    name: str
    version: str
    schema: ModelSchema
    max_length: int
    window_stride: int
    pad_token_id: int
    bos_token_id: int
    eos_token_id: int
    normalizer_version: int
    format_version: int = MODEL_FORMAT_VERSION
    batching: str = DEFAULT_BATCHING
    embedding_output: str | None = None
    disabled_optimizers: tuple[str, ...] = ()

    @property
    def window_tokens(self) -> int:
        """Text tokens per window: ``max_length`` minus the bos and eos tokens."""
        return self.max_length - 2

    @property
    def special_token_ids(self) -> dict[str, int]:
        return {"pad": self.pad_token_id, "bos": self.bos_token_id, "eos": self.eos_token_id}

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to ``config.json``."""
        return {
            "format": MODEL_FORMAT,
            "format_version": self.format_version,
            "name": self.name,
            "version": self.version,
            "normalizer_version": self.normalizer_version,
            "max_length": self.max_length,
            "window_stride": self.window_stride,
            "pad_token_id": self.pad_token_id,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "batching": self.batching,
            "tasks": self.schema.to_list(),
            **({"embedding_output": self.embedding_output} if self.embedding_output else {}),
            **({"disabled_optimizers": list(self.disabled_optimizers)} if self.disabled_optimizers else {}),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = CONFIG_NAME) -> ModelConfig:
        """Build a config from the decoded JSON; ``source`` names the file in error messages."""
        if not isinstance(data, Mapping):
            raise ConfigFormatError(f"{source}: expected a JSON object, found {type(data).__name__}")
        fmt = data.get("format")
        if fmt != MODEL_FORMAT:
            raise ConfigFormatError(
                f"{source}: 'format' is {fmt!r}, expected {MODEL_FORMAT!r}: not a khmer-civic model config"
            )
        version = _int_field(data, "format_version", source)
        if version > MODEL_FORMAT_VERSION:
            raise ConfigFormatError(
                f"{source}: format_version {version} is newer than this library reads "
                f"({MODEL_FORMAT_VERSION}); upgrade khmer-civic"
            )
        if version < 1:
            raise ConfigFormatError(f"{source}: format_version {version} is not a valid version")

        max_length = _int_field(data, "max_length", source)
        if max_length < 3:
            raise ConfigFormatError(f"{source}: max_length {max_length} leaves no room for text (minimum 3)")
        stride = _int_field(data, "window_stride", source)
        if not 1 <= stride <= max_length - 2:
            raise ConfigFormatError(
                f"{source}: window_stride {stride} must be between 1 and max_length - 2 = {max_length - 2}, "
                "otherwise tokens between windows would be skipped"
            )
        token_ids = {key: _int_field(data, key, source) for key in ("pad_token_id", "bos_token_id", "eos_token_id")}
        for key, value in token_ids.items():
            if value < 0:
                raise ConfigFormatError(f"{source}: {key} {value} is negative")

        batching = data.get("batching", DEFAULT_BATCHING)
        if batching not in BATCHING_MODES:
            raise ConfigFormatError(f"{source}: 'batching' is {batching!r}, expected one of {list(BATCHING_MODES)}")

        tasks = data.get("tasks")
        if not isinstance(tasks, list) or not all(isinstance(task, Mapping) for task in tasks):
            raise ConfigFormatError(f"{source}: 'tasks' must be a list of JSON objects")
        try:
            schema = ModelSchema.from_list(tasks)
        except ModelConfigError as exc:
            raise ConfigFormatError(f"{source}: {exc}") from exc
        outputs = [task.output for task in schema.tasks]
        if len(set(outputs)) != len(outputs):
            raise ConfigFormatError(f"{source}: two tasks read the same ONNX output: {outputs}")

        return cls(
            name=_str_field(data, "name", source),
            version=_str_field(data, "version", source),
            schema=schema,
            max_length=max_length,
            window_stride=stride,
            normalizer_version=_int_field(data, "normalizer_version", source),
            format_version=version,
            batching=batching,
            embedding_output=_embedding_output(data, outputs, source),
            disabled_optimizers=_disabled_optimizers(data, source),
            **token_ids,
        )


def _disabled_optimizers(data: Mapping[str, Any], source: str) -> tuple[str, ...]:
    """The optional ``disabled_optimizers``: a list of onnxruntime optimiser names (default: none)."""
    names = data.get("disabled_optimizers", [])
    if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
        raise ConfigFormatError(f"{source}: 'disabled_optimizers' must be a list of non-empty strings, found {names!r}")
    return tuple(names)


def _embedding_output(data: Mapping[str, Any], task_outputs: list[str], source: str) -> str | None:
    """The optional ``embedding_output``: a non-empty string naming no task's output, or ``None``."""
    name = data.get("embedding_output")
    if name is not None and (not isinstance(name, str) or not name):
        raise ConfigFormatError(f"{source}: 'embedding_output' must be a non-empty string, found {name!r}")
    if name in task_outputs:
        raise ConfigFormatError(f"{source}: 'embedding_output' {name!r} is also a task's output")
    return name


def load_config(model_dir: str | Path) -> ModelConfig:
    """Read ``config.json`` from a model directory and check it against the contract."""
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise ModelNotFoundError(f"{path} does not exist: every khmer-civic model directory has a {CONFIG_NAME}")
    return ModelConfig.from_dict(read_json(path), source=str(path))


def read_json(path: Path) -> Any:
    """Decode a UTF-8 JSON file, raising :class:`ConfigFormatError` that names it when it cannot."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigFormatError(f"{path} is not UTF-8 text ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ConfigFormatError(f"{path} is not valid JSON: {exc}") from exc


def _int_field(data: Mapping[str, Any], key: str, source: str) -> int:
    if key not in data:
        raise ConfigFormatError(f"{source}: required field {key!r} is missing")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigFormatError(f"{source}: {key!r} must be an integer, found {value!r}")
    return value


def _str_field(data: Mapping[str, Any], key: str, source: str) -> str:
    if key not in data:
        raise ConfigFormatError(f"{source}: required field {key!r} is missing")
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ConfigFormatError(f"{source}: {key!r} must be a non-empty string, found {value!r}")
    return value
