"""The group check panel: is the group there, who is in it, and how the sync account
reaches it. Type another account name and press Check to ask again."""

from __future__ import annotations

from dataclasses import replace

import ipywidgets as w

from ..checks import CheckRequest, check_group_exists, check_group_membership, gather
from ..directory.base import Directory
from ..directory.errors import DirectoryError
from ..findings import Finding
from ..views import group_html, wrap
from .core import StaticTwin


class GroupPanel(StaticTwin):
    def __init__(self, directory: Directory, request: CheckRequest) -> None:
        self.directory = directory
        self.request = replace(request, user=None)
        self.account = w.Text(value=request.sync_account, description="Sync account",
                              style={"description_width": "initial"})  # fmt: skip
        self.button = w.Button(description="Check", button_style="primary", icon="search")
        self.button.on_click(self.check)
        self.output = w.HTML()
        self.findings: list[Finding] = []
        self.error = ""
        super().__init__([w.HBox([self.account, self.button]), self.output])
        self.check()

    def check(self, *_: object) -> None:
        """Re-run the group checks (the same functions a headless run calls)."""
        self.request = replace(self.request, sync_account=self.account.value.strip())
        try:
            facts = gather(self.directory, self.request)
            self.findings = [check_group_exists(facts), check_group_membership(facts)]
            self.facts = facts
            self.error = ""
        except DirectoryError as error:
            self.findings, self.error = [], str(error)
        self.output.value = wrap(self.to_html())

    def to_html(self) -> str:
        return group_html(self.findings, None if self.error else self.facts.group, self.error)
