"""Every record the guideline cites as a worked example carries the label the guideline gives it.

training/data/GUIDELINES.md has worked-example tables (``| text (gloss) | <task> | ...``) whose rows
start with a record id (``| au-posts-0026 ... | true | ...``); section 4 cites more in its prose
(:data:`INLINE_RULINGS`, transcribed by hand). annotated.jsonl must agree with them all; a record found
wrong gets an adjudication line (reason "guideline ruling") and annotated.jsonl is rebuilt.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GUIDELINES = ROOT / "training" / "data" / "GUIDELINES.md"
ANNOTATED = ROOT / "training" / "data" / "annotated.jsonl"
TASK_OF_HEADER = {"topics": "topics", "sentiment": "sentiment", "CTA": "call_to_action", "cta_type": "cta_type"}
RECORD_ID = re.compile(r"^(?:au|rd|nw|ow|wk)-[A-Za-z0-9-]+$")
LABEL = re.compile(r"`?([a-z_]+)`?")
# Rulings the guideline gives in the prose of section 4 (hard cases), citing the record in brackets.
INLINE_RULINGS: tuple[tuple[str, str, Any], ...] = (
    *((i, "sentiment", "negative") for i in ("rd-189030", "rd-199867", "rd-16775", "rd-161857")),
    *((i, "sentiment", "neutral") for i in ("rd-62857", "rd-13252", "rd-518", "rd-88025", "au-mix-0023")),
    *((i, "sentiment", "positive") for i in ("au-comm-0015", "au-posts-0105", "au-mix-0109", "au-posts-0015")),
    *(
        (i, "call_to_action", False)
        for i in (
            "rd-114986", "rd-36152", "rd-4173", "rd-154062", "rd-132818", "rd-15632", "rd-73060", "rd-81942",
            "rd-14009", "rd-93832", "rd-93958", "wk-280", "wk-406", "au-mix-0425", "au-mix-0008",
        )
    ),
    *(
        (i, "call_to_action", True)
        for i in ("rd-14308", "rd-163140", "wk-373", "au-comm-0015", "au-mix-0023", "au-posts-0105")
    ),
)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _ruled_value(task: str, cell: str) -> Any:
    """The label a table cell rules, in the record format (list, label or bool)."""
    text = re.sub(r"\(.*?\)", "", cell).strip()  # "`other` (a textbook prompt)" -> "`other`"
    if task == "call_to_action":
        return {"true": True, "false": False}[text]
    if task == "sentiment":
        return text
    return [] if text == "none" else sorted(LABEL.fullmatch(part.strip()).group(1) for part in text.split(","))


def guideline_rulings(path: Path = GUIDELINES) -> list[tuple[str, str, Any]]:
    """``(record id, task, ruled value)`` for every worked-example row that starts with a record id."""
    rulings: list[tuple[str, str, Any]] = []
    task: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            task = None
            continue
        cells = _cells(line)
        if cells[0] == "text (gloss)" and len(cells) > 1:
            task = TASK_OF_HEADER.get(cells[1])
            continue
        first = cells[0].split(" ", 1)[0]
        if task is not None and RECORD_ID.match(first):
            rulings.append((first, task, _ruled_value(task, cells[1])))
    return rulings


def test_the_guideline_tables_are_parsed() -> None:
    rulings = guideline_rulings()
    assert {task for _, task, _ in rulings} == set(TASK_OF_HEADER.values())
    assert ("au-posts-0026", "call_to_action", True) in rulings
    assert ("rd-197624", "cta_type", ["other"]) in rulings


def test_every_cited_record_carries_the_ruled_label() -> None:
    records = {}
    for line in ANNOTATED.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            records[record["id"]] = record
    wrong = []
    for record_id, task, ruled in [*guideline_rulings(), *INLINE_RULINGS]:
        assert record_id in records, f"GUIDELINES.md cites {record_id}, which annotated.jsonl lacks"
        value = records[record_id].get(task)
        if isinstance(value, list):
            value = sorted(value)
        if value != ruled:
            wrong.append(f"{record_id} {task}: annotated {value!r}, ruled {ruled!r}")
    assert not wrong, "records that disagree with the guideline's worked examples:\n" + "\n".join(wrong)
