"""`richcoex lab status|down` when no lab runs (the session's DC holds the fixed ports, so
`lab up` itself is exercised through the same bring_up() by tests/integration)."""

import os
import subprocess
import sys
from pathlib import Path

RICHCOEX = str(Path(sys.executable).with_name("richcoex"))


def lab_cli(*args: str, root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, RICHCOEX_LAB_DIR=str(root))
    return subprocess.run([RICHCOEX, "lab", *args], capture_output=True, text=True, env=env, timeout=60)


def test_status_says_not_running_and_exits_1(tmp_path):
    result = lab_cli("status", root=tmp_path / "lab")
    assert result.returncode == 1 and "not running (richcoex lab up)" in result.stdout


def test_down_without_a_lab_is_harmless(tmp_path):
    result = lab_cli("down", root=tmp_path / "lab")
    assert result.returncode == 0 and "no lab DC was running" in result.stdout
