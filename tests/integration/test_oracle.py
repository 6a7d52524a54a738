"""The DC is the oracle: for every scenario and every write-back attribute, the kit's
verdict must equal what the DC enforces on a real write by the sync account, and what
the DC itself reports in allowedAttributesEffective."""

from __future__ import annotations

import pytest

from richcoex_kit.checks import CheckRequest, run_checks
from richcoex_kit.findings import Status
from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.seed import admin_directory

from .conftest import attempt_writes

pytestmark = pytest.mark.samba


def dc_enforces(lab, scenario) -> dict[str, bool]:
    return attempt_writes(lab, scenario.sync_account, scenario.user, sc.PRESENT_ATTRIBUTES)


def dc_reports(lab, scenario) -> dict[str, bool]:
    with admin_directory(lab, scenario.sync_account) as sync:
        allowed = sync.allowed_attributes_effective(sync.find_object(scenario.user))
    return {name: name.lower() in allowed for name in sc.PRESENT_ATTRIBUTES}


def kit_says(lab, scenario) -> dict[str, bool]:
    with admin_directory(lab) as admin:
        _, findings = run_checks(
            admin, CheckRequest(scenario.user, scenario.sync_account, scenario.group or "", "entra", scenario.product)
        )
    statuses = {f.id.removeprefix("acl.write."): f.status for f in findings if f.id.startswith("acl.write.")}
    return {name: statuses[name] == Status.PASS for name in sc.PRESENT_ATTRIBUTES}


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.name)
def test_kit_verdicts_equal_what_the_dc_enforces(lab, scenario):
    enforced = dc_enforces(lab, scenario)
    assert kit_says(lab, scenario) == enforced
    assert dc_reports(lab, scenario) == enforced
    assert enforced == {name: name in scenario.writable for name in sc.PRESENT_ATTRIBUTES}


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.name)
def test_each_scenario_shows_its_promised_findings(lab, scenario):
    with admin_directory(lab) as admin:
        _, findings = run_checks(
            admin,
            CheckRequest(
                scenario.user, scenario.sync_account, scenario.group or "", scenario.attributes, scenario.product
            ),
        )
    by_id = {f.id: f.status for f in findings}
    for finding_id, status in scenario.expect_status.items():
        assert by_id[finding_id] == Status(status), finding_id
    untouched = {i for i in by_id if not i.startswith(("acl.write.", "schema."))} - set(scenario.expect_status)
    assert {i: by_id[i] for i in untouched} == {i: Status.PASS for i in untouched}


@pytest.mark.parametrize(
    "scenario", [s for s in sc.SCENARIOS if s.sync_account == sc.SYNC_ACCOUNT], ids=lambda s: s.name
)
def test_bound_as_the_sync_account_itself_the_verdicts_are_the_same(lab, scenario):
    """Not an admin: works because the descriptor is read with the SD-flags control."""
    request = CheckRequest(
        scenario.user, scenario.sync_account, scenario.group or "", scenario.attributes, scenario.product
    )
    with admin_directory(lab) as admin, admin_directory(lab, sc.SYNC_ACCOUNT) as sync:
        as_admin = [(f.id, f.status, f.details.get("deciding_ace")) for f in run_checks(admin, request)[1]]
        as_sync = [(f.id, f.status, f.details.get("deciding_ace")) for f in run_checks(sync, request)[1]]
    assert as_sync == as_admin


def test_deciding_ace_and_token_are_in_the_evidence(lab):
    with admin_directory(lab) as admin:
        _, findings = run_checks(admin, CheckRequest("rc-deny", sc.SYNC_ACCOUNT))
    deny = next(f for f in findings if f.id == "acl.write.proxyAddresses")
    ace = deny.details["deciding_ace"]
    assert (ace["type"], ace["trustee"], ace["object_type_name"]) == (
        "OD",
        "LAB\\MSOL_AD_Sync_RichCoexistence",
        "proxyAddresses",
    )
    member = next(f for f in findings if f.id == "group.sync-account-member")
    sources = {entry["name"]: entry["source"] for entry in member.details["token"]}
    assert sources["LAB\\MSOL_AD_Sync_RichCoexistence"] == "tokenGroups"
    assert sources["NT AUTHORITY\\NETWORK"].startswith("well-known")
    assert sources["BUILTIN\\Pre-Windows 2000 Compatible Access"] == "builtin group membership"


def test_nested_membership_names_the_path(lab):
    with admin_directory(lab) as admin:
        _, findings = run_checks(admin, CheckRequest(None, sc.NESTED_SYNC_ACCOUNT, product="dirsync"))
    member = next(f for f in findings if f.id == "group.sync-account-member")
    assert member.status == Status.PASS and "nested" in member.summary
    assert [dn.split(",")[0] for dn in member.details["path"]] == [
        "CN=MSOL_nested",
        "CN=RC-Nested-Sync",
        "CN=MSOL_AD_Sync_RichCoexistence",
    ]
