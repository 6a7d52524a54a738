"""Ground truth for the Entra Connect, Entra Cloud Sync and per-class scenarios.

Every row of `scenarios.EXPECTATIONS` is a real write bound as the scenario's account
(success, or LDAP 50 with 00002098 — the sync engine's 8344) and a read-back of the value
bound as the same account. These tests pin what the DC enforces; the kit's own verdicts on
these scenarios are compared with the same table elsewhere."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.protocol.microsoft import security_descriptor_control

from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.seed import admin_directory
from richcoex_kit.schema import CLASSES, WRITEBACK_CLASSES
from richcoex_kit.security import AceFlag, AceType, Acl, SecurityDescriptor

from .conftest import attempt_writes_and_reads

pytestmark = pytest.mark.samba


@pytest.mark.parametrize("scenario", sc.PRODUCT_SCENARIOS, ids=lambda s: s.name)
def test_the_dc_enforces_the_expected_truth(lab, scenario):
    observed = attempt_writes_and_reads(lab, scenario.sync_account, scenario.user, scenario.probes)
    expected = {row.attribute: (row.writable, row.readable) for row in sc.EXPECTATIONS if row.scenario == scenario.name}
    assert observed == expected


def read_dacl(admin, identity: str) -> Acl:
    dn = identity if "=" in identity else admin.find_object(identity).dn
    rows = admin.search(
        dn,
        "(objectClass=*)",
        ["nTSecurityDescriptor"],
        scope=ldap3.BASE,
        controls=security_descriptor_control(sdflags=4),
    )
    dacl = SecurityDescriptor.from_bytes(rows[0]["nTSecurityDescriptor"][0]).dacl
    assert dacl is not None
    return dacl


def test_every_scenario_account_can_bind(lab):
    """The oracle needs a real bind as each account, the Cloud Sync gMSA included."""
    accounts = {s.sync_account for s in sc.PRODUCT_SCENARIOS}
    assert accounts == {sc.CONNECT_ACCOUNT, sc.CUSTOM_CONNECT_ACCOUNT, sc.CLOUD_SYNC_GMSA}
    for account in accounts:
        with admin_directory(lab, account) as bound:
            assert bound.connection.bound


@pytest.mark.parametrize("account", [sc.CONNECT_ACCOUNT, sc.CUSTOM_CONNECT_ACCOUNT])
def test_the_connect_grant_is_exactly_what_adsyncconfig_writes(admin, account):
    """Set-ADSyncExchangeHybridPermissions on an OU: four OA;CIIO;RPWP;;<class>;<account>."""
    trustee = admin.find_object(account).sid
    dacl = read_dacl(admin, sc.CONNECT_DN)
    mine = [ace for ace in dacl.aces if ace.sid == trustee]
    assert [(ace.type, ace.flags, ace.mask, ace.object_type) for ace in mine] == [
        (AceType.ACCESS_ALLOWED_OBJECT, AceFlag.CONTAINER_INHERIT | AceFlag.INHERIT_ONLY, 0x30, None)
    ] * 4
    assert [ace.inherited_object_type for ace in mine] == [CLASSES[c] for c in WRITEBACK_CLASSES]


def test_the_gmsa_is_real_and_samba_guards_its_password(admin, lab):
    """What Samba 4.17 allows: the gMSA is created over LDAP as a true
    msDS-GroupManagedServiceAccount, but it computes no managed password and refuses a
    password write over LDAP even to Administrator (as AD does). The seed sets one through
    sam.ldb so the oracle can bind as the gMSA itself."""
    dn = f"CN={sc.CLOUD_SYNC_GMSA[:-1]},CN=Managed Service Accounts,{lab.base_dn}"
    conn = admin.connection
    assert conn.search(
        dn, "(objectClass=*)", ldap3.BASE, attributes=["objectClass", "sAMAccountName", "msDS-ManagedPassword"]
    )
    entry = conn.response[0]["attributes"]
    assert "msDS-GroupManagedServiceAccount" in entry["objectClass"] and entry["sAMAccountName"] == [sc.CLOUD_SYNC_GMSA]
    assert not entry["msDS-ManagedPassword"]
    conn.modify(dn, {"unicodePwd": [(ldap3.MODIFY_REPLACE, ['"Rc-Never-Set-9a"'.encode("utf-16-le")])]})
    assert conn.result["result"] == 50


def test_the_noncanonical_order_is_stored_as_seeded(admin):
    """The point of rc-noncanonical: an explicit Allow stored before an explicit Deny."""
    dacl = read_dacl(admin, "rc-noncanonical")
    explicit = [ace for ace in dacl.aces if not ace.is_inherited]
    kinds = [("allow" if ace.is_allow else "deny") for ace in explicit[:4]]
    assert kinds == ["allow", "deny", "deny", "deny"]
    assert not [ace for ace in dacl.aces if ace.is_inherited]


def test_the_table_renders(lab):
    table = sc.expectations_markdown()
    assert table.count("\n") == len(sc.EXPECTATIONS) + 1 and "| `connect-write-only` |" in table
