"""Fixes as data: plan the least privilege that makes write-back work, show it, apply it
only when asked — backed up before, written compare-and-swap, verified after — and
restore it byte for byte.

Least privilege: one ACCESS_ALLOWED_OBJECT ACE per failing attribute (Read and Write
Property, ObjectType = the attribute's schemaIDGUID), where Microsoft's own module grants
read/write on *all* properties. The trustee is the product's: the sync account itself for
Entra Connect and Cloud Sync (granted directly, no group), the group for DirSync. An explicit Deny is reported and removed
only when the caller names it. AdminSDHolder-protected objects are never changed
directly (SDProp would revert it within the hour).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .checks import CheckRequest, Facts, attribute_refs, gather
from .directory.base import Directory, DirectoryWriter
from .directory.errors import DirectoryError, InvalidInputError
from .dn import file_label, parent
from .errors import UsageError
from .products import grant_command
from .schema import CLASSES, WRITEBACK_CLASSES
from .security import Ace, AceFlag, AceType, Acl, Right, SecurityDescriptor, Sid
from .security.access import evaluate_all
from .security.sddl import ace_to_sddl

BACKUP_SCHEMA = "richcoex.backup/1"


@dataclass(frozen=True)
class AclEdit:
    """Replace one object's DACL: `before` is the DACL-only descriptor as read (SD flags 4),
    `after` what will be written; `expected` is the DACL the DC will then hold (inherited
    ACEs recomputed), used for the diff and the prediction."""

    dn: str
    before: bytes
    after: bytes
    expected: SecurityDescriptor
    added: tuple[Ace, ...]
    removed: tuple[Ace, ...]
    protection_cleared: bool
    why: tuple[str, ...]


@dataclass(frozen=True)
class AddMember:
    group_dn: str
    member_dn: str
    why: str


@dataclass(frozen=True)
class CreateGroup:
    dn: str
    name: str
    why: str


Change = AclEdit | AddMember | CreateGroup


@dataclass
class Plan:
    """What `richcoex fix` would do, and what it will not do and why."""

    user: str | None
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    domain_sid: Sid | None = None
    resolution: str = ""  # which product, account and group the plan assumes (Facts.resolution)
    alternative: list[str] = field(default_factory=list)  # Microsoft's equivalent commands

    @property
    def empty(self) -> bool:
        return not self.changes

    def describe(self) -> str:
        """The plan as text: each change, and for DACLs the SDDL diff (+ added, - removed)."""
        lines = []
        for change in self.changes:
            if isinstance(change, CreateGroup):
                lines.append(f"CREATE GROUP {change.dn} ({change.name}) — {change.why}")
            elif isinstance(change, AddMember):
                lines.append(f"ADD MEMBER {change.member_dn} TO {change.group_dn} — {change.why}")
            else:
                lines.append(f"CHANGE DACL of {change.dn}")
                lines += [f"  why: {why}" for why in change.why]
                lines += sddl_diff(SecurityDescriptor.from_bytes(change.before), change.expected, self.domain_sid)
        lines += [f"NOTE: {note}" for note in self.notes]
        if self.changes and self.alternative:
            lines.append("ALTERNATIVE (Microsoft's tooling, instead of this plan; it grants more than the plan):")
            lines += [f"  {line}" for line in self.alternative]
        return "\n".join(lines) if lines else "Nothing to change."


def sddl_diff(before: SecurityDescriptor, after: SecurityDescriptor, domain_sid: Sid | None) -> list[str]:
    """ACE-by-ACE diff, SDDL spelling: '+' added, '-' removed, ' ' unchanged (in order)."""
    old = [ace_to_sddl(a, domain_sid) for a in before.dacl or ()]
    new = [ace_to_sddl(a, domain_sid) for a in after.dacl or ()]
    flags = []
    if before.dacl_protected != after.dacl_protected:
        flags.append(f"  {'-' if before.dacl_protected else '+'} D:P  (inheritance "
                     f"{'enabled' if before.dacl_protected else 'disabled'})")  # fmt: skip
    remaining = list(new)
    lines = []
    for ace in old:
        if ace in remaining:
            remaining.remove(ace)
            lines.append(f"    {ace}")
        else:
            lines.append(f"  - {ace}")
    lines += [f"  + {ace}" for ace in remaining]
    return flags + lines


# Read *and* Write Property, as Microsoft grants (RPWP): with WriteProperty alone the write
# lands but the confirming import cannot read the value back (measured on the lab's
# connect-write-only scenario).
GRANT_RIGHTS = Right.READ_PROPERTY | Right.WRITE_PROPERTY


def _grant(trustee: Sid, attribute_guid: uuid.UUID, inherit_to: uuid.UUID | None = None) -> Ace:
    flags = AceFlag.CONTAINER_INHERIT | AceFlag.INHERIT_ONLY if inherit_to else 0
    return Ace(AceType.ACCESS_ALLOWED_OBJECT, flags, GRANT_RIGHTS, trustee, attribute_guid, inherit_to)


def _canonical(explicit: Sequence[Ace], inherited: Sequence[Ace], grants: Sequence[Ace]) -> list[Ace]:
    """Explicit denies, explicit allows (new grants last among them), then inherited ACEs."""
    denies = [a for a in explicit if a.is_deny]
    others = [a for a in explicit if not a.is_deny]
    return [*denies, *others, *grants, *inherited]


def _inherited_from(parent: SecurityDescriptor, child_class: uuid.UUID) -> list[Ace]:
    """The ACEs a child of `child_class` gets from `parent` (MS-DTYP 2.5.3.4.2, simplified to
    what decides WriteProperty): container-inherit ACEs whose InheritedObjectType is absent or
    the child's class apply to it; other copies are inherit-only on the child."""
    result = []
    for ace in parent.dacl or ():
        if not ace.flags & AceFlag.CONTAINER_INHERIT:
            continue
        applies = ace.inherited_object_type in (None, child_class)
        flags = AceFlag.INHERITED | (0 if applies else AceFlag.INHERIT_ONLY)
        if not ace.flags & AceFlag.NO_PROPAGATE_INHERIT:
            flags |= AceFlag.CONTAINER_INHERIT
        result.append(Ace(ace.type, flags, ace.mask, ace.sid, ace.object_type, ace.inherited_object_type))
    return result


@dataclass(frozen=True)
class FixOptions:
    """What the caller allows beyond the default object-level grant."""

    scope_ou: str | None = None
    remove_deny: tuple[int, ...] = ()
    drop_explicit: bool = False
    adminsdholder: bool = False
    create_group_in: str | None = None


def writer_of(directory: Directory) -> DirectoryWriter:
    """The directory's write capability; a snapshot or the lab has none (exit 2)."""
    writer = directory.writer()
    if writer is None:
        raise UsageError(f"a {directory.kind} cannot be changed: give a live --server to plan or apply a fix")
    return writer


def plan_fix(directory: Directory, request: CheckRequest, options: FixOptions = FixOptions()) -> Plan:
    """Read the facts and derive the changes that make every attribute writable."""
    writer = writer_of(directory)
    facts = gather(directory, request)
    plan = Plan(request.user, domain_sid=facts.domain.domain_sid, resolution=facts.resolution())
    assert facts.sync_account is not None and facts.token is not None  # gather raises otherwise
    if facts.sync_account.sid is None:
        raise DirectoryError(f"{facts.sync_account.dn} has no objectSid: it cannot be granted anything")
    trustee = (facts.sync_account.sid, facts.account_name)
    if facts.product.uses_group:
        if facts.group is None:
            return _plan_group(facts, options, plan)
        trustee = (facts.group.sid, facts.group.name)
        if facts.group.sid not in facts.token.sids:
            plan.changes.append(AddMember(facts.group.dn, facts.sync_account.dn,
                                          "group.sync-account-member FAILed (KB step 2.1)"))  # fmt: skip
    if facts.target is not None:
        edit = _plan_object(directory, writer, facts, options, plan, trustee)
        if edit is not None:
            plan.changes.append(edit)
            plan.alternative = _alternative(facts, edit)
    return plan


def _plan_group(facts: Facts, options: FixOptions, plan: Plan) -> Plan:
    """DirSync without its group: create it (where asked) with the account in it."""
    name = facts.group_name or ""
    if not options.create_group_in:
        plan.notes.append(f"group {name} does not exist: pass --create-group-in <container DN> to create "
                          "it, then run fix again to grant it")  # fmt: skip
        return plan
    dn = f"CN={name},{options.create_group_in}"
    plan.changes.append(CreateGroup(dn, name, "group.exists FAILed (KB step 2.1)"))
    assert facts.sync_account is not None
    plan.changes.append(AddMember(dn, facts.sync_account.dn, "the sync account must be in the new group"))
    plan.notes.append("run fix again after the group exists to plan its grants on the object")
    return plan


def _alternative(facts: Facts, edit: AclEdit) -> list[str]:
    """Microsoft's command for the same fix (`products.grant_command`), for shops that must
    use Microsoft's tooling: the connector's whole Exchange hybrid grant on the object (or
    OU), Cloud Sync's domain-wide grant, or DirSync's dsacls lines per attribute."""
    assert facts.sync_account is not None
    names = tuple(a.name for a in facts.attributes if a.schema is not None
                  and any(g.object_type == a.schema.schema_id for g in edit.added))  # fmt: skip
    account_domain = ".".join(
        p.split("=", 1)[1] for p in facts.sync_account.dn.split(",") if p.upper().startswith("DC=")
    )
    grantee = f"{facts.domain.netbios_name}\\{facts.group_name or facts.account_name}"
    lines = [grant_command(facts.product.id, facts.account_name, account_domain, edit.dn, grantee, names)]
    if edit.protection_cleared and facts.product.id != "dirsync":
        lines.append("then re-enable inheritance on the object (ADUC → Security → Advanced → Enable inheritance)")
    return lines


def _token_after(facts: Facts, plan: Plan) -> frozenset[Sid]:
    """The token once planned memberships are in place."""
    assert facts.token is not None
    joins = facts.group is not None and any(isinstance(c, AddMember) for c in plan.changes)
    return facts.token.sids | ({facts.group.sid} if joins and facts.group else set())


def _plan_object(directory: Directory, writer: DirectoryWriter, facts: Facts, options: FixOptions,
                 plan: Plan, trustee: tuple[Sid, str]) -> AclEdit | None:  # fmt: skip
    target = facts.target
    assert target is not None
    trustee_sid, trustee_name = trustee
    refs = attribute_refs(facts)
    if not refs:
        return None
    structural = facts.target_class_guids[0] if facts.target_class_guids else CLASSES["user"]
    token = _token_after(facts, plan)
    if target.admin_count == 1 and not options.adminsdholder:
        plan.notes.append(f"{target.dn} is AdminSDHolder-protected (adminCount=1): SDProp would revert a change on "
                          "the object within 60 minutes, so none is planned. Pass --adminsdholder to grant on "
                          "CN=AdminSDHolder (every protected account), or remove it from protected groups.")  # fmt: skip
        return None
    dn = target.dn
    if target.admin_count == 1:
        dn = f"CN=AdminSDHolder,CN=System,{facts.domain.base_dn}"
    before = writer.read_dacl(dn)
    current = SecurityDescriptor.from_bytes(before)
    aces = list(current.dacl or ())
    why: list[str] = []
    removed: list[Ace] = []
    for index in options.remove_deny:
        if not 0 <= index < len(aces) or not aces[index].is_deny or aces[index].is_inherited:
            raise UsageError(f"--remove-deny {index}: ACE {index} of {dn} is not an explicit Deny")
        removed.append(aces[index])
        why.append(f"remove explicit Deny ACE {index} as asked ({ace_to_sddl(aces[index], plan.domain_sid)})")
    explicit = [a for a in aces if not a.is_inherited and a not in removed]
    inherited = [a for a in aces if a.is_inherited]
    protection_cleared = current.dacl_protected and target.admin_count != 1
    if protection_cleared:
        inherited = _inherited_from(SecurityDescriptor.from_bytes(writer.read_dacl(parent(dn))), structural)
        why.append("object.inheritance FAILed: enable inheritance (the DC re-applies the parent's ACEs)")
        if options.drop_explicit:
            why.append(f"drop the {len(explicit)} explicit ACEs as asked")
            removed += explicit
            explicit = []
    if options.scope_ou:
        return _plan_ou_grant(writer, facts, options.scope_ou, refs, trustee_sid, plan)
    predicted = current.with_dacl(
        Acl.from_aces(_canonical(explicit, inherited, [])), protected=False if protection_cleared else None
    )
    decisions = evaluate_all(predicted, token, refs, facts.target_class_guids, object_sid=target.sid)
    grants = []
    for ref in refs:
        decision = decisions[ref.name]
        if decision.allowed:
            continue
        if decision.ace is not None and decision.ace.is_deny:
            plan.notes.append(f"{ref.name} stays blocked by Deny ACE {decision.ace_index} "
                              f"({ace_to_sddl(decision.ace, plan.domain_sid)}); pass --remove-deny "
                              f"{decision.ace_index} to remove it")  # fmt: skip
            continue
        grants.append(_grant(trustee_sid, ref.schema_id))
        why.append(f"acl.write.{ref.name} FAILed: allow {trustee_name} Read/Write Property on {ref.name} only")
    if not grants and not removed and not protection_cleared:
        return None
    expected = current.with_dacl(Acl.from_aces(_canonical(explicit, inherited, grants)),
                                 protected=False if protection_cleared else None)  # fmt: skip
    written = expected if not protection_cleared else current.with_dacl(
        Acl.from_aces(_canonical(explicit, [], grants)), protected=False)  # fmt: skip
    return AclEdit(
        dn, before, written.to_bytes(), expected, tuple(grants), tuple(removed), protection_cleared, tuple(why)
    )


def _plan_ou_grant(writer: DirectoryWriter, facts: Facts, ou: str, refs: Iterable[Any], trustee: Sid,
                   plan: Plan) -> AclEdit | None:  # fmt: skip
    """Grant on an OU instead: inheritable, attribute-scoped, limited to the classes
    Microsoft's module covers (user, inetOrgPerson, group, contact)."""
    before = writer.read_dacl(ou)
    current = SecurityDescriptor.from_bytes(before)
    aces = list(current.dacl or ())
    grants = [_grant(trustee, ref.schema_id, CLASSES[cls]) for ref in refs for cls in WRITEBACK_CLASSES]
    grants = [g for g in grants if g not in aces]
    if not grants:
        plan.notes.append(f"{ou} already grants every attribute inheritably")
        return None
    explicit = [a for a in aces if not a.is_inherited]
    inherited = [a for a in aces if a.is_inherited]
    expected = current.with_dacl(Acl.from_aces(_canonical(explicit, inherited, grants)))
    why = (f"grant on {ou} for {', '.join(WRITEBACK_CLASSES)} descendants, one ACE per attribute and class",)
    return AclEdit(ou, before, expected.to_bytes(), expected, tuple(grants), (), False, why)


# -- applying ---------------------------------------------------------------------------


@dataclass
class Applied:
    backups: list[Path] = field(default_factory=list)
    done: list[str] = field(default_factory=list)


def _backup(folder: Path, record: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{record['kind']}-{file_label(record.get('dn', record.get('group_dn')))}.json"
    _write_backup(path, record)
    return path


def _write_backup(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps({"schema": BACKUP_SCHEMA, "kit_version": __version__, **record}, indent=2) + "\n")


def apply_plan(plan: Plan, directory: Directory, backup_dir: Path) -> Applied:
    """Back up, then write each change; a concurrent change stops the run with nothing of
    that change written (ConcurrentChangeError), and earlier changes keep their backups."""
    writer = writer_of(directory)
    who = writer.who
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    applied = Applied()
    for change in plan.changes:
        if isinstance(change, CreateGroup):
            applied.backups.append(_backup(backup_dir, {"kind": "group", "dn": change.dn, "time": when, "who": who}))
            writer.create_group(change.dn, change.name)
            applied.done.append(f"created {change.dn}")
        elif isinstance(change, AddMember):
            record = {"kind": "membership", "group_dn": change.group_dn, "member_dn": change.member_dn,
                      "time": when, "who": who}  # fmt: skip
            applied.backups.append(_backup(backup_dir, record))
            added = writer.add_member(change.group_dn, change.member_dn)
            applied.done.append(f"added {change.member_dn} to {change.group_dn}" if added else
                                f"{change.member_dn} was already in {change.group_dn}")  # fmt: skip
        else:
            obj = directory.find_object(change.dn)
            record = {"kind": "dacl", "dn": change.dn, "object_guid": str(obj.guid),
                      "descriptor": base64.b64encode(change.before).decode(),
                      "sddl": SecurityDescriptor.from_bytes(change.before).to_sddl(plan.domain_sid),
                      "time": when, "who": who}  # fmt: skip
            path = _backup(backup_dir, record)
            applied.backups.append(path)
            writer.replace_dacl(change.dn, change.before, change.after)
            record["written"] = base64.b64encode(writer.read_dacl(change.dn)).decode()
            _write_backup(path, record)
            applied.done.append(f"changed the DACL of {change.dn} (backup {path.name})")
    return applied


def restore(backup: Path, directory: Directory, force: bool = False) -> str:
    """Undo one applied change. A DACL goes back byte for byte, compare-and-swap against
    the DACL read now; if someone changed it since the fix, refuse unless `force`."""
    try:
        record = json.loads(Path(backup).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InvalidInputError(f"backup {str(backup)!r} is not readable: {error}") from None
    if record.get("schema") != BACKUP_SCHEMA:
        raise InvalidInputError(f"{str(backup)!r} is not a richcoex backup (expected {BACKUP_SCHEMA})")
    writer = writer_of(directory)
    if record["kind"] == "membership":
        writer.remove_member(record["group_dn"], record["member_dn"])
        return f"removed {record['member_dn']} from {record['group_dn']}"
    if record["kind"] == "group":
        writer.delete(record["dn"])
        return f"deleted {record['dn']}"
    dn = record["dn"]
    obj = directory.find_object(dn)
    if str(obj.guid) != record["object_guid"]:
        raise InvalidInputError(
            f"{dn} is now a different object (objectGUID {obj.guid}, backup {record['object_guid']})"
        )
    now = writer.read_dacl(dn)
    if record.get("written") and base64.b64decode(record["written"]) != now and not force:
        raise DirectoryError(f"the DACL of {dn} changed since the fix was applied; restoring would undo that change "
                             "too — inspect it, then restore with --force")  # fmt: skip
    writer.replace_dacl(dn, now, base64.b64decode(record["descriptor"]))
    return f"restored the DACL of {dn} from {Path(backup).name}"
