"""merge_labels.py: an annotator's labels joined with the batch into valid annotation records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from annotation_tools import TOOLS, load_tool
from annotation_tools import write_jsonl as write

merge_labels = load_tool("merge_labels")

BATCH = [
    {"id": "nw-17-p2", "text": "ក្រសួងសុខាភិបាល អំពាវនាវ ឲ្យប្រជាពលរដ្ឋ ទៅចាក់វ៉ាក់សាំង", "source": "news:17:p2",
     "url": "https://example.org/a/17", "provenance": "corpus", "category": "health"},
    {"id": "ow-5", "text": "សាលារៀន ថ្មី បើក ហើយ", "source": "oscar_web_lines", "provenance": "corpus"},
]
LABELS = [
    {"id": "nw-17-p2", "topics": ["health"], "sentiment": "neutral", "call_to_action": True,
     "cta_type": ["use_service"], "relayed_appeal": True, "annotator": "N1"},
    {"id": "ow-5", "topics": ["education"], "sentiment": "positive", "call_to_action": False, "cta_type": [],
     "annotator": "N1", "note": "short"},
]


def test_records_carry_labels_metadata_and_selection_in_batch_order() -> None:
    records = merge_labels.merge(BATCH, LABELS[::-1], {"ow-5": "random"})
    assert [r["id"] for r in records] == ["nw-17-p2", "ow-5"]
    news, web = records
    assert news["url"] == "https://example.org/a/17" and news["relayed_appeal"] is True
    assert news["cta_type"] == ["use_service"] and list(news).index("cta_type") == list(news).index("call_to_action") + 1
    assert "selection" not in news and web["selection"] == "random"
    assert web["note"] == "short" and "relayed_appeal" not in web and "url" not in web


def test_missing_extra_and_repeated_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        merge_labels.merge(BATCH, LABELS[:1], {})
    with pytest.raises(ValueError, match="extra"):
        merge_labels.merge(BATCH[:1], LABELS, {})
    with pytest.raises(ValueError, match="twice"):
        merge_labels.merge(BATCH, LABELS + LABELS[:1], {})


def test_the_command_validates_before_writing(tmp_path: Path) -> None:
    batch, out = write(tmp_path / "b.jsonl", BATCH), tmp_path / "round2_01.jsonl"
    good = subprocess.run([sys.executable, str(TOOLS / "merge_labels.py"), "--batch", str(batch), "--labels",
                           str(write(tmp_path / "l.jsonl", LABELS)), "--out", str(out)], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    bad_labels = [dict(LABELS[0], cta_type=[]), LABELS[1]]  # a call to action needs a type
    out.unlink()
    bad = subprocess.run([sys.executable, str(TOOLS / "merge_labels.py"), "--batch", str(batch), "--labels",
                          str(write(tmp_path / "bad.jsonl", bad_labels)), "--out", str(out)], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "cta_type" in bad.stderr and not out.exists()
