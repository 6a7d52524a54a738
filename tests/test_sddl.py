import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from richcoex_kit.security import Control, DescriptorError, SecurityDescriptor, Sid
from tests.test_descriptor import descriptor_bytes, mutated

DOMAIN = Sid.parse("S-1-5-21-1-2-3")
WINDOWS_STYLE = (
    "O:DAG:DAD:PAI(OA;;WP;bf967a06-0de6-11d0-a285-00aa003049e2;;S-1-5-21-1-2-3-1105)"
    "(OD;CI;WP;7cb4c7d3-8787-42b0-b438-3c5d479ad31e;bf967aba-0de6-11d0-a285-00aa003049e2;AU)"
    "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;DA)(A;CIID;LCRPLORC;;;WD)(A;;0x1000000;;;SY)"
)


def test_windows_spelling_round_trips_exactly():
    sd = SecurityDescriptor.from_sddl(WINDOWS_STYLE, DOMAIN)
    assert sd.to_sddl(DOMAIN) == WINDOWS_STYLE
    assert SecurityDescriptor.from_bytes(sd.to_bytes()).to_sddl(DOMAIN) == WINDOWS_STYLE


def test_flags_and_aliases_decode_to_what_they_mean():
    sd = SecurityDescriptor.from_sddl(WINDOWS_STYLE, DOMAIN)
    assert sd.dacl_protected and sd.dacl_auto_inherited
    assert sd.owner == Sid.parse("S-1-5-21-1-2-3-512")
    deny = sd.dacl.aces[1]
    assert deny.is_deny and deny.sid == Sid.parse("S-1-5-11") and str(deny.inherited_object_type).startswith("bf967aba")
    assert sd.dacl.aces[2].mask == 0x000F01FF
    assert sd.dacl.aces[3].is_inherited


def test_null_dacl_and_absent_dacl_are_different():
    null = SecurityDescriptor.from_sddl("O:BAD:NO_ACCESS_CONTROL")
    assert null.dacl_present and null.dacl is None and null.has_null_dacl
    assert null.to_sddl() == "O:BAD:NO_ACCESS_CONTROL"
    empty = SecurityDescriptor.from_sddl("O:BAD:")
    assert empty.dacl is not None and len(empty.dacl) == 0 and not empty.has_null_dacl
    assert not SecurityDescriptor.from_sddl("O:BA").control & Control.DACL_PRESENT


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("X:BA", "must start with"),
        ("D:(A;;WP;;;AU", "unbalanced|fields"),
        ("D:(Q;;WP;;;AU)", "unknown ACE type"),
        ("D:(A;;ZZ;;;AU)", "unknown access right"),
        ("D:(A;XX;WP;;;AU)", "unknown ACE flag"),
        ("D:(A;;WP;not-a-guid;;AU)", "not a GUID"),
        ("D:(A;;WP;bf967a06-0de6-11d0-a285-00aa003049e2;;AU)", "not an object ACE"),
        ("D:(A;;WP;;;S-1-5-x)", "not a SID"),
        ("O:DA", "domain-relative"),
        ("D:QQ(A;;WP;;;AU)", "unknown ACL flags"),
        ("O:BAO:BA", "two O: sections"),
    ],
)
def test_bad_sddl_is_a_one_line_descriptor_error(text, message):
    with pytest.raises(DescriptorError, match=message) as caught:
        SecurityDescriptor.from_sddl(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("O:S-1-5-21-" + "9" * 5000, "out of range"),
        ("D:(A;;WP;;;S-1-5-21-" + "9" * 5000 + ")", "out of range"),
        ("D:(A;;" + "9" * 5000 + ";;;AU)", "not a 32-bit decimal"),
        ("D:(A;;0x" + "f" * 5000 + ";;;AU)", "not a 32-bit hexadecimal"),
        ("D:(A;;٣٢;;;AU)", "not a 32-bit decimal"),
        ("D:(A;0x100;WP;;;AU)", "not a hexadecimal byte"),
        ("D:(OA;;WP;bf967a06-0de6-11d0-a285-00aa003049e٢;;AU)", "not a GUID"),
        ("D:0x10(A;;WP;;;AU)", "not hex of this ACL's bits"),
    ],
)
def test_oversized_and_non_ascii_numbers_are_descriptor_errors(text, message):
    with pytest.raises(DescriptorError, match=message) as caught:
        SecurityDescriptor.from_sddl(text)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_ace_flag_without_an_alias_is_written_in_hex():
    sd = SecurityDescriptor.from_sddl("O:BAD:(A;0x32;WP;;;AU)(A;CIID;WP;;;AU)")
    assert sd.dacl.aces[0].flags == 0x32
    assert sd.to_sddl() == "O:BAD:(A;0x32;WP;;;AU)(A;CIID;WP;;;AU)"


def test_acl_bits_without_a_present_acl_survive_in_hex():
    # SACL_PROTECTED with no SACL, and a DACL stored while DACL_PRESENT is clear.
    sd = SecurityDescriptor.from_sddl("O:BAD:P(A;;WP;;;AU)")
    absent = SecurityDescriptor(0x8000 | Control.SACL_PROTECTED | Control.DACL_PROTECTED, sd.owner, None, None, sd.dacl)
    text = absent.to_sddl()
    assert text == "O:BAD:0x1000(A;;WP;;;AU)S:0x2000NO_ACCESS_CONTROL"
    again = SecurityDescriptor.from_sddl(text)
    assert again == absent and again.has_null_dacl and not again.control & Control.SACL_PRESENT
    # What Windows writes is unchanged: present ACLs use letters, absent ones are omitted.
    assert SecurityDescriptor(0x8000, sd.owner).to_sddl() == "O:BA"


def _check_sddl_round_trip(raw: bytes, domain_sid: Sid | None = None) -> None:
    """The claim, precisely: a descriptor from_bytes accepts either round-trips through
    SDDL to an equal descriptor (equality = what SDDL carries, see SecurityDescriptor),
    or — only when one of its ACEs is of a type SDDL is not written for, or malformed
    inside — to_sddl refuses it with DescriptorError. The one exception: a descriptor with
    no owner, group, DACL or SACL renders as "", which from_sddl refuses (an empty string
    is a mistake far more often than a request for no DACL, i.e. full access)."""
    try:
        sd = SecurityDescriptor.from_bytes(raw)
    except DescriptorError:
        return
    try:
        text = sd.to_sddl(domain_sid)
    except DescriptorError:
        unwritable = False
        for acl in (sd.dacl, sd.sacl):
            if acl is None:
                continue
            try:
                unwritable |= any(ace.opaque is not None for ace in acl.aces)
            except DescriptorError:
                unwritable = True
        assert unwritable, "to_sddl refused a descriptor it can write"
        return
    if not text:
        assert sd == SecurityDescriptor(0x8000)
        return
    again = SecurityDescriptor.from_sddl(text, domain_sid)
    assert again == sd, text
    assert again.to_sddl(domain_sid) == text


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(descriptor_bytes(), st.sampled_from([None, DOMAIN]))
def test_every_descriptor_from_bytes_accepts_round_trips_through_sddl(raw, domain_sid):
    _check_sddl_round_trip(raw, domain_sid)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_descriptors_round_trip_through_sddl_or_are_refused(samba_descriptors, data):
    source = data.draw(st.one_of(st.sampled_from(sorted(samba_descriptors.values())), descriptor_bytes()))
    _check_sddl_round_trip(data.draw(mutated(source)))
