"""Import the annotation tools (scripts under training/annotation, not a package) in tests, and the
small builders their tests share: Khmer words for random texts, and a JSON Lines writer."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

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


# Khmer words to build texts from: a text of 8-14 of them is long enough for 5-gram similarity.
WORDS = (
    "សាលារៀន គ្រូបង្រៀន សិស្ស មណ្ឌលសុខភាព ពេទ្យ ថ្នាំ ឃុំ សង្កាត់ មេភូមិ ផ្លូវ ទឹក ភ្លើង "
    "ល្អណាស់ អាក្រក់ ប្រជាពលរដ្ឋ ថ្ងៃនេះ ស្អែក កូនខ្ញុំ ភូមិយើង ជួយ ផង ណាស់ ហើយ មិនទាន់ "
    "សំបុត្រកំណើត វ៉ាក់សាំង ប្រឡង ថ្លៃ លុយ ផ្ទះ ស្រូវ ទីផ្សារ ត្រី បាយ"
).split()


def random_text(rng: random.Random, n_words: int = 10) -> str:
    """``n_words`` words of WORDS drawn with ``rng``, joined by spaces."""
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """One JSON object a line, UTF-8, Khmer kept as is."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
