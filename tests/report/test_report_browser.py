"""The report page in a real headless browser: Debian's chromium driven by Playwright.

.ci/run installs chromium when /usr/bin/chromium is missing; Playwright's own browser download
is never used (``executable_path``). Skipped, with the reason, only when either is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from report_data import PLATFORM_COLUMNS, hand_rows, schema_with_cta_type, synthetic_rows, write_labelled

from khmer_civic.report.html import chart_names, render_html
from khmer_civic.report.rows import read_labelled
from khmer_civic.report.tables import build_report, model_table

CHROMIUM = Path("/usr/bin/chromium")
SCHEMA = schema_with_cta_type()
# Generous: the page needs well under a second, but a CI machine running other jobs may be slow.
LOAD_TIMEOUT_MS = 180_000

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not CHROMIUM.exists() and shutil.which("chromium") is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)", allow_module_level=True)
pytest.importorskip("statsmodels")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.mark.parametrize("lang", ["en", "km"])
def test_the_page_loads_offline_and_every_chart_draws(browser, tmp_path: Path, lang: str):
    rows = synthetic_rows(SCHEMA, posts=150) + hand_rows(SCHEMA)
    data = write_labelled(tmp_path / "posts.jsonl", rows, SCHEMA, PLATFORM_COLUMNS)
    html = render_html(build_report(read_labelled(data, SCHEMA), model_table("m", "1", "/m", None)), lang)
    page_file = tmp_path / "report.html"
    page_file.write_text(html, encoding="utf-8")
    expected_charts = chart_names(html)
    assert len(expected_charts) == 5

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    requests: list[str] = []
    failed: list[str] = []
    console: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failed.append(f"{request.url} {request.failure}"))
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.goto(page_file.as_uri(), wait_until="load")

    assert requests == [page_file.as_uri()]  # the page itself and nothing else
    assert failed == []
    assert [m for m in console if m.startswith(("error", "pageerror"))] == []
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll('figure.chart')).map(figure => {
            const svg = figure.querySelector('svg');
            const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
            const marks = svg ? Array.from(svg.querySelectorAll('.mark')) : [];
            const visible = marks.filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });
            return {name: figure.dataset.chart, width: box.width, height: box.height,
                    marks: marks.length, visible: visible.length};
        })"""
    )
    assert [chart["name"] for chart in drawn] == expected_charts
    for chart in drawn:
        assert chart["width"] > 0 and chart["height"] > 0, chart
        assert chart["marks"] > 0 and chart["visible"] == chart["marks"], chart
    assert page.evaluate("document.documentElement.lang") == lang
    headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
    assert len(headings) == 7

    shot = tmp_path / f"report-{lang}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.close()
