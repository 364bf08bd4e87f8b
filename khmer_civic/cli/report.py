"""``khmer-civic report``: a labelled table as one offline HTML page (and an XLSX workbook)."""

from __future__ import annotations

from pathlib import Path

import click

from khmer_civic.cli.common import (
    UsageProblem,
    default_model_hint,
    handle_errors,
    missing_extra_problem,
    notifier,
)
from khmer_civic.cli.options import debug_option, model_option
from khmer_civic.extras import missing_modules

# Top-level modules of the report extra (pyproject.toml, [project.optional-dependencies] report)
REPORT_EXTRA_MODULES = ("statsmodels",)


def _report_extra_line() -> str:
    from khmer_civic.train.paths import checkout_root  # standard library only

    if checkout_root() is not None:
        return 'pip install -e ".[report]"'
    return 'pip install "khmer-civic[report]"'


def require_report_extra() -> None:
    """Stop with exit status 2 and the install line when the report extra is not installed."""
    missing = missing_modules(REPORT_EXTRA_MODULES)
    if missing:
        raise missing_extra_problem("report", "report", missing, _report_extra_line())


def _check_output(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    if path.suffix.lower() not in suffixes:
        raise UsageProblem(f"{option} {path}: the file name must end in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise UsageProblem(f"{option} {path}: the folder {path.parent} does not exist")


def _shown(path: Path) -> str:
    """A path as the page shows it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@click.command()
@click.argument("labelled", metavar="LABELLED", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The HTML page to write."
)
@click.option(
    "--xlsx", "xlsx_path", type=click.Path(path_type=Path, dir_okay=False), help="Also write the tables to this XLSX file."
)
@click.option(
    "--period", type=click.Choice(["week", "month"]), default="month", show_default=True, help="Periods over time."
)
@click.option(
    "--lang", type=click.Choice(["en", "km"]), default="en", show_default=True, help="Language of the headings."
)
@click.option("--sheet", metavar="NAME", help="XLSX input: the sheet to read (default: the active one).")
@click.option("--text-column", metavar="NAME", help="Column holding the text (default: found by name).")
@model_option
@click.option("--quiet", is_flag=True, help="No summary line on stderr.")
@debug_option
@handle_errors
def report(
    labelled: Path,
    output: Path,
    xlsx_path: Path | None,
    period: str,
    lang: str,
    sheet: str | None,
    text_column: str | None,
    model_path: Path | None,
    quiet: bool,
) -> None:
    """Summarise LABELLED (a table written by 'khmer-civic label') as one HTML page.

    The page opens offline (no request leaves it; charts are drawn in the file) and holds: the
    overview (every row counted, labelled or not), topics x sentiment, the call-to-action rate
    and kinds by topic and per period, the engagement of posts with and without a call to action
    (medians with bootstrap 95% intervals, a rate ratio from a count regression with page and
    period effects; "too few posts" below 10 posts a group), the sentiment of each post's
    comments and the posts whose comments are most negative per topic, example texts per label,
    and the model with its test figures. Engagement and comment sections need the columns of a
    platform export (item_type, item_id, parent_id, reactions, comments, shares ...).

    The labelled file does not record its model: the model section describes --model (default:
    the bundled model), whose tasks also tell which label columns to read.
    """
    require_report_extra()
    _check_output(output, (".html", ".htm"), "-o")
    if xlsx_path is not None:
        _check_output(xlsx_path, (".xlsx",), "--xlsx")

    from khmer_civic.io.checkpoint import write_atomically
    from khmer_civic.model.classifier import check_model_dir
    from khmer_civic.model.config import METRICS_NAME, read_json
    from khmer_civic.report.html import render_html
    from khmer_civic.report.rows import read_labelled
    from khmer_civic.report.tables import build_report, model_table
    from khmer_civic.report.xlsx import write_xlsx

    with default_model_hint(model_path):
        model_dir, config, _ = check_model_dir(model_path, verify=False)
    metrics_file = model_dir / METRICS_NAME
    metrics = read_json(metrics_file) if metrics_file.is_file() else None
    model = model_table(config.name, config.version, _shown(model_dir), metrics if isinstance(metrics, dict) else None)

    data = read_labelled(labelled, config.schema, sheet=sheet, text_column=text_column)
    built = build_report(data, model, period=period)
    write_atomically(output, render_html(built, lang).encode("utf-8"))
    written = [str(output)]
    if xlsx_path is not None:
        write_xlsx(built, xlsx_path, lang)
        written.append(str(xlsx_path))
    labelled_rows = sum(item.ok for item in data.items)
    notifier(quiet)(f"report: {len(data.items):,} rows ({labelled_rows:,} labelled) -> {', '.join(written)}")
