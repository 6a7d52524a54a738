"""Fixes as data: plan the least privilege that makes write-back work, show it, apply it
only when asked — backed up before, written compare-and-swap, verified after — and
restore it byte for byte.

Least privilege: one ACCESS_ALLOWED_OBJECT ACE per failing attribute (Read and Write
Property, ObjectType = the attribute's schemaIDGUID), where Microsoft's own module grants
read/write on *all* properties. The trustee is the product's: the sync account itself for
Entra Connect and Cloud Sync (granted directly, no group), the group for DirSync. An
explicit Deny is reported and removed only when the caller names it. AdminSDHolder-protected
objects (members of a protected group, not merely adminCount=1) are never changed directly
(SDProp would revert it within the hour); an orphaned adminCount is fixed on the object. A
new ACE is inserted at its canonical place and no existing ACE ever moves.
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
from .checks import KEEP_ADMINS_OUT, SDPROP_NOW, CheckRequest, Facts, attribute_refs, display_names, gather
from .directory.base import Directory, DirectoryObject, DirectoryWriter
from .directory.errors import DirectoryError, InvalidInputError, NotFoundError
from .dn import dns_name, file_label, parent
from .errors import CouldNotRunError, UsageError, one_line
from .files import private_folder, write_private
from .jsondoc import compile_schema, parse, validate
from .products import grant_command
from .schema import CLASSES
from .security import Ace, AceFlag, AceType, Acl, DescriptorError, Right, SecurityDescriptor, Sid
from .security.access import evaluate_all
from .security.rights import rights_in_words
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
    # When inheritance is re-enabled: the parent's ACEs that then decide for *other*
    # trustees on the object, in words (what else the reviewer lets in).
    also_effective: tuple[str, ...] = ()


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
                if change.also_effective:
                    lines.append("  also effective once inheritance is on (the parent's ACEs, for other trustees):")
                    lines += [f"    {line}" for line in change.also_effective]
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


def _insert_grants(aces: Sequence[Ace], grants: Sequence[Ace]) -> list[Ace]:
    """`aces` in their order, with each new explicit Allow inserted at its canonical
    place (MS-DTYP 2.4.5 / 2.5.3.4: explicit denies, then explicit allows, then inherited):
    after every explicit Deny and before the first inherited ACE. No existing ACE moves —
    a DACL made non-canonical on purpose keeps every other trustee's rights. Where the two
    rules conflict (an explicit Deny stored after an inherited ACE), after the Deny wins: a
    new grant never overrides an explicit refusal."""
    first_inherited = next((i for i, a in enumerate(aces) if a.is_inherited), len(aces))
    last_deny = max((i for i, a in enumerate(aces) if a.is_deny and not a.is_inherited), default=-1)
    at = max(first_inherited, last_deny + 1)
    return [*aces[:at], *grants, *aces[at:]]


def _inherited_from(parent: SecurityDescriptor, child_class: uuid.UUID) -> list[Ace]:
    """The ACEs a child of `child_class` gets from `parent` (MS-DTYP 2.5.3.4.2; every AD
    object is a container). A container-inherit ACE whose InheritedObjectType is absent or
    the child's class applies to the child; one for another class, or an object-inherit-
    only ACE, is copied inherit-only so it passes further down; NO_PROPAGATE_INHERIT
    copies clear the inheritance flags (effective here, not below) or, when they would not
    apply here, are not copied at all."""
    result = []
    for ace in parent.dacl or ():
        container, objects = ace.flags & AceFlag.CONTAINER_INHERIT, ace.flags & AceFlag.OBJECT_INHERIT
        if not (container or objects):
            continue
        applies = bool(container) and ace.inherited_object_type in (None, child_class)
        no_propagate = ace.flags & AceFlag.NO_PROPAGATE_INHERIT
        if no_propagate and not applies:
            continue
        flags = AceFlag.INHERITED
        if not no_propagate:
            flags |= container | objects | (0 if applies else AceFlag.INHERIT_ONLY)
        result.append(Ace(ace.type, flags, ace.mask, ace.sid, ace.object_type, ace.inherited_object_type))
    return result


def _effective_for_others(inherited: Sequence[Ace], token: frozenset[Sid], names: dict[str, str]) -> tuple[str, ...]:
    """In words, each inherited ACE that would decide on the object for a trustee outside
    the sync account's token: what re-enabling inheritance lets in besides the fix."""
    lines = []
    for ace in inherited:
        if ace.flags & AceFlag.INHERIT_ONLY or ace.sid is None or ace.sid in token:
            continue
        what = f" on {names.get(str(ace.object_type), str(ace.object_type))}" if ace.object_type else ""
        kind = "deny" if ace.is_deny else "allow"
        lines.append(f"{kind} {names.get(str(ace.sid), str(ace.sid))}: {rights_in_words(ace.mask)}{what}")
    return tuple(dict.fromkeys(lines))


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
    assert facts.sync_account is not None  # gather raises for an account it cannot find
    if facts.token is None:
        raise DirectoryError(f"cannot plan a fix without the sync account's token: {facts.token_problem}")
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
    account_domain = dns_name(facts.sync_account.dn)
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
    written = facts.written_back()
    refs = [ref for ref in attribute_refs(facts) if ref.name in written]
    if not refs:
        return None
    structural = facts.target_class_guids[0] if facts.target_class_guids else CLASSES["user"]
    token = _token_after(facts, plan)
    protected = facts.protected_by is not None
    if protected and not options.adminsdholder:
        plan.notes.append(f"{target.dn} is AdminSDHolder-protected (a member of {facts.protected_by}): SDProp would "
                          "revert a change on the object within 60 minutes, so none is planned. "
                          f"{KEEP_ADMINS_OUT} Otherwise pass --adminsdholder to grant on CN=AdminSDHolder (every "
                          "protected account).")  # fmt: skip
        return None
    dn = target.dn
    if protected:
        dn = f"CN=AdminSDHolder,CN=System,{facts.domain.base_dn}"
        plan.notes.append(f"the grant goes on {dn}; {SDPROP_NOW}")
    elif target.admin_count == 1:
        plan.notes.append(f"{target.dn} has an orphaned adminCount=1 (in no protected group): SDProp no longer "
                          "touches it, so the fix is made on the object itself. Clearing the stale marker is "
                          "optional and not done here: Set-ADUser <user> -Clear adminCount.")  # fmt: skip
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
    kept = [a for a in aces if a not in removed]
    protection_cleared = current.dacl_protected and not protected
    also_effective: tuple[str, ...] = ()
    if protection_cleared:
        explicit = [a for a in kept if not a.is_inherited]
        inherited = _inherited_from(SecurityDescriptor.from_bytes(writer.read_dacl(parent(dn))), structural)
        why.append("object.inheritance FAILed: enable inheritance (the DC re-applies the parent's ACEs)")
        if options.drop_explicit:
            why.append(f"drop the {len(explicit)} explicit ACEs as asked")
            removed += explicit
            explicit = []
        names = {**display_names(facts), **directory.names({a.sid for a in inherited if a.sid is not None})}
        also_effective = _effective_for_others(inherited, token, names)
        kept = [*explicit, *inherited]
    if options.scope_ou:
        return _plan_ou_grant(writer, facts, options.scope_ou, refs, trustee_sid, plan)
    predicted = current.with_dacl(Acl.from_aces(kept), protected=False if protection_cleared else None)
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
    expected = current.with_dacl(Acl.from_aces(_insert_grants(kept, grants)),
                                 protected=False if protection_cleared else None)  # fmt: skip
    # With inheritance re-enabled the DC computes the inherited part itself: write the explicit ACEs only.
    written_sd = expected if not protection_cleared else current.with_dacl(
        Acl.from_aces(_insert_grants([a for a in kept if not a.is_inherited], grants)), protected=False)  # fmt: skip
    return AclEdit(dn, before, written_sd.to_bytes(), expected, tuple(grants), tuple(removed), protection_cleared,
                   tuple(why), also_effective)  # fmt: skip


def _plan_ou_grant(writer: DirectoryWriter, facts: Facts, ou: str, refs: Iterable[Any], trustee: Sid,
                   plan: Plan) -> AclEdit | None:  # fmt: skip
    """Grant on an OU instead: inheritable, attribute-scoped, one ACE per attribute and per
    class the product writes it back to (`Product.classes_for`: proxyAddresses also to
    contacts and groups, the Exchange attributes to user/inetOrgPerson only)."""
    before = writer.read_dacl(ou)
    current = SecurityDescriptor.from_bytes(before)
    aces = list(current.dacl or ())
    pairs = [(ref, cls) for ref in refs for cls in facts.product.classes_for(ref.name)]
    grants = [_grant(trustee, ref.schema_id, CLASSES[cls]) for ref, cls in pairs]
    grants = [g for g in grants if g not in aces]
    if not grants:
        plan.notes.append(f"{ou} already grants every attribute inheritably")
        return None
    expected = current.with_dacl(Acl.from_aces(_insert_grants(aces, grants)))
    classes = sorted({cls for _, cls in pairs})
    why = (f"grant on {ou} for {', '.join(classes)} descendants, one ACE per attribute and per class it is written "
           f"back to by {facts.product.label}",)  # fmt: skip
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
