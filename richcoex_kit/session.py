"""What a runbook step is, without a display: its checks run once (`Step`), its fix
planned and applied on request (`Fix`), runbook 04's confirmation, and which runbook
to open next.

The notebook facade (`runbook.py`) shows these; tests and the widgets drive them
directly. Nothing here imports IPython or ipywidgets, and the fix, the scan and the
sync-server reader are imported by the functions that use them: a runbook's first cell
(`import richcoex_kit.runbook`) pays only for what every runbook needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .checks import CheckRequest, Facts, decisions_for, display_names, run_checks
from .directory.base import AttributeState, Directory
from .directory.errors import DirectoryError
from .errors import UsageError
from .findings import NEEDS_ATTENTION, Finding
from .security import SecurityDescriptor
from .security.access import Decision
from .text import command

if TYPE_CHECKING:
    from .remedy import Plan
    from .scan import ScanResult
    from .syncserver import SyncState

SYNC_PASSWORD_ENV = "RICHCOEX_SYNC_PASSWORD"

# Which runbook fixes what a finding id reports (for triage's "go next" advice).
STEP_FOR_PREFIX = {
    "sync.": "01-enable-writeback",
    "group.": "02-group-membership",
    "schema.": "03-object-permissions",
    "object.": "03-object-permissions",
    "acl.": "03-object-permissions",
}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Step:
    """One runbook step's run: its facts and findings, computed once."""

    name: str
    directory: Directory
    request: CheckRequest
    started: str = field(default_factory=now)
    facts: Facts | None = None
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def run(cls, name: str, directory: Directory, request: CheckRequest) -> Step:
        step = cls(name, directory, request)
        step.facts, step.findings = run_checks(directory, request)
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

    def context(self) -> dict[str, Any]:
        """What the evidence keeps beside this step's findings."""
        facts = self.facts.context() if self.facts else dict(self.request.context())
        return {"step": self.name, **facts, "started": self.started}


def next_steps(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    """(runbook, why) for each step that has something failing, in runbook order."""
    needed: dict[str, list[str]] = {}
    for f in findings:
        if f.status in NEEDS_ATTENTION:
            for prefix, runbook in STEP_FOR_PREFIX.items():
                if f.id.startswith(prefix):
                    needed.setdefault(runbook, []).append(f.id)
    return [(runbook, ", ".join(ids)) for runbook, ids in sorted(needed.items())]


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
    if not step.directory.offline:
        if sync_bind_user:
            with step.directory.as_account(sync_bind_user, SYNC_PASSWORD_ENV) as as_sync:
                allowed = as_sync.allowed_attributes_effective(as_sync.find_object(facts.target.dn))
            source = f"asked the DC bound as {sync_bind_user}"
    else:
        try:
            allowed = step.directory.allowed_attributes_effective(facts.target)
            source = "as recorded in the snapshot (asked the DC bound as the sync account)"
        except DirectoryError:
            source = "not recorded in the snapshot"
    return Confirmation(states, allowed, source)


def sync_state(path: str, directory: Directory) -> SyncState | None:
    """The collector's output: the given file, or on the built-in lab the lab's own."""
    from .syncserver import SyncState, lab_sync_state_path

    if path:
        return SyncState.load(path)
    if directory.kind == "lab":
        return SyncState.load(lab_sync_state_path())
    return None


def sync_step(name: str, directory: Directory, state: SyncState | None) -> Step:
    """KB step 1 as a Step: the three sync.* findings (SKIP, honestly, without a state)."""
    from .syncserver import not_collected, sync_findings

    step = Step(name, directory, CheckRequest(None))
    step.findings = sync_findings(state) if state is not None else not_collected()
    return step


def objects_to_check(user: str, state_path: str) -> list[str]:
    """Runbook 03's scope: the objects that failed export in the sync state, else `user`.
    A state whose export errors could not be read (a Cloud Sync host, csexport missing)
    names no object: that is exit 3 with one line, never an empty, all-clear run."""
    if state_path:
        from .syncserver import SyncState, SyncStateError

        state = SyncState.load(state_path)
        if not state.exports_read:
            raise SyncStateError(f"sync state {state_path!r} holds no export errors to follow (they could not be read "
                                 "on that server): name the objects to check with `user` instead")  # fmt: skip
        if not state.failed_objects():
            raise SyncStateError(f"no object failed export with 8344 in {state_path!r}, so there is nothing to "
                                 "follow here (01 reports the export as clean): give `user` to check one object")  # fmt: skip
        return state.failed_objects()
    return [user]


def scan_step(
    directory: Directory,
    scope: str,
    request: CheckRequest,
    page_size: int,
    csv_out: IO[str] | None,
    on_progress: Callable[[int, int], None],
) -> tuple[Step, ScanResult]:
    """Runbook 05's scan of `scope` (empty: the default scan base) as a Step whose
    findings are the failing objects."""
    from .scan import findings as scan_findings
    from .scan import scan
    from .targets import default_scan_base

    result = scan(directory, request, scope or default_scan_base(directory), page_size=page_size, csv_out=csv_out,
                  on_progress=on_progress)  # fmt: skip
    step = Step("05-scan-scope", directory, request)
    step.findings = scan_findings(result, request)
    return step, result


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

    @property
    def usable(self) -> bool:
        return self.plan is not None and not self.plan.empty

    def text(self) -> str:
        return self.plan.describe() if self.plan is not None else self.note

    def apply(self) -> str:
        """Back up, write (compare-and-swap), re-run the checks; returns what happened."""
        from .remedy import apply_plan

        assert self.plan is not None
        applied = apply_plan(self.plan, self.step.directory, Path(self.backup_dir) if self.backup_dir else None)
        self.done = applied.done
        self.backups = [str(p) for p in applied.backups]
        _, self.after = run_checks(self.step.directory, self.step.request)
        verdicts = ", ".join(f"{f.id.removeprefix('acl.write.')} {f.status.value}" for f in self.after
                             if f.id.startswith("acl.write."))  # fmt: skip
        undo = [f"undo: {command('richcoex', 'restore', b)} --server …" for b in reversed(self.backups)]
        return "\n".join([*self.done, f"after: {verdicts}", *undo])

    def findings(self, *prefixes: str) -> list[Finding]:
        """After the fix when it was applied, else as found."""
        chosen = self.after or self.step.findings
        return [f for f in chosen if f.id.startswith(prefixes)] if prefixes else list(chosen)

    def evidence(self) -> dict[str, Any]:
        return {"plan": self.text(), "applied": self.done, "backups": self.backups,
                "before": {f.id: f.status.value for f in self.step.findings}}  # fmt: skip


def deny_indexes(remove_deny: str) -> tuple[int, ...]:
    """`"3, 7"` → (3, 7): the runbook parameter's comma-separated ACE indexes."""
    try:
        return tuple(int(i) for i in remove_deny.replace(" ", "").split(",") if i)
    except ValueError:
        raise UsageError(f"remove_deny {remove_deny!r}: expected comma-separated ACE indexes, e.g. 3,7") from None


def plan_for(step: Step, backup_dir: str = "", remove_deny: str = "") -> Fix:
    """The least-privilege plan for a step's object (or, without one, its group membership);
    `backup_dir` empty: the user's data folder (`remedy.default_backup_dir`), never the
    runbooks folder a notebook executes in."""
    if step.directory.writer() is None:
        return Fix(step, None, "A fix needs a live DC (server, bind_user): a snapshot cannot be written. "
                               "The findings above say what it would change.", backup_dir)  # fmt: skip
    from .remedy import FixOptions, plan_fix

    plan = plan_fix(step.directory, step.request, FixOptions(remove_deny=deny_indexes(remove_deny)))
    return Fix(step, plan, "", backup_dir)


def apply_fixes(fixes: Iterable[Fix]) -> list[str]:
    """Apply every usable plan; what happened, one text per fix."""
    return [fix.apply() for fix in fixes if fix.usable]
