"""Findings: the one currency between checks, views, evidence and exit codes.

The JSON form (`richcoex.findings/1`) is a contract other tools rely on; its JSON Schema
ships in the package (`findings.schema.json`) and every emitted document validates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from typing import Any

from .errors import EXIT_COULD_NOT_RUN

SCHEMA_ID = "richcoex.findings/1"


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"
    ERROR = "ERROR"


# Worst last: how two runs are compared and counts are ordered.
SEVERITY = (Status.PASS, Status.SKIP, Status.WARN, Status.FAIL, Status.ERROR)
# What an engineer must look at: shown with its remedy, and routed to a runbook.
NEEDS_ATTENTION = frozenset({Status.FAIL, Status.WARN, Status.ERROR})

# Exit codes schedulers rely on (DESIGN.md, "Command line"); 2 and 3 live with the errors.
EXIT_OK, EXIT_FAIL = 0, 1


@dataclass(frozen=True)
class Finding:
    """One verdict about one thing, with what to do about it."""

    id: str
    status: Status
    title: str
    summary: str
    object: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    remedy: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "object": self.object,
            "title": self.title,
            "summary": self.summary,
            "details": self.details,
            "remedy": self.remedy,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(
            id=data["id"],
            status=Status(data["status"]),
            title=data["title"],
            summary=data["summary"],
            object=data.get("object"),
            details=data.get("details") or {},
            remedy=data.get("remedy"),
        )


def document(findings: Iterable[Finding], target: dict[str, str], kit_version: str, **extra: Any) -> dict[str, Any]:
    """The `richcoex.findings/1` document (extra keys such as `context` ride along)."""
    return {
        "schema": SCHEMA_ID,
        "kit_version": kit_version,
        "target": target,
        **extra,
        "findings": [f.to_json() for f in findings],
    }


def json_schema() -> dict[str, Any]:
    return json.loads(resources.files("richcoex_kit").joinpath("findings.schema.json").read_text())


def exit_code(findings: Iterable[Finding]) -> int:
    """0 nothing failed; 1 a FAIL; 3 an ERROR (a check could not run)."""
    statuses = {f.status for f in findings}
    if Status.ERROR in statuses:
        return EXIT_COULD_NOT_RUN
    if Status.FAIL in statuses:
        return EXIT_FAIL
    return EXIT_OK
