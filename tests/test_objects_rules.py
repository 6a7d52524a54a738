"""The rules behind issue 13's verdicts that no single-domain Samba DC can show: a child
domain's naming contexts (from a captured rootDSE), dwAdminSDExMask, tokenGroups absent
(no global catalog), sIDHistory, ACE insertion in a non-canonical DACL, inheritance
prediction, and the offline scan's class rule."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from richcoex_kit.checks import CheckRequest, network_logon_token, run_checks
from richcoex_kit.directory.base import (
    DEFAULT_SCAN_FILTER,
    DirectoryObject,
    admin_sd_excluded_rids,
    protected_group_sids,
)
from richcoex_kit.directory.errors import DirectoryError
from richcoex_kit.directory.ldap import naming_contexts
from richcoex_kit.directory.snapshot import SnapshotDirectory, builtin_lab_path
from richcoex_kit.findings import Status
from richcoex_kit.remedy import _inherited_from, _insert_grants
from richcoex_kit.schema import CLASSES
from richcoex_kit.security import Ace, AceFlag, AceType, Acl, Right, SecurityDescriptor, Sid

# The rootDSE of a DC of the child domain emea.corp.example, as ldap3 returns its attributes.
CHILD_ROOT_DSE = {
    "defaultNamingContext": ["DC=emea,DC=corp,DC=example"],
    "rootDomainNamingContext": ["DC=corp,DC=example"],
    "schemaNamingContext": ["CN=Schema,CN=Configuration,DC=corp,DC=example"],
    "configurationNamingContext": ["CN=Configuration,DC=corp,DC=example"],
    "dnsHostName": ["dc1.emea.corp.example"],
}


def test_a_child_domain_reads_the_forest_schema_not_one_under_itself():
    domain, schema, config = naming_contexts(CHILD_ROOT_DSE, None, "dc1:636")
    assert domain == "DC=emea,DC=corp,DC=example"
    assert schema == "CN=Schema,CN=Configuration,DC=corp,DC=example"
    assert config == "CN=Configuration,DC=corp,DC=example"
    assert naming_contexts(CHILD_ROOT_DSE, "OU=Staff,DC=emea,DC=corp,DC=example", "dc1:636")[0] == domain


def test_a_rootdse_without_naming_contexts_is_an_error_naming_them():
    broken = {k: v for k, v in CHILD_ROOT_DSE.items() if k != "schemaNamingContext"}
    with pytest.raises(DirectoryError, match="lacks schemaNamingContext"):
        naming_contexts(broken, None, "dc1:636")


DOMAIN = Sid.parse("S-1-5-21-1-2-3")


@pytest.mark.parametrize(
    ("heuristics", "excluded"),
    [
        (None, set()),
        ("0000000001", set()),  # shorter than 16 characters: no mask
        ("000000000100000f", {548, 549, 550, 551}),
        ("0000000001000005", {548, 550}),  # 0x1 Account Operators, 0x4 Print Operators
        ("000000000100000x", set()),  # not a hex digit: ignored
    ],
)
def test_dwadminsdexmask_takes_builtin_groups_out_of_the_protection(heuristics, excluded):
    assert admin_sd_excluded_rids(heuristics) == excluded
    builtin = {sid.rid for sid in protected_group_sids(DOMAIN, heuristics) if str(sid).startswith("S-1-5-32-")}
    assert builtin == {544, 548, 549, 550, 551, 552} - excluded
    assert Sid.parse(f"{DOMAIN}-512") in protected_group_sids(DOMAIN, heuristics)


def test_sidhistory_is_in_the_token():
    old = Sid.parse("S-1-5-21-9-9-9-1105")
    account = DirectoryObject(
        "CN=a,DC=x", uuid.uuid4(), Sid.parse(f"{DOMAIN}-1104"), ("user",), "a", None, None, (old,)
    )
    token = network_logon_token(account, (Sid.parse(f"{DOMAIN}-513"),), {})
    assert {e.sid: e.source for e in token.entries}[old] == "sIDHistory"


def _lab_snapshot() -> SnapshotDirectory:
    return SnapshotDirectory.load(builtin_lab_path(), kind="lab")


def test_tokengroups_absent_is_an_error_never_not_a_member():
    lab = _lab_snapshot()
    data = copy.deepcopy(lab.data)
    account_dn = data["identities"]["msol_ad_sync"]
    data["token_groups"][account_dn] = {"unavailable": "dc1:636 returned no tokenGroups for CN=MSOL_AD_Sync"}
    _, findings = run_checks(SnapshotDirectory(data, "test"), CheckRequest("rc-healthy", product="dirsync"))
    by_id = {f.id: f for f in findings}
    assert by_id["group.sync-account-member"].status == Status.ERROR
    assert "no tokenGroups" in by_id["group.sync-account-member"].summary
    acl = [f for f in findings if f.id.startswith("acl.write.")]
    assert acl and {f.status for f in acl} == {Status.ERROR}


def test_the_offline_scan_applies_the_default_class_rule():
    lab = _lab_snapshot()
    data = copy.deepcopy(lab.data)
    base = data["domain"]["base_dn"]
    for name, classes in (("pc", ["top", "person", "organizationalPerson", "user", "computer"]),
                          ("gmsa", ["top", "person", "organizationalPerson", "user", "computer",
                                    "msDS-GroupManagedServiceAccount"])):  # fmt: skip
        dn = f"CN={name},{base}"
        data["objects"][dn.lower()] = {"dn": dn, "guid": str(uuid.uuid4()), "sid": None, "object_classes": classes,
                                       "sam_account_name": f"{name}$", "admin_count": None, "descriptor": None}  # fmt: skip
    directory = SnapshotDirectory(data, "test")
    default = [row.dn for row in directory.scan_objects(base, DEFAULT_SCAN_FILTER, 100)]
    assert default and not [dn for dn in default if dn.startswith(("CN=pc,", "CN=gmsa,"))]
    widened = [row.dn for row in directory.scan_objects(base, "(objectClass=computer)", 100)]
    assert {f"CN=pc,{base}", f"CN=gmsa,{base}"} <= set(widened)


A, B, C = (Sid.parse(f"{DOMAIN}-{rid}") for rid in (1101, 1102, 1103))
ATTR = uuid.UUID("bf967a06-0de6-11d0-a285-00aa003049e2")


def _allow(sid: Sid, flags: int = 0) -> Ace:
    return Ace(AceType.ACCESS_ALLOWED, flags, Right.WRITE_PROPERTY, sid)


def _deny(sid: Sid, flags: int = 0) -> Ace:
    return Ace(AceType.ACCESS_DENIED, flags, Right.WRITE_PROPERTY, sid)


def test_a_grant_is_inserted_after_every_explicit_deny_and_nothing_moves():
    noncanonical = [_allow(A), _deny(B), _allow(C), _deny(C), _allow(A, AceFlag.INHERITED), _deny(B, AceFlag.INHERITED)]
    grant = Ace(AceType.ACCESS_ALLOWED_OBJECT, 0, Right.WRITE_PROPERTY, A, ATTR)
    result = _insert_grants(noncanonical, [grant])
    assert result == [*noncanonical[:4], grant, *noncanonical[4:]]
    canonical = [_deny(B), _allow(C), _allow(A, AceFlag.INHERITED)]
    assert _insert_grants(canonical, [grant]) == [_deny(B), _allow(C), grant, _allow(A, AceFlag.INHERITED)]
    # An explicit Deny stored after an inherited ACE: the grant still never precedes it.
    odd = [_allow(A, AceFlag.INHERITED), _deny(B)]
    assert _insert_grants(odd, [grant]) == [*odd, grant]


def test_inheritance_prediction_follows_ms_dtyp():
    user, group = CLASSES["user"], CLASSES["group"]
    ci, oi, np_, io = (AceFlag.CONTAINER_INHERIT, AceFlag.OBJECT_INHERIT, AceFlag.NO_PROPAGATE_INHERIT,
                       AceFlag.INHERIT_ONLY)  # fmt: skip
    parent = SecurityDescriptor.from_bytes(
        SecurityDescriptor.from_sddl("O:BAG:BAD:").with_dacl(Acl.from_aces([
            Ace(AceType.ACCESS_ALLOWED_OBJECT, ci | io, Right.WRITE_PROPERTY, A, ATTR, user),  # applies to users
            Ace(AceType.ACCESS_ALLOWED_OBJECT, ci | io, Right.WRITE_PROPERTY, B, ATTR, group),  # passes through
            _allow(C, ci | np_),  # applies here, not below
            Ace(AceType.ACCESS_ALLOWED_OBJECT, ci | np_, Right.WRITE_PROPERTY, B, ATTR, group),  # neither
            _allow(A, oi),  # object-inherit only: inherit-only on a container
            _allow(B),  # not inheritable
        ])).to_bytes()
    )  # fmt: skip
    got = [(ace.sid, int(ace.flags)) for ace in _inherited_from(parent, user)]
    inherited = AceFlag.INHERITED
    assert got == [(A, inherited | ci), (B, inherited | ci | io), (C, inherited), (A, inherited | oi | io)]


def test_a_captured_tokengroups_absence_loads_back_and_stays_an_error(tmp_path):
    """The recorder writes {"unavailable": why}; the loader must take it, not refuse the file."""
    data = copy.deepcopy(_lab_snapshot().data)
    data["token_groups"][data["identities"]["msol_ad_sync"]] = {"unavailable": "no global catalog reachable"}
    path = tmp_path / "no-gc.json"
    path.write_text(json.dumps(data))
    _, findings = run_checks(SnapshotDirectory.load(path), CheckRequest("rc-healthy", product="dirsync"))
    assert {f.status for f in findings if f.id.startswith("acl.write.")} == {Status.ERROR}


def test_an_object_whose_class_could_not_be_read_is_an_error_not_a_skip():
    data = copy.deepcopy(_lab_snapshot().data)
    dn = data["identities"]["rc-deny"]
    data["objects"][dn]["object_classes"] = []
    _, findings = run_checks(SnapshotDirectory(data, "test"), CheckRequest("rc-deny", product="dirsync"))
    (error,) = [f for f in findings if f.id == "object.class"]
    assert error.status == Status.ERROR and "objectClass" in error.summary
    assert not [f for f in findings if f.id.startswith("acl.write.") and f.status == Status.SKIP]
