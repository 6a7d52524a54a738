"""The failures the kit expects — bad input, an unreachable or refusing directory, a file
it cannot read or write — and how each is said: one line, never a traceback. The CLI, the
notebooks' error handler and the runner all use these, so they say it the same way."""

from __future__ import annotations

from .directory.errors import DirectoryError
from .lab.samba import LabError
from .schema import UnknownAttributeError
from .security import DescriptorError
from .settings import SettingsError

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    DirectoryError,
    SettingsError,
    DescriptorError,
    LabError,
    UnknownAttributeError,
    OSError,
)


def one_line(error: BaseException | str | None, fallback: str = "") -> str:
    """The first line of an error's message (its type name when the message is empty)."""
    text = error if isinstance(error, str) or error is None else str(error)
    lines = (text or "").strip().splitlines()
    if lines:
        return lines[0]
    return type(error).__name__ if isinstance(error, BaseException) else fallback
