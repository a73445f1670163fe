"""Error types, by what the caller must do about them.

Every error carries a one-line `message` and an optional `hint` telling the user
what to do. The CLI prints both and exits with `exit_code`; no traceback.
"""

from __future__ import annotations


class PmaxError(Exception):
    """Base error: a message for the user and a hint on what to do next."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PmaxError):
    """Bad flags, config or input: the user must change what they asked for."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file or environment variable is wrong."""


class InputError(UsageError):
    """A data file given by the user cannot be used."""


class DatabaseLockedError(UsageError):
    """Another process holds the database file read-write."""


class DataUnavailableError(PmaxError):
    """A market-data source failed (network, quota): retry, fall back, or stop."""


class InvariantError(PmaxError):
    """An invariant of the books broke: trading must halt."""


class OwnerGoneError(PmaxError):
    """The pmax process serving a database stopped answering (killed, or hung)."""


class RunInterrupted(PmaxError):
    """A signal stopped the run after its last committed session; exit 128 + signal."""

    def __init__(self, signum: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.signum = signum
        self.exit_code = 128 + signum


class SetupChangedError(UsageError):
    """Resuming a database with a setup it cannot continue (mode switch, names left the universe)."""


class SchemaTooNewError(UsageError):
    """The database was written by a newer pmax than this one."""


class DiskFullError(PmaxError):
    """The disk filled up while writing: nothing past the last committed session was kept."""


def from_os_error(exc: BaseException) -> PmaxError | None:
    """The user-facing error for an OS failure on a file pmax was told to use, if it is one.

    A full disk is a runtime failure (exit 1); any other OS error on a path is bad input
    (exit 2) naming the path. DuckDB reports a full disk in its own exception text.
    """
    import errno

    text = str(exc)
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EFBIG) or any(
        sign in text for sign in ("No space left on device", "File too large")
    ):
        where = getattr(exc, "filename", None) or "the database"
        return DiskFullError(
            f"disk full (or file-size limit reached) while writing {where}",
            "free some space and run again; every committed session is kept",
        )
    if not isinstance(exc, OSError):
        return None
    path = exc.filename or "a file"
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return UsageError(
            f"cannot use {path}: a file is in the way of a folder",
            "choose a path whose parent folders are folders (--db, --data, --config)",
        )
    return UsageError(
        f"cannot use {path}: {exc.strerror or text}", "check the path and its permissions (--db, --data, --config)"
    )


def name_some(items: list[str], limit: int) -> str:
    """`a, b, c and 4 more`: the first `limit` items of a list an error message names."""
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
