"""Fixes as data: plan the least privilege that makes write-back work, show it, apply it
only when asked — backed up before, written compare-and-swap, verified after — and
restore it byte for byte.

Least privilege: one ACCESS_ALLOWED_OBJECT ACE per failing attribute (WriteProperty,
ObjectType = the attribute's schemaIDGUID, trustee = the group), where Microsoft's own
module grants read/write on *all* properties. An explicit Deny is reported and removed
only when the caller names it. AdminSDHolder-protected objects are never changed
directly (SDProp would revert it within the hour).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .checks import CheckRequest, Facts, attribute_refs, gather
from .directory.base import Directory, DirectoryObject, DirectoryWriter
from .directory.errors import InvalidInputError, NotFoundError
from .dn import file_label, parent
from .errors import CouldNotRunError, UsageError, one_line
from .files import private_folder, write_private
from .jsondoc import compile_schema, parse, validate
from .schema import CLASSES, WRITEBACK_CLASSES
from .security import Ace, AceFlag, AceType, Acl, DescriptorError, Right, SecurityDescriptor, Sid
from .security.access import evaluate_all
from .security.sddl import ace_to_sddl


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


def _grant(group: Sid, attribute_guid: uuid.UUID, inherit_to: uuid.UUID | None = None) -> Ace:
    flags = AceFlag.CONTAINER_INHERIT | AceFlag.INHERIT_ONLY if inherit_to else 0
    return Ace(AceType.ACCESS_ALLOWED_OBJECT, flags, Right.WRITE_PROPERTY, group, attribute_guid, inherit_to)


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
    plan = Plan(request.user, domain_sid=facts.domain.domain_sid)
    if facts.group is None:
        if not options.create_group_in:
            plan.notes.append(f"group {request.group} does not exist: pass --create-group-in <container DN> to create "
                              "it, then run fix again to grant it")  # fmt: skip
            return plan
        plan.changes.append(CreateGroup(f"CN={request.group},{options.create_group_in}", request.group,
                                        "group.exists FAILed (KB step 2.1)"))  # fmt: skip
        if facts.sync_account is not None:
            plan.changes.append(AddMember(f"CN={request.group},{options.create_group_in}", facts.sync_account.dn,
                                          "the sync account must be in the new group"))  # fmt: skip
        plan.notes.append("run fix again after the group exists to plan its grants on the object")
        return plan
    if facts.sync_account is None:
        plan.notes.append(f"sync account {request.sync_account} not found: {facts.sync_account_problem}")
        return plan
    if facts.token is not None and facts.group.sid not in facts.token.sids:
        plan.changes.append(AddMember(facts.group.dn, facts.sync_account.dn,
                                      "group.sync-account-member FAILed (KB step 2.1)"))  # fmt: skip
    if facts.target is not None:
        edit = _plan_object(directory, writer, facts, options, plan)
        if edit is not None:
            plan.changes.append(edit)
    return plan


def _token_after(facts: Facts, plan: Plan) -> frozenset[Sid]:
    """The token once planned memberships are in place."""
    assert facts.token is not None and facts.group is not None
    joins = any(isinstance(c, AddMember) for c in plan.changes)
    return facts.token.sids | ({facts.group.sid} if joins else set())


def _plan_object(directory: Directory, writer: DirectoryWriter, facts: Facts, options: FixOptions,
                 plan: Plan) -> AclEdit | None:  # fmt: skip
    target, group = facts.target, facts.group
    assert target is not None and group is not None
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
        return _plan_ou_grant(writer, facts, options.scope_ou, refs, group.sid, plan)
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
        grants.append(_grant(group.sid, ref.schema_id))
        why.append(f"acl.write.{ref.name} FAILed: allow {group.name} WriteProperty on {ref.name} only")
    if not grants and not removed and not protection_cleared:
        return None
    expected = current.with_dacl(Acl.from_aces(_canonical(explicit, inherited, grants)),
                                 protected=False if protection_cleared else None)  # fmt: skip
    written = expected if not protection_cleared else current.with_dacl(
        Acl.from_aces(_canonical(explicit, [], grants)), protected=False)  # fmt: skip
    return AclEdit(
        dn, before, written.to_bytes(), expected, tuple(grants), tuple(removed), protection_cleared, tuple(why)
    )


def _plan_ou_grant(writer: DirectoryWriter, facts: Facts, ou: str, refs: Iterable[Any], group: Sid,
                   plan: Plan) -> AclEdit | None:  # fmt: skip
    """Grant on an OU instead: inheritable, attribute-scoped, limited to the classes
    Microsoft's module covers (user, inetOrgPerson, group, contact)."""
    before = writer.read_dacl(ou)
    current = SecurityDescriptor.from_bytes(before)
    aces = list(current.dacl or ())
    grants = [_grant(group, ref.schema_id, CLASSES[cls]) for ref in refs for cls in WRITEBACK_CLASSES]
    grants = [g for g in grants if g not in aces]
    if not grants:
        plan.notes.append(f"{ou} already grants every attribute inheritably")
        return None
    explicit = [a for a in aces if not a.is_inherited]
    inherited = [a for a in aces if a.is_inherited]
    expected = current.with_dacl(Acl.from_aces(_canonical(explicit, inherited, grants)))
    why = (f"grant on {ou} for {', '.join(WRITEBACK_CLASSES)} descendants, one ACE per attribute and class",)
    return AclEdit(ou, before, expected.to_bytes(), expected, tuple(grants), (), False, why)


# -- applying: the backup journal ------------------------------------------------------
#
# Each change gets one record, written completely (files.write_private: temporary file,
# fsync, rename) *before* the change; a record that cannot be written stops the fix with
# nothing changed. It names the object by objectGUID and objectClass and says whether the
# change was applied: `applied` turns true (the record rewritten atomically) only after
# the write succeeded. Restore acts only on applied records, finds the object by GUID,
# deletes only an object whose GUID the kit recorded when it created it, and removes only
# a membership the kit itself added.

BACKUP_SCHEMA = "richcoex.backup/2"
_BACKUP_COMMON: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "kind", "applied", "time", "who"],
    "properties": {"schema": {"const": BACKUP_SCHEMA}, "kind": {"enum": ["dacl", "membership", "group"]},
                   "applied": {"type": "boolean"}, "time": {"type": "string"}, "who": {"type": "string"}},
}  # fmt: skip
_STRINGS = {"type": "string"}
_MAYBE = {"type": ["string", "null"]}
_BACKUP_KINDS: dict[str, dict[str, Any]] = {
    "dacl": {"required": ["dn", "object_guid", "object_class", "descriptor"],
             "properties": {"dn": _STRINGS, "object_guid": _STRINGS, "object_class": _STRINGS,
                            "descriptor": _STRINGS, "written": _MAYBE}},
    "membership": {"required": ["group_dn", "group_guid", "object_class", "member_dn", "member_guid", "added"],
                   "properties": {"group_dn": _STRINGS, "group_guid": _STRINGS, "object_class": _STRINGS,
                                  "member_dn": _STRINGS, "member_guid": _STRINGS, "added": {"type": "boolean"}}},
    "group": {"required": ["dn", "name", "object_class", "created_guid"],
              "properties": {"dn": _STRINGS, "name": _STRINGS, "object_class": _STRINGS, "created_guid": _MAYBE}},
}  # fmt: skip


class RestoreRefused(CouldNotRunError):
    """Restore will not do what the backup asks: it would undo something the kit did not do."""


def default_backup_dir() -> Path:
    """Outside any source tree or installed runbooks folder: the user's data folder
    ($XDG_DATA_HOME/richcoex/backups, else ~/.local/share/richcoex/backups)."""
    root = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(root).resolve() / "richcoex" / "backups"


@dataclass
class Applied:
    backups: list[Path] = field(default_factory=list)
    done: list[str] = field(default_factory=list)


class _Journal:
    """One backup file per change, in `folder` (absolute, private)."""

    def __init__(self, folder: Path, who: str) -> None:
        self.folder = private_folder(Path(folder).resolve())
        self.who = who
        self.when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

    def begin(self, kind: str, label: str, **facts: Any) -> tuple[Path, dict[str, Any]]:
        """Write the record (applied: false) before the change; raises if it cannot."""
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"{stamp}-{kind}-{file_label(label)}.json"
        record = {"schema": BACKUP_SCHEMA, "kit_version": __version__, "kind": kind, "applied": False,
                  "time": self.when, "who": self.who, **facts}  # fmt: skip
        _save(path, record)
        return path, record

    @staticmethod
    def applied(path: Path, record: dict[str, Any], **facts: Any) -> None:
        """Mark the record applied (atomically): only now may restore undo it."""
        record.update(facts, applied=True)
        try:
            _save(path, record)
        except CouldNotRunError as error:
            raise CouldNotRunError(f"the change was applied but its backup {path} could not be marked applied "
                                   f"({error}); restore from its SDDL by hand") from None  # fmt: skip


def _save(path: Path, record: dict[str, Any]) -> None:
    write_private(path, json.dumps(record, indent=2) + "\n")


def _structural(obj: DirectoryObject) -> str:
    return obj.object_classes[-1] if obj.object_classes else ""


def apply_plan(plan: Plan, directory: Directory, backup_dir: Path | None = None) -> Applied:
    """Journal, then write each change; a concurrent change stops the run with nothing of
    that change written (ConcurrentChangeError) and its record left unapplied, and earlier
    changes keep their applied records."""
    writer = writer_of(directory)
    journal = _Journal(backup_dir or default_backup_dir(), writer.who)
    applied = Applied()
    for change in plan.changes:
        if isinstance(change, CreateGroup):
            path, record = journal.begin("group", change.dn, dn=change.dn, name=change.name, object_class="group",
                                         created_guid=None)  # fmt: skip
            applied.backups.append(path)
            writer.create_group(change.dn, change.name)
            journal.applied(path, record, created_guid=str(directory.find_object(change.dn).guid))
            applied.done.append(f"created {change.dn}")
        elif isinstance(change, AddMember):
            group, member = directory.find_object(change.group_dn), directory.find_object(change.member_dn)
            path, record = journal.begin("membership", change.group_dn, group_dn=group.dn, group_guid=str(group.guid),
                                         object_class=_structural(group), member_dn=member.dn,
                                         member_guid=str(member.guid), added=False)  # fmt: skip
            applied.backups.append(path)
            added = writer.add_member(group.dn, member.dn)
            journal.applied(path, record, added=added)
            applied.done.append(f"added {member.dn} to {group.dn}" if added else
                                f"{member.dn} was already in {group.dn}")  # fmt: skip
        else:
            obj = directory.find_object(change.dn)
            path, record = journal.begin("dacl", change.dn, dn=obj.dn, object_guid=str(obj.guid),
                                         object_class=_structural(obj),
                                         descriptor=base64.b64encode(change.before).decode(),
                                         sddl=SecurityDescriptor.from_bytes(change.before).to_sddl(plan.domain_sid),
                                         written=None)  # fmt: skip
            applied.backups.append(path)
            writer.replace_dacl(change.dn, change.before, change.after)
            journal.applied(path, record, written=base64.b64encode(writer.read_dacl(change.dn)).decode())
            applied.done.append(f"changed the DACL of {change.dn} (backup {path})")
    return applied


def load_backup(backup: Path) -> dict[str, Any]:
    """A backup record, validated: one line naming the file and what was expected."""
    where = f"backup {str(backup)!r}"
    try:
        text = Path(backup).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{where} is not readable: {error}") from None
    record = parse(text, where, InvalidInputError)
    if isinstance(record, dict) and record.get("schema") == "richcoex.backup/1":
        raise InvalidInputError(f"{where} was written by an older kit that did not record whether the change was "
                                "applied; restore it by hand from its SDDL")  # fmt: skip
    if not isinstance(record, dict) or record.get("schema") != BACKUP_SCHEMA:
        raise InvalidInputError(f"{where} is not a richcoex backup (expected schema {BACKUP_SCHEMA})")
    validate(record, compile_schema(_BACKUP_COMMON), where, InvalidInputError)
    validate(record, compile_schema(_BACKUP_KINDS[record["kind"]]), where, InvalidInputError)
    for key in ("object_guid", "group_guid", "member_guid", "created_guid"):
        if record.get(key) is not None:
            _guid(record[key], where, key)
    for key in ("descriptor", "written"):
        if record.get(key) is not None:
            _descriptor_bytes(record[key], where, key)
    return record


def _guid(text: str, where: str, key: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise InvalidInputError(f"{where} is malformed at {key}: expected an objectGUID, got {text[:40]!r}") from None


def _descriptor_bytes(text: str, where: str, key: str) -> bytes:
    try:
        blob = base64.b64decode(text, validate=True)
        SecurityDescriptor.from_bytes(blob)
    except (ValueError, DescriptorError) as error:
        raise InvalidInputError(f"{where} is malformed at {key}: expected a base64 security descriptor "
                                f"({one_line(error)})") from None  # fmt: skip
    return blob


def _by_guid(directory: Directory, guid: str) -> DirectoryObject | None:
    """The object with that objectGUID now (wherever it moved), or None."""
    try:
        return directory.find_object(guid)
    except NotFoundError:
        return None


def restore(backup: Path, directory: Directory, force: bool = False) -> str:
    """Undo one applied change, on the object with the recorded objectGUID only. Refused
    (RestoreRefused, exit 3) for a change that was never applied, a DACL changed since
    the fix, a membership the kit did not add — unless `force`; a group the kit did not
    create is never deleted, not even with `force`."""
    record = load_backup(backup)
    writer = writer_of(directory)
    name = Path(backup).name
    if not record["applied"] and not force:
        raise RestoreRefused(f"{name}: this change was never applied (the fix stopped before or at its write), so "
                             "restoring it would undo someone else's state; nothing was changed (--force to restore "
                             "anyway)")  # fmt: skip
    if record["kind"] == "group":
        return _restore_group(record, directory, writer, name)
    if record["kind"] == "membership":
        return _restore_membership(record, directory, writer, name, force)
    obj = _by_guid(directory, record["object_guid"])
    if obj is None:
        raise RestoreRefused(f"{name}: no object with objectGUID {record['object_guid']} (was {record['dn']}) exists "
                             "any more; nothing was changed")  # fmt: skip
    now = writer.read_dacl(obj.dn)
    if record.get("written") and base64.b64decode(record["written"]) != now and not force:
        raise RestoreRefused(f"the DACL of {obj.dn} changed since the fix was applied; restoring would undo that "
                             "change too — inspect it, then restore with --force")  # fmt: skip
    writer.replace_dacl(obj.dn, now, base64.b64decode(record["descriptor"]))
    return f"restored the DACL of {obj.dn} from {name}"


def _restore_group(record: dict[str, Any], directory: Directory, writer: DirectoryWriter, name: str) -> str:
    created = record["created_guid"]
    if created is None:
        raise RestoreRefused(f"{name}: the kit did not create {record['dn']} (no objectGUID was recorded at "
                             "creation), so it will not delete it, not even with --force")  # fmt: skip
    obj = _by_guid(directory, created)
    if obj is None:
        return f"{record['dn']} (objectGUID {created}) no longer exists; nothing to delete"
    if "group" not in obj.object_classes:
        raise RestoreRefused(f"{name}: objectGUID {created} is now {obj.dn}, not a group; nothing was deleted")
    writer.delete(obj.dn)
    return f"deleted {obj.dn} (objectGUID {created}), which the kit created"


def _restore_membership(record: dict[str, Any], directory: Directory, writer: DirectoryWriter, name: str,
                        force: bool) -> str:  # fmt: skip
    if not record["added"] and not force:
        raise RestoreRefused(f"{name}: {record['member_dn']} was already in {record['group_dn']} before the fix "
                             "(the kit did not add it), so it is not removed (--force to remove it anyway)")  # fmt: skip
    group = _by_guid(directory, record["group_guid"])
    member = _by_guid(directory, record["member_guid"])
    if group is None or member is None:
        missing = record["group_dn"] if group is None else record["member_dn"]
        raise RestoreRefused(f"{name}: {missing} (by its recorded objectGUID) no longer exists; nothing was changed")
    writer.remove_member(group.dn, member.dn)
    return f"removed {member.dn} from {group.dn}"
