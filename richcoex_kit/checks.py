"""The KB's checks as pure functions: facts in, Findings out.

`gather()` is the only function here that touches a directory, and only through the
read interface (`directory.base.Directory`), so a live DC and a snapshot give the same
facts — and therefore the same verdicts. Every other function is pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .directory.base import AttributeState, Directory, DirectoryObject, DomainFacts, GroupFacts, SchemaAttribute
from .directory.errors import AmbiguousError, NotFoundError, TokenGroupsUnavailableError
from .dn import dns_name
from .errors import UsageError
from .findings import Finding, Status
from .products import (
    PRODUCTS,
    WRITEBACK_CLASSES,
    Product,
    grant_command,
    implied_product,
    infer_product,
    product,
    why_inferred,
)
from .request import DEFAULT_ATTRIBUTES, CheckRequest
from .schema import canonical_name, cross_check, property_set_name, select_attributes, well_known_guid_names
from .security import DescriptorError, SecurityDescriptor, Sid
from .security.access import AttributeRef, Decision, evaluate_all
from .security.rights import SDDL_ACE_TYPES, rights_in_words
from .security.sddl import ace_to_sddl
from .text import command

if TYPE_CHECKING:
    from .syncserver import SyncState

# SIDs a network logon carries that tokenGroups does not list (MS-DTYP 2.4.2.4; Samba
# omits This Organization, Windows adds it: listing it matches what AD would grant).
NETWORK_LOGON_SIDS = (
    (Sid.parse("S-1-1-0"), "Everyone"),
    (Sid.parse("S-1-5-2"), "NETWORK"),
    (Sid.parse("S-1-5-11"), "Authenticated Users"),
    (Sid.parse("S-1-5-15"), "This Organization"),
)

KB_NOTE = (
    'KB 2406830: "Step 2 may be required if the object does not inherit permissions from the parent. '
    'This issue may be resolved by making sure that the object inherits permissions from the parent object."'
)


@dataclass(frozen=True)
class TokenEntry:
    sid: Sid
    source: str


@dataclass(frozen=True)
class Token:
    """The SIDs of a network logon of the sync account, each with where it came from."""

    entries: tuple[TokenEntry, ...]

    @property
    def sids(self) -> frozenset[Sid]:
        return frozenset(e.sid for e in self.entries)

    def to_json(self, names: dict[str, str]) -> list[dict[str, str]]:
        return [{"sid": str(e.sid), "name": names.get(str(e.sid), ""), "source": e.source} for e in self.entries]


@dataclass(frozen=True)
class AttributeFacts:
    requested: str
    name: str
    schema: SchemaAttribute | None
    note: str | None = None


@dataclass(frozen=True)
class Facts:
    """Everything the checks read, gathered once."""

    request: CheckRequest
    domain: DomainFacts
    sync_account: DirectoryObject | None
    group: GroupFacts | None
    token: Token | None
    attributes: tuple[AttributeFacts, ...]
    target: DirectoryObject | None
    target_class_guids: tuple[uuid.UUID, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    product: Product = PRODUCTS["dirsync"]
    product_source: str = "the default"
    token_problem: str | None = None  # why the token could not be built (tokenGroups absent)
    protected_by: str | None = None  # the protected group that makes SDProp stamp the target

    @property
    def target_class(self) -> str | None:
        """The target's structural class (the last objectClass value), in products.py's spelling."""
        if self.target is None or not self.target.object_classes:
            return None
        return structural_class(self.target.object_classes)

    def written_back(self) -> frozenset[str]:
        """The selected attributes the product writes back to the target's class: the
        others are never written to it, so their ACL findings are SKIPs, never FAILs."""
        names = tuple(a.name for a in self.attributes)
        if self.target is None:
            return frozenset(names)
        return frozenset(self.product.attributes_for(self.target_class or "", names))

    account_source: str = "--sync-account"
    group_name: str | None = None  # the request's --group, else the product's (None: no group in the model)
    attributes_source: str = "--attributes"

    @property
    def account_name(self) -> str:
        """The sync account as findings name it: its sAMAccountName, else what was asked."""
        found = self.sync_account.sam_account_name if self.sync_account else None
        return found or self.request.sync_account

    def resolution(self) -> str:
        """Which product, account and group the verdicts assume, and why: said on stderr by
        the CLI and printed by the runbooks (the evidence context holds the same)."""
        group = self.group_name or "none (the product grants the account directly)"
        return (f"product {self.product.id} ({self.product.label}) — {self.product_source}; "
                f"sync account {self.account_name} — {self.account_source}; group {group}")  # fmt: skip

    @property
    def group_explicit(self) -> bool:
        """Whether --group (the `group` parameter) was given, rather than the product's default."""
        return bool(self.request.group)

    def context(self) -> dict[str, Any]:
        """What the evidence keeps beside the findings: the request, the DC, the sync
        account and its token (one definition for the CLI, the runbooks and the runner)."""
        return {
            **self.request.context(),
            "product": self.product.id,
            "product_source": self.product_source,
            "sync_account_resolved": self.account_name,
            "sync_account_source": self.account_source,
            "sync_account_dn": self.sync_account.dn if self.sync_account else None,
            "group_resolved": self.group_name,
            "attributes_source": self.attributes_source,
            "domain": self.domain.base_dn,
            "dc": self.domain.dns_host_name,
            "token": self.token.to_json(self.names) if self.token else [],
        }


_CLASS_SPELLING = {c.lower(): c for c in WRITEBACK_CLASSES}


def structural_class(object_classes: tuple[str, ...]) -> str:
    """The most specific objectClass value (AD lists the structural chain top first)."""
    last = object_classes[-1] if object_classes else "top"
    return _CLASS_SPELLING.get(last.lower(), last)


def network_logon_token(
    account: DirectoryObject, token_groups: Iterable[Sid], builtin: dict[Sid, tuple[Sid, ...]]
) -> Token:
    """Assemble the token a network logon of `account` carries.

    tokenGroups gives the transitive global/universal groups (primary group included);
    the account's sIDHistory is in the token too (MS-PAC's ExtraSids: a migrated account
    keeps the rights granted to its old SIDs); builtin domain-local groups are added by
    membership — of the account, one of its groups or a well-known SID such as
    Authenticated Users — until nothing changes.
    """
    entries: list[TokenEntry] = []
    seen: set[Sid] = set()

    def add(sid: Sid, source: str) -> None:
        if sid not in seen:
            seen.add(sid)
            entries.append(TokenEntry(sid, source))

    if account.sid is not None:
        add(account.sid, "account")
    for sid in token_groups:
        add(sid, "tokenGroups")
    for sid in account.sid_history:
        add(sid, "sIDHistory")
    for sid, label in NETWORK_LOGON_SIDS:
        add(sid, f"well-known ({label})")
    changed = True
    while changed:
        changed = False
        for group_sid, members in builtin.items():
            if group_sid not in seen and any(member in seen for member in members):
                add(group_sid, "builtin group membership")
                changed = True
    return Token(tuple(entries))


def load_state(request: CheckRequest) -> SyncState | None:
    """The collector's output the request names, read and validated (SyncStateError, exit 3).
    The sync server's module is loaded only when a state is given (a runbook's first cell
    does not pay for it)."""
    if not request.sync_state:
        return None
    from .syncserver import SyncState

    return SyncState.load(request.sync_state)


def _resolve_sync_account(directory: Directory, request: CheckRequest,
                          state: SyncState | None) -> tuple[DirectoryObject, str]:  # fmt: skip
    """The sync account and how it was found. A named account is looked up in the connected
    domain, then the forest (global catalog); `auto` takes the collector's connector account
    (its domain kept), else the one account the product implies. Not found, or several
    candidates: NotFoundError / AmbiguousError (exit 3), one line naming them."""
    name = request.sync_account.strip()
    if name.lower() != "auto":
        return directory.find_account(name), f"--sync-account {name}"
    wanted = None if request.product.lower() == "auto" else product(request.product).id
    origin = f"the collector's output {state.origin}" if state is not None else ""
    if state is None and directory.kind == "lab" and wanted is None:
        # The built-in lab ships its sync server's collector output (a DirSync server), as
        # runbook 01 reads it: `auto` there means that server's connector account.
        from .syncserver import SyncState, lab_sync_state_path

        state, origin = SyncState.load(lab_sync_state_path()), "the built-in lab's collector output"
    captured = directory.captured_sync_identity() if state is None else None
    if captured is not None and wanted in (None, captured[1]):
        return directory.find_account(captured[0]), f"auto: the account the snapshot was captured for ({captured[1]})"
    if state is not None and state.sync_accounts():
        accounts = state.sync_accounts()
        if len(accounts) > 1:
            raise AmbiguousError(f"--sync-account auto: {origin} names {len(accounts)} accounts "
                                 f"({', '.join(accounts)}); name one with --sync-account")  # fmt: skip
        return directory.find_account(accounts[0]), f"auto: the connector account in {origin}"
    found = [c for c in directory.find_sync_accounts()
             if (implied_product(c.sam_account_name or "") or "") in ((wanted,) if wanted else PRODUCTS)]  # fmt: skip
    what = PRODUCTS[wanted].label if wanted else "sync product"
    if not found:
        raise NotFoundError(f"--sync-account auto found no {what} account (MSOL_AD_Sync, MSOL_<hex>, "
                            "provAgentgMSA$); name the sync account with --sync-account")  # fmt: skip
    if len(found) > 1:
        listed = ", ".join(c.sam_account_name or c.dn for c in found)
        raise AmbiguousError(f"--sync-account auto found {len(found)} {what} accounts ({listed}); name one with "
                             "--sync-account, or give --product or --sync-state")  # fmt: skip
    return found[0], f"auto: the only {what} account in the directory"


def _failed_attributes(state: SyncState | None, target: DirectoryObject | None) -> tuple[str, ...]:
    """The attributes of the target's failed 8344 export, as the collector recorded them."""
    if state is None or target is None:
        return ()
    return {dn.lower(): names for dn, names in state.failed_attributes().items()}.get(target.dn.lower(), ())


def gather(directory: Directory, request: CheckRequest) -> Facts:
    """Read every fact the checks need. Raises DirectoryError for an unknown or ambiguous
    user or sync account, SyncStateError for an unusable collector file."""
    state = load_state(request)
    domain = directory.domain()
    target = directory.find_object(request.user) if request.user else None
    account, account_source = _resolve_sync_account(directory, request, state)
    chosen, product_source = resolve_product(request, account, state, directory.captured_sync_identity())
    group_name = request.group or chosen.default_group
    group = directory.find_group(group_name) if group_name else None
    token, token_problem = None, None
    try:
        token = network_logon_token(account, directory.token_groups(account), directory.builtin_memberships())
    except TokenGroupsUnavailableError as error:
        token_problem = str(error)
    protected_by = directory.protected_accounts().get(target.dn.lower()) if target is not None else None
    selected = select_attributes(request.attributes)
    attributes_source = f"--attributes {request.attributes}"
    failed = _failed_attributes(state, target)
    if failed and request.attributes == DEFAULT_ATTRIBUTES:
        selected = select_attributes(",".join(failed))
        attributes_source = f"the attributes of its failed 8344 export in {state.origin if state else ''}"
    attributes = []
    for requested in selected:
        name, note = canonical_name(requested)
        attributes.append(AttributeFacts(requested, name, directory.schema_attribute(name), note))
    class_guids: tuple[uuid.UUID, ...] = ()
    sids: set[Sid] = set(token.sids) if token else set()
    if group is not None:
        sids.add(group.sid)
    if target is not None:
        class_guids = directory.class_guids(tuple(reversed(target.object_classes)))
        if target.descriptor:
            try:
                sd = SecurityDescriptor.from_bytes(target.descriptor)
                sids.update(ace.sid for ace in (sd.dacl or ()) if ace.sid is not None)
            except DescriptorError:
                pass  # reported by the ACL check itself
    return Facts(
        request=request,
        domain=domain,
        sync_account=account,
        group=group,
        token=token,
        attributes=tuple(attributes),
        target=target,
        target_class_guids=class_guids,
        names=directory.names(sids),
        product=chosen,
        product_source=product_source,
        token_problem=token_problem,
        protected_by=protected_by,
        account_source=account_source,
        group_name=group_name,
        attributes_source=attributes_source,
    )


def resolve_product(request: CheckRequest, account: DirectoryObject, state: SyncState | None = None,
                    captured: tuple[str, str] | None = None) -> tuple[Product, str]:  # fmt: skip
    """The product, and why (said on stderr and in the evidence): the collector's when a
    sync state is given, else --product, else inferred from the sync account
    (`products.infer_product`). A --product that contradicts the collector is a usage error."""
    if state is not None and state.product is not None:
        if request.product.lower() not in ("auto", state.product):
            raise UsageError(f"--product {request.product} contradicts {state.origin}, which the collector wrote on "
                             f"a {state.product_label} server")  # fmt: skip
        return PRODUCTS[state.product], f"the collector's output {state.origin} ({state.product_label})"
    if request.product.lower() != "auto":
        return product(request.product), f"--product {request.product}"
    name = account.sam_account_name or request.sync_account
    if captured is not None and name.lower() == captured[0].lower():
        return PRODUCTS[captured[1]], f"the product the snapshot was captured for ({captured[1]})"  # type: ignore[index]
    chosen = infer_product(name, account.object_classes)
    return PRODUCTS[chosen], f"inferred from the sync account {name}: {why_inferred(chosen)}"


# -- the checks -----------------------------------------------------------------------


def _direct_grant(facts: Facts) -> str:
    """Why a group is not part of the model (Connect, Cloud Sync)."""
    return (f"{facts.product.label} grants the sync account {facts.account_name} directly, without a group: "
            "its effective rights are the acl.write.* verdicts.")  # fmt: skip


def _not_needed(facts: Facts, writes_fail: bool | None) -> str:
    """Why a group outside the product's model is no finding — said only as far as known."""
    if writes_fail is None:
        return f"Not judged: no write verdict was decided here, and {_direct_grant(facts)}"
    return f"Not needed: every write verdict passes and {_direct_grant(facts)}"


def _group_decides(facts: Facts, writes_fail: bool | None) -> bool:
    """Whether a group problem is a FAIL: always under DirSync (the KB's model); under Connect
    or Cloud Sync only for a group given explicitly while some write verdict fails."""
    return facts.product.uses_group or (facts.group_explicit and bool(writes_fail))


def check_group_exists(facts: Facts, writes_fail: bool | None = None) -> Finding:
    """group.exists. `writes_fail`: whether some acl.write.* verdict FAILed (None: none
    was evaluated), which decides the verdict where the product has no group."""
    name = facts.group_name
    if name is None:
        return Finding("group.exists", Status.SKIP, "No group is part of the model",
                       f"Not checked: {_direct_grant(facts)}", details={"product": facts.product.id})  # fmt: skip
    if facts.group is None:
        if not _group_decides(facts, writes_fail):
            return Finding("group.exists", Status.SKIP, f"Group {name} exists",
                           f"No group named {name} exists in {facts.domain.base_dn}. {_not_needed(facts, writes_fail)}",
                           details={"group": name})  # fmt: skip
        return Finding(
            "group.exists",
            Status.FAIL,
            f"Group {name} exists",
            f"No group named {name} exists in {facts.domain.base_dn}.",
            details={"group": name},
            remedy=(
                f"Run the sync tool's configuration wizard (or Enable-MSOnlineRichCoexistence), which creates "
                f"{name}; or create it as a global security group and grant it the write-back attributes."
                if facts.product.uses_group
                else f"Write-back fails and --group {name} does not exist. {_direct_grant(facts)} Grant the "
                "account itself (see acl.write.*), or create the group and grant it."
            ),
        )
    return Finding(
        "group.exists",
        Status.PASS,
        f"Group {name} exists",
        f"{facts.group.dn} exists ({facts.group.sid}).",
        object=facts.group.dn,
        details={"group": name, "sid": str(facts.group.sid), "members": len(facts.group.members)},
    )


def _membership_path(facts: Facts) -> list[str]:
    """How the account reaches the group: direct, or through which member group."""
    assert facts.group is not None and facts.sync_account is not None and facts.token is not None
    members = dict(facts.group.members)
    if facts.sync_account.dn.lower() in (dn.lower() for dn in members):
        return [facts.sync_account.dn, facts.group.dn]
    token_sids = facts.token.sids
    for dn, sid in facts.group.members:
        if sid is not None and sid in token_sids:
            return [facts.sync_account.dn, dn, facts.group.dn]
    return [facts.sync_account.dn, "…", facts.group.dn]


def check_group_membership(facts: Facts, writes_fail: bool | None = None) -> Finding:
    """group.sync-account-member, from the account's tokenGroups (nested membership counts)."""
    account, group = facts.account_name, facts.group_name
    if group is None:
        return Finding("group.sync-account-member", Status.SKIP, f"{account} needs no group membership",
                       f"Not checked: {_direct_grant(facts)}", details={"product": facts.product.id})  # fmt: skip
    title = f"{account} is a member of {group}"
    assert facts.sync_account is not None
    if facts.token is None:
        return _token_error("group.sync-account-member", title, facts)
    token_json = facts.token.to_json(facts.names)
    decides = _group_decides(facts, writes_fail)
    if facts.group is not None and facts.group.sid in facts.token.sids:
        path = _membership_path(facts)
        how = "directly" if len(path) == 2 else "through nested group membership"
        return Finding(
            "group.sync-account-member",
            Status.PASS,
            title,
            f"{account} is a member of {group} {how} (its tokenGroups contain {facts.group.sid}).",
            object=facts.sync_account.dn,
            details={"path": path, "token": token_json},
        )
    if facts.group is None:
        summary = f"{group} does not exist, so {account} cannot be a member of it."
        remedy = f"Create {group} first (see group.exists), then add {account} to it."
    else:
        summary = (f"{account}'s tokenGroups do not contain {group} ({facts.group.sid}): it is not a member, "
                   "directly or through nesting.")  # fmt: skip
        remedy = f"Add {facts.sync_account.dn} to {facts.group.dn} (KB 2406830 step 2.1)."
    if not decides:
        return Finding("group.sync-account-member", Status.SKIP, title,
                       f"{summary} {_not_needed(facts, writes_fail)}",
                       object=facts.sync_account.dn, details={"token": token_json})  # fmt: skip
    return Finding("group.sync-account-member", Status.FAIL, title, summary, object=facts.sync_account.dn,
                   details={"token": token_json}, remedy=remedy)  # fmt: skip


def check_schema(facts: Facts) -> list[Finding]:
    findings = []
    for attr in facts.attributes:
        fid = f"schema.{attr.name}"
        note = f" {attr.note}." if attr.note else ""
        if attr.schema is None:
            findings.append(
                Finding(
                    fid,
                    Status.FAIL,
                    f"Schema defines {attr.name}",
                    f"The forest schema has no attribute {attr.name}, so nothing can write it back.{note}",
                    details={"requested": attr.requested},
                    remedy="Extend the schema with the Exchange version your hybrid deployment requires (setup /PrepareSchema).",
                )
            )
            continue
        pset = attr.schema.property_set
        published = cross_check(attr.name, attr.schema.schema_id)
        note += f" Note: {published}." if published else ""
        findings.append(
            Finding(
                fid,
                Status.PASS,
                f"Schema defines {attr.name}",
                f"{attr.name} is in the schema (schemaIDGUID {attr.schema.schema_id}; "
                f"{_property_set_words(pset)}).{note}",
                details={
                    "requested": attr.requested,
                    "schemaIDGUID": str(attr.schema.schema_id),
                    "attributeSecurityGUID": str(pset) if pset else None,
                    "property_set": property_set_name(pset),
                },
            )
        )
    return findings


def _property_set_words(pset: uuid.UUID | None) -> str:
    """The attribute's property set as the forest's schema reports it (attributeSecurityGUID):
    a grant on that GUID also grants the attribute."""
    if pset is None:
        return "in no property set"
    return f"property set {property_set_name(pset) or 'unnamed'}, attributeSecurityGUID {pset}"


def _descriptor(facts: Facts) -> tuple[SecurityDescriptor | None, Finding | None]:
    target = facts.target
    assert target is not None
    if target.descriptor is None:
        return None, Finding(
            "object.inheritance",
            Status.ERROR,
            "The object's security descriptor is readable",
            f"nTSecurityDescriptor of {target.dn} came back empty: the bound account may not read it.",
            object=target.dn,
            remedy="Bind as an account with Read Permissions on the object.",
        )
    try:
        return SecurityDescriptor.from_bytes(target.descriptor), None
    except DescriptorError as error:
        return None, Finding(
            "object.inheritance",
            Status.ERROR,
            "The object's security descriptor is readable",
            f"nTSecurityDescriptor of {target.dn} is malformed: {error}",
            object=target.dn,
        )


def check_inheritance(facts: Facts, sd: SecurityDescriptor) -> Finding:
    dn = facts.target.dn if facts.target else None
    title = "The object inherits permissions from its parent"
    if sd.dacl_protected:
        inherited = sum(1 for ace in sd.dacl or () if ace.is_inherited)
        return Finding(
            "object.inheritance",
            Status.FAIL,
            title,
            f"Inheritance is disabled on {dn} (DACL protected); {inherited} inherited ACEs remain, so grants "
            "made on the OU do not reach it.",
            object=dn,
            details={"dacl_protected": True, "inherited_aces": inherited, "kb_note": KB_NOTE},
            remedy="Enable inheritance (ADUC → Security → Advanced → Enable inheritance), "
            "or let `richcoex fix` plan it.",
        )
    return Finding(
        "object.inheritance",
        Status.PASS,
        title,
        f"{dn} inherits permissions from its parent.",
        object=dn,
        details={"dacl_protected": False},
    )


# MS-ADTS 3.1.1.3.3 (rootDSE modify operations, runProtectAdminGroupsTask): writing 1 to it on
# the rootDSE of the PDC emulator runs the AdminSDHolder protection (SDProp) now, instead of
# at its next 60-minute pass.
SDPROP_NOW = (
    "after changing CN=AdminSDHolder, run SDProp now instead of waiting up to an hour: on the PDC emulator, "
    "ldp.exe → Browse → Modify, DN empty (the rootDSE), attribute runProtectAdminGroupsTask, value 1, "
    "operation Add (MS-ADTS 3.1.1.3.3, runProtectAdminGroupsTask)"
)
KEEP_ADMINS_OUT = (
    "The better fix is usually to keep admin accounts out of sync scope (filter them out of the connector's "
    "OUs or by attribute): an account the sync engine manages should not be a privileged one."
)


def check_adminsdholder(facts: Facts) -> Finding:
    """Protected means a transitive member of a protected group (MS-ADTS 3.1.1.6.1.6.1,
    dwAdminSDExMask honoured), not adminCount=1: AD never clears adminCount when an account
    leaves those groups, and SDProp leaves such an orphan alone."""
    target = facts.target
    assert target is not None
    # The title says what was found, so a WARN never reads as the all-clear PASS title.
    title = "The object is not protected by AdminSDHolder"
    details: dict[str, Any] = {"adminCount": target.admin_count, "protected_by": facts.protected_by}
    if facts.protected_by is not None:
        return Finding(
            "object.adminsdholder",
            Status.WARN,
            "The object is protected by AdminSDHolder",
            f"{target.dn} is protected by AdminSDHolder (a member of {facts.protected_by}): SDProp re-stamps its "
            "ACL from CN=AdminSDHolder every 60 minutes, so an ACE added on the object itself is removed within "
            "the hour.",
            object=target.dn,
            details={**details, "cause": "adminsdholder"},
            remedy=f"{KEEP_ADMINS_OUT} Otherwise grant on CN=AdminSDHolder,CN=System (it reaches every protected "
            f"account: `richcoex fix --adminsdholder`); {SDPROP_NOW}.",
        )
    if target.admin_count == 1:
        return Finding(
            "object.adminsdholder",
            Status.WARN,
            "The object's adminCount=1 is orphaned: AdminSDHolder does not protect it",
            f"{target.dn} has adminCount=1 but is in no protected group: an orphaned adminCount (AD never clears "
            "it). SDProp does not touch it; what it left behind may still be its protected, stripped DACL.",
            object=target.dn,
            details={**details, "cause": "adminsdholder-orphan"},
            remedy="Fix it on the object: re-enable inheritance (or grant on the object — `richcoex fix` plans it), "
            "and clear the stale marker (Set-ADUser <user> -Clear adminCount). A grant on AdminSDHolder would "
            "never reach it.",
        )
    return Finding(
        "object.adminsdholder",
        Status.PASS,
        title,
        f"{target.dn} is in no protected group and has no adminCount.",
        object=target.dn,
        details=details,
    )


def describe_decision(decision: Decision, names: dict[str, str]) -> dict[str, object] | None:
    """The deciding ACE as evidence: index, type, trustee, mask (words), object type, SDDL."""
    ace = decision.ace
    if ace is None or decision.ace_index is None:
        return None
    object_type = str(ace.object_type) if ace.object_type else None
    return {
        "index": decision.ace_index,
        "type": SDDL_ACE_TYPES.get(ace.type, hex(ace.type)),
        "trustee_sid": str(ace.sid),
        "trustee": names.get(str(ace.sid)) or decision.trustee,
        "mask": f"0x{ace.mask:08x}",
        "rights": rights_in_words(ace.mask),
        "object_type": object_type,
        "object_type_name": names.get(object_type or ""),
        "inherited": ace.is_inherited,
        "matched_by": decision.via,
        "sddl": ace_to_sddl(ace),
    }


def protection(admin_count: int | None, protected: bool) -> str | None:
    """`adminsdholder` (truly protected), `adminsdholder-orphan` (adminCount=1 left behind
    by an account no longer in a protected group) or None."""
    if protected:
        return "adminsdholder"
    return "adminsdholder-orphan" if admin_count == 1 else None


def failure_cause(decision: Decision, sd: SecurityDescriptor, admin_count: int | None, protected: bool) -> str:
    """Why a write is refused, in the words the scan summary groups by."""
    if decision.ace is not None and not decision.allowed:
        return "deny"
    marked = protection(admin_count, protected)
    if marked is not None:
        return marked
    if sd.dacl_protected:
        return "inheritance-off"
    return "no-grant"


def attribute_refs(facts: Facts) -> list[AttributeRef]:
    return [
        AttributeRef(a.name, a.schema.schema_id, a.schema.property_set)
        for a in facts.attributes
        if a.schema is not None
    ]


def guid_names(facts: Facts) -> dict[str, str]:
    names = well_known_guid_names()
    names.update({str(a.schema.schema_id): a.name for a in facts.attributes if a.schema})
    names.update(
        {
            str(a.schema.property_set): property_set_name(a.schema.property_set) or str(a.schema.property_set)
            for a in facts.attributes
            if a.schema and a.schema.property_set
        }
    )
    return names


def display_names(facts: Facts) -> dict[str, str]:
    """SID and GUID strings → names, for reasons, evidence and the ACL viewer."""
    return {**facts.names, **guid_names(facts)}


def decisions_for(facts: Facts, sd: SecurityDescriptor) -> dict[str, Decision]:
    """The per-attribute WriteProperty decisions for the sync account's token (empty
    when the account was not found). The ACL check and the ACL viewer both use these."""
    if facts.token is None or facts.target is None:
        return {}
    return evaluate_all(
        sd,
        facts.token.sids,
        attribute_refs(facts),
        facts.target_class_guids,
        object_sid=facts.target.sid,
        names=display_names(facts),
    )


def check_acl_writes(facts: Facts, sd: SecurityDescriptor) -> list[Finding]:
    target = facts.target
    assert target is not None
    names = display_names(facts)
    account = facts.account_name
    findings = []
    decisions = decisions_for(facts, sd)
    written = facts.written_back()
    for attr in facts.attributes:
        fid, title = f"acl.write.{attr.name}", f"{account} may write {attr.name}"
        if attr.name not in written:
            findings.append(
                Finding(
                    fid,
                    Status.SKIP,
                    title,
                    f"{facts.product.label} never writes {attr.name} back to a {facts.target_class} object, so its "
                    "permission cannot cause 8344 here.",
                    object=target.dn,
                    details={"class": facts.target_class, "product": facts.product.id, "written_back": False},
                )
            )
            continue
        if attr.schema is None:
            findings.append(
                Finding(
                    fid,
                    Status.SKIP,
                    title,
                    f"{attr.name} is not in the schema (see schema.{attr.name}).",
                    object=target.dn,
                )
            )
            continue
        if facts.token is None:
            findings.append(_token_error(fid, title, facts))
            continue
        decision = decisions[attr.name]
        details = {
            "allowed": decision.allowed,
            "deciding_ace": describe_decision(decision, names),
            "reason": decision.reason,
        }
        if decision.allowed:
            findings.append(
                Finding(
                    fid,
                    Status.PASS,
                    title,
                    decision.reason[:1].upper() + decision.reason[1:] + ".",
                    object=target.dn,
                    details=details,
                )
            )
            continue
        cause = failure_cause(decision, sd, target.admin_count, facts.protected_by is not None)
        details["cause"] = cause
        remedy = {
            "deny": f"Remove the explicit Deny (ACE {decision.ace_index}) or grant above it; "
            "`richcoex fix` reports it and removes it only when asked by name.",
            "adminsdholder": f"The object is AdminSDHolder-protected (a member of {facts.protected_by}): change "
            f"AdminSDHolder or the account's protected-group membership, not the object. {KEEP_ADMINS_OUT} "
            "See object.adminsdholder.",
            "adminsdholder-orphan": "An orphaned adminCount=1 (no protected group): SDProp no longer touches it, so "
            f"fix it on the object — `{command('richcoex', 'fix', '--user', target.dn)}` re-enables inheritance or grants "
            "there (see object.adminsdholder).",
            "inheritance-off": "Enable inheritance on the object so the OU's grant reaches it (see object.inheritance).",
            "no-grant": _grant_remedy(facts, attr.name),
        }[cause]
        from .syncserver import attribute_remedies

        remedy = " ".join([remedy, *attribute_remedies([attr.name])])
        findings.append(
            Finding(
                fid,
                Status.FAIL,
                title,
                f"Write-back of {attr.name} fails with 8344 (insufficientAccessRights): {decision.reason}.",
                object=target.dn,
                details=details,
                remedy=remedy,
            )
        )
    return findings


def _token_error(fid: str, title: str, facts: Facts) -> Finding:
    """The token is unknown: an ERROR naming why, never a guessed "not a member"."""
    dn = facts.sync_account.dn if facts.sync_account else None
    return Finding(
        fid,
        Status.ERROR,
        title,
        f"The sync account's token could not be built: {facts.token_problem}.",
        object=dn,
        remedy="Run against a DC that reaches a global catalog (or is one); the kit does not guess group membership.",
    )


def _grant_remedy(facts: Facts, attribute: str) -> str:
    """The least-privilege grant for the product's trustee, and Microsoft's own command."""
    trustee = facts.group_name if facts.product.uses_group else facts.account_name
    dn = facts.target.dn if facts.target else None
    fqdn = dns_name(facts.sync_account.dn if facts.sync_account else facts.domain.base_dn)
    microsoft = grant_command(facts.product.id, facts.account_name, fqdn, dn,
                              f"{facts.domain.netbios_name}\\{trustee}", (attribute,))  # fmt: skip
    return (f"Grant {trustee} Allow Read/Write {attribute} on the object or, inheritable, on its OU "
            f"(KB 2406830 step 2.4); `{command('richcoex', 'fix', '--user', dn or facts.request.user or '')}` plans "
            "the least-privilege ACE. "
            f"Microsoft's tooling: {microsoft}")  # fmt: skip


def evaluate(facts: Facts) -> list[Finding]:
    """Every check, in the order a runbook meets them. The group findings come first but
    are decided last: outside DirSync they depend on the write verdicts."""
    findings = check_schema(facts)
    if facts.target is not None and not facts.target.object_classes:
        findings.append(Finding(
            "object.class", Status.ERROR, "The object's class is readable",
            f"objectClass of {facts.target.dn} came back empty: the bound account may not read it, so the kit "
            "cannot tell which attributes are written back to it; nothing was decided.", object=facts.target.dn,
            remedy="Bind as an account that may read the object (Read Property on objectClass).",
        ))  # fmt: skip
    elif facts.target is not None:
        sd, problem = _descriptor(facts)
        if sd is None:
            assert problem is not None
            findings.append(problem)
        else:
            findings += [check_inheritance(facts, sd), check_adminsdholder(facts), *check_acl_writes(facts, sd)]
    writes = [f for f in findings if f.id.startswith("acl.write.")]
    # None: no write verdict was decided (no object, an unreadable one, an ERROR): the group
    # findings then say so rather than "every write verdict passes".
    decided = writes and not any(f.status == Status.ERROR for f in writes)
    writes_fail = any(f.status == Status.FAIL for f in writes) if decided else None
    return [check_group_exists(facts, writes_fail), check_group_membership(facts, writes_fail), *findings]


def confirmed_findings(findings: Iterable[Finding], states: dict[str, AttributeState],
                       allowed: frozenset[str] | None) -> list[Finding]:  # fmt: skip
    """Runbook 04: the schema and acl.write.* findings with the DC's own word
    (allowedAttributesEffective) and the values added; a disagreement between the kit and
    the DC is an ERROR (it would be a bug in the kit)."""
    result = []
    for f in findings:
        if not f.id.startswith(("schema.", "acl.")):
            continue
        if f.id.startswith("acl.write.") and f.status in (Status.PASS, Status.FAIL):
            name = f.id.removeprefix("acl.write.")
            state = states.get(name)
            details = dict(f.details, values=list(state.values) if state else [],
                           last_change=state.last_originating_change if state else None)  # fmt: skip
            status: Status = f.status
            summary = f.summary
            if allowed is not None:
                dc_says = name.lower() in allowed
                details["dc_allowed_attributes_effective"] = dc_says
                if dc_says != (f.status == Status.PASS):
                    status = Status.ERROR
                    summary = f"The DC says writable={dc_says} but the kit decided {f.status.value}: {f.summary}"
            f = Finding(f.id, status, f.title, summary, f.object, details, f.remedy)
        result.append(f)
    return result


def run_checks(directory: Directory, request: CheckRequest) -> tuple[Facts, list[Finding]]:
    """Gather and evaluate. DirectoryError propagates: it means the run could not happen."""
    facts = gather(directory, request)
    return facts, evaluate(facts)
