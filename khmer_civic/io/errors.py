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


class OutputError(TableError):
    """An output, or a file of the run directory beside it, cannot be written: a full disk, a
    read-only file system, no permission. The message names the file and the system's reason."""

    @classmethod
    def from_os_error(cls, target: object, exc: OSError, *, hint: str = "", writing: object = None) -> OutputError:
        """The error for ``exc`` raised while writing ``target`` (the file the user named); ``writing`` is the
        file being written when ``exc`` does not name one (a failed write or flush names none)."""
        reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
        file = exc.filename or writing
        where = f" (writing {file})" if file and str(file) != str(target) else ""
        return cls(f"cannot write {target}: {reason}{where}{'; ' + hint if hint else ''}")
