"""Errors of the table layer. Each one is a problem the user can fix (a usage error), so the CLI
prints its message on one line and exits with status 2."""

from __future__ import annotations


class TableError(ValueError):
    """A table cannot be read or written as asked; the message says why and what to do."""


class UnsupportedFormatError(TableError):
    """The file extension names no format this library reads or writes."""


class UnreadableTableError(TableError):
    """The file cannot be opened or decoded as the format its name promises (e.g. truncated)."""


class MissingColumnError(TableError):
    """The text column asked for (or a usable one, when none was named) is not in the table."""


class ColumnClashError(TableError):
    """The input already has a column with the name of a column the command adds."""


class ResumeError(TableError):
    """An interrupted run cannot be continued with the settings given."""
