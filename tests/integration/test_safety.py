"""Nothing lost, nothing blind, against the real DC: restore undoes only what the kit did,
a backup that cannot be written stops the fix, an object the bound account cannot read is
an ERROR, and directory strings can neither run a pasted command nor repaint a terminal."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import ldap3
import pytest
from click.testing import CliRunner

from richcoex_kit.checks import CheckRequest
from richcoex_kit.cli import main
from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.seed import admin_directory
from richcoex_kit.remedy import BACKUP_SCHEMA, FixOptions, RestoreRefused, apply_plan, plan_fix, restore
from richcoex_kit.security import Ace, AceType, Acl, Right, SecurityDescriptor

from .conftest import DIRSYNC, connect_args, run_cli

pytestmark = pytest.mark.samba
USERS_OU = "CN=Users,{base}"
NOGRANT_OU = "OU=NoGrant,OU=RichCoex,{base}"
BLIND_PASSWORD = "Blind-Scan-Pass-2026!"


@contextlib.contextmanager
def user_object(lab, cn: str, parent: str, sam: str, password: str | None = None):
    """A user that exists for the test only (deleted after, whatever happens)."""
    dn = f"CN={cn},{parent.format(base=lab.base_dn)}"
    values = {"objectClass": ["top", "person", "organizationalPerson", "user"], "sAMAccountName": sam}
    if password:
        values |= {"unicodePwd": f'"{password}"'.encode("utf-16-le"), "userAccountControl": 0x10200}
    with admin_directory(lab) as admin:
        assert admin.connection.add(dn, attributes=values), admin.connection.result
        dn = admin.find_object(sam).dn
    try:
        yield dn
    finally:
        with admin_directory(lab) as admin:
            admin.connection.delete(dn)


def exists(lab, identity: str) -> bool:
    with admin_directory(lab) as admin:
        return bool(admin.search(identity, "(objectClass=*)", ["objectGUID"], scope=ldap3.BASE))


def dacl(lab, dn: str) -> bytes:
    with admin_directory(lab) as admin:
        return admin.writer().read_dacl(dn)


def one_error_line(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


# -- 1. restore cannot delete what the kit did not create ---------------------------------


def test_restore_cannot_delete_what_the_kit_did_not_create(lab, tmp_path):
    backups = tmp_path / "backups"
    with user_object(lab, "RC-Existing", USERS_OU, "RC-Existing") as user_dn:
        fix = run_cli(["fix", *connect_args(lab), *DIRSYNC, "--user", "rc-healthy", "--group", "RC-Existing",
                       "--create-group-in", USERS_OU.format(base=lab.base_dn), "--apply", "--backup-dir",
                       str(backups)], lab.password())  # fmt: skip
        assert fix.returncode == 3 and re.search(
            "RC-Existing,.* already exists .*; nothing was written", one_error_line(fix)
        )
        (journal,) = backups.iterdir()
        record = json.loads(journal.read_text())
        assert record["kind"] == "group" and record["applied"] is False and record["created_guid"] is None
        for force, why in (([], "never applied"), (["--force"], "the kit did not create")):
            undone = run_cli(["restore", str(journal), *connect_args(lab), *force], lab.password())
            assert undone.returncode == 3 and why in one_error_line(undone), undone.stdout
            assert exists(lab, user_dn)

        with admin_directory(lab) as admin:
            user_guid = str(admin.find_object(user_dn).guid)
        forged = [  # hand-written: "applied", naming the user by DN, with or without its GUID
            {"created_guid": None, "expect": "the kit did not create"},
            {"created_guid": user_guid, "expect": "not a group; nothing was deleted"},
        ]
        for case in forged:
            path = tmp_path / f"forged-{bool(case['created_guid'])}.json"
            path.write_text(json.dumps({"schema": BACKUP_SCHEMA, "kind": "group", "applied": True, "time": "now",
                                        "who": "someone", "dn": user_dn, "name": "RC-Existing", "object_class": "group",
                                        "created_guid": case["created_guid"]}))  # fmt: skip
            undone = run_cli(["restore", str(path), *connect_args(lab), "--force"], lab.password())
            assert undone.returncode == 3 and case["expect"] in one_error_line(undone)
            assert exists(lab, user_dn)


def test_restore_deletes_a_group_the_kit_created_found_by_its_guid(lab, tmp_path):
    scenario = sc.SCENARIO_BY_NAME["group-missing"]
    request = CheckRequest(scenario.user, scenario.sync_account, scenario.group, "kb", product=scenario.product)
    with admin_directory(lab) as admin:
        plan = plan_fix(admin, request, FixOptions(create_group_in=USERS_OU.format(base=lab.base_dn)))
        applied = apply_plan(plan, admin, tmp_path)
        group, membership = (json.loads(p.read_text()) for p in applied.backups)
        assert group["applied"] and uuid.UUID(group["created_guid"]) == admin.find_object(group["dn"]).guid
        assert membership["applied"] and membership["added"] and membership["object_class"] == "group"
        assert "removed" in restore(applied.backups[1], admin)
        assert "which the kit created" in restore(applied.backups[0], admin)
        assert admin.find_group(scenario.group) is None


# -- 2. an entry that was never applied is never restored ---------------------------------


def test_a_membership_another_admin_just_added_is_not_removed_by_restore(lab, tmp_path):
    scenario = sc.SCENARIO_BY_NAME["not-member"]
    request = CheckRequest(scenario.user, scenario.sync_account, scenario.group, "kb", product=scenario.product)
    with admin_directory(lab) as admin:
        plan = plan_fix(admin, request)
        (join,) = [c for c in plan.changes if type(c).__name__ == "AddMember"]
        plan.changes = [join]
        assert admin.writer().add_member(join.group_dn, join.member_dn)  # the colleague, first
        try:
            applied = apply_plan(plan, admin, tmp_path)  # the DC answers 68 entryAlreadyExists
            assert applied.done == [f"{join.member_dn} was already in {join.group_dn}"]
            record = json.loads(applied.backups[0].read_text())
            assert record["applied"] is True and record["added"] is False
            with pytest.raises(RestoreRefused, match="the kit did not add it"):
                restore(applied.backups[0], admin)
            group = admin.find_group(scenario.group)
            assert join.member_dn.lower() in {dn.lower() for dn, _ in group.members}
        finally:
            admin.writer().remove_member(join.group_dn, join.member_dn)


# -- 3. a backup that cannot be written stops the fix -------------------------------------


def test_a_full_disk_stops_the_fix_before_any_change_and_leaves_no_invalid_backup(lab, tmp_path):
    disk = tmp_path / "full"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(disk)], check=True)
    try:
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            while True:
                filler.write(b"x" * 512)
                filler.flush()
        dn = f"CN=rc-nogrant,{NOGRANT_OU.format(base=lab.base_dn)}"
        before = dacl(lab, dn)
        result = run_cli(["fix", *connect_args(lab), *DIRSYNC, "--user", "rc-nogrant", "--apply", "--backup-dir",
                          str(disk / "backups")], lab.password())  # fmt: skip
        assert result.returncode == 3
        assert re.search(r"could not write .* completely: No space left on device", one_error_line(result))
        assert dacl(lab, dn) == before
        assert sorted(p.name for p in disk.rglob("*") if p.is_file()) == ["filler"]
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# -- 4. no blind verdicts ------------------------------------------------------------------


def test_a_scan_bound_without_read_control_on_an_object_reports_it_and_exits_3(lab, tmp_path):
    target = f"CN=rc-healthy,OU=Writeback,OU=RichCoex,{lab.base_dn}"
    with user_object(lab, "rc-blind", USERS_OU, "rc-blind", BLIND_PASSWORD) as blind_dn:
        with admin_directory(lab) as admin:
            blind_sid = admin.find_object(blind_dn).sid
            writer = admin.writer()
            original = writer.read_dacl(target)
            sd = SecurityDescriptor.from_bytes(original)
            deny = Ace(AceType.ACCESS_DENIED, 0, Right.READ_CONTROL, blind_sid)
            writer.replace_dacl(target, original, sd.with_dacl(Acl.from_aces([deny, *sd.dacl.aces])).to_bytes())
        try:
            scope = ["--base", f"OU={sc.SCENARIO_OU},{lab.base_dn}"]
            out = {"csv": tmp_path / "scan.csv", "html": tmp_path / "scan.html"}
            args = [
                "scan",
                *connect_args(lab, "rc-blind"),
                *DIRSYNC,
                *scope,
                "--csv",
                str(out["csv"]),
                "--html",
                str(out["html"]),
            ]
            text = run_cli(args, BLIND_PASSWORD)
            assert text.returncode == 3, text.stdout + text.stderr
            assert "1 could not be checked" in text.stdout and "ERROR  " + target in text.stdout
            assert one_error_line(text) == "richcoex: error: could not check 1 objects (no verdict is given for them)"
            assert "ERROR: nTSecurityDescriptor came back empty" in out["csv"].read_text()
            assert "could not check" in out["html"].read_text()
            as_json = run_cli(["scan", *connect_args(lab, "rc-blind"), *DIRSYNC, *scope, "--json"], BLIND_PASSWORD)
            assert as_json.returncode == 3
            errors = [f for f in json.loads(as_json.stdout)["findings"] if f["status"] == "ERROR"]
            assert [(f["id"], f["object"]) for f in errors] == [("scan.readable", target)]
            assert "READ_CONTROL" in errors[0]["summary"]
        finally:
            with admin_directory(lab) as admin:
                admin.writer().replace_dacl(target, admin.writer().read_dacl(target), original)


# -- 5, 6. directory strings: no pasted command runs, no terminal is repainted ------------


def test_a_suggested_command_for_a_hostile_cn_runs_nothing_when_pasted(lab, tmp_path):
    with user_object(lab, "rc-x'$(touch pwned)'", NOGRANT_OU, "rc-hostile"):
        result = run_cli(["check", *connect_args(lab), *DIRSYNC, "--user", "rc-hostile", "--json"], lab.password())
        scan = run_cli(["scan", *connect_args(lab), *DIRSYNC, "--base", NOGRANT_OU.format(base=lab.base_dn), "--json"],
                       lab.password())  # fmt: skip
    remedies = [f["remedy"] for doc in (result, scan) for f in json.loads(doc.stdout)["findings"]
                if f["remedy"] and "pwned" in f["remedy"]]  # fmt: skip
    commands = {m.group(1) for text in remedies for m in [re.search(r"(richcoex fix --user .*?)(`| plans)", text)] if m}
    assert len(commands) >= 1, remedies
    env = dict(os.environ, PATH=f"{Path(os.sys.executable).parent}:{os.environ['PATH']}")
    for command in commands:
        subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert not (tmp_path / "pwned").exists()


def test_ansi_sequences_in_a_cn_never_reach_the_terminal(lab):
    paint = "\x1b[2K\x1b[32mPASS all good\x1b[0m"
    with user_object(lab, f"rc-paint{paint}", NOGRANT_OU, "rc-paint") as dn:
        assert paint in dn  # the DC kept the escape sequence in the name
        runner = CliRunner()
        env = {"RICHCOEX_PASSWORD": lab.password()}
        shown = runner.invoke(main, ["check", *connect_args(lab), *DIRSYNC, "--user", "rc-paint"], env=env, color=True)
        assert shown.exit_code == 1, shown.output
        assert "\x1b[32mPASS all good" not in shown.output and "\\x1b[32mPASS all good" in shown.output
        as_json = runner.invoke(main, ["check", *connect_args(lab), *DIRSYNC, "--user", "rc-paint", "--json"], env=env)
        assert "\\u001b[32mPASS all good" in as_json.stdout  # JSON keeps it, as an escape
        assert any(paint in (f["object"] or "") for f in json.loads(as_json.stdout)["findings"])
        fix = runner.invoke(main, ["fix", *connect_args(lab), *DIRSYNC, "--user", "rc-paint"], env=env, color=True)
        assert fix.exit_code == 0 and "\x1b[32m" not in fix.output and "\\x1b[32m" in fix.output


# -- 9. private by default -----------------------------------------------------------------


def test_backups_and_scan_outputs_are_private_and_the_default_folder_is_the_users_data_folder(lab, tmp_path):
    data_home = tmp_path / "xdg"
    dn = f"CN=rc-proxyonly,{NOGRANT_OU.format(base=lab.base_dn)}"
    before = dacl(lab, dn)
    fixed = run_cli(["fix", *connect_args(lab), *DIRSYNC, "--user", "rc-proxyonly", "--apply"], lab.password(),
                    XDG_DATA_HOME=str(data_home))  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    folder = data_home / "richcoex" / "backups"
    assert f"backups: {folder}" in fixed.stdout
    (backup,) = folder.iterdir()
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct(backup.stat().st_mode & 0o777) == "0o600"
    assert Path(json.loads(backup.read_text())["dn"]) and str(backup) in fixed.stdout  # absolute path said
    assert run_cli(["restore", str(backup), *connect_args(lab)], lab.password()).returncode == 0
    assert dacl(lab, dn) == before

    out = tmp_path / "new" / "reports"
    scan = run_cli(["scan", *connect_args(lab), *DIRSYNC, "--csv", str(out / "s.csv"), "--html", str(out / "s.html")],
                   lab.password())  # fmt: skip
    assert scan.returncode == 1, scan.stderr
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {"s.csv": "0o600", "s.html": "0o600"}
    assert oct(out.stat().st_mode & 0o777) == "0o700"
    collected = run_cli(["collect", *connect_args(lab), *DIRSYNC, "--user", "rc-deny", "--out", str(out / "c.json")],
                        lab.password())  # fmt: skip
    assert collected.returncode == 0 and oct((out / "c.json").stat().st_mode & 0o777) == "0o600"


# -- 12. a password over a plain connection -------------------------------------------------


def test_a_simple_bind_over_plain_ldap_is_refused_unless_insecure_and_then_warned(lab):
    args = ["check", *connect_args(lab), *DIRSYNC, "--tls", "none", "--user", "rc-healthy"]
    refused = run_cli(args, lab.password())
    assert refused.returncode == 2 and "CLEAR TEXT" in refused.stderr
    allowed = run_cli([*args, "--insecure"], lab.password())
    assert allowed.returncode == 0 and "WARNING: --tls none" in allowed.stderr and "CLEAR TEXT" in allowed.stderr
    assert "NOT validated" not in allowed.stderr  # no certificate is involved, so none is claimed
