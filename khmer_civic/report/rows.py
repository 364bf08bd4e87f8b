"""A labelled table read back into one :class:`Item` per row, for the report's sections.

``khmer-civic label`` writes its added columns in each format's own way: a multi-label task is a
list in JSONL and Parquet and ``a;b`` text in CSV/TSV/XLSX; a binary task is a bool, or the text
``true``/``false``; scores are floats or text. :func:`read_labelled` reads any of them back
(through :func:`khmer_civic.io.readers.open_table`) and keeps **every row**: a row the reader
flags (a broken CSV line) keeps the reader's flag as its status, and a row with an empty or
unknown ``label_status`` is counted under that value, never dropped.

Platform columns (the export readers' layout: ``platform``, ``item_type``, ``item_id``,
``parent_id``, ``author``, ``created_at``, ``text``, ``reactions``, ``comments``, ``shares``,
``views``, ``url``) are optional. Without them a row is an item of unknown type with no date
(unless a ``created_time`` column holds one) and no engagement figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from khmer_civic.io.annotators import LABEL_STATUS_COLUMN, label_columns, score_column
from khmer_civic.io.columns import guess_text_column
from khmer_civic.io.errors import MissingColumnError
from khmer_civic.io.platforms import PLAIN_TABLE
from khmer_civic.io.readers import open_table
from khmer_civic.schema import bool_from_text, labels_from_text
from khmer_civic.schema import LabelStatus, ModelSchema, TaskSpec

# The label specification's task names, which the report's sections are about.
TOPICS = "topics"
SENTIMENT = "sentiment"
CALL_TO_ACTION = "call_to_action"
CTA_TYPE = "cta_type"

# Engagement counts of the platform layout, in the order the report shows them.
ENGAGEMENT_METRICS: tuple[str, ...] = ("reactions", "comments", "shares", "views")
# Columns that may hold an item's time, in order of preference (created_at: the platform layout).
TIME_COLUMNS: tuple[str, ...] = ("created_at", "created_time")
# Which column names the page of a post: a ``page`` column when there is one, else its author.
PAGE_COLUMNS: tuple[str, ...] = ("page", "page_name", "author")
POST = "post"
MISSING = "(missing)"


@dataclass
class Item:
    """One row of the labelled table (labels are ``None`` where the row was not labelled)."""

    row: int  # 0-based position in the file
    status: str
    labels: dict[str, Any]  # task name -> list of labels (multi_label), a label, or a bool
    scores: dict[str, float]  # score column -> probability
    text: str | None = None
    platform: str | None = None
    item_type: str | None = None
    item_id: str | None = None
    parent_id: str | None = None
    page: str | None = None
    created: dt.datetime | None = None
    url: str | None = None
    engagement: dict[str, int | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == LabelStatus.OK.value


@dataclass
class LabelledTable:
    """The rows of a labelled file and what the file has: tasks with label columns, platform columns."""

    path: Path
    columns: list[str]
    items: list[Item]
    tasks: list[TaskSpec]  # the model's tasks whose decision column the file has
    missing_tasks: list[str]  # the model's tasks the file has no column for
    foreign_columns: list[str]  # score columns of the file that the model does not produce
    text_column: str | None
    time_column: str | None
    engagement_metrics: list[str]  # engagement columns the file has
    has_item_types: bool
    unreadable_times: int = 0  # rows whose time cell could not be read as a date

    def task(self, name: str) -> TaskSpec | None:
        return next((t for t in self.tasks if t.name == name), None)


def read_labelled(
    path: str | Path, schema: ModelSchema, *, sheet: str | None = None, text_column: str | None = None
) -> LabelledTable:
    """Every row of a table written by ``khmer-civic label`` with the model of ``schema``.

    Raises :class:`~khmer_civic.io.errors.MissingColumnError` when the file has no
    ``label_status`` column (not an output of ``label``) or no ``text_column`` when one is named;
    other unreadable files raise the readers' :class:`~khmer_civic.io.errors.TableError`.
    """
    path = Path(path)
    # a labelled file is a plain table, whatever its columns: no platform export mapping
    with open_table(path, sheet=sheet, format_name=PLAIN_TABLE) as reader:
        columns = list(reader.columns)
        if LABEL_STATUS_COLUMN not in columns:
            raise MissingColumnError(
                f"{path} has no {LABEL_STATUS_COLUMN!r} column: the report reads the output of "
                "'khmer-civic label' (label the file first)"
            )
        if text_column is not None and text_column not in columns:
            raise MissingColumnError(f"no column {text_column!r} in {path}; available: {', '.join(columns)}")
        tasks = [t for t in schema.tasks if t.name in columns]
        layout = _Layout(
            columns=columns,
            tasks=tasks,
            text_column=text_column or _text_column(columns),
            time_column=next((c for c in TIME_COLUMNS if c in columns), None),
            page_column=next((c for c in PAGE_COLUMNS if c in columns), None),
            metrics=[m for m in ENGAGEMENT_METRICS if m in columns],
        )
        items = [layout.item(index, row.values, row.problem) for index, row in enumerate(reader.rows())]
    produced = {column.name for column in label_columns(schema)}
    foreign = [c for c in columns if c.startswith("score_") and c not in produced]
    return LabelledTable(
        path=path,
        columns=columns,
        items=items,
        tasks=tasks,
        missing_tasks=[t.name for t in schema.tasks if t.name not in columns],
        foreign_columns=foreign,
        text_column=layout.text_column,
        time_column=layout.time_column,
        engagement_metrics=layout.metrics,
        has_item_types="item_type" in columns,
        unreadable_times=layout.unreadable_times,
    )


def _text_column(columns: Sequence[str]) -> str | None:
    """The text column found by name (``text`` in the platform layout), ignoring added columns."""
    return guess_text_column([c for c in columns if c != LABEL_STATUS_COLUMN and not c.startswith("score_")])


@dataclass
class _Layout:
    columns: list[str]
    tasks: list[TaskSpec]
    text_column: str | None
    time_column: str | None
    page_column: str | None
    metrics: list[str]
    unreadable_times: int = 0

    def item(self, index: int, values: Mapping[str, Any], problem: Any) -> Item:
        status = problem.value if problem is not None else _text(values.get(LABEL_STATUS_COLUMN)) or MISSING
        ok = status == LabelStatus.OK.value
        labels = {t.name: _decision(t, values.get(t.name)) if ok else None for t in self.tasks}
        scores: dict[str, float] = {}
        if ok:
            for task in self.tasks:
                names = [score_column(task.name)] if task.type == "binary" else [
                    score_column(task.name, label) for label in task.labels
                ]
                for name in names:
                    score = as_float(values.get(name))
                    if score is not None:
                        scores[name] = score
        created = None
        if self.time_column is not None:
            raw = values.get(self.time_column)
            created = parse_time(raw)
            if created is None and _text(raw):
                self.unreadable_times += 1
        return Item(
            row=index,
            status=status,
            labels=labels,
            scores=scores,
            text=_text(values.get(self.text_column)) if self.text_column else None,
            platform=_text(values.get("platform")),
            item_type=_text(values.get("item_type")),
            item_id=_text(values.get("item_id")),
            parent_id=_text(values.get("parent_id")),
            page=_text(values.get(self.page_column)) if self.page_column else None,
            created=created,
            url=_text(values.get("url")),
            engagement={m: as_count(values.get(m)) for m in self.metrics},
        )


def _text(value: Any) -> str | None:
    """A cell as stripped text; ``None`` for a missing or blank cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _decision(task: TaskSpec, value: Any) -> Any:
    """A task's decision cell as the classifier gives it: a list, a label or a bool (``None``: unreadable)."""
    if task.type == "multi_label":
        return as_labels(value)
    if task.type == "binary":
        return as_bool(value)
    return _text(value)


def as_labels(value: Any) -> list[str]:
    """A multi-label cell as a list: a list (JSONL, Parquet) or ``a;b`` text (CSV, XLSX); empty: ``[]``."""
    if value is None:
        return []
    if isinstance(value, str):
        return labels_from_text(value)
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return [str(part) for part in value if part is not None and str(part).strip()]
    return []


def as_bool(value: Any) -> bool | None:
    """A binary cell: a bool, or ``true``/``false`` text; ``None`` when it is neither."""
    if isinstance(value, bool):
        return value
    return bool_from_text(_text(value) or "")


def as_float(value: Any) -> float | None:
    """A score cell as a float (``None`` when missing or not a number)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_count(value: Any) -> int | None:
    """An engagement cell as a non-negative whole number (``1,234`` and ``12.0`` read; else ``None``)."""
    if isinstance(value, str):
        value = value.replace(",", "").replace("_", "").strip()
    number = as_float(value)
    if number is None or number < 0 or number != int(number):
        return None
    return int(number)


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 date or time (a ``Z`` suffix read as UTC), or a datetime cell; aware times in UTC."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    else:
        text = _text(value)
        if text is None:
            return None
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment
