"""The example exports in examples/exports: what make_examples.py writes, read as their formats."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from khmer_civic.io.platforms import PlatformReader
from khmer_civic.io.readers import open_table

EXPORTS = Path(__file__).resolve().parents[3] / "examples" / "exports"
FORMATS = {
    "meta_business_suite_posts.csv": "meta_business_suite",
    "facebook_comments_graph.json": "facebook_graph_api",
    "facebook_page_graph.json": "facebook_graph_api",
    "telegram_result.json": "telegram_desktop",
    "youtube_comments.jsonl": "youtube_comment_downloader",
}


def test_the_committed_examples_are_what_the_script_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_examples", EXPORTS / "make_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.write_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(FORMATS)
    for path in written:
        assert path.read_bytes() == (EXPORTS / path.name).read_bytes(), path.name


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_example_reads_as_its_format_with_every_row_mapped(name: str) -> None:
    with open_table(EXPORTS / name) as reader:
        assert isinstance(reader, PlatformReader) and reader.platform.name == FORMATS[name]
        rows = [r for r in reader.rows()]
    assert rows and all(r.problem is None for r in rows)
    assert all(r.values["item_id"] and r.values["created_at"] and r.values["text"] for r in rows)


def test_comments_link_to_the_business_suite_posts() -> None:
    with open_table(EXPORTS / "meta_business_suite_posts.csv") as reader:
        posts = {r.values["item_id"]: r.values for r in reader.rows()}
    with open_table(EXPORTS / "facebook_comments_graph.json") as reader:
        comments = [r.values for r in reader.rows()]
    ids = {c["item_id"] for c in comments}
    assert len(posts) == 40 and len(comments) >= 150
    assert all(c["parent_id"] in (posts if c["item_type"] == "comment" else ids) for c in comments)
    for post_id, post in posts.items():  # the export's comment count is the thread in the comments file
        assert post["comments"] == sum(1 for c in comments if c["item_id"].startswith(post_id + "_"))
    months = {p["created_at"][:7] for p in posts.values()}
    assert months == {"2026-08", "2026-09", "2026-10"}
