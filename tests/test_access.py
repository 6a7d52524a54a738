"""Every access rule of MS-ADTS 5.1.3.3 / MS-DTYP 2.5.3.2 that write-back depends on,
each with a descriptor built for it. The same rules are checked against the real DC in
tests/integration/test_oracle.py."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from richcoex_kit.security import Ace, Acl, DescriptorError, Sid
from richcoex_kit.security.access import AttributeRef, decide_writes, evaluate_all, evaluate_write, token_bytes
from richcoex_kit.security.descriptor import SecurityDescriptor
from tests.test_descriptor import POOL_SIDS, descriptor_bytes, mutated

D = "S-1-5-21-1-2-3"
DOMAIN = Sid.parse(D)
SYNC, GROUP, NESTED, OTHER = f"{D}-1102", f"{D}-1105", f"{D}-1106", f"{D}-1200"
TOKEN = [SYNC, NESTED, GROUP, "S-1-1-0", "S-1-5-11", "S-1-5-2"]
USER = uuid.UUID("bf967aba-0de6-11d0-a285-00aa003049e2")
PERSON = uuid.UUID("bf967aa7-0de6-11d0-a285-00aa003049e2")
GROUP_CLASS = "bf967a9c-0de6-11d0-a285-00aa003049e2"
CLASSES = [USER, uuid.UUID("bf967aa4-0de6-11d0-a285-00aa003049e2"), PERSON]
EXCH_PERSONAL = "b1b3a417-ec55-4191-b327-b72e33e38af2"
SAFE = AttributeRef(
    "msExchSafeSendersHash", uuid.UUID("7cb4c7d3-8787-42b0-b438-3c5d479ad31e"), uuid.UUID(EXCH_PERSONAL)
)
PROXY = AttributeRef(
    "proxyAddresses",
    uuid.UUID("bf967a06-0de6-11d0-a285-00aa003049e2"),
    uuid.UUID("e48d0154-bcf8-11d1-8702-00c04fb96050"),
)
BASELINE = "(A;;RPLCLORC;;;AU)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)"


def decide(sddl: str, attribute: AttributeRef = SAFE, token=TOKEN, classes=CLASSES, **kw):
    sd = SecurityDescriptor.from_sddl(f"O:{D}-512G:{D}-513" + sddl, DOMAIN)
    return evaluate_write(sd, token, attribute, classes, **kw)


RULES = [
    ("allow via the group's SID", f"D:{BASELINE}(OA;;WP;{SAFE.schema_id};;{GROUP})", True, 2),
    ("allow via a nested group's SID in the token", f"D:{BASELINE}(OA;;WP;{SAFE.schema_id};;{NESTED})", True, 2),
    ("allow via the property set", f"D:{BASELINE}(OA;;WP;{EXCH_PERSONAL};;{GROUP})", True, 2),
    ("allow on all properties (no ObjectType)", f"D:{BASELINE}(A;;WP;;;{GROUP})", True, 2),
    ("GenericWrite, raw", f"D:(A;;GW;;;{GROUP})", True, 0),
    ("GenericWrite, as Samba stores it mapped", f"D:(A;;0x20028;;;{GROUP})", True, 0),
    ("GenericAll, raw", f"D:(A;;GA;;;{GROUP})", True, 0),
    ("GenericAll, mapped", f"D:(A;;0xf01ff;;;{GROUP})", True, 0),
    ("deny before allow", f"D:(OD;;WP;{SAFE.schema_id};;{GROUP})(A;;WP;;;{GROUP})", False, 0),
    (
        "allow before deny (stored order honoured)",
        f"D:(A;;WP;;;{GROUP})(OD;;WP;{SAFE.schema_id};;{GROUP})",
        True,
        0,
    ),
    ("inherit-only ACE skipped", f"D:(OA;CIIO;WP;{SAFE.schema_id};;{GROUP})", False, None),
    ("ObjectType = the object's structural class applies", f"D:(OA;;WP;{USER};;{GROUP})", True, 0),
    ("ObjectType = a superclass does not", f"D:(OA;;WP;{PERSON};;{GROUP})", False, None),
    (
        "InheritedObjectType=group does not restrict an explicit ACE",
        f"D:(OA;;WP;{SAFE.schema_id};{GROUP_CLASS};{GROUP})",
        True,
        0,
    ),
    ("ControlAccess alone never grants WriteProperty", f"D:(OA;;CR;{SAFE.schema_id};;{GROUP})", False, None),
    ("read-only grant does not count", f"D:(OA;;RP;{SAFE.schema_id};;{GROUP})", False, None),
    ("another attribute's grant does not count", f"D:(OA;;WP;{PROXY.schema_id};;{GROUP})", False, None),
    ("a trustee outside the token does not count", f"D:(A;;WP;;;{OTHER})", False, None),
    (
        "deny on another attribute does not block",
        f"D:(OD;;WP;{PROXY.schema_id};;{GROUP})(A;;WP;;;{GROUP})",
        True,
        1,
    ),
    ("deny to Everyone blocks", f"D:(D;;WP;;;WD)(A;;WP;;;{GROUP})", False, 0),
    ("empty DACL grants nothing", "D:", False, None),
    ("NULL DACL grants everything", "D:NO_ACCESS_CONTROL", True, None),
    ("owner's implicit rights exclude WriteProperty", f"D:(A;;RC;;;{SYNC})", False, None),
]


@pytest.mark.parametrize("name, dacl, allowed, index", RULES)
def test_rule(name, dacl, allowed, index):
    decision = decide(dacl)
    assert (decision.allowed, decision.ace_index) == (allowed, index), name


def test_owner_of_the_object_gets_no_write_from_ownership():
    sd = SecurityDescriptor.from_sddl(f"O:{SYNC}D:(A;;RPWD;;;{SYNC})", DOMAIN)
    assert not evaluate_write(sd, TOKEN, SAFE, CLASSES).allowed


def test_owner_rights_ace_applies_to_the_owner():
    sd = SecurityDescriptor.from_sddl(f"O:{SYNC}D:(A;;WP;;;OW)", DOMAIN)
    assert evaluate_write(sd, TOKEN, SAFE, CLASSES).allowed
    assert not evaluate_write(sd, ["S-1-5-11"], SAFE, CLASSES).allowed


def test_self_applies_only_when_the_object_is_the_account():
    sd = SecurityDescriptor.from_sddl("O:BAD:(A;;WP;;;PS)", DOMAIN)
    assert evaluate_write(sd, TOKEN, SAFE, CLASSES, object_sid=Sid.parse(SYNC)).allowed
    assert not evaluate_write(sd, TOKEN, SAFE, CLASSES, object_sid=Sid.parse(OTHER)).allowed


def test_token_accepts_sid_objects_and_strings_alike():
    dacl = f"D:(A;;WP;;;{GROUP})"
    assert decide(dacl, token={Sid.parse(s) for s in TOKEN}).allowed
    assert decide(dacl, token=frozenset(Sid.parse(s) for s in TOKEN)).allowed


def test_reason_names_the_ace_the_right_and_the_trustee():
    decision = decide(
        f"D:{BASELINE}(OD;;WP;{SAFE.schema_id};;{GROUP})(A;;WP;;;{GROUP})",
        names={GROUP: "LAB\\MSOL_AD_Sync_RichCoexistence"},
    )
    assert decision.reason == (
        "ACE 2 (explicit) denies WriteProperty on msExchSafeSendersHash to LAB\\MSOL_AD_Sync_RichCoexistence "
        "(for this attribute)"
    )
    assert decision.ace.is_deny and decision.trustee == "LAB\\MSOL_AD_Sync_RichCoexistence"
    none = decide(f"D:{BASELINE}")
    assert "no ACE grants WriteProperty on msExchSafeSendersHash" in none.reason and none.ace is None


def test_evaluate_all_agrees_with_one_at_a_time():
    sddl = (
        f"O:BAD:(OD;;WP;{PROXY.schema_id};;{GROUP})(OA;;WP;{EXCH_PERSONAL};;{GROUP})"
        f"(OA;CIIO;WP;{PROXY.schema_id};;{GROUP})(A;;WP;;;{OTHER})"
    )
    sd = SecurityDescriptor.from_sddl(sddl, DOMAIN)
    together = evaluate_all(sd, TOKEN, [SAFE, PROXY], CLASSES)
    assert together == {a.name: evaluate_write(sd, TOKEN, a, CLASSES) for a in (SAFE, PROXY)}
    assert together["msExchSafeSendersHash"].allowed and together["msExchSafeSendersHash"].via == "property set"
    assert not together["proxyAddresses"].allowed and together["proxyAddresses"].ace_index == 0


def test_real_dc_descriptors_decide_as_the_lab_scenarios_say(samba_descriptors):
    """The captured descriptors, with the lab's real group SID (see the fixture's _domain_sid)."""
    import json

    from tests.conftest import FIXTURES

    domain = json.loads((FIXTURES / "samba-descriptors.json").read_text())["_domain_sid"]
    token = [f"{domain}-1102", f"{domain}-1105", f"{domain}-513", "S-1-1-0", "S-1-5-11", "S-1-5-2"]
    verdict = {
        name: evaluate_write(SecurityDescriptor.from_bytes(raw), token, PROXY, CLASSES).allowed
        for name, raw in samba_descriptors.items()
        if name.startswith("user-")
    }
    assert verdict == {
        "user-healthy": True,
        "user-noinherit-protected": False,
        "user-deny-first": False,
        "user-adminsdholder": False,
        "user-propset": False,
    }


# decide_writes must agree with from_bytes + evaluate_all on every input: the same
# verdicts, deciding ACE indexes and `via`, or DescriptorError from both.
FAST_ATTRIBUTES = (SAFE, PROXY, AttributeRef("noPropertySet", uuid.UUID("bf967a06-0de6-11d0-a285-00aa003049e3")))


def _outcome(run):
    try:
        return run()
    except DescriptorError:
        return "DescriptorError"


def _check_fast_path_agrees(raw: bytes, token, classes, object_sid=None) -> None:
    def reference():
        decisions = evaluate_all(
            SecurityDescriptor.from_bytes(raw), token, FAST_ATTRIBUTES, classes, object_sid=object_sid
        )
        return tuple((d.allowed, d.ace_index, d.via) for d in decisions.values())

    fast = _outcome(lambda: decide_writes(raw, token_bytes(token), FAST_ATTRIBUTES, classes, object_sid=object_sid))
    assert fast == _outcome(reference)


tokens = st.lists(st.sampled_from([s_.to_bytes() for s_ in POOL_SIDS] + [Sid.parse(SYNC).to_bytes()]), max_size=6)
class_lists = st.sampled_from([CLASSES, [PERSON], [], [uuid.UUID(GROUP_CLASS)]])
object_sids = st.sampled_from([None, Sid.parse(SYNC), Sid.parse("S-1-5-21-1-2-3-1105")])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(descriptor_bytes(), tokens, class_lists, object_sids)
def test_fast_path_agrees_on_built_descriptors(raw, token, classes, object_sid):
    _check_fast_path_agrees(raw, [Sid(t) for t in token], classes, object_sid)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), tokens, class_lists, object_sids)
def test_fast_path_agrees_on_mutated_descriptors(samba_descriptors, data, token, classes, object_sid):
    source = data.draw(st.one_of(st.sampled_from(sorted(samba_descriptors.values())), descriptor_bytes()))
    _check_fast_path_agrees(data.draw(mutated(source)), [Sid(t) for t in token], classes, object_sid)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), tokens)
def test_fast_path_agrees_on_random_bytes(raw, token):
    _check_fast_path_agrees(raw, [Sid(t) for t in token], CLASSES)


def test_fast_path_agrees_on_every_real_dc_descriptor(samba_descriptors):
    domain = SecurityDescriptor.from_bytes(samba_descriptors["user-healthy"]).owner.domain_part()
    token = [f"{domain}-1102", f"{domain}-1105", f"{domain}-513", "S-1-1-0", "S-1-5-11", "S-1-5-2"]
    for raw in samba_descriptors.values():
        for classes in (CLASSES, [uuid.UUID(GROUP_CLASS)], []):
            _check_fast_path_agrees(raw, [Sid.parse(t) for t in token], classes)
    assert decide_writes(samba_descriptors["user-healthy"], token, (PROXY,), CLASSES)[0][0] is True
    assert decide_writes(samba_descriptors["user-deny-first"], token, (PROXY,), CLASSES)[0][0] is False


@pytest.mark.parametrize("name, dacl, allowed, index", RULES)
def test_fast_path_applies_every_rule(name, dacl, allowed, index):
    raw = SecurityDescriptor.from_sddl(f"O:{D}-512G:{D}-513" + dacl, DOMAIN).to_bytes()
    assert decide_writes(raw, TOKEN, (SAFE,), CLASSES)[0][:2] == (allowed, index), name


def test_a_short_uninterpreted_ace_at_the_end_of_the_acl_is_valid():
    """A 4-byte ACE of a type the engine keeps opaque, last in the ACL: nothing to read past."""
    sd = SecurityDescriptor.from_sddl(f"O:BAD:(A;;WP;;;{GROUP})", DOMAIN)
    aces = [*sd.dacl.aces, Ace(0x12, 0, opaque=b"")]
    raw = sd.with_dacl(Acl.from_aces(aces, revision=4)).to_bytes()
    assert len(SecurityDescriptor.from_bytes(raw).dacl) == 2
    assert decide_writes(raw, TOKEN, (SAFE,), CLASSES) == ((True, 0, "all properties"),)


def test_fast_path_names_the_fault_like_from_bytes():
    with pytest.raises(DescriptorError, match="not self-relative"):
        decide_writes(b"\x01\x00\x04\x00" + bytes(16), TOKEN, (SAFE,), CLASSES)
    with pytest.raises(DescriptorError, match="bytes, not str"):
        decide_writes("O:BA", TOKEN, (SAFE,), CLASSES)  # type: ignore[arg-type]
