"""The read interface every directory back end satisfies, and the facts it returns.

Checks take these facts, never a connection, so the same verdicts come from a live DC
(`ldap.py`) or from a captured snapshot (`snapshot.py`).
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from ..security import Sid

D = TypeVar("D", bound="Directory")


def split_account(identity: str) -> tuple[str | None, str]:
    """`DOMAIN\\name` → ("DOMAIN", "name"); any other form → (None, identity)."""
    domain, sep, name = identity.strip().partition("\\")
    if sep and domain and name and "=" not in domain:
        return domain, name
    return None, identity.strip()


@dataclass(frozen=True)
class DirectoryObject:
    """An object as the checks read it. `descriptor` is the raw nTSecurityDescriptor
    (owner, group and DACL, read with the SD-flags control), or None when unreadable."""

    dn: str
    guid: uuid.UUID
    sid: Sid | None
    object_classes: tuple[str, ...]
    sam_account_name: str | None
    admin_count: int | None
    descriptor: bytes | None
    sid_history: tuple[Sid, ...] = ()  # sIDHistory: SIDs a migrated account still carries in its token


@dataclass(frozen=True)
class GroupFacts:
    """A group: its identity and direct members (DN and, where known, SID)."""

    dn: str
    sid: Sid
    name: str
    members: tuple[tuple[str, Sid | None], ...]


@dataclass(frozen=True)
class SchemaAttribute:
    """An attribute as the forest schema defines it."""

    name: str
    schema_id: uuid.UUID
    property_set: uuid.UUID | None


@dataclass(frozen=True)
class DomainFacts:
    """What the rootDSE and the domain head say about where we are. The schema and
    configuration naming contexts come from the rootDSE (schemaNamingContext,
    configurationNamingContext): in a child domain they lie under the forest root, not
    under the domain. `ds_heuristics` is the forest's dSHeuristics string (None: unset)."""

    base_dn: str
    domain_sid: Sid
    netbios_name: str
    dns_host_name: str
    server: str
    schema_nc: str = ""
    configuration_nc: str = ""
    ds_heuristics: str | None = None


# The protected groups and accounts SDProp stamps AdminSDHolder's DACL on (MS-ADTS
# 3.1.1.6.1.6.1, Windows Server 2012 and later): builtin RIDs (S-1-5-32-…), RIDs of the
# domain, and the forest-root groups (Schema/Enterprise/Enterprise Key Admins).
PROTECTED_BUILTIN_RIDS = {548: "Account Operators", 544: "Administrators", 551: "Backup Operators",
                          550: "Print Operators", 552: "Replicator", 549: "Server Operators"}  # fmt: skip
PROTECTED_DOMAIN_RIDS = {512: "Domain Admins", 516: "Domain Controllers", 519: "Enterprise Admins",
                         527: "Enterprise Key Admins", 526: "Key Admins", 521: "Read-only Domain Controllers",
                         518: "Schema Admins"}  # fmt: skip
PROTECTED_ACCOUNT_RIDS = {500: "Administrator", 502: "krbtgt"}
# dSHeuristics' 16th character, dwAdminSDExMask (MS-ADTS 3.1.1.6.1.4): each bit excludes the
# members of one builtin group from the protection — 0x1 Account Operators, 0x2 Server
# Operators, 0x4 Print Operators, 0x8 Backup Operators.
ADMIN_SD_EX_MASK_RIDS = {0x1: 548, 0x2: 549, 0x4: 550, 0x8: 551}
BUILTIN_DOMAIN = Sid.parse("S-1-5-32")


def admin_sd_excluded_rids(ds_heuristics: str | None) -> frozenset[int]:
    """The builtin RIDs dSHeuristics' dwAdminSDExMask takes out of the protection."""
    if not ds_heuristics or len(ds_heuristics) < 16:
        return frozenset()
    try:
        mask = int(ds_heuristics[15], 16)
    except ValueError:
        return frozenset()
    return frozenset(rid for bit, rid in ADMIN_SD_EX_MASK_RIDS.items() if mask & bit)


def protected_group_sids(domain_sid: Sid, ds_heuristics: str | None) -> dict[Sid, str]:
    """SID → name of every group whose (transitive) members SDProp protects."""
    excluded = admin_sd_excluded_rids(ds_heuristics)
    groups = {Sid.parse(f"{BUILTIN_DOMAIN}-{rid}"): name for rid, name in PROTECTED_BUILTIN_RIDS.items()
              if rid not in excluded}  # fmt: skip
    groups.update({Sid.parse(f"{domain_sid}-{rid}"): name for rid, name in PROTECTED_DOMAIN_RIDS.items()})
    return groups


@dataclass(frozen=True)
class AttributeState:
    """An attribute's value on one object and its last originating write (replication
    metadata), which is how runbook 04 proves write-back resumed."""

    name: str
    values: tuple[str, ...]
    last_originating_change: str | None
    originating_dsa: str | None
    version: int | None


# What a scan covers by default: the classes write-back reaches. objectCategory=person
# keeps users that are persons (and inetOrgPerson, its subclass) and drops computers,
# gMSAs and sMSAs, which are subclasses of user (objectCategory=computer / msDS-…) and
# never written back.
DEFAULT_SCAN_FILTER = (
    "(|(&(objectCategory=person)(objectClass=user))(objectClass=inetOrgPerson)(objectClass=contact)(objectClass=group))"
)
_SCANNED_CLASSES = frozenset({"user", "inetorgperson", "contact", "group"})


def in_default_scan_scope(object_classes: tuple[str, ...]) -> bool:
    """DEFAULT_SCAN_FILTER over an object's objectClass values (for back ends that cannot
    run a filter): a computer-derived class (computer, gMSA, sMSA) is out."""
    lowered = {c.lower() for c in object_classes}
    return "computer" not in lowered and bool(lowered & _SCANNED_CLASSES)


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One object of a bulk scan: the least a verdict needs (kept small: millions pass)."""

    dn: str
    object_classes: tuple[str, ...]
    admin_count: int | None
    descriptor: bytes | None


class DirectoryWriter(abc.ABC):
    """The kit's only writes to a directory, each refused loudly rather than overwriting.

    Only a live back end has one (`Directory.writer()`); remedy plans and applies through
    this interface and never asks which back end it holds."""

    @property
    @abc.abstractmethod
    def who(self) -> str:
        """The bound identity, for backups and messages (never a secret)."""

    @abc.abstractmethod
    def read_dacl(self, dn: str) -> bytes:
        """The DACL-only descriptor (SD flags 4): what a DACL write replaces, byte for byte."""

    @abc.abstractmethod
    def dacl_state(self, dn: str) -> tuple[bytes, int | None]:
        """The DACL-only descriptor and its replication version, read in one search."""

    @abc.abstractmethod
    def replace_dacl(self, dn: str, expected: bytes, new: bytes) -> None:
        """Write `new` only if the stored DACL is still `expected` (ConcurrentChangeError)."""

    @abc.abstractmethod
    def add_member(self, group_dn: str, member_dn: str) -> bool:
        """Add; False when it was already a member (someone else fixed it)."""

    @abc.abstractmethod
    def remove_member(self, group_dn: str, member_dn: str) -> None: ...

    @abc.abstractmethod
    def create_group(self, dn: str, name: str) -> None:
        """A global security group; refused (not overwritten) if the DN already exists."""

    @abc.abstractmethod
    def delete(self, dn: str) -> None: ...


class Directory(abc.ABC):
    """Read-only questions the runbooks ask of a directory, and its capabilities:
    `writer()` (None offline) and `as_account()` (asking the DC as another account)."""

    kind: str = "abstract"
    offline: bool = True

    @abc.abstractmethod
    def target(self) -> dict[str, str]:
        """What this is, for evidence: {"kind": "ldap|snapshot|lab", "server": …}."""

    @abc.abstractmethod
    def domain(self) -> DomainFacts: ...

    @abc.abstractmethod
    def find_object(self, identity: str) -> DirectoryObject:
        """Resolve sAMAccountName, UPN, DN or objectGUID to exactly one object."""

    @abc.abstractmethod
    def find_group(self, name: str) -> GroupFacts | None:
        """The group by sAMAccountName, or None when the forest has none by that name."""

    @abc.abstractmethod
    def token_groups(self, obj: DirectoryObject) -> tuple[Sid, ...]:
        """The object's transitive group SIDs as the DC computes them (tokenGroups)."""

    @abc.abstractmethod
    def protected_accounts(self) -> dict[str, str]:
        """Lower-cased DN → the protected group (or account) that makes SDProp protect it:
        every transitive member of a protected group (dwAdminSDExMask honoured), plus
        Administrator and krbtgt. adminCount alone proves nothing: AD never clears it."""

    @abc.abstractmethod
    def builtin_memberships(self) -> dict[Sid, tuple[Sid, ...]]:
        """Builtin (domain-local) groups and the SIDs of their direct members."""

    @abc.abstractmethod
    def find_sync_accounts(self) -> list[DirectoryObject]:
        """Accounts named like a sync product's (`MSOL_*`, Cloud Sync's `provAgentgMSA$`),
        in the connected domain, else anywhere in the forest (global catalog)."""

    def find_in_global_catalog(self, identity: str) -> DirectoryObject:
        """`identity` anywhere in the forest, through the global catalog: the Entra Connect
        account lives in the forest root domain, which need not be the connected one."""
        from .errors import NotFoundError

        raise NotFoundError(f"no object matches {identity!r}, and a {self.kind} directory has no global catalog")

    def find_account(self, identity: str) -> DirectoryObject:
        """The sync account: in the connected domain (or under --base), else through the
        global catalog. Not finding it there either names both places."""
        from .errors import NotFoundError

        try:
            return self.find_object(identity)
        except NotFoundError as local:
            try:
                return self.find_in_global_catalog(identity)
            except NotFoundError as forest:
                raise NotFoundError(f"{local}; {forest}") from None

    @abc.abstractmethod
    def schema_attribute(self, name: str) -> SchemaAttribute | None:
        """The attribute's GUIDs from the live schema, or None when the schema lacks it."""

    @abc.abstractmethod
    def class_guids(self, names: tuple[str, ...]) -> tuple[uuid.UUID, ...]:
        """schemaIDGUIDs of object classes, in the order given."""

    @abc.abstractmethod
    def names(self, sids: set[Sid]) -> dict[str, str]:
        """Display names (`LAB\\group`) for SIDs, keyed by SID string; unknown ones omitted."""

    @abc.abstractmethod
    def attribute_states(self, obj: DirectoryObject, names: tuple[str, ...]) -> tuple[AttributeState, ...]:
        """Current values and replication metadata of the named attributes on `obj`."""

    def allowed_attributes_effective(self, obj: DirectoryObject) -> frozenset[str]:
        """What the sync account may write on `obj`, as the DC itself says
        (allowedAttributesEffective): live, what the *bound* account may write (bind as the
        sync account with `as_account`); offline, what was recorded that way."""
        from .errors import DirectoryError

        raise DirectoryError(f"a {self.kind} directory cannot ask the DC for allowedAttributesEffective")

    def captured_sync_identity(self) -> tuple[str, str] | None:
        """(account, product) a snapshot was captured for — what `--sync-account auto`
        means offline; None live, where the directory itself is searched."""
        return None

    def writer(self) -> DirectoryWriter | None:
        """The write capability, or None where nothing can be written (a snapshot)."""
        return None

    def as_account(self, bind_user: str, password_variable: str) -> Directory:
        """The same DC bound as `bind_user` (password from `password_variable`, keyring or a
        prompt) — how runbook 04 asks the DC what the sync account itself may write."""
        from ..errors import UsageError

        raise UsageError(f"a {self.kind} directory cannot bind as {bind_user}: give a live server")

    @abc.abstractmethod
    def scan_objects(self, base: str, ldap_filter: str, page_size: int) -> Iterator[ScanRow]:
        """Every object under `base` matching `ldap_filter`, with only what a scan's
        verdict needs, streamed page by page."""

    def close(self) -> None:  # noqa: B027 - a no-op default, overridden by live back ends
        """Release the connection (no-op for offline back ends)."""

    def __enter__(self: D) -> D:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
