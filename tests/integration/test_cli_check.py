"""`richcoex check` against the real DC, as a scheduler or an engineer runs it."""

from __future__ import annotations

import json
import socket
import threading

import jsonschema
import pytest

from richcoex_kit.findings import json_schema
from richcoex_kit.lab import scenarios as sc

from .conftest import DIRSYNC, connect_args, run_cli

pytestmark = pytest.mark.samba


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("richcoex: WARNING: ")]
    assert len(lines) == 1 and lines[0].startswith("richcoex: error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.name)
def test_json_verdicts_per_scenario(lab, scenario):
    args = [
        "check",
        *connect_args(lab),
        "--user",
        scenario.user,
        "--sync-account",
        scenario.sync_account,
        "--group",
        scenario.group,
        "--attributes",
        scenario.attributes,
        "--product",
        scenario.product,
        "--json",
    ]
    result = run_cli(args, lab.password())
    document = json.loads(result.stdout)
    jsonschema.validate(document, json_schema())
    writes = {
        f["id"].removeprefix("acl.write."): f["status"]
        for f in document["findings"]
        if f["id"].startswith("acl.write.") and f["status"] != "SKIP"
    }
    assert writes == {name: "PASS" if name in scenario.writable else "FAIL" for name in writes}
    failing = any(f["status"] == "FAIL" for f in document["findings"])
    assert result.returncode == (1 if failing else 0)
    assert document["target"]["kind"] == "ldap" and document["context"]["token"]
    assert lab.password() not in result.stdout + result.stderr


def test_table_output_reads_as_a_report(lab):
    result = run_cli(["check", *connect_args(lab), "--user", "rc-noinherit", *DIRSYNC], lab.password())
    assert result.returncode == 1
    assert "FAIL  object.inheritance" in result.stdout
    assert "fix: Enable inheritance" in result.stdout


def test_the_sync_account_itself_can_run_the_check(lab):
    result = run_cli(
        ["check", *connect_args(lab, sc.SYNC_ACCOUNT), "--user", "rc-healthy", "--json", *DIRSYNC],
        lab.password(sc.SYNC_ACCOUNT),
    )
    assert result.returncode == 0, result.stderr
    assert {f["status"] for f in json.loads(result.stdout)["findings"]} == {"PASS"}


def test_unknown_user(lab):
    assert_one_line_error(
        run_cli(["check", *connect_args(lab), "--user", "nobody-here"], lab.password()),
        "no object matches 'nobody-here'",
    )


def test_ldap_filter_metacharacters_find_nothing_and_say_so(lab):
    result = run_cli(["check", *connect_args(lab), "--user", "*)(objectClass=*"], lab.password())
    assert_one_line_error(result, "no object matches '*)(objectClass=*'")


def test_dn_with_escaped_comma_resolves(lab):
    dn = f"CN=Doe\\, John,OU=Writeback,OU=RichCoex,{lab.base_dn}"
    result = run_cli(["check", *connect_args(lab), "--user", dn, "--json", *DIRSYNC], lab.password())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["findings"][-1]["object"] == dn


def test_user_by_objectguid_and_upn(lab, admin):
    guid = str(admin.find_object("rc-healthy").guid)
    for identity in (guid, "{" + guid + "}", "rc-healthy@lab.example.test"):
        result = run_cli(["check", *connect_args(lab), "--user", identity, "--json", *DIRSYNC], lab.password())
        assert result.returncode == 0, (identity, result.stderr)


def test_ambiguous_sync_account(lab):
    """The lab holds DirSync's, Entra Connect's and Cloud Sync's default accounts at once."""
    result = run_cli(["check", *connect_args(lab), "--user", "rc-healthy", "--sync-account", "auto"], lab.password())
    assert_one_line_error(result, "--sync-account auto found 3 sync product accounts",
                          "MSOL_AD_Sync", sc.CONNECT_ACCOUNT, sc.CLOUD_SYNC_GMSA)  # fmt: skip


def test_malformed_dn(lab):
    assert_one_line_error(
        run_cli(["check", *connect_args(lab), "--user", "CN=,,=x"], lab.password()), "'CN=,,=x' is not a valid DN"
    )


def test_wrong_password_says_so_without_echoing_it(lab):
    result = run_cli(["check", *connect_args(lab), "--user", "rc-healthy"], "Not-The-Password-42!")
    assert_one_line_error(result, "refused the credentials for LAB\\Administrator")
    assert "Not-The-Password-42!" not in result.stderr + result.stdout


def test_no_password_anywhere_is_a_clear_error(lab):
    result = run_cli(
        ["check", *connect_args(lab), "--user", "rc-healthy"],
        None,
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    assert_one_line_error(result, "no password for LAB\\Administrator", "RICHCOEX_PASSWORD")


def test_tls_validation_failure_without_ca_file(lab):
    args = [
        "check",
        "--server",
        lab.host,
        "--tls-name",
        lab.tls_name,
        "--bind-user",
        "LAB\\Administrator",
        "--user",
        "rc-healthy",
    ]
    assert_one_line_error(run_cli(args, lab.password()), "could not be verified", "--ca-file")


def test_certificate_name_mismatch(lab):
    args = [
        "check",
        "--server",
        lab.host,
        "--ca-file",
        lab.ca_file,
        "--bind-user",
        "LAB\\Administrator",
        "--user",
        "rc-healthy",
    ]
    assert_one_line_error(run_cli(args, lab.password()), "could not be verified", "--tls-name")


def test_insecure_skips_validation_loudly(lab):
    args = [
        "check",
        "--server",
        lab.host,
        "--insecure",
        "--bind-user",
        "LAB\\Administrator",
        "--user",
        "rc-healthy",
        *DIRSYNC,
    ]
    result = run_cli(args, lab.password())
    assert result.returncode == 0, result.stderr
    assert "NOT validated" in result.stderr


def test_starttls_and_plain_ldap(lab):
    for tls in ("starttls", "none"):
        args = ["check", *connect_args(lab), "--tls", tls, "--user", "rc-healthy", *DIRSYNC]
        result = run_cli(args + ["--insecure"] * (tls == "none"), lab.password())  # clear text: only if asked
        assert result.returncode == 0, (tls, result.stderr)


def test_unreachable_dc(lab):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    result = run_cli(["check", *connect_args(lab), "--port", str(free_port), "--user", "x"], lab.password())
    assert_one_line_error(result, f"cannot reach {lab.host}:{free_port}")


class CuttingProxy:
    """Forwards plain LDAP to the DC and drops the connection when the client sends its
    Nth request (or its Nth request carrying `cut_at_marker`, e.g. the paged-results
    control) — the DC vanishing mid-run, deterministically."""

    def __init__(
        self, target_port: int, cut_at_request: int, cut_at_marker: bytes = b"", marker_count: int = 0
    ) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        self.cut_at = cut_at_request
        self.marker, self.marker_count = cut_at_marker, marker_count
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()
        requests = markers = 0
        while data := client.recv(65536):
            requests += 1
            markers += bool(self.marker) and self.marker in data
            if requests >= self.cut_at or (self.marker_count and markers >= self.marker_count):
                break
            server.sendall(data)
        for sock in (client, server, self.listener):
            sock.close()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


def test_dc_lost_mid_run(lab):
    proxy = CuttingProxy(389, cut_at_request=4)  # bind, rootDSE, domain head pass; then the DC is gone
    args = [
        "check",
        *connect_args(lab),
        "--tls",
        "none",
        "--insecure",
        "--port",
        str(proxy.port),
        "--user",
        "rc-healthy",
    ]
    assert_one_line_error(run_cli(args, lab.password()), "connection to 127.0.0.1")


def test_a_dn_in_another_domain_is_not_chased_with_the_password(lab):
    """AD answers a DN it does not hold with a referral to the host its DC= parts name, and
    ldap3 would follow it by binding there again with the same password (over plain LDAP
    from an LDAPS session). Samba answers noSuchObject instead, so the proof is twofold: the
    kit's connection is built not to chase referrals, and the foreign DN is one line."""
    from richcoex_kit.lab.seed import admin_directory

    with admin_directory(lab) as directory:
        assert directory.connection.auto_referrals is False
        assert directory.connection.password is None  # not kept once bound
    result = run_cli(["check", *connect_args(lab), *DIRSYNC, "--user", "CN=x,DC=elsewhere,DC=invalid"], lab.password())
    assert_one_line_error(result)
    assert "elsewhere" in result.stderr
