"""The same read interface over a JSON snapshot, and the recorder that captures one.

A snapshot holds exactly what the checks read — because it is recorded by wrapping a live
`Directory` while the checks run (`RecordingDirectory`) — so every runbook gives the
same verdicts offline as it gave live. A customer runs `richcoex collect`; a support
engineer runs the runbooks on the file. It holds no secret: descriptors, SIDs, names.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import one_line
from ..files import write_private
from ..jsondoc import packaged_schema, parse, validate
from ..security import Sid
from .base import (
    DEFAULT_SCAN_FILTER,
    AttributeState,
    Directory,
    DirectoryObject,
    DomainFacts,
    GroupFacts,
    ScanRow,
    SchemaAttribute,
    in_default_scan_scope,
    split_account,
)
from .errors import AmbiguousError, DirectoryError, NotFoundError, TokenGroupsUnavailableError

SNAPSHOT_SCHEMA = "richcoex.snapshot/1"


class SnapshotError(DirectoryError):
    """The snapshot file is missing, not JSON, or not a richcoex snapshot."""


def builtin_lab_path() -> Path:
    return Path(str(resources.files("richcoex_kit").joinpath("lab/lab-snapshot.json")))


def _object_to_json(obj: DirectoryObject) -> dict[str, Any]:
    return {
        "dn": obj.dn,
        "guid": str(obj.guid),
        "sid": str(obj.sid) if obj.sid else None,
        "object_classes": list(obj.object_classes),
        "sam_account_name": obj.sam_account_name,
        "admin_count": obj.admin_count,
        "descriptor": base64.b64encode(obj.descriptor).decode() if obj.descriptor else None,
        "sid_history": [str(s) for s in obj.sid_history],
    }


def _object_from_json(data: dict[str, Any]) -> DirectoryObject:
    return DirectoryObject(
        dn=data["dn"],
        guid=uuid.UUID(data["guid"]),
        sid=Sid.parse(data["sid"]) if data.get("sid") else None,
        object_classes=tuple(data["object_classes"]),
        sam_account_name=data.get("sam_account_name"),
        admin_count=data.get("admin_count"),
        descriptor=base64.b64decode(data["descriptor"]) if data.get("descriptor") else None,
        sid_history=tuple(Sid.parse(s) for s in data.get("sid_history") or ()),
    )


_DOMAIN_KEYS = frozenset(f.name for f in dataclasses.fields(DomainFacts))
_STATE_KEYS = frozenset(f.name for f in dataclasses.fields(AttributeState))


def _check_values(data: dict[str, Any], where: str) -> None:
    """What the schema cannot say: descriptors are base64, GUIDs and SIDs parse, records
    carry only the fields their dataclasses take."""
    path = "domain"
    try:
        if set(data["domain"]) - _DOMAIN_KEYS:
            raise ValueError(f"unexpected keys {sorted(set(data['domain']) - _DOMAIN_KEYS)}")
        Sid.parse(data["domain"]["domain_sid"])
        for dn, obj in data["objects"].items():
            path = f"objects/{dn}"
            uuid.UUID(obj["guid"])
            if obj.get("sid"):
                Sid.parse(obj["sid"])
            if obj.get("descriptor"):
                base64.b64decode(obj["descriptor"], validate=True)
        for name, group in data["groups"].items():
            path = f"groups/{name}"
            if group is not None:
                Sid.parse(group["sid"])
                for member in group["members"]:
                    if len(member) != 2 or not isinstance(member[0], str):
                        raise ValueError("expected [member DN, SID or null]")
                    if member[1]:
                        Sid.parse(member[1])
        for key in ("token_groups", "builtin"):
            for owner, sids in (data.get(key) or {}).items():
                path = f"{key}/{owner}"
                if isinstance(sids, dict):  # tokenGroups the DC did not return, and why
                    if not isinstance(sids.get("unavailable"), str):
                        raise ValueError('expected a list of SIDs or {"unavailable": why}')
                    continue
                for sid in [owner] * (key == "builtin") + sids:
                    Sid.parse(sid)
        path = "sync_accounts"
        for dn in data.get("sync_accounts") or ():
            if dn not in data["objects"]:
                raise ValueError(f"{dn!r} is not among the objects")
        for name, attr in data["schema_attributes"].items():
            path = f"schema_attributes/{name}"
            if attr is not None:
                uuid.UUID(attr["schema_id"])
                if attr.get("property_set"):
                    uuid.UUID(attr["property_set"])
        for name, guid in data["classes"].items():
            path = f"classes/{name}"
            uuid.UUID(guid)
        for dn, states in (data.get("attribute_states") or {}).items():
            path = f"attribute_states/{dn}"
            for state in states:
                if set(state) - _STATE_KEYS:
                    raise ValueError(f"unexpected keys {sorted(set(state) - _STATE_KEYS)}")
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise SnapshotError(f"{where} is malformed at {path}: {one_line(error)[:200]}") from None


class RecordingDirectory(Directory):
    """Wraps a live directory and records every answer, to be saved as a snapshot."""

    def __init__(self, inner: Directory) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.data: dict[str, Any] = {
            "schema": SNAPSHOT_SCHEMA,
            "kit_version": __version__,
            "captured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "source": inner.target(),
            "domain": None,
            "objects": {},
            "identities": {},
            "groups": {},
            "token_groups": {},
            "builtin": None,
            "protected": None,
            "sync_accounts": None,
            "schema_attributes": {},
            "classes": {},
            "names": {},
            "attribute_states": {},
            "allowed_effective": {},
        }

    def _keep(self, obj: DirectoryObject) -> DirectoryObject:
        self.data["objects"][obj.dn.lower()] = _object_to_json(obj)
        return obj

    def target(self) -> dict[str, str]:
        return self.inner.target()

    def domain(self) -> DomainFacts:
        facts = self.inner.domain()
        self.data["domain"] = {**facts.__dict__, "domain_sid": str(facts.domain_sid)}
        return facts

    def find_object(self, identity: str) -> DirectoryObject:
        obj = self._keep(self.inner.find_object(identity))
        self.data["identities"][identity.strip().lower()] = obj.dn.lower()
        return obj

    def find_in_global_catalog(self, identity: str) -> DirectoryObject:
        obj = self._keep(self.inner.find_in_global_catalog(identity))
        self.data.setdefault("global_catalog", {})[identity.strip().lower()] = obj.dn.lower()
        return obj

    def find_group(self, name: str) -> GroupFacts | None:
        group = self.inner.find_group(name)
        self.data["groups"][name.lower()] = (
            None
            if group is None
            else {
                "dn": group.dn,
                "sid": str(group.sid),
                "name": group.name,
                "members": [[dn, str(sid) if sid else None] for dn, sid in group.members],
            }
        )
        return group

    def token_groups(self, obj: DirectoryObject) -> tuple[Sid, ...]:
        try:
            sids = self.inner.token_groups(obj)
        except TokenGroupsUnavailableError as error:
            self.data["token_groups"][obj.dn.lower()] = {"unavailable": str(error)}
            raise
        self.data["token_groups"][obj.dn.lower()] = [str(s) for s in sids]
        return sids

    def protected_accounts(self) -> dict[str, str]:
        result = self.inner.protected_accounts()
        self.data["protected"] = result
        return result

    def builtin_memberships(self) -> dict[Sid, tuple[Sid, ...]]:
        result = self.inner.builtin_memberships()
        self.data["builtin"] = {str(k): [str(s) for s in v] for k, v in result.items()}
        return result

    def find_sync_accounts(self) -> list[DirectoryObject]:
        found = [self._keep(obj) for obj in self.inner.find_sync_accounts()]
        self.data["sync_accounts"] = [obj.dn.lower() for obj in found]
        return found

    def schema_attribute(self, name: str) -> SchemaAttribute | None:
        attr = self.inner.schema_attribute(name)
        self.data["schema_attributes"][name.lower()] = (
            None
            if attr is None
            else {
                "name": attr.name,
                "schema_id": str(attr.schema_id),
                "property_set": str(attr.property_set) if attr.property_set else None,
            }
        )
        return attr

    def class_guids(self, names: tuple[str, ...]) -> tuple[uuid.UUID, ...]:
        guids = self.inner.class_guids(names)
        for name in names:
            found = self.inner.class_guids((name,))
            if found:
                self.data["classes"][name.lower()] = str(found[0])
        return guids

    def names(self, sids: set[Sid]) -> dict[str, str]:
        result = self.inner.names(sids)
        self.data["names"].update(result)
        return result

    def scan_objects(self, base: str, ldap_filter: str, page_size: int) -> Iterator[ScanRow]:
        for row in self.inner.scan_objects(base, ldap_filter, page_size):
            self.data["objects"].setdefault(row.dn.lower(), {
                "dn": row.dn, "guid": str(uuid.UUID(int=0)), "sid": None, "object_classes": list(row.object_classes),
                "sam_account_name": None, "admin_count": row.admin_count,
                "descriptor": base64.b64encode(row.descriptor).decode() if row.descriptor else None,
            })  # fmt: skip
            yield row

    def attribute_states(self, obj: DirectoryObject, names: tuple[str, ...]) -> tuple[AttributeState, ...]:
        states = self.inner.attribute_states(obj, names)
        self.data["attribute_states"][obj.dn.lower()] = [s.__dict__ | {"values": list(s.values)} for s in states]
        return states

    def allowed_attributes_effective(self, obj: DirectoryObject) -> frozenset[str]:
        allowed = self.inner.allowed_attributes_effective(obj)
        self.record_allowed(obj, allowed, self.inner.target().get("bind", "?"))
        return allowed

    def record_allowed(self, obj: DirectoryObject, allowed: frozenset[str], account: str) -> None:
        """Keep what the DC said the *sync account* may write (asked while bound as it)."""
        self.data["allowed_effective"][obj.dn.lower()] = {"account": account, "attributes": sorted(allowed)}

    def save(self, path: str | Path) -> Path:
        return write_private(path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")

    def close(self) -> None:
        self.inner.close()


class SnapshotDirectory(Directory):
    """Answers the checks' questions from a snapshot file, offline."""

    def __init__(self, data: dict[str, Any], origin: str, kind: str = "snapshot") -> None:
        self.data = data
        self.origin = origin
        self.kind = kind

    @classmethod
    def load(cls, path: str | Path, kind: str = "snapshot") -> SnapshotDirectory:
        """Read and validate a snapshot: its schema (`snapshot.schema.json`, bounded depth),
        then every value the checks will decode — so a bad file is one line now, not a
        traceback in the middle of a check."""
        path = Path(path)
        where = f"snapshot {str(path)!r}"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SnapshotError(f"{where} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SnapshotError(f"{where} is not readable: {error}") from None
        data = parse(text, where, SnapshotError)
        if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
            raise SnapshotError(f"{where} is not a richcoex snapshot (expected schema {SNAPSHOT_SCHEMA})")
        validate(data, packaged_schema("snapshot.schema.json"), where, SnapshotError)
        _check_values(data, where)
        return cls(data, str(path), kind)

    def target(self) -> dict[str, str]:
        source = self.data.get("source") or {}
        return {
            "kind": self.kind,
            "server": f"{source.get('server', '?')} (captured {self.data.get('captured_at')})",
            "snapshot": self.origin,
        }

    def domain(self) -> DomainFacts:
        facts = dict(self.data["domain"])
        facts["domain_sid"] = Sid.parse(facts["domain_sid"])
        return DomainFacts(**facts)

    def _objects(self) -> dict[str, dict[str, Any]]:
        return self.data["objects"]

    def find_object(self, identity: str) -> DirectoryObject:
        key = identity.strip().lower()
        objects = self._objects()
        dn = self.data["identities"].get(key)
        domain, name = split_account(key)
        if dn is None and domain is not None:
            if domain != self.domain().netbios_name.lower():
                raise NotFoundError(f"{identity!r} names the domain {domain}, not the captured "
                                    f"{self.domain().netbios_name} (snapshot {self.origin})")  # fmt: skip
            key = name
        if dn is None:
            key_guid = key.strip("{}")
            matches = [
                d
                for d, o in objects.items()
                if key in (d, (o.get("sam_account_name") or "").lower()) or o["guid"] == key_guid
            ]
            if len(matches) > 1:
                raise AmbiguousError(f"{identity!r} is ambiguous in snapshot {self.origin}: {'; '.join(matches)}")
            dn = matches[0] if matches else None
        if dn is None or dn not in objects:
            names = sorted(str(o.get("sam_account_name") or o.get("dn") or dn) for dn, o in objects.items())
            held = ", ".join(names) if len(names) <= 30 else f"{len(names)} objects"
            raise NotFoundError(
                f"no object matches {identity!r} in snapshot {self.origin} "
                f"(it holds {held}; capture it with `richcoex collect --user {identity}`)"
            )
        return _object_from_json(objects[dn])

    def find_in_global_catalog(self, identity: str) -> DirectoryObject:
        """What the global catalog answered when the snapshot was captured."""
        dn = self.data.get("global_catalog", {}).get(identity.strip().lower())
        if dn is None:
            raise NotFoundError(f"snapshot {self.origin} holds no global-catalog answer for {identity!r}")
        return _object_from_json(self._objects()[dn])

    def find_group(self, name: str) -> GroupFacts | None:
        groups = self.data["groups"]
        if name.lower() not in groups:
            raise NotFoundError(f"snapshot {self.origin} was not captured with --group {name}")
        group = groups[name.lower()]
        if group is None:
            return None
        members = tuple((dn, Sid.parse(sid) if sid else None) for dn, sid in group["members"])
        return GroupFacts(group["dn"], Sid.parse(group["sid"]), group["name"], members)

    def token_groups(self, obj: DirectoryObject) -> tuple[Sid, ...]:
        sids = self.data["token_groups"].get(obj.dn.lower())
        if sids is None:
            raise NotFoundError(f"snapshot {self.origin} holds no tokenGroups for {obj.dn}")
        if isinstance(sids, dict):
            raise TokenGroupsUnavailableError(f"{sids['unavailable']} (when snapshot {self.origin} was captured)")
        return tuple(Sid.parse(s) for s in sids)

    def protected_accounts(self) -> dict[str, str]:
        recorded = self.data.get("protected")
        if recorded is None:
            raise NotFoundError(f"snapshot {self.origin} holds no protected-group membership (captured by an "
                                "older kit: capture it again)")  # fmt: skip
        return dict(recorded)

    def builtin_memberships(self) -> dict[Sid, tuple[Sid, ...]]:
        builtin = self.data.get("builtin") or {}
        return {Sid.parse(k): tuple(Sid.parse(s) for s in v) for k, v in builtin.items()}

    def captured_sync_identity(self) -> tuple[str, str] | None:
        recorded = self.data.get("sync_identity")
        return (recorded["account"], recorded["product"]) if recorded else None

    def find_sync_accounts(self) -> list[DirectoryObject]:
        listed = self.data.get("sync_accounts")
        if listed is None:
            raise NotFoundError(f"snapshot {self.origin} was not captured with --sync-account auto")
        return [_object_from_json(self._objects()[dn]) for dn in listed]

    def schema_attribute(self, name: str) -> SchemaAttribute | None:
        known = self.data["schema_attributes"]
        if name.lower() not in known:
            raise NotFoundError(f"snapshot {self.origin} was not captured with attribute {name}")
        attr = known[name.lower()]
        if attr is None:
            return None
        pset = attr.get("property_set")
        return SchemaAttribute(attr["name"], uuid.UUID(attr["schema_id"]), uuid.UUID(pset) if pset else None)

    def class_guids(self, names: tuple[str, ...]) -> tuple[uuid.UUID, ...]:
        classes = self.data["classes"]
        return tuple(uuid.UUID(classes[n.lower()]) for n in names if n.lower() in classes)

    def names(self, sids: set[Sid]) -> dict[str, str]:
        known = self.data["names"]
        return {str(s): known[str(s)] for s in sids if str(s) in known}

    def attribute_states(self, obj: DirectoryObject, names: tuple[str, ...]) -> tuple[AttributeState, ...]:
        states = self.data.get("attribute_states", {}).get(obj.dn.lower())
        if states is None:
            raise NotFoundError(f"snapshot {self.origin} holds no attribute values for {obj.dn}")
        wanted = {n.lower() for n in names}
        return tuple(
            AttributeState(**{**s, "values": tuple(s["values"])}) for s in states if s["name"].lower() in wanted
        )

    def allowed_attributes_effective(self, obj: DirectoryObject) -> frozenset[str]:
        recorded = self.data.get("allowed_effective", {}).get(obj.dn.lower())
        if recorded is None:
            raise NotFoundError(f"snapshot {self.origin} holds no allowedAttributesEffective for {obj.dn}")
        return frozenset(recorded["attributes"])

    def scan_objects(self, base: str, ldap_filter: str, page_size: int) -> Iterator[ScanRow]:
        """The snapshot's objects under `base`. Offline no filter is evaluated: the default
        one is applied as its class rule (`in_default_scan_scope`); any other `--filter`
        widens to every recorded object under `base`."""
        suffix = "," + base.lower()
        by_class = ldap_filter == DEFAULT_SCAN_FILTER
        for dn, obj in self.data["objects"].items():
            if by_class and not in_default_scan_scope(tuple(obj["object_classes"])):
                continue
            if dn == base.lower() or dn.endswith(suffix):
                descriptor = obj.get("descriptor")
                yield ScanRow(
                    obj["dn"],
                    tuple(obj["object_classes"]),
                    obj.get("admin_count"),
                    base64.b64decode(descriptor) if descriptor else None,
                )
