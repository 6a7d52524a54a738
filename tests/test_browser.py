"""Runbook 03 in a real JupyterLab, in headless Chromium, driven as a person would: open it,
Run → Run All Cells, read the ACL viewer's rows, pick a trustee and read them again.

test_widgets.py proves the widget's logic without a browser; this proves the interactive
face itself: the front end loads, the kernel runs the runbook on the built-in lab snapshot,
ipywidgets renders the viewer, and a change in the page reaches the kernel and comes back.

Chromium is driven over the DevTools protocol (a websocket, through websocket-client,
which jupyter_server already needs), so no chromedriver and no selenium. Everything runs
in a temporary folder: a copy of the runbooks, a private HOME, Jupyter config/data/runtime
and settings dirs, and the browser profile; no process is left behind (checked).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

pytestmark = pytest.mark.browser

RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"
NOTEBOOK = "03-object-permissions.ipynb"
CHROMIUM = "chromium"  # Debian's package; scripts/test.sh installs it
WINDOW = (1400, 1000)

# The ACL viewer's stable hooks (views.py / widgets/acl_viewer.py): the viewer box
# `.rcx-acl-viewer`, its trustee dropdown `.rcx-acl-trustee`, the table `table.rcx-acl`
# whose ACE rows carry `data-trustee`, and the count note `.rcx-acl-count`.
PAGE_HELPERS = """
window.rcx = {
  viewer() { return document.querySelector('.jp-OutputArea-output .rcx-acl-viewer'); },
  trustee() { return this.viewer().querySelector('.rcx-acl-trustee select'); },
  rows() {
    const viewer = this.viewer();
    if (!viewer) return [];
    return [...viewer.querySelectorAll('table.rcx-acl tr[data-trustee]')].map(tr => tr.dataset.trustee);
  },
  note() { const p = this.viewer().querySelector('.rcx-acl-count'); return p ? p.textContent : ''; },
  byText(selector, text) {
    return [...document.querySelectorAll(selector)].find(e => e.textContent.trim() === text) || null;
  },
  kernel() {
    const label = document.querySelector('.jp-Toolbar-kernelName');
    return label ? label.textContent.trim() : '';
  },
  prompts() {
    return [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());
  },
  stderr() {  // where JupyterLab shows a cell's traceback (and any stderr stream)
    return [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .map(e => e.textContent.slice(-2000));
  },
};
true
"""


class DevTools:
    """Just enough of the Chrome DevTools protocol: commands on one page's websocket."""

    def __init__(self, url: str) -> None:
        # Chromium refuses websocket clients that send an Origin it was not told to allow.
        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.last_id = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:  # events arrive in between; only the answer with our id counts
            message = json.loads(self.ws.recv())
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def click(self, element: str, what: str, timeout: float = 30) -> None:
        """A real mouse click (press and release at the element's centre), which Lumino's
        menus need; `element` is a JS expression for the element."""
        box = self.wait_for(
            f"(() => {{ const e = {element}; if (!e) return null; const r = e.getBoundingClientRect();"
            " return r.width && r.height ? [r.x + r.width / 2, r.y + r.height / 2] : null; })()",
            what,
            timeout,
        )
        x, y = box
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        self.ws.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_env(root: Path) -> dict[str, str]:
    """This process's environment with every per-user location moved under `root`, and no
    RICHCOEX_* variable, so the runbook opens the built-in lab and nothing leaks either way."""
    home = root / "home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_DATA_HOME": home / ".local/share",
        "JUPYTER_CONFIG_DIR": root / "jupyter/config",
        "JUPYTER_DATA_DIR": root / "jupyter/data",
        "JUPYTER_RUNTIME_DIR": root / "jupyter/runtime",
        "JUPYTERLAB_SETTINGS_DIR": root / "jupyter/lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": root / "jupyter/lab-workspaces",
        "IPYTHONDIR": root / "ipython",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    # No news or update check (nothing to fetch, no toast over the page); the notebook's
    # own kernel starts without the "Select Kernel" dialog.
    settings = {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "notebook-extension/tracker": {"autoStartDefaultKernel": True},
    }
    for name, values in settings.items():
        file = dirs["JUPYTERLAB_SETTINGS_DIR"] / f"@jupyterlab/{name}.jupyterlab-settings"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RICHCOEX_", "JUPYTER", "IPYTHON"))}
    return env | {k: str(v) for k, v in dirs.items()} | {"PYTHONUNBUFFERED": "1"}


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def stop(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the process's group (it was started in a session of its own), then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(grace)


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append((int(entry.name), cmdline))
    return found


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """The test's temp folder; afterwards no process may still name it on its command line
    (JupyterLab, its kernel — whose connection file is in the private runtime dir — Chromium)."""
    yield tmp_path
    deadline = time.monotonic() + 10
    while (left := processes_mentioning(f"{tmp_path}/")) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid, _ in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"


@pytest.fixture
def jupyterlab(workspace: Path) -> Iterator[str]:
    """JupyterLab on a free 127.0.0.1 port, serving a copy of the runbooks; yields the URL
    of runbook 03 (token included). Shut down through its API, which stops the kernels."""
    root = workspace / "runbooks"
    shutil.copytree(RUNBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    log = workspace / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
    ]  # fmt: skip
    if os.geteuid() == 0:  # CI and the dev machines run as root
        command.append("--allow-root")
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=root, env=private_env(workspace), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"JupyterLab exited ({process.returncode}):\n{tail(log)}"
            assert time.monotonic() < deadline, f"JupyterLab did not answer within 60 s:\n{tail(log)}"
            try:
                request = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=5):
                    break
            except OSError:
                time.sleep(0.3)
        yield f"{base}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        if process.poll() is None:
            shutdown = urllib.request.Request(
                f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
            )
            try:
                urllib.request.urlopen(shutdown, timeout=10).close()
                process.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop(process)


@pytest.fixture
def browser(workspace: Path) -> Iterator[DevTools]:
    """Headless Chromium with a throw-away profile, and DevTools on its one page."""
    executable = shutil.which(CHROMIUM)
    if not executable:
        pytest.fail(f"`{CHROMIUM}` is not installed: scripts/test.sh installs it (apt-get install -y chromium)")
    profile = workspace / "chromium-profile"
    log = workspace / "chromium.log"
    command = [
        executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--remote-debugging-port=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", "about:blank",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=private_env(workspace), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    devtools = None
    try:
        # Chromium writes the port it chose for DevTools into the profile.
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            assert process.poll() is None, f"Chromium exited ({process.returncode}):\n{tail(log)}"
            assert time.monotonic() < deadline, f"Chromium's DevTools did not start within 30 s:\n{tail(log)}"
            time.sleep(0.1)
        port = active.read_text().splitlines()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            page = next(t for t in json.load(answer) if t["type"] == "page")
        devtools = DevTools(page["webSocketDebuggerUrl"])
        yield devtools
    finally:
        if devtools is not None:
            devtools.close()
        stop(process)


def test_runbook_03_acl_viewer_renders_rows_and_the_trustee_filter_changes_them(workspace, browser, jupyterlab):
    started = time.monotonic()
    screenshot = workspace / "runbook-03-acl-viewer.png"
    try:
        browser.send("Page.navigate", url=jupyterlab)
        browser.wait_for("!!document.querySelector('.jp-Notebook .jp-CodeCell')", "the notebook to open", 60)
        browser.js(PAGE_HELPERS)
        # The toolbar names the kernel once its session exists ("No Kernel" before), and the
        # circle beside it says idle once the kernel answers.
        browser.wait_for(
            "!document.querySelector('.jp-Dialog') && !['', 'No Kernel'].includes(rcx.kernel())"
            " && document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') === 'idle'",
            "the notebook's kernel to start and be idle, with no dialog open",
            60,
        )

        browser.click("rcx.byText('.lm-MenuBar-item', 'Run')", "the Run menu")
        browser.click("rcx.byText('.lm-Menu-item .lm-Menu-itemLabel', 'Run All Cells')", "Run All Cells")
        # Done when no cell is queued or running ([*]) and one has run; an error stops the run
        # and leaves the cells after it without a count.
        prompts = browser.wait_for(
            "rcx.prompts().some(p => /\\d/.test(p)) && !rcx.prompts().includes('[*]:') && rcx.prompts()",
            "Run All Cells to finish",
            90,
        )
        assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), (
            f"not every cell ran: {prompts}; stderr: {browser.js('rcx.stderr()')}"
        )

        rows = browser.wait_for("rcx.rows().length && rcx.rows()", "the ACL viewer's rows", 30)
        total = len(rows)
        assert total > 0
        assert browser.js("rcx.note()").startswith(f"{total} of {total} ACEs shown")

        # Pick from the list the trustee with the most ACEs, short of all of them.
        options = browser.js("[...rcx.trustee().options].map(o => o.value)")
        assert options[0] == "(every trustee)" and set(options[1:]) == set(rows)
        trustee = max((t for t in options[1:] if rows.count(t) < total), key=rows.count)
        expected = rows.count(trustee)
        browser.js(
            f"(() => {{ const s = rcx.trustee(); s.value = {json.dumps(trustee)};"
            " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )
        # The change goes to the kernel, the viewer refreshes, the new table comes back.
        filtered = browser.wait_for(
            f"rcx.rows().length === {expected} && rcx.rows()", f"{expected} rows of {trustee}", 30
        )
        assert set(filtered) == {trustee} and len(filtered) != total
        assert browser.js("rcx.note()").startswith(f"{expected} of {total} ACEs shown")

        browser.js("rcx.viewer().scrollIntoView({block: 'center'})")
        time.sleep(0.5)  # let the scroll paint
        browser.screenshot(screenshot)
        print(f"screenshot: {screenshot} ({time.monotonic() - started:.1f} s in the browser)")
    except BaseException:
        failure = workspace / "failure.png"
        try:
            browser.screenshot(failure)
            print(f"screenshot of the failure: {failure} (JupyterLab's and Chromium's logs beside it)")
        except Exception as error:
            print(f"no screenshot of the failure: {error}")
        raise
