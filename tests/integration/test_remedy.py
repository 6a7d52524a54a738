"""Fix it safely, against the real DC: the plan makes every write-back attribute writable
and nothing else, restore puts the original back byte for byte, a concurrent change is
detected, and an account without rights changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from richcoex_kit.checks import CheckRequest
from richcoex_kit.directory.errors import ConcurrentChangeError
from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.seed import admin_directory
from richcoex_kit.remedy import AclEdit, FixOptions, RestoreRefused, apply_plan, plan_fix, restore
from richcoex_kit.schema import ATTRIBUTE_SETS
from richcoex_kit.security import Ace, AceType, Acl, Right, SecurityDescriptor, Sid

from .conftest import DIRSYNC, attempt_writes, connect_args, run_cli

pytestmark = pytest.mark.samba
KB = ATTRIBUTE_SETS["kb"]
# Least privilege: after any fix the sync account still may not write these; where the
# fix adds grants itself (objects in the NoGrant OU), not even the Entra-only attribute.
NOT_GRANTED = ("description", "member")
NOT_GRANTED_WHERE_WE_GRANT = (*NOT_GRANTED, "msDS-ExternalDirectoryObjectId")


def full_descriptor(lab, identity: str) -> bytes:
    with admin_directory(lab) as admin:
        return admin.find_object(identity).descriptor


FIXABLE = [
    ("no-grant", FixOptions()),
    ("inheritance-off", FixOptions()),
    ("deny-first", FixOptions(remove_deny=(0, 1, 2, 3, 4, 5))),
    ("proxy-only", FixOptions()),
    ("property-set", FixOptions()),
    ("not-member", FixOptions()),
]


@pytest.mark.parametrize("name, options", FIXABLE, ids=[n for n, _ in FIXABLE])
def test_apply_makes_write_back_work_least_privilege_and_restore_undoes_it(lab, tmp_path, name, options):
    scenario = sc.SCENARIO_BY_NAME[name]
    request = CheckRequest(scenario.user, scenario.sync_account, scenario.group or "", "kb", scenario.product)
    original = full_descriptor(lab, scenario.user)
    assert not all(attempt_writes(lab, scenario.sync_account, scenario.user, KB).values())
    with admin_directory(lab) as admin:
        plan = plan_fix(admin, request, options)
        assert not plan.empty, plan.describe()
        applied = apply_plan(plan, admin, tmp_path)
    assert attempt_writes(lab, scenario.sync_account, scenario.user, KB) == dict.fromkeys(KB, True)
    refused = NOT_GRANTED_WHERE_WE_GRANT if "OU=NoGrant" in getattr(plan.changes[-1], "dn", "") else NOT_GRANTED
    assert attempt_writes(lab, scenario.sync_account, scenario.user, refused) == dict.fromkeys(refused, False)
    with admin_directory(lab) as admin:
        for backup in reversed(applied.backups):
            restore(backup, admin)
    assert full_descriptor(lab, scenario.user) == original  # byte-exact
    assert attempt_writes(lab, scenario.sync_account, scenario.user, KB) == {n: n in scenario.writable for n in KB}


def test_a_missing_group_is_created_then_granted_in_a_second_run(lab, tmp_path):
    scenario = sc.SCENARIO_BY_NAME["group-missing"]
    request = CheckRequest(scenario.user, scenario.sync_account, scenario.group or "", "kb", scenario.product)
    backups = []
    with admin_directory(lab) as admin:
        first = plan_fix(admin, request, FixOptions(create_group_in=f"CN=Users,{lab.base_dn}"))
        assert [type(c).__name__ for c in first.changes] == ["CreateGroup", "AddMember"]
        backups += apply_plan(first, admin, tmp_path).backups
        second = plan_fix(admin, request)
        assert [type(c).__name__ for c in second.changes] == ["AclEdit"]
        backups += apply_plan(second, admin, tmp_path).backups
    try:
        assert attempt_writes(lab, scenario.sync_account, scenario.user, KB) == dict.fromkeys(KB, True)
    finally:
        with admin_directory(lab) as admin:
            for backup in reversed(backups):
                restore(backup, admin)
            assert admin.find_group(scenario.group) is None


def test_adminsdholder_objects_are_never_changed_directly(lab, tmp_path):
    request = CheckRequest("rc-admin", sc.SYNC_ACCOUNT)
    before = full_descriptor(lab, "rc-admin")
    with admin_directory(lab) as admin:
        plan = plan_fix(admin, request)
        assert plan.empty and "SDProp would revert" in plan.notes[0]
        holder = f"CN=AdminSDHolder,CN=System,{lab.base_dn}"
        holder_before = admin.writer().read_dacl(holder)
        asked = plan_fix(admin, request, FixOptions(adminsdholder=True))
        assert [c.dn for c in asked.changes if isinstance(c, AclEdit)] == [holder]
        applied = apply_plan(asked, admin, tmp_path)
        assert len(SecurityDescriptor.from_bytes(admin.writer().read_dacl(holder)).dacl) == len(
            SecurityDescriptor.from_bytes(holder_before).dacl
        ) + len(KB)
        restore(applied.backups[0], admin)
        assert admin.writer().read_dacl(holder) == holder_before
    assert full_descriptor(lab, "rc-admin") == before


def test_a_concurrent_change_between_read_and_write_is_detected_and_kept(lab, tmp_path):
    request = CheckRequest("rc-nogrant", sc.SYNC_ACCOUNT)
    with admin_directory(lab) as admin, admin_directory(lab) as colleague:
        plan = plan_fix(admin, request)
        writer = colleague.writer()
        dn = plan.changes[0].dn
        current = SecurityDescriptor.from_bytes(writer.read_dacl(dn))
        theirs = Ace(AceType.ACCESS_ALLOWED, 0, Right.READ_PROPERTY, Sid.parse(f"{lab.domain_sid}-4242"))
        changed = current.with_dacl(Acl.from_aces([theirs, *current.dacl.aces])).to_bytes()
        writer.replace_dacl(dn, writer.read_dacl(dn), changed)
        with pytest.raises(ConcurrentChangeError, match=r"changed .* since it was read; nothing was written"):
            apply_plan(plan, admin, tmp_path)
        assert writer.read_dacl(dn) == changed  # the colleague's change is intact, ours absent
        (journal,) = tmp_path.iterdir()  # the entry written before the refused write says so
        assert json.loads(journal.read_text())["applied"] is False
        with pytest.raises(RestoreRefused, match="never applied"):
            restore(journal, admin)
        assert writer.read_dacl(dn) == changed  # restore did not wipe the colleague's change either
        writer.replace_dacl(dn, changed, current.to_bytes())


def test_cli_dry_run_writes_nothing_then_apply_and_restore(lab, tmp_path):
    original = full_descriptor(lab, "rc-proxyonly")
    dry = run_cli(["fix", *connect_args(lab), "--user", "rc-proxyonly", *DIRSYNC], lab.password())
    assert dry.returncode == 0 and "dry run: nothing was written" in dry.stdout
    assert "  + (OA;;RPWP;7cb4c7d3-8787-42b0-b438-3c5d479ad31e;;" in dry.stdout  # the SDDL diff
    assert full_descriptor(lab, "rc-proxyonly") == original
    backups = tmp_path / "backups"
    applied = run_cli(
        ["fix", *connect_args(lab), "--user", "rc-proxyonly", *DIRSYNC, "--apply", "--backup-dir", str(backups)],
        lab.password(),
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "PASS  acl.write.msExchSafeSendersHash" in applied.stdout
    (backup,) = backups.iterdir()
    assert lab.password() not in backup.read_text()
    undone = run_cli(["restore", str(backup), *connect_args(lab)], lab.password())
    assert undone.returncode == 0 and "restored the DACL" in undone.stdout
    assert full_descriptor(lab, "rc-proxyonly") == original


def test_without_write_rights_the_fix_fails_cleanly_and_changes_nothing(lab, tmp_path):
    original = full_descriptor(lab, "rc-nogrant")
    result = run_cli(
        [
            "fix",
            *connect_args(lab, sc.SYNC_ACCOUNT),
            "--user",
            "rc-nogrant",
            *DIRSYNC,
            "--apply",
            "--backup-dir",
            str(tmp_path),
        ],
        lab.password(sc.SYNC_ACCOUNT),
    )
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].startswith("richcoex: error: LAB\\MSOL_AD_Sync may not")
    assert "Traceback" not in result.stderr
    assert full_descriptor(lab, "rc-nogrant") == original


def test_restore_refuses_when_the_dacl_changed_after_the_fix(lab, tmp_path):
    with admin_directory(lab) as admin:
        applied = apply_plan(plan_fix(admin, CheckRequest("rc-nogrant", sc.SYNC_ACCOUNT)), admin, tmp_path)
        writer = admin.writer()
        dn = admin.find_object("rc-nogrant").dn
        after_fix = writer.read_dacl(dn)
        sd = SecurityDescriptor.from_bytes(after_fix)
        later = sd.with_dacl(Acl.from_aces([*sd.dacl.aces[:1], *sd.dacl.aces])).to_bytes()
        writer.replace_dacl(dn, after_fix, later)
        with pytest.raises(Exception, match="changed since the fix was applied"):
            restore(applied.backups[0], admin)
        assert restore(applied.backups[0], admin, force=True).startswith("restored")
        assert Path(applied.backups[0]).exists()
