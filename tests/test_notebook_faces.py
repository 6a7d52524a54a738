"""The runbooks as a scheduler and a reader meet them without the kit's runner: plain
papermill (strict), nbconvert without JavaScript; and as an engineer meets them: the
password prompt of a real kernel, the working copy from `richcoex notebooks`."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from richcoex_kit.evidence import FINDINGS_MIMETYPE, WIDGET_VIEW

RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"
BIN = Path(sys.executable).parent
SECRET = "Typed-In-The-Lab-77!"


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RICHCOEX_")}


def papermill(notebook: str, out: Path, *parameters: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "papermill"), str(RUNBOOKS / notebook), str(out), "--cwd", str(out.parent),
                           *parameters], capture_output=True, text=True, env=clean_env(), timeout=300)  # fmt: skip


def test_strict_plain_papermill_exits_non_zero_naming_the_fails_and_keeps_every_output(tmp_path):
    out = tmp_path / "00.ipynb"
    failed = papermill("00-triage.ipynb", out, "-p", "strict", "True")
    assert failed.returncode != 0
    assert (
        "ChecksFailedError" in failed.stderr and "acl.write.msExchSafeSendersHash on CN=rc-noinherit" in failed.stderr
    )
    executed = nbformat.read(out, as_version=4)
    assert any(FINDINGS_MIMETYPE in o.get("data", {}) for c in executed.cells for o in c.get("outputs", []))
    assert papermill("00-triage.ipynb", tmp_path / "lenient.ipynb").returncode == 0


def test_plain_papermill_then_nbconvert_shows_the_tables_without_javascript(tmp_path):
    out = tmp_path / "03.ipynb"
    assert papermill("03-object-permissions.ipynb", out).returncode == 0
    executed = nbformat.read(out, as_version=4)
    assert WIDGET_VIEW not in json.dumps(executed) and "widgets" not in executed.metadata
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(out)], check=True, capture_output=True,
                   env=clean_env())  # fmt: skip
    page = out.with_suffix(".html").read_text()
    acl = re.search(r"<table class=.rcx-acl.>(.*?)</table>", page, re.S)  # nbconvert re-quotes attributes
    assert acl and len(re.findall(r"<tr class=.[^'\"]*. data-trustee=", acl.group(1))) > 5
    assert "inheritance disabled" in page  # rc-noinherit's verdict line, before any table
    assert "rc-noinherit</b>: a snapshot cannot be written" in page  # the fix, one sentence
    assert "User-Change-Password" in page and "ab721a53-1e2f-11d0-9819-00aa0040529b" not in page
    assert "of 2" not in page.split("rcx-acl-count")[1][:40]  # no "N of M shown": nothing filters a page


class Kernel:
    """A real ipykernel, driven as a front end drives it."""

    def __init__(self, **env: str) -> None:
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=clean_env() | env)

    def run(self, code: str, allow_stdin: bool, answer: str | None = None, timeout: float = 60) -> list[dict]:
        msg_id = self.client.execute(code, allow_stdin=allow_stdin)
        outputs, prompts, deadline = [], [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            if allow_stdin:
                try:
                    request = self.client.get_stdin_msg(timeout=0.05)
                    prompts.append(request["content"])
                    self.client.input(answer or "")
                except queue.Empty:
                    pass
            try:
                message = self.client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return [*outputs, {"prompts": prompts}]
            outputs.append(message["content"])
        raise AssertionError(f"the kernel did not finish within {timeout} s: {outputs}")

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel():
    k = Kernel()
    yield k
    k.close()


ASK = (
    "from richcoex_kit.settings import resolve_password\nprint(len(resolve_password('LAB\\\\Administrator').reveal()))"
)


def test_a_front_end_is_asked_for_the_password_once_and_it_is_never_an_output(kernel):
    first = kernel.run(ASK, allow_stdin=True, answer=SECRET)
    (prompt,) = first[-1]["prompts"]
    assert prompt["password"] and "LAB\\Administrator" in prompt["prompt"]
    assert any(o.get("text") == f"{len(SECRET)}\n" for o in first)
    again = kernel.run(ASK, allow_stdin=True)
    assert again[-1]["prompts"] == [] and any(o.get("text") == f"{len(SECRET)}\n" for o in again)
    assert SECRET not in json.dumps(first + again)


def test_a_headless_kernel_fails_at_once_in_one_line_instead_of_waiting(kernel):
    started = time.monotonic()
    outputs = kernel.run(ASK, allow_stdin=False, timeout=20)
    errors = [o for o in outputs if o.get("ename")]
    assert errors and errors[0]["ename"] == "MissingPasswordError"
    assert "set RICHCOEX_PASSWORD" in errors[0]["evalue"] and "\n" not in errors[0]["evalue"]
    assert time.monotonic() - started < 15


def richcoex(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "richcoex"), *args], capture_output=True, text=True, cwd=cwd, env=clean_env(),
                          timeout=120)  # fmt: skip


def test_notebooks_copies_the_runbooks_and_keeps_a_changed_copy_unless_forced(tmp_path):
    work = tmp_path / "work"
    first = richcoex("notebooks", str(work), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in work.iterdir()) == sorted(p.name for p in RUNBOOKS.glob("*.ipynb"))
    assert first.stdout.strip() == f"cd {work} && jupyter lab 00-triage.ipynb"
    ran = work / "03-object-permissions.ipynb"
    ran.write_text(ran.read_text().replace('"outputs": []', '"outputs": [ ]', 1))
    refused = richcoex("notebooks", str(work), cwd=tmp_path)
    assert refused.returncode == 2 and "03-object-permissions.ipynb changed" in refused.stderr
    assert '"outputs": [ ]' in ran.read_text()
    assert richcoex("notebooks", str(work), "--force", cwd=tmp_path).returncode == 0
    assert ran.read_bytes() == (RUNBOOKS / ran.name).read_bytes()


def test_the_helps_first_example_works_on_the_lab_and_an_unknown_user_lists_the_labs(tmp_path):
    helptext = richcoex("--help", cwd=tmp_path).stdout
    example = next(line.split("#")[0].split() for line in helptext.splitlines() if "richcoex check" in line)
    result = richcoex(*example[1:], cwd=tmp_path)
    assert result.returncode == 1 and "FAIL" in result.stdout, result.stderr  # the lab's object fails, as it should
    unknown = richcoex("check", "--lab", "--user", "jdoe", cwd=tmp_path)
    assert unknown.returncode == 3 and "rc-deny, rc-doe" in unknown.stderr
    assert "using the built-in lab" not in unknown.stderr
