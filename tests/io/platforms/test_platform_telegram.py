"""Telegram Desktop exports (khmer_civic.io.platforms.telegram)."""

from __future__ import annotations

from pathlib import Path

import pytest
from exports import (
    CLINIC,
    SCHOOL,
    TELEGRAM_ENTITY_TEXT,
    write_telegram_account,
    write_telegram_chat,
    write_telegram_html,
)

from khmer_civic.io.errors import UnreadableTableError
from khmer_civic.io.platforms import PlatformReader
from khmer_civic.io.platforms.telegram import message_text
from khmer_civic.io.readers import open_table


def test_one_chat_skips_service_messages_and_joins_entity_parts(tmp_path: Path) -> None:
    with open_table(write_telegram_chat(tmp_path)) as reader:
        assert isinstance(reader, PlatformReader) and reader.platform.name == "telegram_desktop"
        rows = [r.values for r in reader.rows()]
        assert reader.skipped == {"telegram_service_messages": 1}
        assert reader.total_rows == 3
    assert [r["item_id"] for r in rows] == ["-1001:2", "-1001:3", "-1001:4"]
    assert [r["parent_id"] for r in rows] == [None, "-1001:2", None]
    assert [r["text"] for r in rows] == [SCHOOL, TELEGRAM_ENTITY_TEXT, CLINIC]
    assert {r["item_type"] for r in rows} == {"message"} and {r["platform"] for r in rows} == {"telegram"}
    assert [r["reactions"] for r in rows] == [7, None, None]
    assert rows[0]["created_at"] == "2026-10-02T01:14:00Z"  # date_unixtime
    assert rows[2]["created_at"] == "2026-10-02T03:30:00Z"  # only the naive date: Phnom Penh
    assert rows[1]["original.text"][1] == {"type": "bold", "text": "ប្រជុំ"}  # the entity list kept aside
    assert "original.text" not in rows[0]  # a plain string is the text itself
    assert rows[1]["author"] == "ស្រីនី" and rows[1]["chat.name"] == "សាលាឃុំ"


def test_naive_dates_follow_tz(tmp_path: Path) -> None:
    with open_table(write_telegram_chat(tmp_path), timezone="UTC") as reader:
        rows = [r.values for r in reader.rows()]
    assert rows[0]["created_at"] == "2026-10-02T01:14:00Z"  # a Unix time needs no zone
    assert rows[2]["created_at"] == "2026-10-02T10:30:00Z"


def test_whole_account_export_keeps_ids_of_each_chat_apart(tmp_path: Path) -> None:
    with open_table(write_telegram_account(tmp_path)) as reader:
        assert reader.platform.name == "telegram_desktop"
        rows = [r.values for r in reader.rows()]
        assert reader.skipped == {"telegram_service_messages": 2}
    assert [r["item_id"] for r in rows] == ["-1001:2", "-1001:3", "-1001:4", "-1002:2", "-1002:3", "-1002:4"]
    assert rows[4]["parent_id"] == "-1002:2"
    assert len({r["item_id"] for r in rows}) == 6


def test_html_export_is_refused_with_the_way_out(tmp_path: Path) -> None:
    html = write_telegram_html(tmp_path)
    for options in ({}, {"format_name": "telegram_desktop"}):
        with pytest.raises(UnreadableTableError, match=r"export as JSON \(machine-readable\)"):
            open_table(html, **options)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        (["a", {"type": "bold", "text": "b"}, "c"], "abc"),
        ([{"type": "mention", "text": "@x"}, {"type": "custom_emoji"}, " hi"], "@x hi"),
        ([], ""),
        (None, ""),
    ],
)
def test_message_text(value: object, expected: str) -> None:
    assert message_text(value) == expected
