"""KB step 1 from the sync server: is write-back enabled, is a cycle running, which
objects failed export with 8344. Facts come from the collector script's JSON
(`collectors/Get-RichCoexSyncState.ps1`), which the engineer runs on the sync server,
because the notebook's host usually cannot reach that Windows machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from .errors import CouldNotRunError
from .findings import Finding, Status

SYNC_SCHEMA = "richcoex.syncstate/1"
COLLECTOR = "collectors/Get-RichCoexSyncState.ps1"
PERMISSION_ERROR = 8344
ENABLE_REMEDY = (
    "Run the sync tool's configuration wizard and enable 'Exchange hybrid deployment' (formerly rich coexistence), "
    "or as an enterprise admin: Import-Module DirSync; Enable-MSOnlineRichCoexistence (KB 2406830 step 1); "
    "Azure AD Connect / Entra Connect: Optional features → Exchange hybrid deployment."
)


class SyncStateError(CouldNotRunError):
    """The sync-state file is missing, truncated or not the collector's JSON."""


def lab_sync_state_path() -> Path:
    """The collector output shipped with the built-in lab (consistent with its scenarios)."""
    return Path(str(resources.files("richcoex_kit").joinpath("lab/sync-state.json")))


def collector_script() -> str:
    return resources.files("richcoex_kit").joinpath(COLLECTOR).read_text()


def _schema() -> dict[str, Any]:
    return json.loads(resources.files("richcoex_kit").joinpath("syncstate.schema.json").read_text())


@dataclass(frozen=True)
class SyncState:
    """The collector's report, validated."""

    data: dict[str, Any]
    origin: str

    @classmethod
    def load(cls, path: str | Path) -> SyncState:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise SyncStateError(f"sync state {str(path)!r} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SyncStateError(
                f"sync state {str(path)!r} is not complete JSON ({error}); re-run the collector"
            ) from None
        if not isinstance(data, dict) or data.get("schema") != SYNC_SCHEMA:
            raise SyncStateError(
                f"sync state {str(path)!r} is not the collector's output (expected schema {SYNC_SCHEMA})"
            )
        try:
            jsonschema.validate(data, _schema())
        except jsonschema.ValidationError as error:
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            raise SyncStateError(f"sync state {str(path)!r} is malformed at {where}: {error.message}") from None
        return cls(data, str(path))

    @property
    def product(self) -> str:
        product = self.data.get("product") or {}
        version = f" {product['version']}" if product.get("version") else ""
        return f"{product.get('name', 'unknown sync product')}{version}"

    def sync_accounts(self) -> list[str]:
        """The AD connector accounts (`DOMAIN\\MSOL_…`), for --sync-account auto."""
        return [c["account"] for c in self.data["connectors"] if c.get("account")]

    def permission_errors(self) -> list[dict[str, Any]]:
        return [e for e in self.data["export_errors"] if e.get("code") == PERMISSION_ERROR
                or e.get("error_type") == "permission-issue"]  # fmt: skip

    def failed_objects(self) -> list[str]:
        """DNs that failed export with 8344: exactly the objects runbooks 03/05 should check."""
        return sorted({e["dn"] for e in self.permission_errors()})


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
    data, where = state.data, f"{state.data.get('computer') or 'sync server'} ({state.product})"
    findings = []
    enabled = data["writeback"]["hybrid_exchange"]
    title = "Exchange hybrid write-back is enabled on the sync server"
    if enabled is None:
        findings.append(Finding("sync.writeback-enabled", Status.WARN, title,
                                f"{where} did not say whether write-back is enabled: {'; '.join(data['notes']) or 'no data'}.",
                                object=data.get("computer"), remedy=ENABLE_REMEDY))  # fmt: skip
    elif enabled:
        findings.append(Finding("sync.writeback-enabled", Status.PASS, title,
                                f"Exchange hybrid deployment write-back is enabled on {where}.", object=data.get("computer")))  # fmt: skip
    else:
        findings.append(Finding("sync.writeback-enabled", Status.FAIL, title,
                                f"Exchange hybrid deployment write-back is NOT enabled on {where}: nothing is written back.",
                                object=data.get("computer"), remedy=ENABLE_REMEDY))  # fmt: skip
    scheduler = data.get("scheduler")
    title = "No synchronization cycle is running"
    if scheduler is None or scheduler.get("cycle_in_progress") is None:
        findings.append(Finding("sync.cycle-idle", Status.SKIP, title,
                                f"{where} has no scheduler facts (Get-ADSyncScheduler is missing in this version)."))  # fmt: skip
    elif scheduler["cycle_in_progress"]:
        findings.append(Finding("sync.cycle-idle", Status.WARN, title,
                                "A sync cycle is running; the KB's cmdlet refuses now with \"MSO directory sync is "
                                "syncing please try again later\".", object=data.get("computer"),
                                details={"next_run": scheduler.get("next_run")},
                                remedy="Wait for the cycle to finish before enabling write-back or re-running exports."))  # fmt: skip
    else:
        findings.append(Finding("sync.cycle-idle", Status.PASS, title, f"No cycle is running on {where}.",
                                details={"next_run": scheduler.get("next_run"), "enabled": scheduler.get("enabled")}))  # fmt: skip
    errors = state.permission_errors()
    title = "The last export had no permission errors"
    if errors:
        findings.append(Finding(
            "sync.export-errors", Status.FAIL, title,
            f"{len(state.failed_objects())} object(s) failed export with 8344 (insufficient access rights): "
            + "; ".join(state.failed_objects()[:5]) + (" …" if len(state.failed_objects()) > 5 else ""),
            object=data.get("computer"), details={"errors": errors, "objects": state.failed_objects()},
            remedy="Run 03-object-permissions for each listed object (or 05-scan-scope over their OU).",
        ))  # fmt: skip
    else:
        findings.append(Finding("sync.export-errors", Status.PASS, title,
                                f"No export error with 8344 on {where}'s AD connectors.",
                                details={"errors": data["export_errors"]}))  # fmt: skip
    return findings


def account_from_state(sync_account: str, state: SyncState | None) -> str:
    """`--sync-account auto` with a sync state: the AD connector's account, when single
    (check, run and the runbooks all resolve it here, so they agree)."""
    if sync_account.lower() != "auto" or state is None:
        return sync_account
    accounts = state.sync_accounts()
    if len(accounts) == 1:
        return accounts[0].split("\\")[-1]
    return sync_account
