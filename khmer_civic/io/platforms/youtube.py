"""YouTube comments from youtube-comment-downloader (JSON Lines, one comment per line).

``cid`` is the comment id; a reply's ``cid`` is ``PARENT.REPLY``, so its ``parent_id`` is the part
before the dot. ``time_parsed`` (a Unix time) gives ``created_at`` (``time`` is "2 years ago" and
is kept as it is); ``votes`` (``1.2K``) gives ``reactions`` and ``replies`` gives ``comments``. The
``--pretty`` output (``{"comments": [...]}`` JSON) is read too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from khmer_civic.io.platforms.base import (
    JSON_LINES_SUFFIXES,
    PlatformFormat,
    ReadContext,
    Sample,
    item_row,
    json_lines,
    load_json,
    unmapped_value,
    unreadable_row,
)
from khmer_civic.io.platforms.contract import Item, flatten, from_unix, id_text, parse_count
from khmer_civic.io.readers import SourceRow

YOUTUBE = "youtube"
USUAL_KEYS = ("votes", "time_parsed", "heart", "reply", "replies", "channel", "photo")


def detect_youtube(sample: Sample) -> int:
    if sample.item_keys("cid", "text") < 2:
        return 0
    score = sample.item_keys(*USUAL_KEYS)
    return 2 + score if score else 0


def comment_row(comment: Any) -> SourceRow:
    """The row of one downloaded comment."""
    if not isinstance(comment, dict):
        return unmapped_value(comment, YOUTUBE, "comment")
    cid = id_text(comment.get("cid"))
    parent = cid.split(".", 1)[0] if cid and "." in cid else None
    is_reply = parent is not None or comment.get("reply") is True
    text = comment.get("text")
    item = Item(
        YOUTUBE,
        "reply" if is_reply else "comment",
        item_id=cid,
        parent_id=parent,
        author=comment.get("author") if isinstance(comment.get("author"), str) else None,
        created_at=from_unix(comment.get("time_parsed")),
        text=text if isinstance(text, str) and text.strip() else None,
        reactions=parse_count(comment.get("votes")),
        comments=parse_count(comment.get("replies")),
        original=flatten(comment),
    )
    return item_row(item)


def read_youtube(path: Path, context: ReadContext) -> Iterator[SourceRow]:
    if path.suffix.lower() in JSON_LINES_SUFFIXES:
        for value in json_lines(path):
            yield unreadable_row() if value is None else comment_row(value)
        return
    root = load_json(path)
    comments = root.get("comments", []) if isinstance(root, dict) else root if isinstance(root, list) else [root]
    for comment in comments:
        yield comment_row(comment)


FORMATS: tuple[PlatformFormat, ...] = (
    PlatformFormat(
        "youtube_comment_downloader", YOUTUBE, "YouTube: youtube-comment-downloader comments (JSON Lines)",
        detect_youtube, read_youtube,
    ),
)  # fmt: skip
