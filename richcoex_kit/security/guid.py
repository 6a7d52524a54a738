"""GUIDs as Active Directory stores them.

AD keeps schemaIDGUID, objectGUID and the ObjectType fields of object ACEs in the
mixed-endian layout of MS-DTYP 2.3.4.2 (first three fields little-endian), which is what
`uuid.UUID(bytes_le=...)` reads. Getting this wrong silently matches nothing, so every
conversion in the kit goes through these two functions.
"""

from __future__ import annotations

import re
import uuid

from .errors import DescriptorError

# The 8-4-4-4-12 form SDDL and AD tools write, in ASCII hex: uuid.UUID alone would also
# take other scripts' digits and URN prefixes.
_GUID_TEXT = re.compile(
    r"(\{)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?(1)\})", re.IGNORECASE | re.ASCII
)


def guid_from_bytes(data: bytes, offset: int = 0) -> uuid.UUID:
    """Read the 16-byte mixed-endian GUID at `offset`."""
    chunk = data[offset : offset + 16]
    if len(chunk) != 16:
        raise DescriptorError("GUID is truncated", offset)
    return uuid.UUID(bytes_le=bytes(chunk))


def guid_to_bytes(value: uuid.UUID) -> bytes:
    """The 16 bytes AD stores for `value`."""
    return value.bytes_le


def parse_guid(text: str) -> uuid.UUID:
    """A GUID from its string form (with or without braces), as a DescriptorError when not one."""
    match = _GUID_TEXT.fullmatch(text.strip())
    if not match:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise DescriptorError(f"{shown!r} is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    return uuid.UUID(match.group(2))
