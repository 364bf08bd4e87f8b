"""The report's tables, computed from the rows of a labelled file (:class:`~.rows.LabelledTable`).

Each section is a few :class:`Table` objects (column keys, rows of plain values) that the HTML page
(:mod:`.html`) and the workbook (:mod:`.xlsx`) both render, so they always show the same figures.
Counts cover **every row**: rows that were not labelled (``label_status`` other than ``ok``) are
counted in the overview and left out of the label tables, which count labelled rows only.

- overview: rows, rows labelled, rows per ``label_status``, per item type and platform, dates;
- topics × sentiment: labelled rows per topic (a row with two topics counts in both; ``(none)``:
  no topic) and their sentiment;
- calls to action: the rate by topic, ``cta_type`` among calls to action by topic, both per period;
- engagement: for posts (``item_type`` ``post``) with and without a call to action, the median of
  each engagement column with its bootstrap interval and the rate ratio (:mod:`.stats`);
- comments per post: the sentiment of the labelled comments and replies under each post (a reply
  counts for the post its thread hangs from), and per topic the posts whose comments are most
  negative (at least :data:`MIN_COMMENTS_RANKED` labelled comments);
- examples: the texts the model is surest of, per label;
- the model: name, version and test figures from its config.json and metrics.json.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from khmer_civic.io.annotators import NO_LABEL, score_column
from khmer_civic.schema import labels_from_text
from khmer_civic.report.rows import (
    CALL_TO_ACTION,
    CTA_TYPE,
    MISSING,
    POST,
    SENTIMENT,
    TOPICS,
    Item,
    LabelledTable,
)
from khmer_civic.report.stats import TOO_FEW_POSTS, median_interval, rate_ratio
from khmer_civic.schema import LabelStatus, TaskSpec

PERIODS: tuple[str, ...] = ("week", "month")
NO_DATE = "(no date)"
ALL = "(all)"
MIN_COMMENTS_RANKED = 5
MOST_NEGATIVE_PER_TOPIC = 5
EXAMPLES_PER_LABEL = 3
EXAMPLE_CHARS = 300
POST_TEXT_CHARS = 160
NEGATIVE = "negative"
COMMENT_TYPES = frozenset({"comment", "reply"})


@dataclass
class Table:
    """One table: ``name`` (its XLSX sheet and HTML anchor), column keys (see :mod:`.i18n`) and rows.

    Columns whose key ends in ``_share`` or ``_rate`` hold shares in [0, 1], shown as percentages.
    """

    name: str
    columns: list[str]
    rows: list[list[Any]]

    def column(self, key: str) -> list[Any]:
        index = self.columns.index(key)
        return [row[index] for row in self.rows]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


@dataclass(frozen=True)
class Note:
    """A sentence of the report (an :mod:`.i18n` message key and its values)."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """Every table and note of a report, section by section (``None``: the data cannot give it)."""

    source: str
    period: str
    overview: Table
    statuses: Table
    item_types: Table | None
    topics_sentiment: Table | None
    cta_by_topic: Table | None
    cta_type_by_topic: Table | None
    cta_over_time: Table | None
    engagement_medians: Table | None
    engagement_rate_ratios: Table | None
    post_sentiment: Table | None
    most_negative: Table | None
    examples: Table
    model: Table
    notes: dict[str, list[Note]]  # section -> notes

    def tables(self) -> list[Table]:
        """The tables present, in page order."""
        found = [
            self.overview, self.statuses, self.item_types, self.topics_sentiment, self.cta_by_topic,
            self.cta_type_by_topic, self.cta_over_time, self.engagement_medians, self.engagement_rate_ratios,
            self.post_sentiment, self.most_negative, self.examples, self.model,
        ]  # fmt: skip
        return [t for t in found if t is not None]


def period_of(moment: dt.datetime | None, period: str) -> str:
    """``2026-W40`` (ISO week) or ``2026-10`` (month); :data:`NO_DATE` without a date."""
    if moment is None:
        return NO_DATE
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{moment.year}-{moment.month:02d}"
    raise ValueError(f"unknown period {period!r}; expected one of {PERIODS}")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _sorted_periods(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=lambda k: (k == NO_DATE, k))


# ------------------------------------------------------------------------------ overview


def overview(data: LabelledTable, period: str) -> tuple[Table, Table, Table | None]:
    """The overview figures, rows per label_status, and rows per item type and platform."""
    items = data.items
    labelled = sum(item.ok for item in items)
    dates = [item.created for item in items if item.created is not None]
    rows: list[list[Any]] = [
        ["rows", len(items)],
        ["rows_labelled", labelled],
        ["rows_not_labelled", len(items) - labelled],
    ]
    if data.time_column is not None:
        rows.append(["first_date", min(dates).isoformat(sep=" ") if dates else None])
        rows.append(["last_date", max(dates).isoformat(sep=" ") if dates else None])
        rows.append(["rows_without_date", len(items) - len(dates)])
        rows.append(["periods", len({period_of(d, period) for d in dates})])
    statuses = Counter(item.status for item in items)
    ordered = sorted(statuses.items(), key=lambda kv: (kv[0] != LabelStatus.OK.value, -kv[1], kv[0]))
    status_table = Table(
        "label_status", ["label_status", "rows", "rows_share"], [[k, n, _share(n, len(items))] for k, n in ordered]
    )
    types = None
    if data.has_item_types:
        groups: dict[tuple[str, str], list[Item]] = defaultdict(list)
        for item in items:
            groups[(item.platform or MISSING, item.item_type or MISSING)].append(item)
        types = Table(
            "item_types",
            ["platform", "item_type", "rows", "rows_labelled"],
            [[p, t, len(g), sum(i.ok for i in g)] for (p, t), g in sorted(groups.items())],
        )
    return Table("overview", ["figure", "value"], rows), status_table, types


# ------------------------------------------------------------------------------ topics × sentiment


def _topics_of(item: Item) -> list[str]:
    """The item's topics, or ``[(none)]`` for a labelled row without one."""
    return list(item.labels.get(TOPICS) or []) or [NO_LABEL]


def topics_sentiment(data: LabelledTable) -> Table | None:
    """Labelled rows per topic (and ``(none)``) with the count and share of each sentiment."""
    topics, sentiment = data.task(TOPICS), data.task(SENTIMENT)
    if topics is None or sentiment is None:
        return None
    labelled = [item for item in data.items if item.ok]
    columns = ["topic", "rows"] + list(sentiment.labels) + [f"{s}_share" for s in sentiment.labels]
    rows = []
    for topic in [*topics.labels, NO_LABEL]:
        chosen = [item for item in labelled if topic in _topics_of(item)]
        counts = Counter(item.labels.get(SENTIMENT) for item in chosen)
        rows.append(
            [topic, len(chosen)]
            + [counts[s] for s in sentiment.labels]
            + [_share(counts[s], len(chosen)) for s in sentiment.labels]
        )
    return Table("topics_sentiment", columns, rows)


# ------------------------------------------------------------------------------ calls to action


def _cta_row(group: str, items: Sequence[Item], cta_type: TaskSpec | None) -> list[Any]:
    calls = [item for item in items if item.labels.get(CALL_TO_ACTION) is True]
    row: list[Any] = [group, len(items), len(calls), _share(len(calls), len(items))]
    if cta_type is not None:
        kinds = Counter(kind for item in calls for kind in (item.labels.get(CTA_TYPE) or [NO_LABEL]))
        row += [kinds[kind] for kind in [*cta_type.labels, NO_LABEL]]
    return row


def _cta_columns(first: str, cta_type: TaskSpec | None) -> list[str]:
    columns = [first, "rows", "cta_rows", "cta_rate"]
    if cta_type is not None:
        columns += [f"cta_type:{kind}" for kind in [*cta_type.labels, NO_LABEL]]
    return columns


def calls_to_action(data: LabelledTable, period: str) -> tuple[Table | None, Table | None, Table | None]:
    """Call-to-action rate by topic, cta_type by topic (None without cta_type), and both per period."""
    if data.task(CALL_TO_ACTION) is None:
        return None, None, None
    cta_type = data.task(CTA_TYPE)
    labelled = [item for item in data.items if item.ok]
    by_topic_rows = [_cta_row(ALL, labelled, cta_type)]
    if data.task(TOPICS) is not None:
        for topic in [*data.task(TOPICS).labels, NO_LABEL]:  # type: ignore[union-attr]
            by_topic_rows.append(_cta_row(topic, [i for i in labelled if topic in _topics_of(i)], cta_type))
    full = Table("cta_by_topic", _cta_columns("topic", cta_type), by_topic_rows)
    rate_only = Table("cta_by_topic", full.columns[:4], [row[:4] for row in full.rows])
    types = None
    if cta_type is not None:
        types = Table("cta_type_by_topic", ["topic", "cta_rows"] + full.columns[4:], [row[:1] + row[2:3] + row[4:] for row in full.rows])
    over_time = None
    if data.time_column is not None:
        groups: dict[str, list[Item]] = defaultdict(list)
        for item in labelled:
            groups[period_of(item.created, period)].append(item)
        over_time = Table(
            "cta_over_time",
            _cta_columns("period", cta_type),
            [_cta_row(key, groups[key], cta_type) for key in _sorted_periods(groups)],
        )
    return rate_only, types, over_time


# ------------------------------------------------------------------------------ engagement


def posts(data: LabelledTable) -> list[Item]:
    """The rows that are posts (``item_type`` ``post``)."""
    return [item for item in data.items if (item.item_type or "").casefold() == POST]


def engagement(data: LabelledTable, period: str) -> tuple[Table | None, Table | None, list[Note]]:
    """Medians (bootstrap 95% intervals) and rate ratios of each engagement column, posts with vs without a CTA."""
    if not data.engagement_metrics:
        return None, None, [Note("no_engagement_columns")]
    if not data.has_item_types or data.task(CALL_TO_ACTION) is None:
        return None, None, [Note("no_posts")]
    all_posts = posts(data)
    judged = [p for p in all_posts if p.ok and isinstance(p.labels.get(CALL_TO_ACTION), bool)]
    notes = [Note("posts_compared", {"posts": len(all_posts), "labelled": len(judged)})]
    if not judged:
        return None, None, [Note("no_posts")]
    medians: list[list[Any]] = []
    ratios: list[list[Any]] = []
    for metric in data.engagement_metrics:
        with_figure = [p for p in judged if p.engagement.get(metric) is not None]
        if not with_figure:
            notes.append(Note("metric_empty", {"metric": metric}))
            continue
        for has_cta in (True, False):
            values = [p.engagement[metric] for p in with_figure if p.labels[CALL_TO_ACTION] is has_cta]
            interval = median_interval(values)  # type: ignore[arg-type]
            group = "with_cta" if has_cta else "without_cta"
            if interval is None:
                medians.append([metric, group, len(values), None, None, None, TOO_FEW_POSTS])
            else:
                medians.append([metric, group, len(values), interval.estimate, interval.low, interval.high, None])
        result = rate_ratio(
            [p.engagement[metric] for p in with_figure],  # type: ignore[misc]
            [p.labels[CALL_TO_ACTION] for p in with_figure],
            [p.page or MISSING for p in with_figure],
            [period_of(p.created, period) for p in with_figure],
        )
        interval = result.interval
        ratios.append(
            [
                metric, result.posts_with_cta, result.posts_without_cta, result.posts_used,
                interval.estimate if interval else None, interval.low if interval else None,
                interval.high if interval else None, result.method, result.reason,
            ]
        )  # fmt: skip
    median_table = Table(
        "engagement_medians", ["metric", "group", "posts", "median", "ci_low", "ci_high", "note"], medians
    )
    ratio_table = Table(
        "engagement_rate_ratio",
        ["metric", "posts_with_cta", "posts_without_cta", "posts_in_model", "rate_ratio", "ci_low", "ci_high", "method", "note"],
        ratios,
    )  # fmt: skip
    return median_table, ratio_table, notes


# ------------------------------------------------------------------------------ comments per post


def _cut(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def thread_posts(data: LabelledTable) -> tuple[dict[str, list[Item]], int]:
    """Comments and replies under each post (by post id, following parent ids up to the post), and
    how many comments hang from no post of the file."""
    by_id = {item.item_id: item for item in data.items if item.item_id}
    under: dict[str, list[Item]] = defaultdict(list)
    orphans = 0
    for item in data.items:
        if (item.item_type or "").casefold() not in COMMENT_TYPES:
            continue
        parent, seen = item.parent_id, set()
        while parent is not None and parent not in seen:
            seen.add(parent)
            found = by_id.get(parent)
            if found is None or (found.item_type or "").casefold() == POST:
                break
            parent = found.parent_id
        root = by_id.get(parent) if parent is not None else None
        if root is None or (root.item_type or "").casefold() != POST:
            orphans += 1
            continue
        under[parent].append(item)  # type: ignore[index]
    return under, orphans


def comments_per_post(data: LabelledTable, period: str) -> tuple[Table | None, Table | None, list[Note]]:
    """The sentiment of each post's comments, and per topic the posts whose comments are most negative."""
    sentiment = data.task(SENTIMENT)
    if not data.has_item_types or sentiment is None or "parent_id" not in data.columns:
        return None, None, [Note("no_threads")]
    under, orphans = thread_posts(data)
    notes = [Note("orphan_comments", {"comments": orphans})] if orphans else []
    columns = ["post_id", "page", "period", "topics", "call_to_action", "comments", "comments_labelled"]
    columns += list(sentiment.labels) + [f"{s}_share" for s in sentiment.labels] + ["text", "url"]
    rows: list[list[Any]] = []
    for post in posts(data):
        thread = under.get(post.item_id or "", [])
        judged = [c for c in thread if c.ok and c.labels.get(SENTIMENT) is not None]
        counts = Counter(c.labels[SENTIMENT] for c in judged)
        rows.append(
            [
                post.item_id, post.page, period_of(post.created, period),
                ";".join(post.labels.get(TOPICS) or []) if post.ok else None,
                post.labels.get(CALL_TO_ACTION) if post.ok else None, len(thread), len(judged),
            ]
            + [counts[s] for s in sentiment.labels]
            + [_share(counts[s], len(judged)) for s in sentiment.labels]
            + [_cut(post.text, POST_TEXT_CHARS), post.url]
        )  # fmt: skip
    rows.sort(key=lambda r: (-r[6], str(r[0])))
    table = Table("post_comment_sentiment", columns, rows)
    most = _most_negative(table, data) if NEGATIVE in sentiment.labels else None
    return table, most, notes


def _most_negative(table: Table, data: LabelledTable) -> Table | None:
    topics = data.task(TOPICS)
    labels = [*(topics.labels if topics else ()), NO_LABEL]
    picked: list[list[Any]] = []
    for topic in labels:
        candidates = [
            row for row in table.as_dicts()
            if row["comments_labelled"] >= MIN_COMMENTS_RANKED and row["topics"] is not None
            and topic in (labels_from_text(row["topics"]) or [NO_LABEL])
        ]  # fmt: skip
        candidates.sort(key=lambda r: (-r[f"{NEGATIVE}_share"], -r["comments_labelled"], str(r["post_id"])))
        for rank, row in enumerate(candidates[:MOST_NEGATIVE_PER_TOPIC], start=1):
            picked.append(
                [topic, rank, row["post_id"], row["page"], row["comments_labelled"], row[NEGATIVE],
                 row[f"{NEGATIVE}_share"], row["text"], row["url"]]
            )  # fmt: skip
    columns = ["topic", "rank", "post_id", "page", "comments_labelled", NEGATIVE, f"{NEGATIVE}_share", "text", "url"]
    return Table("most_negative_posts", columns, picked)


# ------------------------------------------------------------------------------ examples


def _example_score(task: TaskSpec, label: str) -> Callable[[Item], float | None]:
    if task.type == "binary":
        column = score_column(task.name)
        return lambda item: None if column not in item.scores else (
            item.scores[column] if label == "true" else 1.0 - item.scores[column]
        )
    column = score_column(task.name, label)
    return lambda item: item.scores.get(column)


def _has_label(item: Item, task: TaskSpec, label: str) -> bool:
    value = item.labels.get(task.name)
    if task.type == "multi_label":
        return label in (value or [])
    if task.type == "binary":
        return isinstance(value, bool) and value is (label == "true")
    return value == label


def examples(data: LabelledTable, per_label: int = EXAMPLES_PER_LABEL) -> Table:
    """Per label of every task: the labelled texts with that decision and the highest score."""
    rows: list[list[Any]] = []
    if data.text_column is not None:
        labelled = [item for item in data.items if item.ok and item.text]
        for task in data.tasks:
            for label in task.labels:
                score = _example_score(task, label)
                scored = [(score(i), i) for i in labelled if _has_label(i, task, label)]
                ranked = sorted(((s, i) for s, i in scored if s is not None), key=lambda si: (-si[0], si[1].row))
                for s, item in ranked[:per_label]:
                    rows.append([task.name, label, round(s, 3), item.row + 1, _cut(item.text, EXAMPLE_CHARS)])
    return Table("examples", ["task", "label", "score", "row", "text"], rows)


# ------------------------------------------------------------------------------ the model


def model_table(name: str, version: str, path: str, metrics: Mapping[str, Any] | None) -> Table:
    """Name, version, directory and the test figures of metrics.json (``test``: per task n and F1)."""
    rows: list[list[Any]] = [["model", name], ["version", version], ["model_path", path]]
    test = (metrics or {}).get("test")
    if isinstance(test, Mapping):
        rows.append(["test_texts", test.get("n_texts")])
        rows.append(["mean_macro_f1", test.get("mean_macro_f1")])
        for task, figures in (test.get("tasks") or {}).items():
            if not isinstance(figures, Mapping):
                continue
            for key in ("macro", "micro"):
                if isinstance(figures.get(key), Mapping) and "f1" in figures[key]:
                    rows.append([f"{task}: {key}_f1", figures[key]["f1"]])
            for key in ("accuracy", "exact_match"):
                if key in figures:
                    rows.append([f"{task}: {key}", figures[key]])
            if "n" in figures:
                rows.append([f"{task}: n", figures["n"]])
    else:
        rows.append(["test_texts", None])
    return Table("model", ["figure", "value"], rows)


# ------------------------------------------------------------------------------ the whole report


def build_report(data: LabelledTable, model: Table, *, period: str = "month") -> Report:
    """Every table of the report from the rows of ``data`` (``model``: :func:`model_table`)."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {PERIODS}")
    notes: dict[str, list[Note]] = defaultdict(list)
    overview_table, statuses, item_types = overview(data, period)
    if data.missing_tasks:
        notes["model"].append(Note("missing_tasks", {"tasks": ", ".join(data.missing_tasks)}))
    if data.foreign_columns:
        notes["model"].append(Note("foreign_columns", {"columns": ", ".join(data.foreign_columns)}))
    if data.unreadable_times:
        notes["overview"].append(Note("unreadable_times", {"rows": data.unreadable_times}))
    cta_rate, cta_types, cta_time = calls_to_action(data, period)
    if cta_time is None and cta_rate is not None:
        notes["cta"].append(Note("no_dates"))
    medians, ratios, engagement_notes = engagement(data, period)
    notes["engagement"] += engagement_notes
    post_sentiment, most_negative, comment_notes = comments_per_post(data, period)
    notes["post_comments"] += comment_notes
    example_table = examples(data)
    if data.text_column is None:
        notes["examples"].append(Note("no_text_column"))
    return Report(
        source=data.path.name,  # the file name: a shared page need not show a local folder
        period=period,
        overview=overview_table,
        statuses=statuses,
        item_types=item_types,
        topics_sentiment=topics_sentiment(data),
        cta_by_topic=cta_rate,
        cta_type_by_topic=cta_types,
        cta_over_time=cta_time,
        engagement_medians=medians,
        engagement_rate_ratios=ratios,
        post_sentiment=post_sentiment,
        most_negative=most_negative,
        examples=example_table,
        model=model,
        notes=dict(notes),
    )
