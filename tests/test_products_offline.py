"""The product model on the built-in lab snapshot: which product and account a check
assumes and why, and a sync state narrowing an 8344 object to exactly its failed attributes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from richcoex_kit.syncserver import lab_sync_state_path

RICHCOEX = str(Path(sys.executable).with_name("richcoex"))
NOGRANT = "CN=rc-nogrant,OU=NoGrant,OU=RichCoex,DC=lab,DC=example,DC=test"


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RICHCOEX, "check", "--lab", *args], capture_output=True, text=True, timeout=60)


def test_the_product_and_account_are_said_on_stderr_and_in_the_evidence():
    result = check("--user", "rc-connect-healthy", "--sync-account", "MSOL_5f3a9c0e1b27", "--json")
    assert result.returncode == 0, result.stderr
    context = json.loads(result.stdout)["context"]
    assert (context["product"], context["group_resolved"]) == ("connect", None)
    assert context["product_source"].startswith("inferred from the sync account MSOL_5f3a9c0e1b27")
    assert "richcoex: product connect (Microsoft Entra Connect Sync)" in result.stderr


def test_a_gmsa_is_cloud_sync_and_auto_on_the_lab_is_its_collectors_account():
    gmsa = json.loads(check("--user", "rc-cloud-healthy", "--sync-account", "provAgentgMSA$", "--json").stdout)
    assert gmsa["context"]["product"] == "cloudsync"
    default = json.loads(check("--user", "rc-healthy", "--json").stdout)["context"]
    assert (default["product"], default["sync_account_resolved"]) == ("dirsync", "MSOL_AD_Sync")
    assert default["sync_account_source"] == "auto: the connector account in the built-in lab's collector output"


def test_a_product_that_contradicts_the_collector_is_a_usage_error():
    result = check("--user", "rc-healthy", "--sync-state", str(lab_sync_state_path()), "--product", "connect")
    assert result.returncode == 2 and "contradicts" in result.stderr and "Traceback" not in result.stderr


def test_an_8344_object_is_checked_for_exactly_its_failed_attributes(tmp_path):
    state = json.loads(lab_sync_state_path().read_text())
    failed = next(e for e in state["export_errors"] if e["dn"] == NOGRANT)
    failed["attributes"] = ["proxyAddresses", "mS-DS-ConsistencyGuid"]
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    result = check("--user", "rc-nogrant", "--sync-state", str(path), "--json")
    document = json.loads(result.stdout)
    writes = {f["id"]: f for f in document["findings"] if f["id"].startswith("acl.write.")}
    assert set(writes) == {"acl.write.proxyAddresses", "acl.write.mS-DS-ConsistencyGuid"}
    assert all(f["status"] == "FAIL" for f in writes.values())
    assert "Set-ADSyncMsDsConsistencyGuidPermissions" in writes["acl.write.mS-DS-ConsistencyGuid"]["remedy"]
    assert document["context"]["attributes_source"].startswith("the attributes of its failed 8344 export")
