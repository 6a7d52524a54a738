"""Self-relative security descriptors (MS-DTYP 2.4.6) as values, byte-exact both ways.

Why not impacket or winacl: both lose bytes on re-serialisation (ACE padding, component
order), mis-handle the DACL-present flag and raise stray exceptions on odd input
(`../shared/FACTS.md`). A fix we write back must be exactly the descriptor we read plus
our change, so this parser keeps everything a DC may put in the buffer: component order
and gaps, ACL slack, padding inside ACEs, and ACE types it does not interpret.

`from_bytes` validates the header, the owner and group SIDs, the ACL headers and the
chain of ACEs (each at least its type's minimum size, all inside the ACL) with the byte
offset of any fault. The inside of an ACE (its SID's length, object flags) is validated
when the ACE is first read — decoded, rendered as SDDL, or examined by the access
check — also as DescriptorError. A scan over 500,000 users reads only the few ACEs
that can decide a write; full per-ACE validation up front would cost 3× its time.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import IntFlag

from .errors import DescriptorError
from .guid import guid_from_bytes, guid_to_bytes
from .rights import (
    ACE_INHERITED_OBJECT_TYPE_PRESENT,
    ACE_OBJECT_TYPE_PRESENT,
    ALLOW_TYPES,
    DENY_TYPES,
    OBJECT_ACE_TYPES,
    SIMPLE_ACE_TYPES,
    AceFlag,
)
from .sid import Sid


class Control(IntFlag):
    """SECURITY_DESCRIPTOR control bits (MS-DTYP 2.4.6)."""

    OWNER_DEFAULTED = 0x0001
    GROUP_DEFAULTED = 0x0002
    DACL_PRESENT = 0x0004
    DACL_DEFAULTED = 0x0008
    SACL_PRESENT = 0x0010
    SACL_DEFAULTED = 0x0020
    DACL_TRUSTED = 0x0040
    SERVER_SECURITY = 0x0080
    DACL_AUTO_INHERIT_REQ = 0x0100
    SACL_AUTO_INHERIT_REQ = 0x0200
    DACL_AUTO_INHERITED = 0x0400
    SACL_AUTO_INHERITED = 0x0800
    DACL_PROTECTED = 0x1000
    SACL_PROTECTED = 0x2000
    RM_CONTROL_VALID = 0x4000
    SELF_RELATIVE = 0x8000


_HEADER = struct.Struct("<BBHIIII")
_ACL_HEADER = struct.Struct("<BBHHH")
_KNOWN_OBJECT_FLAGS = ACE_OBJECT_TYPE_PRESENT | ACE_INHERITED_OBJECT_TYPE_PRESENT


@dataclass(frozen=True, slots=True)
class Ace:
    """One access control entry.

    `opaque` holds the body of an ACE type this engine does not interpret (callback,
    resource-attribute, …), so such a descriptor still round-trips; for those, `mask`
    and `sid` are not meaningful. `padding` is whatever followed the SID inside AceSize;
    it is kept for byte-exact output but is not part of equality.
    """

    type: int
    flags: int
    mask: int = 0
    sid: Sid | None = None
    object_type: uuid.UUID | None = None
    inherited_object_type: uuid.UUID | None = None
    padding: bytes = field(default=b"", compare=False)
    opaque: bytes | None = None

    @property
    def is_object_ace(self) -> bool:
        return self.type in OBJECT_ACE_TYPES

    @property
    def is_allow(self) -> bool:
        return self.type in ALLOW_TYPES

    @property
    def is_deny(self) -> bool:
        return self.type in DENY_TYPES

    @property
    def is_inherited(self) -> bool:
        return bool(self.flags & AceFlag.INHERITED)

    @property
    def inherit_only(self) -> bool:
        return bool(self.flags & AceFlag.INHERIT_ONLY)

    def to_bytes(self) -> bytes:
        if self.opaque is not None:
            body = self.opaque
        else:
            if self.sid is None:
                raise DescriptorError(f"ACE of type 0x{self.type:02x} has no trustee SID")
            parts = [struct.pack("<I", self.mask)]
            if self.type in OBJECT_ACE_TYPES:
                object_flags = (ACE_OBJECT_TYPE_PRESENT if self.object_type else 0) | (
                    ACE_INHERITED_OBJECT_TYPE_PRESENT if self.inherited_object_type else 0
                )
                parts.append(struct.pack("<I", object_flags))
                if self.object_type:
                    parts.append(guid_to_bytes(self.object_type))
                if self.inherited_object_type:
                    parts.append(guid_to_bytes(self.inherited_object_type))
            parts.append(self.sid.to_bytes())
            parts.append(self.padding)
            body = b"".join(parts)
        size = 4 + len(body)
        if size > 0xFFFF:
            raise DescriptorError(f"ACE is {size} bytes, more than an ACE can hold")
        return struct.pack("<BBH", self.type, self.flags, size) + body


# Smallest AceSize per ACE type: header 4 + mask 4 + a SID of at least 8 bytes, and the
# object flags field for object ACEs (MS-DTYP 2.4.4). Other types: just the header.
MIN_ACE_SIZE = bytes(16 if t < 4 else 20 if 4 < t < 9 else 4 for t in range(256))
# The types that can grant or deny access (allow, deny, object allow, object deny).
DECIDING_TYPES = bytes(1 if t in (0, 1, 5, 6) else 0 for t in range(256))


def ace_sid_span(data: bytes, off: int, index: int) -> tuple[int, int]:
    """Validate the inside of the known-type ACE at `off`; return its SID's start and end.

    Separate from the chain walk so a scan pays for it only on ACEs it actually reads.
    """
    ace_type = data[off]
    ace_end = off + (data[off + 2] | data[off + 3] << 8)
    if ace_type < 4:
        sid_at = off + 8
    else:
        object_flags = data[off + 8] | data[off + 9] << 8 | data[off + 10] << 16 | data[off + 11] << 24
        if object_flags & ~_KNOWN_OBJECT_FLAGS:
            raise DescriptorError(f"object ACE {index} has unknown flags 0x{object_flags:x}", off + 8)
        sid_at = off + 12 + 16 * ((object_flags & 1) + (object_flags >> 1 & 1))
    if (
        sid_at + 8 > ace_end
        or data[sid_at] != 1
        or data[sid_at + 1] > 15  # MS-DTYP 2.4.2.2, as Sid.from_bytes checks owner and group
        or sid_at + 8 + 4 * data[sid_at + 1] > ace_end
    ):
        raise DescriptorError(f"ACE {index} trustee SID is malformed or does not fit the ACE", sid_at)
    return sid_at, sid_at + 8 + 4 * data[sid_at + 1]


def _decode_ace(data: bytes, off: int, index: int) -> Ace:
    ace_type, flags, size = struct.unpack_from("<BBH", data, off)
    end = off + size
    if ace_type not in SIMPLE_ACE_TYPES and ace_type not in OBJECT_ACE_TYPES:
        return Ace(ace_type, flags, opaque=bytes(data[off + 4 : end]))
    sid_at, sid_end = ace_sid_span(data, off, index)
    mask = struct.unpack_from("<I", data, off + 4)[0]
    object_type = inherited = None
    if ace_type in OBJECT_ACE_TYPES:
        pos = off + 12
        if data[off + 8] & ACE_OBJECT_TYPE_PRESENT:
            object_type = guid_from_bytes(data, pos)
            pos += 16
        if data[off + 8] & ACE_INHERITED_OBJECT_TYPE_PRESENT:
            inherited = guid_from_bytes(data, pos)
    sid = Sid(data[sid_at:sid_end])
    return Ace(ace_type, flags, mask, sid, object_type, inherited, bytes(data[sid_end:end]))


def _walk_aces(data: bytes, start: int, end: int, count: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validate the chain of ACEs — each at least its type's minimum size and inside the
    ACL — and return their offsets, plus the indexes of the allow and deny ACEs whose mask
    carries WriteProperty or a generic right implying it (0x20; GA 0x1…, GW 0x4…).

    Only those types' masks are read: another type may be a bare 4-byte header, and reading
    past it at the end of the ACL must not fail a valid descriptor.

    The one walk every descriptor pays for, kept to header and mask bytes: a scan runs
    it once per distinct descriptor in the forest, and the access check then looks only
    at the write candidates.
    """
    offsets: list[int] = []
    writers: list[int] = []
    append, mark = offsets.append, writers.append
    minimum, deciding = MIN_ACE_SIZE, DECIDING_TYPES
    off = start
    index = 0
    try:
        for index in range(count):
            ace_type = data[off]
            size = data[off + 2] | data[off + 3] << 8
            if size < minimum[ace_type]:
                raise DescriptorError(f"ACE {index} declares size {size}, too small for its type", off)
            if deciding[ace_type] and (data[off + 4] & 0x20 or data[off + 7] & 0x50):
                mark(index)
            append(off)
            off += size
    except IndexError:
        raise DescriptorError(f"ACE {index} header runs past the end of the ACL", off) from None
    if off > end:
        raise DescriptorError(f"ACE {len(offsets) - 1} runs past the end of the ACL", offsets[-1])
    return tuple(offsets), tuple(writers)


def acl_header(data: bytes, offset: int) -> tuple[int, int, int, int, int]:
    """Validate the ACL header at `offset` (revision, size within the buffer) and return
    its fields: revision, sbz1, AclSize, AceCount, sbz2."""
    if offset + 8 > len(data):
        raise DescriptorError("ACL header is truncated", offset)
    revision, sbz1, size, count, sbz2 = _ACL_HEADER.unpack_from(data, offset)
    if revision not in (2, 4):
        raise DescriptorError(f"ACL revision is {revision}, expected 2 or 4", offset)
    if size < 8 or offset + size > len(data):
        raise DescriptorError(f"ACL size {size} does not fit the buffer", offset + 2)
    return revision, sbz1, size, count, sbz2


class Acl:
    """An ACL: its revision and ACEs, plus the raw bytes it was read from.

    The access check reads `raw` at `offsets` directly; `aces` decodes (and validates the
    inside of) every ACE on first use, raising DescriptorError for a malformed one.
    """

    __slots__ = ("_aces", "_sbz1", "_sbz2", "offsets", "raw", "revision", "writers")

    def __init__(
        self,
        revision: int,
        raw: bytes,
        offsets: tuple[int, ...],
        writers: tuple[int, ...],
        aces: tuple[Ace, ...] | None = None,
        sbz: tuple[int, int] = (0, 0),
    ) -> None:
        self.revision = revision
        self.raw = raw
        self.offsets = offsets
        self.writers = writers
        self._aces = aces
        self._sbz1, self._sbz2 = sbz

    @classmethod
    def from_aces(cls, aces: Iterable[Ace], revision: int | None = None) -> Acl:
        """Build an ACL; revision 4 (ACL_REVISION_DS) when it holds object ACEs, else 2."""
        aces = tuple(aces)
        if revision is None:
            revision = 4 if any(ace.is_object_ace for ace in aces) else 2
        bodies = [ace.to_bytes() for ace in aces]
        size = 8 + sum(len(body) for body in bodies)
        if size > 0xFFFF:
            raise DescriptorError(f"ACL would be {size} bytes, more than 65535")
        raw = _ACL_HEADER.pack(revision, 0, size, len(aces), 0) + b"".join(bodies)
        offsets, writers = _walk_aces(raw, 8, size, len(aces))
        return cls(revision, raw, offsets, writers, aces)

    @classmethod
    def from_bytes(cls, data: bytes, offset: int = 0) -> Acl:
        revision, sbz1, size, count, sbz2 = acl_header(data, offset)
        raw = bytes(data[offset : offset + size])
        offsets, writers = _walk_aces(raw, 8, size, count)
        return cls(revision, raw, offsets, writers, None, (sbz1, sbz2))

    @property
    def aces(self) -> tuple[Ace, ...]:
        if self._aces is None:
            self._aces = tuple(_decode_ace(self.raw, off, i) for i, off in enumerate(self.offsets))
        return self._aces

    def ace(self, index: int) -> Ace:
        """One ACE by position, decoding only that one."""
        if self._aces is not None:
            return self._aces[index]
        return _decode_ace(self.raw, self.offsets[index], index)

    def __len__(self) -> int:
        return len(self.offsets)

    def __iter__(self) -> Iterator[Ace]:
        return iter(self.aces)

    def __eq__(self, other: object) -> bool:
        """Same entries in the same order (revision and padding are representation)."""
        return isinstance(other, Acl) and self.aces == other.aces

    __hash__ = None  # type: ignore[assignment]

    def to_bytes(self) -> bytes:
        return self.raw

    def __repr__(self) -> str:
        return f"Acl(revision={self.revision}, aces={len(self)})"


# Control bits SDDL can express (D:P, D:AI, D:AR, S:…, and which ACLs are present);
# the *_DEFAULTED bits Samba sets are bookkeeping, not access, and SDDL drops them.
SDDL_CONTROL_BITS = (
    Control.DACL_PRESENT
    | Control.SACL_PRESENT
    | Control.DACL_PROTECTED
    | Control.SACL_PROTECTED
    | Control.DACL_AUTO_INHERITED
    | Control.SACL_AUTO_INHERITED
    | Control.DACL_AUTO_INHERIT_REQ
    | Control.SACL_AUTO_INHERIT_REQ
)

_COMPONENTS = ("owner", "group", "sacl", "dacl")
# The order AD and Samba write components in when we build a descriptor from scratch.
_DEFAULT_ORDER = ("owner", "group", "sacl", "dacl")


def read_header(data: bytes) -> tuple[bytes, int, int, int, int, int, int, int]:
    """Validate a self-relative descriptor's header and return the buffer as bytes, the
    revision, Sbz1, control and the owner, group, SACL and DACL offsets (0: absent; any
    other within the buffer, past the header)."""
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DescriptorError(f"a security descriptor is bytes, not {type(data).__name__}")
        data = bytes(data)
    end = len(data)
    if end < 20:
        raise DescriptorError(f"security descriptor is {end} bytes, shorter than its 20-byte header", 0)
    revision, sbz1, control, owner, group, sacl, dacl = _HEADER.unpack_from(data)
    if revision != 1:
        raise DescriptorError(f"security descriptor revision is {revision}, expected 1", 0)
    if not control & 0x8000:  # SE_SELF_RELATIVE
        raise DescriptorError(f"security descriptor is not self-relative (control 0x{control:04x})", 2)
    for name, off, where in (("owner", owner, 4), ("group", group, 8), ("sacl", sacl, 12), ("dacl", dacl, 16)):
        if off and (off < 20 or off >= end):
            raise DescriptorError(f"{name} offset {off} is outside the descriptor", where)
    return data, revision, sbz1, control, owner, group, sacl, dacl


def split_layout(data: bytes, spans: list[tuple[int, int, str]]) -> tuple[tuple[tuple[bytes, str], ...], bytes]:
    """Check that the components' (start, end, name) spans do not overlap; return the gap
    before each, in buffer order, and the bytes after the last."""
    spans.sort()
    layout, pos = [], _HEADER.size
    for start, end, name in spans:
        if start < pos:
            raise DescriptorError(f"{name} overlaps another part of the descriptor", start)
        layout.append((data[pos:start], name))
        pos = end
    return tuple(layout), data[pos:]


@dataclass(frozen=True, slots=True, eq=False)
class SecurityDescriptor:
    """A self-relative security descriptor.

    Equality is over exactly what SDDL carries, so `from_sddl(sd.to_sddl()) == sd` (for
    the ACE types SDDL spells, see `sddl`): the owner and group SIDs; the control bits in
    SDDL_CONTROL_BITS (each ACL's present, protected, auto-inherited and
    auto-inherit-required bits); and each ACL, None or its ACEs in stored order, each ACE
    by type, flags, mask, trustee, ObjectType and InheritedObjectType (an uninterpreted
    type by its body). Not compared, because SDDL has no place for them: the revision and
    Sbz1 bytes, the other control bits (*_DEFAULTED, DACL_TRUSTED, SERVER_SECURITY,
    RM_CONTROL_VALID; SELF_RELATIVE is always set), component order, gaps and trailing
    bytes, ACL revision, Sbz fields and slack, and padding inside ACEs. Compare
    `to_bytes()` for bytes: `layout` remembers the component order and gap bytes of a
    parsed buffer so `to_bytes()` reproduces it.
    """

    control: int
    owner: Sid | None = None
    group: Sid | None = None
    sacl: Acl | None = None
    dacl: Acl | None = None
    revision: int = field(default=1, compare=False)
    sbz1: int = field(default=0, compare=False)
    layout: tuple[tuple[bytes, str], ...] | None = field(default=None, compare=False, repr=False)
    trailer: bytes = field(default=b"", compare=False, repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecurityDescriptor):
            return NotImplemented
        return (self.control & SDDL_CONTROL_BITS, self.owner, self.group, self.sacl, self.dacl) == (
            other.control & SDDL_CONTROL_BITS,
            other.owner,
            other.group,
            other.sacl,
            other.dacl,
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def dacl_present(self) -> bool:
        return bool(self.control & 0x0004)  # SE_DACL_PRESENT; plain int: IntFlag math is slow

    @property
    def dacl_protected(self) -> bool:
        """SE_DACL_PROTECTED: the object does not inherit from its parent (the KB's note)."""
        return bool(self.control & Control.DACL_PROTECTED)

    @property
    def dacl_auto_inherited(self) -> bool:
        return bool(self.control & Control.DACL_AUTO_INHERITED)

    @property
    def has_null_dacl(self) -> bool:
        """No DACL at all: every access is granted (MS-DTYP 2.4.6)."""
        return not self.dacl_present or self.dacl is None

    @classmethod
    def from_bytes(cls, data: bytes) -> SecurityDescriptor:
        data, revision, sbz1, control, *offsets = read_header(data)
        parts: dict[str, object] = {}
        spans: list[tuple[int, int, str]] = []
        for name, off in zip(_COMPONENTS, offsets, strict=True):
            if not off:
                continue
            if name in ("owner", "group"):
                sid = Sid.from_bytes(data, off)
                parts[name] = sid
                spans.append((off, off + len(sid.to_bytes()), name))
            else:
                acl = Acl.from_bytes(data, off)
                parts[name] = acl
                spans.append((off, off + len(acl.raw), name))
        layout, trailer = split_layout(data, spans)
        return cls(
            control,
            revision=revision,
            sbz1=sbz1,
            layout=layout,
            trailer=trailer,
            **parts,  # type: ignore[arg-type]
        )

    def to_bytes(self) -> bytes:
        present = {name: getattr(self, name) for name in _COMPONENTS if getattr(self, name) is not None}
        order = list(self.layout or ())
        placed = {name for _, name in order}
        order += [(b"", name) for name in _DEFAULT_ORDER if name in present and name not in placed]
        body, offsets = bytearray(), dict.fromkeys(_COMPONENTS, 0)
        for gap, name in order:
            if name not in present:
                continue
            body += gap
            offsets[name] = _HEADER.size + len(body)
            body += present[name].to_bytes()
        body += self.trailer
        header = _HEADER.pack(
            self.revision,
            self.sbz1,
            self.control,
            offsets["owner"],
            offsets["group"],
            offsets["sacl"],
            offsets["dacl"],
        )
        return header + bytes(body)

    def with_dacl(self, dacl: Acl | None, *, protected: bool | None = None) -> SecurityDescriptor:
        """A copy with another DACL (and optionally the protected bit set or cleared)."""
        control = self.control | Control.DACL_PRESENT
        if protected is not None:
            control = control | Control.DACL_PROTECTED if protected else control & ~Control.DACL_PROTECTED
        return replace(self, dacl=dacl, control=control)

    def to_sddl(self, domain_sid: Sid | None = None) -> str:
        from .sddl import descriptor_to_sddl

        return descriptor_to_sddl(self, domain_sid)

    @classmethod
    def from_sddl(cls, text: str, domain_sid: Sid | None = None) -> SecurityDescriptor:
        from .sddl import descriptor_from_sddl

        return descriptor_from_sddl(text, domain_sid)
