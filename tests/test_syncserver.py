"""KB step 1 from the collector's JSON, for each product generation and state."""

import subprocess
import sys
from pathlib import Path

import pytest

from richcoex_kit.findings import Status
from richcoex_kit.syncserver import SyncState, SyncStateError, collector_script, not_collected, sync_findings

FIXTURES = Path(__file__).parent / "fixtures" / "syncstate"
LAB_STATE = Path(__file__).parent.parent / "richcoex_kit" / "lab" / "sync-state.json"


def statuses(name: str) -> dict[str, Status]:
    return {f.id: f.status for f in sync_findings(SyncState.load(FIXTURES / name))}


def test_dirsync_with_writeback_disabled_fails_with_the_kbs_remedy():
    findings = sync_findings(SyncState.load(FIXTURES / "dirsync-disabled.json"))
    enabled = findings[0]
    assert enabled.status == Status.FAIL and "Enable-MSOnlineRichCoexistence" in enabled.remedy
    assert {f.id: f.status for f in findings}["sync.cycle-idle"] == Status.SKIP


def test_a_running_cycle_warns_with_the_cmdlets_own_words():
    findings = sync_findings(SyncState.load(FIXTURES / "aadconnect-cycle-running.json"))
    cycle = next(f for f in findings if f.id == "sync.cycle-idle")
    assert cycle.status == Status.WARN and "MSO directory sync is syncing please try again later" in cycle.summary


def test_permission_errors_list_exactly_the_failed_objects():
    state = SyncState.load(FIXTURES / "entra-permission-errors.json")
    errors = next(f for f in sync_findings(state) if f.id == "sync.export-errors")
    assert errors.status == Status.FAIL
    assert errors.details["objects"] == state.failed_objects()
    assert [dn.split(",")[0] for dn in state.failed_objects()] == [
        "CN=rc-admin",
        "CN=rc-deny",
        "CN=rc-nogrant",
        "CN=rc-noinherit",
        "CN=rc-propset",
        "CN=rc-proxyonly",
    ]


def test_missing_cmdlets_degrade_to_warn_and_skip_not_failure():
    assert statuses("azureadsync-cmdlets-missing.json") == {
        "sync.writeback-enabled": Status.WARN,
        "sync.cycle-idle": Status.SKIP,
        "sync.export-errors": Status.PASS,
    }


def test_the_sync_account_is_discovered_from_the_connector():
    assert SyncState.load(FIXTURES / "aadconnect-cycle-running.json").sync_accounts() == ["CONTOSO\\MSOL_a1b2c3d4e5f6"]


@pytest.mark.parametrize(
    "name, message",
    [
        ("truncated.json", "is not complete JSON"),
        ("wrong-schema.json", "is not the collector's output"),
        ("wrong-type.json", "malformed at writeback/hybrid_exchange"),
        ("absent.json", "does not exist"),
    ],
)
def test_bad_sync_state_files_are_named_errors(name, message):
    with pytest.raises(SyncStateError, match=message):
        SyncState.load(FIXTURES / name)


@pytest.mark.parametrize("name", ["truncated.json", "wrong-schema.json"])
def test_cli_turns_a_bad_sync_state_into_exit_3(name):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "richcoex_kit.cli",
            "check",
            "--user",
            "rc-healthy",
            "--sync-state",
            str(FIXTURES / name),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3 and result.stderr.strip().splitlines()[-1].startswith("richcoex: error: sync state")
    assert "Traceback" not in result.stderr


def test_without_a_state_the_checks_skip_and_say_how():
    assert {f.status for f in not_collected()} == {Status.SKIP}
    assert "collect-sync --print-script" in not_collected()[0].summary


def test_the_lab_state_is_consistent_with_the_lab_scenarios():
    from richcoex_kit.lab import scenarios as sc

    failing_users = {s.user for s in sc.SCENARIOS if s.writable != frozenset(sc.PRESENT_ATTRIBUTES)
                     and s.sync_account == sc.SYNC_ACCOUNT and s.group == sc.GROUP}  # fmt: skip
    failed = {dn.split(",")[0].removeprefix("CN=") for dn in SyncState.load(LAB_STATE).failed_objects()}
    assert failed == failing_users


def test_the_collector_script_is_read_only_and_short():
    script = collector_script()
    assert len(script.splitlines()) <= 60
    for verb in ("Set-ADSync", "Start-ADSync", "Enable-", "Remove-ADSync", "Invoke-ADSync"):
        assert verb not in script
