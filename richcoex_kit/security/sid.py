"""Security identifiers (MS-DTYP 2.4.2): binary and `S-1-…` forms, SDDL aliases, names.

A `Sid` is a value: it wraps its canonical binary form, so equality and hashing compare
bytes (string comparison is a known pitfall: `S-1-5-32-544` vs upper/lower-case aliases,
leading zeros). The binary form is also what the access check compares against raw ACEs
without decoding them.
"""

from __future__ import annotations

import re
import struct

from .errors import DescriptorError

# ASCII digits only: `\d` and int() also take other scripts' digits (S-1-٥-١٨), which
# Windows' ConvertStringSidToSid rejects. The authority may be written in hex, as Windows
# writes one of 2**32 or more (MS-DTYP 2.4.2.1).
_SID_TEXT = re.compile(r"S-1-(0x[0-9a-f]+|[0-9]+)((?:-[0-9]+)*)", re.IGNORECASE | re.ASCII)
_MAX_SUBAUTHORITIES = 15
_MAX_AUTHORITY = (1 << 48) - 1
_MAX_SUBAUTHORITY = (1 << 32) - 1


class Sid:
    """A security identifier; construct with `Sid.parse(text)` or `Sid.from_bytes(data)`."""

    __slots__ = ("_bytes",)

    def __init__(self, data: bytes) -> None:
        self._bytes = bytes(data)

    @classmethod
    def from_bytes(cls, data: bytes, offset: int = 0) -> Sid:
        """Read the SID at `offset`; trailing bytes beyond its length are ignored."""
        if len(data) < offset + 8:
            raise DescriptorError("SID is truncated: fewer than 8 bytes", offset)
        if data[offset] != 1:
            raise DescriptorError(f"SID revision is {data[offset]}, expected 1", offset)
        count = data[offset + 1]
        if count > _MAX_SUBAUTHORITIES:
            raise DescriptorError(f"SID has {count} sub-authorities, at most 15 are allowed", offset)
        end = offset + 8 + 4 * count
        if len(data) < end:
            raise DescriptorError(f"SID with {count} sub-authorities is truncated", offset)
        return cls(data[offset:end])

    @classmethod
    def parse(cls, text: str | Sid) -> Sid:
        """A SID from `S-1-…` text (or a Sid, returned as is).

        At most 15 sub-authorities, each below 2**32, and an identifier authority below
        2**48, in ASCII digits; anything else is a one-line DescriptorError. Lengths are
        checked before any int() so a 5,000-digit component fails as out of range, not
        as Python's int-string limit.
        """
        if isinstance(text, Sid):
            return text
        if not isinstance(text, str):
            raise DescriptorError(f"a SID is text or a Sid, not {type(text).__name__}")
        shown = text if len(text) <= 60 else text[:57] + "..."
        match = _SID_TEXT.fullmatch(text.strip())
        if not match:
            raise DescriptorError(f"{shown!r} is not a SID (expected S-1-<authority>-<sub-authority>…)")
        authority_text, subs_text = match.groups()
        parts = subs_text.split("-")[1:]
        if len(parts) > _MAX_SUBAUTHORITIES:
            raise DescriptorError(f"{shown!r} has {len(parts)} sub-authorities, at most 15 are allowed")
        if authority_text[:2].lower() == "0x":
            authority = _bounded(authority_text[2:], 12, 16)
        else:
            authority = _bounded(authority_text, 15, 10)
        if authority is None or authority > _MAX_AUTHORITY:
            raise DescriptorError(f"{shown!r} has an identifier authority out of range (at most 2**48 - 1)")
        subs = []
        for position, part in enumerate(parts, 1):
            value = _bounded(part, 10, 10)
            if value is None or value > _MAX_SUBAUTHORITY:
                raise DescriptorError(f"{shown!r} has sub-authority {position} out of range (at most 4294967295)")
            subs.append(value)
        return cls(bytes((1, len(subs))) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs))

    def to_bytes(self) -> bytes:
        return self._bytes

    @property
    def authority(self) -> int:
        return int.from_bytes(self._bytes[2:8], "big")

    @property
    def subauthorities(self) -> tuple[int, ...]:
        return struct.unpack_from(f"<{self._bytes[1]}I", self._bytes, 8)

    @property
    def rid(self) -> int | None:
        """The last sub-authority (the relative ID within a domain), if any."""
        subs = self.subauthorities
        return subs[-1] if subs else None

    def domain_part(self) -> Sid | None:
        """The domain SID of a domain account SID (S-1-5-21-a-b-c-RID → S-1-5-21-a-b-c)."""
        subs = self.subauthorities
        if self.authority != 5 or len(subs) != 5 or subs[0] != 21:
            return None
        return Sid.parse("S-1-5-" + "-".join(str(s) for s in subs[:4]))

    def __str__(self) -> str:
        """`S-1-…` as Windows writes it: an authority of 2**32 or more in hex (MS-DTYP 2.4.2.1)."""
        parts = "".join(f"-{sub}" for sub in self.subauthorities)
        authority = self.authority
        return f"S-1-{authority if authority < 1 << 32 else f'0x{authority:012X}'}{parts}"

    def __repr__(self) -> str:
        return f"Sid('{self}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sid) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __lt__(self, other: Sid) -> bool:
        return self._bytes < other._bytes

    def name(self, domain_sid: Sid | None = None, domain_name: str | None = None) -> str | None:
        """The well-known account name, or None when this SID is not a well-known one.

        Domain-relative names (Domain Admins, …) need the domain SID; with a NetBIOS
        domain name they are prefixed the way ADUC shows them (`LAB\\Domain Admins`).
        """
        known = WELL_KNOWN_NAMES.get(str(self))
        if known:
            return known
        if domain_sid is not None and self.domain_part() == domain_sid:
            relative = DOMAIN_RELATIVE_NAMES.get(self.rid or -1)
            if relative:
                return f"{domain_name}\\{relative}" if domain_name else relative
        return None


def _bounded(digits: str, max_digits: int, base: int) -> int | None:
    """The value of ASCII `digits`, or None when it has more significant digits than allowed."""
    significant = digits.lstrip("0") or "0"
    return int(significant, base) if len(significant) <= max_digits else None


# Fixed SIDs, named as Windows shows them (MS-DTYP 2.4.2.4).
WELL_KNOWN_NAMES: dict[str, str] = {
    "S-1-0-0": "NULL SID",
    "S-1-1-0": "Everyone",
    "S-1-2-0": "LOCAL",
    "S-1-3-0": "CREATOR OWNER",
    "S-1-3-1": "CREATOR GROUP",
    "S-1-3-4": "OWNER RIGHTS",
    "S-1-5-2": "NT AUTHORITY\\NETWORK",
    "S-1-5-4": "NT AUTHORITY\\INTERACTIVE",
    "S-1-5-6": "NT AUTHORITY\\SERVICE",
    "S-1-5-7": "NT AUTHORITY\\ANONYMOUS LOGON",
    "S-1-5-9": "NT AUTHORITY\\ENTERPRISE DOMAIN CONTROLLERS",
    "S-1-5-10": "NT AUTHORITY\\SELF",
    "S-1-5-11": "NT AUTHORITY\\Authenticated Users",
    "S-1-5-12": "NT AUTHORITY\\RESTRICTED",
    "S-1-5-15": "NT AUTHORITY\\This Organization",
    "S-1-5-18": "NT AUTHORITY\\SYSTEM",
    "S-1-5-19": "NT AUTHORITY\\LOCAL SERVICE",
    "S-1-5-20": "NT AUTHORITY\\NETWORK SERVICE",
    "S-1-5-32-544": "BUILTIN\\Administrators",
    "S-1-5-32-545": "BUILTIN\\Users",
    "S-1-5-32-546": "BUILTIN\\Guests",
    "S-1-5-32-547": "BUILTIN\\Power Users",
    "S-1-5-32-548": "BUILTIN\\Account Operators",
    "S-1-5-32-549": "BUILTIN\\Server Operators",
    "S-1-5-32-550": "BUILTIN\\Print Operators",
    "S-1-5-32-551": "BUILTIN\\Backup Operators",
    "S-1-5-32-552": "BUILTIN\\Replicator",
    "S-1-5-32-554": "BUILTIN\\Pre-Windows 2000 Compatible Access",
    "S-1-5-32-555": "BUILTIN\\Remote Desktop Users",
    "S-1-5-32-556": "BUILTIN\\Network Configuration Operators",
    "S-1-5-32-560": "BUILTIN\\Windows Authorization Access Group",
    "S-1-5-32-561": "BUILTIN\\Terminal Server License Servers",
    "S-1-5-32-573": "BUILTIN\\Event Log Readers",
    "S-1-5-32-574": "BUILTIN\\Certificate Service DCOM Access",
}

# Relative IDs of the domain's own well-known accounts (MS-DTYP 2.4.2.4).
DOMAIN_RELATIVE_NAMES: dict[int, str] = {
    498: "Enterprise Read-only Domain Controllers",
    500: "Administrator",
    501: "Guest",
    502: "krbtgt",
    512: "Domain Admins",
    513: "Domain Users",
    514: "Domain Guests",
    515: "Domain Computers",
    516: "Domain Controllers",
    517: "Cert Publishers",
    518: "Schema Admins",
    519: "Enterprise Admins",
    520: "Group Policy Creator Owners",
    521: "Read-only Domain Controllers",
    522: "Cloneable Domain Controllers",
    525: "Protected Users",
    526: "Key Admins",
    527: "Enterprise Key Admins",
    553: "RAS and IAS Servers",
}

# SDDL two-letter aliases (sddl.h) for fixed SIDs …
SDDL_FIXED_ALIASES: dict[str, str] = {
    "AN": "S-1-5-7",
    "AO": "S-1-5-32-548",
    "AU": "S-1-5-11",
    "BA": "S-1-5-32-544",
    "BG": "S-1-5-32-546",
    "BO": "S-1-5-32-551",
    "BU": "S-1-5-32-545",
    "CD": "S-1-5-32-574",
    "CG": "S-1-3-1",
    "CO": "S-1-3-0",
    "ED": "S-1-5-9",
    "ER": "S-1-5-32-573",
    "IU": "S-1-5-4",
    "LS": "S-1-5-19",
    "NO": "S-1-5-32-556",
    "NS": "S-1-5-20",
    "NU": "S-1-5-2",
    "OW": "S-1-3-4",
    "PO": "S-1-5-32-550",
    "PS": "S-1-5-10",
    "PU": "S-1-5-32-547",
    "RC": "S-1-5-12",
    "RD": "S-1-5-32-555",
    "RE": "S-1-5-32-552",
    "RU": "S-1-5-32-554",
    "SO": "S-1-5-32-549",
    "SU": "S-1-5-6",
    "SY": "S-1-5-18",
    "WD": "S-1-1-0",
    "WR": "S-1-5-33",
}

# … and for domain-relative ones, resolved against a domain SID.
SDDL_DOMAIN_ALIASES: dict[str, int] = {
    "RO": 498,
    "LA": 500,
    "LG": 501,
    "DA": 512,
    "DU": 513,
    "DG": 514,
    "DC": 515,
    "DD": 516,
    "CA": 517,
    "SA": 518,
    "EA": 519,
    "PA": 520,
    "CN": 522,
    "RS": 553,
}

_ALIAS_OF_FIXED = {sid: alias for alias, sid in SDDL_FIXED_ALIASES.items()}
_ALIAS_OF_RID = {rid: alias for alias, rid in SDDL_DOMAIN_ALIASES.items()}


def sid_to_sddl(sid: Sid, domain_sid: Sid | None = None) -> str:
    """The SDDL spelling of a SID: its alias where Windows uses one, else `S-1-…`."""
    text = str(sid)
    alias = _ALIAS_OF_FIXED.get(text)
    if alias:
        return alias
    if domain_sid is not None and sid.domain_part() == domain_sid:
        alias = _ALIAS_OF_RID.get(sid.rid or -1)
        if alias:
            return alias
    return text


def sid_from_sddl(token: str, domain_sid: Sid | None = None) -> Sid:
    """Resolve an SDDL SID token (alias or `S-1-…`)."""
    upper = token.upper()
    if upper in SDDL_FIXED_ALIASES:
        return Sid.parse(SDDL_FIXED_ALIASES[upper])
    if upper in SDDL_DOMAIN_ALIASES:
        if domain_sid is None:
            raise DescriptorError(f"SDDL alias {token!r} is domain-relative: pass domain_sid to resolve it")
        return Sid.parse(f"{domain_sid}-{SDDL_DOMAIN_ALIASES[upper]}")
    return Sid.parse(token)
