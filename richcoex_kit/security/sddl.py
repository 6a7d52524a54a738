"""SDDL (MS-DTYP 2.5.1) ⇄ SecurityDescriptor, spelt the way Windows writes it.

Engineers paste SDDL from `Get-Acl … | Select Sddl` and dsacls into tickets; the kit's
dry-run diff and ACL viewer show the same spelling so the two can be compared by eye.

`from_sddl(to_sddl(sd)) == sd` for every descriptor `from_bytes` accepts whose ACEs are
all of the eight types SDDL spells here (A, D, OA, OD, AU, AL, OU, OL) and decode; for any
other, `to_sddl` raises DescriptorError rather than render something lossy (a callback
ACE's body is a binary expression, arbitrary bytes in general, which SDDL cannot carry).
Equality is over what SDDL carries (see `SecurityDescriptor`). Where Windows' SDDL has no
spelling, the kit writes hex, and reads it back:

- an access mask with a bit SDDL has no letters for: `0x…` (as Windows writes it);
- ACE flags with a bit SDDL has no letters for (0x20, CRITICAL_ACE_FLAG): `0x…` in the
  flags field, e.g. `(A;0x32;WP;;;AU)`;
- an ACL the control word marks absent (DACL_PRESENT or SACL_PRESENT clear) but that
  still has control bits or a stored ACL: `D:0x1000(…)` — the ACL's control bits in hex,
  its present bit clear — instead of being dropped (Windows omits it: absent means the
  ACL is ignored, which for the DACL means everyone has full access).

Windows only ever writes the first of these, so the other two appear only for
descriptors Windows would not show faithfully either.
"""

from __future__ import annotations

import re

from .descriptor import Ace, Acl, Control, SecurityDescriptor
from .errors import DescriptorError
from .guid import parse_guid
from .rights import OBJECT_ACE_TYPES, SDDL_ACE_FLAGS, SDDL_ACE_TYPES, SDDL_RIGHTS
from .sid import Sid, sid_from_sddl, sid_to_sddl

_TYPE_OF_CODE = {code: ace_type for ace_type, code in SDDL_ACE_TYPES.items()}
_RIGHT_OF_CODE = dict(SDDL_RIGHTS) | {
    # File and registry aliases Windows also accepts in SDDL input.
    "FA": 0x001F01FF,
    "FR": 0x00120089,
    "FW": 0x00120116,
    "FX": 0x001200A0,
    "KA": 0x000F003F,
    "KR": 0x00020019,
    "KW": 0x00020006,
    "KX": 0x00020019,
}
_FLAG_OF_CODE = dict(SDDL_ACE_FLAGS)
_ALL_SDDL_RIGHTS = sum(bit for _, bit in SDDL_RIGHTS)
_ALL_SDDL_FLAGS = sum(bit for _, bit in SDDL_ACE_FLAGS)
_SECTION = re.compile(r"([OGDS]):")
# ASCII only: int() would also read other scripts' digits, which Windows does not.
_HEX = re.compile(r"0x0*([0-9a-f]{1,8})", re.IGNORECASE | re.ASCII)
_DECIMAL = re.compile(r"0*([0-9]{1,10})", re.ASCII)

_DACL_FLAGS = (
    ("P", Control.DACL_PROTECTED),
    ("AR", Control.DACL_AUTO_INHERIT_REQ),
    ("AI", Control.DACL_AUTO_INHERITED),
)
_SACL_FLAGS = (
    ("P", Control.SACL_PROTECTED),
    ("AR", Control.SACL_AUTO_INHERIT_REQ),
    ("AI", Control.SACL_AUTO_INHERITED),
)
# Each ACL's present bit and the control bits that belong to it.
_DACL_BITS = (int(Control.DACL_PRESENT), sum(bit for _, bit in _DACL_FLAGS) | Control.DACL_PRESENT)
_SACL_BITS = (int(Control.SACL_PRESENT), sum(bit for _, bit in _SACL_FLAGS) | Control.SACL_PRESENT)


def _hex_value(text: str, limit: int) -> int | None:
    """`0x…` text as a number no greater than `limit`, or None when it is not that."""
    match = _HEX.fullmatch(text)
    if not match:
        return None
    value = int(match.group(1), 16)
    return value if value <= limit else None


def mask_to_sddl(mask: int) -> str:
    """`0x20028` → 'SWWPRC'; a mask with bits SDDL has no letters for → '0x…'."""
    if not mask or mask & ~_ALL_SDDL_RIGHTS:
        return f"0x{mask:x}"
    return "".join(code for code, bit in SDDL_RIGHTS if mask & bit)


def ace_to_sddl(ace: Ace, domain_sid: Sid | None = None) -> str:
    code = SDDL_ACE_TYPES.get(ace.type)
    if code is None or ace.opaque is not None or ace.sid is None:
        raise DescriptorError(f"ACE type 0x{ace.type:02x} has no SDDL form this kit writes")
    if ace.flags & ~_ALL_SDDL_FLAGS:
        flags = f"0x{ace.flags:x}"
    else:
        flags = "".join(name for name, bit in SDDL_ACE_FLAGS if ace.flags & bit)
    object_type = str(ace.object_type) if ace.object_type else ""
    inherited = str(ace.inherited_object_type) if ace.inherited_object_type else ""
    return f"({code};{flags};{mask_to_sddl(ace.mask)};{object_type};{inherited};{sid_to_sddl(ace.sid, domain_sid)})"


def _acl_to_sddl(
    prefix: str,
    acl: Acl | None,
    control: int,
    flags: tuple[tuple[str, int], ...],
    bits: tuple[int, int],
    domain_sid: Sid | None,
) -> str:
    """One D: or S: section; empty when the ACL is absent and nothing else says otherwise."""
    present, own_bits = bits
    if control & present:
        text = "".join(code for code, bit in flags if control & bit)
    elif acl is None and not control & own_bits:
        return ""
    else:
        text = f"0x{control & own_bits:x}"
    if acl is None:
        return f"{prefix}:{text}NO_ACCESS_CONTROL"
    return f"{prefix}:{text}" + "".join(ace_to_sddl(ace, domain_sid) for ace in acl)


def descriptor_to_sddl(sd: SecurityDescriptor, domain_sid: Sid | None = None) -> str:
    """Render; domain-relative SIDs get aliases (DA, DU, …) only when `domain_sid` is given."""
    parts = []
    if sd.owner is not None:
        parts.append(f"O:{sid_to_sddl(sd.owner, domain_sid)}")
    if sd.group is not None:
        parts.append(f"G:{sid_to_sddl(sd.group, domain_sid)}")
    parts.append(_acl_to_sddl("D", sd.dacl, sd.control, _DACL_FLAGS, _DACL_BITS, domain_sid))
    parts.append(_acl_to_sddl("S", sd.sacl, sd.control, _SACL_FLAGS, _SACL_BITS, domain_sid))
    return "".join(parts)


def _split_sections(text: str) -> dict[str, str]:
    """Split at O:/G:/D:/S: markers that stand outside parentheses."""
    sections: dict[str, str] = {}
    depth, marks = 0, []
    for pos, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and _SECTION.match(text, pos) and (pos == 0 or text[pos - 1] != "-"):
            marks.append(pos)
    if not marks or marks[0] != 0:
        raise DescriptorError(f"SDDL must start with O:, G:, D: or S: — got {text[:20]!r}")
    for start, end in zip(marks, [*marks[1:], len(text)], strict=True):
        key = text[start]
        if key in sections:
            raise DescriptorError(f"SDDL has two {key}: sections")
        sections[key] = text[start + 2 : end]
    return sections


def _parse_mask(text: str) -> int:
    if text[:2].lower() == "0x":
        value = _hex_value(text, 0xFFFFFFFF)
        if value is None:
            raise DescriptorError(f"access mask {text[:40]!r} is not a 32-bit hexadecimal number")
    elif text[:1].isdigit():
        match = _DECIMAL.fullmatch(text)
        value = int(match.group(1)) if match else None
        if value is None or value > 0xFFFFFFFF:
            raise DescriptorError(f"access mask {text[:40]!r} is not a 32-bit decimal number")
    else:
        value = _or_codes(text, _RIGHT_OF_CODE, "access right", text)
    return value


def _or_codes(text: str, table: dict[str, int], what: str, context: str) -> int:
    """Two-letter SDDL codes (`RPWP`, `CIIO`) OR-ed together; an odd length or an unknown
    code is a DescriptorError naming it."""
    if len(text) % 2:
        raise DescriptorError(f"{what}s {text!r} are not two-letter codes")
    value = 0
    for pos in range(0, len(text), 2):
        code = text[pos : pos + 2].upper()
        if code not in table:
            raise DescriptorError(f"unknown {what} {code!r} in {context!r}")
        value |= table[code]
    return value


def _parse_ace_flags(text: str, ace_text: str) -> int:
    """Two-letter flags, or `0x…` for a byte with a bit SDDL has no letters for."""
    if text[:2].lower() == "0x":
        value = _hex_value(text, 0xFF)
        if value is None:
            raise DescriptorError(f"ACE flags {text[:20]!r} are not a hexadecimal byte")
        return value
    return _or_codes(text, _FLAG_OF_CODE, "ACE flag", ace_text)


def ace_from_sddl(text: str, domain_sid: Sid | None = None) -> Ace:
    """Parse one `(type;flags;rights;object;inherited-object;sid)` entry, parentheses optional."""
    fields = text.strip().strip("()").split(";")
    if len(fields) != 6:
        raise DescriptorError(f"ACE {text!r} has {len(fields)} fields, expected 6 (type;flags;rights;guid;guid;sid)")
    code, flag_text, rights, object_text, inherited_text, sid_text = (f.strip() for f in fields)
    ace_type = _TYPE_OF_CODE.get(code.upper())
    if ace_type is None:
        raise DescriptorError(f"unknown ACE type {code!r} in {text!r}")
    flags = _parse_ace_flags(flag_text, text)
    object_type = parse_guid(object_text) if object_text else None
    inherited = parse_guid(inherited_text) if inherited_text else None
    if (object_type or inherited) and ace_type not in OBJECT_ACE_TYPES:
        raise DescriptorError(f"ACE {text!r} names an object type but is not an object ACE (OA/OD/OU)")
    return Ace(ace_type, flags, _parse_mask(rights), sid_from_sddl(sid_text, domain_sid), object_type, inherited)


def _parse_acl(
    text: str, flags_table: tuple[tuple[str, int], ...], bits: tuple[int, int], domain_sid: Sid | None
) -> tuple[int, Acl | None]:
    """One section's body → the ACL's control bits (its present bit included) and the ACL."""
    head, _, rest = text.partition("(")
    present, own_bits = bits
    remaining = head
    if "NO_ACCESS_CONTROL" in remaining:
        remaining = remaining.replace("NO_ACCESS_CONTROL", "", 1)
        null_acl = True
    else:
        null_acl = False
    if remaining[:2].lower() == "0x":
        # The kit's spelling of an ACL with its present bit clear (see the module doc).
        control = _hex_value(remaining, 0xFFFF)
        if control is None or control & ~own_bits:
            raise DescriptorError(f"ACL control {remaining[:20]!r} is not hex of this ACL's bits (0x{own_bits:x})")
    else:
        control = present
        while remaining:
            for code, bit in flags_table:
                if remaining.upper().startswith(code):
                    control |= bit
                    remaining = remaining[len(code) :]
                    break
            else:
                raise DescriptorError(f"unknown ACL flags {head[:40]!r} (expected P, AI, AR, NO_ACCESS_CONTROL or 0x…)")
    if null_acl:
        if rest:
            raise DescriptorError("NO_ACCESS_CONTROL cannot be followed by ACEs")
        return control, None
    body = "(" + rest if rest else ""
    if body.count("(") != body.count(")"):
        raise DescriptorError(f"unbalanced parentheses in the ACL {body[:40]!r}")
    aces = []
    for match in re.finditer(r"\(([^()]*)\)|([^()]+)", body):
        if match.group(2) is not None:
            raise DescriptorError(f"unexpected text {match.group(2)[:40]!r} between ACEs")
        aces.append(ace_from_sddl(match.group(1), domain_sid))
    return control, Acl.from_aces(aces)


def descriptor_from_sddl(text: str, domain_sid: Sid | None = None) -> SecurityDescriptor:
    """Parse SDDL; domain-relative aliases (DA, DU, …) need `domain_sid`."""
    if not isinstance(text, str) or not text.strip():
        raise DescriptorError("SDDL text is empty")
    sections = _split_sections("".join(text.split()))
    control = int(Control.SELF_RELATIVE)
    owner = sid_from_sddl(sections["O"], domain_sid) if "O" in sections else None
    group = sid_from_sddl(sections["G"], domain_sid) if "G" in sections else None
    dacl = sacl = None
    if "D" in sections:
        bits, dacl = _parse_acl(sections["D"], _DACL_FLAGS, _DACL_BITS, domain_sid)
        control |= bits
    if "S" in sections:
        bits, sacl = _parse_acl(sections["S"], _SACL_FLAGS, _SACL_BITS, domain_sid)
        control |= bits
    return SecurityDescriptor(control, owner, group, sacl, dacl)
