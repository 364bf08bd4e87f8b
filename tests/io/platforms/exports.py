"""Small platform exports written by the tests, shaped like the real files (khmer_civic.io.platforms).

Each ``write_*`` function writes one export under a folder and returns its path; the texts and
figures it writes are module constants, so the tests can say what must come out.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

SCHOOL = "សាលារៀនភូមិយើងត្រូវការគ្រូបន្ថែម"
CLINIC = "មណ្ឌលសុខភាពឃុំបើកម៉ោង៧ព្រឹក"
ROAD = "សូមជួយជួសជុលផ្លូវទៅសាលាឃុំផង"
THANKS = "អរគុណលោកគ្រូ"
SHORT = "ល្អ"


def write_rows(path: Path, header: list[str], rows: list[list[str]], *, encoding: str, delimiter: str = ",") -> Path:
    """A CSV export: ``header`` then ``rows``, in ``encoding`` (``utf-8-sig`` writes a byte-order mark)."""
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ------------------------------------------------------------------------------ Meta Business Suite

MBS_HEADER = [
    "Post ID", "Page ID", "Page name", "Title", "Description", "Duration (sec)", "Publish time", "Caption type",
    "Permalink", "Is crosspost", "Post type", "Languages", "Reactions", "Comments", "Shares", "Impressions", "Reach",
]  # fmt: skip
MBS_ROWS = [
    ["122100000000000123", "1000001", "សាលាឃុំ", "", SCHOOL, "", "10/02/2026 08:14", "", "https://fb.com/p/123",
     "No", "Photos", "km", "1,234", "56", "", "9,870", "5,000"],
    ["122100000000000124", "1000001", "សាលាឃុំ", CLINIC, SHORT, "", "10/03/2026 19:05", "", "https://fb.com/p/124",
     "No", "Text", "km", "7", "0", "2", "100", "90"],
    # a broken row: two cells too many (kept, flagged malformed_row)
    ["122100000000000125", "1000001", "សាលាឃុំ", "", ROAD, "", "10/04/2026 00:30", "", "https://fb.com/p/125",
     "No", "Text", "km", "3", "1", "0", "10", "9", "extra", "cells"],
]  # fmt: skip


def write_meta_business_suite(folder: Path, name: str = "posts.csv") -> Path:
    """An MBS post export: UTF-8 with a byte-order mark, quoted, the rows of :data:`MBS_ROWS`."""
    return write_rows(folder / name, MBS_HEADER, MBS_ROWS, encoding="utf-8-sig")


def write_meta_business_suite_renamed(folder: Path) -> Path:
    """An older MBS export: ``Post_ID`` and ``Publish Time`` spelled differently, no Description or Shares column."""
    header = ["Post_ID", "Page name", "Title", "Publish Time", "Permalink", "Post type", "Reactions", "Comments"]
    rows = [["555", "ឃុំ", ROAD, "12/31/2026 23:59", "https://fb.com/p/555", "Text", "N/A", "4"]]
    return write_rows(folder / "older.csv", header, rows, encoding="utf-8-sig")


# ------------------------------------------------------------------------------ CrowdTangle

CT_HEADER = [
    "Account", "User Name", "Facebook Id", "Page Category", "Likes at Posting", "Post Created", "Type",
    "Total Interactions", "Likes", "Comments", "Shares", "Love", "Wow", "Haha", "Sad", "Angry", "Care",
    "Post Views", "URL", "Message", "Overperforming Score",
]  # fmt: skip
CT_ROWS = [
    ["ក្រសួងអប់រំ", "moeys", "100044", "GOVERNMENT", "1,500,000", "2026-10-02 08:14:00 EDT", "Photo",
     "1,302", "1,200", "N/A", "1.234", "34", "0", "0", "0", "0", "68", "N/A",
     "https://www.facebook.com/100044/posts/987654321/", SCHOOL, "1.5"],
    ["ក្រសួងសុខាភិបាល", "moh", "100055", "GOVERNMENT", "800,000", "2026-10-03 09:00:00 +07", "Status",
     "12", "10", "2", "0", "", "", "", "", "", "", "2,500",
     "https://www.facebook.com/100055/posts/111222333?ref=share", CLINIC, "-0.4"],
]  # fmt: skip


def write_crowdtangle(folder: Path) -> Path:
    """A CrowdTangle historical export with ``;`` as the delimiter, thousands separators and N/A."""
    return write_rows(folder / "crowdtangle.csv", CT_HEADER, CT_ROWS, encoding="utf-8", delimiter=";")


# ------------------------------------------------------------------------------ Download Your Information


def mojibake(text: str) -> str:
    """``text`` as Facebook's DYI export writes it: each UTF-8 byte as its own character."""
    return text.encode("utf-8").decode("latin-1")


DYI_POSTS = [(1790900000, SCHOOL), (1790903600, CLINIC), (1790900000, SCHOOL)]  # the last repeats the first


def write_dyi_posts(folder: Path, *, broken: bool = False) -> Path:
    """``your_posts_1.json``: escaped as \\u00XX (json ensure_ascii); ``broken`` adds a post cut mid-character."""
    posts: list[dict[str, Any]] = [
        {"timestamp": ts, "data": [{"post": mojibake(text)}, {"update_timestamp": ts + 5}], "title": mojibake("សុខា")}
        for ts, text in DYI_POSTS
    ]
    if broken:
        cut = ROAD.encode("utf-8")[:-1].decode("latin-1")  # the last character lost a byte
        posts.append({"timestamp": 1790990000, "data": [{"post": cut}]})
    path = folder / "your_posts_1.json"
    path.write_text(json.dumps(posts, ensure_ascii=True, indent=2), encoding="utf-8")
    return path


DYI_COMMENTS = [(1790950000, THANKS, "ស្រីនី"), (1790950100, ROAD, "វណ្ណា")]


def write_dyi_comments(folder: Path) -> Path:
    """``comments.json`` (``comments_v2``), escaped as \\u00XX."""
    comments = [
        {
            "timestamp": ts,
            "data": [{"comment": {"timestamp": ts, "comment": mojibake(text), "author": mojibake(author)}}],
            "title": mojibake(f"{author} បានផ្ដល់មតិ"),
        }
        for ts, text, author in DYI_COMMENTS
    ]
    path = folder / "comments.json"
    path.write_text(json.dumps({"comments_v2": comments}, ensure_ascii=True, indent=2), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ Graph API


def write_graph_api(folder: Path) -> Path:
    """A Graph API page: a post with nested comments and a reply, a bare comment, a reply, two unmappable items."""
    data: list[Any] = [
        {
            "id": "1000001_987",
            "message": SCHOOL,
            "created_time": "2026-10-02T01:14:00+0000",
            "from": {"name": "សាលាឃុំ", "id": "1000001"},
            "permalink_url": "https://www.facebook.com/1000001/posts/987",
            "shares": {"count": 4},
            "reactions": {"data": [], "summary": {"total_count": 1234}},
            "comments": {
                "data": [
                    {
                        "id": "987_1",
                        "message": THANKS,
                        "created_time": "2026-10-02T02:00:00+0000",
                        "from": {"name": "ស្រីនី", "id": "9"},
                        "like_count": 3,
                        "comment_count": 1,
                        "comments": {
                            "data": [
                                {
                                    "id": "987_2",
                                    "message": SHORT,
                                    "created_time": "2026-10-02T03:00:00+0000",
                                    "like_count": 0,
                                }
                            ]
                        },
                    }
                ],
                "summary": {"total_count": 2},
                "paging": {"cursors": {"before": "x", "after": "y"}},
            },
        },
        {
            "id": "987_3",
            "message": ROAD,
            "created_time": "2026-10-02T04:00:00+0000",
            "like_count": 5,
            "comment_count": 0,
        },
        {
            "id": "987_4",
            "message": CLINIC,
            "created_time": "2026-10-02T05:00:00+0000",
            "parent": {"id": "987_3"},
            "like_count": 1,
        },
        {"created_time": "2026-10-02T06:00:00+0000", "story": "a cover photo changed"},  # neither id nor message
        42,  # not an object
    ]
    path = folder / "graph.json"
    path.write_text(json.dumps({"data": data, "paging": {"next": "https://graph.facebook.com/next"}}), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ Facepager

FACEPAGER_HEADER = [
    "level", "id", "parent_id", "object_id", "object_type", "object_key", "query_status", "query_time",
    "query_type", "message", "created_time", "from.name", "like_count", "comment_count", "permalink_url",
]  # fmt: skip
FACEPAGER_ROWS = [
    ["0", "1", "", "1000001_987", "seed", "", "fetched (200)", "2026-10-05 10:00:00", "Facebook:<self>", SCHOOL,
     "2026-10-02T01:14:00+0000", "សាលាឃុំ", "", "2", "https://fb.com/p/987"],
    ["1", "2", "1", "987_1", "data", "data", "fetched (200)", "2026-10-05 10:00:01", "Facebook:<self>/comments",
     THANKS, "2026-10-02T02:00:00+0000", "ស្រីនី", "3", "1", ""],
    ["2", "3", "2", "987_2", "data", "data", "fetched (200)", "2026-10-05 10:00:02", "Facebook:<self>/comments",
     SHORT, "2026-10-02T03:00:00+0000", "វណ្ណា", "0", "0", ""],
]  # fmt: skip


def write_facepager(folder: Path) -> Path:
    """A Facepager export: ``;`` delimiter, a seed post, a comment and a reply."""
    return write_rows(folder / "facepager.csv", FACEPAGER_HEADER, FACEPAGER_ROWS, encoding="utf-8-sig", delimiter=";")


# ------------------------------------------------------------------------------ facebook-scraper


def scraper_post() -> dict[str, Any]:
    """One post of facebook-scraper with two comments, the first with two replies."""
    return {
        "post_id": "987",
        "text": SCHOOL,
        "post_text": SCHOOL,
        "shared_text": "",
        "time": "2026-10-02 08:14:00",
        "timestamp": 1790903640,
        "username": "សាលាឃុំ",
        "likes": 90,
        "comments": 4,
        "shares": 2,
        "reaction_count": 100,
        "reactions": {"like": 90, "love": 10},
        "post_url": "https://facebook.com/story.php?story_fbid=987",
        "comments_full": [
            {
                "comment_id": "c1",
                "comment_url": "https://facebook.com/c1",
                "commenter_name": "ស្រីនី",
                "comment_text": THANKS,
                "comment_time": "2026-10-02 09:00:00",
                "comment_reactions": {"like": 2, "love": 1},
                "replies": [
                    {
                        "comment_id": "r1",
                        "commenter_name": "វណ្ណា",
                        "comment_text": SHORT,
                        "comment_time": "2026-10-02 09:30:00",
                    },
                    {
                        "comment_id": "r2",
                        "commenter_name": "ដារា",
                        "comment_text": ROAD,
                        "comment_time": "2026-10-02 10:00:00",
                        "comment_reaction_count": 7,
                    },
                ],
            },
            {
                "comment_id": "c2",
                "commenter_name": "ដារា",
                "comment_text": CLINIC,
                "comment_time": "2026-10-03 07:00:00",
                "replies": [],
            },
        ],
    }


def write_facebook_scraper(folder: Path, *, lines: bool = False) -> Path:
    """facebook-scraper output as a JSON list, or as JSON Lines with a broken line after the post (``lines``)."""
    if lines:
        path = folder / "posts.jsonl"
        path.write_text(json.dumps(scraper_post(), ensure_ascii=False) + '\n{"post_id": "98\n', encoding="utf-8")
        return path
    path = folder / "posts.json"
    path.write_text(json.dumps([scraper_post()], ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ Telegram


def telegram_chat(chat_id: int, name: str) -> dict[str, Any]:
    """A channel with a service message, plain and entity-list texts, a reply, reactions and a naive-only date."""
    return {
        "name": name,
        "type": "public_channel",
        "id": chat_id,
        "messages": [
            {
                "id": 1,
                "type": "service",
                "date": "2026-10-01T08:00:00",
                "date_unixtime": "1790816400",
                "actor": name,
                "action": "create_channel",
                "title": name,
                "text": "",
                "text_entities": [],
            },
            {
                "id": 2,
                "type": "message",
                "date": "2026-10-02T08:14:00",
                "date_unixtime": "1790903640",
                "from": name,
                "from_id": f"channel{chat_id}",
                "text": SCHOOL,
                "text_entities": [{"type": "plain", "text": SCHOOL}],
                "reactions": [
                    {"type": "emoji", "count": 5, "emoji": "👍"},
                    {"type": "emoji", "count": 2, "emoji": "❤"},
                ],
            },
            {
                "id": 3,
                "type": "message",
                "date": "2026-10-02T09:00:00",
                "date_unixtime": "1790906400",
                "from": "ស្រីនី",
                "from_id": "user9",
                "reply_to_message_id": 2,
                "text": ["សូមចូលរួម ", {"type": "bold", "text": "ប្រជុំ"}, " នៅ", {"type": "link", "text": "https://t.me/x"}],
                "text_entities": [],
            },
            {
                "id": 4,
                "type": "message",
                "date": "2026-10-02T10:30:00",
                "from": "វណ្ណា",
                "from_id": "user10",
                "text": CLINIC,
                "text_entities": [],
            },
        ],
    }


TELEGRAM_ENTITY_TEXT = "សូមចូលរួម ប្រជុំ នៅhttps://t.me/x"


def write_telegram_chat(folder: Path) -> Path:
    path = folder / "result.json"
    path.write_text(json.dumps(telegram_chat(-1001, "សាលាឃុំ"), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_telegram_account(folder: Path) -> Path:
    """A whole-account export: the same message ids in two chats."""
    root = {
        "about": "Here is the data you requested. Remember: Telegram is ad free.",
        "personal_information": {"user_id": 1, "first_name": "A"},
        "contacts": {"about": "", "list": []},
        "chats": {"about": "", "list": [telegram_chat(-1001, "សាលាឃុំ"), telegram_chat(-1002, "មណ្ឌលសុខភាព")]},
    }
    path = folder / "account" / "result.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(root, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_telegram_html(folder: Path) -> Path:
    path = folder / "messages.html"
    path.write_text(
        '<!DOCTYPE html><html><head><title>Exported Data</title></head><body><div class="page_wrap">'
        '<div class="page_header"></div><div class="history"><div class="message service">x</div></div>'
        "</div></body></html>",
        encoding="utf-8",
    )
    return path


# ------------------------------------------------------------------------------ YouTube

YOUTUBE_COMMENTS = [
    {
        "cid": "UgxA",
        "text": SCHOOL,
        "time": "2 days ago",
        "author": "@sokha",
        "channel": "UC1",
        "votes": "1.2K",
        "replies": "2",
        "photo": "https://yt3/x",
        "heart": False,
        "reply": False,
        "time_parsed": 1790903640.52,
    },
    {
        "cid": "UgxA.R1",
        "text": THANKS,
        "time": "1 day ago",
        "author": "@nary",
        "channel": "UC2",
        "votes": "0",
        "replies": "",
        "photo": "https://yt3/y",
        "heart": False,
        "reply": True,
        "time_parsed": 1790990040.0,
    },
    {
        "cid": "UgxB",
        "text": ROAD,
        "time": "3 hours ago",
        "author": "@dara",
        "channel": "UC3",
        "votes": "15",
        "replies": "0",
        "photo": "https://yt3/z",
        "heart": True,
        "reply": False,
        "time_parsed": 1791000000,
    },
]


def write_youtube(folder: Path, *, broken: bool = False) -> Path:
    """youtube-comment-downloader JSON Lines; ``broken`` inserts a cut line after the first comment."""
    lines = [json.dumps(c, ensure_ascii=False) for c in YOUTUBE_COMMENTS]
    if broken:
        lines.insert(1, '{"cid": "UgxC", "text": "cut')
    path = folder / "comments.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
