"""Access-mask bits, ACE types and flags, with the names AD engineers read them by.

Values from MS-DTYP 2.4.3 (ACCESS_MASK), 2.4.4.1 (ACE_HEADER) and MS-ADTS 5.1.3.2
(directory-service rights). Kept apart from the parser so the SDDL renderer, the access
check and the widgets share one table.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class AceType(IntEnum):
    ACCESS_ALLOWED = 0x00
    ACCESS_DENIED = 0x01
    SYSTEM_AUDIT = 0x02
    SYSTEM_ALARM = 0x03
    ACCESS_ALLOWED_OBJECT = 0x05
    ACCESS_DENIED_OBJECT = 0x06
    SYSTEM_AUDIT_OBJECT = 0x07
    SYSTEM_ALARM_OBJECT = 0x08


SIMPLE_ACE_TYPES = frozenset({0x00, 0x01, 0x02, 0x03})
OBJECT_ACE_TYPES = frozenset({0x05, 0x06, 0x07, 0x08})
ALLOW_TYPES = frozenset({0x00, 0x05})
DENY_TYPES = frozenset({0x01, 0x06})


class AceFlag(IntFlag):
    OBJECT_INHERIT = 0x01
    CONTAINER_INHERIT = 0x02
    NO_PROPAGATE_INHERIT = 0x04
    INHERIT_ONLY = 0x08
    INHERITED = 0x10
    SUCCESSFUL_ACCESS = 0x40
    FAILED_ACCESS = 0x80


# Object ACE "Flags" field (MS-DTYP 2.4.4.3).
ACE_OBJECT_TYPE_PRESENT = 0x1
ACE_INHERITED_OBJECT_TYPE_PRESENT = 0x2


class Right(IntFlag):
    CREATE_CHILD = 0x00000001
    DELETE_CHILD = 0x00000002
    LIST_CHILDREN = 0x00000004
    SELF_WRITE = 0x00000008
    READ_PROPERTY = 0x00000010
    WRITE_PROPERTY = 0x00000020
    DELETE_TREE = 0x00000040
    LIST_OBJECT = 0x00000080
    CONTROL_ACCESS = 0x00000100
    DELETE = 0x00010000
    READ_CONTROL = 0x00020000
    WRITE_DAC = 0x00040000
    WRITE_OWNER = 0x00080000
    ACCESS_SYSTEM_SECURITY = 0x01000000
    GENERIC_ALL = 0x10000000
    GENERIC_EXECUTE = 0x20000000
    GENERIC_WRITE = 0x40000000
    GENERIC_READ = 0x80000000


# Generic rights mapped to directory rights (MS-ADTS 5.1.3.3.2 / Samba's ldb mapping).
GENERIC_MAPPING: dict[int, int] = {
    Right.GENERIC_READ: 0x00020094,
    Right.GENERIC_WRITE: 0x00020028,
    Right.GENERIC_EXECUTE: 0x00020004,
    Right.GENERIC_ALL: 0x000F01FF,
}
GENERIC_BITS = 0xF0000000


def map_generic(mask: int) -> int:
    """Replace generic bits by the directory rights they stand for."""
    if not mask & GENERIC_BITS:
        return mask
    mapped = mask & ~GENERIC_BITS
    for bit, rights in GENERIC_MAPPING.items():
        if mask & bit:
            mapped |= rights
    return mapped


# SDDL abbreviations in the order Windows writes them (ConvertSecurityDescriptorToString…).
SDDL_RIGHTS: tuple[tuple[str, int], ...] = (
    ("GA", Right.GENERIC_ALL),
    ("GR", Right.GENERIC_READ),
    ("GW", Right.GENERIC_WRITE),
    ("GX", Right.GENERIC_EXECUTE),
    ("CC", Right.CREATE_CHILD),
    ("DC", Right.DELETE_CHILD),
    ("LC", Right.LIST_CHILDREN),
    ("SW", Right.SELF_WRITE),
    ("RP", Right.READ_PROPERTY),
    ("WP", Right.WRITE_PROPERTY),
    ("DT", Right.DELETE_TREE),
    ("LO", Right.LIST_OBJECT),
    ("CR", Right.CONTROL_ACCESS),
    ("SD", Right.DELETE),
    ("RC", Right.READ_CONTROL),
    ("WD", Right.WRITE_DAC),
    ("WO", Right.WRITE_OWNER),
)

SDDL_ACE_FLAGS: tuple[tuple[str, int], ...] = (
    ("OI", AceFlag.OBJECT_INHERIT),
    ("CI", AceFlag.CONTAINER_INHERIT),
    ("NP", AceFlag.NO_PROPAGATE_INHERIT),
    ("IO", AceFlag.INHERIT_ONLY),
    ("ID", AceFlag.INHERITED),
    ("SA", AceFlag.SUCCESSFUL_ACCESS),
    ("FA", AceFlag.FAILED_ACCESS),
)

SDDL_ACE_TYPES: dict[int, str] = {
    AceType.ACCESS_ALLOWED: "A",
    AceType.ACCESS_DENIED: "D",
    AceType.SYSTEM_AUDIT: "AU",
    AceType.SYSTEM_ALARM: "AL",
    AceType.ACCESS_ALLOWED_OBJECT: "OA",
    AceType.ACCESS_DENIED_OBJECT: "OD",
    AceType.SYSTEM_AUDIT_OBJECT: "OU",
    AceType.SYSTEM_ALARM_OBJECT: "OL",
}

RIGHT_WORDS: tuple[tuple[int, str], ...] = (
    (Right.GENERIC_ALL, "Generic All"),
    (Right.GENERIC_READ, "Generic Read"),
    (Right.GENERIC_WRITE, "Generic Write"),
    (Right.GENERIC_EXECUTE, "Generic Execute"),
    (Right.CREATE_CHILD, "Create Child"),
    (Right.DELETE_CHILD, "Delete Child"),
    (Right.LIST_CHILDREN, "List Contents"),
    (Right.SELF_WRITE, "Validated Write"),
    (Right.READ_PROPERTY, "Read Property"),
    (Right.WRITE_PROPERTY, "Write Property"),
    (Right.DELETE_TREE, "Delete Tree"),
    (Right.LIST_OBJECT, "List Object"),
    (Right.CONTROL_ACCESS, "Control Access"),
    (Right.DELETE, "Delete"),
    (Right.READ_CONTROL, "Read Permissions"),
    (Right.WRITE_DAC, "Modify Permissions"),
    (Right.WRITE_OWNER, "Modify Owner"),
    (Right.ACCESS_SYSTEM_SECURITY, "Access System Security"),
)


def rights_in_words(mask: int) -> str:
    """`0x00020028` → 'Validated Write, Write Property, Read Permissions' (as ADUC words them)."""
    if mask == 0x000F01FF:
        return "Full Control"
    words = [word for bit, word in RIGHT_WORDS if mask & bit]
    rest = mask & ~sum(bit for bit, _ in RIGHT_WORDS)
    if rest:
        words.append(f"0x{rest:X}")
    return ", ".join(words) or "none"
