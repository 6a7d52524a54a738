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
