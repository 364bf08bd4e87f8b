"""The run directory beside an output file: finished chunks, the checkpoint, the final temp file.

For an output ``out/labels.csv`` a run keeps ``out/.labels.csv.khmer-civic-run/``::

    checkpoint.json        settings of the run, input fingerprint, chunks done, summary counts
    part-000000.csv.part   one file per finished chunk (see khmer_civic.io.writers)
    part-000001.csv.part
    output.tmp             the assembled output, moved over out/labels.csv at the very end

Every file is written under a temporary name, flushed to disk and renamed, so after a crash
each file is either complete or absent. The checkpoint is updated after its part file is in
place; a part file the checkpoint does not count (the run died between the two) is written
again on resume. The directory is removed once the output is in place.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from khmer_civic.model.manifest import file_sha256

CHECKPOINT_FORMAT = "khmer-civic-run-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.json"
PART_PREFIX = "part-"


def input_fingerprint(path: Path) -> dict[str, Any]:
    """Size and sha256 of a file: a resumed run must read the very same bytes."""
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


class HashingFile(io.RawIOBase):
    """A file opened for binary reading that hashes the bytes read from it.

    Once a pass has read it to the end, :meth:`fingerprint` is :func:`input_fingerprint` of the
    file, so a reader that passes over the whole file anyway (a row count) saves another pass.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "rb", buffering=0)
        self._digest = hashlib.sha256()
        self._bytes = 0
        self._at_end = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(buffer)
        if n:
            self._digest.update(memoryview(buffer)[:n])
            self._bytes += n
        elif n == 0:
            self._at_end = True
        return n or 0

    def close(self) -> None:
        self._file.close()
        super().close()

    def fingerprint(self) -> dict[str, Any] | None:
        """Size and sha256 of the file when it was read to the end, else ``None``."""
        return {"bytes": self._bytes, "sha256": self._digest.hexdigest()} if self._at_end else None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, flushed to disk, then renamed."""
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def fsync_file(path: Path) -> None:
    """Flush a finished file to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@dataclass
class Checkpoint:
    """Progress of one run: its settings, chunks done, rows done and summary counts so far."""

    settings: dict[str, Any]
    chunks_done: int = 0
    rows_done: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> bytes:
        data = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "settings": self.settings,
            "chunks_done": self.chunks_done,
            "rows_done": self.rows_done,
            "counts": dict(sorted(self.counts.items())),
        }
        return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Checkpoint | None:
        """The checkpoint in ``raw``, or ``None`` when it is damaged or of another format."""
        try:
            data = json.loads(raw.decode("utf-8"))
            if data.get("format") != CHECKPOINT_FORMAT or data.get("version") != CHECKPOINT_VERSION:
                return None
            return cls(
                settings=dict(data["settings"]),
                chunks_done=int(data["chunks_done"]),
                rows_done=int(data["rows_done"]),
                counts=Counter({str(k): int(v) for k, v in data["counts"].items()}),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def differing_settings(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names of the settings that differ between an interrupted run and this one."""
    return sorted(key for key in set(saved) | set(current) if saved.get(key) != current.get(key))


class RunDirectory:
    """The hidden directory beside ``output`` that holds an unfinished run (module docstring)."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = output.parent / f".{output.name}.khmer-civic-run"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_NAME

    @property
    def assembled_path(self) -> Path:
        return self.path / "output.tmp"

    def exists(self) -> bool:
        return self.checkpoint_path.is_file()

    def load(self) -> Checkpoint | None:
        """The saved checkpoint, or ``None`` when there is none or it cannot be read."""
        try:
            raw = self.checkpoint_path.read_bytes()
        except OSError:
            return None
        return Checkpoint.from_json(raw)

    def save(self, checkpoint: Checkpoint) -> None:
        write_atomically(self.checkpoint_path, checkpoint.to_json())

    def start(self, checkpoint: Checkpoint) -> None:
        """Begin a fresh run: remove anything left by an earlier one and save ``checkpoint``."""
        self.remove()
        self.path.mkdir(parents=True)
        self.save(checkpoint)

    def part_path(self, index: int, suffix: str) -> Path:
        return self.path / f"{PART_PREFIX}{index:06d}{suffix}"

    def parts(self, count: int, suffix: str) -> list[Path]:
        """The part files of chunks ``0 .. count - 1``; raises when one is missing."""
        paths = [self.part_path(i, suffix) for i in range(count)]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{self.path}: part files missing: {', '.join(missing[:5])}")
        return paths

    def drop_parts_from(self, index: int) -> None:
        """Delete part files of chunks ``index`` and later (written after the last checkpoint)."""
        for path in self.path.glob(f"{PART_PREFIX}*"):
            number = path.name[len(PART_PREFIX) :].split(".", 1)[0]
            if not number.isdigit() or int(number) >= index or path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
