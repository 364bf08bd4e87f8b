"""Facebook exports: Meta Business Suite, CrowdTangle, Download Your Information, the Graph API,
Facepager and facebook-scraper.

- **Meta Business Suite** post export (CSV, UTF-8 with a byte-order mark). Its 30-odd columns
  change from month to month, so it is recognised by ``Post ID`` and ``Publish time`` plus any of
  its usual columns, and every column is looked up without regard to case or underscores. The
  caption is the longer of ``Title`` and ``Description``; ``Publish time`` is ``MM/DD/YYYY HH:MM``
  in the page's zone (read as ``--tz``, default Asia/Phnom_Penh).
- **CrowdTangle** historical data (CSV, ``,`` or ``;``): the post id is the last segment of ``URL``;
  ``Post Created`` ends with a zone token (``EST``, ``+07`` ...); counts may hold thousands
  separators and ``N/A``. ``reactions`` is the sum of the reaction columns (Likes, Love, Wow ...).
- **Download Your Information** JSON (your posts; your comments): Facebook writes every UTF-8 byte
  of a text as its own ``\\u00XX`` escape, which is repaired here (a text that does not decode is
  kept as it is and its row flagged ``undecodable_text``). The export has no ids: each item gets
  ``dyi-`` and 12 hex digits of the hash of its timestamp and text (repeats get ``-2``, ``-3``).
- **Graph API** JSON (``{"data": [...], "paging": ...}``, or a list of such pages): posts,
  comments (``like_count``/``comment_count``) and replies (``parent``). Comments nested in a post
  (``fields=comments{...}``) become rows of their own. A top-level comment's ``parent_id`` is the
  post it is nested under, or else the part of its id before ``_`` (Facebook writes comment ids
  as ``POST_COMMENT``), which is the post's id as Meta Business Suite gives it.
- **Facepager** CSV: one row per node; ``object_id`` is the item id; nodes fetched through a
  ``comments`` query are comments of their parent node (replies when that is a comment).
- **facebook-scraper** output (JSON list or JSON Lines of posts): each post's ``comments_full``
  and their ``replies`` become rows of their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from khmer_civic.io.errors import UnreadableTableError
from khmer_civic.io.platforms.base import (
    JSON_LINES_SUFFIXES,
    JSON_SUFFIXES,
    PlatformFormat,
    ReadContext,
    Sample,
    column_score,
    delimited_rows,
    item_row,
    json_lines,
    load_json,
    unmapped_value,
    unreadable_row,
)
from khmer_civic.io.platforms.contract import (
    ISO_FORMATS,
    TEXT,
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
    sum_counts,
)
from khmer_civic.io.readers import SourceRow

FACEBOOK = "facebook"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


# ------------------------------------------------------------------------------ Meta Business Suite

MBS_REQUIRED = ("post id", "publish time")
MBS_USUAL = ("permalink", "page id", "page name", "post type", "title", "description", "caption type", "is crosspost")


def detect_meta_business_suite(sample: Sample) -> int:
    score = column_score(sample, MBS_REQUIRED, MBS_USUAL)
    return score if score > 2 else 0  # a match needs one of the usual columns besides the required ones


def read_meta_business_suite(path: Path, context: ReadContext) -> Iterator[SourceRow]:
    header, rows = delimited_rows(path)
    for row in rows:
        values = row.values
        captions = [c for c in (header.value(values, "Title"), header.value(values, "Description")) if _text(c)]
        item = Item(
            FACEBOOK,
            "post",
            item_id=id_text(header.value(values, "Post ID")),
            author=_text(header.value(values, "Page name", "Account")),
            created_at=parse_time(
                header.value(values, "Publish time", "Published time", "Publish date"),
                context.zone,
                (*US_FORMATS, *ISO_FORMATS),
            ),
            text=max(captions, key=len) if captions else None,
            reactions=parse_count(header.value(values, "Reactions", "Likes", "Total reactions")),
            comments=parse_count(header.value(values, "Comments")),
            shares=parse_count(header.value(values, "Shares")),
            views=parse_count(header.value(values, "Views", "Video views", "3-second video views", "Plays")),
            url=_text(header.value(values, "Permalink", "Post link", "Link")),
            original=dict(values),
        )
        yield item_row(item, row.problem, row.undecodable)


# ------------------------------------------------------------------------------ CrowdTangle

CT_REQUIRED = ("post created", "url")
CT_USUAL = ("total interactions", "overperforming score", "likes at posting", "facebook id", "page category", "account")
CT_REACTIONS = ("Likes", "Love", "Wow", "Haha", "Sad", "Angry", "Care", "Thankful")


def detect_crowdtangle(sample: Sample) -> int:
    score = column_score(sample, CT_REQUIRED, CT_USUAL)
    return score if score > 2 else 0  # a match needs one of the usual columns besides the required ones


def last_url_segment(url: Any) -> str | None:
    """The last non-empty path segment of a URL, without its query: the post id in CrowdTangle's ``URL``."""
    if not isinstance(url, str) or not url.strip():
        return None
    path = url.strip().split("?", 1)[0].split("#", 1)[0].rstrip("/")
    segment = path.rsplit("/", 1)[-1]
    return segment or None


def read_crowdtangle(path: Path, context: ReadContext) -> Iterator[SourceRow]:
    header, rows = delimited_rows(path)
    for row in rows:
        values = row.values
        url = _text(header.value(values, "URL"))
        reaction_values = [header.value(values, name) for name in CT_REACTIONS]
        item = Item(
            FACEBOOK,
            "post",
            item_id=last_url_segment(url),
            author=_text(header.value(values, "Account", "Page Name", "User Name")),
            created_at=parse_time(header.value(values, "Post Created"), context.zone),
            text=_text(header.value(values, "Message")),
            reactions=sum_counts(reaction_values),
            comments=parse_count(header.value(values, "Comments")),
            shares=parse_count(header.value(values, "Shares")),
            views=parse_count(header.value(values, "Post Views", "Total Views")),
            url=url,
            original=dict(values),
        )
        yield item_row(item, row.problem, row.undecodable)


# ------------------------------------------------------------------------------ Download Your Information

DYI_COMMENT_KEYS = ("comments_v2", "group_comments_v2", "comments")
DYI_POST_KEYS = ("group_posts_v2", "posts_v2")


def detect_facebook_dyi(sample: Sample) -> int:
    if sample.suffix not in JSON_SUFFIXES:
        return 0
    head = sample.text.lstrip()
    if sample.has_keys("comments_v2", "group_comments_v2", "group_posts_v2"):
        return 3
    if head.startswith("{") and sample.has_keys("comments", "timestamp", "data") == 3 and not sample.has_keys("cid"):
        return 2
    if head.startswith("[") and sample.has_keys("timestamp", "data") == 2 and not sample.has_keys("post_id", "id"):
        return 2
    return 0


def repair_in(value: Any) -> tuple[Any, bool]:
    """Every string in ``value`` repaired (:func:`repair_mojibake`); whether all of them decoded."""
    if isinstance(value, str):
        return repair_mojibake(value)
    if isinstance(value, list):
        pairs = [repair_in(v) for v in value]
        return [v for v, _ in pairs], all(ok for _, ok in pairs)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        fine = True
        for key, item in value.items():
            out[key], ok = repair_in(item)
            fine = fine and ok
        return out, fine
    return value, True


def _merged_data(entries: Any) -> dict[str, Any]:
    """DYI's ``data`` list of one-key objects as one object (``[{"post": x}, {"update_timestamp": t}]``)."""
    merged: dict[str, Any] = {}
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict):
                merged.update(entry)
    return merged


def _dyi_items(root: Any) -> Iterator[tuple[str, Any]]:
    """(item type, raw item) of a DYI posts or comments file."""
    if isinstance(root, list):
        for entry in root:
            yield "post", entry
        return
    if isinstance(root, dict):
        for key in DYI_COMMENT_KEYS + DYI_POST_KEYS:
            if isinstance(root.get(key), list):
                kind = "comment" if key in DYI_COMMENT_KEYS else "post"
                for entry in root[key]:
                    yield kind, entry
                return
    raise ValueError("no list of posts or comments")


def read_facebook_dyi(path: Path, context: ReadContext) -> Iterator[SourceRow]:
    root = load_json(path)
    unique = UniqueIds()
    try:
        items = list(_dyi_items(root))
    except ValueError:
        raise UnreadableTableError(
            f"{path} is not a Download Your Information posts or comments file (no list of posts, no comments_v2)"
        ) from None
    for kind, raw in items:
        if not isinstance(raw, dict):
            yield unmapped_value(raw, FACEBOOK, kind)
            continue
        raw_text = _dyi_fields(raw, kind)[0]
        text_decodes = repair_mojibake(raw_text)[1] if isinstance(raw_text, str) else True
        entry, _ = repair_in(raw)
        text, author, when = _dyi_fields(entry, kind)
        data = _merged_data(entry.get("data"))
        original = flatten({k: v for k, v in entry.items() if k != "data"})
        original.update(flatten(data, "data."))
        item = Item(
            FACEBOOK,
            kind,
            item_id=unique(stable_id("dyi-", when, text)) if (when or text) else None,
            author=_text(author),
            created_at=from_unix(when),
            text=_text(text),
            original=original,
        )
        yield item_row(item, None, frozenset() if text_decodes else frozenset({TEXT}))


def _dyi_fields(entry: Mapping[str, Any], kind: str) -> tuple[Any, Any, Any]:
    """(text, author, timestamp) of a DYI post or comment."""
    data = _merged_data(entry.get("data"))
    if kind == "comment":
        comment = data.get("comment") if isinstance(data.get("comment"), dict) else {}
        return comment.get("comment"), comment.get("author"), entry.get("timestamp") or comment.get("timestamp")
    return data.get("post"), None, entry.get("timestamp")


# ------------------------------------------------------------------------------ Graph API


def detect_graph_api(sample: Sample) -> int:
    if sample.suffix not in JSON_SUFFIXES or sample.has_keys("data", "id") < 2:
        return 0
    score = sample.has_keys("created_time", "paging", "message", "permalink_url", "like_count", "comment_count")
    return 1 + score if score else 0


def _graph_type(item: Mapping[str, Any]) -> str:
    if isinstance(item.get("parent"), dict) and item["parent"].get("id"):
        return "reply"
    if any(key in item for key in ("like_count", "comment_count", "attachment", "can_reply_privately")):
        return "comment"
    return "post"


def _nested(item: Mapping[str, Any], key: str) -> list[Any]:
    edge = item.get(key)
    if isinstance(edge, dict) and isinstance(edge.get("data"), list):
        return list(edge["data"])
    return []


def _graph_rows(item: Any, context: ReadContext, parent: str | None, nested_type: str | None) -> Iterator[SourceRow]:
    """The rows of one Graph API node and of the comments nested in it."""
    if not isinstance(item, dict):
        yield unmapped_value(item, FACEBOOK, nested_type or "post")
        return
    item_type = nested_type or _graph_type(item)
    item_id = id_text(item.get("id"))
    parent_id = id_text((item.get("parent") or {}).get("id")) if isinstance(item.get("parent"), dict) else None
    if parent_id is None:
        parent_id = parent
    if parent_id is None and item_type == "comment" and item_id and "_" in item_id:
        parent_id = item_id.split("_", 1)[0]
    if parent_id is not None and item_type == "post":
        item_type = "comment"
    kept = {k: v for k, v in item.items() if k != "comments"}
    comments_edge = item.get("comments")
    if isinstance(comments_edge, dict):
        kept["comments"] = {k: v for k, v in comments_edge.items() if k not in ("data", "paging")}
    elif "comments" in item:
        kept["comments"] = comments_edge
    summary = (comments_edge or {}).get("summary") if isinstance(comments_edge, dict) else None
    row = Item(
        FACEBOOK,
        item_type,
        item_id=item_id,
        parent_id=parent_id,
        author=_text((item.get("from") or {}).get("name")) if isinstance(item.get("from"), dict) else None,
        created_at=parse_time(item.get("created_time"), context.zone),
        text=_text(item.get("message")),
        reactions=_first_count(
            _path(item, "reactions", "summary", "total_count"),
            item.get("like_count"),
            _path(item, "likes", "summary", "total_count"),
        ),
        comments=_first_count(_path(summary, "total_count"), item.get("comment_count")),
        shares=_first_count(_path(item, "shares", "count")),
        views=_first_count(item.get("views")),
        url=_text(item.get("permalink_url")),
        original=flatten(kept),
    )
    yield item_row(row)
    child_type = "comment" if item_type == "post" else "reply"
    for child in _nested(item, "comments"):
        yield from _graph_rows(child, context, item_id, child_type)


def _path(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _first_count(*values: Any) -> int | None:
    for value in values:
        count = parse_count(value)
        if count is not None:
            return count
    return None


def _graph_pages(root: Any) -> Iterator[Any]:
    if isinstance(root, dict) and isinstance(root.get("data"), list):
        yield from root["data"]
    elif isinstance(root, dict) and "id" in root:
        yield root
    elif isinstance(root, list):
        for page in root:
            yield from _graph_pages(page) if isinstance(page, dict) and "data" in page else [page]
    else:
        raise ValueError("no data list")


def read_graph_api(path: Path, context: ReadContext) -> Iterator[SourceRow]:
    root = load_json(path)
    try:
        items = list(_graph_pages(root))
    except ValueError:
        raise UnreadableTableError(f'{path} is not a Graph API response (no "data" list)') from None
    for item in items:
        yield from _graph_rows(item, context, None, None)


# ------------------------------------------------------------------------------ Facepager

FACEPAGER_REQUIRED = ("level", "object id", "object type", "query status")


def detect_facepager(sample: Sample) -> int:
    return column_score(sample, FACEPAGER_REQUIRED, ("query type", "query time", "parent id", "object key"))


def read_facepager(path: Path, context: ReadContext) -> Iterator[SourceRow]:
    header, rows = delimited_rows(path)
    nodes: dict[str, tuple[str | None, str]] = {}  # node id -> (object id, item type)
    for row in rows:
        values = row.values
        object_id = id_text(header.value(values, "object_id"))
        parent_node = nodes.get(id_text(header.value(values, "parent_id")) or "")
        query = str(header.value(values, "query_type") or "").casefold()
        if "comments" in query and parent_node is not None:
            item_type = "reply" if parent_node[1] in ("comment", "reply") else "comment"
            parent_id = parent_node[0]
        else:
            item_type, parent_id = "post", None
        node_id = id_text(header.value(values, "id"))
        if node_id is not None:
            nodes[node_id] = (object_id, item_type)
        item = Item(
            FACEBOOK,
            item_type,
            item_id=object_id,
            parent_id=parent_id,
            author=_text(header.value(values, "from.name", "from_name")),
            created_at=parse_time(header.value(values, "created_time"), context.zone),
            text=_text(header.value(values, "message")),
            reactions=parse_count(
                header.value(values, "reactions.summary.total_count", "like_count", "likes.summary.total_count")
            ),
            comments=parse_count(header.value(values, "comments.summary.total_count", "comment_count")),
            shares=parse_count(header.value(values, "shares.count")),
            url=_text(header.value(values, "permalink_url")),
            original=dict(values),
        )
        yield item_row(item, row.problem, row.undecodable)


# ------------------------------------------------------------------------------ facebook-scraper

SCRAPER_KEYS = ("post_text", "shared_text", "comments_full", "reaction_count", "post_url", "reactors", "w3_fb_url")


def detect_facebook_scraper(sample: Sample) -> int:
    if not sample.item_keys("post_id"):
        return 0
    score = sample.item_keys(*SCRAPER_KEYS)
    return 1 + score if score else 0


def _scraper_time(timestamp: Any, text_time: Any, context: ReadContext) -> str | None:
    return from_unix(timestamp) or parse_time(text_time, context.zone)


def _scraper_reactions(count: Any, by_kind: Any, likes: Any = None) -> int | None:
    found = parse_count(count)
    if found is not None:
        return found
    if isinstance(by_kind, dict):
        total = sum_counts(by_kind.values())
        if total is not None:
            return total
    return parse_count(likes)


def _scraper_comment(comment: Any, parent: str | None, item_type: str, context: ReadContext) -> Iterator[SourceRow]:
    if not isinstance(comment, dict):
        yield unmapped_value(comment, FACEBOOK, item_type)
        return
    comment_id = id_text(comment.get("comment_id"))
    replies = comment.get("replies")
    item = Item(
        FACEBOOK,
        item_type,
        item_id=comment_id,
        parent_id=parent,
        author=_text(comment.get("commenter_name")),
        created_at=_scraper_time(comment.get("comment_timestamp"), comment.get("comment_time"), context),
        text=_text(comment.get("comment_text")),
        reactions=_scraper_reactions(comment.get("comment_reaction_count"), comment.get("comment_reactions")),
        url=_text(comment.get("comment_url")),
        original=flatten({k: v for k, v in comment.items() if k != "replies"}),
    )
    yield item_row(item)
    if isinstance(replies, list):
        for reply in replies:
            yield from _scraper_comment(reply, comment_id, "reply", context)


def _scraper_post(post: Any, context: ReadContext) -> Iterator[SourceRow]:
    if not isinstance(post, dict):
        yield unmapped_value(post, FACEBOOK, "post")
        return
    post_id = id_text(post.get("post_id"))
    item = Item(
        FACEBOOK,
        "post",
        item_id=post_id,
        author=_text(post.get("username")),
        created_at=_scraper_time(post.get("timestamp"), post.get("time"), context),
        text=_text(post.get("post_text")) or _text(post.get("text")),
        reactions=_scraper_reactions(post.get("reaction_count"), post.get("reactions"), post.get("likes")),
        comments=parse_count(post.get("comments")),
        shares=parse_count(post.get("shares")),
        views=parse_count(post.get("video_watches")),
        url=_text(post.get("post_url")),
        original=flatten({k: v for k, v in post.items() if k != "comments_full"}),
    )
    yield item_row(item)
    comments = post.get("comments_full")
    if isinstance(comments, list):
        for comment in comments:
            yield from _scraper_comment(comment, post_id, "comment", context)


def read_facebook_scraper(path: Path, context: ReadContext) -> Iterator[SourceRow]:
    if path.suffix.lower() in JSON_LINES_SUFFIXES:
        for value in json_lines(path):
            if value is None:
                yield unreadable_row()
            else:
                yield from _scraper_post(value, context)
        return
    root = load_json(path)
    posts = root if isinstance(root, list) else root.get("posts", [root]) if isinstance(root, dict) else [root]
    for post in posts:
        yield from _scraper_post(post, context)


FORMATS: tuple[PlatformFormat, ...] = (
    PlatformFormat(
        "meta_business_suite", FACEBOOK, "Facebook: Meta Business Suite post export (CSV)",
        detect_meta_business_suite, read_meta_business_suite,
    ),
    PlatformFormat(
        "crowdtangle", FACEBOOK, "Facebook: CrowdTangle historical data (CSV, comma or semicolon)",
        detect_crowdtangle, read_crowdtangle,
    ),
    PlatformFormat(
        "facebook_dyi", FACEBOOK, "Facebook: Download Your Information posts or comments (JSON)",
        detect_facebook_dyi, read_facebook_dyi,
    ),
    PlatformFormat(
        "facebook_graph_api", FACEBOOK, "Facebook: Graph API response, data/paging (JSON)",
        detect_graph_api, read_graph_api,
    ),
    PlatformFormat("facepager", FACEBOOK, "Facebook: Facepager export (CSV)", detect_facepager, read_facepager),
    PlatformFormat(
        "facebook_scraper", FACEBOOK, "Facebook: facebook-scraper posts with comments_full (JSON or JSON Lines)",
        detect_facebook_scraper, read_facebook_scraper,
    ),
)  # fmt: skip
