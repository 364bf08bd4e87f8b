"""khmer-civic: civic topics, sentiment and calls to action in Khmer posts and comments.

The public API is what this module exports::

    from khmer_civic import CivicClassifier, normalize, segment

    clf = CivicClassifier.load()          # the bundled default model
    clf.predict(["សាលារៀនភូមិយើងខ្វះគ្រូ"])  # -> [Prediction(...)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CivicClassifier",
    "LabelStatus",
    "ModelConfigError",
    "Prediction",
    "__version__",
    "mask_pii",
    "normalize",
    "segment",
    "segment_batch",
    "split_sentences",
]

# Light names are imported eagerly; the classifier (onnxruntime) only when first used.
from khmer_civic.schema import LabelStatus, ModelConfigError, Prediction
from khmer_civic.text import mask_pii, normalize, segment, segment_batch, split_sentences

if TYPE_CHECKING:
    from khmer_civic.model.classifier import CivicClassifier


def __getattr__(name: str) -> Any:
    if name == "CivicClassifier":
        from khmer_civic.model.classifier import CivicClassifier

        return CivicClassifier
    raise AttributeError(f"module 'khmer_civic' has no attribute {name!r}")
