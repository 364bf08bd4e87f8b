"""``khmer-civic explain``: which words made a label, for one text or across a table.

One text: every word with its signed contribution, ``p(label | text) - p(label | text without
the word)``: positive (green in a terminal) supports the label, negative (red) pushes away from
it; contributions under 0.01 either way are dimmed. Plain text when stdout is not a terminal.
A table (``--input``): the words that most often push each predicted label.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from khmer_civic.cli.common import TqdmProgress, UsageProblem, fmt, handle_errors, load_classifier, one_line
from khmer_civic.cli.options import debug_option, model_option
from khmer_civic.io.errors import TableError
from khmer_civic.schema import ModelConfigError

FAINT = 0.01  # |contribution| below this is shown dimmed
WORD_FORMATS = (".csv", ".tsv", ".jsonl")


@click.command()
@click.argument("text", required=False)
@click.option("--task", help="The task to explain (default: every task of the model).")
@click.option("--label", help="The label to explain (default: the predicted one); needs --task.")
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text (see below).")
@click.option("--input", "input_path", type=click.Path(path_type=Path, dir_okay=False),
              help="A table (any format label reads): count the words that push each predicted label.")
@click.option("--text-column", metavar="NAME", help="--input: the column holding the text (default: found by name).")
@click.option("--sheet", metavar="NAME", help="--input, XLSX: the sheet to read.")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, help="--input: words per label.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="--input: write the word table here (.csv .tsv .jsonl) instead of printing it.")
@click.option("--progress/--no-progress", default=None, help="--input: progress bar [default: on a terminal].")
@click.option("--color/--no-color", default=None, help="Colour the words [default: when stdout is a terminal].")
@debug_option
@handle_errors
def explain(
    text: str | None, task: str | None, label: str | None, model_path: Path | None, as_json: bool,
    input_path: Path | None, text_column: str | None, sheet: str | None, top: int, output: Path | None,
    progress: bool | None, color: bool | None,
) -> None:  # fmt: skip
    """Show which words made the label of TEXT: each word's contribution is the label's probability
    with the text minus without that word. Positive (green) supports the label, negative (red)
    pushes away from it, under 0.01 either way is dimmed. --json prints a list of explanations
    (task, label, probability, predicted, text, words with word, start, end, contribution).

    With --input, every row of a table is scored, the rows whose predicted label matches are
    explained, and the words that most often are among a row's top-3 supporting words are counted
    per label (columns task, label, rank, word, texts, share, mean_contribution); rows that cannot
    be labelled are skipped and counted."""
    if (text is None) == (input_path is None):
        raise UsageProblem("give either TEXT or --input FILE")
    if label is not None and task is None:
        raise UsageProblem("--label needs --task")
    if output is not None and output.suffix.lower() not in WORD_FORMATS:
        raise UsageProblem(f"cannot write {output}: the word table is written as {', '.join(WORD_FORMATS)}")
    clf = load_classifier(model_path)
    try:
        if input_path is None:
            _explain_text(clf, str(text), task, label, as_json, color)
        else:
            _explain_table(clf, input_path, task, label, text_column, sheet, top, output, as_json, progress)
    except ValueError as exc:  # unknown task or label, a text that cannot be labelled
        if isinstance(exc, (ModelConfigError, TableError)):
            raise  # handle_errors prints these
        raise UsageProblem(one_line(exc)) from None


def _explain_text(clf: Any, text: str, task: str | None, label: str | None, as_json: bool, color: bool | None) -> None:
    explained = [clf.explain(text, task, label)] if task is not None else clf.explain_all(text)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in explained], ensure_ascii=False, indent=2))
        return
    for e in explained:
        click.echo(_render(e), color=color)


def _render(e: Any) -> str:
    """A task's explanation: header, the text with its words coloured, one line per word in text order."""
    state = "predicted" if e.predicted else "not predicted"
    lines = [f"{e.task} = {e.label}  (p = {e.probability:.3f}, {state})"]
    coloured, cursor = [], 0
    for w in e.words:
        coloured += [e.text[cursor : w.start], _style(w.word, w.contribution)]
        cursor = w.end
    lines.append("  " + "".join(coloured) + e.text[cursor:])
    lines += [f"  {_style(f'{w.contribution:+.3f}', w.contribution)}  {w.word}" for w in e.words]
    return "\n".join(lines) + "\n"


def _style(text: str, contribution: float) -> str:
    if abs(contribution) < FAINT:
        return click.style(text, dim=True)
    return click.style(text, fg="green" if contribution > 0 else "red", bold=abs(contribution) >= 0.1)


def _explain_table(
    clf: Any, input_path: Path, task: str | None, label: str | None, text_column: str | None, sheet: str | None,
    top: int, output: Path | None, as_json: bool, progress: bool | None,
) -> None:  # fmt: skip
    from khmer_civic.analysis.words import WORD_COLUMNS, words_in_table

    found = words_in_table(input_path, clf, task=task, label=label, text_column=text_column, sheet=sheet,
                           progress=TqdmProgress("explain", progress))  # fmt: skip
    rows = [asdict(row) for row in found.table(top)]
    run = found.run
    skipped = ", ".join(f"{status} {n}" for status, n in sorted(run.skipped.items()))
    click.echo(
        f"explained {run.explained_rows} of {run.rows} rows; {run.not_matching} without the label asked for; "
        f"skipped {sum(run.skipped.values())} that cannot be labelled{': ' + skipped if skipped else ''}",
        err=True,
    )
    if output is not None:
        _write_words(output, rows, WORD_COLUMNS)
        click.echo(f"wrote {len(rows)} words to {output}", err=True)
    elif as_json:
        summary = {"rows": run.rows, "explained_rows": run.explained_rows, "not_matching": run.not_matching,
                   "skipped": dict(run.skipped), "words": rows}  # fmt: skip
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(_word_table(rows, WORD_COLUMNS))


def _word_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as aligned text columns (numbers right-aligned)."""
    cells = [list(columns)] + [[fmt(row[c]) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    numeric = [isinstance(rows[0][c], (int, float)) if rows else False for c in columns]
    return "\n".join(
        "  ".join(cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(line, widths, numeric)).rstrip()
        for line in cells
    )


def _write_words(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            if path.suffix.lower() == ".jsonl":
                handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
                return
            writer = csv.DictWriter(handle, columns, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise UsageProblem(f"cannot write {path}: {exc.strerror or one_line(exc)}") from None
