"""The text layer: pure functions on strings, no model of ours.

- :func:`normalize` — one canonical form for Khmer text (mark order, invisible characters, ...).
- :func:`segment` / :func:`segment_batch` — word segmentation (khmer-nltk's CRF for Khmer runs).
- :func:`split_sentences` — sentences on Khmer and Latin marks.
- :func:`mask_pii` — phone numbers, e-mails and @mentions replaced by placeholders.
- :func:`replace_unreadable` / :func:`has_lone_surrogate` — lone surrogates and NULs (see unreadable.py).
"""

from khmer_civic.text.normalize import NORMALIZER_VERSION, has_letters, normalize
from khmer_civic.text.pii import mask_pii
from khmer_civic.text.segment import Segmenter, segment, segment_batch
from khmer_civic.text.sentences import split_sentences
from khmer_civic.text.unreadable import has_lone_surrogate, replace_unreadable

__all__ = [
    "NORMALIZER_VERSION",
    "Segmenter",
    "has_letters",
    "has_lone_surrogate",
    "mask_pii",
    "normalize",
    "replace_unreadable",
    "segment",
    "segment_batch",
    "split_sentences",
]
