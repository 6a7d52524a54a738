"""Entra Connect Sync and Entra Cloud Sync on the real DC: the kit's verdicts equal the DC's
enforcement for each product's own account, the group is a finding only where the product
uses one, and the fix grants the account itself Read and Write on exactly what failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from richcoex_kit.checks import CheckRequest, run_checks
from richcoex_kit.directory.errors import NotFoundError
from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.seed import admin_directory
from richcoex_kit.products import PRODUCTS
from richcoex_kit.schema import ATTRIBUTE_SETS

from .conftest import attempt_writes_and_reads, connect_args, run_cli
from .test_cli_check import assert_one_line_error

pytestmark = pytest.mark.samba

# The user objects of the product scenarios; adminCount, non-canonical order and the other
# classes are issue 13's (per-class sets, AdminSDHolder truth, ACE order).
USER_SCENARIOS = [s for s in sc.PRODUCT_SCENARIOS if s.object_class == "user" and s.name in {
    "connect-healthy", "connect-inheritance-off", "connect-custom-account", "connect-custom-inheritance-off",
    "connect-source-anchor", "connect-write-only", "cloudsync-healthy", "cloudsync-not-granted"}]  # fmt: skip
KB = ATTRIBUTE_SETS["kb"]


def written_back(scenario) -> tuple[str, ...]:
    """The probed attributes the scenario's product writes back to its object's class."""
    return PRODUCTS[scenario.product].attributes_for(scenario.object_class, tuple(scenario.probes))


def truth(scenario) -> dict[str, bool]:
    wanted = set(written_back(scenario))
    return {row.attribute: row.writable for row in sc.EXPECTATIONS if row.scenario == scenario.name
            and row.attribute in wanted}  # fmt: skip


def write_verdicts(findings) -> dict[str, bool]:
    """PASS/FAIL verdicts; an attribute the product never writes back is a SKIP, not a verdict."""
    return {
        f.id.removeprefix("acl.write."): f.status.value == "PASS"
        for f in findings
        if f.id.startswith("acl.write.") and f.status.value != "SKIP"
    }


@pytest.mark.parametrize("scenario", USER_SCENARIOS, ids=lambda s: s.name)
def test_write_verdicts_equal_the_dc_bound_as_admin_and_as_the_account(lab, scenario):
    request = CheckRequest(scenario.user, scenario.sync_account, "", ",".join(scenario.probes))
    for bind in ("Administrator", scenario.sync_account):
        with admin_directory(lab, bind) as directory:
            if bind != "Administrator" and scenario.unreadable >= set(scenario.probes):
                # The account may not even read the object: the kit says so, never a blind verdict.
                with pytest.raises(NotFoundError, match=scenario.user):
                    run_checks(directory, request)
                continue
            facts, findings = run_checks(directory, request)
        assert facts.product.id == scenario.product, bind
        assert write_verdicts(findings) == truth(scenario), bind
        skipped = {f.id.removeprefix("acl.write.") for f in findings if f.id.startswith("acl.write.")
                   and f.status.value == "SKIP"}  # fmt: skip
        assert skipped == set(scenario.probes) - set(written_back(scenario)), bind
        groups = {f.id: f.status.value for f in findings if f.id.startswith("group.")}
        assert groups == {"group.exists": "SKIP", "group.sync-account-member": "SKIP"}


@pytest.mark.parametrize("group", [[], ["--group", "RC-No-Such-Group"]], ids=["no-group", "missing-group"])
def test_connector_on_the_healthy_user_passes_with_or_without_a_group(lab, group):
    args = ["check", *connect_args(lab), "--user", "rc-connect-healthy", "--sync-account", sc.CONNECT_ACCOUNT, *group]
    result = run_cli([*args, "--json"], lab.password())
    assert result.returncode == 0, result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert not [f for f in findings if f["status"] == "FAIL"]
    assert {f["id"]: f["status"] for f in findings if f["id"].startswith("group.")} == {
        "group.exists": "SKIP", "group.sync-account-member": "SKIP"}  # fmt: skip
    assert "grants the sync account MSOL_5f3a9c0e1b27 directly" in findings[0]["summary"]
    assert "product connect" in result.stderr and "inferred from the sync account" in result.stderr


@pytest.mark.parametrize("group", [[], ["--group", "RC-No-Such-Group"]], ids=["no-group", "missing-group"])
def test_connector_on_the_broken_user_fails_every_write(lab, group):
    args = ["check", *connect_args(lab), "--user", "rc-connect-broken", "--sync-account", sc.CONNECT_ACCOUNT, *group]
    result = run_cli([*args, "--json"], lab.password())
    assert result.returncode == 1
    findings = json.loads(result.stdout)["findings"]
    writes = {f["id"]: f["status"] for f in findings if f["id"].startswith("acl.write.")}
    assert writes == {f"acl.write.{name}": "FAIL" for name in KB}
    # An explicit group that does not exist is a finding once write-back fails.
    assert {f["id"]: f["status"] for f in findings if f["id"] == "group.exists"} == {
        "group.exists": "FAIL" if group else "SKIP"}  # fmt: skip


def test_an_account_that_does_not_exist_is_one_line_and_exit_3(lab):
    result = run_cli(["check", *connect_args(lab), "--user", "rc-connect-healthy", "--sync-account", "MSOL_0000dead0000"],
                     lab.password())  # fmt: skip
    assert_one_line_error(result, "'MSOL_0000dead0000'", "global catalog")


@pytest.mark.parametrize("identity", [sc.CONNECT_ACCOUNT, f"LAB\\{sc.CONNECT_ACCOUNT}",
                                      f"{sc.CONNECT_ACCOUNT}@lab.example.test", "provAgentgMSA$", "LAB\\provAgentgMSA$"])  # fmt: skip
def test_every_identity_form_names_the_same_account(admin, identity):
    expected = {sc.CONNECT_ACCOUNT.lower(): sc.CONNECT_ACCOUNT, "provagentgmsa$": sc.CLOUD_SYNC_GMSA}
    name = identity.rpartition("\\")[2].split("@")[0]
    if "@" in identity:  # the lab's accounts carry no UPN: a UPN is found only when set
        admin.connection.modify(admin.find_object(name).dn, {"userPrincipalName": [("MODIFY_REPLACE", [identity])]})
    assert admin.find_account(identity).sam_account_name == expected[name.lower()]


def test_the_global_catalog_finds_the_account_outside_the_connected_base(lab):
    """The MSOL_ account lives in the forest root domain; with --base on an OU that does not
    hold it, the connected search misses it and the global catalog (3269) finds it."""
    base = f"OU={sc.PRODUCTS_OU},{lab.base_dn}"
    args = ["check", *connect_args(lab), "--base", base, "--user", "rc-connect-healthy",
            "--sync-account", sc.CONNECT_ACCOUNT, "--json"]  # fmt: skip
    result = run_cli(args, lab.password())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["context"]["sync_account_dn"] == f"CN={sc.CONNECT_ACCOUNT},CN=Users,{lab.base_dn}"
    with admin_directory(lab) as admin:
        import dataclasses

        scoped = type(admin)(dataclasses.replace(admin.settings, base=base), admin._password_source)
        with scoped:
            with pytest.raises(Exception, match="no object matches"):
                scoped.find_object(sc.CONNECT_ACCOUNT)
            assert scoped.find_in_global_catalog(sc.CONNECT_ACCOUNT).sid == admin.find_object(sc.CONNECT_ACCOUNT).sid


def test_the_gmsa_token_comes_from_tokengroups_like_any_account(admin):
    gmsa = admin.find_account(sc.CLOUD_SYNC_GMSA)
    groups = admin.token_groups(gmsa)
    domain_computers = f"{admin.domain().domain_sid}-515"  # a gMSA's primary group
    assert domain_computers in {str(s) for s in groups}


def test_auto_finds_the_product_account_and_says_when_it_finds_several(lab):
    base = ["check", *connect_args(lab), "--user", "rc-connect-healthy", "--json"]
    result = run_cli([*base, "--product", "connect"], lab.password())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["context"]["sync_account_resolved"] == sc.CONNECT_ACCOUNT
    result = run_cli([*base, "--product", "cloudsync"], lab.password())
    assert json.loads(result.stdout)["context"]["sync_account_resolved"] == sc.CLOUD_SYNC_GMSA


def test_fix_grants_the_connector_itself_read_and_write_and_restore_is_byte_exact(lab, tmp_path):
    user, account = "rc-connect-broken", sc.CONNECT_ACCOUNT
    args = [*connect_args(lab), "--user", user, "--sync-account", account]
    with admin_directory(lab) as admin:
        dn = admin.find_object(user).dn
        original = admin.writer().read_dacl(dn)
        members_before = admin.find_group(sc.GROUP).members
    dry = run_cli(["fix", *args], lab.password())
    assert dry.returncode == 0, dry.stderr
    assert "ADD MEMBER" not in dry.stdout and "CREATE GROUP" not in dry.stdout
    assert "ALTERNATIVE (Microsoft's tooling" in dry.stdout
    assert f"Set-ADSyncExchangeHybridPermissions -ADConnectorAccountName {account}" in dry.stdout
    assert f"-ADobjectDN {dn}" in dry.stdout
    assert "RPWP" in dry.stdout and "WP;" not in dry.stdout.replace("RPWP;", "")
    applied = run_cli(["fix", *args, "--apply", "--backup-dir", str(tmp_path)], lab.password())
    assert applied.returncode == 0, applied.stdout + applied.stderr
    try:
        observed = attempt_writes_and_reads(lab, account, user, KB)
        assert observed == {name: (True, True) for name in KB}
        with admin_directory(lab) as admin:
            assert admin.find_group(sc.GROUP).members == members_before
    finally:
        (backup,) = Path(tmp_path).glob("*-dacl-*.json")
        restored = run_cli(["restore", str(backup), *connect_args(lab)], lab.password())
        assert restored.returncode == 0, restored.stderr
    with admin_directory(lab) as admin:
        assert admin.writer().read_dacl(dn) == original


def test_richcoex_run_gives_the_same_verdicts_in_runbooks_00_02_03(lab, tmp_path):
    args = ["run", *connect_args(lab), "--steps", "00,02,03", "--sync-account", sc.CONNECT_ACCOUNT,
            "--user", "rc-connect-healthy", "--user", "rc-connect-broken", "--output", str(tmp_path)]  # fmt: skip
    result = run_cli(args, lab.password())
    assert result.returncode == 1, result.stdout + result.stderr
    (folder,) = tmp_path.iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert all(r["status"] == "ran" for r in summary["runs"]), summary["runs"]
    for finding in summary["findings"]:
        if finding["id"].startswith("group."):
            assert finding["status"] == "SKIP", finding
        if finding["id"].startswith("acl.write."):
            healthy = finding["object"].startswith("CN=rc-connect-healthy,")
            assert finding["status"] == ("PASS" if healthy else "FAIL"), finding


def test_fix_grants_the_connector_itself_on_an_object_nothing_grants(lab, tmp_path):
    """rc-nogrant: no ACE for the connector anywhere. The plan adds one OA;;RPWP;<attr>;;<connector>
    per KB attribute (the account, not a group), after which the connector writes and reads back."""
    user, account = "rc-nogrant", sc.CONNECT_ACCOUNT
    args = [*connect_args(lab), "--user", user, "--sync-account", account]
    with admin_directory(lab) as admin:
        dn, sid = admin.find_object(user).dn, admin.find_object(account).sid
        original = admin.writer().read_dacl(dn)
    dry = run_cli(["fix", *args], lab.password())
    added = [line for line in dry.stdout.splitlines() if line.startswith("  + ")]
    assert len(added) == len(KB) and all("(OA;;RPWP;" in line and line.endswith(f";;{sid})") for line in added)
    applied = run_cli(["fix", *args, "--apply", "--backup-dir", str(tmp_path)], lab.password())
    assert applied.returncode == 0, applied.stdout + applied.stderr
    try:
        assert attempt_writes_and_reads(lab, account, user, KB) == {name: (True, True) for name in KB}
    finally:
        (backup,) = Path(tmp_path).glob("*-dacl-*.json")
        assert run_cli(["restore", str(backup), *connect_args(lab)], lab.password()).returncode == 0
    with admin_directory(lab) as admin:
        assert admin.writer().read_dacl(dn) == original
