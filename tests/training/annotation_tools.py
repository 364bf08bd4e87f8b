"""Import the annotation tools (scripts under training/annotation, not a package) in tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TOOLS = Path(__file__).resolve().parents[2] / "training" / "annotation"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))  # the tools import annolib and sample_candidates by name


def load_tool(name: str, module_name: str | None = None) -> ModuleType:
    """Execute training/annotation/<name>.py as a module registered under ``module_name``."""
    module_name = module_name or f"annotation_tool_{name}"
    spec = importlib.util.spec_from_file_location(module_name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
