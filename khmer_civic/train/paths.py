"""Where training looks for what it is not given: the repository checkout, else the user's cache.

Library functions take these locations as arguments; the functions here are their defaults. A
source checkout (``training/`` beside the package) is one option: there the default recipe,
the project's annotation splits and the cut base encoder live under ``training/``. An
installed package has no checkout, and keeps the encoder in the platform cache directory
(``$XDG_CACHE_HOME/khmer-civic``, by default ``~/.cache/khmer-civic``). Standard library only,
so the command line may import it without the training extra.
"""

from __future__ import annotations

import os
from pathlib import Path

# A recipe's name for the default base encoder (relative to the checkout), and its directory name.
DEFAULT_BASE_MODEL = "training/cache/e5-small-cut"
DEFAULT_RECIPE = Path("training") / "configs" / "default.json"
PROJECT_SPLITS = Path("training") / "data" / "splits"
RUNS = Path("training") / "runs"
CACHE_NAME = "khmer-civic"


def checkout_root() -> Path | None:
    """The repository checkout this package runs from (``None`` when installed from a wheel)."""
    root = Path(__file__).resolve().parent.parent.parent
    return root if (root / "training").is_dir() and (root / "khmer_civic").is_dir() else None


def cache_dir() -> Path:
    """The user's cache directory for khmer-civic (XDG base directory rules)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / CACHE_NAME


def default_encoder_dir() -> Path:
    """Where the default base encoder lives: in the checkout, else in the user's cache."""
    root = checkout_root()
    if root is not None:
        return root / DEFAULT_BASE_MODEL
    return cache_dir() / Path(DEFAULT_BASE_MODEL).name


def default_recipe_file() -> Path | None:
    """The checkout's default training recipe, when there is a checkout holding it."""
    root = checkout_root()
    path = root / DEFAULT_RECIPE if root is not None else None
    return path if path is not None and path.is_file() else None


def project_splits_dir() -> Path | None:
    """The folder of the project's own train/dev/test annotation splits (checkout only)."""
    root = checkout_root()
    return root / PROJECT_SPLITS if root is not None else None


def default_run_dir(name: str) -> Path:
    """A run directory for a recipe named ``name``: ``training/runs/<name>`` in the checkout, else in the cache."""
    root = checkout_root()
    return (root / RUNS if root is not None else cache_dir() / "runs") / name
