"""Charts as inline SVG strings, drawn here in Python: no script, no font or image file, no request.

Every data mark (bar, point, line, whisker) has the class ``mark``, so a test can count what a
chart drew; text inherits the page's font stack (Khmer-capable), so labels in Khmer render.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 720
LABEL_WIDTH = 200
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 30  # room for the legend
BOTTOM = 28  # room for the axis labels
PALETTE = ("#3b6ea5", "#e08a2c", "#5a9e5a", "#b65f9d", "#8c6d4f", "#5fa8a8", "#a55a5a", "#7a7a7a")
SENTIMENT_COLOURS = {"negative": "#c0392b", "neutral": "#95a5a6", "positive": "#27ae60"}


def colour(name: str, index: int) -> str:
    """The colour of a series: sentiments their own, others from the palette."""
    return SENTIMENT_COLOURS.get(name, PALETTE[index % len(PALETTE)])


def _svg(height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'dominant-baseline="middle"{klass}>{escape(text)}</text>'
    )


def _legend(names: Sequence[str], shown: Sequence[str]) -> list[str]:
    parts, x = [], LABEL_WIDTH
    for i, (name, label) in enumerate(zip(names, shown)):
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour(name, i)}"/>')
        parts.append(_text(x + 16, 14, label))
        x += 24 + 8 * max(len(label), 4)
    return parts


def _percent_axis(height: int) -> list[str]:
    plot = WIDTH - LABEL_WIDTH - 20
    parts = []
    for tick in (0, 25, 50, 75, 100):
        x = LABEL_WIDTH + plot * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - BOTTOM + 4}" stroke="#ddd"/>')
        parts.append(_text(x, height - BOTTOM / 2, f"{tick}%", anchor="middle", size=11))
    return parts


def stacked_shares(
    title: str, categories: Sequence[str], series: Sequence[str], shares: Sequence[Sequence[float | None]],
    *, category_labels: Sequence[str] | None = None, series_labels: Sequence[str] | None = None,
) -> str:  # fmt: skip
    """Horizontal bars of 100%: one per category, split by the share of each series (``shares[c][s]``)."""
    height = TOP + ROW_HEIGHT * len(categories) + BOTTOM
    plot = WIDTH - LABEL_WIDTH - 20
    body = _legend(series, series_labels or series) + _percent_axis(height)
    for row, (category, values) in enumerate(zip(category_labels or categories, shares)):
        y = TOP + row * ROW_HEIGHT
        body.append(_text(LABEL_WIDTH - 8, y + BAR_HEIGHT / 2, category, anchor="end"))
        x = float(LABEL_WIDTH)
        for i, (name, share) in enumerate(zip(series, values)):
            if not share:
                continue
            width = plot * share
            body.append(
                f'<rect class="mark" x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{colour(name, i)}"><title>{escape(f"{category}: {name} {100 * share:.1f}%")}</title></rect>'
            )
            x += width
    return _svg(height, body, title)


def share_bars(title: str, categories: Sequence[str], shares: Sequence[float | None], *, note: Sequence[str] = ()) -> str:
    """Horizontal bars of shares (0 to 100%), one per category, the value written at the bar's end."""
    height = TOP + ROW_HEIGHT * len(categories) + BOTTOM
    plot = WIDTH - LABEL_WIDTH - 20
    body = _percent_axis(height)
    for row, (category, share) in enumerate(zip(categories, shares)):
        y = TOP + row * ROW_HEIGHT
        body.append(_text(LABEL_WIDTH - 8, y + BAR_HEIGHT / 2, category, anchor="end"))
        if share is None:
            continue
        width = max(plot * share, 1.0)  # a zero share still shows a hairline
        extra = f" ({note[row]})" if row < len(note) and note[row] else ""
        body.append(
            f'<rect class="mark" x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{PALETTE[0]}"><title>{escape(f"{category}: {100 * share:.1f}%{extra}")}</title></rect>'
        )
        body.append(_text(LABEL_WIDTH + width + 4, y + BAR_HEIGHT / 2, f"{100 * share:.1f}%{extra}", size=11))
    return _svg(height, body, title)


def share_line(title: str, periods: Sequence[str], shares: Sequence[float | None]) -> str:
    """A line of shares over periods (0 to 100% on the vertical axis), a point per period."""
    height, left, right, top, bottom = 300, 60, 20, 20, 70
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = plot_w / max(len(periods) - 1, 1)
    body = []
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(_text(left - 6, y, f"{tick}%", anchor="end", size=11))
    every = max(1, len(periods) // 12)  # at most about twelve period labels
    points = []
    for i, (period, share) in enumerate(zip(periods, shares)):
        x = left + (i * step if len(periods) > 1 else plot_w / 2)
        if i % every == 0:
            body.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 12}" font-size="11" text-anchor="end" '
                f'transform="rotate(-40 {x:.1f} {top + plot_h + 12})">{escape(period)}</text>'
            )
        if share is not None:
            points.append((x, top + plot_h * (1 - share), period, share))
    if len(points) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y, _, _) in enumerate(points))
        body.append(f'<path class="mark" d="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    for x, y, period, share in points:
        body.append(
            f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PALETTE[0]}">'
            f"<title>{escape(f'{period}: {100 * share:.1f}%')}</title></circle>"
        )
    return _svg(height, body, title)


def intervals(title: str, rows: Sequence[tuple[str, float, float, float]], *, unit: str = "") -> str:
    """A point and its interval per row (``label, estimate, low, high``) on one linear axis from 0."""
    height = TOP + ROW_HEIGHT * len(rows) + BOTTOM
    plot = WIDTH - LABEL_WIDTH - 60
    top_value = max((high for _, _, _, high in rows), default=1.0) or 1.0
    scale = plot / top_value
    body = []
    for i in range(5):
        value = top_value * i / 4
        x = LABEL_WIDTH + value * scale
        body.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - BOTTOM + 4}" stroke="#ddd"/>')
        body.append(_text(x, height - BOTTOM / 2, f"{value:,.3g}", anchor="middle", size=11))
    for row, (label, estimate, low, high) in enumerate(rows):
        y = TOP + row * ROW_HEIGHT + BAR_HEIGHT / 2
        body.append(_text(LABEL_WIDTH - 8, y, label, anchor="end"))
        tip = escape(f"{label}: {estimate:,.4g}{unit} [{low:,.4g}, {high:,.4g}]")
        x_low, x_high, x_mid = (LABEL_WIDTH + v * scale for v in (low, high, estimate))
        body.append(
            f'<line class="mark" x1="{x_low:.1f}" y1="{y}" x2="{max(x_high, x_low + 1):.1f}" y2="{y}" '
            f'stroke="{PALETTE[0]}" stroke-width="2"><title>{tip}</title></line>'
        )
        body.append(
            f'<circle class="mark" cx="{x_mid:.1f}" cy="{y}" r="5" fill="{PALETTE[1]}"><title>{tip}</title></circle>'
        )
    return _svg(height, body, title)
