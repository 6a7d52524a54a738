"""What a user waits for: each `richcoex` command timed as a whole process, against a baseline.

Issue 14 asks for figures a user would recognise: the wall time of a whole process, start-up
and shutdown included, because that is what someone at a prompt (or a scheduler) waits for.
An in-process timing hides the import cost that dominates short commands. Every ratio is
against a *named* baseline — the cheapest process that does the same kind of work — measured
in the same run, alternating with the subject (the order flips each round so drift on a
shared, noisy 2-core machine lands on both sides), and the medians are compared.

  case       subject                                      baseline                     target
  help       richcoex --help                              python -c "import click, ldap3"  <= 2
  check      richcoex check --lab --user rc-deny --json   python -c "import click, ldap3"  <= 4
  runbook03  papermill runbooks/03-object-permissions     papermill on an empty two-cell  <= 1.5
             .ipynb (default parameters: the built-in lab) notebook
  run        richcoex run --lab --output TMP              papermill on the same empty     <= 4
             (6 runbooks + their HTML pages)                notebook
  scan       richcoex scan --json over N users of the     a bare ldap3 paged search       <= 1.25
             Samba lab DC (only with --scan; needs samba)  process reading the same attributes

Run from a checkout with the kit installed in .venv (`pip install -e '.[test]'`); the
commands are taken from the bin folder of the interpreter that runs this script:

  .venv/bin/python benchmarks/cli.py [--repeat 5] [--only help,check] [--json]
  unshare --net bash -c 'ip link set lo up; .venv/bin/python benchmarks/cli.py --scan'

The scan case starts a Samba DC on 127.0.0.1's fixed ports: run it inside its own network
namespace (as above) so it clashes with no other DC. Its lab is built once and cached under
.benchmarks-cache/ by benchmarks/scan.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # not resolved: a venv's python is a symlink to the system one
RUNBOOK_03 = ROOT / "runbooks" / "03-object-permissions.ipynb"
ORDER = ("help", "check", "runbook03", "run", "scan")


@dataclass(frozen=True)
class Command:
    """One process to time. `ok` lists the exit codes that mean it did its work: `check`
    and `scan` exit 1 when they find a failure, which the lab is built to contain."""

    label: str
    argv: list[str]
    ok: tuple[int, ...] = (0,)
    env: dict[str, str] = field(default_factory=dict)
    fresh_dir: bool = False  # give each run an empty folder in place of "{tmp}" in argv


@dataclass(frozen=True)
class Case:
    """A subject, the baseline its ratio is taken against, and issue 14's target ratio."""

    name: str
    subject: Command
    baseline: Command
    target: float


@dataclass
class Row:
    """One case's result; medians over the repetitions, every sample kept for --json."""

    name: str
    subject: str
    baseline: str
    subject_s: float
    baseline_s: float
    ratio: float
    target: float
    met: bool
    subject_samples: list[float]
    baseline_samples: list[float]


class BenchmarkError(RuntimeError):
    """A timed process failed, so its time means nothing."""


def time_process(command: Command, scratch: Path) -> float:
    """Wall time of one whole process, from just before its fork to its reaping. (No peak
    RSS here: Linux carries the parent's high-water mark across fork+exec, so a child's
    ru_maxrss is at least this script's size; benchmarks/scan.py reads VmHWM instead.)"""
    argv = list(command.argv)
    run_dir = None
    if command.fresh_dir:
        run_dir = Path(tempfile.mkdtemp(dir=scratch))
        argv = [arg.replace("{tmp}", str(run_dir)) for arg in argv]
    env = {**os.environ, **command.env}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=scratch)
        _, status = os.waitpid(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in command.ok:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise BenchmarkError(f"{command.label}: exit {process.returncode}\n{tail}")
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
    return seconds


def measure(case: Case, repeat: int, scratch: Path, progress: bool = True) -> Row:
    """Alternate baseline and subject `repeat` times (one warm-up pair first, discarded, so
    the first row does not pay for a cold page cache), flipping the order each round."""
    time_process(case.baseline, scratch)
    time_process(case.subject, scratch)
    subject: list[float] = []
    baseline: list[float] = []
    for i in range(repeat):
        pair = [(case.baseline, baseline), (case.subject, subject)]
        for command, samples in pair if i % 2 == 0 else reversed(pair):
            samples.append(time_process(command, scratch))
        if progress:
            print(
                f"  {case.name} round {i + 1}/{repeat}: subject {subject[-1]:.2f}s, baseline {baseline[-1]:.2f}s",
                file=sys.stderr,
                flush=True,
            )
    s = statistics.median(subject)
    b = statistics.median(baseline)
    return Row(
        name=case.name,
        subject=case.subject.label,
        baseline=case.baseline.label,
        subject_s=s,
        baseline_s=b,
        ratio=s / b,
        target=case.target,
        met=s / b <= case.target,
        subject_samples=[round(x, 4) for x in subject],
        baseline_samples=[round(x, 4) for x in baseline],
    )


def empty_notebook(folder: Path) -> Path:
    """Two code cells, the first tagged `parameters`: the least papermill can be asked to
    run, so its time is papermill's and the kernel's own start, execute and shutdown."""
    cells = [
        {"cell_type": "code", "execution_count": None, "id": "params", "metadata": {"tags": ["parameters"]},
         "outputs": [], "source": ["x = 1"]},
        {"cell_type": "code", "execution_count": None, "id": "body", "metadata": {}, "outputs": [],
         "source": ["x"]},
    ]  # fmt: skip
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = folder / "empty.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    return path


def tool(name: str) -> str:
    """A console script of the kit's environment (the one running this benchmark)."""
    path = BIN / name
    if not path.exists():
        raise SystemExit(f"{path} not found: install the kit into this interpreter's environment first")
    return str(path)


def offline_cases(scratch: Path) -> dict[str, Case]:
    """The cases that need no DC: the built-in lab snapshot answers them."""
    imports = Command('python -c "import click, ldap3"', [sys.executable, "-c", "import click, ldap3"])
    empty = empty_notebook(scratch)
    papermill_empty = Command(
        "papermill empty two-cell notebook", [tool("papermill"), "-k", "python3", str(empty), str(scratch / "e.ipynb")]
    )
    richcoex = tool("richcoex")
    return {
        "help": Case("help", Command("richcoex --help", [richcoex, "--help"]), imports, 2.0),
        "check": Case(
            "check",
            Command(
                "richcoex check --lab --user rc-deny --json",
                [richcoex, "check", "--lab", "--user", "rc-deny", "--json"],
                ok=(0, 1),
            ),
            imports,
            4.0,
        ),
        "runbook03": Case(
            "runbook03",
            Command(
                "papermill runbooks/03 (built-in lab)",
                [
                    tool("papermill"),
                    "-k",
                    "python3",
                    str(RUNBOOK_03),
                    str(scratch / "03.ipynb"),
                    "--cwd",
                    str(RUNBOOK_03.parent),
                ],
            ),
            papermill_empty,
            1.5,
        ),
        "run": Case(
            "run",
            Command(
                "richcoex run --lab (6 runbooks + HTML)",
                [richcoex, "run", "--lab", "--output", "{tmp}"],
                ok=(0, 1),
                fresh_dir=True,
            ),
            papermill_empty,
            4.0,
        ),
    }


@contextlib.contextmanager
def scan_case(users: int) -> Iterator[Case]:
    """The scan case, with its lab DC running for as long as the case is measured. The lab
    size and the bare search come from benchmarks/scan.py, so both benchmarks time the same
    floor over the same directory."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import scan as scan_bench  # benchmarks/scan.py; imported only here, as it imports the kit

    lab = scan_bench.prepare(users)
    info = lab.start()
    try:
        config = scan_bench.floor_config(info)
        yield Case(
            "scan",
            Command(
                f"richcoex scan --json ({users:,} users)",
                scan_bench.scan_cli_argv(tool("richcoex"), info),
                ok=(0, 1),
                env=scan_bench.scan_cli_env(info),
            ),
            Command("bare ldap3 paged search process", scan_bench.floor_argv(config)),
            1.25,
        )
    finally:
        lab.stop(remove=False)


def print_table(rows: list[Row], repeat: int) -> None:
    print(f"\nWhole processes, wall time, median of {repeat} alternating runs (this machine is shared and noisy:")
    print("read the ratios, each against the baseline measured beside it in this run).\n")
    print("| case | subject | baseline | subject | baseline | ratio | target | met | runs, s (subject / baseline) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.name} | {r.subject} | {r.baseline} | {r.subject_s:.2f} s | {r.baseline_s:.2f} s | "
            f"{r.ratio:.2f}× | ≤ {r.target:g}× | {'yes' if r.met else '**no**'} | "
            f"{' '.join(f'{x:.2f}' for x in r.subject_samples)} / {' '.join(f'{x:.2f}' for x in r.baseline_samples)} |"
        )


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every measured ratio meets its target, 1 when one does not (so a CI job
    can watch for regressions), 3 when a timed process failed (its time would mean nothing)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="alternating rounds per case (default 5)")
    parser.add_argument("--only", help=f"comma-separated cases: {', '.join(ORDER)}")
    parser.add_argument("--scan", action="store_true", help="also run the scan case (starts a Samba DC)")
    parser.add_argument("--scan-users", type=int, default=5000, help="lab size for the scan case (default 5000)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args(argv)
    wanted = [n.strip() for n in args.only.split(",")] if args.only else [n for n in ORDER if n != "scan" or args.scan]
    unknown = set(wanted) - set(ORDER)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}; choose from {', '.join(ORDER)}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="richcoex-bench-") as tmp:
        scratch = Path(tmp)
        cases = offline_cases(scratch)
        runners: list[Callable[[], Row]] = []
        for name in (n for n in ORDER if n in wanted):
            if name == "scan":

                def scan_row() -> Row:
                    with scan_case(args.scan_users) as case:
                        return measure(case, args.repeat, scratch)

                runners.append(scan_row)
            else:
                runners.append(lambda case=cases[name]: measure(case, args.repeat, scratch))
        try:
            for runner in runners:
                rows.append(runner())
        except BenchmarkError as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            return 3
    if args.json:
        print(json.dumps({"repeat": args.repeat, "python": sys.version.split()[0], "rows": [asdict(r) for r in rows]},
                         indent=2))  # fmt: skip
    else:
        print_table(rows, args.repeat)
    return 0 if all(r.met for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
