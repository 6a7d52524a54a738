"""The runbooks as committed, and as run headless on the built-in lab snapshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import nbformat
import papermill
import pytest

from richcoex_kit.evidence import MANIFEST, diff_findings, got_worse, verify_manifest
from richcoex_kit.findings import json_schema

RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"
NOTEBOOKS = sorted(RUNBOOKS.glob("*.ipynb"))
RICHCOEX = str(Path(sys.executable).with_name("richcoex"))


def test_there_is_one_runbook_per_resolution_step():
    assert [p.stem for p in NOTEBOOKS] == [
        "00-triage",
        "01-enable-writeback",
        "02-group-membership",
        "03-object-permissions",
        "04-confirm-writeback",
        "05-scan-scope",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_stripped_with_one_documented_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit runbooks stripped"
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert notebook.cells[0].cell_type == "markdown" and "Pass means" in notebook.cells[0].source
    parameters = papermill.inspect_notebook(str(path))
    assert parameters and all(p["help"] and p["inferred_type_name"] != "None" for p in parameters.values())
    assert not any(word in name for name in parameters for word in ("password", "secret", "pwd"))


def run_kit(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RICHCOEX_")} | env
    return subprocess.run(
        [RICHCOEX, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


@pytest.fixture(scope="module")
def lab_bundle(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    work = tmp_path_factory.mktemp("run")
    result = run_kit("run", "--output", "evidence", cwd=work, RICHCOEX_PASSWORD="Unused-But-Secret-93!")
    bundles = list((work / "evidence").iterdir())
    assert len(bundles) == 1, result.stderr
    return result, bundles[0]


def test_the_demo_run_fails_on_the_labs_broken_objects(lab_bundle):
    result, folder = lab_bundle
    assert result.returncode == 1, result.stderr
    assert "using the built-in lab snapshot" in result.stderr and folder.name in result.stdout
    names = sorted(p.name for p in folder.iterdir())
    for book in NOTEBOOKS:
        assert f"{book.stem}.ipynb" in names and f"{book.stem}.html" in names
    assert {"summary.json", MANIFEST} <= set(names)


def test_summary_is_a_valid_findings_document_with_the_context(lab_bundle):
    _, folder = lab_bundle
    summary = json.loads((folder / "summary.json").read_text())
    jsonschema.validate(summary, json_schema())
    assert summary["exit_code"] == 1 and all(r["status"] == "ran" for r in summary["runs"])
    failing = {f["object"].split(",")[0] for f in summary["findings"] if f["status"] == "FAIL" and f["object"]
               and f["id"].startswith("acl.write.")}  # fmt: skip
    assert {"CN=rc-noinherit", "CN=rc-deny", "CN=rc-nogrant", "CN=rc-admin"} <= failing
    assert "CN=rc-healthy" not in failing


def test_html_pages_show_verdicts_and_deciding_aces_without_widgets(lab_bundle):
    _, folder = lab_bundle
    page = (folder / "03-object-permissions.html").read_text()
    assert 'class="badge FAIL"' in page and "richcoex evidence" in page
    assert "(OD;;WP;" in page  # rc-deny's deciding Deny ACE, as SDDL
    assert "decides msExch" in page  # the ACL viewer's highlighted rows
    executed = nbformat.read(folder / "03-object-permissions.ipynb", as_version=4)
    assert "application/vnd.jupyter.widget-view+json" not in json.dumps(executed)


def test_manifest_covers_every_file_and_detects_tampering(lab_bundle, tmp_path):
    _, folder = lab_bundle
    listed = {line.split("  ", 1)[1] for line in (folder / MANIFEST).read_text().splitlines()}
    assert listed == {p.name for p in folder.iterdir()} - {MANIFEST}
    assert verify_manifest(folder) == []
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(folder), str(copy)], check=True)
    (copy / "summary.json").write_text("{}")
    assert verify_manifest(copy) == ["summary.json"]


def test_no_secret_lands_in_the_bundle(lab_bundle):
    _, folder = lab_bundle
    for path in folder.iterdir():
        assert b"Unused-But-Secret-93!" not in path.read_bytes(), path.name


def test_runbooks_run_at_once_leave_the_bundle_a_serial_run_leaves(tmp_path, monkeypatch):
    """Running the runbooks concurrently must not change what the evidence says: the same
    findings, byte for byte, in step order, and the same files."""
    from richcoex_kit.connection import ConnectionSpec
    from richcoex_kit.runner import RunRequest, run

    for name in [k for k in os.environ if k.startswith("RICHCOEX_")]:
        monkeypatch.delenv(name)
    bundles = {}
    for workers in (1, 3):  # 3: more than this machine's cores, so the runs really overlap
        code, folder = run(RunRequest(ConnectionSpec(), output=tmp_path / str(workers)), False, workers)
        summary = json.loads((folder / "summary.json").read_text())
        bundles[workers] = (code, summary, sorted(p.name for p in folder.iterdir()))
    (serial_code, serial, serial_files), (code, parallel, files) = bundles[1], bundles[3]
    assert json.dumps(parallel["findings"]) == json.dumps(serial["findings"]) and serial["findings"]
    assert parallel["runs"] == serial["runs"] and [r["status"] for r in serial["runs"]] == ["ran"] * 6
    assert files == serial_files and code == serial_code == 1


def test_diff_reports_finding_by_finding(lab_bundle, tmp_path):
    _, folder = lab_bundle
    summary = json.loads((folder / "summary.json").read_text())
    fixed = json.loads(json.dumps(summary))
    for finding in fixed["findings"]:
        if finding["object"] and finding["object"].startswith("CN=rc-deny,") and finding["status"] == "FAIL":
            finding["status"] = "PASS"
    after = tmp_path / "after"
    after.mkdir()
    (after / "summary.json").write_text(json.dumps(fixed))
    changes = diff_findings(summary, fixed)
    assert changes and all(old == "FAIL" and new == "PASS" for _, _, old, new in changes)
    result = run_kit("diff", str(folder), str(after), cwd=tmp_path)
    assert result.returncode == 0 and "FAIL → PASS" in result.stdout and "acl.write.proxyAddresses" in result.stdout
    assert run_kit("diff", str(after), str(folder), cwd=tmp_path).returncode == 1  # got worse
    assert got_worse("PASS", "FAIL") and not got_worse("FAIL", "PASS")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["-p", "password=x"], "secrets are never parameters"),
        (["--steps", "09"], "no runbook starts with it"),
        (["--steps", "00", "-p", "nonsense=1"], "-p nonsense: no chosen runbook takes it"),
        (["-p", "aply_fix=true"], "-p aply_fix: no chosen runbook takes it"),  # every runbook: still refused
        (["--snapshot", "missing.json"], "--snapshot 'missing.json' does not exist"),
        (["-p", "novalue"], "expected NAME=VALUE"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, fragment):
    result = run_kit("run", *args, cwd=tmp_path)
    assert result.returncode == 2 and fragment in result.stderr


def test_a_runbook_that_cannot_run_exits_3_with_one_line(tmp_path):
    result = run_kit("run", "--steps", "00", "--user", "nobody", cwd=tmp_path)
    assert result.returncode == 3
    assert "00-triage--nobody.ipynb could not run" in result.stderr and "no object matches 'nobody'" in result.stderr
    assert "Traceback" not in result.stderr


def test_parameters_arrive_with_their_declared_types():
    from richcoex_kit.errors import UsageError
    from richcoex_kit.runner import coerce

    assert coerce("apply_fix", "False", "bool") is False and coerce("apply_fix", "true", "bool") is True
    assert coerce("page_size", "500", "int") == 500 and coerce("user", "False", "str") == "False"
    with pytest.raises(UsageError, match="expected true or false"):
        coerce("apply_fix", "maybe", "bool")


def test_the_readme_binder_link_opens_a_runbook_that_exists():
    import re
    from urllib.parse import unquote

    readme = (RUNBOOKS.parent / "README.md").read_text()
    link = re.search(r"https://mybinder\.org/v2/gh/[^)\s]+labpath=([^)\s&]+)", readme)
    assert link, "README has no Binder link with a labpath"
    assert (RUNBOOKS.parent / unquote(link.group(1))).is_file()
    assert (RUNBOOKS.parent / "binder" / "postBuild").stat().st_mode & 0o111


def test_two_runs_started_in_the_same_second_get_a_bundle_folder_each(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RICHCOEX_")}
    runs = [
        subprocess.Popen([RICHCOEX, "run", "--lab", "--steps", "01", "--output", "evidence"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        for _ in range(2)
    ]  # fmt: skip
    results = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    assert [code for code, _, _ in results] == [1, 1], results  # both ran (the lab FAILs), neither collided
    folders = sorted((tmp_path / "evidence").iterdir())
    assert len(folders) == 2 and all((f / "summary.json").exists() for f in folders)
    assert oct((tmp_path / "evidence").stat().st_mode & 0o777) == "0o700"


def test_counts_are_of_distinct_findings_and_say_how_many_runs_reported_each(lab_bundle):
    result, folder = lab_bundle
    summary = json.loads((folder / "summary.json").read_text())
    keys = [(f["id"], f["object"]) for f in summary["findings"]]
    assert len(keys) == len(set(keys)) == summary["counts"]["distinct"]
    fails = sum(f["status"] == "FAIL" for f in summary["findings"])
    assert summary["counts"]["by_status"]["FAIL"] == fails
    assert summary["counts"]["reports"] > summary["counts"]["distinct"]  # 00 and 03 both check rc-noinherit
    reported = {(r["id"], r["object"]): r["runs"] for r in summary["reported_by"]}
    assert set(reported) == set(keys)
    key = ("acl.write.msExchSafeSendersHash", next(o for i, o in keys if o and o.startswith("CN=rc-noinherit,")))
    assert {"00-triage", "03-object-permissions", "05-scan-scope"} == set(reported[key])
    assert f"findings: {summary['counts']['distinct']} distinct (check, object): {fails} FAIL" in result.stdout
    page = (folder / "03-object-permissions.html").read_text()
    assert (
        f'class="badge FAIL">FAIL</span> {sum(f["status"] == "FAIL" and "03-object-permissions" in reported[(f["id"], f["object"])] for f in summary["findings"])}'
        in page
    )


def test_the_adminsdholder_warning_says_what_its_title_says(lab_bundle):
    _, folder = lab_bundle
    summary = json.loads((folder / "summary.json").read_text())
    warnings = [f for f in summary["findings"] if f["id"] == "object.adminsdholder" and f["status"] == "WARN"]
    assert warnings, "the lab's Domain Admin must be reported"
    for warn in warnings:
        protected = warn["title"] == "The object is protected by AdminSDHolder"
        assert protected == ("is protected by AdminSDHolder" in warn["summary"]), warn


def test_a_collected_snapshot_means_the_same_account_and_product_offline(tmp_path):
    """`collect` records what `--sync-account auto` resolved to, so a support engineer's
    `check --snapshot` with the defaults gives the verdicts the capture gave."""
    snapshot = tmp_path / "customer.json"
    assert run_kit("collect", "--lab", "--user", "rc-deny", "--out", str(snapshot), cwd=tmp_path).returncode == 0
    live = run_kit("check", "--lab", "--user", "rc-deny", "--json", cwd=tmp_path)
    offline = run_kit("check", "--snapshot", str(snapshot), "--user", "rc-deny", "--json", cwd=tmp_path)
    assert offline.returncode == live.returncode == 1, offline.stderr
    assert "the account the snapshot was captured for" in offline.stderr
    statuses = [{f["id"]: f["status"] for f in json.loads(r.stdout)["findings"]} for r in (live, offline)]
    assert statuses[0] == statuses[1]


def test_a_scan_of_an_empty_scope_warns_instead_of_saying_all_clear(tmp_path):
    result = run_kit("scan", "--lab", "--base", "OU=Nope,DC=lab,DC=example,DC=test", "--json", cwd=tmp_path)
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["id"], finding["status"]) == ("scan.complete", "WARN")
    assert "nothing was checked" in result.stderr


def test_a_sync_state_that_names_no_object_is_refused_before_anything_runs(tmp_path):
    cloud = Path(__file__).parent / "fixtures" / "syncstate" / "cloudsync-agent-current.json"  # no export errors read
    result = run_kit("run", "--lab", "--sync-state", str(cloud), cwd=tmp_path)
    assert result.returncode == 2 and "names no object to check: give --user" in result.stderr
    assert not (tmp_path / "evidence").exists()
