"""The read interface every directory back end satisfies, and the facts it returns.

Checks take these facts, never a connection, so the same verdicts come from a live DC
(`ldap.py`) or from a captured snapshot (`snapshot.py`).
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from ..security import Sid


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
    """What the rootDSE and the domain head say about where we are."""

    base_dn: str
    domain_sid: Sid
    netbios_name: str
    dns_host_name: str
    server: str


@dataclass(frozen=True)
class AttributeState:
    """An attribute's value on one object and its last originating write (replication
    metadata), which is how runbook 04 proves write-back resumed."""

    name: str
    values: tuple[str, ...]
    last_originating_change: str | None
    originating_dsa: str | None
    version: int | None


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One object of a bulk scan: the least a verdict needs (kept small: millions pass)."""

    dn: str
    object_classes: tuple[str, ...]
    admin_count: int | None
    descriptor: bytes | None


class Directory(abc.ABC):
    """Read-only questions the runbooks ask of a directory."""

    kind: str = "abstract"

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
    def builtin_memberships(self) -> dict[Sid, tuple[Sid, ...]]:
        """Builtin (domain-local) groups and the SIDs of their direct members."""

    @abc.abstractmethod
    def find_sync_accounts(self) -> list[DirectoryObject]:
        """Accounts named like the sync engine's (`MSOL_*`)."""

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
        """What the *bound* account may write on `obj`, as the DC itself says
        (allowedAttributesEffective). Only meaningful live, bound as the sync account."""
        from .errors import DirectoryError

        raise DirectoryError(f"a {self.kind} directory cannot ask the DC for allowedAttributesEffective")

    @abc.abstractmethod
    def scan_objects(self, base: str, ldap_filter: str, page_size: int) -> Iterator[ScanRow]:
        """Every object under `base` matching `ldap_filter`, with only what a scan's
        verdict needs, streamed page by page."""

    def close(self) -> None:  # noqa: B027 - a no-op default, overridden by live back ends
        """Release the connection (no-op for offline back ends)."""

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
