"""The fix from the runbooks: headless with apply_fix, and the Fix panel clicked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from richcoex_kit import runbook as rb
from richcoex_kit.evidence import FINDINGS_MIMETYPE
from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.seed import admin_directory
from richcoex_kit.remedy import restore
from richcoex_kit.request import CheckRequest
from richcoex_kit.schema import ATTRIBUTE_SETS

from .conftest import DIRSYNC, attempt_writes, connect_args, run_cli

pytestmark = pytest.mark.samba
RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
KB = ATTRIBUTE_SETS["kb"]


def run_03_on_nogrant(lab, tmp_path, apply_fix: str, default_backup_dir: bool = False):
    """Runbook 03 headless on rc-nogrant; returns the result, the backup and evidence folders.
    With `default_backup_dir` no backup_dir is passed: the user's data folder (under a
    temporary XDG_DATA_HOME) must receive them."""
    backups, evidence = tmp_path / "backups", tmp_path / "evidence"
    chosen = ["-p", f"backup_dir={backups}"]
    if default_backup_dir:
        backups, chosen = tmp_path / "xdg" / "richcoex" / "backups", []
    args = ["run", *connect_args(lab), "--steps", "03", "--user", "rc-nogrant", *DIRSYNC, "-p", f"apply_fix={apply_fix}",
            *chosen, "--output", str(evidence)]  # fmt: skip
    return run_cli(args, lab.password(), XDG_DATA_HOME=str(tmp_path / "xdg")), backups, evidence


def descriptor_of(lab, identity: str) -> bytes:
    with admin_directory(lab) as admin:
        return admin.find_object(identity).descriptor


def test_headless_apply_fix_leaves_before_plan_and_after_in_the_evidence(lab, tmp_path):
    original = descriptor_of(lab, "rc-nogrant")
    runbooks_before = sorted(p.name for p in RUNBOOKS.rglob("*"))
    result, backups, evidence = run_03_on_nogrant(lab, tmp_path, "true", default_backup_dir=True)
    try:
        assert result.returncode == 0, result.stdout + result.stderr  # every check passes after the fix
        assert sorted(p.name for p in RUNBOOKS.rglob("*")) == runbooks_before  # nothing written beside them
        (folder,) = evidence.iterdir()
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
        assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o600"}
        (backup,) = backups.iterdir()
        assert str(backup) in (folder / "03-object-permissions--rc-nogrant.ipynb").read_text()  # absolute path
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


def test_applying_from_the_panel_redraws_the_note_and_the_record_in_place(lab, tmp_path):
    """In a real kernel, driven as JupyterLab drives it: after *Applied*, the "nothing was
    written" note and the record are replaced (update_display_data), the record with the
    findings after the fix."""
    from tests.test_notebook_faces import Kernel

    original = descriptor_of(lab, "rc-nogrant")
    backups = tmp_path / "backups"
    kernel = Kernel(RICHCOEX_PASSWORD=lab.password("Administrator"))
    try:
        setup = kernel.run(
            f"server, port, ca_file, tls_name = {lab.host!r}, {lab.port}, {lab.ca_file!r}, {lab.tls_name!r}\n"
            "bind_user, product = 'LAB\\\\Administrator', 'dirsync'\n"
            "import richcoex_kit.runbook as rb\n"
            "directory = rb.open_directory(globals())\n"
            "step = rb.Step.run('03-object-permissions', directory, rb.check_request(globals(), 'rc-nogrant'))\n"
            f"fix = rb.plan_for(step, {str(backups)!r})\n"
            "panel = rb.fix_panel(fix)\n"
            "rb.apply_fixes([fix], False)\n"
            "rb.record_fix(fix, 'acl.')\n",
            allow_stdin=True,
        )
        assert not [o for o in setup if o.get("ename")], setup
        clicked = kernel.run("panel.reviewed.value = True\npanel.button.click()\npanel.button.click()\n"
                             "print(panel.state)", allow_stdin=True)  # fmt: skip
        assert any(o.get("text") == "applied\n" for o in clicked), clicked
        updates = [o for o in clicked if "transient" in o and "data" in o]
        notes = [
            o["data"]["text/html"] for o in updates if "Applied with the Fix panel" in o["data"].get("text/html", "")
        ]
        records = [o["data"][FINDINGS_MIMETYPE] for o in updates if FINDINGS_MIMETYPE in o["data"]]
        assert notes and "changed the DACL of CN=rc-nogrant" in notes[-1]
        assert records and {f["status"] for f in records[-1]["findings"]} == {"PASS"}
    finally:
        kernel.close()
        with admin_directory(lab) as admin:
            for backup in sorted(backups.iterdir() if backups.exists() else (), reverse=True):
                restore(backup, admin)
    assert descriptor_of(lab, "rc-nogrant") == original
