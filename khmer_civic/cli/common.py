"""What the commands share: exit statuses and errors, the training-extra check, notes on stderr
and progress bars. Their shared options are in :mod:`khmer_civic.cli.options`."""

from __future__ import annotations

import contextlib
import errno
import functools
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from khmer_civic.extras import missing_modules
from khmer_civic.io.errors import TableError
from khmer_civic.io.pipeline import Progress
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


def missing_extra_problem(
    command: str, extra: str, modules: Iterable[str], install_line: str, how: str = "install it with"
) -> UsageProblem:
    """The one-line error for ``khmer-civic COMMAND`` run without (part of) an optional extra."""
    return UsageProblem(
        f"khmer-civic {command} needs the {extra} extra, which is not installed (missing: {', '.join(modules)}); "
        f"{how}: {install_line}"
    )


def _missing_extra(modules: Iterable[str], command: str) -> UsageProblem:
    """The one-line error for a command run without (part of) the training extra."""
    return missing_extra_problem(
        command, "training", modules, _train_extra_line(), how="install it with (torch==2.13.0 is the CPU build)"
    )


def require_train_extra(command: str, modules: Iterable[str] = TRAIN_EXTRA_MODULES) -> None:
    """Stop with exit status 2 and the install line when a module of the training extra is missing."""
    missing = missing_modules(modules)
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


def default_model_problem(exc: ModelConfigError) -> ModelConfigError:
    """The error of an unusable default model, with the option that picks another."""
    return ModelConfigError(f"{one_line(exc)} (on the command line: --model DIR)")


@contextlib.contextmanager
def default_model_hint(model_path: Path | None) -> Iterator[None]:
    """Inside, a problem with the default model (``model_path`` is ``None``) becomes
    :func:`default_model_problem`; a problem with a model the user named is raised as it is."""
    try:
        yield
    except ModelConfigError as exc:
        if model_path is None:
            raise default_model_problem(exc) from exc
        raise


def load_classifier(model_path: Path | None, **options: Any) -> Any:
    """``CivicClassifier.load(model_path, **options)`` under :func:`default_model_hint`."""
    from khmer_civic.model.classifier import CivicClassifier

    with default_model_hint(model_path):
        return CivicClassifier.load(model_path, **options)


def model_config(model_path: Path | None) -> Any:
    """The config.json of ``model_path`` (``None``: the default model), without loading the model."""
    from khmer_civic.model.classifier import default_model_dir
    from khmer_civic.model.config import load_config

    return load_config(model_path if model_path is not None else default_model_dir())


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
