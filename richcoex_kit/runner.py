"""papermill orchestration: pick runbooks, execute them headless, write the evidence
bundle, and turn the recorded findings into the exit code schedulers read.

Runbooks with a `user` parameter run once per --user; on the built-in lab without
--user they run with their own defaults, and 03 checks every object the lab's sync
state reports as failed. Secrets never become parameters: the kernel inherits
RICHCOEX_PASSWORD from this process's environment, and nothing writes it down.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbclient.exceptions import CellExecutionError
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

from . import __version__
from .connection import ConnectionSpec
from .dn import file_label
from .errors import EXIT_COULD_NOT_RUN, UsageError, one_line
from .evidence import (
    SUMMARY,
    failure_reason,
    notebook_html,
    page_summary,
    recorded_documents,
    strip_widget_views,
    who_ran,
    write_manifest,
)
from .files import new_private_folder, write_private
from .findings import SCHEMA_ID, SEVERITY, Finding, exit_code
from .request import CheckRequest
from .settings import PASSWORD_ENV
from .syncserver import SyncState, account_from_state, lab_sync_state_path, product_from_state

KERNEL = "python3"
SECRET_NAME = re.compile(r"pass(word)?|secret|token|pwd|credential", re.IGNORECASE)


def runbooks_dir() -> Path:
    """The runbooks: $RICHCOEX_RUNBOOKS, the source checkout's runbooks/, or the installed copy."""
    candidates = [
        os.environ.get("RICHCOEX_RUNBOOKS"),
        Path(__file__).resolve().parent.parent / "runbooks",
        Path(sys.prefix) / "share" / "richcoex" / "runbooks",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and any(Path(candidate).glob("*.ipynb")):
            return Path(candidate)
    raise UsageError("the runbooks folder was not found (set RICHCOEX_RUNBOOKS to the repository's runbooks/)")


def list_runbooks() -> dict[str, Path]:
    """'00-triage' → path, in step order."""
    return {path.stem: path for path in sorted(runbooks_dir().glob("[0-9][0-9]-*.ipynb"))}


def parameters_of(path: Path) -> dict[str, Any]:
    return papermill.inspect_notebook(str(path))


@dataclass
class RunRequest:
    """One `richcoex run`: where (every connection option), what (the check request;
    `users` are its objects), which runbooks, and where the bundle goes."""

    target: ConnectionSpec
    check: CheckRequest = field(default_factory=lambda: CheckRequest(None))
    users: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    output: Path = Path("evidence")
    sync_state: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    timeout: int = 600


@dataclass
class Execution:
    notebook: str
    file: str
    parameters: dict[str, Any]
    status: str = "ran"
    error: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)


def _check_extra(extra: dict[str, str]) -> None:
    password = os.environ.get(PASSWORD_ENV)
    for name, value in extra.items():
        if SECRET_NAME.search(name) or (password and value == password):
            raise UsageError(f"-p {name}=…: secrets are never parameters (executed notebooks keep them); "
                             f"use {PASSWORD_ENV}, keyring or the prompt")  # fmt: skip


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


def coerce(name: str, value: Any, declared: str) -> Any:
    """A -p value as the parameter's declared type: "False" must not arrive as a truthy string."""
    if not isinstance(value, str):
        return value
    if declared == "bool":
        if value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise UsageError(f"-p {name}={value}: expected true or false")
    if declared == "int":
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"-p {name}={value}: expected a whole number") from None
    return value


def plan(request: RunRequest) -> list[tuple[str, Path, dict[str, Any]]]:
    """(output stem, notebook, parameters) for every execution, in step order."""
    _check_extra(request.extra)
    books = list_runbooks()
    chosen = books
    if request.steps:
        chosen = {}
        for step in request.steps:
            matches = [name for name in books if name.startswith(step.strip())]
            if not matches:
                raise UsageError(f"--steps {step!r}: no runbook starts with it (have {', '.join(books)})")
            chosen.update({name: books[name] for name in matches})
    on_lab = request.target.kind == "lab"
    sync_state = request.sync_state or (str(lab_sync_state_path()) if on_lab else "")
    check = request.check
    if request.sync_state:
        state = SyncState.load(request.sync_state)
        if not request.users and not (state.exports_read and state.failed_objects()):
            # 03 would follow no object: say so now, rather than let "findings: none" read as all clear.
            why = "holds no failed export" if state.exports_read else "could not read the export errors"
            raise UsageError(f"--sync-state {request.sync_state}: the collector {why}, so it names no object to "
                             "check: give --user")  # fmt: skip
        check = dataclasses.replace(check, sync_account=account_from_state(check.sync_account, state),
                                    product=product_from_state(check.product, state))  # fmt: skip
    if request.target.snapshot and not Path(request.target.snapshot).is_file():
        raise UsageError(f"--snapshot {request.target.snapshot!r} does not exist")
    per_object = [name for name, path in chosen.items() if "user" in parameters_of(path)]
    if per_object and not request.users and not on_lab and not request.sync_state:
        # Those runbooks would be skipped, and "findings: none" would read as all clear.
        raise UsageError(f"--user is required on this target for {', '.join(per_object)} (or choose --steps "
                         "that need no object, or give --sync-state to check its failed objects)")  # fmt: skip
    common = {**request.target.to_parameters(), **check.parameters()}
    accepted_by = {name: parameters_of(path) for name, path in chosen.items()}
    for extra in request.extra:
        # A misspelt -p (aply_fix) must not run everything and apply nothing without a word.
        if not any(extra in accepted for accepted in accepted_by.values()):
            takes = sorted({p for accepted in accepted_by.values() for p in accepted})
            raise UsageError(f"-p {extra}: no chosen runbook takes it (they take {', '.join(takes)})")
    executions = []
    for name, path in chosen.items():
        accepted = accepted_by[name]
        base = {k: coerce(k, v, accepted[k]["inferred_type_name"])
                for k, v in {**common, **request.extra}.items() if k in accepted}  # fmt: skip
        if "sync_state" in accepted and sync_state and ("user" not in accepted or not request.users):
            base["sync_state"] = str(Path(sync_state).resolve())
        if "user" not in accepted or ("sync_state" in base and not request.users):
            executions.append((name, path, base))
        elif request.users:
            for user in request.users:
                executions.append((f"{name}--{file_label(user)}", path, {**base, "user": user}))
        elif on_lab:
            executions.append((name, path, base))
    return executions


def workers_for(executions: int) -> int:
    """How many runbooks run at once: one per core. A runbook's time is mostly its kernel
    starting (CPU in the kernel's process), so more than the cores only adds contention."""
    return max(1, min(executions, os.cpu_count() or 1))


def execute_one(request: RunRequest, folder: Path, started: dt.datetime, stem: str, path: Path,
                parameters: dict[str, Any]) -> Execution:  # fmt: skip
    """Run one runbook in its own kernel and write its executed notebook and HTML page.
    Independent of every other execution, so the runner may run several at once."""
    result = Execution(path.stem, f"{stem}.ipynb", parameters)
    out = folder / result.file
    try:
        # Absolute paths, and the kernel's working directory through nbclient's resources
        # (metadata.path), not papermill's `cwd`: that one is os.chdir, process-wide, and
        # would move every other runbook running in this process.
        papermill.execute_notebook(str(path.absolute()), str(out.absolute()), parameters=parameters,
                                   kernel_name=KERNEL, progress_bar=False, log_output=False,
                                   execution_timeout=request.timeout, shutdown_kernel="immediate",
                                   resources={"metadata": {"path": str(path.parent.absolute())}},
                                   extra_arguments=["--IPKernelApp.log_level=ERROR"])  # fmt: skip
    except (PapermillExecutionError, CellExecutionError) as error:
        # CellExecutionError when the kit's one-line handler showed the error in the cell;
        # ChecksFailedError is `-p strict=true` doing its job after every output was recorded.
        if error.ename != "ChecksFailedError":
            result.status = "could not run"
            result.error = f"{error.ename}: {one_line(error.evalue)}".strip()
    except Exception as error:  # kernel died, timeout: the run goes on, the bundle says so
        result.status = "could not run"
        result.error = f"{type(error).__name__}: {one_line(error)}"
    if out.exists():
        notebook = strip_widget_views(nbformat.read(out, as_version=4))
        if result.status != "ran":
            result.error = failure_reason(notebook) or result.error
        write_private(out, nbformat.writes(notebook))
        for document in recorded_documents(notebook):
            result.findings += document["findings"]
        findings = [finding for finding, _ in distinct_findings([result])]
        meta: dict[str, object] = {"runbook": stem, "target": request.target.slug(),
                                   "ran": started.isoformat(timespec="seconds"), "by": who_ran(), "kit": __version__,
                                   "status": result.status}  # fmt: skip
        write_private(folder / f"{stem}.html", notebook_html(notebook, page_summary(meta, findings)))
    return result


def distinct_findings(results: list[Execution]) -> list[tuple[Finding, list[str]]]:
    """Each (check id, object) once — at its worst status across the runs, the one with
    the most details on a tie — with the runs that reported it: triage and 03 both check rc-deny, and that
    is one finding, not two."""
    merged: dict[tuple[str, str], tuple[Finding, list[str]]] = {}
    for result in results:
        for data in result.findings:
            finding = Finding.from_json(data)
            key = (finding.id, finding.object or "")
            kept, runs = merged.get(key, (finding, []))
            # A tie goes to the fuller evidence: 04's finding carries the DC's own word.
            if (SEVERITY.index(finding.status), len(finding.details)) > (
                SEVERITY.index(kept.status),
                len(kept.details),
            ):
                kept = finding
            merged[key] = (kept, [*runs, result.file.removesuffix(".ipynb")])
    return list(merged.values())


def counts_line(summary: dict[str, Any]) -> str:
    """The CLI's one line: distinct findings by status, then how many reports they came from."""
    counts = summary["counts"]
    by_status = ", ".join(f"{n} {s}" for s, n in counts["by_status"].items()) or "none"
    return (f"findings: {counts['distinct']} distinct (check, object): {by_status} "
            f"({counts['reports']} reports from {len(summary['runs'])} runbook runs)")  # fmt: skip


def run(request: RunRequest, progress: bool = True, workers: int | None = None) -> tuple[int, Path]:
    """Execute, write the bundle, return (exit code, bundle folder).

    The runbooks are independent (each opens its own target, reads, records), so up to
    `workers` (default: one per core) run at once; the bundle lists them in step order
    whatever order they finish in, so it is the same as a serial run's."""
    executions = plan(request)
    started = dt.datetime.now(dt.timezone.utc)
    folder = new_private_folder(request.output, f"{started.strftime('%Y%m%dT%H%M%SZ')}-{request.target.slug()}")
    bar = tqdm(total=len(executions), desc="runbooks", unit="notebook", disable=not progress, file=sys.stderr)
    with ThreadPoolExecutor(workers or workers_for(len(executions)), thread_name_prefix="richcoex-run") as pool:
        futures = {pool.submit(execute_one, request, folder, started, *execution): execution[0]
                   for execution in executions}  # fmt: skip
        for done in as_completed(futures):
            bar.set_postfix_str(futures[done])
            bar.update()
    bar.close()
    results = [future.result() for future in futures]
    distinct = distinct_findings(results)
    all_findings = [finding for finding, _ in distinct]
    code = exit_code(all_findings)
    if any(r.status != "ran" for r in results):
        code = EXIT_COULD_NOT_RUN
    summary = {
        "schema": SCHEMA_ID,
        "kit_version": __version__,
        "target": {"kind": request.target.kind,
                   "server": request.target.server or request.target.snapshot or "built-in lab snapshot"},
        "parameters": {**request.target.to_parameters(), "users": request.users, **request.check.parameters(),
                       **request.extra},
        "who": who_ran(),
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "exit_code": code,
        "runs": [{"notebook": r.notebook, "file": r.file, "status": r.status, "error": r.error,
                  "parameters": r.parameters, "findings": len(r.findings)} for r in results],
        "counts": {"distinct": len(all_findings), "reports": sum(len(r.findings) for r in results),
                   "by_status": {s.value: n for s in reversed(SEVERITY)
                                 if (n := sum(f.status == s for f in all_findings))}},
        "findings": [f.to_json() for f in all_findings],
        "reported_by": [{"id": f.id, "object": f.object, "runs": runs} for f, runs in distinct],
    }  # fmt: skip
    write_private(folder / SUMMARY, json.dumps(summary, indent=2) + "\n")
    write_manifest(folder)
    return code, folder
