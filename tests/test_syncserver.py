"""KB step 1 from the collector's JSON, for each product generation and state."""

import contextlib
import functools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import richcoex_kit
from richcoex_kit.findings import Finding, Status
from richcoex_kit.syncserver import (
    SYNC_SCHEMA,
    SYNC_SCHEMA_V1,
    CloudSyncAgent,
    ConnectorAccount,
    SyncState,
    SyncStateError,
    _validator,
    collector_script,
    grant_remedy,
    not_collected,
    sync_findings,
)
from tests.mutations import mutated

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
    assert len(script.splitlines()) <= 75  # a screen and a half
    for verb in ("Set-ADSync", "Start-ADSync", "Enable-", "Remove-ADSync", "Invoke-ADSync", "Set-AADCloudSync",
                 "Set-Service", "Stop-Service", "Restart-Service", "Set-ItemProperty", "New-ItemProperty"):  # fmt: skip
        assert verb not in script


def test_the_collector_writes_the_current_schema_and_every_required_field():
    script = collector_script()
    schema = json.loads((Path(richcoex_kit.__file__).parent / "syncstate.schema.json").read_text())
    assert f"schema = '{SYNC_SCHEMA}'" in script
    for field in schema["required"]:
        assert re.search(rf"\b{field} = ", script), field
    for field in schema["properties"]["export_errors"]["items"]["properties"]:
        assert re.search(rf"\b{field} = ", script), field


# --- richcoex.syncstate/2 ------------------------------------------------------------------


def load(name: str) -> SyncState:
    return SyncState.load(FIXTURES / name)


def by_id(state: SyncState) -> dict[str, Finding]:
    return {f.id: f for f in sync_findings(state)}


def test_an_entra_connect_server_reports_each_failed_object_with_its_attributes():
    state = load("entra-connect-8344.json")
    assert (state.schema_version, state.product, state.staging) == (2, "connect", False)
    assert state.failed_attributes() == {
        "CN=Adm Kim,OU=Admins,DC=contoso,DC=com": ("msDS-KeyCredentialLink",),
        "CN=Ann Lee,OU=Sales,DC=contoso,DC=com": (
            "proxyAddresses",
            "msExchSafeSendersHash",
            "msExchBlockedSendersHash",
            "msExchArchiveStatus",
        ),
        "CN=Raj Patel,OU=Sales,DC=contoso,DC=com": ("mS-DS-ConsistencyGuid",),
        "CN=krbtgt_AzureAD,CN=Users,DC=contoso,DC=com": ("msDS-ExternalDirectoryObjectId",),
    }
    # The constraint violation on CN=Doe\, John is an export error, but not 8344: not an object to check.
    assert len(state.exports()) == 6 and "CN=Doe\\, John,OU=Sales,DC=contoso,DC=com" not in state.failed_objects()
    failed = state.failed_exports()[0]
    assert (failed.error_type, failed.code, failed.error_code) == ("permission-issue", 8344, "0x80072098")


def test_connect_remedy_names_the_cmdlet_with_the_account_and_each_non_exchange_attributes_fix():
    errors = by_id(load("entra-connect-8344.json"))["sync.export-errors"]
    assert errors.status == Status.FAIL
    remedy = errors.remedy or ""
    assert (
        "Set-ADSyncExchangeHybridPermissions -ADConnectorAccountName MSOL_0a1b2c3d4e5f -ADConnectorAccountDomain CONTOSO"
        in remedy
    )
    assert "Set-ADSyncMsDsConsistencyGuidPermissions" in remedy
    assert "AdminSDHolder" in remedy and "Windows Hello" in remedy
    assert "krbtgt_AzureAD" in remedy
    assert errors.details["attributes"]["CN=Raj Patel,OU=Sales,DC=contoso,DC=com"] == ["mS-DS-ConsistencyGuid"]
    json.dumps(errors.to_json())


def test_connector_accounts_keep_their_domain():
    state = load("entra-connect-8344.json")
    assert state.connector_accounts() == [
        ConnectorAccount(connector="contoso.com", forest="contoso.com", domain="CONTOSO", name="MSOL_0a1b2c3d4e5f")
    ]
    assert state.sync_accounts() == ["CONTOSO\\MSOL_0a1b2c3d4e5f"]


def test_a_staging_server_warns_that_no_8344_proves_nothing():
    state = load("entra-connect-staging.json")
    errors = by_id(state)["sync.export-errors"]
    assert state.staging is True
    assert (
        errors.status == Status.WARN and "a staging server never exports; no 8344 here proves nothing" in errors.summary
    )


def test_an_old_cloud_sync_agent_fails_writeback_with_the_upgrade_remedy():
    state = load("cloudsync-agent-old.json")
    findings = by_id(state)
    enabled = findings["sync.writeback-enabled"]
    assert state.product == "cloudsync" and state.cloud_sync_agent == CloudSyncAgent(
        "1.1.977.0", "CONTOSO\\provAgentgMSA$", "Running"
    )
    assert enabled.status == Status.FAIL and "1.1.1107.0" in enabled.summary and "Upgrade" in (enabled.remedy or "")
    assert (
        findings["sync.export-errors"].status == Status.SKIP
        and "provisioning logs" in findings["sync.export-errors"].summary
    )
    assert findings["sync.cycle-idle"].status == Status.SKIP


def test_a_current_cloud_sync_agent_says_where_writeback_is_switched_on():
    state = load("cloudsync-agent-current.json")
    enabled = by_id(state)["sync.writeback-enabled"]
    assert state.cloud_sync_agent is not None and state.cloud_sync_agent.supports_exchange_writeback is True
    assert enabled.status == Status.WARN and "Exchange hybrid writeback" in (enabled.remedy or "")
    assert state.gmsa == "CONTOSO\\provAgentgMSA$" and state.sync_accounts() == ["CONTOSO\\provAgentgMSA$"]
    assert "Set-AADCloudSyncPermissions" in grant_remedy(state)


@pytest.mark.parametrize(
    "version, supported",
    [("1.1.1107.0", True), ("1.1.1106.9", False), ("1.2", True), ("1.1.977.0", False), ("", None), ("v1.1", None)],
)
def test_the_agent_version_rule(version, supported):
    assert CloudSyncAgent(version, None).supports_exchange_writeback is supported


@pytest.mark.parametrize(
    "name, product", [("dirsync-disabled.json", "dirsync"), ("azureadsync-cmdlets-missing.json", "dirsync"),
                      ("aadconnect-cycle-running.json", "connect"), ("entra-permission-errors.json", "connect")],
)  # fmt: skip
def test_version_1_documents_still_read_with_the_new_facts_unknown(name, product):
    state = load(name)
    assert (state.schema_version, state.product, state.staging, state.cloud_sync_agent) == (1, product, None, None)
    assert state.exports_read


def test_a_version_1_error_gives_its_single_attribute():
    attributes = load("entra-permission-errors.json").failed_attributes()
    assert attributes["CN=rc-deny,OU=Writeback,OU=RichCoex,DC=lab,DC=example,DC=test"] == ("msExchArchiveStatus",)


def test_per_product_enable_remedies():
    remedies = {name: by_id(load(name))["sync.writeback-enabled"].remedy for name in ("dirsync-disabled.json",)}
    assert "Enable-MSOnlineRichCoexistence" in (remedies["dirsync-disabled.json"] or "")
    assert "Set-ADSyncExchangeHybridPermissions" in grant_remedy(load("entra-connect-8344.json"))
    assert "MSOL_AD_Sync_RichCoexistence" in grant_remedy(load("dirsync-disabled.json"))


def test_the_lab_state_is_version_2_and_each_failure_names_a_denied_attribute():
    from richcoex_kit.lab import scenarios as sc

    state = SyncState.load(LAB_STATE)
    assert state.schema_version == 2 and state.product == "dirsync"  # the lab's scenarios rest on the group
    by_user = {s.user: s for s in sc.SCENARIOS if s.sync_account == sc.SYNC_ACCOUNT and s.group == sc.GROUP}
    for dn, attributes in state.failed_attributes().items():
        scenario = by_user[dn.split(",")[0].removeprefix("CN=")]
        assert set(attributes) - scenario.writable, f"{dn}: every attribute of its failed modify is writable"


# --- validation: fast, and never anything but a SyncStateError --------------------------------

DOCUMENTS = sorted(p for p in FIXTURES.glob("*.json") if p.name not in ("truncated.json", "wrong-schema.json"))


def test_importing_and_validating_does_not_import_jsonschema():
    code = ("import sys, richcoex_kit.syncserver as s; s.SyncState.load(s.lab_sync_state_path()); "
            "print('jsonschema' in sys.modules)")  # fmt: skip
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


@pytest.mark.parametrize("path", [*DOCUMENTS, LAB_STATE], ids=lambda p: p.name)
def test_the_checker_agrees_with_jsonschema_on_every_fixture(path):
    document = json.loads(path.read_text(encoding="utf-8-sig"))
    assert agrees_with_jsonschema(document)


def agrees_with_jsonschema(document: Any) -> bool:
    version = document.get("schema") if isinstance(document, dict) else None
    if version not in (SYNC_SCHEMA, SYNC_SCHEMA_V1):
        return True
    ours = _validator(version)(document, ()) is None
    theirs = jsonschema_validator(version).is_valid(document)
    return ours == theirs


@functools.cache
def jsonschema_validator(version: str) -> Any:
    import jsonschema

    name = "syncstate.schema.json" if version == SYNC_SCHEMA else "syncstate-1.schema.json"
    schema = json.loads((Path(richcoex_kit.__file__).parent / name).read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_a_deeply_nested_file_is_one_line_naming_it(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SyncStateError, match=r"deep\.json.* is nested 100000 levels deep"):
        SyncState.load(deep)


def test_brackets_inside_strings_do_not_count_as_nesting():
    document = json.loads((FIXTURES / "entra-connect-staging.json").read_text())
    document["notes"] = ["[" * 1000 + '\\"{' * 100]
    assert SyncState.from_text(json.dumps(document)).staging is True


def test_a_number_too_long_to_convert_is_a_named_error():
    text = (FIXTURES / "entra-connect-staging.json").read_text().replace('"staging": true', '"staging": ' + "9" * 5000)
    with pytest.raises(SyncStateError, match="is not complete JSON"):
        SyncState.from_text(text, "long.json")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["export_errors"][0].update(attributes="proxyAddresses"),
            "export_errors/0/attributes: expected array",
        ),
        (
            lambda d: d["export_errors"][0].update(code=True),
            "export_errors/0/code: expected integer or null, got boolean",
        ),
        (lambda d: d["product"].update(id="aadsync"), "product/id: expected one of"),
        (lambda d: d.pop("staging"), r"\(top\): missing required staging"),
        (
            lambda d: d["connectors"].append({"name": None, "account": None}),
            "connectors/1/name: expected string, got null",
        ),
    ],
)
def test_wrong_types_name_the_place_and_what_was_expected(change, message):
    document = json.loads((FIXTURES / "entra-connect-8344.json").read_text())
    change(document)
    with pytest.raises(SyncStateError, match=message) as caught:
        SyncState.from_text(json.dumps(document), "state.json")
    assert len(str(caught.value).splitlines()) == 1 and "'state.json'" in str(caught.value)


SEEDS = [json.loads(p.read_text(encoding="utf-8-sig")) for p in [*DOCUMENTS, LAB_STATE]]


def mutated_documents() -> st.SearchStrategy[str]:
    return mutated(SEEDS, ["permission-issue", 8344, "1.1.1107.0"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_any_mutated_document_loads_or_is_a_sync_state_error(text):
    try:
        state = SyncState.from_text(text, "mutated.json")
    except SyncStateError as error:
        assert len(str(error).splitlines()) == 1 and "'mutated.json'" in str(error)
        return
    finally:
        with contextlib.suppress(ValueError):  # text that is not JSON at all has nothing to compare
            assert agrees_with_jsonschema(json.loads(text))
    findings = sync_findings(state)
    json.dumps([f.to_json() for f in findings])
    state.sync_accounts(), state.failed_attributes(), state.permission_errors(), state.product_label, state.gmsa
