import pytest

from richcoex_kit.security import Control, DescriptorError, SecurityDescriptor, Sid

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
