"""The real Samba AD DC every integration test runs against, provisioned once per session.

Not skipped when Samba is missing: scripts/test.sh installs it, and a missing DC is a
failure of the run, not a reason to pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from richcoex_kit.lab.samba import LabInfo, SambaLab
from richcoex_kit.lab.seed import admin_directory, bring_up
from richcoex_kit.schema import ATTRIBUTE_SETS


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInfo]:
    if not shutil.which("samba"):
        pytest.fail("Samba is not installed: run the suite through scripts/test.sh, which installs it")
    root = tmp_path_factory.mktemp("samba-lab") / "dc"
    info = bring_up(root)
    try:
        yield info
    finally:
        SambaLab(root).stop()


@pytest.fixture()
def admin(lab: LabInfo):
    with admin_directory(lab) as directory:
        yield directory


WRITE_BACK = frozenset(ATTRIBUTE_SETS["entra"])
PROBE_VALUES = {
    "msExchSafeSendersHash": b"\x01\x02\x03\x04",
    "msExchBlockedSendersHash": b"\x05\x06\x07\x08",
    "msExchSafeRecipientsHash": b"\x09\x0a\x0b\x0c",
    "msExchArchiveStatus": "1",
    "msExchUCVoiceMailSettings": "ExchangeOnlineVoicemailEnabled=true",
    "proxyAddresses": "smtp:oracle@lab.example.test",
    "msDS-ExternalDirectoryObjectId": "User_0f0e0d0c-0b0a-0908-0706-050403020100",
    "description": "written by the richcoex oracle",
    "telephoneNumber": "+1 555 0100",
    "mS-DS-ConsistencyGuid": bytes(range(16)),
}


def attempt_writes(lab: LabInfo, account: str, identity: str, names) -> dict[str, bool]:
    """Write each attribute for real, bound as `account`; put the original back as admin.
    True ⇔ the DC accepted; False ⇔ LDAP 50 with 00002098 (what the sync engine logs as 8344)."""
    import ldap3

    verdicts = {}
    with admin_directory(lab) as admin, admin_directory(lab, account) as bound:
        target = admin.find_object(identity)
        probe = dict(
            PROBE_VALUES,
            publicDelegates=f"CN=Administrator,CN=Users,{lab.base_dn}",
            member=f"CN=Administrator,CN=Users,{lab.base_dn}",
        )
        for name in names:
            assert admin.connection.search(target.dn, "(objectClass=*)", ldap3.BASE, attributes=[name])
            original = admin.connection.response[0]["raw_attributes"].get(name, [])
            bound.connection.modify(target.dn, {name: [(ldap3.MODIFY_REPLACE, [probe[name]])]})
            result = bound.connection.result
            assert result["result"] in (0, 50), (name, result)
            if result["result"] == 50 and name in WRITE_BACK:
                assert "00002098" in result["message"], result  # the text the sync engine logs with 8344
            verdicts[name] = result["result"] == 0
            admin.connection.modify(target.dn, {name: [(ldap3.MODIFY_REPLACE, list(original))]})
            assert admin.connection.result["result"] == 0, admin.connection.result
    return verdicts


def _probe_value(lab: LabInfo, dn: str, name: str):
    """The value written for `name`: DN-valued attributes need a DN that exists."""
    if name in ("publicDelegates", "member"):
        return f"CN=Administrator,CN=Users,{lab.base_dn}"
    if name == "msDS-KeyCredentialLink":  # DN-Binary: B:<hex digits>:<hex>:<DN>
        return f"B:8:01020304:{dn}"
    return PROBE_VALUES[name]


def _same(value, read: list) -> bool:
    wanted = value if isinstance(value, bytes) else str(value).encode()
    return any(v.lower() == wanted.lower() if not isinstance(value, bytes) else v == wanted for v in read)


def attempt_writes_and_reads(lab: LabInfo, account: str, identity: str, names) -> dict[str, tuple[bool, bool]]:
    """For each attribute: (writable, readable) as the DC decides for `account`.

    writable: a real MODIFY_REPLACE bound as `account` — True on success, False on LDAP 50
    whose text carries 00002098 (the sync engine's 8344). readable: the value is then read
    back bound as `account` (base search, SD flags not needed) — when the write was refused,
    the admin writes the same value first, so "readable" never depends on the write. Microsoft
    grants Read and Write (RPWP): a write-only grant leaves the confirming import blind.
    The admin puts the original values back afterwards."""
    import ldap3

    truth = {}
    with admin_directory(lab) as admin, admin_directory(lab, account) as bound:
        dn = identity if "=" in identity else admin.find_object(identity).dn
        for name in names:
            assert admin.connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[name]), (
                admin.connection.result
            )
            original = admin.connection.response[0]["raw_attributes"].get(name, [])
            value = _probe_value(lab, dn, name)
            bound.connection.modify(dn, {name: [(ldap3.MODIFY_REPLACE, [value])]})
            result = bound.connection.result
            assert result["result"] in (0, 50), (name, result)
            if result["result"] == 50:
                assert "00002098" in result["message"], (name, result)
                admin.connection.modify(dn, {name: [(ldap3.MODIFY_REPLACE, [value])]})
                assert admin.connection.result["result"] == 0, (name, admin.connection.result)
            bound.connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[name])
            entries = [e for e in bound.connection.response or [] if e.get("type") == "searchResEntry"]
            read = entries[0]["raw_attributes"].get(name, []) if entries else []
            truth[name] = (result["result"] == 0, _same(value, read))
            admin.connection.modify(dn, {name: [(ldap3.MODIFY_REPLACE, list(original))]})
            assert admin.connection.result["result"] == 0, (name, admin.connection.result)
    return truth


# The lab holds DirSync's, Entra Connect's and Cloud Sync's default accounts, so `auto` is
# ambiguous there by design: tests of the DirSync-era scenarios say which product runs.
DIRSYNC = ["--product", "dirsync"]


def connect_args(lab: LabInfo, user: str = "Administrator") -> list[str]:
    return ["--server", lab.host, "--ca-file", lab.ca_file, "--tls-name", lab.tls_name, "--bind-user", f"LAB\\{user}"]


def run_cli(args: list[str], password: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run `richcoex` as a user would: a separate process, no terminal, password in the env."""
    environment = {k: v for k, v in os.environ.items() if k != "RICHCOEX_PASSWORD"} | env
    if password is not None:
        environment["RICHCOEX_PASSWORD"] = password
    command = [str(Path(sys.executable).with_name("richcoex")), *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=environment, stdin=subprocess.DEVNULL, timeout=120
    )
