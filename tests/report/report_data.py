"""Labelled tables for the report tests, written by the project's own writers (as ``label`` would).

- :func:`hand_rows`: a dozen rows whose every count the table tests can work out by hand;
- :func:`synthetic_rows`: a platform export of posts with a known call-to-action effect on their
  engagement (negative binomial counts with page and month effects) and comments under them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from khmer_civic.io.annotators import label_columns, score_column
from khmer_civic.io.columns import INT, STRING
from khmer_civic.io.formats import output_format
from khmer_civic.io.writers import TableLayout, make_writer
from khmer_civic.schema import Given, ModelSchema, TaskSpec, default_schema

TOPIC_LABELS = ("education", "health", "local_administration")
SENTIMENTS = ("negative", "neutral", "positive")
CTA_TYPES = ("engage", "attend", "contact")
PLATFORM_COLUMNS = (
    "platform", "item_type", "item_id", "parent_id", "author", "created_at", "text",
    "reactions", "comments", "shares", "views", "url",
)  # fmt: skip
ENGAGEMENT = ("reactions", "comments", "shares", "views")


def schema_with_cta_type() -> ModelSchema:
    """The default tasks plus cta_type, decided where call_to_action is true."""
    cta_type = TaskSpec("cta_type", "multi_label", CTA_TYPES, "cta_type", given=Given("call_to_action", "true"))
    return ModelSchema(tasks=(*default_schema().tasks, cta_type))


def labelled(
    schema: ModelSchema,
    *,
    topics: Sequence[str] = (),
    sentiment: str = "neutral",
    cta: bool = False,
    cta_type: Sequence[str] = (),
    status: str = "ok",
    confidence: float = 0.9,
) -> dict[str, Any]:
    """The added columns of one row (labels and scores) as ``label`` fills them."""
    if status != "ok":
        return {c.name: None for c in label_columns(schema)} | {"label_status": status}
    decisions = {"topics": list(topics), "sentiment": sentiment, "call_to_action": cta, "cta_type": list(cta_type)}
    row: dict[str, Any] = {"label_status": status}
    for task in schema.tasks:
        row[task.name] = decisions[task.name]
        if task.type == "binary":
            row[score_column(task.name)] = confidence if cta else 1 - confidence
            continue
        chosen = decisions[task.name]
        for label in task.labels:
            hit = label in chosen if isinstance(chosen, list) else label == chosen
            row[score_column(task.name, label)] = confidence if hit else round(1 - confidence, 6)
    return row


def write_labelled(path: Path, rows: Sequence[Mapping[str, Any]], schema: ModelSchema, columns: Sequence[str]) -> Path:
    """Write ``rows`` (input ``columns`` then the label columns) in the format of ``path``'s extension."""
    kinds = {c: INT if c in ENGAGEMENT else STRING for c in columns}
    layout = TableLayout(tuple(columns), kinds, tuple(label_columns(schema)))
    writer = make_writer(output_format(path), layout)
    part = path.with_name(path.name + writer.part_suffix)
    writer.write_part(rows, part)
    writer.assemble([part], path)
    part.unlink()
    return path


# ------------------------------------------------------------------------------ by hand


def hand_rows(schema: ModelSchema) -> list[dict[str, Any]]:
    """Two posts on two pages, their comments and a reply, an orphan comment and unlabelled rows.

    p1 (education, CTA attend, 2026-10-05): comments c1 negative, c2 negative, c3 positive, reply
    r1 (to c1) negative, c4 empty text (not labelled). p2 (health + local_administration, no CTA,
    Monday 2026-11-09 05:00 at UTC+7, so Sunday in UTC: ISO week 45): c5 neutral, a CTA (contact). c9: a comment whose post is not in the file (neutral, topic health).
    A post p3 with no text (not labelled).
    """

    def item(kind: str, item_id: str, parent: str | None, when: str, text: str | None, **labels: Any) -> dict[str, Any]:
        base = {
            "platform": "facebook", "item_type": kind, "item_id": item_id, "parent_id": parent,
            "author": labels.pop("author", "someone"), "created_at": when, "text": text,
            "reactions": labels.pop("reactions", None), "comments": labels.pop("comments", None),
            "shares": labels.pop("shares", None), "views": None, "url": labels.pop("url", None),
        }  # fmt: skip
        status = "ok" if text else "empty"
        return base | labelled(schema, status=status, **labels)

    return [
        item("post", "p1", None, "2026-10-05T03:00:00Z", "សូមអញ្ជើញឪពុកម្តាយចូលរួមប្រជុំ", topics=["education"],
             cta=True, cta_type=["attend"], author="Page A", reactions=40, comments=5, shares=3,
             url="https://example.invalid/p1"),
        item("comment", "c1", "p1", "2026-10-05T04:00:00Z", "គ្រូខ្វះ", topics=["education"], sentiment="negative"),
        item("comment", "c2", "p1", "2026-10-05T05:00:00Z", "មិនល្អ", sentiment="negative", confidence=0.97),
        item("comment", "c3", "p1", "2026-10-06T05:00:00Z", "អរគុណ", sentiment="positive"),
        item("reply", "r1", "c1", "2026-10-06T06:00:00Z", "ពិតមែន", sentiment="negative"),
        item("comment", "c4", "p1", "2026-10-06T07:00:00Z", None),
        item("post", "p2", None, "2026-11-09T05:00:00+07:00", "មណ្ឌលសុខភាពឃុំបើកថ្ងៃសៅរ៍",
             topics=["health", "local_administration"], author="Page B", reactions=7, comments=1, shares=0),
        item("comment", "c5", "p2", "2026-11-10T02:00:00Z", "ម៉ោងប៉ុន្មាន", sentiment="neutral", cta=True,
             cta_type=["contact"]),
        item("comment", "c9", "gone", "2026-11-11T02:00:00Z", "=HYPERLINK(\"x\")", topics=["health"]),
        item("post", "p3", None, "2026-11-12T02:00:00Z", None, author="Page B", reactions=1, comments=0, shares=0),
    ]  # fmt: skip


# ------------------------------------------------------------------------------ known effect


def synthetic_rows(
    schema: ModelSchema,
    *,
    seed: int = 7,
    posts: int = 360,
    rate_ratio: float = 1.5,
    dispersion: float = 0.6,
    pages: int = 6,
    months: int = 6,
    comments_per_post: float = 2.0,
) -> list[dict[str, Any]]:
    """Posts whose engagement follows ``y ~ NB(mean = exp(2 + page + month + log(rate_ratio) * cta), alpha)``
    for every engagement column, and Poisson(``comments_per_post``) labelled comments under each."""
    rng = np.random.default_rng(seed)
    page_effect = np.linspace(-0.8, 0.8, pages)
    month_effect = np.linspace(-0.4, 0.4, months)
    rows: list[dict[str, Any]] = []
    start = dt.datetime(2026, 1, 1, 2, 0)
    for k in range(posts):
        page, month, cta = int(rng.integers(pages)), int(rng.integers(months)), bool(rng.random() < 0.4)
        mean = np.exp(2.0 + page_effect[page] + month_effect[month] + np.log(rate_ratio) * cta)
        counts = {m: int(rng.poisson(rng.gamma(1 / dispersion, dispersion * mean))) for m in ENGAGEMENT}
        when = start.replace(month=month + 1, day=int(rng.integers(1, 28)))
        topic = TOPIC_LABELS[k % 3]
        post_id = f"post{k}"
        rows.append(
            {
                "platform": "facebook", "item_type": "post", "item_id": post_id, "parent_id": None,
                "author": f"page{page}", "created_at": when.isoformat() + "Z", "text": f"post {k} {topic}",
                **counts, "url": f"https://example.invalid/{post_id}",
            }
            | labelled(schema, topics=[topic], cta=cta, cta_type=["engage"] if cta else [],
                       confidence=float(rng.uniform(0.6, 0.99)))
        )  # fmt: skip
        negative_share = 0.2 + 0.6 * (k % 5) / 4
        for j in range(int(rng.poisson(comments_per_post))):
            sentiment = "negative" if rng.random() < negative_share else str(rng.choice(["neutral", "positive"]))
            rows.append(
                {
                    "platform": "facebook", "item_type": "comment", "item_id": f"{post_id}c{j}", "parent_id": post_id,
                    "author": f"user{j}", "created_at": when.isoformat() + "Z", "text": f"comment {j}",
                    **dict.fromkeys(ENGAGEMENT), "url": None,
                }
                | labelled(schema, sentiment=sentiment, confidence=float(rng.uniform(0.5, 0.99)))
            )  # fmt: skip
    return rows


def true_median(has_cta: bool, *, rate_ratio: float = 1.5, dispersion: float = 0.6, pages: int = 6, months: int = 6,
                page_span: float = 0.8, month_span: float = 0.4, draws: int = 1_000_000, seed: int = 99) -> float:  # fmt: skip
    """The population median of one engagement column of :func:`synthetic_rows`' posts (by simulation)."""
    rng = np.random.default_rng(seed)
    page = rng.integers(pages, size=draws)
    month = rng.integers(months, size=draws)
    mean = np.exp(2.0 + np.linspace(-page_span, page_span, pages)[page]
                  + np.linspace(-month_span, month_span, months)[month] + np.log(rate_ratio) * has_cta)  # fmt: skip
    return float(np.median(rng.poisson(rng.gamma(1 / dispersion, dispersion * mean))))
