"""Evidence runs and scans against the real Samba DC."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from richcoex_kit.lab import scenarios as sc
from richcoex_kit.runner import list_runbooks

from .conftest import DIRSYNC, connect_args, run_cli
from .test_cli_check import CuttingProxy

pytestmark = pytest.mark.samba
LAB_STATE = Path(__file__).resolve().parents[2] / "richcoex_kit" / "lab" / "sync-state.json"


def refused_by_the_dc() -> set[str]:
    """What the oracle tests prove the DC refuses, for the default account and group."""
    users = {s.user for s in sc.SCENARIOS if s.sync_account == sc.SYNC_ACCOUNT and s.group == sc.GROUP}
    fine = {s.user for s in sc.SCENARIOS if s.writable == frozenset(sc.PRESENT_ATTRIBUTES)}
    return {f"CN={u}" for u in users - fine}


@pytest.fixture(scope="module")
def live_bundle(lab, tmp_path_factory):
    out = tmp_path_factory.mktemp("evidence")
    args = [
        "run",
        *connect_args(lab),
        "--user",
        "rc-deny",
        "--user",
        "rc-healthy",
        "--sync-state",
        str(LAB_STATE),
        "-p",
        f"sync_bind_user=LAB\\{sc.SYNC_ACCOUNT}",
        "--output",
        str(out),
    ]
    result = run_cli(args, lab.password(), RICHCOEX_SYNC_PASSWORD=lab.password(sc.SYNC_ACCOUNT))
    (folder,) = out.iterdir()
    return result, folder


def test_every_runbook_runs_headless_against_the_dc(live_bundle):
    result, folder = live_bundle
    summary = json.loads((folder / "summary.json").read_text())
    assert [r["status"] for r in summary["runs"]] == ["ran"] * len(summary["runs"]), summary["runs"]
    assert {r["notebook"] for r in summary["runs"]} == set(list_runbooks())
    assert result.returncode == 1 and summary["target"]["kind"] == "ldap"


def test_runbook_04_asks_the_dc_itself_and_agrees(live_bundle):
    _, folder = live_bundle
    summary = json.loads((folder / "summary.json").read_text())
    confirmed = [
        f
        for f in summary["findings"]
        if f["id"].startswith("acl.write.") and "dc_allowed_attributes_effective" in f["details"]
    ]
    assert confirmed and all(f["status"] != "ERROR" for f in confirmed)
    healthy = [f for f in confirmed if f["object"].startswith("CN=rc-healthy,")]
    assert healthy and all(f["details"]["dc_allowed_attributes_effective"] and f["status"] == "PASS" for f in healthy)
    deny = [f for f in confirmed if f["object"].startswith("CN=rc-deny,")]
    assert deny and all(not f["details"]["dc_allowed_attributes_effective"] and f["status"] == "FAIL" for f in deny)


def test_passwords_never_reach_the_bundle(lab, live_bundle):
    _, folder = live_bundle
    for secret in (lab.password(), lab.password(sc.SYNC_ACCOUNT)):
        for path in folder.iterdir():
            assert secret.encode() not in path.read_bytes(), path.name


def test_scan_finds_exactly_the_objects_the_dc_refuses(lab, tmp_path):
    base = f"OU={sc.SCENARIO_OU},{lab.base_dn}"
    csv_path, html_path = tmp_path / "scan.csv", tmp_path / "scan.html"
    result = run_cli(
        [
            "scan",
            *connect_args(lab),
            *DIRSYNC,
            "--base",
            base,
            "--csv",
            str(csv_path),
            "--html",
            str(html_path),
            "--json",
        ],
        lab.password(),
    )
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    failing = {f["object"].split(",")[0] for f in document["findings"]}
    assert failing == refused_by_the_dc()
    assert document["context"]["distinct_descriptors"] <= document["context"]["scanned"] == 8
    rows = list(csv.DictReader(csv_path.open()))
    assert {r["dn"].split(",")[0] for r in rows if "FAIL" in r.values()} == refused_by_the_dc()
    page = html_path.read_text()
    for words in (
        "Inheritance is disabled on the object",
        "An explicit Deny decides before any Allow",
        "AdminSDHolder-protected",
        "No ACE grants WriteProperty to the sync account or a group in its token",
    ):
        assert words in page
    assert "scan" in result.stderr  # the progress bar


def test_a_scan_cut_mid_way_keeps_what_it_read_and_exits_3(lab, tmp_path):
    proxy = CuttingProxy(389, cut_at_request=10**6, cut_at_marker=b"1.2.840.113556.1.4.319", marker_count=3)
    csv_path = tmp_path / "partial.csv"
    args = [
        "scan",
        *connect_args(lab),
        "--tls",
        "none",
        "--insecure",
        "--port",
        str(proxy.port),
        "--base",
        f"OU={sc.SCENARIO_OU},{lab.base_dn}",
        *DIRSYNC,
        "--page-size",
        "2",
        "--csv",
        str(csv_path),
    ]
    result = run_cli(args, lab.password())
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].startswith("richcoex: error: scan incomplete after 4 objects")
    assert len(list(csv.DictReader(csv_path.open()))) == 4


def test_run_passes_insecure_and_base_on_to_the_runbooks(lab, tmp_path):
    """Without --ca-file the DC's certificate cannot be validated: only --insecure reaching
    the notebook lets it connect; a --base that does not hold the user must make the
    notebook's lookup miss it there."""
    bare = ["--server", lab.host, "--bind-user", "LAB\\Administrator", "--steps", "00", "--user", "rc-deny", *DIRSYNC]
    insecure = run_cli(["run", *bare, "--insecure", "--output", str(tmp_path / "a")], lab.password())
    assert insecure.returncode == 1, insecure.stderr  # ran, and rc-deny FAILs
    assert "certificate" in insecure.stderr and "NOT validated" in insecure.stderr
    (folder,) = (tmp_path / "a").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["runs"][0]["parameters"]["insecure"] is True and summary["runs"][0]["status"] == "ran"

    scope = f"CN=Users,{lab.base_dn}"
    based = run_cli(["run", *bare, "--insecure", "--base", scope, "--output", str(tmp_path / "b")], lab.password())
    assert based.returncode == 3
    assert f"no object matches 'rc-deny' under {scope}" in based.stderr
