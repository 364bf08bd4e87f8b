"""The options the commands share: ``--debug``, ``--model``, ``--batch-size``, those of the table
commands (passed as one :class:`TableArgs`, which runs the table and writes its summary), and
options that take several values (``--data a.csv b.jsonl``) through click's public API."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import click

from khmer_civic.cli.common import F, TqdmProgress, UsageProblem, notifier, one_line
from khmer_civic.io.errors import OutputError
from khmer_civic.io.pipeline import DEFAULT_CHUNK_SIZE, RunOptions, RunResult, default_workers, run_table
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE


def debug_option(func: F) -> F:
    return click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected failure.")(func)


def model_option(func: F) -> F:
    return click.option(
        "--model",
        "model_path",
        type=click.Path(),  # a str: a name is told from a path as typed (./fast is the folder)
        callback=_model_directory,
        metavar="NAME|DIR",
        help="A bundled model's name (e.g. fast, accurate; 'khmer-civic info' lists them) or a model directory "
        "(default: the bundled default model).",
    )(func)


def _model_directory(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """``--model``: a bundled model's name becomes its directory here, so every worker gets a path;
    an unknown name is a one-line usage error listing the bundled models."""
    if value is None:
        return None
    from khmer_civic.model.registry import resolve_model_dir
    from khmer_civic.schema import ModelConfigError

    try:
        return resolve_model_dir(value)
    except ModelConfigError as exc:
        raise UsageProblem(one_line(exc)) from None


def batch_size_option(func: F) -> F:
    return click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=DEFAULT_BATCH_SIZE,
        show_default=True,
        help="Windows per model call.",
    )(func)


# ------------------------------------------------------------------------------ the table commands


@dataclass(frozen=True)
class TableArgs:
    """The options every table command takes (:func:`table_options`)."""

    input_path: Path
    output: Path
    text_column: str | None
    sheet: str | None
    chunk_size: int
    workers: int
    resume: bool
    summary_path: Path | None
    bom: bool
    formula_guard: bool
    progress: bool | None
    quiet: bool
    input_format: str | None
    timezone: str | None

    def run(self, job: Any, *, annotator: Any = None, mask_pii: bool = False) -> RunResult:
        """Annotate INPUT into OUTPUT with ``job`` (:func:`~khmer_civic.io.pipeline.run_table`)."""
        options = RunOptions(
            input=self.input_path,
            output=self.output,
            text_column=self.text_column,
            chunk_size=self.chunk_size,
            workers=self.workers,
            resume=self.resume,
            mask_pii=mask_pii,
            sheet=self.sheet,
            bom=self.bom,
            formula_guard=self.formula_guard,
            input_format=self.input_format,
            timezone=self.timezone,
        )
        progress = TqdmProgress(job.command, self.progress)
        return run_table(options, job, notify=notifier(self.quiet), progress=progress, annotator=annotator)

    def write_summary(self, summary: Mapping[str, Any], lines: list[str]) -> None:
        """The end-of-run summary: its lines on stderr (unless --quiet), its JSON to --summary."""
        if not self.quiet:
            for line in lines:
                click.echo(line, err=True)
        if self.summary_path is not None:
            try:
                text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
                self.summary_path.write_text(text, encoding="utf-8")
            except OSError as exc:
                done = f"the output {summary.get('output')} is complete" if summary.get("output") else ""
                raise OutputError.from_os_error(self.summary_path, exc, hint=done) from None


def _check_input_format(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--format``: a name of ``khmer-civic formats``; an unknown one is a one-line usage error listing them."""
    if value is None:
        return None
    from khmer_civic.io.errors import TableError
    from khmer_civic.io.platforms import format_named

    try:
        format_named(value)
    except TableError as exc:
        raise UsageProblem(one_line(exc)) from None
    return value


def _check_timezone(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--tz``: an IANA time zone name; an unknown one is a one-line usage error."""
    if value is None:
        return None
    from khmer_civic.io.errors import TableError
    from khmer_civic.io.platforms.contract import resolve_zone

    try:
        resolve_zone(value)
    except TableError as exc:
        raise UsageProblem(one_line(exc)) from None
    return value


_TABLE_OPTIONS = [
    # folders are allowed here for label's Dask mode (a folder of inputs, a folder of parts); the other
    # runs refuse them with their own message (input_format, run_table)
    click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path)),
    click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(path_type=Path),
        help="Output file; its extension sets the format: .csv .tsv .jsonl .parquet .xlsx",
    ),
    click.option(
        "--text-column",
        metavar="NAME",
        help="Column holding the text (default: found by name: message, text, comment, body, content ...).",
    ),
    click.option("--sheet", metavar="NAME", help="XLSX input: the sheet to read (default: the active one)."),
    click.option(
        "--chunk-size",
        type=click.IntRange(min=1),
        default=DEFAULT_CHUNK_SIZE,
        show_default=True,
        help="Rows read, processed and checkpointed together.",
    ),
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=default_workers(),
        show_default="number of cores",
        help="Worker processes.",
    ),
    click.option("--resume", is_flag=True, help="Continue an interrupted run for the same OUTPUT."),
    click.option(
        "--summary",
        "summary_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Also write the end-of-run summary to this JSON file.",
    ),
    click.option("--bom", is_flag=True, help="CSV/TSV output: start with a UTF-8 byte-order mark (for Excel)."),
    click.option(
        "--formula-guard/--no-formula-guard",
        default=True,
        show_default=True,
        help="CSV/TSV output: put ' before text cells that start with = + - @, tab or carriage return, so "
        "spreadsheets show them as text instead of running them as formulas (OWASP's CSV-injection advice). "
        "Signed numbers and phone numbers (-5, +855 12 345 678) are left as they are; XLSX text cells are "
        "always stored as text.",
    ),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar on stderr [default: when stderr is a terminal].",
    ),
    click.option("-q", "--quiet", is_flag=True, help="No notes or summary on stderr (errors only)."),
    click.option(
        "--format",
        "input_format",
        metavar="NAME",
        callback=_check_input_format,
        help="Read INPUT as this platform export (default: told from the file; 'table': a plain table). "
        "khmer-civic formats lists the names.",
    ),
    click.option(
        "--tz",
        "timezone",
        metavar="ZONE",
        callback=_check_timezone,
        help="Platform exports: the IANA time zone of times written without one [default: Asia/Phnom_Penh].",
    ),
    debug_option,
]
_TABLE_FIELDS = tuple(f.name for f in fields(TableArgs))


def table_options(func: F) -> F:
    """The options shared by the commands that read and write tables, passed to ``func`` as one
    :class:`TableArgs` (keyword ``table``)."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        table = TableArgs(**{name: kwargs.pop(name) for name in _TABLE_FIELDS})
        return func(table=table, **kwargs)

    command: Any = wrapper
    for decorator in reversed(_TABLE_OPTIONS):
        command = decorator(command)
    return command  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ several values per option


class ManyValues(click.Option):
    """A repeatable option that also takes several values at once: ``--data a.csv b.jsonl`` is
    ``--data a.csv --data b.jsonl``. Its command must be a :class:`ManyValuesCommand`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["multiple"] = True
        super().__init__(*args, **kwargs)


def files_option(flag: str, name: str, help: str, *, required: bool = False) -> Callable[[F], F]:
    """A :class:`ManyValues` option of file paths (``--data a.jsonl b.csv``), shown as ``FILE...``."""
    return click.option(  # type: ignore[return-value]
        flag, name, cls=ManyValues, required=required, type=click.Path(path_type=Path), metavar="FILE...", help=help
    )


class ManyValuesCommand(click.Command):
    """A command whose :class:`ManyValues` options take every value up to the next option: the
    arguments are rewritten into repeated options before click parses them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(args, self.get_params(ctx)))


def spread_values(args: Sequence[str], params: Iterable[click.Parameter]) -> list[str]:
    """``args`` with ``--opt a b c`` spelled ``--opt a --opt b --opt c`` for every :class:`ManyValues`
    option: the first value is the next argument whatever it is (as click takes it), the others
    are the arguments after it that do not start with ``-``. Values of the other options are
    skipped over unchanged, and nothing after ``--`` is touched."""
    options = [p for p in params if isinstance(p, click.Option)]
    many = {name for p in options if isinstance(p, ManyValues) for name in p.opts}
    takes = {name: p.nargs for p in options if not p.is_flag and not p.count for name in p.opts}
    out: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        out.append(arg)
        if arg == "--":
            return out + rest
        name, attached = _option_in(arg, takes)
        if name in many:
            if not attached and rest:
                out.append(rest.pop(0))
            while rest and not rest[0].startswith("-"):
                out += [name, rest.pop(0)]
        elif name in takes and not attached:
            out += rest[: takes[name]]
            del rest[: takes[name]]
    return out


def _option_in(arg: str, takes: Mapping[str, int]) -> tuple[str, bool]:
    """The option an argument names (``--name=value``; ``-abc``: the first of a cluster of short
    options that takes a value) and whether its value is attached to it."""
    if arg.startswith("--"):
        name, equals, _ = arg.partition("=")
        return name, bool(equals)
    if arg.startswith("-"):
        for i in range(1, len(arg)):
            if f"-{arg[i]}" in takes:
                return f"-{arg[i]}", i + 1 < len(arg)
    return arg, False
