"""The project's own exceptions and exit statuses.

Core code raises `UsageError` for anything the user can fix by changing what they typed or
pointed us at (exit 2), and `TollError` for failures while working (exit 1). The CLI turns
both into one line on stderr; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0
    FAILURE = 1
    USAGE = 2
    INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + the signal's number, as shells report it
    TERMINATED = 143  # SIGTERM, the same rule


class Interrupted(KeyboardInterrupt):
    """A signal that stops a command: it exits 128 + `signum` after cleaning up (130 for Ctrl-C)."""

    def __init__(self, signum: int = 2) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class TollError(Exception):
    """A failure while working: the input was fine but the work could not be done."""

    exit_status = ExitStatus.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(TollError):
    """Bad usage or bad input: the user must change something; nothing was changed."""

    exit_status = ExitStatus.USAGE
