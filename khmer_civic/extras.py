"""Optional extras: which of their modules are missing. No dependencies: any layer may import it."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable


def missing_modules(names: Iterable[str]) -> list[str]:
    """The modules among ``names`` that cannot be imported here (found without importing them)."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing
