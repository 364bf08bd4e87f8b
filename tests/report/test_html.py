"""The page: self-contained, every chart drawn, Khmer headings, text escaped (khmer_civic.report.html)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from report_data import PLATFORM_COLUMNS, hand_rows, schema_with_cta_type, synthetic_rows, write_labelled

from khmer_civic.report.html import CONTENT_SECURITY_POLICY, chart_names, render_html
from khmer_civic.report.i18n import word
from khmer_civic.report.rows import read_labelled
from khmer_civic.report.tables import build_report, model_table

SCHEMA = schema_with_cta_type()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("statsmodels")
    rows = synthetic_rows(SCHEMA, posts=120) + hand_rows(SCHEMA)
    path = write_labelled(tmp_path_factory.mktemp("page") / "posts.jsonl", rows, SCHEMA, PLATFORM_COLUMNS)
    return build_report(read_labelled(path, SCHEMA), model_table("m", "1", "/m", None), period="month")


def test_the_page_asks_for_nothing_outside_it(report):
    page = render_html(report)
    assert CONTENT_SECURITY_POLICY in page and "default-src 'none'" in page
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page)
    assert not re.search(r"\bsrc\s*=", page) and "@import" not in page and "url(" not in page
    # the only addresses are the posts' own links, which load nothing unless clicked
    for href in re.findall(r'href="([^"]+)"', page):
        assert href.startswith("#") or href.startswith("https://example.invalid/"), href


def test_every_chart_has_marks(report):
    page = render_html(report)
    names = chart_names(page)
    assert names == ["chart_topics_sentiment", "cta_by_topic", "chart_cta_over_time", "chart_engagement",
                     "chart_comment_negative"]  # fmt: skip
    for figure in re.findall(r'<figure class="chart".*?</figure>', page, flags=re.S):
        assert figure.count('class="mark"') > 0


def test_khmer_headings_and_font_stack(report):
    page = render_html(report, "km")
    assert '<html lang="km">' in page
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert len(headings) == len(set(headings)) == 7
    for key in ("overview", "topics_sentiment", "cta", "engagement", "post_comments", "examples", "model"):
        heading = word(key, "km")
        assert re.search("[\u1780-\u17ff]", heading), key
        assert f"<h2>{heading}</h2>" in page
    assert '"Noto Sans Khmer", "Khmer OS"' in page


def test_text_from_the_data_is_escaped(tmp_path: Path):
    rows = hand_rows(SCHEMA)
    rows[1]["text"] = '<script>alert("x")</script> គ្រូខ្វះ'
    path = write_labelled(tmp_path / "x.jsonl", rows, SCHEMA, PLATFORM_COLUMNS)
    page = render_html(build_report(read_labelled(path, SCHEMA), model_table("m", "1", "/m", None)))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_too_few_posts_is_said_in_words(tmp_path: Path):
    path = write_labelled(tmp_path / "x.jsonl", hand_rows(SCHEMA), SCHEMA, PLATFORM_COLUMNS)
    report = build_report(read_labelled(path, SCHEMA), model_table("m", "1", "/m", None))
    assert word("too_few_posts", "en") in render_html(report, "en")
    assert word("too_few_posts", "km") in render_html(report, "km")
