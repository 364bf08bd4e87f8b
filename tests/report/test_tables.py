"""Each table of the report from a small hand-made labelled file (khmer_civic.report.tables)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_data import PLATFORM_COLUMNS, hand_rows, schema_with_cta_type, synthetic_rows, write_labelled

from khmer_civic.report import tables
from khmer_civic.report.rows import read_labelled
from khmer_civic.report.tables import build_report, model_table
from khmer_civic.schema import default_schema

SCHEMA = schema_with_cta_type()
MODEL = model_table("m", "1", "/m", None)


def report_of(path: Path, schema=SCHEMA, period: str = "month"):
    return build_report(read_labelled(path, schema), MODEL, period=period)


@pytest.fixture(scope="module")
def hand_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_labelled(tmp_path_factory.mktemp("hand") / "hand.jsonl", hand_rows(SCHEMA), SCHEMA, PLATFORM_COLUMNS)


@pytest.fixture(scope="module")
def hand(hand_file: Path):
    return report_of(hand_file)


def as_dict(table, key: str = "figure"):
    return {row[key]: row for row in table.as_dicts()}


def test_overview_counts_every_row(hand):
    figures = {row["figure"]: row["value"] for row in hand.overview.as_dicts()}
    assert figures["rows"] == 10 and figures["rows_labelled"] == 8 and figures["rows_not_labelled"] == 2
    assert figures["first_date"] == "2026-10-05 03:00:00" and figures["rows_without_date"] == 0
    statuses = {row["label_status"]: row["rows"] for row in hand.statuses.as_dicts()}
    assert statuses == {"ok": 8, "empty": 2}
    types = {(r["platform"], r["item_type"]): (r["rows"], r["rows_labelled"]) for r in hand.item_types.as_dicts()}
    assert types == {("facebook", "post"): (3, 2), ("facebook", "comment"): (6, 5), ("facebook", "reply"): (1, 1)}


def test_topics_by_sentiment(hand):
    rows = as_dict(hand.topics_sentiment, "topic")
    assert (rows["education"]["rows"], rows["education"]["negative"], rows["education"]["neutral"]) == (2, 1, 1)
    assert (rows["health"]["rows"], rows["health"]["neutral"]) == (2, 2)
    assert rows["local_administration"]["rows"] == 1
    none = rows["(none)"]
    assert (none["rows"], none["negative"], none["neutral"], none["positive"]) == (4, 2, 1, 1)
    assert none["negative_share"] == 0.5


def test_calls_to_action_by_topic_and_kind(hand):
    rate = as_dict(hand.cta_by_topic, "topic")
    assert (rate["(all)"]["rows"], rate["(all)"]["cta_rows"], rate["(all)"]["cta_rate"]) == (8, 2, 0.25)
    assert (rate["education"]["cta_rows"], rate["education"]["cta_rate"]) == (1, 0.5)
    assert rate["health"]["cta_rows"] == 0 and rate["(none)"]["cta_rows"] == 1
    kinds = as_dict(hand.cta_type_by_topic, "topic")
    assert kinds["(all)"]["cta_type:attend"] == 1 and kinds["(all)"]["cta_type:contact"] == 1
    assert kinds["education"]["cta_type:attend"] == 1 and kinds["education"]["cta_type:contact"] == 0
    assert kinds["(none)"]["cta_type:contact"] == 1


def test_calls_to_action_per_month_and_per_utc_week(hand_file: Path, hand):
    months = {r["period"]: (r["rows"], r["cta_rows"]) for r in hand.cta_over_time.as_dicts()}
    assert months == {"2026-10": (5, 1), "2026-11": (3, 1)}
    weekly = report_of(hand_file, period="week")
    weeks = {r["period"]: (r["rows"], r["cta_rows"]) for r in weekly.cta_over_time.as_dicts()}
    # p2 was posted on Monday 05:00 at UTC+7, Sunday in UTC: the week before its comments
    assert weeks == {"2026-W41": (5, 1), "2026-W45": (1, 0), "2026-W46": (2, 1)}


def test_comment_sentiment_per_post_follows_replies_to_the_post(hand):
    posts = as_dict(hand.post_sentiment, "post_id")
    p1 = posts["p1"]
    assert (p1["comments"], p1["comments_labelled"], p1["negative"], p1["positive"]) == (5, 4, 3, 1)
    assert p1["negative_share"] == 0.75 and p1["page"] == "Page A" and p1["call_to_action"] is True
    assert (posts["p2"]["comments_labelled"], posts["p2"]["neutral"]) == (1, 1)
    assert posts["p3"]["comments"] == 0 and posts["p3"]["topics"] is None  # a post that was not labelled
    assert list(posts) == ["p1", "p2", "p3"]  # most comments first
    assert [(n.key, dict(n.values)) for n in hand.notes["post_comments"]] == [("orphan_comments", {"comments": 1})]


def test_most_negative_posts_need_enough_comments(hand_file: Path, hand, monkeypatch):
    assert hand.most_negative.rows == []  # p1 has 4 labelled comments, fewer than MIN_COMMENTS_RANKED
    monkeypatch.setattr(tables, "MIN_COMMENTS_RANKED", 1)
    ranked = report_of(hand_file).most_negative.as_dicts()
    assert [(r["topic"], r["post_id"]) for r in ranked] == [
        ("education", "p1"), ("health", "p2"), ("local_administration", "p2"),
    ]  # fmt: skip
    assert ranked[0]["negative_share"] == 0.75


def test_engagement_of_two_posts_is_too_few(hand):
    medians = hand.engagement_medians.as_dicts()
    assert {r["metric"] for r in medians} == {"reactions", "comments", "shares"}  # views: empty everywhere
    assert all(r["note"] == "too_few_posts" and r["median"] is None for r in medians)
    assert {r["posts"] for r in medians} == {1}  # p1 with, p2 without; p3 is not labelled
    assert all(r["note"] == "too_few_posts" and r["rate_ratio"] is None for r in hand.engagement_rate_ratios.as_dicts())
    assert ("metric_empty", {"metric": "views"}) in [(n.key, dict(n.values)) for n in hand.notes["engagement"]]


def test_examples_are_the_surest_texts_per_label(hand):
    negative = [r for r in hand.examples.as_dicts() if r["task"] == "sentiment" and r["label"] == "negative"]
    assert [r["row"] for r in negative] == [3, 2, 5]  # c2 (0.97), then c1 and r1 (0.9) in file order
    attend = [r for r in hand.examples.as_dicts() if r["label"] == "attend"]
    assert [r["row"] for r in attend] == [1]


def test_every_format_gives_the_same_tables(tmp_path: Path, hand):
    for suffix in ("csv", "xlsx", "parquet"):
        path = write_labelled(tmp_path / f"hand.{suffix}", hand_rows(SCHEMA), SCHEMA, PLATFORM_COLUMNS)
        other = report_of(path)
        assert [t.name for t in other.tables()] == [t.name for t in hand.tables()]
        for mine, theirs in zip(hand.tables(), other.tables()):
            if mine.name == "examples":  # CSV guards the text "=HYPERLINK(...)" with a quote
                assert mine.column("row") == theirs.column("row")
            else:
                assert mine.rows == theirs.rows, (suffix, mine.name)


def test_a_plain_comment_dump_has_no_engagement_or_threads(tmp_path: Path):
    schema = default_schema()
    rows = [{"message": "សួស្តី", "like_count": 3} | _labels(schema, topics=["health"]) for _ in range(3)]
    rows.append({"message": "", "like_count": 0} | _labels(schema, status="empty"))
    report = report_of(write_labelled(tmp_path / "dump.csv", rows, schema, ["message", "like_count"]), schema)
    assert report.engagement_medians is None and report.post_sentiment is None and report.item_types is None
    assert [n.key for n in report.notes["engagement"]] == ["no_engagement_columns"]
    assert [n.key for n in report.notes["post_comments"]] == ["no_threads"]
    assert report.cta_type_by_topic is None and report.cta_over_time is None
    assert [n.key for n in report.notes["cta"]] == ["no_dates"]
    figures = {row["figure"]: row["value"] for row in report.overview.as_dicts()}
    assert (figures["rows"], figures["rows_labelled"]) == (4, 3)


def _labels(schema, **kwargs):
    from report_data import labelled

    return labelled(schema, **kwargs)


def test_a_file_labelled_by_another_model_is_noted(tmp_path: Path):
    path = write_labelled(tmp_path / "x.jsonl", hand_rows(SCHEMA), SCHEMA, PLATFORM_COLUMNS)
    report = report_of(path, default_schema())  # the model given has no cta_type
    assert [n.key for n in report.notes["model"]] == ["foreign_columns"]
    assert "score_cta_type_attend" in report.notes["model"][0].values["columns"]
    assert report.cta_type_by_topic is None


def test_engagement_on_data_with_a_known_effect(tmp_path: Path):
    pytest.importorskip("statsmodels")
    path = write_labelled(tmp_path / "posts.parquet", synthetic_rows(SCHEMA), SCHEMA, PLATFORM_COLUMNS)
    report = report_of(path)
    ratios = {r["metric"]: r for r in report.engagement_rate_ratios.as_dicts()}
    assert set(ratios) == {"reactions", "comments", "shares", "views"}
    for metric, row in ratios.items():
        assert row["ci_low"] <= 1.5 <= row["ci_high"], (metric, row)
        assert row["posts_with_cta"] + row["posts_without_cta"] == 360
    medians = report.engagement_medians.as_dicts()
    with_cta = {r["metric"]: r["median"] for r in medians if r["group"] == "with_cta"}
    without = {r["metric"]: r["median"] for r in medians if r["group"] == "without_cta"}
    assert all(with_cta[m] > without[m] for m in with_cta)
    figures = {row["figure"]: row["value"] for row in report.overview.as_dicts()}
    assert figures["rows"] == len(synthetic_rows(SCHEMA)) and figures["rows_labelled"] == figures["rows"]


def test_period_must_be_week_or_month(hand_file: Path):
    with pytest.raises(ValueError, match="period"):
        report_of(hand_file, period="year")
