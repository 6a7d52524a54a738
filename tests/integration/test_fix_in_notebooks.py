"""The fix from the runbooks: headless with apply_fix, and the Fix panel clicked."""

from __future__ import annotations

import json

import pytest

from richcoex_kit import runbook as rb
from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.seed import admin_directory
from richcoex_kit.remedy import restore
from richcoex_kit.request import CheckRequest
from richcoex_kit.schema import ATTRIBUTE_SETS

from .conftest import DIRSYNC, attempt_writes, connect_args, run_cli

pytestmark = pytest.mark.samba
KB = ATTRIBUTE_SETS["kb"]


def run_03_on_nogrant(lab, tmp_path, apply_fix: str):
    """Runbook 03 headless on rc-nogrant; returns the result, the backup and evidence folders."""
    backups, evidence = tmp_path / "backups", tmp_path / "evidence"
    args = ["run", *connect_args(lab), "--steps", "03", "--user", "rc-nogrant", *DIRSYNC, "-p", f"apply_fix={apply_fix}",
            "-p", f"backup_dir={backups}", "--output", str(evidence)]  # fmt: skip
    return run_cli(args, lab.password()), backups, evidence


def descriptor_of(lab, identity: str) -> bytes:
    with admin_directory(lab) as admin:
        return admin.find_object(identity).descriptor


def test_headless_apply_fix_leaves_before_plan_and_after_in_the_evidence(lab, tmp_path):
    original = descriptor_of(lab, "rc-nogrant")
    result, backups, evidence = run_03_on_nogrant(lab, tmp_path, "true")
    try:
        assert result.returncode == 0, result.stdout + result.stderr  # every check passes after the fix
        (folder,) = evidence.iterdir()
        executed = (folder / "03-object-permissions--rc-nogrant.ipynb").read_text()
        summary = json.loads((folder / "summary.json").read_text())
        assert {f["status"] for f in summary["findings"]} == {"PASS"}
        page = (folder / "03-object-permissions--rc-nogrant.html").read_text()
        assert "CHANGE DACL of CN=rc-nogrant" in page and "+ (OA;;RPWP;" in page  # the plan, as an SDDL diff
        assert '"before"' in executed and '"FAIL"' in executed  # the findings before, recorded with the plan
        assert attempt_writes(lab, sc.SYNC_ACCOUNT, "rc-nogrant", KB) == dict.fromkeys(KB, True)
    finally:
        with admin_directory(lab) as admin:
            for backup in sorted(backups.iterdir(), reverse=True):
                restore(backup, admin)
        assert descriptor_of(lab, "rc-nogrant") == original


def test_apply_fix_false_writes_nothing(lab, tmp_path):
    original = descriptor_of(lab, "rc-nogrant")
    result, backups, _ = run_03_on_nogrant(lab, tmp_path, "False")
    assert result.returncode == 1
    assert descriptor_of(lab, "rc-nogrant") == original
    assert not backups.exists()


def test_the_fix_panel_writes_only_after_review_and_confirmation(lab, tmp_path):
    with admin_directory(lab) as admin:
        step = rb.Step.run("02", admin, CheckRequest(None, sc.OUTSIDER_SYNC_ACCOUNT, sc.GROUP, product="dirsync"))
        fix = rb.plan_for(step, str(tmp_path))
        panel = rb.fix_panel(fix)
        assert panel.button.disabled and "ADD MEMBER CN=MSOL_notmember" in panel.to_html()
        panel.button.click()  # disabled: a click does nothing
        assert panel.state == "planned"
        panel.reviewed.value = True
        panel.button.click()
        assert panel.state == "confirming" and "Confirm: write to" in panel.button.description
        assert not fix.done
        panel.button.click()
        assert panel.state == "applied" and panel.button.disabled
        assert {f.id: f.status.value for f in fix.after}["group.sync-account-member"] == "PASS"
        for backup in fix.backups:
            restore(backup, admin)
        assert admin.find_group(sc.GROUP).sid not in set(
            admin.token_groups(admin.find_object(sc.OUTSIDER_SYNC_ACCOUNT))
        )
