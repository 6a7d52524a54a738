"""The directory's failures, by name, each with a one-line message naming server and object.

The CLI and the runner turn any `DirectoryError` into exit code 3 and its message on
stderr; nothing below ever carries a password.
"""

from ..errors import CouldNotRunError


class DirectoryError(CouldNotRunError):
    """The directory could not answer the question; `str()` is the one-line reason."""


class UnreachableError(DirectoryError):
    """No LDAP answer from the server (DNS, refused, timeout, dropped connection)."""


class TlsError(DirectoryError):
    """The TLS handshake failed, usually certificate validation."""


class BindError(DirectoryError):
    """The server refused the credentials or the bind method."""


class NotFoundError(DirectoryError):
    """No object matches the identity given."""


class AmbiguousError(DirectoryError):
    """More than one object matches the identity given."""


class InsufficientRightsError(DirectoryError):
    """The bound account may not read (or write) what was asked."""


class InvalidInputError(DirectoryError):
    """An identity, DN or filter value is not acceptable as given."""


class ConcurrentChangeError(DirectoryError):
    """The object changed between our read and our write; nothing was written."""


class TokenGroupsUnavailableError(DirectoryError):
    """The DC did not compute tokenGroups for an account (MS-ADTS 3.1.1.4.5.19: it is
    absent when no global catalog is reachable), so the account's token is unknown."""
