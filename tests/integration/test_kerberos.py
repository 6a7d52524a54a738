"""`--auth kerberos` end to end against the lab's own KDC (Samba's `kdc` service, port 88).

The ticket comes from MIT kinit with the lab's krb5.conf (KRB5_CONFIG) into a cache inside
the lab folder (KRB5CCNAME): nothing under /etc or the user's default cache is touched.
The lab has no DNS, so the CLI connects to 127.0.0.1 and names the service by the
certificate's name (--tls-name DC1.lab.example.test), which is also the ldap/ principal."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.samba import SambaLab

from .conftest import DIRSYNC, run_cli
from .test_cli_check import assert_one_line_error

pytestmark = pytest.mark.samba


@pytest.fixture(scope="module")
def ticket(lab):
    """A ticket for the default sync account, in the lab's own cache."""
    if not shutil.which("kinit"):
        pytest.fail("kinit is missing: scripts/test.sh installs krb5-user")
    try:
        import gssapi  # noqa: F401
    except ImportError:
        pytest.fail("python-gssapi is missing: it is in the test extra (scripts/test.sh installs libkrb5-dev first)")
    samba = SambaLab(lab.root)
    env = samba.kinit(sc.SYNC_ACCOUNT)
    try:
        yield env
    finally:
        samba.kdestroy()


def kerberos_args(lab, tls: str) -> list[str]:
    return [
        "check",
        "--server",
        lab.host,
        "--tls",
        tls,
        "--ca-file",
        lab.ca_file,
        "--tls-name",
        lab.tls_name,
        "--auth",
        "kerberos",
    ]


def test_kinit_put_the_ticket_in_the_lab_folder(lab, ticket):
    listing = subprocess.run(["klist"], capture_output=True, text=True, env=ticket, check=True).stdout
    assert f"{sc.SYNC_ACCOUNT}@LAB.EXAMPLE.TEST" in listing
    assert ticket["KRB5CCNAME"].removeprefix("FILE:").startswith(lab.root)


@pytest.mark.parametrize("tls", ["ldaps", "starttls"])
def test_check_binds_with_the_ticket(lab, ticket, tls):
    result = run_cli([*kerberos_args(lab, tls), "--user", "rc-healthy", "--json", *DIRSYNC], **ticket)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") <= 1, result.stderr  # no warnings, no traceback
    document = json.loads(result.stdout)
    assert document["target"]["kind"] == "ldap"
    assert {f["status"] for f in document["findings"]} == {"PASS"}
    # Verdicts equal those of a simple bind: the ticket's principal is the sync account itself.
    failing = run_cli([*kerberos_args(lab, tls), "--user", "rc-noinherit", "--json", *DIRSYNC], **ticket)
    assert failing.returncode == 1, failing.stderr
    statuses = {f["id"]: f["status"] for f in json.loads(failing.stdout)["findings"]}
    assert statuses["object.inheritance"] == "FAIL"


def test_without_a_ticket_the_error_is_one_line(lab, ticket):
    empty = {**ticket, "KRB5CCNAME": f"FILE:{lab.root}/run/no-such-cache"}
    result = run_cli([*kerberos_args(lab, "ldaps"), "--user", "rc-healthy"], **empty)
    assert_one_line_error(result, "Kerberos bind to 127.0.0.1:636 failed", "No Kerberos credentials available")
