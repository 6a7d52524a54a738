"""The attribute confirmation grid: per write-back attribute, the verdict and the ACE
that decided it, whether the schema has it, its current value, its last change, and
(when known) what the DC itself says the sync account may write. The rows and the table
are views.py's, which a headless run shows without the widget."""

from __future__ import annotations

import ipywidgets as w

from ..views import AttributeRow, attribute_rows, attribute_table, wrap
from .core import StaticTwin

__all__ = ["AttributeGrid", "AttributeRow", "attribute_rows"]


class AttributeGrid(StaticTwin):
    def __init__(self, rows: list[AttributeRow]) -> None:
        self.rows = rows
        self.only_problems = w.Checkbox(value=False, description="only attributes with a problem", indent=False,
                                        layout=w.Layout(width="auto"))  # fmt: skip
        self.table = w.HTML()
        self.only_problems.observe(self.refresh, "value")
        super().__init__([self.only_problems, self.table])
        self.refresh()

    def visible_rows(self) -> list[AttributeRow]:
        return [r for r in self.rows if r.problem] if self.only_problems.value else list(self.rows)

    def to_html(self) -> str:
        return attribute_table(self.visible_rows())

    def refresh(self, *_: object) -> None:
        self.table.value = wrap(self.to_html())
