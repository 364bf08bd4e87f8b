"""sha256 manifest of a model directory, written at export and checked at load.

``manifest.json``::

    {"format": "khmer-civic-manifest", "algorithm": "sha256",
     "files": {"model.onnx": {"sha256": "…", "bytes": 123}, "tokenizer.json": {…}, "config.json": {…}}}

Every file the model needs is listed; a missing, resized or altered file fails the check with a
message that names it. Files not listed (a README, plots) are ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from khmer_civic.model.config import CONFIG_NAME, METRICS_NAME, MODEL_CARD_NAME, MODEL_NAME, TOKENIZER_NAME
from khmer_civic.schema import ModelConfigError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "khmer-civic-manifest"
REQUIRED_FILES: tuple[str, ...] = (MODEL_NAME, TOKENIZER_NAME, CONFIG_NAME)
OPTIONAL_FILES: tuple[str, ...] = (METRICS_NAME, MODEL_CARD_NAME)  # listed when present
_READ_BLOCK = 1 << 20


class ManifestError(ModelConfigError):
    """A model file is missing or does not match the sha256 recorded in manifest.json."""


def _update(digest: Any, path: Path, chunk_size: int = _READ_BLOCK) -> None:
    """Feed a file's bytes to a hashlib object, in chunks."""
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)


def file_sha256(path: Path, chunk_size: int = _READ_BLOCK) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    _update(h, path, chunk_size)
    return h.hexdigest()


def model_digest(model_dir: str | Path) -> str:
    """A short digest (16 hex digits) of a model directory's content: its manifest, else its required files.

    It identifies the model wherever it lies (a resumed ``label`` run checks it; summaries show it).
    """
    model_dir = Path(model_dir)
    h = hashlib.sha256()
    names = [MANIFEST_NAME] if (model_dir / MANIFEST_NAME).is_file() else [CONFIG_NAME, MODEL_NAME, TOKENIZER_NAME]
    for name in names:
        if (model_dir / name).is_file():
            _update(h, model_dir / name)
    return h.hexdigest()[:16]


def write_manifest(model_dir: str | Path, files: Iterable[str] | None = None) -> Path:
    """Hash ``files`` (default: the required files plus metrics.json and MODEL_CARD.md when present)
    and write ``manifest.json`` into ``model_dir``."""
    model_dir = Path(model_dir)
    if files is None:
        files = [*REQUIRED_FILES, *(n for n in OPTIONAL_FILES if (model_dir / n).exists())]
    entries = {}
    for name in sorted(set(files)):
        path = model_dir / name
        if not path.is_file():
            raise ManifestError(f"cannot write manifest: {path} does not exist")
        entries[name] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    out = model_dir / MANIFEST_NAME
    out.write_text(
        json.dumps({"format": MANIFEST_FORMAT, "algorithm": "sha256", "files": entries}, indent=2) + "\n",
        encoding="utf-8",
    )
    return out


def verify_manifest(model_dir: str | Path) -> dict[str, str]:
    """Check every file listed in ``manifest.json`` against its size and sha256.

    Returns ``{file name: sha256}``. Raises :class:`ManifestError` naming the first problem.
    """
    model_dir = Path(model_dir)
    path = model_dir / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{model_dir} has no {MANIFEST_NAME}: not a khmer-civic model directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") != MANIFEST_FORMAT or not isinstance(files, dict):
            raise ValueError("unexpected format")
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path} is not a valid khmer-civic manifest ({exc})") from exc
    missing = [n for n in REQUIRED_FILES if n not in files]
    if missing:
        raise ManifestError(f"{path} does not list required file(s) {missing}")
    digests = {}
    for name, entry in files.items():
        fpath = model_dir / name
        if not fpath.is_file():
            raise ManifestError(f"{fpath} is listed in the manifest but missing")
        if fpath.stat().st_size != entry.get("bytes"):
            raise ManifestError(
                f"{fpath} has {fpath.stat().st_size} bytes, the manifest says {entry.get('bytes')}: damaged or replaced"
            )
        digest = file_sha256(fpath)
        if digest != entry.get("sha256"):
            raise ManifestError(f"{fpath} does not match its sha256 in the manifest: damaged or replaced")
        digests[name] = digest
    return digests
