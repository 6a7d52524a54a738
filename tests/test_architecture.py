"""The seams the house is built on: which modules may load what, and one definition of
the connection options that every entry point follows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import papermill
import pytest

import richcoex_kit
from richcoex_kit.cli import main
from richcoex_kit.connection import FIELDS

RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"
PYTHON_TYPES = {"str": str, "int": int, "bool": bool}


def loaded_after_import(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("module", ["richcoex_kit.evidence", "richcoex_kit.runner", "richcoex_kit.findings"])
def test_the_record_format_and_the_runner_load_no_directory_code(module):
    loaded = loaded_after_import(module)
    forbidden = {"ldap3", "richcoex_kit.directory", "richcoex_kit.remedy", "richcoex_kit.widgets", "ipywidgets"}
    assert not loaded & forbidden, f"importing {module} loads {sorted(loaded & forbidden)}"


def test_the_session_layer_and_the_notebook_facade_load_no_widgets_until_one_is_shown():
    for module in ("richcoex_kit.session", "richcoex_kit.runbook"):
        loaded = loaded_after_import(module)
        assert not {"ipywidgets", "richcoex_kit.widgets", "IPython"} & loaded, module


def test_a_runbooks_first_cell_pays_only_for_what_every_runbook_needs():
    """`import richcoex_kit.runbook` is every runbook's first cell: the fix, the scan, the
    sync-server reader and the record format's notebook machinery wait for the cell that uses them."""
    loaded = loaded_after_import("richcoex_kit.runbook")
    later = {"richcoex_kit.remedy", "richcoex_kit.scan", "richcoex_kit.syncserver", "richcoex_kit.evidence",
             "nbformat", "jsonschema", "ldap3"}  # fmt: skip
    assert not loaded & later, f"the first cell loads {sorted(loaded & later)}"


HEAVY = {"jsonschema", "papermill", "nbconvert", "nbformat", "nbclient", "ipywidgets", "tqdm", "IPython"}

# In a fresh interpreter: run a `richcoex` command in-process, then list what it loaded.
RUN_CLI = """
import contextlib, io, json, sys
from richcoex_kit.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main.main(sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["check", "--help"], ["check", "--lab", "--user", "rc-deny", "--json"], ["scan", "--lab", "--json"]],
    ids=" ".join,
)
def test_the_commands_a_user_waits_for_load_no_notebook_machinery(argv):
    """`--help`, `check` and `scan` start in a tenth of a second only while none of these
    is imported (nbformat alone, through jsonschema, costs ~0.8 s)."""
    result = subprocess.run([sys.executable, "-c", RUN_CLI, *argv], capture_output=True, text=True, check=True)
    loaded = {name.partition(".")[0] for name in json.loads(result.stdout)}
    assert not loaded & HEAVY, f"richcoex {' '.join(argv)} loads {sorted(loaded & HEAVY)}"


def test_every_cli_target_option_is_a_runbook_parameter_and_the_reverse():
    check = main.commands["check"]
    target_options = {p.name for p in check.params if isinstance(p, click.Option)} & (set(FIELDS) | {"lab"})
    assert target_options == set(FIELDS) | {"lab"}, "the CLI's TARGET options are the spec's fields (+ --lab)"
    for path in sorted(RUNBOOKS.glob("[0-9][0-9]-*.ipynb")):
        declared = papermill.inspect_notebook(str(path))
        for name, spec_field in FIELDS.items():
            assert name in declared, f"{path.name} has no parameter {name!r}: richcoex run would drop --{name}"
            typed = declared[name]["inferred_type_name"]
            assert typed == spec_field.type or PYTHON_TYPES.get(typed) is spec_field.type, (
                f"{path.name}: {name} {typed}"
            )
            assert declared[name]["default"].strip("'\"") == str(spec_field.default), f"{path.name}: {name} default"


def test_every_runbook_opens_its_target_from_all_its_parameters():
    for path in sorted(RUNBOOKS.glob("[0-9][0-9]-*.ipynb")):
        source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        assert "rb.open_directory(globals())" in source, path.name
        declared = papermill.inspect_notebook(str(path))
        if "sync_account" in declared:
            assert {"group", "attributes", "product"} <= set(declared), f"{path.name} lacks a check parameter"
            assert "rb.check_request(globals()" in source, f"{path.name} passes its check parameters by hand"


def test_back_ends_are_never_told_apart_by_type():
    """Only the factory that opens a target (targets.py), the back ends and the lab
    provisioner name the live back end; everyone else asks for capabilities."""
    package = Path(richcoex_kit.__file__).parent
    for path in package.rglob("*.py"):
        if path.parent.name in ("directory", "lab") or path.name == "targets.py":
            continue
        assert "LdapDirectory" not in path.read_text(), f"{path.name} branches on the live back end"
