"""The value rules every platform reader shares (khmer_civic.io.platforms.contract)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from khmer_civic.io.platforms.contract import (
    US_FORMATS,
    Item,
    UniqueIds,
    flatten,
    from_unix,
    id_text,
    parse_count,
    parse_time,
    repair_mojibake,
    stable_id,
)

PHNOM_PENH = ZoneInfo("Asia/Phnom_Penh")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,234", 1234), ("1 234", 1234), ("1\u00a0234", 1234), ("1.234", 1234), ("1,234,567", 1234567),
        ("12", 12), (12, 12), (12.0, 12), ("12.0", 12), ("1.2K", 1200), ("3M", 3_000_000),
        ("N/A", None), ("n/a", None), ("", None), ("  ", None), (None, None), ("-", None), ("many", None),
        (1.5, None), (True, None), ("0", 0),
    ],
)  # fmt: skip
def test_parse_count(value: object, expected: int | None) -> None:
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-02T08:14:00", "2026-10-02T01:14:00Z"),  # naive: Phnom Penh
        ("2026-10-02T01:14:00+0000", "2026-10-02T01:14:00Z"),
        ("2026-10-02T01:14:00Z", "2026-10-02T01:14:00Z"),
        ("2026-10-02T03:14:00+02:00", "2026-10-02T01:14:00Z"),
        ("2026-10-02 08:14:00", "2026-10-02T01:14:00Z"),
        ("2026-10-02 08:14:00 EDT", "2026-10-02T12:14:00Z"),
        ("2026-10-02 08:14:00 UTC", "2026-10-02T08:14:00Z"),
        ("2026-10-02 08:14:00 +07", "2026-10-02T01:14:00Z"),
        ("2026-10-02 08:14:00 -0330", "2026-10-02T11:44:00Z"),
        ("2026-10-02 08:14:00 Asia/Bangkok", "2026-10-02T01:14:00Z"),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_time(text: str, expected: str | None) -> None:
    assert parse_time(text, PHNOM_PENH) == expected


def test_us_dates_and_other_zones() -> None:
    assert parse_time("10/02/2026 08:14", PHNOM_PENH, US_FORMATS) == "2026-10-02T01:14:00Z"
    assert parse_time("10/02/2026 08:14", ZoneInfo("UTC"), US_FORMATS) == "2026-10-02T08:14:00Z"
    assert parse_time("02/10/2026 08:14", PHNOM_PENH, US_FORMATS) == "2026-02-10T01:14:00Z"  # month first
    assert parse_time("10/02/2026 08:14", PHNOM_PENH) is None  # not an ISO time


def test_unix_times() -> None:
    assert from_unix(1790903640) == from_unix("1790903640") == from_unix(1790903640.9) == "2026-10-02T01:14:00Z"
    assert from_unix(None) is None and from_unix("soon") is None and from_unix(0) is None


def test_ids_are_text() -> None:
    assert id_text(122100000000000123) == "122100000000000123"
    assert id_text(5.0) == "5" and id_text(" 007 ") == "007" and id_text("") is None and id_text(None) is None


def test_mojibake_repair() -> None:
    text = "សាលារៀន café"
    assert repair_mojibake(text.encode("utf-8").decode("latin-1")) == (text, True)
    assert repair_mojibake(text) == (text, True)  # already text: left alone
    assert repair_mojibake("plain") == ("plain", True)
    cut = text.encode("utf-8")[:4].decode("latin-1")
    assert repair_mojibake(cut) == (cut, False)


def test_stable_ids_and_repeats() -> None:
    a = stable_id("dyi-", 1, "x")
    assert a == stable_id("dyi-", 1, "x") and a != stable_id("dyi-", 2, "x") and a != stable_id("dyi-", 1, "y")
    assert a.startswith("dyi-") and len(a) == 16
    unique = UniqueIds()
    assert [unique("a"), unique("b"), unique("a"), unique("a")] == ["a", "b", "a-2", "a-3"]


def test_flatten_and_clashing_originals() -> None:
    assert flatten({"from": {"name": "x", "id": "1"}, "tags": [1], "empty": {}}) == {
        "from.name": "x", "from.id": "1", "tags": [1], "empty": {},
    }  # fmt: skip
    item = Item("telegram", "message", item_id="1", text="ab", original={"text": ["a", "b"], "id": 1, "author": None})
    values = item.values()
    assert values["text"] == "ab" and values["original.text"] == ["a", "b"] and values["id"] == 1
    assert "original.author" not in values  # a blank original beside an empty contract value adds nothing
    same = Item("youtube", "comment", item_id="c", text="t", original={"text": "t"}).values()
    assert "original.text" not in same
    assert Item("facebook", "post").mapped is False and Item("facebook", "post", text="x").mapped is True
