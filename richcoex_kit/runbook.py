"""What the runbook notebooks call: open the target their parameters name, run the
step's checks once, show the verdicts, and record them for the evidence bundle.

Notebooks hold narrative and a call or two per cell; everything that decides lives
here or deeper, where it is tested.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import getpass
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__
from .checks import CheckRequest, Facts, decisions_for, display_names, run_checks
from .directory.base import AttributeState, Directory
from .directory.errors import DirectoryError
from .directory.ldap import LdapDirectory
from .errors import EXPECTED_ERRORS, one_line
from .findings import Finding, Status, document
from .remedy import FixOptions, Plan, apply_plan, plan_fix
from .scan import ScanResult, scan
from .scan import findings as scan_findings
from .security import SecurityDescriptor
from .security.access import Decision
from .settings import resolve_password
from .syncserver import SyncState, lab_sync_state_path, not_collected, sync_findings
from .targets import Target, default_scan_base
from .views import esc, findings_table, records_table, summary_header, wrap

FINDINGS_MIMETYPE = "application/vnd.richcoex.findings+json"
SYNC_PASSWORD_ENV = "RICHCOEX_SYNC_PASSWORD"

# Which runbook fixes what a finding id reports (for triage's "go next" advice).
STEP_FOR_PREFIX = {
    "sync.": "01-enable-writeback",
    "group.": "02-group-membership",
    "schema.": "03-object-permissions",
    "object.": "03-object-permissions",
    "acl.": "03-object-permissions",
}


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


def open_directory(
    server: str = "",
    snapshot: str = "",
    port: int = 0,
    tls: str = "ldaps",
    ca_file: str = "",
    tls_name: str = "",
    bind_user: str = "",
    base: str = "",
    insecure: bool = False,
    auth: str = "simple",
) -> Directory:
    """The directory the parameters name: a DC, a snapshot file, or the built-in lab."""
    _one_line_errors()
    target = Target(
        lab=not server and not snapshot, snapshot=snapshot or None, server=server or None, port=port or None,
        tls=tls, ca_file=ca_file or None, tls_name=tls_name or None, insecure=insecure, auth=auth,
        bind_user=bind_user or None, base=base or None,
    )  # fmt: skip
    return target.open(announce=False)


def describe(directory: Directory) -> str:
    """One line saying what the runbook looks at (no secret: the bind account's name only)."""
    target = directory.target()
    return f"{target['kind']}: {target.get('server', '')}" + (f" as {target['bind']}" if target.get("bind") else "")


@dataclass
class Step:
    """One runbook step's run: its facts and findings, computed once."""

    name: str
    directory: Directory
    request: CheckRequest
    started: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    facts: Facts | None = None
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def run(cls, name: str, directory: Directory, user: str | None, sync_account: str, group: str,
            attributes: str) -> Step:  # fmt: skip
        step = cls(name, directory, CheckRequest(user or None, sync_account, group, attributes))
        step.facts, step.findings = run_checks(directory, step.request)
        return step

    def select(self, *prefixes: str) -> list[Finding]:
        return [f for f in self.findings if f.id.startswith(prefixes)] if prefixes else list(self.findings)

    def descriptor(self) -> SecurityDescriptor:
        assert self.facts is not None and self.facts.target is not None and self.facts.target.descriptor
        return SecurityDescriptor.from_bytes(self.facts.target.descriptor)

    def decisions(self) -> dict[str, Decision]:
        """The per-attribute decisions behind the acl.write.* findings, for the ACL viewer."""
        assert self.facts is not None
        return decisions_for(self.facts, self.descriptor())

    def names(self) -> dict[str, str]:
        assert self.facts is not None
        return display_names(self.facts)


def next_steps(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    """(runbook, why) for each step that has something failing, in runbook order."""
    needed: dict[str, list[str]] = {}
    for f in findings:
        if f.status in (Status.FAIL, Status.WARN, Status.ERROR):
            for prefix, runbook in STEP_FOR_PREFIX.items():
                if f.id.startswith(prefix):
                    needed.setdefault(runbook, []).append(f.id)
    return [(runbook, ", ".join(ids)) for runbook, ids in sorted(needed.items())]


def show_next_steps(findings: Iterable[Finding]) -> Any:
    """Triage's advice: which runbook to open next, and for which failing checks."""
    from IPython.display import HTML

    steps = next_steps(findings)
    if not steps:
        return HTML(
            wrap(
                "<p><b>Nothing failed.</b> If write-back still does not work, run 01-enable-writeback "
                "with the sync server's state, then 04-confirm-writeback after the next export.</p>"
            )
        )
    items = "".join(f"<li><b>{esc(runbook)}</b> — {esc(ids)}</li>" for runbook, ids in steps)
    return HTML(wrap(f"<p>Open these runbooks next:</p><ol>{items}</ol>"))


def group_panel(step: Step) -> Any:
    from .widgets import GroupPanel

    return GroupPanel(step.directory, step.request)


def acl_viewer(step: Step) -> Any:
    from .widgets import AclViewer

    assert step.facts is not None and step.facts.target is not None
    return AclViewer(step.descriptor(), step.decisions(), step.names(), title=f"DACL of {step.facts.target.dn}")


@dataclass(frozen=True)
class Confirmation:
    """Runbook 04's proof: current values and last changes, and what the DC itself says
    the sync account may write (allowedAttributesEffective, asked while bound as it)."""

    states: dict[str, AttributeState]
    allowed: frozenset[str] | None
    allowed_source: str


def confirm(step: Step, sync_bind_user: str = "") -> Confirmation:
    """Read values and, when possible, the DC's own verdict for the sync account: live,
    bound as `sync_bind_user` on the same DC (password from RICHCOEX_SYNC_PASSWORD,
    keyring or a prompt); offline, as recorded in the snapshot."""
    facts = step.facts
    assert facts is not None and facts.target is not None
    names = tuple(a.name for a in facts.attributes if a.schema is not None)
    states = {s.name: s for s in step.directory.attribute_states(facts.target, names)}
    allowed, source = None, "not asked (give sync_bind_user to ask the DC)"
    if isinstance(step.directory, LdapDirectory):
        if sync_bind_user:
            settings = replace(step.directory.settings, bind_user=sync_bind_user)
            password = functools.partial(resolve_password, variable=SYNC_PASSWORD_ENV)
            with LdapDirectory(settings, password) as as_sync:
                allowed = as_sync.allowed_attributes_effective(as_sync.find_object(facts.target.dn))
            source = f"asked the DC bound as {sync_bind_user}"
    else:
        try:
            allowed = step.directory.allowed_attributes_effective(facts.target)
            source = "as recorded in the snapshot (asked the DC bound as the sync account)"
        except DirectoryError:
            source = "not recorded in the snapshot"
    return Confirmation(states, allowed, source)


def attribute_grid(step: Step, confirmation: Confirmation) -> Any:
    from .widgets.attribute_grid import AttributeGrid, attribute_rows

    return AttributeGrid(attribute_rows(step.select("schema.", "acl."), confirmation.states, confirmation.allowed))


def confirmed_findings(step: Step, confirmation: Confirmation) -> list[Finding]:
    """acl.write.* findings with the DC's word and the values added to their details; a
    disagreement between the kit and the DC is an ERROR (it would be a bug in the kit)."""
    result = []
    for f in step.select("schema.", "acl."):
        if f.id.startswith("acl.write.") and f.status in (Status.PASS, Status.FAIL):
            name = f.id.removeprefix("acl.write.")
            state = confirmation.states.get(name)
            details = dict(f.details, values=list(state.values) if state else [],
                           last_change=state.last_originating_change if state else None)  # fmt: skip
            status, summary = f.status, f.summary
            if confirmation.allowed is not None:
                dc_says = name.lower() in confirmation.allowed
                details["dc_allowed_attributes_effective"] = dc_says
                if dc_says != (f.status == Status.PASS):
                    status = Status.ERROR
                    summary = f"The DC says writable={dc_says} but the kit decided {f.status.value}: {f.summary}"
            f = Finding(f.id, status, f.title, summary, f.object, details, f.remedy)
        result.append(f)
    return result


def sync_state(path: str, directory: Directory) -> SyncState | None:
    """The collector's output: the given file, or on the built-in lab the lab's own."""
    if path:
        return SyncState.load(path)
    if directory.kind == "lab":
        return SyncState.load(lab_sync_state_path())
    return None


def sync_step(name: str, directory: Directory, state: SyncState | None) -> Step:
    """KB step 1 as a Step: the three sync.* findings (SKIP, honestly, without a state)."""
    step = Step(name, directory, CheckRequest(None))
    step.findings = sync_findings(state) if state is not None else not_collected()
    return step


def export_errors(state: SyncState | None) -> Any:
    """The objects that failed export with 8344, as a table (what 03 and 05 check next)."""
    from IPython.display import HTML

    if state is None or not state.permission_errors():
        return HTML(wrap("<p>No export errors with 8344 to follow up.</p>"))
    rows = [(e["dn"], e.get("attribute") or "", e.get("time") or "", e.get("detail") or "")
            for e in state.permission_errors()]  # fmt: skip
    table = records_table(["Object", "Attribute", "When", "DC said"], rows)
    return HTML(wrap(f"<p>{len(state.failed_objects())} object(s) to check in 03-object-permissions "
                     f"(pass the same sync_state there):</p>{table}"))  # fmt: skip


def objects_to_check(user: str, state_path: str) -> list[str]:
    """Runbook 03's scope: the objects that failed export in the sync state, else `user`."""
    if state_path:
        return SyncState.load(state_path).failed_objects()
    return [user]


def scan_scope(
    directory: Directory,
    base: str,
    sync_account: str,
    group: str,
    attributes: str,
    page_size: int = 1000,
    csv_path: str = "",
) -> tuple[Step, ScanResult]:
    """Runbook 05: scan `base`, showing progress per page; the failing objects become findings.

    Progress is a display that is updated in place (not a tqdm widget), so the executed
    notebook keeps the final count rather than the bar's first frame.
    """
    import time

    from IPython.display import HTML, display

    request = CheckRequest(None, sync_account, group, attributes)
    started = time.perf_counter()
    handle = display(HTML(wrap("<p>scan: starting…</p>")), display_id=True)

    def progress(scanned: int, failing: int) -> None:
        rate = scanned / max(time.perf_counter() - started, 1e-6)
        handle.update(HTML(wrap(f"<p>scan: {scanned:,} objects read, {failing:,} failing, {rate:,.0f} objects/s</p>")))

    with open(csv_path, "w", newline="") if csv_path else contextlib.nullcontext() as out:
        result = scan(directory, request, base or default_scan_base(directory), page_size=page_size, csv_out=out,
                      on_progress=progress)  # fmt: skip
    progress(result.scanned, len(result.failing))
    step = Step("05-scan-scope", directory, request)
    step.findings = scan_findings(result, request)
    return step, result


def scan_report(result: ScanResult) -> Any:
    from IPython.display import HTML

    from .views import scan_report as report

    return HTML(wrap(report(result, {})))


def scan_table(result: ScanResult) -> Any:
    from .widgets import ScanTable

    return ScanTable(result)


@dataclass
class Fix:
    """Runbooks 02/03: the plan for one step, applied on request, and its outcome."""

    step: Step
    plan: Plan | None
    note: str
    backup_dir: str
    done: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    after: list[Finding] = field(default_factory=list)

    def apply(self) -> str:
        """Back up, write (compare-and-swap), re-run the checks; returns what happened."""
        assert self.plan is not None and isinstance(self.step.directory, LdapDirectory)
        applied = apply_plan(self.plan, self.step.directory, Path(self.backup_dir))
        self.done = applied.done
        self.backups = [str(p) for p in applied.backups]
        _, self.after = run_checks(self.step.directory, self.step.request)
        verdicts = ", ".join(f"{f.id.removeprefix('acl.write.')} {f.status.value}" for f in self.after
                             if f.id.startswith("acl.write."))  # fmt: skip
        return "\n".join([*self.done, f"after: {verdicts}", f"undo: richcoex restore <backup> (in {self.backup_dir})"])

    def panel(self) -> Any:
        from .widgets import FixPanel

        text = self.plan.describe() if self.plan is not None else self.note
        usable = self.plan is not None and not self.plan.empty
        return FixPanel(text, self.apply if usable else None, self.step.directory.target().get("server", "the DC"))

    def findings(self, *prefixes: str) -> list[Finding]:
        """After the fix when it was applied, else as found."""
        chosen = self.after or self.step.findings
        return [f for f in chosen if f.id.startswith(prefixes)] if prefixes else list(chosen)

    def evidence(self) -> dict[str, Any]:
        return {"plan": self.plan.describe() if self.plan else self.note, "applied": self.done,
                "backups": self.backups,
                "before": {f.id: f.status.value for f in self.step.findings}}  # fmt: skip


def plan_for(step: Step, backup_dir: str = "richcoex-backups", remove_deny: str = "") -> Fix:
    """The least-privilege plan for a step's object (or, without one, its group membership)."""
    if not isinstance(step.directory, LdapDirectory):
        return Fix(step, None, "A fix needs a live DC (server, bind_user): a snapshot cannot be written. "
                               "The findings above say what it would change.", backup_dir)  # fmt: skip
    indexes = tuple(int(i) for i in remove_deny.replace(" ", "").split(",") if i)
    plan = plan_fix(step.directory, step.request, FixOptions(remove_deny=indexes))
    return Fix(step, plan, "", backup_dir)


def apply_fixes(fixes: Iterable[Fix], apply_fix: bool) -> Any:
    """Headless: apply every non-empty plan when `apply_fix` is set; say what happened."""
    from IPython.display import HTML

    if not apply_fix:
        return HTML(wrap("<p>apply_fix is False: nothing was written (tick the panel above, or run with "
                         "<code>richcoex run -p apply_fix=true</code>).</p>"))  # fmt: skip
    lines = [fix.apply() for fix in fixes if fix.plan is not None and not fix.plan.empty]
    return HTML(wrap("<pre>" + esc("\n\n".join(lines) or "nothing to apply") + "</pre>"))


def who_ran() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def show(findings: Iterable[Finding]) -> Any:
    """Display findings as the evidence page shows them."""
    from IPython.display import HTML

    return HTML(wrap(findings_table(list(findings))))


def record(step: Step, findings: Iterable[Finding] | None = None, extra: dict[str, Any] | None = None) -> Any:
    """The last cell of every runbook: the step's findings as a machine-readable output
    (FINDINGS_MIMETYPE, read back by the runner) and as the page's summary box."""
    from IPython.display import display

    chosen = list(step.findings if findings is None else findings)
    facts = step.facts
    context = {
        "step": step.name,
        "user": step.request.user,
        "sync_account": step.request.sync_account,
        "group": step.request.group,
        "attributes": step.request.attributes,
        "domain": facts.domain.base_dn if facts else None,
        "token": facts.token.to_json(facts.names) if facts and facts.token else [],
        "started": step.started,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "who": who_ran(),
        **(extra or {}),
    }
    doc = document(chosen, step.directory.target(), __version__, context=context)
    meta = {"step": step.name, "target": doc["target"].get("server", doc["target"]["kind"]),
            "object": step.request.user or "—", "ran": f"{context['finished']} by {context['who']}",
            "kit": __version__}  # fmt: skip
    counts = ", ".join(f"{sum(f.status == s for f in chosen)} {s.value}" for s in Status)
    display({FINDINGS_MIMETYPE: doc, "text/html": wrap(summary_header(meta, chosen)),
             "text/plain": f"richcoex findings for {step.name}: {counts}"}, raw=True)  # fmt: skip
    return None
