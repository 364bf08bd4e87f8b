"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no script.

Nothing on the page asks for anything outside it: no font, style sheet, image or script file, and a
Content-Security-Policy that forbids them (``default-src 'none'``), so the page opens offline
and never calls home. Khmer text uses a font stack of Khmer-capable fonts found on Windows,
macOS, Android and Linux (Noto Sans Khmer, Khmer OS ...) and a taller line height for its
stacked vowels and subscripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from khmer_civic.schema import labels_from_text
from khmer_civic.report import charts
from khmer_civic.report.i18n import header, message, word
from khmer_civic.report.stats import MIN_POSTS_PER_GROUP
from khmer_civic.report.tables import MIN_COMMENTS_RANKED, NO_DATE, Note, Report, Table

POSTS_SHOWN = 50  # rows of the per-post table on the page (the workbook has them all)
FONT_STACK = (
    '"Noto Sans Khmer", "Khmer OS", "Khmer OS System", "Khmer OS Content", "Leelawadee UI", "Khmer UI", '
    '"Noto Sans", "Segoe UI", Arial, sans-serif'
)
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# Columns whose cells are words of the report (labels, groups, notes) shown in the page's language.
_WORD_COLUMNS = frozenset({"topic", "group", "metric", "note", "label", "figure", "period", "task", "method"})

CSS = f"""
body {{ font-family: {FONT_STACK}; line-height: 1.7; margin: 0 auto; max-width: 1100px; padding: 1em 2em;
  color: #222; background: #fff; }}
h1 {{ font-size: 1.6em; }} h2 {{ border-bottom: 2px solid #3b6ea5; padding-bottom: .2em; margin-top: 2em; }}
h3 {{ font-size: 1.05em; margin-top: 1.5em; }}
nav a {{ margin-right: 1em; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }}
th, td {{ border: 1px solid #ccc; padding: .25em .6em; vertical-align: top; }}
th {{ background: #eef2f7; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
td.text {{ max-width: 40em; }}
p.note {{ color: #555; font-size: .92em; }}
figure {{ margin: 1em 0; }} figcaption {{ font-size: .9em; color: #555; }}
svg text {{ font-family: {FONT_STACK}; fill: #333; }}
"""


def render_html(report: Report, lang: str = "en") -> str:
    """The page of ``report`` in ``lang`` (``en`` or ``km``)."""
    page = _Page(lang)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(page.w('title'))}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(page.w('title'))}</h1>",
        page.note(Note("source", {"source": report.source, "period": page.w(report.period)})),
        "<nav>" + "".join(f'<a href="#{key}">{escape(page.w(key))}</a>' for key in _SECTIONS) + "</nav>",
    ]
    for key in _SECTIONS:
        parts.append(f'<section id="{key}"><h2>{escape(page.w(key))}</h2>')
        parts += _SECTIONS[key](page, report)
        parts += [page.note(n) for n in report.notes.get(key, [])]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


class _Page:
    """Rendering helpers bound to a language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.charts = 0

    def w(self, key: str) -> str:
        return word(key, self.lang)

    def note(self, note: Note) -> str:
        return f'<p class="note">{escape(message(note.key, note.values, self.lang))}</p>'

    def cell(self, column: str, value: Any) -> str:
        if value is None:
            return '<td class="num">–</td>'
        if isinstance(value, bool):
            return f"<td>{escape(self.w('yes' if value else 'no'))}</td>"
        if isinstance(value, (int, float)):
            if column.endswith(("_share", "_rate")):
                shown = f"{100 * value:.1f}%"
            elif isinstance(value, int):
                shown = f"{value:,}"
            else:
                shown = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.1f}"
            return f'<td class="num">{shown}</td>'
        text = str(value)
        if column in _WORD_COLUMNS:
            return f"<td>{escape(self.w(text))}</td>"
        if column == "url" and text.startswith(("https://", "http://")):
            # a plain link: it leaves the page only when the reader clicks it
            return f'<td class="text"><a href="{escape(text)}" rel="noreferrer noopener">{escape(text)}</a></td>'
        if column == "topics":
            return "<td>" + escape(", ".join(self.w(t) for t in labels_from_text(text))) + "</td>"
        return f'<td class="text">{escape(text)}</td>'

    def table(self, table: Table | None, *, title: str | None = None, limit: int | None = None) -> list[str]:
        if table is None:
            return []
        parts = [f"<h3>{escape(self.w(title or table.name))}</h3>"] if title != "" else []
        head = "".join(f"<th>{escape(header(c, self.lang))}</th>" for c in table.columns)
        body = [
            "<tr>" + "".join(self.cell(c, v) for c, v in zip(table.columns, row)) + "</tr>"
            for row in table.rows[:limit]
        ]
        parts.append(f'<table data-table="{escape(table.name)}"><thead><tr>{head}</tr></thead><tbody>')
        parts += body
        parts.append("</tbody></table>")
        return parts

    def figure(self, name: str, svg: str) -> list[str]:
        self.charts += 1
        return [f'<figure class="chart" data-chart="{name}">{svg}<figcaption>{escape(self.w(name))}</figcaption></figure>']


# ------------------------------------------------------------------------------ sections


def _overview(page: _Page, report: Report) -> list[str]:
    return page.table(report.overview, title="") + page.table(report.statuses) + page.table(report.item_types)


def _share_columns(table: Table) -> list[str]:
    return [c for c in table.columns if c.endswith("_share")]


def _topics_sentiment(page: _Page, report: Report) -> list[str]:
    table = report.topics_sentiment
    if table is None:
        return []
    shares = _share_columns(table)
    drawn = [row for row in table.as_dicts() if row["rows"]]
    parts: list[str] = []
    if drawn:
        series = [c[: -len("_share")] for c in shares]
        svg = charts.stacked_shares(
            page.w("chart_topics_sentiment"),
            [row["topic"] for row in drawn],
            series,
            [[row[c] for c in shares] for row in drawn],
            category_labels=[f"{page.w(row['topic'])} ({row['rows']:,})" for row in drawn],
            series_labels=[page.w(s) for s in series],
        )
        parts += page.figure("chart_topics_sentiment", svg)
    return parts + page.table(table, title="")


def _cta(page: _Page, report: Report) -> list[str]:
    parts: list[str] = []
    table = report.cta_by_topic
    if table is not None:
        drawn = [row for row in table.as_dicts() if row["rows"]]
        if drawn:
            svg = charts.share_bars(
                page.w("cta_by_topic"),
                [f"{page.w(row['topic'])} ({row['rows']:,})" for row in drawn],
                [row["cta_rate"] for row in drawn],
            )
            parts += page.figure("cta_by_topic", svg)
        parts += page.table(table)
    parts += page.table(report.cta_type_by_topic)
    over_time = report.cta_over_time
    if over_time is not None:
        dated = [row for row in over_time.as_dicts() if row["period"] != NO_DATE and row["rows"]]
        if dated:
            svg = charts.share_line(
                page.w("chart_cta_over_time"), [row["period"] for row in dated], [row["cta_rate"] for row in dated]
            )
            parts += page.figure("chart_cta_over_time", svg)
        parts += page.table(over_time)
    return parts


def _engagement(page: _Page, report: Report) -> list[str]:
    medians = report.engagement_medians
    if medians is None:
        return []
    parts: list[str] = []
    drawn = [
        (f"{page.w(r['metric'])}: {page.w(r['group'])}", r["median"], r["ci_low"], r["ci_high"])
        for r in medians.as_dicts()
        if r["median"] is not None
    ]
    if drawn:
        parts += page.figure("chart_engagement", charts.intervals(page.w("chart_engagement"), drawn))
    parts += page.table(medians) + page.table(report.engagement_rate_ratios)
    parts.append(page.note(Note("too_few_rule", {"minimum": MIN_POSTS_PER_GROUP})))
    return parts


def _comments(page: _Page, report: Report) -> list[str]:
    parts: list[str] = []
    most = report.most_negative
    if most is not None and most.rows:
        rows = most.as_dicts()
        svg = charts.share_bars(
            page.w("chart_comment_negative"),
            [f"{page.w(r['topic'])} · {_short(str(r['post_id']))}" for r in rows],
            [r["negative_share"] for r in rows],
            note=[f"{r['comments_labelled']:,}" for r in rows],
        )
        parts += page.figure("chart_comment_negative", svg)
    if most is not None:
        parts += page.table(most)
        parts.append(page.note(Note("most_negative_rule", {"minimum": MIN_COMMENTS_RANKED})))
    posts = report.post_sentiment
    if posts is not None:
        parts += page.table(posts, limit=POSTS_SHOWN)
        if len(posts.rows) > POSTS_SHOWN:
            parts.append(page.note(Note("posts_shown", {"shown": POSTS_SHOWN, "total": len(posts.rows)})))
    return parts


def _short(post_id: str, keep: int = 12) -> str:
    """A long post id (Graph API ``page_post``) cut to its end, to fit a chart's label column."""
    return post_id if len(post_id) <= keep + 2 else "…" + post_id[-keep:]


def _examples(page: _Page, report: Report) -> list[str]:
    return page.table(report.examples, title="")


def _model(page: _Page, report: Report) -> list[str]:
    path = next((row[1] for row in report.model.rows if row[0] == "model_path"), "")
    return page.table(report.model, title="") + [page.note(Note("model_source", {"path": path}))]


_SECTIONS = {
    "overview": _overview,
    "topics_sentiment": _topics_sentiment,
    "cta": _cta,
    "engagement": _engagement,
    "post_comments": _comments,
    "examples": _examples,
    "model": _model,
}


def chart_names(html: str) -> Sequence[str]:
    """The ``data-chart`` names of the figures on a rendered page (for checks and tests)."""
    import re

    return re.findall(r'<figure class="chart" data-chart="([^"]+)"', html)
