"""The benchmark scripts are instruments: if they rot, the next "before and after" is lost.
One cheap run of the whole-process benchmark (the --help case, one round) proves it still
finds the kit's commands, times them and reports a ratio against its baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def test_cli_benchmark_runs_one_round_of_help() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "cli.py"), "--repeat", "1", "--only", "help", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: a target not met, which is a finding, not a failure
    report = json.loads(result.stdout)
    (row,) = report["rows"]
    assert row["name"] == "help"
    assert row["baseline"] == 'python -c "import click, ldap3"'
    assert row["subject_s"] > 0 and row["baseline_s"] > 0
    assert abs(row["ratio"] - row["subject_s"] / row["baseline_s"]) < 1e-9
