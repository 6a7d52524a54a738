"""Right on every object of the lab forest (issue 13): per-class write-back, the scan's
scope, orphaned adminCount versus true AdminSDHolder protection, a fix that moves no
existing ACE, and attributes outside the KB's set. The DC's enforcement of real writes as
the sync account is the oracle; every fix applied here is restored afterwards."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import ldap3
import pytest
from ldap3.protocol.microsoft import security_descriptor_control

from richcoex_kit.checks import CheckRequest, run_checks
from richcoex_kit.findings import Status
from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.seed import admin_directory
from richcoex_kit.products import PRODUCTS
from richcoex_kit.remedy import AclEdit, apply_plan, plan_fix, restore
from richcoex_kit.scan import scan
from richcoex_kit.security import SecurityDescriptor

from .conftest import attempt_writes_and_reads

pytestmark = pytest.mark.samba

# The scenarios this suite wires into the kit's verdicts (the rest of PRODUCT_SCENARIOS
# belong to the products work).
OBJECT_SCENARIOS = tuple(
    sc.SCENARIO_BY_NAME[name]
    for name in (
        "connect-contact",
        "connect-group",
        "unmanaged-computer",
        "unmanaged-gmsa",
        "unmanaged-smsa",
        "connect-orphan-admincount",
        "connect-orphan-protected",
        "connect-domain-admin",
        "connect-noncanonical",
        "connect-source-anchor",
    )
)


def request(scenario, attributes: str | None = None) -> CheckRequest:
    """The scenario's account and product, no group named (Connect grants the account itself)."""
    return CheckRequest(scenario.user, scenario.sync_account, "", attributes or ",".join(scenario.probes),
                        scenario.product)  # fmt: skip


def also_effective(plan_text: str) -> str:
    """The dry run's list of what the parent's ACEs give other trustees (its indented lines)."""
    after = plan_text.split("also effective once inheritance is on", 1)[1].split("\n")[1:]
    listed = []
    for line in after:
        if not line.startswith("    "):
            break
        listed.append(line)
    return "\n".join(listed)


def acl_findings(admin, req: CheckRequest):
    _, findings = run_checks(admin, req)
    return {f.id.removeprefix("acl.write."): f for f in findings if f.id.startswith("acl.write.")}, findings


@pytest.mark.parametrize("scenario", OBJECT_SCENARIOS, ids=lambda s: s.name)
def test_kit_verdicts_equal_real_writes_or_skip_what_is_never_written(lab, admin, scenario):
    """PASS ⇔ the DC accepts the write; an attribute the product never writes back to the
    object's class is a SKIP (never a FAIL), whatever the DC would do."""
    truth = attempt_writes_and_reads(lab, scenario.sync_account, scenario.user, scenario.probes)
    by_attr, _ = acl_findings(admin, request(scenario))
    written = PRODUCTS[scenario.product].attributes_for(scenario.object_class, scenario.probes)
    for name in scenario.probes:
        finding = by_attr[name]
        if name in written:
            assert (finding.status == Status.PASS) == truth[name][0], (name, finding.summary)
            assert finding.status in (Status.PASS, Status.FAIL)
        else:
            assert finding.status == Status.SKIP and "never writes" in finding.summary, name


@pytest.mark.parametrize("name", ["connect-contact", "connect-group"])
def test_contact_and_group_pass_with_only_proxyaddresses_granted(admin, name):
    scenario = sc.SCENARIO_BY_NAME[name]
    by_attr, findings = acl_findings(admin, request(scenario, "entra"))
    assert by_attr["proxyAddresses"].status == Status.PASS
    assert {n: f.status for n, f in by_attr.items() if n != "proxyAddresses"} == {
        n: Status.SKIP for n in by_attr if n != "proxyAddresses"
    }
    assert f"schema.{sc.MISSING_FROM_SCHEMA}" in {f.id for f in findings}  # the schema finding still reports it
    assert not [f for f in findings if f.id.startswith(("acl.", "object.")) and f.status == Status.FAIL]


def test_the_scan_skips_computers_and_service_accounts_and_passes_contacts_and_groups(lab, admin):
    out = io.StringIO()
    req = CheckRequest(None, sc.CONNECT_ACCOUNT, "", "entra", "connect")
    result = scan(admin, req, sc.PRODUCTS_BASE, csv_out=out)
    rows = {row[0].lower(): row for row in list(csv.reader(io.StringIO(out.getvalue())))[1:]}
    scanned = " ".join(rows)
    for machine in ("cn=rc-pc,", "cn=rc-gmsa,", "cn=rc-smsa,"):
        assert machine not in scanned
    failing = {obj.dn.lower() for obj in result.failing}
    assert sc.CONTACT_DN.lower() in rows and sc.GROUP_OBJECT_DN.lower() in rows
    assert sc.CONTACT_DN.lower() not in failing and sc.GROUP_OBJECT_DN.lower() not in failing
    assert "n/a" in rows[sc.CONTACT_DN.lower()]
    # The causes of their own: the stripped orphan and the truly protected admin are apart.
    causes = {obj.dn.split(",")[0]: set(obj.verdict.cause_set) for obj in result.failing}
    assert causes["CN=rc-orphan-stripped"] == {"adminsdholder-orphan"}
    assert "CN=rc-orphan" not in causes
    # A --filter still widens the scope to what it names.
    widened = scan(admin, req, f"OU={sc.OU_UNMANAGED},{sc.PRODUCTS_BASE}", "(objectClass=computer)")
    assert widened.scanned == 3 and not widened.failing  # nothing is written back to them, so nothing fails


def test_protected_means_a_protected_group_not_admincount(admin):
    protected = admin.protected_accounts()
    assert protected[admin.find_object("rc-admin").dn.lower()] in ("Domain Admins", "Administrators")
    assert protected[admin.find_object("Administrator").dn.lower()]
    assert admin.find_object("rc-orphan").dn.lower() not in protected
    assert admin.find_object("rc-orphan-stripped").dn.lower() not in protected


def test_the_orphan_inheriting_its_grant_passes_with_a_warning(admin):
    _, findings = run_checks(admin, request(sc.SCENARIO_BY_NAME["connect-orphan-admincount"], "entra"))
    holder = next(f for f in findings if f.id == "object.adminsdholder")
    assert holder.status == Status.WARN and holder.details["cause"] == "adminsdholder-orphan"
    assert "Clear adminCount" in (holder.remedy or "")
    assert not [f for f in findings if f.id.startswith(("acl.", "object.")) and f.status == Status.FAIL]


def test_the_domain_admin_is_protected_and_a_plain_fix_leaves_it_alone(admin):
    scenario = sc.SCENARIO_BY_NAME["connect-domain-admin"]
    before = admin.writer().read_dacl(admin.find_object(scenario.user).dn)
    _, findings = run_checks(admin, request(scenario))
    holder = next(f for f in findings if f.id == "object.adminsdholder")
    assert holder.status == Status.WARN and holder.details["cause"] == "adminsdholder"
    assert "out of sync scope" in (holder.remedy or "") and "runProtectAdminGroupsTask" in (holder.remedy or "")
    plan = plan_fix(admin, request(scenario))
    assert not [c for c in plan.changes if isinstance(c, AclEdit)]
    assert any("AdminSDHolder-protected" in note for note in plan.notes)
    assert admin.writer().read_dacl(admin.find_object(scenario.user).dn) == before


def _applied(admin, req, tmp_path: Path):
    plan = plan_fix(admin, req)
    return plan, apply_plan(plan, admin, tmp_path)


def _restore_all(admin, applied) -> None:
    for backup in reversed(applied.backups):
        restore(backup, admin)


def test_fix_apply_fixes_the_stripped_orphan_on_the_object(lab, admin, tmp_path):
    scenario = sc.SCENARIO_BY_NAME["connect-orphan-protected"]
    plan, applied = _applied(admin, request(scenario), tmp_path)
    try:
        edit = next(c for c in plan.changes if isinstance(c, AclEdit))
        assert edit.dn.lower() == admin.find_object(scenario.user).dn.lower() and edit.protection_cleared
        assert any("orphaned adminCount" in note for note in plan.notes)
        truth = attempt_writes_and_reads(lab, scenario.sync_account, scenario.user, scenario.probes)
        assert truth == {name: (True, True) for name in scenario.probes}
    finally:
        _restore_all(admin, applied)


def _explicit(admin, dn: str) -> list[str]:
    rows = admin.search(dn, "(objectClass=*)", ["nTSecurityDescriptor"], scope=ldap3.BASE,
                        controls=security_descriptor_control(sdflags=4))  # fmt: skip
    dacl = SecurityDescriptor.from_bytes(rows[0]["nTSecurityDescriptor"][0]).dacl
    assert dacl is not None
    return [ace.to_bytes().hex() for ace in dacl.aces if not ace.is_inherited]


def test_fixing_the_noncanonical_user_moves_no_ace_and_keeps_its_denies(lab, admin, tmp_path):
    scenario = sc.SCENARIO_BY_NAME["connect-noncanonical"]
    dn = admin.find_object(scenario.user).dn
    original = _explicit(admin, dn)
    plan = plan_fix(admin, request(scenario))
    shown = plan.describe()
    others = also_effective(shown)
    assert f"LAB\\{sc.CUSTOM_CONNECT_ACCOUNT}" in others
    assert sc.CONNECT_ACCOUNT not in others  # the sync account's own rights are the fix, not a side effect
    applied = apply_plan(plan, admin, tmp_path)
    try:
        after = _explicit(admin, dn)
        kept = [ace for ace in after if ace in original]
        assert kept == original  # every pre-existing ACE, in its relative order
        truth = attempt_writes_and_reads(lab, scenario.sync_account, scenario.user, scenario.probes)
        assert {n: w for n, (w, _) in truth.items()} == {n: n not in sc.GUARDED for n in scenario.probes}
    finally:
        _restore_all(admin, applied)
    assert _explicit(admin, dn) == original


def test_a_non_exchange_attribute_is_checked_explained_and_fixed(lab, admin, tmp_path):
    """mS-DS-ConsistencyGuid granted, msDS-KeyCredentialLink not: the verdicts, the property
    set as the lab's schema reports it, and a fix whose grant the DC then honours."""
    scenario = sc.SCENARIO_BY_NAME["connect-source-anchor"]
    attributes = f"{sc.CONSISTENCY_GUID},{sc.KEY_CREDENTIAL_LINK}"
    req = CheckRequest(scenario.user, scenario.sync_account, "", attributes, "connect")
    by_attr, findings = acl_findings(admin, req)
    assert (by_attr[sc.CONSISTENCY_GUID].status, by_attr[sc.KEY_CREDENTIAL_LINK].status) == (Status.PASS, Status.FAIL)
    schema = {f.id: f for f in findings if f.id.startswith("schema.")}
    key = schema[f"schema.{sc.KEY_CREDENTIAL_LINK}"]
    assert key.details["attributeSecurityGUID"] == "9b026da6-0d3c-465c-8bee-5199d7165cba"
    assert key.details["property_set"] == "DS-Validated-Write-Computer"
    assert "property set DS-Validated-Write-Computer" in key.summary
    plan, applied = _applied(admin, req, tmp_path)
    try:
        edit = next(c for c in plan.changes if isinstance(c, AclEdit))
        assert [str(ace.object_type) for ace in edit.added] == ["5b47d60f-6090-40b2-9f37-2a4de88f3063"]
        truth = attempt_writes_and_reads(lab, scenario.sync_account, scenario.user, (sc.KEY_CREDENTIAL_LINK,))
        assert truth[sc.KEY_CREDENTIAL_LINK][0]
    finally:
        _restore_all(admin, applied)


def test_naming_contexts_are_the_rootdse_s(admin):
    """Read from the rootDSE, not built from the domain DN (which only coincides in a forest
    root domain, as the lab is: the child-domain case is the unit test over a capture)."""
    rows = admin.search("", "(objectClass=*)", ["schemaNamingContext", "configurationNamingContext"],
                        scope=ldap3.BASE)  # fmt: skip
    root = rows[0]["_attributes"]
    domain = admin.domain()
    assert [domain.schema_nc, domain.configuration_nc] == [
        *root["schemaNamingContext"],
        *root["configurationNamingContext"],
    ]
    assert admin.schema_attribute("proxyAddresses") is not None


def test_the_sync_account_bound_as_itself_reads_the_same_protection(lab, admin):
    with admin_directory(lab, sc.CONNECT_ACCOUNT) as bound:
        assert set(bound.protected_accounts()) == set(admin.protected_accounts())


def test_the_readme_lists_every_object_scenario():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert all(f"| `{scenario.name}` |" in readme for scenario in OBJECT_SCENARIOS)
