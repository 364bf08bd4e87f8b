"""training/annotation/cue_pool.py: cue strata for a later annotation round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from annotation_tools import load_tool
from annotation_tools import write_jsonl as write

from khmer_civic.text import normalize

cue_pool = load_tool("cue_pool")


def _pool_row(rid: str, text: str) -> dict[str, str]:
    return {"id": rid, "text": text, "source": "oscar_web_lines", "provenance": "corpus"}


def test_first_matching_stratum_wins_and_annotated_or_uncued_texts_are_dropped(tmp_path: Path) -> None:
    pool = write(tmp_path / "pool.jsonl", [
        _pool_row("ow-1", "សូមប្រជាពលរដ្ឋ ចុះឈ្មោះ នៅសាលាខណ្ឌ"),  # notice and admin_service: notice comes first
        _pool_row("ow-2", "ការប្រមូលសំរាម នៅក្រុងភ្នំពេញ"),
        _pool_row("ow-3", "ភ្លៀងធ្លាក់ខ្លាំង ថ្ងៃនេះ"),  # no cue: left out
        _pool_row("ow-4", "ការប្រមូលសំរាម ម្ដងទៀត"),  # already annotated: left out
    ])
    annotated = write(tmp_path / "done.jsonl", [{"id": "ow-4", "text": "x"}])
    cues = tmp_path / "cues.json"
    cues.write_text(json.dumps({"notice": "ចុះឈ្មោះ", "admin_service": "សំរាម|សាលាខណ្ឌ"}, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "cued.jsonl"
    assert cue_pool.main(["--pool", str(pool), "--cues", str(cues), "--annotated", str(annotated), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["cue"]) for r in rows] == [("ow-1", "notice"), ("ow-2", "admin_service")]
    assert rows[0]["text"] == "សូមប្រជាពលរដ្ឋ ចុះឈ្មោះ នៅសាលាខណ្ឌ"  # the record is kept as it was, plus its cue


def test_cues_match_the_normalised_text(tmp_path: Path) -> None:
    # ផ្តល់ written with COENG TA or COENG DA: the normaliser makes one spelling of the two
    cues = tmp_path / "cues.json"
    cues.write_text(json.dumps({"report": "ផ្តល់ព័ត៌មាន"}, ensure_ascii=False), encoding="utf-8")
    pattern = cue_pool.read_cues(cues)["report"]
    for spelling in ("ផ្តល់ព័ត៌មាន", "ផ្ដល់ព័ត៌មាន"):
        assert pattern.search(normalize(f"សូម{spelling}មក")) is not None


def test_a_cues_file_must_be_an_object(tmp_path: Path) -> None:
    cues = tmp_path / "cues.json"
    cues.write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        cue_pool.read_cues(cues)
