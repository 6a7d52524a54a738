"""KB step 1 from the sync server: is write-back enabled, is a cycle running, which
objects failed export with 8344 and on which attributes. Facts come from the collector
script's JSON (`collectors/Get-RichCoexSyncState.ps1`), which the engineer runs on the sync
server or the Cloud Sync agent host, because the notebook's host usually cannot reach that
Windows machine.

Two document versions are read: `richcoex.syncstate/2` (product id, staging mode, Cloud Sync
agent, failed attributes per object) and the older `/1`, whose missing facts read as unknown.
The schema files are the published contract, checked by `jsondoc` (bounded depth, no
jsonschema import).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .errors import CouldNotRunError
from .findings import Finding, Status
from .jsondoc import Check, packaged_schema, parse, validate

SYNC_SCHEMA = "richcoex.syncstate/2"
SYNC_SCHEMA_V1 = "richcoex.syncstate/1"
_SCHEMA_FILES = {SYNC_SCHEMA: "syncstate.schema.json", SYNC_SCHEMA_V1: "syncstate-1.schema.json"}
COLLECTOR = "collectors/Get-RichCoexSyncState.ps1"
PERMISSION_ERROR = 8344

Product = Literal["dirsync", "connect", "cloudsync"]
# /1 documents named the product only; DESIGN.md counts Azure AD Sync with DirSync.
_PRODUCT_OF_V1_NAME: dict[str, Product] = {
    "DirSync": "dirsync",
    "Azure AD Sync": "dirsync",
    "Azure AD Connect": "connect",
    "Entra Connect Sync": "connect",
}
# entra-docs cloud-sync/exchange-hybrid.md: "The provisioning agent must be version 1.1.1107.0 or later."
CLOUD_SYNC_MIN_AGENT = (1, 1, 1107, 0)

ENABLE_REMEDY = (
    "Run the sync tool's configuration wizard and enable 'Exchange hybrid deployment' (formerly rich coexistence), "
    "or as an enterprise admin: Import-Module DirSync; Enable-MSOnlineRichCoexistence (KB 2406830 step 1); "
    "Azure AD Connect / Entra Connect: Optional features → Exchange hybrid deployment."
)
_ENABLE: dict[Product | None, str] = {
    "dirsync": "As an enterprise admin on the DirSync server: Import-Module DirSync; Enable-MSOnlineRichCoexistence "
    "(KB 2406830 step 1), or the configuration wizard's 'Enable Exchange hybrid deployment'.",
    "connect": "Run the Entra Connect (Azure AD Connect) wizard: Configure → Customize synchronization options → "
    "Optional features → Exchange hybrid deployment.",
    # entra-docs cloud-sync/exchange-hybrid.md, "How to enable".
    "cloudsync": "Entra admin center → Cloud sync → the configuration → Properties → Basic → check 'Exchange hybrid "
    "writeback' → Apply. If the box is disabled the Exchange schema was not detected: extend it, then restart the "
    "provisioning agent.",
    None: ENABLE_REMEDY,
}
_UPGRADE_AGENT = (
    "Upgrade the Entra provisioning agent on this host to 1.1.1107.0 or later (download it from the Entra admin "
    "center → Cloud sync → Agents, or let automatic upgrade run), restart it, then enable Exchange hybrid writeback "
    "in the configuration's Properties (entra-docs cloud-sync/exchange-hybrid.md)."
)
_STAGING = "a staging server never exports; no 8344 here proves nothing"
# entra-docs connect/how-to-connect-sync-staging-server.md: staging mode "does not run any exports".

# Microsoft's fix for attributes that fail with 8344 besides the Exchange hybrid set, keyed
# case-insensitively (csexport spells names as the sync engine's schema does).
_ATTRIBUTE_FIXES = {
    # entra-docs connect/how-to-connect-configure-ad-ds-connector-account.md, "Configure MS-DS-Consistency-Guid Permissions".
    "ms-ds-consistencyguid": "mS-DS-ConsistencyGuid is written when it is the source anchor: as an enterprise admin, "
    "Set-ADSyncMsDsConsistencyGuidPermissions -ADConnectorAccountName <name> -ADConnectorAccountDomain <domain> "
    "(Read/Write property on descendant user objects).",
    # learn.microsoft.com windows/security/identity-protection/hello-for-business/deploy/hybrid-key-trust: Connect
    # writes the Windows Hello for Business public key to msDS-KeyCredentialLink. entra-docs
    # connect/reference-connect-version-history-archive.md (2.0.3.0): AdSyncConfig no longer grants on
    # AdminSDHolder; how-to-connect-configure-ad-ds-connector-account.md: -IncludeAdminSdHolders "isn't recommended".
    "msds-keycredentiallink": "msDS-KeyCredentialLink is Windows Hello for Business key write-back (hybrid key "
    "trust). On an AdminSDHolder-protected admin (adminCount=1) it fails by design: the connector's domain-root "
    "grants never reach protected accounts and Microsoft advises against -IncludeAdminSdHolders. Let admins use a "
    "separate non-privileged account for Windows Hello, or move to cloud Kerberos trust.",
    # entra-docs authentication/howto-authentication-passwordless-security-key-on-premises.md: CN=krbtgt_AzureAD is
    # the Entra Kerberos server's TGT key account; exchange-hybrid.md / Set-ADSyncExchangeHybridPermissions cover users.
    "msds-externaldirectoryobjectid": "msDS-ExternalDirectoryObjectId belongs to the Exchange hybrid set: the "
    "product's Exchange hybrid grant above covers ordinary users. On CN=krbtgt_AzureAD (the Entra Kerberos key "
    "account) take the object out of sync scope instead of granting the sync account write on it.",
}


class SyncStateError(CouldNotRunError):
    """The sync-state file is missing, truncated, too deep or not the collector's JSON."""


def lab_sync_state_path() -> Path:
    """The collector output shipped with the built-in lab (consistent with its scenarios)."""
    return Path(str(resources.files("richcoex_kit").joinpath("lab/sync-state.json")))


def collector_script() -> str:
    """The read-only PowerShell collector, as `richcoex collect-sync --print-script` prints it."""
    return resources.files("richcoex_kit").joinpath(COLLECTOR).read_text(encoding="utf-8")


@dataclass(frozen=True)
class ConnectorAccount:
    """The account an AD connector logs on with, domain kept (`LAB\\MSOL_abc…`)."""

    connector: str | None
    forest: str | None
    domain: str | None
    name: str

    @property
    def qualified(self) -> str:
        """`DOMAIN\\name`, or the bare name when the collector saw no domain."""
        return f"{self.domain}\\{self.name}" if self.domain else self.name

    @classmethod
    def parse(cls, account: str, connector: str | None = None, forest: str | None = None) -> ConnectorAccount:
        domain, _, name = account.rpartition("\\")
        return cls(connector, forest, domain or None, name)


@dataclass(frozen=True)
class FailedExport:
    """One object whose last export failed: what csexport said and which attributes were in the modify.

    `attributes` are all attributes of the failed LDAP modify; one denied attribute fails the
    whole modify, so each must be checked, not only the first.
    """

    dn: str
    error_type: str
    code: int | None
    attributes: tuple[str, ...]
    connector: str | None = None
    error_code: str | None = None
    message: str | None = None
    detail: str | None = None
    time: str | None = None

    @property
    def permission_denied(self) -> bool:
        """8344 (insufficient access rights), by code or by csexport's error type."""
        return self.code == PERMISSION_ERROR or self.error_type == "permission-issue"


@dataclass(frozen=True)
class CloudSyncAgent:
    """The Entra provisioning agent as read on its host."""

    version: str | None
    service_account: str | None
    service_state: str | None = None

    @property
    def supports_exchange_writeback(self) -> bool | None:
        """Whether the agent is new enough for Exchange hybrid write-back (None: version unknown)."""
        parts = _version(self.version)
        return None if parts is None else parts >= CLOUD_SYNC_MIN_AGENT


def _version(text: str | None) -> tuple[int, ...] | None:
    if not text or not re.fullmatch(r"\d+(\.\d+){0,3}", text.strip()):
        return None
    parts = tuple(int(p) for p in text.strip().split("."))
    return parts + (0,) * (4 - len(parts))


@dataclass(frozen=True)
class SyncState:
    """The collector's report, validated; `data` is the document as read (either version)."""

    data: dict[str, Any]
    origin: str

    @classmethod
    def load(cls, path: str | Path) -> SyncState:
        """Read and validate a collector file; every way it can be wrong is one `SyncStateError` line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise SyncStateError(f"sync state {str(path)!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SyncStateError(f"sync state {str(path)!r} cannot be read ({error}); re-run the collector") from None
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, origin: str = "<text>") -> SyncState:
        """Validate the collector's JSON given as text (a file's content, or PSRP output)."""
        where = f"sync state {origin!r}"
        data = parse(text, where, SyncStateError, hint="; re-run the collector")
        version = data.get("schema") if isinstance(data, dict) else None
        if not isinstance(version, str) or version not in _SCHEMA_FILES:
            raise SyncStateError(
                f"{where} is not the collector's output (expected schema {SYNC_SCHEMA} or {SYNC_SCHEMA_V1})"
            )
        validate(data, _validator(version), where, SyncStateError)
        return cls(data, origin)

    @property
    def schema_version(self) -> int:
        """1 or 2: which collector generation wrote the document."""
        return 2 if self.data["schema"] == SYNC_SCHEMA else 1

    @property
    def product(self) -> Product | None:
        """`dirsync`, `connect` or `cloudsync` as the collector detected it; None when unknown."""
        product = self.data.get("product")
        if not product:
            return None
        if self.schema_version == 1:
            return _PRODUCT_OF_V1_NAME.get(product["name"])
        identifier: Product = product["id"]
        return identifier

    @property
    def product_label(self) -> str:
        """The product's name and version as shown to a person."""
        product = self.data.get("product") or {}
        version = f" {product['version']}" if product.get("version") else ""
        return f"{product.get('name', 'unknown sync product')}{version}"

    @property
    def staging(self) -> bool | None:
        """Whether the server is in staging mode (never exports); None when not known (/1, DirSync, Cloud Sync)."""
        staging: bool | None = self.data.get("staging")
        return staging

    @property
    def cloud_sync_agent(self) -> CloudSyncAgent | None:
        """The provisioning agent found on the host, if any (only /2 documents say)."""
        agent = self.data.get("cloud_sync")
        if not agent:
            return None
        return CloudSyncAgent(agent["agent_version"], agent["service_account"], agent.get("service_state"))

    @property
    def gmsa(self) -> str | None:
        """The Cloud Sync agent's service account (`DOMAIN\\provAgentgMSA$` by default), as it logs on."""
        agent = self.cloud_sync_agent
        return agent.service_account if agent else None

    def connector_accounts(self) -> list[ConnectorAccount]:
        """The AD connectors' accounts with their domain, in the collector's order."""
        return [ConnectorAccount.parse(c["account"], c.get("name"), c.get("forest"))
                for c in self.data["connectors"] if c.get("account")]  # fmt: skip

    def sync_accounts(self) -> list[str]:
        """The identities that write to AD (`DOMAIN\\MSOL_…`, or the Cloud Sync gMSA), for --sync-account auto."""
        accounts = [a.qualified for a in self.connector_accounts()]
        if self.product == "cloudsync" and self.gmsa:
            accounts.append(self.gmsa)
        return accounts

    @property
    def exports_read(self) -> bool:
        """False when the collector could not read export errors (csexport missing or failed, Cloud Sync)."""
        return self.data["export_errors"] is not None

    def exports(self) -> list[FailedExport]:
        """Every export error the collector read, typed; a /1 entry's single attribute becomes a 1-tuple."""
        return [_failed_export(e) for e in self.data["export_errors"] or []]

    def failed_exports(self) -> list[FailedExport]:
        """The export errors that are 8344 (permission) failures."""
        return [e for e in self.exports() if e.permission_denied]

    def permission_errors(self) -> list[dict[str, Any]]:
        """The 8344 export errors as the document holds them, with `attribute` (all names, comma-joined)
        kept for readers of the /1 shape."""
        return [dict(raw, attribute=", ".join(e.attributes) or None)
                for raw, e in zip(self.data["export_errors"] or [], self.exports(), strict=True) if e.permission_denied]  # fmt: skip

    def failed_objects(self) -> list[str]:
        """DNs that failed export with 8344: exactly the objects runbooks 03/05 should check."""
        return sorted({e.dn for e in self.failed_exports()})

    def failed_attributes(self) -> dict[str, tuple[str, ...]]:
        """Object DN → the attribute names of its failed 8344 modifies, merged, in first-seen order.

        The checks test exactly these attributes on that object (compare case-insensitively:
        they are spelled as the sync engine reports them). An empty tuple means the collector
        did not say (a /1 entry without `attribute`): check the whole attribute set.
        """
        merged: dict[str, dict[str, None]] = {}
        for e in self.failed_exports():
            merged.setdefault(e.dn, {}).update(dict.fromkeys(e.attributes))
        return {dn: tuple(names) for dn, names in sorted(merged.items())}


def _failed_export(raw: dict[str, Any]) -> FailedExport:
    attributes = raw.get("attributes")
    if attributes is None:
        attributes = [raw["attribute"]] if raw.get("attribute") else []
    code = raw.get("code")
    return FailedExport(
        dn=raw["dn"],
        error_type=raw["error_type"],
        code=int(code) if code is not None else None,
        attributes=tuple(attributes),
        connector=raw.get("connector"),
        error_code=raw.get("error_code"),
        message=raw.get("message"),
        detail=raw.get("detail"),
        time=raw.get("time"),
    )


def attribute_remedies(attributes: list[str] | tuple[str, ...]) -> list[str]:
    """Microsoft's fix for each attribute outside the Exchange hybrid grant among `attributes` (once each)."""
    seen = dict.fromkeys(a.casefold() for a in attributes)
    return [_ATTRIBUTE_FIXES[a] for a in seen if a in _ATTRIBUTE_FIXES]


def grant_remedy(state: SyncState) -> str:
    """How the product's sync identity gets write access to the Exchange hybrid attributes
    (the command itself is `products.grant_command`, shared with the checks and the fix)."""
    from .products import grant_command

    accounts = state.connector_accounts()
    single = accounts[0] if len(accounts) == 1 else None
    name, domain = (single.name, single.domain) if single else (None, None)
    product = state.product or "dirsync"
    if product == "cloudsync":
        gmsa = state.gmsa
        name, domain = (gmsa.rpartition("\\")[2], gmsa.rpartition("\\")[0] or None) if gmsa else (None, None)
    then = " Then run 03-object-permissions for each listed object."
    if product == "connect":
        return (f"As an enterprise admin: {grant_command('connect', name, domain)}; add -ADobjectDN <DN> for an "
                f"object whose inheritance is disabled.{then}")  # fmt: skip
    if product == "cloudsync":
        return f"On the agent host: {grant_command('cloudsync', name, domain)}.{then}"
    return ("Make the sync account a member of MSOL_AD_Sync_RichCoexistence and restore that group's inherited write "
            f"grant on each object (KB 2406830 step 2; {grant_command('dirsync', name, domain)}): run "
            "03-object-permissions for each listed object (or 05-scan-scope over their OU).")  # fmt: skip


def not_collected() -> list[Finding]:
    """Without the collector's output, say honestly what was not checked and how to get it."""
    how = ("Run `richcoex collect-sync --print-script > Get-RichCoexSyncState.ps1` here, run it on the sync server "
           "as a local admin, and pass its JSON as sync_state (notebook) or --sync-state (CLI).")  # fmt: skip
    return [
        Finding(fid, Status.SKIP, title, f"Not checked: no sync-server state was given. {how}")
        for fid, title in (
            ("sync.writeback-enabled", "Exchange hybrid write-back is enabled on the sync server"),
            ("sync.cycle-idle", "No synchronization cycle is running"),
            ("sync.export-errors", "The last export had no permission errors"),
        )
    ]


def sync_findings(state: SyncState) -> list[Finding]:
    """sync.writeback-enabled, sync.cycle-idle, sync.export-errors from the collector's facts."""
    return [_writeback_finding(state), _cycle_finding(state), _export_finding(state)]


def _where(state: SyncState) -> str:
    return f"{state.data.get('computer') or 'sync server'} ({state.product_label})"


def _writeback_finding(state: SyncState) -> Finding:
    data, where, computer = state.data, _where(state), state.data.get("computer")
    fid, title, remedy = (
        "sync.writeback-enabled",
        "Exchange hybrid write-back is enabled on the sync server",
        _ENABLE[state.product],
    )
    agent = state.cloud_sync_agent if state.product == "cloudsync" else None
    if agent is not None and agent.supports_exchange_writeback is False:
        return Finding(fid, Status.FAIL, title,
                       f"The provisioning agent on {where} is {agent.version}; Exchange hybrid write-back needs 1.1.1107.0 or later.",
                       object=computer, details={"agent_version": agent.version}, remedy=_UPGRADE_AGENT)  # fmt: skip
    enabled = data["writeback"]["hybrid_exchange"]
    if enabled is None:
        said = "; ".join(data["notes"]) or "no data"
        if agent is not None and agent.version is None:
            said = f"agent version unknown (needs 1.1.1107.0 or later); {said}"
        return Finding(fid, Status.WARN, title, f"{where} did not say whether write-back is enabled: {said}.",
                       object=computer, remedy=remedy)  # fmt: skip
    if enabled:
        return Finding(
            fid, Status.PASS, title, f"Exchange hybrid deployment write-back is enabled on {where}.", object=computer
        )
    return Finding(fid, Status.FAIL, title,
                   f"Exchange hybrid deployment write-back is NOT enabled on {where}: nothing is written back.",
                   object=computer, remedy=remedy)  # fmt: skip


def _cycle_finding(state: SyncState) -> Finding:
    scheduler, where = state.data.get("scheduler"), _where(state)
    fid, title = "sync.cycle-idle", "No synchronization cycle is running"
    if scheduler is None or scheduler.get("cycle_in_progress") is None:
        why = ("Cloud Sync has no local scheduler" if state.product == "cloudsync"
               else "Get-ADSyncScheduler is missing in this version")  # fmt: skip
        return Finding(fid, Status.SKIP, title, f"{where} has no scheduler facts ({why}).")
    if scheduler["cycle_in_progress"]:
        return Finding(fid, Status.WARN, title,
                       "A sync cycle is running; the KB's cmdlet refuses now with \"MSO directory sync is "
                       "syncing please try again later\".", object=state.data.get("computer"),
                       details={"next_run": scheduler.get("next_run")},
                       remedy="Wait for the cycle to finish before enabling write-back or re-running exports.")  # fmt: skip
    return Finding(fid, Status.PASS, title, f"No cycle is running on {where}.",
                   details={"next_run": scheduler.get("next_run"), "enabled": scheduler.get("enabled")})  # fmt: skip


def _export_finding(state: SyncState) -> Finding:
    data, where, computer = state.data, _where(state), state.data.get("computer")
    fid, title = "sync.export-errors", "The last export had no permission errors"
    if not state.exports_read:
        where_else = (" Cloud Sync reports them in the provisioning logs (Entra admin center)." if state.product == "cloudsync"
                      else "")  # fmt: skip
        return Finding(fid, Status.SKIP, title,
                       f"{where}'s export errors were not read: {'; '.join(data['notes']) or 'no data'}.{where_else}")  # fmt: skip
    objects, attributes = state.failed_objects(), state.failed_attributes()
    if objects:
        shown = "; ".join(f"{dn} ({', '.join(attributes[dn]) or 'attributes not reported'})" for dn in objects[:5])
        staging = f" The server is in staging mode ({_STAGING}): these errors predate it or come from a forced export." if state.staging else ""  # fmt: skip
        fixes = attribute_remedies([a for names in attributes.values() for a in names])
        return Finding(fid, Status.FAIL, title,
                       f"{len(objects)} object(s) failed export with 8344 (insufficient access rights): {shown}"
                       + (" …" if len(objects) > 5 else "") + "." + staging,
                       object=computer, details={"errors": state.permission_errors(), "objects": objects,
                                                 "attributes": {dn: list(a) for dn, a in attributes.items()}},
                       remedy=" ".join([grant_remedy(state), *fixes]))  # fmt: skip
    if state.staging:
        return Finding(fid, Status.WARN, title, f"{where} is in staging mode: {_STAGING}.", object=computer,
                       details={"errors": data["export_errors"], "staging": True},
                       remedy="Collect the sync state on the active (non-staging) server.")  # fmt: skip
    return Finding(fid, Status.PASS, title, f"No export error with 8344 on {where}'s AD connectors.",
                   details={"errors": data["export_errors"]})  # fmt: skip


# --- validation --------------------------------------------------------------------------


@cache
def _validator(version: str) -> Check:
    """The compiled check for one schema version, built on first use and kept."""
    return packaged_schema(_SCHEMA_FILES[version])


def account_from_state(sync_account: str, state: SyncState | None) -> str:
    """`--sync-account auto` with a sync state: the AD connector's account with its domain
    kept (`LAB\\MSOL_…`), when single (the runner passes it to the runbooks that take no
    sync state, so they check the same account `checks` resolves from the state)."""
    if sync_account.lower() != "auto" or state is None:
        return sync_account
    accounts = state.sync_accounts()
    return accounts[0] if len(accounts) == 1 else sync_account


def product_from_state(product: str, state: SyncState | None) -> str:
    """`--product auto` with a sync state: the product the collector detected."""
    if product.lower() != "auto" or state is None or state.product is None:
        return product
    return state.product
