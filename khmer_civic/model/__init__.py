"""Inference with onnxruntime: :class:`CivicClassifier` and the pieces it is built from.

Names are resolved lazily, so importing :mod:`khmer_civic.model.manifest` or
:mod:`khmer_civic.model.config` does not load onnxruntime.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from khmer_civic.model.classifier import CivicClassifier, NormalizerVersionWarning, default_model_dir
    from khmer_civic.model.config import ConfigFormatError, ModelConfig, ModelNotFoundError, load_config
    from khmer_civic.model.explain import Explanation, UnexplainableTextError, WordContribution
    from khmer_civic.model.manifest import ManifestError, verify_manifest, write_manifest
    from khmer_civic.model.registry import BundledModel, bundled_models, resolve_model_dir
    from khmer_civic.model.runtime import ModelGraphError
    from khmer_civic.model.tokenizer import TokenizerLoadError

_EXPORTS: dict[str, str] = {
    "CivicClassifier": "classifier",
    "NormalizerVersionWarning": "classifier",
    "default_model_dir": "classifier",
    "ConfigFormatError": "config",
    "ModelConfig": "config",
    "ModelNotFoundError": "config",
    "load_config": "config",
    "Explanation": "explain",
    "UnexplainableTextError": "explain",
    "WordContribution": "explain",
    "ManifestError": "manifest",
    "verify_manifest": "manifest",
    "write_manifest": "manifest",
    "BundledModel": "registry",
    "bundled_models": "registry",
    "resolve_model_dir": "registry",
    "ModelGraphError": "runtime",
    "TokenizerLoadError": "tokenizer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'khmer_civic.model' has no attribute {name!r}")
    return getattr(import_module(f"khmer_civic.model.{module}"), name)
