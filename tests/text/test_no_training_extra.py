"""The text tests run without the training extra (torch, transformers, datasets, scikit-learn, onnx ...)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TEXT_TESTS = Path(__file__).resolve().parent
BLOCKED = ("torch", "transformers", "datasets", "sklearn", "onnx", "matplotlib", "safetensors", "pandas")

SCRIPT = """
import importlib.abc, sys
import pytest

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
        return None

sys.meta_path.insert(0, Block())
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", sys.argv[1]])
sys.exit(int(code))
"""


def test_text_tests_import_nothing_of_the_training_extra() -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"BLOCKED = {BLOCKED!r}\n" + SCRIPT, str(TEXT_TESTS)],
        capture_output=True, text=True, timeout=120, cwd=TEXT_TESTS.parents[1],
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr  # a collection error exits with 2
