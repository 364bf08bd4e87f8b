"""Telegram Desktop's "Export chat history" in JSON (``result.json``).

One chat holds its ``messages`` at the top; a whole-account export holds its chats under
``chats.list`` (and ``left_chats.list``). Every message becomes a row with ``item_type``
``message``; its ``item_id`` is ``CHAT:MESSAGE`` (message ids repeat across chats) and a reply's
``parent_id`` is the message it answers in the same chat. ``text`` is a string, or a list of
strings and entity parts (``{"type": "bold", "text": ...}``) whose texts are joined with no
separator. ``date_unixtime`` (UTC) is preferred over the zone-less ``date`` (read as ``--tz``).
``reactions`` is the sum of ``reactions[].count``. Service messages (someone joined, a pinned
message, a call) are not rows: they are skipped and counted in the run summary. The HTML export
is refused with a message saying to export as JSON (:mod:`~khmer_civic.io.platforms.registry`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from khmer_civic.io.errors import UnreadableTableError
from khmer_civic.io.platforms.base import (
    JSON_SUFFIXES,
    PlatformFormat,
    ReadContext,
    Sample,
    item_row,
    load_json,
    unmapped_value,
)
from khmer_civic.io.platforms.contract import Item, flatten, from_unix, id_text, parse_time, sum_counts
from khmer_civic.io.readers import SourceRow

TELEGRAM = "telegram"
SKIPPED_SERVICE = "telegram_service_messages"


def detect_telegram(sample: Sample) -> int:
    if sample.suffix not in JSON_SUFFIXES:
        return 0
    single = sample.has_keys("messages")
    account = sample.has_keys("chats", "personal_information") == 2 or (
        sample.has_keys("about") and "Telegram" in sample.text[:2000]
    )
    if not (single or account):
        return 0
    return 1 + sample.has_keys("date_unixtime", "text_entities", "from_id", "personal_information")


def message_text(value: Any) -> str:
    """A message's ``text``: a string, or a list of strings and ``{"text": ...}`` parts joined with no separator."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


def _chats(root: Any) -> list[Any]:
    if isinstance(root, dict) and isinstance(root.get("messages"), list):
        return [root]
    if isinstance(root, dict) and isinstance(root.get("chats"), dict):
        chats = list(root["chats"].get("list") or [])
        if isinstance(root.get("left_chats"), dict):
            chats += list(root["left_chats"].get("list") or [])
        return chats
    raise ValueError("no messages")


def read_telegram(path: Path, context: ReadContext) -> Iterator[SourceRow]:
    root = load_json(path)
    try:
        chats = _chats(root)
    except ValueError:
        raise UnreadableTableError(
            f"{path} is not a Telegram Desktop JSON export (no messages, no chats.list)"
        ) from None
    for chat in chats:
        if not isinstance(chat, dict):
            yield unmapped_value(chat, TELEGRAM, "message")
            continue
        chat_id = id_text(chat.get("id"))
        about = {"chat.id": chat_id, "chat.name": chat.get("name"), "chat.type": chat.get("type")}

        def qualified(message_id: Any, chat_id: str | None = chat_id) -> str | None:
            bare = id_text(message_id)
            return None if bare is None else (f"{chat_id}:{bare}" if chat_id else bare)

        for message in chat.get("messages") or []:
            if not isinstance(message, dict):
                yield unmapped_value(message, TELEGRAM, "message")
                continue
            if message.get("type") == "service":
                context.skipped[SKIPPED_SERVICE] += 1
                continue
            reactions = message.get("reactions")
            counts = [r.get("count") for r in reactions if isinstance(r, dict)] if isinstance(reactions, list) else []
            text = message_text(message.get("text"))
            item = Item(
                TELEGRAM,
                "message",
                item_id=qualified(message.get("id")),
                parent_id=qualified(message.get("reply_to_message_id")),
                author=message.get("from") if isinstance(message.get("from"), str) else None,
                created_at=from_unix(message.get("date_unixtime")) or parse_time(message.get("date"), context.zone),
                text=text or None,
                reactions=sum_counts(counts),
                views=None,
                original={**about, **flatten(message)},
            )
            yield item_row(item)


FORMATS: tuple[PlatformFormat, ...] = (
    PlatformFormat(
        "telegram_desktop",
        TELEGRAM,
        'Telegram Desktop "Export chat history", one chat or the whole account (result.json)',
        detect_telegram, read_telegram,
    ),
)  # fmt: skip
