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
