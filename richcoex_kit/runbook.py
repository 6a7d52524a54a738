"""The notebook facade: what the runbooks call to open their target, show verdicts and
record them. It only displays — every verdict comes from `session` and `checks`, which
tests and headless runs call too — and it imports a widget only when one is shown.

Notebooks hold narrative and a call or two per cell; everything that decides lives
deeper, where it is tested.

Live or static: a person's front end (JupyterLab) gets the interactive widgets; a
headless kernel (papermill, nbconvert --execute) gets their static HTML as the output
itself, so `jupyter nbconvert --to html`, GitHub and any viewer show the same tables
without JavaScript. (A widget view beside its HTML is not enough: nbconvert renders
the view whenever widget state was saved, and the view needs JavaScript.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import session
from .connection import ConnectionSpec
from .directory.base import Directory
from .dn import first_rdn
from .errors import EXPECTED_ERRORS, one_line
from .files import open_private
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
from .views import (
    acl_rows,
    acl_section,
    attribute_rows,
    attribute_table,
    esc,
    findings_section,
    findings_table,
    group_html,
    object_name,
    records_table,
    wrap,
)

if TYPE_CHECKING:
    from .syncserver import SyncState

__all__ = [
    "ChecksFailedError", "Confirmation", "Fix", "Step", "acl_viewer", "apply_fixes", "attribute_grid",
    "check_request", "confirm", "confirmed_findings", "describe", "export_errors", "fix_panel", "group_panel",
    "objects_to_check", "open_directory", "plan_for", "raise_if_failed", "record", "record_fix", "scan_report",
    "scan_scope", "scan_table", "show", "show_next_steps", "show_objects", "sync_state", "sync_step",
]  # fmt: skip


class ChecksFailedError(Exception):
    """A runbook run with `strict=True` found FAILs: raised by its last cell, after every
    output was recorded, so plain papermill (Airflow's PapermillOperator) exits non-zero."""


# What this kernel's record cells emitted (display id → findings), and the outputs to
# redraw when a Fix panel applies a plan (id of the Fix → redraw functions).
_RECORDS: dict[str, list[Finding]] = {}
_DEPENDENTS: dict[int, list[Callable[[], None]]] = {}


def _live() -> bool:
    """A live widget for a person's front end (or plain Python, where tests drive the
    widgets); its static HTML in a headless kernel, which nobody can click."""
    from .settings import answering_kernel, running_kernel

    return running_kernel() is None or answering_kernel() is not None


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


_SAID: set[str] = set()


class Step(session.Step):
    """`session.Step`, and its run says in the notebook which product, sync account and group
    the verdicts assume, and why (the evidence context records the same) — once per kernel,
    not once per object of runbook 03."""

    @classmethod
    def run(cls, name: str, directory: Directory, request: CheckRequest) -> session.Step:
        step = super().run(name, directory, request)
        said = step.facts.resolution() if step.facts is not None else ""
        if said and said not in _SAID:
            _SAID.add(said)
            print(said)
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
    """Display findings as the evidence page shows them: one verdict line per object
    first, the table below (collapsed when long)."""
    return _html(findings_section(findings))


def show_objects(steps: Iterable[session.Step]) -> Any:
    """Runbook 03: any schema gap, then per object its verdict line and, collapsed, its findings."""
    chosen = list(steps)
    gaps = [f for f in chosen[0].select("schema.") if f.status.value != "PASS"] if chosen else []
    parts = [findings_table(gaps)] if gaps else []
    parts += [findings_section(step.select("object.", "acl."), open_up_to=0) for step in chosen]
    return _html("".join(parts))


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
    if not _live():
        assert step.facts is not None
        return _html(group_html(step.select("group."), step.facts.group))
    from .widgets import GroupPanel

    return GroupPanel(step.directory, step.request)


def acl_viewer(step: session.Step) -> Any:
    """The DACL, ACE by ACE — or, for an object whose descriptor could not be read, one
    line saying so (the checks already record it as an ERROR)."""
    from .security import DescriptorError

    assert step.facts is not None and step.facts.target is not None
    title = f"DACL of {step.facts.target.dn}"
    try:
        sd = step.descriptor() if step.facts.target.descriptor else None
    except DescriptorError as error:
        return _html(f"<p><b>{esc(title)}</b>: malformed ({esc(error)}); see object.inheritance.</p>")
    if sd is None:
        return _html(f"<p><b>{esc(title)}</b>: not readable by the bound account; see object.inheritance.</p>")
    if not _live():
        return _html(acl_section(acl_rows(sd, step.decisions(), step.names()), sd.dacl_protected, title))
    from .widgets import AclViewer

    return AclViewer(sd, step.decisions(), step.names(), title=title)


def attribute_grid(step: session.Step, confirmation: Confirmation) -> Any:
    rows = attribute_rows(step.select("schema.", "acl."), confirmation.states, confirmation.allowed)
    if not _live():
        return _html(attribute_table(rows))
    from .widgets.attribute_grid import AttributeGrid

    return AttributeGrid(rows)


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

    with open_private(csv_path, newline="") if csv_path else contextlib.nullcontext() as out:
        step, result = scan_step(directory, scope, request, page_size, out, progress)
    progress(result.scanned, len(result.failing))
    print(result.resolution)
    return step, result


def scan_report(result: Any) -> Any:
    from .views import scan_report as report

    return _html(report(result, {}))


def scan_table(result: Any) -> Any:
    """The filterable table of failing objects in JupyterLab; headless, the report above
    already lists them (and the CSV holds every object), so a page says it once."""
    if not _live():
        return _html("<p class='muted'>The failing objects are listed above; every object scanned is in the CSV "
                     "(<code>csv_path</code>). JupyterLab adds a table filtered by cause and DN.</p>")  # fmt: skip
    from .widgets import ScanTable

    return ScanTable(result)


def _about(fix: Fix) -> str:
    """What a fix is for, in a few words: the object's name, or the group membership."""
    facts = fix.step.facts
    if facts is not None and facts.target is not None:
        return object_name(facts.target.dn)
    if facts is not None:
        return f"{facts.account_name} in {facts.group_name}" if facts.group_name else facts.account_name
    return fix.step.request.sync_account


def fix_html(fix: Fix) -> str:
    """The fix as a page shows it: one sentence where nothing can be planned (a snapshot),
    else the plan and whether it was written."""
    if fix.plan is None:
        return (f"<p><b>{esc(_about(fix))}</b>: a snapshot cannot be written; run this runbook against the live "
                f"DC (<code>server</code>, <code>bind_user</code>) to see the plan.</p>")  # fmt: skip
    state = (
        "Applied." if fix.done else ("Nothing to apply." if fix.plan.empty else "Dry run: nothing has been written.")
    )
    return f"<p><b>{esc(_about(fix))}: {esc(state)}</b></p><pre>{esc(fix.text())}</pre>"


def _redraw(fix: Fix) -> None:
    for redraw in _DEPENDENTS.get(id(fix), []):
        redraw()


def fix_panel(fix: Fix) -> Any:
    """The Fix button (live) or the plan (static). Applying it from the panel redraws the
    outputs that depend on it: apply_fixes' note and the record (see record_fix)."""
    if not _live():
        return _html(fix_html(fix))
    from .widgets import FixPanel

    def apply() -> str:
        result = fix.apply()
        _redraw(fix)
        return result

    return FixPanel(fix.text(), apply if fix.usable else None, fix.step.directory.target().get("server", "the DC"))


def _not_applied(fixes: list[Fix]) -> str:
    applied = [f for f in fixes if f.done]
    if not applied:
        return ("<p>apply_fix is False: nothing was written (tick the panel above, or run with "
                "<code>richcoex run -p apply_fix=true</code>).</p>")  # fmt: skip
    lines = [f"{_about(f)}: " + "; ".join(f.done) for f in applied]
    return "<p><b>Applied with the Fix panel:</b></p><pre>" + esc("\n".join(lines)) + "</pre>"


def apply_fixes(fixes: Iterable[Fix], apply_fix: bool) -> Any:
    """Headless: apply every non-empty plan when `apply_fix` is set; say what happened.
    Otherwise say nothing was written — and redraw that once a panel applies a plan."""
    from IPython.display import display

    from .session import apply_fixes as apply_all

    chosen = list(fixes)
    if apply_fix:
        return _html("<pre>" + esc("\n\n".join(apply_all(chosen)) or "nothing to apply") + "</pre>")
    handle = display(_html(_not_applied(chosen)), display_id=True)
    for fix in chosen:
        _DEPENDENTS.setdefault(id(fix), []).append(lambda: handle.update(_html(_not_applied(chosen))))
    return None


def _record(step: session.Step, findings: list[Finding], extra: dict[str, Any], handle: Any = None) -> Any:
    from IPython.display import display

    from .evidence import step_record

    bundle = step_record(step.name, findings, step.directory.target(), {**step.context(), **extra})
    if handle is None:
        handle = display(bundle, raw=True, display_id=True)
    else:
        handle.update(bundle, raw=True)
    _RECORDS[handle.display_id] = findings
    return handle


def record(step: session.Step, findings: Iterable[Finding] | None = None, extra: dict[str, Any] | None = None) -> None:
    """The last cell of every runbook: the step's findings as a machine-readable output
    (read back by the runner) and as the page's summary box."""
    _record(step, list(step.findings if findings is None else findings), extra or {})


def record_fix(fix: Fix, *prefixes: str) -> None:
    """Runbooks 02/03: the findings after the fix when it was applied (else as found), with
    the plan and the findings before; re-emitted in place when a Fix panel applies it."""
    handle = _record(fix.step, fix.findings(*prefixes), fix.evidence())
    _DEPENDENTS.setdefault(id(fix), []).append(
        lambda: _record(fix.step, fix.findings(*prefixes), fix.evidence(), handle)
    )


def raise_if_failed(strict: bool) -> None:
    """With `strict`, end the run with ChecksFailedError naming every FAIL recorded in
    this kernel (each check and object once), so papermill exits non-zero."""
    if not strict:
        return
    failing = list(dict.fromkeys((f.id, f.object or "") for fs in _RECORDS.values() for f in fs
                                 if f.status.value == "FAIL"))  # fmt: skip
    if failing:
        named = "; ".join(f"{fid} on {first_rdn(obj)}" if obj else fid for fid, obj in failing[:8])
        more = f"; and {len(failing) - 8} more" if len(failing) > 8 else ""
        raise ChecksFailedError(f"strict: {len(failing)} FAIL finding(s): {named}{more}")
