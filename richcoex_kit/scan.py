"""Scan an OU or a whole domain: every object whose write-back would fail, and why.

Built to run at the speed of the directory itself (`benchmarks/scan.py`):
- one paged search reads only what the verdict needs (descriptor with the SD-flags
  control, objectClass, adminCount); the sync account's token and the schema GUIDs are
  read once;
- a fetcher thread pulls the next page while this thread evaluates the last one (the
  DC's wait releases the GIL);
- each distinct (descriptor, structural class) is evaluated once — a DC stores identical
  descriptors once, and a forest of 500,000 users shares a few hundred;
- results stream to the CSV as they come; only failing objects are kept, for the
  summary, so memory stays flat as the scope grows.
"""

from __future__ import annotations

import csv
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .checks import (
    KEEP_ADMINS_OUT,
    CheckRequest,
    attribute_refs,
    describe_decision,
    display_names,
    failure_cause,
    gather,
    protection,
    structural_class,
)
from .directory.base import DEFAULT_SCAN_FILTER, Directory, ScanRow
from .directory.errors import DirectoryError
from .dn import parent
from .findings import Finding, Status
from .schema import WRITEBACK_CLASSES
from .security import Control, DescriptorError, SecurityDescriptor
from .security.access import AttributeRef, decide_writes, evaluate_all, token_bytes
from .security.descriptor import read_header
from .text import command


def default_filter() -> str:
    """Users that are persons, inetOrgPerson, contacts and groups — the classes write-back
    reaches; computers, gMSAs and sMSAs (subclasses of user) excluded. `--filter` overrides."""
    return DEFAULT_SCAN_FILTER


@dataclass(frozen=True, eq=False)
class Verdict:
    """The decision for one distinct (descriptor, class): shared by every object that has
    it, so what is derived from it (its CSV cells included) is computed once, here."""

    writable: tuple[bool, ...]  # True also where the attribute is never written back to the class
    causes: tuple[str | None, ...]
    deciding: tuple[dict[str, Any] | None, ...]  # the refusing ACE as `checks.describe_decision` gives it
    protected: bool
    applicable: tuple[bool, ...] = ()  # per attribute: does the product write it back to this class?
    failing: bool = field(init=False)
    cause_set: frozenset[str] = field(init=False)
    csv_cells: tuple[str, ...] = field(init=False)  # each attribute's PASS/FAIL, then inheritance
    csv_tail: tuple[str, str] = field(init=False)  # causes, deciding ACEs

    def __post_init__(self) -> None:
        deciding = " ".join(sorted({str(d["sddl"]) for d in self.deciding if d}))
        causes = frozenset(c for c in self.causes if c)
        applicable = self.applicable or (True,) * len(self.writable)
        cells = (
            *(
                ("PASS" if ok else "FAIL") if used else "n/a"
                for ok, used in zip(self.writable, applicable, strict=True)
            ),
            "disabled" if self.protected else "inherits",
        )

        object.__setattr__(self, "failing", not all(self.writable))
        object.__setattr__(self, "cause_set", causes)
        object.__setattr__(self, "csv_cells", cells)
        object.__setattr__(self, "csv_tail", (" ".join(sorted(causes)), deciding))


@dataclass
class FailingObject:
    dn: str
    object_class: str
    admin_count: int | None
    verdict: Verdict


@dataclass(frozen=True)
class UnreadableObject:
    """An object the scan could not judge, and why: it is an ERROR, never a silent pass."""

    dn: str
    object_class: str
    why: str


def unreadable_reason(row: ScanRow) -> str:
    """Why `Scanner.verdict` gave no verdict for `row`, in words an engineer can act on."""
    if not row.object_classes:
        return "objectClass came back empty: the bound account may not read it"
    if row.descriptor is None:
        return "nTSecurityDescriptor came back empty: the bound account lacks Read Permissions (READ_CONTROL) on it"
    return "nTSecurityDescriptor is malformed"


@dataclass
class ScanResult:
    """What the summary, the JSON findings and the HTML page are made from."""

    base: str
    attributes: tuple[str, ...]
    scanned: int = 0
    distinct_descriptors: int = 0
    failing: list[FailingObject] = field(default_factory=list)
    by_cause: Counter[str] = field(default_factory=Counter)
    by_ou: Counter[str] = field(default_factory=Counter)
    unreadable: list[UnreadableObject] = field(default_factory=list)
    incomplete: str | None = None
    seconds: float = 0.0
    resolution: str = ""  # which product, account and group the verdicts assume, and why
    assumed: dict[str, Any] = field(default_factory=dict)  # the same as the evidence records it

    @property
    def rate(self) -> float:
        return self.scanned / self.seconds if self.seconds else 0.0

    def context(self) -> dict[str, Any]:
        """What the evidence keeps beside a scan's findings."""
        return {**self.assumed, "scope": self.base, "scanned": self.scanned, "failing_objects": len(self.failing),
                "distinct_descriptors": self.distinct_descriptors, "unreadable": len(self.unreadable),
                "incomplete": self.incomplete}  # fmt: skip


class Scanner:
    """Evaluates rows for one token and attribute list, with the distinct-descriptor cache.

    The directory connection is shared with the fetcher thread, and an ldap3 connection is
    not thread-safe: the usual classes are resolved before fetching starts, and a rare
    other class is resolved under `lock`, which the fetcher also holds while it reads.
    """

    def __init__(self, directory: Directory, request: CheckRequest) -> None:
        facts = gather(directory, request)
        if facts.token is None:
            raise DirectoryError(f"cannot scan without the sync account's token: {facts.token_problem}")
        self.facts = facts
        self.directory = directory
        self.token = token_bytes(facts.token.sids)
        self.refs: tuple[AttributeRef, ...] = tuple(attribute_refs(facts))
        self.names = display_names(facts)
        self.cache: dict[tuple[bytes, str, str | None], Verdict] = {}
        # Truly protected accounts (transitive members of protected groups), read once.
        self.protected = directory.protected_accounts()
        self.lock = threading.Lock()
        # Only the structural class decides (the access check's object-type tree level 0).
        known = (*WRITEBACK_CLASSES, "computer")
        directory.class_guids(known)  # one round trip fills the connection's cache…
        self.class_cache = {name: directory.class_guids((name,)) for name in known}  # …read per name (unknown: ())

    def _classes(self, structural_path: tuple[str, ...]) -> tuple[Any, ...]:
        key = structural_path[-1] if structural_path else "top"
        if key not in self.class_cache:
            with self.lock:
                self.class_cache[key] = self.directory.class_guids((key,))
        return self.class_cache[key]

    def verdict(self, row: ScanRow) -> Verdict | None:
        if row.descriptor is None or not row.object_classes:  # no class: no verdict to trust
            return None
        structural = structural_class(row.object_classes)
        marked = protection(row.admin_count, row.dn.lower() in self.protected)
        key = (row.descriptor, structural, marked)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        classes = self._classes(row.object_classes)
        applicable = self._applicable(structural)
        try:
            # The fused walk decides from the bytes; only a refused write needs the parsed
            # descriptor, for its cause and deciding ACE. Where no two objects share a
            # descriptor, this is most of the scan's own time (benchmarks/scan.py --unique).
            writes = decide_writes(row.descriptor, self.token, self.refs, classes)
            if all(allowed or not used for (allowed, _, _), used in zip(writes, applicable, strict=True)):
                verdict = self._writable(read_header(row.descriptor)[3], applicable)
            else:
                sd = SecurityDescriptor.from_bytes(row.descriptor)
                verdict = self._refused(sd, classes, applicable, row.admin_count, marked == "adminsdholder")
        except DescriptorError:
            return None
        self.cache[key] = verdict
        return verdict

    def _applicable(self, structural: str) -> tuple[bool, ...]:
        """Per attribute: does the product write it back to objects of this class?"""
        written = self.facts.product.attributes_for(structural, tuple(ref.name for ref in self.refs))
        return tuple(ref.name in written for ref in self.refs)

    def _writable(self, control: int, applicable: tuple[bool, ...]) -> Verdict:
        n = len(self.refs)
        return Verdict((True,) * n, (None,) * n, (None,) * n, protected=bool(control & Control.DACL_PROTECTED),
                       applicable=applicable)  # fmt: skip

    def _refused(self, sd: SecurityDescriptor, classes: tuple[Any, ...], applicable: tuple[bool, ...],
                 admin_count: int | None, protected: bool) -> Verdict:  # fmt: skip
        decisions = evaluate_all(sd, self.token, self.refs, classes, names=self.names)
        # A refusal of an attribute never written back to this class is no failure.
        ordered = zip((decisions[ref.name] for ref in self.refs), applicable, strict=True)
        refused = [d if used and not d.allowed else None for d, used in ordered]
        return Verdict(
            writable=tuple(d is None for d in refused),
            causes=tuple(None if d is None else failure_cause(d, sd, admin_count, protected) for d in refused),
            deciding=tuple(None if d is None else describe_decision(d, self.names) for d in refused),
            protected=sd.dacl_protected,
            applicable=applicable,
        )


def _pages(rows: Iterator[ScanRow], size: int, stop: threading.Event,
           lock: threading.Lock) -> Iterator[list[ScanRow] | BaseException]:  # fmt: skip
    """Fetch in a thread, one page ahead of the evaluation (holding `lock` while reading).

    When the consumer stops early (Ctrl-C, an error), `stop` is set: the fetcher reads no
    further row and never blocks on a full hand-over, and the thread is joined here — so no
    second thread is left on the connection a notebook kernel goes on using."""
    handoff: queue.Queue[list[ScanRow] | BaseException | None] = queue.Queue(maxsize=2)

    def offer(item: list[ScanRow] | BaseException | None) -> None:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def fetch() -> None:
        page: list[ScanRow] = []
        try:
            while not stop.is_set():
                with lock:
                    row = next(rows, None)
                if row is None:
                    break
                page.append(row)
                if len(page) >= size:
                    offer(page)
                    page = []
            if page:
                offer(page)
        except BaseException as error:  # handed to the consumer, which reports it
            offer(error)
        finally:
            offer(None)

    fetcher = threading.Thread(target=fetch, name="richcoex-scan-fetch", daemon=True)
    fetcher.start()
    try:
        while (item := handoff.get()) is not None:
            yield item
    finally:
        stop.set()
        fetcher.join(timeout=60)


def scan(
    directory: Directory,
    request: CheckRequest,
    base: str | None = None,
    ldap_filter: str | None = None,
    page_size: int = 1000,
    csv_out: IO[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    """Scan `base` (default: the domain). Ctrl-C or a lost connection ends the scan
    cleanly: what was scanned is kept and `incomplete` says why."""
    scanner = Scanner(directory, request)
    base = base or directory.domain().base_dn
    names = tuple(ref.name for ref in scanner.refs)
    result = ScanResult(base=base, attributes=names, resolution=scanner.facts.resolution(),
                        assumed=scanner.facts.context())  # fmt: skip
    writer = csv.writer(csv_out) if csv_out is not None else None
    if writer:
        writer.writerow(["dn", "class", *names, "inheritance", "adminCount", "causes", "deciding ACEs"])
    unknown = ("?",) * len(names) + ("",)
    started = time.perf_counter()
    stop = threading.Event()
    rows = directory.scan_objects(base, ldap_filter or default_filter(), page_size)
    try:
        for page in _pages(rows, page_size, stop, scanner.lock):
            if isinstance(page, BaseException):
                raise page
            for row in page:
                verdict = scanner.verdict(row)
                result.scanned += 1
                object_class = row.object_classes[-1] if row.object_classes else ""
                if verdict is None:
                    why = unreadable_reason(row)
                    result.unreadable.append(UnreadableObject(row.dn, object_class, why))
                    if writer:
                        writer.writerow([row.dn, object_class, *unknown, row.admin_count or "", f"ERROR: {why}", ""])
                    continue
                if verdict.failing:
                    result.failing.append(FailingObject(row.dn, object_class, row.admin_count, verdict))
                    result.by_cause.update(verdict.cause_set)
                    result.by_ou[parent(row.dn)] += 1
                if writer:
                    writer.writerow([row.dn, object_class, *verdict.csv_cells, row.admin_count or "",
                                     *verdict.csv_tail])  # fmt: skip
            if on_progress:
                on_progress(result.scanned, len(result.failing))
    except KeyboardInterrupt:
        result.incomplete = "interrupted (Ctrl-C)"
    except DirectoryError as error:
        result.incomplete = str(error)
    finally:
        stop.set()
    result.distinct_descriptors = len(scanner.cache)
    result.seconds = time.perf_counter() - started
    return result


def findings(result: ScanResult, request: CheckRequest) -> list[Finding]:
    """One scan.readable ERROR per object that could not be checked, then one
    acl.write.<attr> FAIL per failing object and attribute, grouped by attribute."""
    out = [Finding("scan.readable", Status.ERROR, "The object could be checked",
                   f"{obj.dn} could not be checked: {obj.why}.", object=obj.dn,
                   details={"class": obj.object_class, "why": obj.why},
                   remedy="Scan bound as an account with Read Permissions on every object in scope "
                          "(or capture the snapshot again).")
           for obj in result.unreadable]  # fmt: skip
    if result.incomplete:
        out.append(Finding("scan.complete", Status.ERROR, "The whole scope was scanned",
                           f"The scan of {result.base} stopped after {result.scanned:,} objects: {result.incomplete}. "
                           "The objects after that were not checked.", object=result.base,
                           remedy="Run the scan again (a smaller --base, or when the DC is reachable)."))  # fmt: skip
    elif not result.scanned:
        out.append(Finding("scan.complete", Status.WARN, "The whole scope was scanned",
                           f"{result.base} holds no user, inetOrgPerson, contact or group the scan reads: nothing "
                           "was checked there.", object=result.base,
                           remedy="Check --base (an OU or the domain that holds the synced objects)."))  # fmt: skip
    account = result.assumed.get("sync_account_resolved") or request.sync_account
    # One quoted command per object, not per refused attribute (a scan can emit 100,000s).
    fix_of = {id(obj): command("richcoex", "fix", "--user", obj.dn) for obj in result.failing}
    for index, name in enumerate(result.attributes):
        for obj in result.failing:
            if obj.verdict.writable[index]:
                continue
            cause = obj.verdict.causes[index]
            deciding = obj.verdict.deciding[index]
            why = f"the Deny ACE {deciding['sddl']} decides it" if deciding else "no ACE grants it"
            out.append(Finding(
                f"acl.write.{name}", Status.FAIL, f"{account} may write {name}",
                f"Write-back of {name} fails with 8344: {why} ({cause}).", object=obj.dn,
                details={"allowed": False, "cause": cause, "deciding_ace": deciding, "class": obj.object_class,
                         "adminCount": obj.admin_count, "inheritance": "disabled" if obj.verdict.protected else "inherits"},
                remedy=(f"AdminSDHolder-protected: {KEEP_ADMINS_OUT} Or `{fix_of[id(obj)]} --adminsdholder` "
                        "grants on CN=AdminSDHolder." if cause == "adminsdholder" else
                        f"{fix_of[id(obj)]} plans the least-privilege change."),
            ))  # fmt: skip
    return out
