"""Binary descriptors: byte-exact round trips, and malformed input as DescriptorError."""

import contextlib
import struct
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from richcoex_kit.security import Ace, AceType, Acl, DescriptorError, SecurityDescriptor, Sid
from richcoex_kit.security.access import AttributeRef, evaluate_write
from richcoex_kit.security.guid import guid_from_bytes, guid_to_bytes

USER = uuid.UUID("bf967aba-0de6-11d0-a285-00aa003049e2")
SAFE = AttributeRef("msExchSafeSendersHash", uuid.UUID("7cb4c7d3-8787-42b0-b438-3c5d479ad31e"))


def test_guid_uses_ads_mixed_endian_layout():
    raw = bytes.fromhex("ba7a96bfe60dd011a28500aa003049e2")
    assert guid_from_bytes(raw) == USER
    assert guid_to_bytes(USER) == raw


def test_real_dc_descriptors_round_trip_byte_exact(samba_descriptors):
    for name, raw in samba_descriptors.items():
        sd = SecurityDescriptor.from_bytes(raw)
        assert sd.to_bytes() == raw, name
        assert len(sd.dacl) > 0


def test_real_dc_descriptors_round_trip_through_sddl(samba_descriptors):
    for name, raw in samba_descriptors.items():
        sd = SecurityDescriptor.from_bytes(raw)
        assert SecurityDescriptor.from_sddl(sd.to_sddl()) == sd, name


def test_protected_flag_is_read_from_control(samba_descriptors):
    assert SecurityDescriptor.from_bytes(samba_descriptors["user-noinherit-protected"]).dacl_protected
    healthy = SecurityDescriptor.from_bytes(samba_descriptors["user-healthy"])
    assert not healthy.dacl_protected and healthy.dacl_auto_inherited


def _with_padding_and_opaque() -> bytes:
    """A descriptor with 4 bytes of padding inside an ACE and a callback ACE (type 9)."""
    sid = Sid.parse("S-1-5-11")
    padded = Ace(AceType.ACCESS_ALLOWED, 0, 0x20, sid, padding=b"\xde\xad\xbe\xef")
    opaque = Ace(0x09, 0x02, opaque=b"\x20\x00\x00\x00" + sid.to_bytes() + b"artx")
    sd = SecurityDescriptor(0x8004, Sid.parse("S-1-5-32-544"), None, None, Acl.from_aces([padded, opaque], revision=4))
    return sd.to_bytes()


def test_padding_inside_aces_and_unknown_ace_types_survive():
    raw = _with_padding_and_opaque()
    sd = SecurityDescriptor.from_bytes(raw)
    assert sd.to_bytes() == raw
    assert sd.dacl.aces[0].padding == b"\xde\xad\xbe\xef"
    assert sd.dacl.aces[1].opaque is not None and sd.dacl.aces[1].type == 9


def test_gaps_between_components_and_acl_slack_are_kept():
    sd = SecurityDescriptor.from_sddl("O:BAG:BAD:(A;;WP;;;AU)")
    raw = bytearray(sd.to_bytes())
    # Move the DACL 8 bytes further with junk in between, and give the ACL 4 bytes of slack.
    header = list(struct.unpack_from("<BBHIIII", raw))
    dacl_off = header[6]
    dacl = bytearray(raw[dacl_off:])
    struct.pack_into("<H", dacl, 2, len(dacl) + 4)
    rebuilt = bytearray(raw[:dacl_off]) + b"JUNKJUNK" + dacl + b"\x00\x00\x00\x00"
    header[6] = dacl_off + 8
    struct.pack_into("<BBHIIII", rebuilt, 0, *header)
    parsed = SecurityDescriptor.from_bytes(bytes(rebuilt))
    assert parsed.to_bytes() == bytes(rebuilt)
    assert parsed == sd


def test_changing_the_dacl_keeps_the_layout(samba_descriptors):
    sd = SecurityDescriptor.from_bytes(samba_descriptors["user-healthy"])
    extra = Ace(AceType.ACCESS_ALLOWED_OBJECT, 0, 0x20, Sid.parse("S-1-5-11"), USER)
    changed = sd.with_dacl(Acl.from_aces([extra, *sd.dacl.aces]), protected=True)
    again = SecurityDescriptor.from_bytes(changed.to_bytes())
    assert again.dacl.aces[0] == extra and again.dacl_protected
    assert again.owner == sd.owner and len(again.dacl) == len(sd.dacl) + 1


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:10], "shorter than its 20-byte header"),
        (lambda b: b"\x02" + b[1:], "revision is 2"),
        (lambda b: b[:2] + b"\x04\x00" + b[4:], "not self-relative"),
        (lambda b: b[:16] + struct.pack("<I", 10_000) + b[20:], "outside the descriptor"),
        (lambda b: b[:-4], "does not fit"),
    ],
)
def test_malformed_descriptors_name_the_problem_and_offset(samba_descriptors, mutate, message):
    raw = samba_descriptors["user-healthy"]
    with pytest.raises(DescriptorError, match=message) as caught:
        SecurityDescriptor.from_bytes(mutate(raw))
    assert "offset" in str(caught.value)


def test_an_ace_whose_sid_overflows_is_reported_at_the_sid_when_read():
    """The chain is checked by from_bytes; an ACE's inside when it is read (documented)."""
    sd = SecurityDescriptor.from_sddl("O:BAD:(A;;WP;;;AU)")
    raw = bytearray(sd.to_bytes())
    dacl_off = struct.unpack_from("<I", raw, 16)[0]
    sid_at = dacl_off + 8 + 8
    raw[sid_at + 1] = 9  # claims nine sub-authorities; the ACE holds one
    parsed = SecurityDescriptor.from_bytes(bytes(raw))
    for read in (lambda: parsed.dacl.aces, parsed.to_sddl, lambda: evaluate_write(parsed, ["S-1-5-11"], SAFE, [USER])):
        with pytest.raises(DescriptorError, match=f"ACE 0 trustee SID .* offset {sid_at - dacl_off}"):
            read()


def test_an_ace_too_small_for_its_type_fails_at_parse():
    sd = SecurityDescriptor.from_sddl("O:BAD:(A;;WP;;;AU)")
    raw = bytearray(sd.to_bytes())
    dacl_off = struct.unpack_from("<I", raw, 16)[0]
    struct.pack_into("<H", raw, dacl_off + 8 + 2, 12)
    with pytest.raises(DescriptorError, match="ACE 0 declares size 12, too small"):
        SecurityDescriptor.from_bytes(bytes(raw))


def test_not_bytes_is_a_descriptor_error():
    with pytest.raises(DescriptorError, match="bytes, not str"):
        SecurityDescriptor.from_bytes("O:BA")  # type: ignore[arg-type]


def _check_parse_or_descriptor_error(data: bytes) -> None:
    try:
        sd = SecurityDescriptor.from_bytes(data)
    except DescriptorError:
        return
    assert sd.to_bytes() == data
    for acl in (sd.dacl, sd.sacl):
        if acl is not None:
            with contextlib.suppress(DescriptorError):
                _ = acl.aces


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_descriptor_error(data):
    _check_parse_or_descriptor_error(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_real_descriptors_parse_or_fail_cleanly(samba_descriptors, data):
    name = data.draw(st.sampled_from(sorted(samba_descriptors)))
    raw = bytearray(samba_descriptors[name])
    for _ in range(data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "byte"]))
        if kind == "flip" and raw:
            pos = data.draw(st.integers(0, len(raw) - 1))
            raw[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "truncate" and raw:
            del raw[data.draw(st.integers(0, len(raw) - 1)) :]
        elif kind == "insert":
            pos = data.draw(st.integers(0, len(raw)))
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    _check_parse_or_descriptor_error(bytes(raw))


# Descriptors as a DC could store them, and odder ones: every ACE type the engine
# interprets plus uninterpreted ones, any flags byte, any control word, padding, SIDs up to
# 15 sub-authorities. Pools overlap the access tests' token and attributes so that the
# access check has something to decide.
POOL_SIDS = [
    Sid.parse(text)
    for text in ("S-1-1-0", "S-1-5-11", "S-1-5-10", "S-1-3-4", "S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1200")
]
POOL_GUIDS = [
    USER,
    SAFE.schema_id,
    uuid.UUID("b1b3a417-ec55-4191-b327-b72e33e38af2"),  # Exchange Personal Information
    uuid.UUID("bf967a06-0de6-11d0-a285-00aa003049e2"),  # proxyAddresses
    uuid.UUID("bf967aa7-0de6-11d0-a285-00aa003049e2"),  # person
]
POOL_MASKS = [0x20, 0x10, 0x30, 0x100, 0x10000000, 0x40000000, 0x20028, 0xF01FF, 0x20094]

sids = st.one_of(
    st.sampled_from(POOL_SIDS),
    st.builds(
        lambda authority, subs: Sid(
            bytes((1, len(subs))) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)
        ),
        st.integers(0, 2**48 - 1),
        st.lists(st.integers(0, 2**32 - 1), max_size=15),
    ),
)
guids = st.one_of(st.sampled_from(POOL_GUIDS), st.uuids())


@st.composite
def aces(draw) -> Ace:
    flags = draw(st.integers(0, 255))
    kind = draw(st.integers(0, 19))
    if kind == 0:  # a type the engine keeps as opaque bytes (callback, label, compound …)
        return Ace(draw(st.sampled_from([4, 9, 0x0B, 0x11, 0x12, 0xFF])), flags, opaque=draw(st.binary(max_size=40)))
    ace_type = draw(st.sampled_from([0, 1, 5, 6, 0, 1, 5, 6, 2, 3, 7, 8]))
    mask = draw(st.one_of(st.sampled_from(POOL_MASKS), st.integers(0, 2**32 - 1)))
    object_type = inherited = None
    if ace_type > 4:
        object_type = draw(st.none() | guids)
        inherited = draw(st.none() | guids)
    padding = draw(st.sampled_from([b"", b"", b"", b"\x00" * 4, b"\xde\xad\xbe\xef\x01"]))
    return Ace(ace_type, flags, mask, draw(sids), object_type, inherited, padding)


acls = st.builds(
    lambda entries, revision: Acl.from_aces(entries, revision), st.lists(aces(), max_size=10), st.sampled_from([2, 4])
)


@st.composite
def descriptor_bytes(draw) -> bytes:
    control = (
        draw(st.one_of(st.integers(0, 0xFFFF), st.sampled_from([0x8004, 0x8404, 0x9404, 0x8C14, 0x8000]))) | 0x8000
    )
    sd = SecurityDescriptor(
        control,
        draw(st.none() | sids),
        draw(st.none() | sids),
        draw(st.none() | acls),
        draw(st.one_of(st.none(), acls, acls)),
    )
    return sd.to_bytes()


@st.composite
def mutated(draw, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "byte"]))
        if kind == "flip" and data:
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif kind == "insert":
            pos = draw(st.integers(0, len(data)))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(descriptor_bytes())
def test_built_descriptors_round_trip_byte_exact(raw):
    assert SecurityDescriptor.from_bytes(raw).to_bytes() == raw
