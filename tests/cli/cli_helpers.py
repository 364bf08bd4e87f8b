"""Helpers shared by the command-line tests: run a command in-process, read its one error line."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result

from khmer_civic.cli import cli


def run(*args: Any) -> Result:
    """``khmer-civic ARGS...`` through click's test runner (exceptions are caught and reported)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)


def one_error_line(result: Result, exit_code: int | None = None) -> str:
    """The single non-empty stderr line of a failed command; no traceback anywhere in the output."""
    if exit_code is not None:
        assert result.exit_code == exit_code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]
