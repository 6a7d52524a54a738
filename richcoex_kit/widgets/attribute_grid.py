"""The attribute confirmation grid: per write-back attribute, the verdict and the ACE
that decided it, whether the schema has it, its current value, its last change, and
(when known) what the DC itself says the sync account may write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import ipywidgets as w

from ..directory.base import AttributeState
from ..findings import Finding, Status
from ..views import badge, records_table, wrap
from .core import StaticTwin


@dataclass(frozen=True)
class AttributeRow:
    name: str
    status: Status
    deciding: str
    in_schema: bool
    values: int
    last_change: str
    dc_allows: bool | None

    @property
    def problem(self) -> bool:
        return self.status != Status.PASS or self.dc_allows is False


def attribute_rows(findings: Iterable[Finding], states: Mapping[str, AttributeState],
                   allowed: frozenset[str] | None) -> list[AttributeRow]:  # fmt: skip
    """Join the acl.write.* and schema.* findings with the values read from the object."""
    by_id = {f.id: f for f in findings}
    rows = []
    for fid, finding in by_id.items():
        if not fid.startswith("acl.write."):
            continue
        name = fid.removeprefix("acl.write.")
        ace = finding.details.get("deciding_ace") or {}
        state = states.get(name)
        schema = by_id.get(f"schema.{name}")
        rows.append(AttributeRow(
            name=name, status=finding.status,
            deciding=f"ACE {ace['index']} {ace['type']} {ace['trustee']}" if ace else "(no ACE grants it)",
            in_schema=schema is not None and schema.status == Status.PASS,
            values=len(state.values) if state else 0,
            last_change=(state.last_originating_change or "") if state else "",
            dc_allows=None if allowed is None else name.lower() in allowed,
        ))  # fmt: skip
    return rows


class AttributeGrid(StaticTwin):
    def __init__(self, rows: list[AttributeRow]) -> None:
        self.rows = rows
        self.only_problems = w.Checkbox(value=False, description="only attributes with a problem", indent=False)
        self.table = w.HTML()
        self.only_problems.observe(self.refresh, "value")
        super().__init__([self.only_problems, self.table])
        self.refresh()

    def visible_rows(self) -> list[AttributeRow]:
        return [r for r in self.rows if r.problem] if self.only_problems.value else list(self.rows)

    def to_html(self) -> str:
        def yes_no(value: bool | None) -> str:
            return "—" if value is None else ("yes" if value else "<b>no</b>")

        body = [
            (r.name, badge(r.status), r.deciding, yes_no(r.in_schema), r.values or "—", r.last_change or "—",
             yes_no(r.dc_allows))
            for r in self.visible_rows()
        ]  # fmt: skip
        headers = ["Attribute", "Verdict", "Deciding ACE", "In schema", "Values", "Last change",
                   "DC says writable (allowedAttributesEffective)"]  # fmt: skip
        return records_table(headers, body, html_columns=(1, 3, 6))

    def refresh(self, *_: object) -> None:
        self.table.value = wrap(self.to_html())
