"""The one exception the security engine raises for bad input."""

from ..errors import CouldNotRunError


class DescriptorError(CouldNotRunError, ValueError):
    """A security descriptor, ACL, ACE, SID or SDDL string is malformed.

    The message says what is wrong and, for binary input, at which byte offset, so a
    support engineer can find the bad spot in a captured hex dump. Subclassing
    ValueError lets generic callers treat it as bad input without importing us; the
    kit's root (a leaf module with no imports) gives it exit code 3, malformed input.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message if offset is None else f"{message} (at byte offset {offset})")
