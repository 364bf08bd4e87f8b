"""Khmer word segmentation.

Khmer is written without spaces between words. Runs of Khmer letters are split into words by
khmer-nltk's CRF model (trained on about 10k segmented sentences); everything else in a post is
kept whole by pattern: URLs, e-mails, @mentions, #hashtags, phone numbers, numbers in either
digit script, Latin words, and emoji sequences. Punctuation marks are single tokens and
whitespace is dropped.

The CRF weights are read from the file khmer-nltk ships, by an unpickler that only accepts the
three class names that file holds and builds none of them, so loading runs no code from the
file; the CRFsuite model inside is opened with python-crfsuite. The model is loaded on first
use; each thread gets its own tagger, so a :class:`Segmenter` may be shared between threads.
"""

from __future__ import annotations

import io
import pickle
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from khmer_civic.text.normalize import normalize
from khmer_civic.text.patterns import NUMBER, SYMBOL, TOKEN, is_phone_number

_ALLOWED_GLOBALS = {
    ("sklearn_crfsuite.estimator", "CRF"),
    ("sklearn_crfsuite._fileresource", "FileResource"),
    ("pycrfsuite._logparser", "TrainLogParser"),
}
_NUMBER_OR_SYMBOL = re.compile(rf"{NUMBER}|{SYMBOL}")


class SegmenterModelError(RuntimeError):
    """The CRF model file is missing or not the khmer-nltk file this module knows how to read."""


class _Inert:
    """Stand-in for the classes named in khmer-nltk's pickle: stores state, runs nothing."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if (module, name) in _ALLOWED_GLOBALS:
            return _Inert
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the segmenter model file")


def default_model_path() -> Path:
    """The CRF model file installed with khmer-nltk."""
    import importlib.util

    spec = importlib.util.find_spec("khmernltk")
    if spec is None or not spec.submodule_search_locations:
        raise SegmenterModelError("khmer-nltk is not installed: pip install khmer-nltk")
    return Path(next(iter(spec.submodule_search_locations))) / "word_tokenize" / "sklearn_crf_ner_10000.sav"


def read_crfsuite_bytes(path: str | Path) -> bytes:
    """Extract the CRFsuite model bytes from khmer-nltk's pickled estimator without running code."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SegmenterModelError(f"cannot read segmenter model {path}: {exc}") from exc
    try:
        crf = _DataOnlyUnpickler(io.BytesIO(raw)).load()
        resource = crf.state["modelfile"]
        data = resource.state["__FILE_RESOURCE_DATA__"]
    except (pickle.UnpicklingError, AttributeError, KeyError, TypeError, EOFError, ValueError) as exc:
        raise SegmenterModelError(f"{path} is not a khmer-nltk CRF model file ({exc})") from exc
    if not isinstance(data, bytes) or not data:
        raise SegmenterModelError(f"{path} holds no CRFsuite model data")
    return data


class Segmenter:
    """Word segmenter for Khmer social-media text. Cheap to create; loads its model on first use."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        self._model_path = Path(model_path) if model_path is not None else None
        self._model_bytes: bytes | None = None
        self._load_lock = threading.Lock()
        self._local = threading.local()

    def _tagger(self) -> Any:
        tagger = getattr(self._local, "tagger", None)
        if tagger is None:
            if self._model_bytes is None:
                with self._load_lock:
                    if self._model_bytes is None:
                        self._model_bytes = read_crfsuite_bytes(self._model_path or default_model_path())
            import pycrfsuite

            tagger = pycrfsuite.Tagger()
            tagger.open_inmemory(self._model_bytes)
            self._local.tagger = tagger
        return tagger

    def split_khmer(self, run: str) -> list[str]:
        """Split one run of Khmer letters (no spaces, digits or punctuation) into words."""
        from khmernltk.utils.data import seg_kcc
        from khmernltk.word_tokenize.features import create_kcc_features

        clusters = seg_kcc(run)
        if len(clusters) <= 1:
            return [run] if run else []
        tags = self._tagger().tag(create_kcc_features(clusters))
        words: list[str] = []
        for i, (cluster, tag) in enumerate(zip(clusters, tags)):
            if tag == "1" or i == 0:
                words.append(cluster)
            else:
                words[-1] += cluster
        return words

    def segment(self, text: str, *, normalize_first: bool = True) -> list[str]:
        """Split ``text`` into words and whole non-Khmer tokens; whitespace is dropped."""
        if normalize_first:
            text = normalize(text)
        elif not isinstance(text, str):
            raise TypeError(f"segment() expects str, got {type(text).__name__}")
        tokens: list[str] = []
        for m in TOKEN.finditer(text):
            kind = m.lastgroup
            piece = m.group(0)
            if kind == "khmer":
                tokens.extend(self.split_khmer(piece))
            elif kind == "phone" and not is_phone_number(piece):
                tokens.extend(_NUMBER_OR_SYMBOL.findall(piece))  # e.g. a date: its numbers, separately
            else:
                tokens.append(piece)
        return tokens

    def segment_batch(self, texts: Iterable[str], *, normalize_first: bool = True) -> list[list[str]]:
        """:meth:`segment` over many texts, in order."""
        return [self.segment(t, normalize_first=normalize_first) for t in texts]


_default_lock = threading.Lock()
_default: Segmenter | None = None


def default_segmenter() -> Segmenter:
    """The shared segmenter used by :func:`segment`; created on first call."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Segmenter()
    return _default


def segment(text: str, *, normalize_first: bool = True) -> list[str]:
    """Split Khmer text into words (normalising it first unless told not to).

    >>> segment("សូមអញ្ជើញចូលរួម https://fb.me/x 012 345 678")  # doctest: +SKIP
    ['សូម', 'អញ្ជើញ', 'ចូលរួម', 'https://fb.me/x', '012 345 678']
    """
    return default_segmenter().segment(text, normalize_first=normalize_first)


def segment_batch(texts: Iterable[str], *, normalize_first: bool = True) -> list[list[str]]:
    """Split many texts into words, in order."""
    return default_segmenter().segment_batch(texts, normalize_first=normalize_first)
