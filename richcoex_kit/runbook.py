"""The notebook facade: what the runbooks call to open their target, show verdicts and
record them. It only displays — every verdict comes from `session` and `checks`, which
tests and headless runs call too — and it imports a widget only when one is shown.

Notebooks hold narrative and a call or two per cell; everything that decides lives
deeper, where it is tested.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

from . import session
from .connection import ConnectionSpec
from .directory.base import Directory
from .errors import EXPECTED_ERRORS, one_line
from .findings import Finding
from .request import CheckRequest
from .session import (
    Confirmation,
    Fix,
    confirm,
    next_steps,
    objects_to_check,
    plan_for,
    scan_step,
    sync_state,
    sync_step,
)
from .syncserver import SyncState
from .views import esc, findings_table, records_table, wrap

__all__ = [
    "Confirmation", "Fix", "Step", "acl_viewer", "apply_fixes", "attribute_grid", "check_request", "confirm",
    "confirmed_findings",
    "describe", "export_errors", "fix_panel", "group_panel", "objects_to_check", "open_directory", "plan_for", "record",
    "scan_report", "scan_scope", "scan_table", "show", "show_next_steps", "sync_state", "sync_step",
]  # fmt: skip


def _one_line_errors() -> None:
    """In a notebook, show the kit's expected failures as one line, not a traceback.

    The cell still fails (so papermill and the runner see "could not run")."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
        line = f"richcoex: error: {one_line(value)}"
        print(line)
        return [line]

    shell.set_custom_exc(EXPECTED_ERRORS, handler)


class Step(session.Step):
    """`session.Step`, and its run says in the notebook which product, sync account and group
    the verdicts assume, and why (the evidence context records the same)."""

    @classmethod
    def run(cls, name: str, directory: Directory, request: CheckRequest) -> session.Step:
        step = super().run(name, directory, request)
        if step.facts is not None:
            print(step.facts.resolution())
        return step


def _html(body: str) -> Any:
    from IPython.display import HTML

    return HTML(wrap(body))


def open_directory(parameters: Mapping[str, Any]) -> Directory:
    """The directory the runbook's parameters name (pass `globals()`): a DC, a snapshot
    file, or the built-in lab — every connection parameter taken by its name."""
    from .targets import open_target, warnings_for

    _one_line_errors()
    spec = ConnectionSpec.from_parameters(parameters)
    for line in warnings_for(spec):
        print(line)
    return open_target(spec)


def check_request(parameters: Mapping[str, Any], user: str | None = None) -> CheckRequest:
    """What the runbook's parameters (pass `globals()`) ask to check, for `user`."""
    return CheckRequest.from_parameters(parameters, user)


def describe(directory: Directory) -> str:
    """One line saying what the runbook looks at (no secret: the bind account's name only)."""
    target = directory.target()
    return f"{target['kind']}: {target.get('server', '')}" + (f" as {target['bind']}" if target.get("bind") else "")


def show(findings: Iterable[Finding]) -> Any:
    """Display findings as the evidence page shows them."""
    return _html(findings_table(list(findings)))


def show_next_steps(findings: Iterable[Finding]) -> Any:
    """Triage's advice: which runbook to open next, and for which failing checks."""
    steps = next_steps(findings)
    if not steps:
        return _html(
            "<p><b>Nothing failed.</b> If write-back still does not work, run 01-enable-writeback "
            "with the sync server's state, then 04-confirm-writeback after the next export.</p>"
        )
    items = "".join(f"<li><b>{esc(runbook)}</b> — {esc(ids)}</li>" for runbook, ids in steps)
    return _html(f"<p>Open these runbooks next:</p><ol>{items}</ol>")


def group_panel(step: session.Step) -> Any:
    from .widgets import GroupPanel

    return GroupPanel(step.directory, step.request)


def acl_viewer(step: session.Step) -> Any:
    from .widgets import AclViewer

    assert step.facts is not None and step.facts.target is not None
    return AclViewer(step.descriptor(), step.decisions(), step.names(), title=f"DACL of {step.facts.target.dn}")


def attribute_grid(step: session.Step, confirmation: Confirmation) -> Any:
    from .widgets.attribute_grid import AttributeGrid, attribute_rows

    return AttributeGrid(attribute_rows(step.select("schema.", "acl."), confirmation.states, confirmation.allowed))


def confirmed_findings(step: session.Step, confirmation: Confirmation) -> list[Finding]:
    """Runbook 04's findings: the step's, with the DC's own word and the values added."""
    from .checks import confirmed_findings as confirmed

    return confirmed(step.findings, confirmation.states, confirmation.allowed)


def export_errors(state: SyncState | None) -> Any:
    """The objects that failed export with 8344, as a table (what 03 and 05 check next)."""
    if state is None or not state.permission_errors():
        return _html("<p>No export errors with 8344 to follow up.</p>")
    rows = [(e["dn"], e.get("attribute") or "", e.get("time") or "", e.get("detail") or "")
            for e in state.permission_errors()]  # fmt: skip
    table = records_table(["Object", "Attribute", "When", "DC said"], rows)
    return _html(f"<p>{len(state.failed_objects())} object(s) to check in 03-object-permissions "
                 f"(pass the same sync_state there):</p>{table}")  # fmt: skip


def scan_scope(directory: Directory, scope: str, request: CheckRequest, page_size: int = 1000,
               csv_path: str = "") -> tuple[session.Step, Any]:  # fmt: skip
    """Runbook 05: scan `scope`, showing progress per page; the failing objects become findings.

    Progress is a display that is updated in place (not a tqdm widget), so the executed
    notebook keeps the final count rather than the bar's first frame.
    """
    from IPython.display import display

    started = time.perf_counter()
    handle = display(_html("<p>scan: starting…</p>"), display_id=True)

    def progress(scanned: int, failing: int) -> None:
        rate = scanned / max(time.perf_counter() - started, 1e-6)
        handle.update(_html(f"<p>scan: {scanned:,} objects read, {failing:,} failing, {rate:,.0f} objects/s</p>"))

    with open(csv_path, "w", newline="") if csv_path else contextlib.nullcontext() as out:
        step, result = scan_step(directory, scope, request, page_size, out, progress)
    progress(result.scanned, len(result.failing))
    return step, result


def scan_report(result: Any) -> Any:
    from .views import scan_report as report

    return _html(report(result, {}))


def scan_table(result: Any) -> Any:
    from .widgets import ScanTable

    return ScanTable(result)


def fix_panel(fix: Fix) -> Any:
    from .widgets import FixPanel

    return FixPanel(fix.text(), fix.apply if fix.usable else None, fix.step.directory.target().get("server", "the DC"))


def apply_fixes(fixes: Iterable[Fix], apply_fix: bool) -> Any:
    """Headless: apply every non-empty plan when `apply_fix` is set; say what happened."""
    from .session import apply_fixes as apply_all

    if not apply_fix:
        return _html("<p>apply_fix is False: nothing was written (tick the panel above, or run with "
                     "<code>richcoex run -p apply_fix=true</code>).</p>")  # fmt: skip
    return _html("<pre>" + esc("\n\n".join(apply_all(fixes)) or "nothing to apply") + "</pre>")


def record(step: session.Step, findings: Iterable[Finding] | None = None, extra: dict[str, Any] | None = None) -> None:
    """The last cell of every runbook: the step's findings as a machine-readable output
    (read back by the runner) and as the page's summary box."""
    from IPython.display import display

    from .evidence import step_record

    chosen = list(step.findings if findings is None else findings)
    display(step_record(step.name, chosen, step.directory.target(), {**step.context(), **(extra or {})}), raw=True)
