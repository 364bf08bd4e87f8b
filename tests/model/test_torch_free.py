"""The inference path never imports torch, transformers or datasets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import khmer_civic
from khmer_civic import CivicClassifier

clf = CivicClassifier.load(sys.argv[1])
preds = clf.predict(["សាលារៀនភូមិយើងខ្វះគ្រូ", None, "😀", "please share"])
assert [p.status.value for p in preds] == ["ok", "empty", "no_letters", "ok"], preds
clf.predict_proba("សូមចូលរួម")
clf.info()
heavy = sorted(name for name in ("torch", "transformers", "datasets") if name in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def test_inference_imports_no_torch(tiny_model_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    env["HF_HUB_OFFLINE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_model_dir)],
        capture_output=True, text=True, env=env, timeout=120, cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY=\n" in result.stdout, result.stdout
