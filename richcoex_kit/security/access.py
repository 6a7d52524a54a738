"""Effective WriteProperty, decided exactly as a domain controller decides it.

The rules are MS-DTYP 2.5.3.2 (AccessCheck with an object-type list) as MS-ADTS 5.1.3.3
applies them to attribute writes, confirmed against a real Samba AD DC
(`../shared/samba-lab.md`, "How the DC decides"):

- ACEs are read in stored order — non-canonical order is honoured as stored — and the
  first ACE that speaks about WriteProperty for the attribute decides it: a Deny after a
  matching Allow does not take the grant back, and vice versa.
- Inherit-only ACEs never apply to the object itself.
- An object ACE applies when its ObjectType is absent, is the object's structural class
  (object-type tree level 0: every attribute), the attribute's property set (level 1) or
  the attribute itself (level 2). A superclass GUID (person for a user) does not apply.
- InheritedObjectType does not restrict an ACE at check time: the DC already stored
  inherited copies that do not fit the object's class as inherit-only.
- GenericWrite and GenericAll imply WriteProperty (raw generic bits or already mapped).
- No DACL grants everything; an empty DACL grants nothing. The owner's implicit rights
  (READ_CONTROL, WRITE_DAC) never include WriteProperty; ControlAccess alone never grants
  it (Samba differs here; AD does not, and AD is the reference).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .descriptor import (
    DECIDING_TYPES,
    MIN_ACE_SIZE,
    Ace,
    Acl,
    SecurityDescriptor,
    ace_sid_span,
    acl_header,
    read_header,
    split_layout,
)
from .errors import DescriptorError
from .sid import Sid

WRITE_PROPERTY = 0x20
PRINCIPAL_SELF = Sid.parse("S-1-5-10").to_bytes()
OWNER_RIGHTS = Sid.parse("S-1-3-4").to_bytes()

VIA_ALL = "all properties"
VIA_CLASS = "object class"
VIA_PROPERTY_SET = "property set"
VIA_ATTRIBUTE = "attribute"


@dataclass(frozen=True, slots=True)
class AttributeRef:
    """An attribute as the access check needs it: schemaIDGUID and attributeSecurityGUID."""

    name: str
    schema_id: uuid.UUID
    property_set: uuid.UUID | None = None


class Decision:
    """The verdict for one attribute, and the ACE that decided it.

    The deciding ACE is decoded and the sentence built only when asked for, because a
    forest scan makes millions of decisions and reads the words of only the failing ones.
    """

    __slots__ = ("_acl", "_empty_dacl", "_names", "ace_index", "allowed", "attribute", "via")

    def __init__(
        self,
        attribute: str,
        allowed: bool,
        ace_index: int | None,
        via: str | None,
        acl: Acl | None = None,
        names: Mapping[str, str] | None = None,
        empty_dacl: bool = False,
    ) -> None:
        self.attribute = attribute
        self.allowed = allowed
        self.ace_index = ace_index
        self.via = via
        self._acl = acl
        self._names = names or {}
        self._empty_dacl = empty_dacl

    @property
    def ace(self) -> Ace | None:
        if self.ace_index is None or self._acl is None:
            return None
        return self._acl.ace(self.ace_index)

    @property
    def trustee(self) -> str | None:
        """The deciding ACE's trustee as a name (given names, well-known names, else the SID)."""
        ace = self.ace
        if ace is None or ace.sid is None:
            return None
        text = str(ace.sid)
        return self._names.get(text) or ace.sid.name() or text

    @property
    def reason(self) -> str:
        """One sentence fit for a report, naming the deciding ACE."""
        if self.ace_index is None:
            if self.allowed:
                return "the descriptor has no DACL (NULL DACL), which grants everyone full access"
            if self._empty_dacl:
                return f"the DACL is empty, so nobody may write {self.attribute}"
            return f"no ACE grants WriteProperty on {self.attribute} to the account or any group in its token"
        verb = "allows" if self.allowed else "denies"
        ace = self.ace
        scope = self.via or VIA_ALL
        if self.via == VIA_PROPERTY_SET and ace is not None and ace.object_type:
            label = str(ace.object_type)
            scope = f"via the property set {self._names.get(label, label)}"
        elif self.via == VIA_CLASS:
            scope = "on every attribute of the object's class"
        elif self.via == VIA_ATTRIBUTE:
            scope = "for this attribute"
        elif self.via == VIA_ALL:
            scope = "on all properties"
        inherited = "inherited" if ace is not None and ace.is_inherited else "explicit"
        return (
            f"ACE {self.ace_index} ({inherited}) {verb} WriteProperty on {self.attribute} to {self.trustee} ({scope})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and (
            self.attribute,
            self.allowed,
            self.ace_index,
            self.via,
        ) == (other.attribute, other.allowed, other.ace_index, other.via)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Decision({self.attribute!r}, allowed={self.allowed}, ace_index={self.ace_index}, via={self.via!r})"


class TokenSids(frozenset):  # type: ignore[type-arg]
    """A token as the binary SIDs the check compares raw ACE trustees against.

    Its own type (not a bare frozenset) so a set of `Sid` objects is never mistaken for it.
    """


def token_bytes(token: Iterable[Sid | str]) -> TokenSids:
    """Precompute a token once for many evaluations (a scan)."""
    if isinstance(token, TokenSids):
        return token
    return TokenSids(Sid.parse(item).to_bytes() for item in token)


_last_plan: tuple = ((), None, None)


def _plan(attrs: tuple[AttributeRef, ...], structural: bytes | None) -> tuple:
    """GUID bytes → the attributes an object ACE with that ObjectType covers (and how),
    the targets of an ACE without ObjectType, and decide_writes' all-granted answer.

    The last answer is kept because a scan asks the same question of every object in the
    forest: comparing tuples of the same elements short-cuts on identity, which measured
    5% faster than hashing them for an lru_cache. The memo is one immutable tuple, read
    once and replaced whole, so threads never see half of one.
    """
    global _last_plan
    last = _last_plan
    if last[0] == attrs and last[1] == structural:
        return last[2]
    covers: dict[bytes, list[tuple[int, str]]] = {}
    for i, attr in enumerate(attrs):
        covers.setdefault(attr.schema_id.bytes_le, []).append((i, VIA_ATTRIBUTE))
        if attr.property_set is not None:
            covers.setdefault(attr.property_set.bytes_le, []).append((i, VIA_PROPERTY_SET))
    everything = tuple((i, VIA_ALL) for i in range(len(attrs)))
    if structural is not None:
        covers[structural] = [(i, VIA_CLASS) for i in range(len(attrs))]
    granted = tuple((True, None, None) for _ in attrs)
    _last_plan = (attrs, structural, (covers, everything, granted))
    return covers, everything, granted


def evaluate_all(
    sd: SecurityDescriptor,
    token: Iterable[Sid | str],
    attributes: Iterable[AttributeRef],
    object_classes: Iterable[uuid.UUID],
    *,
    object_sid: Sid | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Decision]:
    """Decide WriteProperty for every attribute in one pass over the DACL.

    `token` is the acting account's SIDs (own, transitive groups, well-known), as `Sid`s,
    `S-1-…` strings, or a `token_bytes(...)` precomputed once for a whole scan.
    `object_classes` lists the object's class schemaIDGUIDs, structural class first.
    `object_sid` (the object's own SID) lets PRINCIPAL_SELF ACEs apply when the object
    is the acting account itself. `names` maps SID and GUID strings to display names.
    """
    attrs = tuple(attributes)
    if sd.has_null_dacl:
        return {a.name: Decision(a.name, True, None, None) for a in attrs}
    dacl = sd.dacl
    assert dacl is not None
    sids: frozenset[bytes] = token_bytes(token)
    extra = set()
    if object_sid is not None and object_sid.to_bytes() in sids:
        extra.add(PRINCIPAL_SELF)
    if sd.owner is not None and sd.owner.to_bytes() in sids:
        extra.add(OWNER_RIGHTS)
    if extra:
        sids = sids | extra
    structural = None
    for guid in object_classes:
        structural = guid.bytes_le
        break
    covers, everything, _ = _plan(attrs, structural)

    decided: list[Decision | None] = [None] * len(attrs)
    remaining = len(attrs)
    raw = dacl.raw
    offsets = dacl.offsets
    targets: Sequence[tuple[int, str]]
    # Only the allow/deny ACEs whose mask can grant or deny WriteProperty (found by the
    # parser), in DACL order; of those, only the ones that apply to the object itself.
    # `decide_writes` applies the same rules in its own walk: keep the two in step.
    for index in dacl.writers:
        if not remaining:
            break
        off = offsets[index]
        ace_type = raw[off]
        if raw[off + 1] & 0x08:
            continue
        targets = everything
        if ace_type > 1 and raw[off + 8] & 1:
            found = covers.get(raw[off + 12 : off + 28])
            if not found:
                continue
            targets = found
        sid_at, sid_end = ace_sid_span(raw, off, index)
        if raw[sid_at:sid_end] not in sids:
            continue
        allowed = ace_type == 0 or ace_type == 5
        for i, via in targets:
            if decided[i] is None:
                decided[i] = Decision(attrs[i].name, allowed, index, via, dacl, names)
                remaining -= 1
    empty = len(dacl) == 0
    return {
        attr.name: decided[i] or Decision(attr.name, False, None, None, dacl, names, empty_dacl=empty)
        for i, attr in enumerate(attrs)
    }


def evaluate_write(
    sd: SecurityDescriptor,
    token: Iterable[Sid | str],
    attribute: AttributeRef,
    object_classes: Iterable[uuid.UUID],
    *,
    object_sid: Sid | None = None,
    names: Mapping[str, str] | None = None,
) -> Decision:
    """Decide WriteProperty for one attribute (see `evaluate_all` for the arguments)."""
    return evaluate_all(sd, token, [attribute], object_classes, object_sid=object_sid, names=names)[attribute.name]


_ACE_START = struct.Struct("<BBHII")  # AceType, AceFlags, AceSize, Mask, object ACE Flags
WriteVerdict = tuple[bool, int | None, str | None]
"""(allowed, index of the deciding ACE or None, how it applied: VIA_… or None)."""
_UNDECIDED: WriteVerdict = (False, None, None)


def decide_writes(
    data: bytes,
    token: Iterable[Sid | str],
    attributes: Iterable[AttributeRef],
    object_classes: Iterable[uuid.UUID],
    *,
    object_sid: Sid | None = None,
) -> tuple[WriteVerdict, ...]:
    """WriteProperty for every attribute, straight from a descriptor's bytes, in one walk.

    What a forest scan calls once per distinct descriptor: the same verdicts, deciding ACE
    indexes and `via` as `evaluate_all(SecurityDescriptor.from_bytes(data), …)`, in
    attribute order, without building the descriptor, its ACL or Decision objects (about
    1.5× as fast; `benchmarks/descriptors.py`). Build Decisions — reasons, the deciding
    ACE — with `evaluate_all` for the few descriptors that fail.

    Validated exactly as `from_bytes` validates, so the same input raises DescriptorError:
    the header, the owner and group SIDs, both ACL headers, the whole chain of ACEs of
    both ACLs (each at least its type's minimum size, all inside the ACL, AceCount
    consistent) and that no two components overlap; plus, as `evaluate_all` does, the
    inside (object flags, trustee SID) of every ACE it has to read to decide. Like
    `evaluate_all` it does not read the inside of ACEs that cannot decide a write or come
    after every attribute is decided. Arguments as for `evaluate_all`.
    """
    data, _, _, control, owner_at, group_at, sacl_at, dacl_at = read_header(data)
    attrs = attributes if type(attributes) is tuple else tuple(attributes)
    structural = None
    for guid in object_classes:
        structural = guid.bytes_le
        break
    covers, everything, granted = _plan(attrs, structural)
    spans: list[tuple[int, int, str]] = []
    owner = None
    if owner_at:
        owner = Sid.from_bytes(data, owner_at).to_bytes()
        spans.append((owner_at, owner_at + len(owner), "owner"))
    if group_at:
        spans.append((group_at, group_at + len(Sid.from_bytes(data, group_at).to_bytes()), "group"))
    if sacl_at:  # validated as from_bytes does, never read: SD flags 7 leave it out anyway
        spans.append((sacl_at, sacl_at + len(Acl.from_bytes(data, sacl_at).raw), "sacl"))
    if not dacl_at:
        split_layout(data, spans)
        return granted  # no DACL stored: with or without DACL_PRESENT, a NULL DACL
    size, count = acl_header(data, dacl_at)[2:4]
    spans.append((dacl_at, dacl_at + size, "dacl"))
    split_layout(data, spans)

    remaining = len(attrs) if control & 0x0004 else 0  # DACL_PRESENT clear: a NULL DACL
    sids: frozenset[bytes] = token_bytes(token)
    if object_sid is not None and object_sid.to_bytes() in sids:
        sids = sids | {PRINCIPAL_SELF}
    if owner is not None and owner in sids:
        sids = sids | {OWNER_RIGHTS}
    undecided = _UNDECIDED
    decided = [undecided] * len(attrs)
    minimum, deciding, header = MIN_ACE_SIZE, DECIDING_TYPES, _ACE_START.unpack_from
    raw = data[dacl_at : dacl_at + size]  # the bytes evaluate_all reads: the same slices
    # One unpack per ACE reads type, flags, size, mask and an object ACE's flags (junk for
    # other types, and unused); 12 zero bytes after the ACL let it read a last ACE shorter
    # than 12 bytes. Reads past the ACL still fail: a zero size is too small, and a run past
    # the end is caught below, as in from_bytes.
    padded = raw + bytes(12)
    targets: Sequence[tuple[int, str]]
    off = 8
    index = ace_size = 0
    try:
        for index in range(count):
            ace_type, ace_flags, ace_size, mask, object_flags = header(padded, off)
            if ace_size < 20 and ace_size < minimum[ace_type]:  # no minimum is above 20
                raise DescriptorError(f"ACE {index} declares size {ace_size}, too small for its type", off)
            # The rules of evaluate_all, in the same order (see there and the module doc):
            # WriteProperty or GA/GW, an allow/deny type, not inherit-only.
            if mask & 0x50000020 and remaining and deciding[ace_type] and not ace_flags & 0x08:
                targets = everything
                if ace_type > 1 and object_flags & 1:
                    targets = covers.get(raw[off + 12 : off + 28], ())
                if targets:
                    sid_at, sid_end = ace_sid_span(raw, off, index)
                    if raw[sid_at:sid_end] in sids:
                        allowed = ace_type == 0 or ace_type == 5
                        for i, via in targets:
                            if decided[i] is undecided:
                                decided[i] = (allowed, index, via)
                                remaining -= 1
            off += ace_size
    except (IndexError, struct.error):
        raise DescriptorError(f"ACE {index} header runs past the end of the ACL", off) from None
    if off > size:  # offsets within the ACL, as from_bytes reports them
        raise DescriptorError(f"ACE {count - 1} runs past the end of the ACL", off - ace_size)
    return tuple(decided) if control & 0x0004 else granted
