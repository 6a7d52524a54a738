"""Every file the kit reads — snapshot, backup, an evidence bundle's summary.json — is
validated: a damaged one is one line naming the file and what was expected (exit 2 or
3), never a traceback; and every bad option value is a usage error (exit 2)."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings

from richcoex_kit.cli import main
from richcoex_kit.directory.snapshot import builtin_lab_path
from richcoex_kit.errors import RichcoexError
from richcoex_kit.remedy import BACKUP_SCHEMA, load_backup
from tests.mutations import mutated

LAB = json.loads(builtin_lab_path().read_text())
A_DESCRIPTOR = next(o["descriptor"] for o in LAB["objects"].values() if o.get("descriptor"))
GUID = "0f0e0d0c-0b0a-0908-0706-050403020100"
BACKUPS = [
    {"schema": BACKUP_SCHEMA, "kind": "dacl", "applied": True, "time": "t", "who": "LAB\\admin",
     "dn": "CN=x,DC=lab", "object_guid": GUID, "object_class": "user", "descriptor": A_DESCRIPTOR,
     "sddl": "D:", "written": A_DESCRIPTOR},
    {"schema": BACKUP_SCHEMA, "kind": "membership", "applied": True, "time": "t", "who": "LAB\\admin",
     "group_dn": "CN=g,DC=lab", "group_guid": GUID, "object_class": "group", "member_dn": "CN=m,DC=lab",
     "member_guid": GUID, "added": True},
    {"schema": BACKUP_SCHEMA, "kind": "group", "applied": False, "time": "t", "who": "LAB\\admin",
     "dn": "CN=g,DC=lab", "name": "g", "object_class": "group", "created_guid": None},
]  # fmt: skip
SUMMARY = {"schema": "richcoex.findings/1", "findings": [{"id": "acl.write.x", "status": "FAIL", "object": "CN=a"}]}


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_line(result: Result, codes: tuple[int, ...], *words: str) -> None:
    """Exit 2/3, no traceback, one error line (the last) naming what it should."""
    assert result.exit_code in codes, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    last = last[max(last.rfind("richcoex: error: "), last.rfind("Error: "), 0) :]  # after the progress bar's frames
    assert last.startswith(("richcoex: error: ", "Error: ")), result.output
    for word in words:
        assert word in last, (word, last)


def assert_verdicts_or_one_line(result: Result, *words: str) -> None:
    """A verdict (exit 0 or 1, no stray exception), or exit 2/3 with one line."""
    if result.exit_code in (2, 3):
        assert_one_line(result, (2, 3), *words)
    else:
        assert result.exit_code in (0, 1), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


# -- snapshots -----------------------------------------------------------------------------


def _without_base64(doc: dict) -> None:
    next(o for o in doc["objects"].values() if o.get("descriptor"))["descriptor"] = "not base64!!"


@pytest.mark.parametrize(
    "damage, expected",
    [
        (_without_base64, "malformed at objects/"),
        (lambda d: d["objects"][next(iter(d["objects"]))].update(guid=7), "guid: expected string, got integer 7"),
        (lambda d: d.pop("groups"), "missing required groups"),
        (lambda d: d["domain"].update(domain_sid="S-1-x"), "malformed at domain"),
        (lambda d: d.update(token_groups=[]), "token_groups: expected object, got array"),
        (lambda d: d.update(objects={"a": json.loads("[" * 40 + "]" * 40)}), "levels deep"),
    ],
)  # fmt: skip
def test_a_damaged_snapshot_is_one_line_naming_it(tmp_path, damage, expected):
    doc = json.loads(json.dumps(LAB))
    damage(doc)
    path = write(tmp_path, "customer.json", json.dumps(doc))
    assert_one_line(cli("check", "--snapshot", str(path), "--user", "rc-nogrant"), (3,), str(path), expected)


def test_a_snapshot_nested_100000_deep_is_refused_before_parsing(tmp_path):
    path = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    assert_one_line(cli("scan", "--snapshot", str(path)), (3,), "levels deep")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated([LAB], [A_DESCRIPTOR, "S-1-5-32-544", GUID, "CN=x", None]))
def test_any_mutated_snapshot_gives_verdicts_or_one_line(text):
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "snap.json", text)
        for args in (["check", "--user", "rc-nogrant"], ["scan"]):
            result = cli(*args, "--snapshot", str(path))
            assert_verdicts_or_one_line(result)


# -- backups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[]", "is not a richcoex backup"),
        ("{}", "is not a richcoex backup"),
        ('{"schema": "richcoex.backup/2", "kind": "dacl"', "not complete JSON"),
        (json.dumps({**BACKUPS[0], "descriptor": base64.b64encode(b"garbage").decode()}),
         "descriptor: expected a base64 security descriptor"),
        (json.dumps({k: v for k, v in BACKUPS[0].items() if k != "object_guid"}), "missing required object_guid"),
        (json.dumps({**BACKUPS[1], "added": "yes"}), "added: expected boolean"),
        (json.dumps({**BACKUPS[0], "schema": "richcoex.backup/1"}), "older kit"),
    ],
)  # fmt: skip
def test_a_damaged_backup_is_one_line_before_any_connection(tmp_path, text, expected):
    path = write(tmp_path, "backup.json", text)
    result = cli("restore", str(path), "--server", "dc.invalid", "--bind-user", "x")
    assert_one_line(result, (3,), str(path), expected)


@settings(max_examples=300, deadline=None)
@given(mutated(BACKUPS, [A_DESCRIPTOR, GUID, True, "dacl", "group", "membership", BACKUP_SCHEMA]))
def test_any_mutated_backup_loads_or_is_one_line(text):
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "b.json", text)
        try:
            record = load_backup(path)
        except RichcoexError as error:
            assert error.exit_code == 3 and len(str(error).splitlines()) == 1 and str(path) in str(error)
            return
        assert record["schema"] == BACKUP_SCHEMA and isinstance(record["applied"], bool)


# -- evidence bundles (diff) ---------------------------------------------------------------


def bundle(folder: Path, name: str, text: str) -> Path:
    (folder / name).mkdir()
    write(folder / name, "summary.json", text)
    return folder / name


@pytest.mark.parametrize("text", ["garbage", "{}", "[]", '{"schema": "richcoex.findings/1", "findings": [{}]}'])
def test_diff_of_a_damaged_summary_is_one_line(tmp_path, text):
    good = bundle(tmp_path, "good", json.dumps(SUMMARY))
    bad = bundle(tmp_path, "bad", text)
    assert_one_line(cli("diff", str(good), str(bad)), (3,), str(bad / "summary.json"))


@settings(max_examples=200, deadline=None)
@given(mutated([SUMMARY], ["PASS", "ERROR", "acl.write.y", None]))
def test_any_mutated_summary_diffs_or_is_one_line(text):
    with tempfile.TemporaryDirectory() as folder:
        good = bundle(Path(folder), "good", json.dumps(SUMMARY))
        result = cli("diff", str(good), str(bundle(Path(folder), "other", text)))
        assert_verdicts_or_one_line(result, "summary.json")


# -- usage errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--user", ""],
        ["check", "--user", "   "],
        ["fix", "--user", " ", "--server", "dc.invalid", "--bind-user", "x"],
        ["run", "--user", "", "--steps", "00"],
        ["scan", "--page-size", "-1"],
        ["scan", "--page-size", "0"],
        ["check", "--port", "70000", "--user", "x"],
    ],
)
def test_bad_option_values_are_usage_errors(args):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_run_on_a_live_target_without_user_is_a_usage_error_unless_no_step_needs_one(tmp_path):
    live = ["--server", "dc.invalid", "--bind-user", "x", "--output", str(tmp_path)]
    result = cli("run", *live, "--steps", "00")
    assert result.exit_code == 2 and "--user is required" in result.output and "00-triage" in result.output
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_a_password_over_plain_ldap_is_refused_without_insecure():
    result = cli("check", "--server", "dc.invalid", "--tls", "none", "--bind-user", "x", "--user", "jdoe")
    assert result.exit_code == 2
    assert "CLEAR TEXT" in result.output and "--insecure" in result.output.strip().splitlines()[-1]


def test_a_snapshot_with_garbage_descriptors_is_never_all_clear(tmp_path):
    doc = json.loads(json.dumps(LAB))
    garbage = base64.b64encode(b"\x01\x00\x04\x80" + b"\xff" * 40).decode()
    broken = [dn for dn, o in doc["objects"].items() if "ou=richcoex" in dn and o.get("descriptor")][:2]
    for dn in broken:
        doc["objects"][dn]["descriptor"] = garbage
    path = write(tmp_path, "garbage.json", json.dumps(doc))
    text = cli("scan", "--snapshot", str(path), "--product", "dirsync", "--csv", str(tmp_path / "s.csv"))
    assert text.exit_code == 3
    assert "2 could not be checked" in text.output and "could not check 2 objects" in text.output
    assert text.output.count("nTSecurityDescriptor is malformed") == 2
    assert (tmp_path / "s.csv").read_text().count("ERROR: nTSecurityDescriptor is malformed") == 2
    as_json = cli("scan", "--snapshot", str(path), "--product", "dirsync", "--json")
    document, _ = json.JSONDecoder().raw_decode(as_json.output[as_json.output.index("{") :])
    errors = {f["object"].lower() for f in document["findings"] if f["status"] == "ERROR"}
    assert as_json.exit_code == 3 and errors == set(broken) and document["context"]["unreadable"] == 2
