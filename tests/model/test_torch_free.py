"""The inference and label paths never import torch, transformers, datasets, scikit-learn or khmer_civic.train."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Modules of the training extra, and the training package itself (nothing outside it may import it).
TRAINING_ONLY = ("torch", "transformers", "datasets", "sklearn", "khmer_civic.train")

SCRIPT = """
import sys
from pathlib import Path

import khmer_civic
from khmer_civic import CivicClassifier
from khmer_civic.cli import cli

model, table, out = sys.argv[1:4]
clf = CivicClassifier.load(model)
preds = clf.predict(["សាលារៀនភូមិយើងខ្វះគ្រូ", None, "😀", "please share"])
assert [p.status.value for p in preds] == ["ok", "empty", "no_letters", "ok"], preds
clf.predict_proba("សូមចូលរួម")
clf.info()
Path(table).write_text("id,message\\n1,សាលារៀនភូមិយើងខ្វះគ្រូ\\n2,\\n", encoding="utf-8")
cli.main(["label", table, "-o", out, "--model", model, "-q"], standalone_mode=False)
assert Path(out).is_file()
heavy = sorted(name for name in sys.modules if name.split(".")[0] in TRAINING_ONLY or name.startswith(TRAINING_ONLY))
print("HEAVY=" + ",".join(heavy))
"""


def test_inference_and_label_import_nothing_of_the_training_side(tiny_model_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    env["HF_HUB_OFFLINE"] = "1"
    script = f"TRAINING_ONLY = {TRAINING_ONLY!r}\n" + SCRIPT
    result = subprocess.run(
        [sys.executable, "-c", script, str(tiny_model_dir), str(tmp_path / "in.csv"), str(tmp_path / "out.csv")],
        capture_output=True, text=True, env=env, timeout=120, cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY=\n" in result.stdout, result.stdout
