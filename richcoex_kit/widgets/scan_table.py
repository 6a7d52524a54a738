"""Runbook 05's table of failing objects, filterable by cause and by DN text."""

from __future__ import annotations

import ipywidgets as w

from ..scan import ScanResult
from ..views import CAUSE_WORDS, bar_chart, scan_rows, wrap
from .core import StaticTwin

EVERY = "(every cause)"


class ScanTable(StaticTwin):
    def __init__(self, result: ScanResult) -> None:
        self.result = result
        self.cause = w.Dropdown(options=[EVERY, *sorted(result.by_cause)], description="Cause")
        self.contains = w.Text(placeholder="OU=Sales or a name", description="DN contains")
        self.table = w.HTML()
        for control in (self.cause, self.contains):
            control.observe(self.refresh, "value")
        super().__init__([w.HTML(wrap(bar_chart(result.by_cause, CAUSE_WORDS))), w.HBox([self.cause, self.contains]),
                          self.table])  # fmt: skip
        self.refresh()

    def visible(self) -> list:
        rows = self.result.failing
        if self.cause.value != EVERY:
            rows = [r for r in rows if self.cause.value in r.verdict.causes]
        text = self.contains.value.strip().lower()
        if text:
            rows = [r for r in rows if text in r.dn.lower()]
        return rows

    def to_html(self) -> str:
        shown = self.visible()
        return (bar_chart(self.result.by_cause, CAUSE_WORDS)
                + f"<p class='muted'>{len(shown)} of {len(self.result.failing)} failing objects shown.</p>"
                + scan_rows(shown, self.result.attributes))  # fmt: skip

    def refresh(self, *_: object) -> None:
        self.table.value = wrap(self.to_html())
