"""youtube-comment-downloader output (khmer_civic.io.platforms.youtube)."""

from __future__ import annotations

import json
from pathlib import Path

from exports import ROAD, SCHOOL, THANKS, YOUTUBE_COMMENTS, write_youtube

from khmer_civic.io.platforms import PlatformReader
from khmer_civic.io.readers import open_table


def test_comments_replies_times_and_votes(tmp_path: Path) -> None:
    with open_table(write_youtube(tmp_path, broken=True)) as reader:
        assert isinstance(reader, PlatformReader) and reader.platform.name == "youtube_comment_downloader"
        rows = list(reader.rows())
    assert len(rows) == len(YOUTUBE_COMMENTS) + 1  # the cut line is kept
    cut = rows.pop(1)
    assert cut.problem is not None and cut.problem.value == "unreadable_row"
    values = [r.values for r in rows]
    assert [(v["item_type"], v["item_id"], v["parent_id"]) for v in values] == [
        ("comment", "UgxA", None),
        ("reply", "UgxA.R1", "UgxA"),
        ("comment", "UgxB", None),
    ]
    assert [v["text"] for v in values] == [SCHOOL, THANKS, ROAD]
    assert [v["reactions"] for v in values] == [1200, 0, 15]  # "1.2K" votes
    assert [v["comments"] for v in values] == [2, None, 0]
    assert [v["created_at"] for v in values] == ["2026-10-02T01:14:00Z", "2026-10-03T01:14:00Z", "2026-10-03T04:00:00Z"]
    assert values[0]["time"] == "2 days ago" and values[0]["author"] == "@sokha" and values[0]["url"] is None


def test_pretty_json_output_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "comments.json"
    path.write_text(json.dumps({"comments": YOUTUBE_COMMENTS}, ensure_ascii=False, indent=4), encoding="utf-8")
    with open_table(path) as reader:
        assert reader.platform.name == "youtube_comment_downloader"
        assert [r.values["item_id"] for r in reader.rows()] == ["UgxA", "UgxA.R1", "UgxB"]
