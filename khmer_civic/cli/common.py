"""What the commands share: exit statuses and errors, the training-extra check, progress bars,
notes and summaries on stderr, the options of the table commands, and options that take several
values (``--data a.csv b.jsonl``)."""

from __future__ import annotations

import errno
import functools
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import click

from khmer_civic.io.errors import OutputError, TableError
from khmer_civic.io.pipeline import DEFAULT_CHUNK_SIZE, Progress, RunOptions, RunResult, default_workers, run_table
from khmer_civic.model.inputs import DEFAULT_BATCH_SIZE
from khmer_civic.schema import ModelConfigError

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


class UsageProblem(click.ClickException):
    """Something the user can fix: printed as one line, exit status 2."""

    exit_code = EXIT_USAGE


class UnexpectedFailure(click.ClickException):
    """A bug or an environment failure: one line and a hint to use --debug, exit status 1."""

    exit_code = EXIT_FAILURE


class Interrupted(click.ClickException):
    """Ctrl-C: exit status 130."""

    exit_code = EXIT_INTERRUPTED


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def fmt(value: Any) -> str:
    """A figure as the commands print it: floats with three decimals."""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


# errno values of an output the user can fix: a full disk or quota, a read-only file system
# (no permission, EACCES and EPERM, is a PermissionError and caught on its own)
_FIXABLE_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, errno.EFBIG, errno.EROFS, getattr(errno, "EDQUOT", None)) if code
)
# Top-level modules of the training extra (pyproject.toml, [project.optional-dependencies] train)
TRAIN_EXTRA_MODULES = ("torch", "transformers", "datasets", "sklearn", "onnx", "matplotlib", "safetensors")


def _train_extra_line() -> str:
    """The install line of the training extra (README.md): the checkout's, or the installed package's."""
    from khmer_civic.train.paths import checkout_root  # standard library only

    if checkout_root() is not None:
        return 'pip install torch==2.13.0 -e ".[train,encoder]"'
    return 'pip install torch==2.13.0 "khmer-civic[train]"'


def _missing_extra(modules: Iterable[str], command: str) -> UsageProblem:
    """The one-line error for a command run without (part of) the training extra."""
    names = ", ".join(modules)
    return UsageProblem(
        f"khmer-civic {command} needs the training extra, which is not installed (missing: {names}); "
        f"install it with (torch==2.13.0 is the CPU build): {_train_extra_line()}"
    )


def require_train_extra(command: str, modules: Iterable[str] = TRAIN_EXTRA_MODULES) -> None:
    """Stop with exit status 2 and the install line when a module of the training extra is missing."""
    import importlib.util

    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise _missing_extra(missing, command)


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    click.echo(f"warning: {one_line(Warning(str(message)))}", err=True)


def handle_errors(func: F) -> F:
    """Turn exceptions into the exit statuses of the package docstring (``--debug``: re-raise)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(kwargs.pop("debug", False)) or bool((ctx.find_root().obj or {}).get("debug"))
        resumable = ctx.command.name in {"label", "tokenize"}
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            hint = "; finished chunks are kept: run the same command with --resume to continue" if resumable else ""
            raise Interrupted("interrupted" + hint) from None
        except (TableError, ModelConfigError, PermissionError, IsADirectoryError) as exc:
            if debug:
                raise
            raise UsageProblem(one_line(exc)) from None
        except Exception as exc:
            if debug:
                raise
            raise _failure(exc, ctx.command.name or "this command", resumable) from None

    return wrapper  # type: ignore[return-value]


def _failure(exc: Exception, command: str, resumable: bool) -> click.ClickException:
    """The one-line error for an exception no command turned into a message."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in TRAIN_EXTRA_MODULES:
        return _missing_extra([(exc.name or "").split(".")[0]], command)
    if isinstance(exc, OSError) and exc.errno in _FIXABLE_ERRNOS:
        target = f"{exc.filename}" if exc.filename else "a file"
        return UsageProblem(f"cannot write {target}: {exc.strerror or one_line(exc)}")
    kept = " (finished chunks are kept for --resume)" if resumable else ""
    return UnexpectedFailure(
        f"unexpected failure: {type(exc).__name__}: {one_line(exc)}{kept}; run again with --debug to see the traceback"
    )


def debug_option(func: F) -> F:
    return click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected failure.")(func)


def model_option(func: F) -> F:
    return click.option(
        "--model", "model_path", type=click.Path(path_type=Path), help="Model directory (default: the bundled model)."
    )(func)


def default_model_problem(exc: ModelConfigError) -> ModelConfigError:
    """The error of an unusable default model, with the option that picks another."""
    return ModelConfigError(f"{one_line(exc)} (on the command line: --model DIR)")


def batch_size_option(func: F) -> F:
    return click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=DEFAULT_BATCH_SIZE,
        show_default=True,
        help="Windows per model call.",
    )(func)


def notifier(quiet: bool) -> Callable[[str], None]:
    def notify(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    return notify


def problems_line(exc: Any, what: str, shown: int = 3) -> str:
    """A :class:`~khmer_civic.train.data.DataValidationError` in one line: the first problems and how many more."""
    problems = list(exc.problems)
    first = "; ".join(str(p) for p in problems[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    return f"unusable {what} ({len(problems)} problem{'s' if len(problems) != 1 else ''}): {first}{more}"


# ------------------------------------------------------------------------------ the table commands


class TqdmProgress(Progress):
    """A tqdm bar on stderr: rows done, rows per second, and the time left when the total is known."""

    def __init__(self, description: str, enabled: bool | None) -> None:
        self.description = description
        self.enabled = enabled
        self.bar: Any = None

    def start(self, total: int | None, initial: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=initial,
            desc=self.description,
            unit=" rows",
            unit_scale=True,
            smoothing=0.1,
            mininterval=0.5,
            dynamic_ncols=True,
            file=sys.stderr,
            disable=None if self.enabled is None else not self.enabled,  # None: only on a terminal
        )

    def advance(self, rows: int) -> None:
        if self.bar is not None:
            self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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


_TABLE_OPTIONS = [
    click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False)),
    click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
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
