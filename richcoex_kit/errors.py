"""The one root of every failure the kit expects, and how each is said: one line.

Every expected failure — bad input, an unreachable or refusing directory, a file it
cannot read or write — is a `RichcoexError` carrying the exit code a scheduler sees
(2 usage, 3 could not run). This module imports nothing of the kit, so the security
engine, the back ends and the lab can all raise from it, and the CLI, the notebooks'
error handler and the runner all say it the same way.
"""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_COULD_NOT_RUN = 3


class RichcoexError(Exception):
    """A failure the kit expects; `str()` is the one-line reason, `exit_code` its class."""

    exit_code: int = EXIT_COULD_NOT_RUN


class UsageError(RichcoexError):
    """The caller asked for something that cannot be meant (exit 2): a bad option value,
    contradictory options, a missing required input."""

    exit_code = EXIT_USAGE


class CouldNotRunError(RichcoexError):
    """The request was understood but could not be carried out (exit 3): the DC, a file
    or the environment said no."""

    exit_code = EXIT_COULD_NOT_RUN


# OSError (an unwritable --output, a missing file) is expected too, and also exit 3.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (RichcoexError, OSError)


def exit_code_of(error: BaseException) -> int:
    """The exit code an expected failure maps to."""
    return error.exit_code if isinstance(error, RichcoexError) else EXIT_COULD_NOT_RUN


def one_line(error: BaseException | str | None, fallback: str = "") -> str:
    """The first line of an error's message (its type name when the message is empty)."""
    text = error if isinstance(error, str) or error is None else str(error)
    lines = (text or "").strip().splitlines()
    if lines:
        return lines[0]
    return type(error).__name__ if isinstance(error, BaseException) else fallback
