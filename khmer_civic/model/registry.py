"""Bundled models by name: ``CivicClassifier.load("fast")``, ``load("accurate")``, ``--model accurate``.

The names are data, not code: ``index.json`` beside the bundled model directories
(``khmer_civic/_models/index.json`` in an installed package, ``models/index.json`` in a source
checkout) lists each model's ``name``, its ``directory`` (relative to the index), other
``aliases`` and a one-line ``description``, and names the ``default`` model. Shipping a new
model, or changing which one is the default, is an edit of that file::

    {"default": "fast",
     "models": [{"name": "fast", "directory": "khmer-civic-fast", "description": "..."},
                {"name": "accurate", "directory": "khmer-civic-e5-small", "description": "..."}]}

An entry whose directory is not installed stays listed (``khmer-civic info`` shows it as not
installed) and asking for it says so. :func:`resolve_model_dir` turns what a user typed into a
directory: a ``Path`` is always a path, an existing directory wins over a name, a bundled name or
alias gives its directory, and anything else raises :class:`~khmer_civic.model.config.ModelNotFoundError`
listing the names. Standard library only (no onnxruntime).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from khmer_civic.model.config import CONFIG_NAME, ConfigFormatError, ModelNotFoundError, read_json

INDEX_NAME = "index.json"
# Used when no index.json is found (a package built before the index existed): the one model.
FALLBACK_INDEX: Mapping[str, Any] = {
    "default": "accurate",
    "models": [{"name": "accurate", "directory": "khmer-civic-e5-small", "description": "the bundled model"}],
}


@dataclass(frozen=True)
class BundledModel:
    """One entry of the index: where the model lives and what it is called."""

    name: str
    directory: Path
    description: str = ""
    aliases: tuple[str, ...] = ()
    default: bool = False

    @property
    def installed(self) -> bool:
        """Whether the directory is there (it holds a config.json)."""
        return (self.directory / CONFIG_NAME).is_file()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "directory": str(self.directory),
            "description": self.description,
            "default": self.default,
            "installed": self.installed,
        }


def model_roots() -> list[Path]:
    """Where bundled models are looked for, in order: the installed package's ``_models`` folder,
    then ``models/`` at the root of a source checkout (an editable install)."""
    package_dir = Path(__file__).resolve().parent.parent
    return [package_dir / "_models", package_dir.parent / "models"]


def _index_root() -> tuple[Path, Mapping[str, Any]]:
    """The first root holding an index.json and its content; else the first root with the
    fallback model's directory, with :data:`FALLBACK_INDEX`."""
    roots = model_roots()
    for root in roots:
        path = root / INDEX_NAME
        if path.is_file():
            data = read_json(path)
            if not isinstance(data, Mapping):
                raise ConfigFormatError(f"{path}: expected a JSON object, found {type(data).__name__}")
            return root, data
    fallback_dir = FALLBACK_INDEX["models"][0]["directory"]
    root = next((r for r in roots if (r / fallback_dir / CONFIG_NAME).is_file()), roots[0])
    return root, FALLBACK_INDEX


def bundled_models() -> list[BundledModel]:
    """Every model the index lists, in its order (installed or not)."""
    root, data = _index_root()
    source = str(root / INDEX_NAME)
    entries = data.get("models")
    if not isinstance(entries, list) or not entries:
        raise ConfigFormatError(f"{source}: 'models' must be a non-empty list")
    default = data.get("default")
    models: list[BundledModel] = []
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ConfigFormatError(f"{source}: every model needs a 'name' (found {entry!r})")
        directory = entry.get("directory")
        if not isinstance(directory, str) or not directory or Path(directory).is_absolute():
            raise ConfigFormatError(f"{source}: model {entry['name']!r} needs a relative 'directory'")
        aliases = tuple(str(a) for a in entry.get("aliases", ()))
        model = BundledModel(
            name=entry["name"],
            directory=root / directory,
            description=str(entry.get("description", "")),
            aliases=aliases,
            default=entry["name"] == default,
        )
        clash = seen.intersection(model.names)
        if clash:
            raise ConfigFormatError(f"{source}: the name(s) {sorted(clash)} are given to two models")
        seen.update(model.names)
        models.append(model)
    if not any(m.default for m in models):
        raise ConfigFormatError(f"{source}: 'default' {default!r} is not the name of a listed model")
    return models


def default_model() -> BundledModel:
    """The index's default model (installed or not)."""
    return next(m for m in bundled_models() if m.default)


def _names_line(models: list[BundledModel]) -> str:
    parts = []
    for m in models:
        notes = [n for n in ("default" if m.default else "", "" if m.installed else "not installed") if n]
        aliases = f" (also {', '.join(m.aliases)})" if m.aliases else ""
        parts.append(m.name + aliases + (f" [{', '.join(notes)}]" if notes else ""))
    return ", ".join(parts)


def bundled_model_dir(name: str) -> Path:
    """The directory of the bundled model called ``name`` (a name or an alias).

    Raises :class:`ModelNotFoundError` naming the bundled models when there is no such name, or
    when the model is listed but its directory is not installed.
    """
    models = bundled_models()
    found = next((m for m in models if name in m.names), None)
    if found is None:
        raise ModelNotFoundError(
            f"no model directory {name!r} and no bundled model of that name; bundled models: {_names_line(models)}. "
            "Give a bundled model's name or the path of a model directory."
        )
    if not found.installed:
        raise ModelNotFoundError(
            f"the bundled model {found.name!r} is not installed (looked for {found.directory}); "
            f"installed models: {_names_line([m for m in models if m.installed]) or 'none'}"
        )
    return found.directory


def default_model_dir() -> Path:
    """The default model's directory; :class:`ModelNotFoundError` (listing where it was looked for) when missing."""
    model = default_model()
    if model.installed:
        return model.directory
    relative = model.directory.name
    raise ModelNotFoundError(
        f"the default model {model.name!r} ({relative}) is not installed; looked in "
        + " and ".join(str(root / relative) for root in model_roots())
        + ". Pass the path of a model directory to CivicClassifier.load()."
    )


def looks_like_path(value: str) -> bool:
    """Whether what the user typed is meant as a path rather than a name: it has a directory
    separator, starts with ``.`` or ``~``, or is absolute."""
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return any(s in value for s in separators) or value.startswith((".", "~")) or Path(value).is_absolute()


def resolve_model_dir(name_or_path: str | os.PathLike[str] | None) -> Path:
    """A model directory from ``None`` (the default model), a path or a bundled model's name.

    A :class:`~pathlib.Path` (any ``os.PathLike``) is always a directory path. A ``str`` naming an
    existing directory is that directory (``fast`` is the folder when there is one); one that
    looks like a path (:func:`looks_like_path`) is returned as it is, so a missing folder is
    reported as such when it is opened; any other word is looked up by name
    (:func:`bundled_model_dir`).
    """
    if name_or_path is None:
        return default_model_dir()
    if not isinstance(name_or_path, str):
        return Path(name_or_path)
    path = Path(name_or_path).expanduser()
    if path.is_dir() or looks_like_path(name_or_path):
        return path
    return bundled_model_dir(name_or_path)
