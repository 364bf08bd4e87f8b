"""Facebook exports (khmer_civic.io.platforms.facebook): rows, ids, parents, times and counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from exports import (
    CLINIC,
    CT_ROWS,
    DYI_COMMENTS,
    DYI_POSTS,
    MBS_ROWS,
    ROAD,
    SCHOOL,
    SHORT,
    THANKS,
    write_crowdtangle,
    write_dyi_comments,
    write_dyi_posts,
    write_facebook_scraper,
    write_facepager,
    write_graph_api,
    write_meta_business_suite,
    write_meta_business_suite_renamed,
)

from khmer_civic.io.platforms import CONTRACT_COLUMNS, PlatformReader
from khmer_civic.io.readers import SourceRow, open_table


def read(path: Path, **options: Any) -> tuple[PlatformReader, list[SourceRow]]:
    with open_table(path, **options) as reader:
        assert isinstance(reader, PlatformReader), type(reader)
        rows = list(reader.rows())
    assert reader.total_rows == len(rows)
    assert list(reader.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)
    return reader, rows


def contract(row: SourceRow, *names: str) -> tuple[Any, ...]:
    return tuple(row.values.get(name) for name in names)


def test_meta_business_suite_with_bom_keeps_ids_as_text_and_reads_us_times(tmp_path: Path) -> None:
    reader, rows = read(write_meta_business_suite(tmp_path))
    assert reader.platform.name == "meta_business_suite"
    assert len(rows) == len(MBS_ROWS)
    first, second, broken = rows
    assert contract(first, "platform", "item_type", "item_id", "parent_id") == (
        "facebook",
        "post",
        "122100000000000123",
        None,
    )
    assert first.values["created_at"] == "2026-10-02T01:14:00Z"  # 08:14 in Phnom Penh
    assert first.values["text"] == SCHOOL  # Title is empty: the Description
    assert contract(first, "reactions", "comments", "shares", "views") == (1234, 56, None, None)
    assert first.values["url"] == "https://fb.com/p/123" and first.values["author"] == "សាលាឃុំ"
    assert first.values["Post ID"] == "122100000000000123" and first.values["Reach"] == "5,000"  # originals beside
    assert second.values["text"] == CLINIC  # the longer of Title and Description
    assert second.values["created_at"] == "2026-10-03T12:05:00Z"
    assert (second.problem, first.problem) == (None, None)
    assert broken.problem is not None and broken.problem.value == "malformed_row"
    assert broken.values["item_id"] == "122100000000000125" and broken.values["text"] == ROAD


def test_meta_business_suite_times_follow_tz(tmp_path: Path) -> None:
    _, rows = read(write_meta_business_suite(tmp_path), timezone="UTC")
    assert rows[0].values["created_at"] == "2026-10-02T08:14:00Z"


def test_meta_business_suite_with_renamed_and_missing_columns(tmp_path: Path) -> None:
    reader, rows = read(write_meta_business_suite_renamed(tmp_path))
    assert reader.platform.name == "meta_business_suite"
    (row,) = rows
    assert contract(row, "item_id", "text", "created_at") == ("555", ROAD, "2026-12-31T16:59:00Z")
    assert contract(row, "reactions", "comments", "shares", "views") == (None, 4, None, None)
    assert row.problem is None


def test_crowdtangle_semicolons_thousands_na_and_zone_tokens(tmp_path: Path) -> None:
    reader, rows = read(write_crowdtangle(tmp_path))
    assert reader.platform.name == "crowdtangle"
    assert len(rows) == len(CT_ROWS)
    first, second = rows
    assert contract(first, "item_id", "author", "text") == ("987654321", "ក្រសួងអប់រំ", SCHOOL)
    assert first.values["created_at"] == "2026-10-02T12:14:00Z"  # EDT is UTC-4
    assert contract(first, "reactions", "comments", "shares", "views") == (1200 + 34 + 68, None, 1234, None)
    assert first.values["Likes at Posting"] == "1,500,000"
    assert second.values["item_id"] == "111222333"  # the query string is not part of the id
    assert second.values["created_at"] == "2026-10-03T02:00:00Z"  # +07
    assert contract(second, "reactions", "comments", "shares", "views") == (10, 2, 0, 2500)


def test_dyi_posts_are_repaired_and_get_stable_ids(tmp_path: Path) -> None:
    reader, rows = read(write_dyi_posts(tmp_path))
    assert reader.platform.name == "facebook_dyi"
    assert [r.values["text"] for r in rows] == [text for _, text in DYI_POSTS]
    assert rows[0].values["data.post"] == SCHOOL and rows[0].values["title"] == "សុខា"  # every string repaired
    assert rows[0].values["created_at"] == "2026-10-02T00:13:20Z"
    ids = [r.values["item_id"] for r in rows]
    assert all(i.startswith("dyi-") for i in ids)
    assert ids[2] == ids[0] + "-2"  # the same time and text again
    assert ids[0] != ids[1]
    _, again = read(write_dyi_posts(tmp_path, broken=True))
    assert [r.values["item_id"] for r in again][:3] == ids  # stable: from time and text only
    assert all(r.problem is None and not r.undecodable for r in rows)


def test_dyi_text_that_does_not_decode_is_kept_and_flagged(tmp_path: Path) -> None:
    _, rows = read(write_dyi_posts(tmp_path, broken=True))
    cut = rows[-1]
    assert cut.values["text"] == ROAD.encode("utf-8")[:-1].decode("latin-1")  # kept as written
    assert "text" in cut.undecodable  # label gives it undecodable_text


def test_dyi_comments(tmp_path: Path) -> None:
    reader, rows = read(write_dyi_comments(tmp_path))
    assert reader.platform.name == "facebook_dyi"
    assert [contract(r, "item_type", "text", "author") for r in rows] == [
        ("comment", text, author) for _, text, author in DYI_COMMENTS
    ]
    assert rows[0].values["created_at"] == "2026-10-02T14:06:40Z"
    assert rows[0].values["item_id"].startswith("dyi-") and rows[0].values["parent_id"] is None


def test_graph_api_nested_comments_parents_and_unmapped_items(tmp_path: Path) -> None:
    reader, rows = read(write_graph_api(tmp_path))
    assert reader.platform.name == "facebook_graph_api"
    got = [contract(r, "item_type", "item_id", "parent_id", "text") for r in rows]
    assert got == [
        ("post", "1000001_987", None, SCHOOL),
        ("comment", "987_1", "1000001_987", THANKS),
        ("reply", "987_2", "987_1", SHORT),
        ("comment", "987_3", "987", ROAD),  # a bare comment: the object before "_"
        ("reply", "987_4", "987_3", CLINIC),
        ("post", None, None, None),
        ("post", None, None, None),
    ]
    post = rows[0].values
    assert contract(rows[0], "reactions", "comments", "shares", "created_at", "author") == (
        1234, 2, 4, "2026-10-02T01:14:00Z", "សាលាឃុំ",
    )  # fmt: skip
    assert post["from.id"] == "1000001" and "comments.data" not in post  # nested comments became rows
    assert contract(rows[1], "reactions", "comments") == (3, 1)
    assert [r.problem.value if r.problem else None for r in rows] == [None] * 5 + ["unmapped_row"] * 2
    assert rows[5].values["story"] == "a cover photo changed" and rows[6].values["value"] == 42  # kept


def test_facepager_links_nodes_to_their_parents(tmp_path: Path) -> None:
    reader, rows = read(write_facepager(tmp_path))
    assert reader.platform.name == "facepager"
    assert [contract(r, "item_type", "item_id", "parent_id", "author") for r in rows] == [
        ("post", "1000001_987", None, "សាលាឃុំ"),
        ("comment", "987_1", "1000001_987", "ស្រីនី"),
        ("reply", "987_2", "987_1", "វណ្ណា"),
    ]
    assert rows[1].values["original.parent_id"] == "1"  # Facepager's own node id, kept aside
    assert contract(rows[1], "reactions", "comments", "created_at") == (3, 1, "2026-10-02T02:00:00Z")


@pytest.mark.parametrize("lines", [False, True])
def test_facebook_scraper_flattens_nested_replies(tmp_path: Path, lines: bool) -> None:
    reader, rows = read(write_facebook_scraper(tmp_path, lines=lines))
    assert reader.platform.name == "facebook_scraper"
    got = [contract(r, "item_type", "item_id", "parent_id", "text") for r in rows[:5]]
    assert got == [
        ("post", "987", None, SCHOOL),
        ("comment", "c1", "987", THANKS),
        ("reply", "r1", "c1", SHORT),
        ("reply", "r2", "c1", ROAD),
        ("comment", "c2", "987", CLINIC),
    ]
    assert rows[0].values["created_at"] == "2026-10-02T01:14:00Z"  # the Unix timestamp
    assert rows[1].values["created_at"] == "2026-10-02T02:00:00Z"  # naive, in Phnom Penh
    assert contract(rows[0], "reactions", "comments", "shares") == (100, 4, 2)
    assert [r.values["reactions"] for r in rows[1:5]] == [3, None, 7, None]
    assert "comments_full" not in rows[0].values and "replies" not in rows[1].values
    if lines:
        assert len(rows) == 6 and rows[5].problem is not None and rows[5].problem.value == "unreadable_row"
    else:
        assert len(rows) == 5
