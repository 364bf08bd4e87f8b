"""Telling platform exports from the file (khmer_civic.io.platforms.registry); plain tables read as before."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from exports import (
    MBS_HEADER,
    write_crowdtangle,
    write_dyi_comments,
    write_dyi_posts,
    write_facebook_scraper,
    write_facepager,
    write_graph_api,
    write_meta_business_suite,
    write_meta_business_suite_renamed,
    write_telegram_account,
    write_telegram_chat,
    write_youtube,
)

from khmer_civic.io.errors import TableError, UnsupportedFormatError
from khmer_civic.io.platforms import (
    FORMAT_NAMES,
    FORMATS,
    PlatformReader,
    UnknownTimeZoneError,
    detect_platform,
    read_sample,
)
from khmer_civic.io.readers import DelimitedReader, JsonLinesReader, open_table

WRITERS: dict[str, list[Callable[[Path], Path]]] = {
    "meta_business_suite": [write_meta_business_suite, write_meta_business_suite_renamed],
    "crowdtangle": [write_crowdtangle],
    "facebook_dyi": [write_dyi_posts, write_dyi_comments],
    "facebook_graph_api": [write_graph_api],
    "facepager": [write_facepager],
    "facebook_scraper": [write_facebook_scraper, lambda folder: write_facebook_scraper(folder, lines=True)],
    "telegram_desktop": [write_telegram_chat, write_telegram_account],
    "youtube_comment_downloader": [write_youtube],
}


def test_every_format_has_a_fixture() -> None:
    assert set(WRITERS) == {f.name for f in FORMATS}
    assert FORMAT_NAMES[-1] == "table"


@pytest.mark.parametrize(("name", "index"), [(n, i) for n, ws in WRITERS.items() for i in range(len(ws))])
def test_each_export_is_detected_as_its_format_only(tmp_path: Path, name: str, index: int) -> None:
    path = WRITERS[name][index](tmp_path)
    sample = read_sample(path)
    assert sample is not None
    found = detect_platform(sample)
    assert found is not None and found.name == name
    scores = {f.name: f.detect(sample) for f in FORMATS}
    assert scores[name] == max(scores.values())
    assert [n for n, s in scores.items() if s == scores[name]] == [name]  # no tie with another format


def test_plain_tables_are_not_platform_exports(tmp_path: Path) -> None:
    plain_csv = tmp_path / "comments.csv"
    plain_csv.write_text("id,message,post_id,created_time\n1,សួស្តី,9,2026-10-02\n", encoding="utf-8")
    plain_jsonl = tmp_path / "dump.jsonl"
    plain_jsonl.write_text(json.dumps({"id": 1, "text": "សួស្តី", "cid": 3}) + "\n", encoding="utf-8")
    with open_table(plain_csv) as reader:
        assert type(reader) is DelimitedReader and reader.columns == ["id", "message", "post_id", "created_time"]
    with open_table(plain_jsonl) as reader:
        assert type(reader) is JsonLinesReader
    other_json = tmp_path / "array.json"
    other_json.write_text(json.dumps([{"id": 1, "text": "x"}]), encoding="utf-8")
    with pytest.raises(UnsupportedFormatError, match="JSON Lines"):  # the message .json always had
        open_table(other_json)


def test_most_specific_match_wins(tmp_path: Path) -> None:
    """A CrowdTangle file that happens to hold Post ID and Publish time columns too is still CrowdTangle."""
    path = write_crowdtangle(tmp_path)
    text = path.read_text(encoding="utf-8").splitlines()
    text[0] += ";Post ID;Publish time;Title"
    text[1:] = [line + ";;;" for line in text[1:]]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    sample = read_sample(path)
    assert sample is not None
    mbs = next(f for f in FORMATS if f.name == "meta_business_suite")
    assert mbs.detect(sample) > 0  # both claim it
    found = detect_platform(sample)
    assert found is not None and found.name == "crowdtangle"


def test_format_forces_a_reading_and_table_turns_detection_off(tmp_path: Path) -> None:
    path = write_meta_business_suite(tmp_path)
    with open_table(path, format_name="table") as reader:
        assert type(reader) is DelimitedReader and reader.columns == MBS_HEADER
    plain = tmp_path / "plain.csv"
    with open(plain, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["Post ID", "Description"], ["77", "សួស្តី"]])
    with open_table(plain) as reader:
        assert type(reader) is DelimitedReader  # too few of its columns to be told from the file
    with open_table(plain, format_name="meta_business_suite") as reader:
        assert isinstance(reader, PlatformReader)
        (row,) = [r.values for r in reader.rows()]
    assert (row["item_id"], row["text"], row["created_at"]) == ("77", "សួស្តី", None)


def test_unknown_format_and_zone_are_usage_errors(tmp_path: Path) -> None:
    path = write_meta_business_suite(tmp_path)
    with pytest.raises(TableError, match="meta_business_suite, crowdtangle") as raised:
        open_table(path, format_name="instagram")
    assert "unknown input format 'instagram'" in str(raised.value)
    with pytest.raises(UnknownTimeZoneError, match="Mars/Olympus"):
        open_table(path, timezone="Mars/Olympus")
    with pytest.raises(UnknownTimeZoneError):  # also for a plain table: the option is wrong whatever the file
        open_table(tmp_path / "x.csv", timezone="Nowhere")


def test_rows_resume_from_a_start_row(tmp_path: Path) -> None:
    with open_table(write_facebook_scraper(tmp_path)) as reader:
        every = [r.values["item_id"] for r in reader.rows()]
        assert [r.values["item_id"] for r in reader.rows(3)] == every[3:]
