"""`richcoex collect`: capture a snapshot that answers every runbook offline.

It records, through `RecordingDirectory`, exactly what the checks read for each object
— so the snapshot cannot miss a fact a runbook needs, and holds nothing else (no
password, no attribute the checks do not read).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path

from tqdm.auto import tqdm

from .checks import CheckRequest, gather
from .directory.base import Directory
from .directory.errors import InsufficientRightsError
from .directory.snapshot import RecordingDirectory
from .schema import select_attributes


def capture(
    directory: Directory,
    requests: Iterable[CheckRequest],
    allowed_from: Directory | None = None,
    progress: bool = True,
) -> RecordingDirectory:
    """Run the checks' reads for every request through a recorder, plus runbook 04's
    attribute values; `allowed_from` (bound as the sync account) adds the DC's own
    allowedAttributesEffective for each object."""
    recorder = RecordingDirectory(directory)
    requests = list(requests)
    recorder.find_sync_accounts()  # so `--sync-account auto` works offline too
    for request in tqdm(requests, desc="collect", unit="object", disable=not progress, file=sys.stderr):
        facts = gather(recorder, request)
        if facts.target is None:
            continue
        names = tuple(a.name for a in facts.attributes if a.schema is not None)
        recorder.attribute_states(facts.target, names)
        if allowed_from is not None:
            try:
                allowed = allowed_from.allowed_attributes_effective(allowed_from.find_object(facts.target.dn))
            except InsufficientRightsError:
                continue  # that account cannot even read the object: runbook 04 offline says "not recorded"
            recorder.record_allowed(facts.target, allowed, allowed_from.target().get("bind", "?"))
    return recorder


def collect_to_file(
    directory: Directory,
    out: Path,
    users: list[str],
    request: CheckRequest,
    progress: bool = True,
) -> Path:
    """Capture `request` for each of `users` (or, with none, the account and group only),
    with the sync account and product it resolved to, so `auto` offline means the same."""
    select_attributes(request.attributes)  # fail on a bad --attributes before reading anything
    requests = [dataclasses.replace(request, user=user) for user in users] or [request]
    recorder = capture(directory, requests, progress=progress)
    facts = gather(directory, request)
    assert facts.sync_account is not None  # gather raises for an account it cannot find
    recorder.data["sync_identity"] = {"account": facts.account_name, "product": facts.product.id}
    return recorder.save(out)
