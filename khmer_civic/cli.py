"""The ``khmer-civic`` command line.

::

    khmer-civic label comments.csv -o labelled.parquet          # topics, sentiment, call to action
    khmer-civic label dump.jsonl -o out.csv --text-column body --workers 2 --mask-pii
    khmer-civic label big.csv -o out.csv --resume               # continue an interrupted run
    khmer-civic tokenize comments.xlsx -o words.xlsx            # normalised text and words
    khmer-civic info [--model DIR] [--json]                     # what a model predicts, its test scores

Exit status: 0 done; 2 a problem to fix in the command or the files (unknown format, missing
column, unreadable or truncated file, bad model directory ...), told in one line on stderr;
1 an unexpected failure (one line; ``--debug`` shows the traceback); 130 interrupted (finished
chunks are kept: rerun with ``--resume``).

``train`` and ``evaluate`` are added as further subcommands of :func:`cli`; they import
``khmer_civic.train`` inside their command functions only, so ``label``, ``tokenize`` and
``info`` never load torch.
"""

from __future__ import annotations

import functools
import json
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from khmer_civic import __version__
from khmer_civic.io.errors import TableError
from khmer_civic.io.pipeline import DEFAULT_CHUNK_SIZE, Progress, RunOptions, default_workers, run_table
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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    click.echo(f"warning: {_one_line(Warning(str(message)))}", err=True)


def handle_errors(func: F) -> F:
    """Turn exceptions into the exit statuses of the module docstring (``--debug``: re-raise)."""

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
            raise UsageProblem(_one_line(exc)) from None
        except Exception as exc:
            if debug:
                raise
            kept = " (finished chunks are kept for --resume)" if resumable else ""
            raise UnexpectedFailure(
                f"unexpected failure: {type(exc).__name__}: {_one_line(exc)}{kept}; "
                "run again with --debug to see the traceback"
            ) from None

    return wrapper  # type: ignore[return-value]


def _debug_option(func: F) -> F:
    return click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected failure.")(func)


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


def _notifier(quiet: bool) -> Callable[[str], None]:
    def notify(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    return notify


def _write_summary(path: Path | None, summary: Mapping[str, Any], lines: list[str], quiet: bool) -> None:
    if not quiet:
        for line in lines:
            click.echo(line, err=True)
    if path is not None:
        path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------ the group


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="khmer-civic")
@click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected failure.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Civic topics, sentiment and calls to action in Khmer posts and comments."""
    ctx.obj = {"debug": debug}


def _table_options(func: F) -> F:
    """Options shared by the commands that read and write tables."""
    decorators = [
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
            "--progress/--no-progress",
            default=None,
            help="Show a progress bar on stderr [default: when stderr is a terminal].",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No notes or summary on stderr (errors only)."),
        _debug_option,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@cli.command()
@_table_options
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    help="Model directory (default: the bundled model).",
)
@click.option("--mask-pii", is_flag=True, help="Mask phone numbers, e-mails and @mentions in the output's text column.")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Windows per model call."
)
@handle_errors
def label(
    input_path: Path,
    output: Path,
    text_column: str | None,
    sheet: str | None,
    chunk_size: int,
    workers: int,
    resume: bool,
    summary_path: Path | None,
    bom: bool,
    progress: bool | None,
    quiet: bool,
    model_path: Path | None,
    mask_pii: bool,
    batch_size: int,
) -> None:
    """Label every row of INPUT (CSV, TSV, JSONL, Parquet, XLSX) and write OUTPUT.

    OUTPUT has the rows of INPUT in the same order with all their columns, plus one column per
    task of the model (topics, sentiment, call_to_action), label_status (ok, or why a row was
    not labelled: empty, not_text, no_letters, unreadable_row, malformed_row,
    undecodable_text) and one score column per label.
    """
    from khmer_civic.io.annotators import LabelJob
    from khmer_civic.io.formats import output_format
    from khmer_civic.io.summary import label_summary, render_label_summary

    output_format(output)  # an unknown output format fails before the model is loaded
    job = LabelJob(model_path=str(model_path.resolve()) if model_path else None, batch_size=batch_size)
    try:
        annotator = job.build()
    except ModelConfigError as exc:
        if model_path is None:
            raise ModelConfigError(f"{_one_line(exc)} (on the command line: --model DIR)") from exc
        raise
    options = RunOptions(
        input=input_path,
        output=output,
        text_column=text_column,
        chunk_size=chunk_size,
        workers=workers,
        resume=resume,
        mask_pii=mask_pii,
        sheet=sheet,
        bom=bom,
    )
    result = run_table(
        options, job, notify=_notifier(quiet), progress=TqdmProgress("label", progress), annotator=annotator
    )
    summary = label_summary(result, annotator.schema)
    _write_summary(summary_path, summary, render_label_summary(summary), quiet)


@cli.command()
@_table_options
@handle_errors
def tokenize(
    input_path: Path,
    output: Path,
    text_column: str | None,
    sheet: str | None,
    chunk_size: int,
    workers: int,
    resume: bool,
    summary_path: Path | None,
    bom: bool,
    progress: bool | None,
    quiet: bool,
) -> None:
    """Normalise and segment the text of every row of INPUT into words; write OUTPUT.

    Adds the columns normalized (the text after khmer_civic.normalize), tokens (the words,
    joined by spaces; a space inside one token, as in "012 345 678", becomes a no-break
    space) and text_status.
    """
    from khmer_civic.io.annotators import TokenizeJob
    from khmer_civic.io.formats import output_format
    from khmer_civic.io.summary import render_tokenize_summary, tokenize_summary

    output_format(output)
    options = RunOptions(
        input=input_path,
        output=output,
        text_column=text_column,
        chunk_size=chunk_size,
        workers=workers,
        resume=resume,
        sheet=sheet,
        bom=bom,
    )
    result = run_table(options, TokenizeJob(), notify=_notifier(quiet), progress=TqdmProgress("tokenize", progress))
    summary = tokenize_summary(result)
    _write_summary(summary_path, summary, render_tokenize_summary(summary), quiet)


# ------------------------------------------------------------------------------ info


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _metric_lines(metrics: Mapping[str, Any] | None) -> list[str]:
    """Test-set figures when metrics.json has a ``test`` evaluation, else its plain values."""
    if not metrics:
        return ["metrics: none (the model directory has no metrics.json)"]
    test = metrics.get("test")
    if isinstance(test, Mapping) and isinstance(test.get("tasks"), Mapping):
        lines = [f"test metrics: {test.get('n_texts', '?')} texts, mean macro-F1 {_fmt(test.get('mean_macro_f1'))}"]
        for name, task in test["tasks"].items():
            figures = [f"n {task.get('n', '?')}"]
            for key, label in (("macro", "macro-F1"), ("micro", "micro-F1")):
                if isinstance(task.get(key), Mapping) and "f1" in task[key]:
                    figures.append(f"{label} {_fmt(task[key]['f1'])}")
            for key in ("accuracy", "exact_match", "ece"):
                if key in task:
                    figures.append(f"{key.replace('_', ' ')} {_fmt(task[key])}")
            lines.append(f"  {name}: " + ", ".join(figures))
            for label, m in (task.get("labels") or {}).items():
                if isinstance(m, Mapping):
                    lines.append(
                        f"    {label}: precision {_fmt(m.get('precision'))}, recall {_fmt(m.get('recall'))}, "
                        f"F1 {_fmt(m.get('f1'))}, support {m.get('support', '?')}"
                    )
        return lines
    lines = ["metrics (metrics.json has no test evaluation):"]

    def walk(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, Mapping) and depth < 4:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner, depth + 1)
        elif not isinstance(value, (list, Mapping)):
            lines.append(f"  {prefix}: {_fmt(value)}")

    walk("", metrics, 0)
    return lines


def info_lines(info: Mapping[str, Any], library_normalizer: int) -> list[str]:
    """The human-readable form of ``CivicClassifier.info()``."""
    lines = [
        f"model:       {info['name']} {info['version']}",
        f"path:        {info['path']}",
        f"max length:  {info['max_length']} tokens per window (a new window every {info['window_stride']} tokens)",
        f"normalizer:  version {info['normalizer_version']} (this library: {library_normalizer})",
        "tasks:",
    ]
    for task in info["tasks"]:
        labels = ", ".join(task["labels"])
        if task["type"] == "multi_label":
            rule = "thresholds " + ", ".join(f"{k} {_fmt(v)}" for k, v in task.get("thresholds", {}).items())
        elif task["type"] == "binary":
            rule = f"true when p >= {_fmt(task.get('threshold', 0.5))}"
        else:
            rule = "the most probable label"
        lines.append(f"  {task['name']} ({task['type']}): {labels}")
        lines.append(f"    decision: {rule}; temperature {_fmt(task['temperature'])}")
    return lines + _metric_lines(info.get("metrics"))


@cli.command()
@click.option("--model", "model_path", type=click.Path(path_type=Path), help="Model directory (default: the bundled model).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_debug_option
@handle_errors
def info(model_path: Path | None, as_json: bool) -> None:
    """Describe a model: name, version, tasks, labels, thresholds, temperatures, test metrics."""
    from khmer_civic.model.classifier import CivicClassifier
    from khmer_civic.text import NORMALIZER_VERSION

    try:
        classifier = CivicClassifier.load(model_path)
    except ModelConfigError as exc:
        if model_path is None:
            raise ModelConfigError(f"{_one_line(exc)} (on the command line: --model DIR)") from exc
        raise
    description = classifier.info()
    if as_json:
        description["library_normalizer_version"] = NORMALIZER_VERSION
        click.echo(json.dumps(description, indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(info_lines(description, NORMALIZER_VERSION)))


def main() -> None:
    """Entry point of the ``khmer-civic`` console script."""
    cli(prog_name="khmer-civic")


if __name__ == "__main__":
    main()
