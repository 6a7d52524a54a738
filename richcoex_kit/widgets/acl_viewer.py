"""The ACL viewer: every ACE of the object's DACL, the ones that decide a write-back
attribute highlighted, with filters by trustee, source and relevance, and an SDDL toggle."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as w

from ..security import SecurityDescriptor
from ..security.access import Decision
from ..views import AclRow, acl_note, acl_rows, acl_table, esc, wrap
from .core import StaticTwin

ALL = "(every trustee)"


class AclViewer(StaticTwin):
    def __init__(self, sd: SecurityDescriptor, decisions: Mapping[str, Decision], names: Mapping[str, str],
                 title: str = "") -> None:  # fmt: skip
        self.rows = acl_rows(sd, decisions, names)
        self.title = title
        self.protected = sd.dacl_protected
        self.trustee = w.Dropdown(options=[ALL, *sorted({r.trustee for r in self.rows})], description="Trustee",
                                  layout=w.Layout(width="auto"))  # fmt: skip
        self.trustee.add_class("rcx-acl-trustee")
        self.source = w.ToggleButtons(options=["all", "explicit", "inherited"], value="all")
        self.relevant = w.Checkbox(value=False, description="only ACEs that decide a write-back attribute",
                                   indent=False, layout=w.Layout(width="auto"))  # fmt: skip
        self.sddl = w.ToggleButton(value=False, description="SDDL", tooltip="show each ACE as SDDL")
        self.table = w.HTML()
        for control in (self.trustee, self.source, self.relevant, self.sddl):
            control.observe(self.refresh, "value")
        super().__init__([w.HBox([self.trustee, self.source]), w.HBox([self.relevant, self.sddl]), self.table])
        self.add_class("rcx-acl-viewer")
        self.refresh()

    def visible_rows(self) -> list[AclRow]:
        rows = self.rows
        if self.trustee.value != ALL:
            rows = [r for r in rows if r.trustee == self.trustee.value]
        if self.source.value != "all":
            rows = [r for r in rows if r.inherited == (self.source.value == "inherited")]
        if self.relevant.value:
            rows = [r for r in rows if r.decides]
        return rows

    def to_html(self) -> str:
        shown = self.visible_rows()
        head = f"<h4>{esc(self.title)}</h4>" if self.title else ""
        return head + acl_note(self.rows, self.protected, len(shown)) + acl_table(shown, show_sddl=self.sddl.value)

    def refresh(self, *_: object) -> None:
        self.table.value = wrap(self.to_html())
