"""A snapshot answers every check exactly as the live DC it was captured from."""

from __future__ import annotations

import json
import re

import pytest

from richcoex_kit.checks import run_checks
from richcoex_kit.directory.snapshot import SnapshotDirectory, builtin_lab_path
from richcoex_kit.lab.capture import capture_lab, scenario_requests
from richcoex_kit.lab.seed import admin_directory

from .conftest import DIRSYNC, connect_args, run_cli

pytestmark = pytest.mark.samba
_SID = re.compile(r"S-1-5-21-\d+-\d+-\d+")
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def fresh_capture(lab, tmp_path_factory):
    return capture_lab(lab, tmp_path_factory.mktemp("capture") / "lab.json", progress=False)


def normalised(findings) -> str:
    """Findings with the domain SID and lab-specific GUIDs (objectGUIDs, lab schema) masked."""
    text = json.dumps([f.to_json() for f in findings], sort_keys=True)
    return _GUID.sub("<guid>", _SID.sub("<domain>", text))


def test_every_check_gives_identical_findings_live_and_from_its_snapshot(lab, fresh_capture):
    offline = SnapshotDirectory.load(fresh_capture)
    with admin_directory(lab) as live:
        for request in scenario_requests():
            assert run_checks(offline, request)[1] == run_checks(live, request)[1], request


def test_the_shipped_lab_snapshot_matches_a_fresh_capture(fresh_capture):
    shipped, fresh = SnapshotDirectory.load(builtin_lab_path(), kind="lab"), SnapshotDirectory.load(fresh_capture)
    for request in scenario_requests():
        assert normalised(run_checks(shipped, request)[1]) == normalised(run_checks(fresh, request)[1]), request


def test_collect_cli_writes_a_snapshot_without_secrets(lab, tmp_path):
    out = tmp_path / "customer.json"
    result = run_cli(
        ["collect", *connect_args(lab), *DIRSYNC, "--user", "rc-deny", "--user", "rc-healthy", "--out", str(out)],
        lab.password(),
    )
    assert result.returncode == 0, result.stderr
    assert "collect" in result.stderr and "2/2" in result.stderr  # the progress bar
    assert lab.password() not in out.read_text()
    offline = run_cli(["check", "--snapshot", str(out), "--user", "rc-deny", "--json", *DIRSYNC])
    assert offline.returncode == 1
    assert json.loads(offline.stdout)["target"]["kind"] == "snapshot"


def test_an_object_not_in_the_snapshot_is_a_clear_error(tmp_path):
    result = run_cli(["check", "--snapshot", str(builtin_lab_path()), "--user", "jdoe"])
    assert result.returncode == 3
    assert "no object matches 'jdoe' in snapshot" in result.stderr and "richcoex collect --user jdoe" in result.stderr


@pytest.mark.parametrize(
    "content, message", [("{not json", "is not complete JSON"), ('{"schema": "x"}', "not a richcoex snapshot")]
)
def test_a_broken_snapshot_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_text(content)
    result = run_cli(["check", "--snapshot", str(path), "--user", "rc-deny"])
    assert result.returncode == 3 and message in result.stderr and "Traceback" not in result.stderr


def test_a_malformed_descriptor_in_a_snapshot_is_an_error_finding(tmp_path):
    data = json.loads(builtin_lab_path().read_text())
    for obj in data["objects"].values():
        obj["descriptor"] = "AQAEgBQAAAA="  # a 20-byte header cut to 8 bytes
    path = tmp_path / "corrupt.json"
    path.write_text(json.dumps(data))
    result = run_cli(["check", "--snapshot", str(path), "--user", "rc-deny", "--json", *DIRSYNC])
    assert result.returncode == 3
    error = next(f for f in json.loads(result.stdout)["findings"] if f["status"] == "ERROR")
    assert "is malformed: security descriptor is 8 bytes, shorter than its 20-byte header" in error["summary"]


def test_default_target_is_the_lab_and_says_so():
    result = run_cli(["check", "--user", "rc-healthy"])
    assert result.returncode == 0
    assert "using the built-in lab snapshot" in result.stderr
