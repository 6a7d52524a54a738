"""Regenerate the built-in lab snapshot from a real Samba lab DC.

One command: `richcoex lab capture` (brings a lab up if none runs, captures every
scenario as the runbooks read it, writes `richcoex_kit/lab/lab-snapshot.json`).
"""

from __future__ import annotations

from pathlib import Path

from ..checks import CheckRequest
from ..collect import capture
from ..directory.snapshot import builtin_lab_path
from . import scenarios as sc
from .samba import LabInfo
from .seed import admin_directory


def scenario_requests() -> list[CheckRequest]:
    """Every scenario with the Entra set (so both `kb` and `entra` runs work offline), the
    Entra Connect and Cloud Sync scenarios as their product sees them (no group), the
    defaults (`auto`: the lab's collector output names MSOL_AD_Sync), plus the KB's misspelt
    attribute so its alias is recorded as the KB user meets it."""
    requests = []
    for scenario in sc.ALL_SCENARIOS:
        group = scenario.group or ""
        for attributes in ("entra", "kb", ",".join(scenario.probes)):
            if attributes:
                requests.append(CheckRequest(scenario.user, scenario.sync_account, group, attributes,
                                             scenario.product))  # fmt: skip
    requests.append(CheckRequest(None, f"LAB\\{sc.SYNC_ACCOUNT}"))
    requests.append(CheckRequest(None, sc.SYNC_ACCOUNT, sc.GROUP, "msExchSafeRecipientHash"))
    return requests


def capture_lab(info: LabInfo, out: Path | None = None, progress: bool = True) -> Path:
    """Capture every scenario from the lab at `info` (admin bind; the DC's own
    allowedAttributesEffective asked while bound as the default sync account)."""
    out = out or builtin_lab_path()
    with admin_directory(info) as admin, admin_directory(info, sc.SYNC_ACCOUNT) as sync:
        recorder = capture(admin, scenario_requests(), allowed_from=sync, progress=progress)
        recorder.data["source"] = {"kind": "lab", "server": "Samba lab DC (richcoex lab up)", "bind": info.admin}
        return recorder.save(out)
