import pytest

from richcoex_kit.security import DescriptorError, Sid
from richcoex_kit.security.sid import sid_from_sddl, sid_to_sddl

DOMAIN = Sid.parse("S-1-5-21-1004336348-1177238915-682003330")


def test_text_and_binary_round_trip():
    sid = Sid.parse("S-1-5-21-1004336348-1177238915-682003330-512")
    assert Sid.from_bytes(sid.to_bytes()) == sid
    assert str(sid) == "S-1-5-21-1004336348-1177238915-682003330-512"
    assert sid.to_bytes()[:8] == bytes([1, 5, 0, 0, 0, 0, 0, 5])


def test_equality_is_by_value_not_by_spelling():
    assert Sid.parse("s-1-5-32-544") == Sid.parse("S-1-5-32-544")
    assert len({Sid.parse("S-1-1-0"), Sid.parse("S-1-1-0")}) == 1


def test_well_known_and_domain_relative_names():
    assert Sid.parse("S-1-1-0").name() == "Everyone"
    assert Sid.parse("S-1-5-11").name() == "NT AUTHORITY\\Authenticated Users"
    assert Sid.parse("S-1-5-10").name() == "NT AUTHORITY\\SELF"
    assert Sid.parse("S-1-5-32-544").name() == "BUILTIN\\Administrators"
    admins = Sid.parse(f"{DOMAIN}-512")
    assert admins.name() is None
    assert admins.name(DOMAIN) == "Domain Admins"
    assert admins.name(DOMAIN, "LAB") == "LAB\\Domain Admins"
    assert Sid.parse(f"{DOMAIN}-1105").name(DOMAIN) is None


def test_sddl_aliases_need_the_domain_for_relative_ones():
    assert sid_from_sddl("AU") == Sid.parse("S-1-5-11")
    assert sid_from_sddl("DA", DOMAIN) == Sid.parse(f"{DOMAIN}-512")
    assert sid_to_sddl(Sid.parse(f"{DOMAIN}-512"), DOMAIN) == "DA"
    assert sid_to_sddl(Sid.parse(f"{DOMAIN}-512")) == f"{DOMAIN}-512"
    with pytest.raises(DescriptorError, match="domain-relative"):
        sid_from_sddl("DA")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x01\x05\x00", "truncated"),
        (b"\x02\x01\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00", "revision"),
        (b"\x01\x10" + b"\x00" * 70, "at most 15"),
        (b"\x01\x02\x00\x00\x00\x00\x00\x05\x15\x00\x00\x00", "truncated"),
    ],
)
def test_malformed_binary_sids_say_what_is_wrong(data, message):
    with pytest.raises(DescriptorError, match=message):
        Sid.from_bytes(data)


@pytest.mark.parametrize("text", ["", "S-1", "S-1-5-x", "X-1-5-32", "S-1-5-" + "-".join(["1"] * 16)])
def test_malformed_text_sids(text):
    with pytest.raises(DescriptorError):
        Sid.parse(text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("S-1-5-21-" + "9" * 5000, "sub-authority 2 out of range"),
        ("S-1-5-4294967296", "sub-authority 1 out of range"),
        ("S-1-281474976710656-1", "authority out of range"),
        ("S-1-0x1000000000000-1", "authority out of range"),
        ("S-1-5-" + "-".join(["1"] * 16), "16 sub-authorities"),
        ("S-1-٥-١٨", "not a SID"),
        ("S-1-5-32-５４４", "not a SID"),
    ],
)
def test_out_of_range_and_non_ascii_sids_are_one_line_errors(text, message):
    with pytest.raises(DescriptorError, match=message) as caught:
        Sid.parse(text)
    assert len(str(caught.value)) < 200 and "\n" not in str(caught.value)


def test_limits_and_the_hex_authority_windows_writes():
    assert Sid.parse("S-1-5-4294967295").subauthorities == (4294967295,)
    assert Sid.parse("S-1-5-00000000000000000018") == Sid.parse("S-1-5-18")
    big = Sid.parse("S-1-0x00ABCDEF0123-7")  # 2**32 or more: Windows writes it in hex
    assert big.authority == 0xABCDEF0123 and str(big) == "S-1-0x00ABCDEF0123-7"
    assert Sid.parse(str(big)) == big == Sid.parse(f"S-1-{0xABCDEF0123}-7")
    assert str(Sid.parse(f"S-1-{2**32 - 1}-7")) == f"S-1-{2**32 - 1}-7"
    assert Sid.parse("S-1-0x000000000005-18") == Sid.parse("S-1-5-18")
