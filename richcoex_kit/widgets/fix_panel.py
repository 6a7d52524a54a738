"""The Fix button: shows the plan (SDDL diff), stays disabled until the engineer ticks
"I have reviewed this plan", then asks once more before writing anything."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ..views import esc, wrap
from .core import StaticTwin


class FixPanel(StaticTwin):
    def __init__(self, plan_text: str, apply: Callable[[], str] | None, target: str) -> None:
        self.plan_text = plan_text
        self.apply_callback = apply
        self.state = "planned" if apply else "nothing to apply"
        self.result = ""
        self.reviewed = w.Checkbox(value=False, description="I have reviewed this plan", indent=False,
                                   disabled=apply is None, layout=w.Layout(width="auto"))  # fmt: skip
        self.button = w.Button(description="Fix", button_style="warning", icon="wrench", disabled=True,
                               tooltip=f"write the plan to {target}", layout=w.Layout(width="auto"))  # fmt: skip
        self.target = target
        self.reviewed.observe(self._review, "value")
        self.button.on_click(self._click)
        self.view = w.HTML()
        super().__init__([self.view, w.HBox([self.reviewed, self.button])])
        self._render()

    def _review(self, *_: object) -> None:
        self.button.disabled = not self.reviewed.value or self.state == "applied"

    def _click(self, *_: object) -> None:
        # The browser ignores clicks on a disabled button; a kernel-side click does not.
        if self.button.disabled or not self.reviewed.value:
            return
        if self.state == "planned":
            self.state = "confirming"
            self.button.description = f"Confirm: write to {self.target}"
            self.button.button_style = "danger"
        elif self.state == "confirming" and self.apply_callback is not None:
            self.result = self.apply_callback()
            self.state = "applied"
            self.button.disabled = self.reviewed.disabled = True
            self.button.description = "Applied"
        self._render()

    def to_html(self) -> str:
        status = {"planned": "Dry run: nothing has been written.", "confirming": "Click again to write.",
                  "applied": "Applied.", "nothing to apply": "Nothing to apply."}[self.state]  # fmt: skip
        result = f"<pre>{esc(self.result)}</pre>" if self.result else ""
        return f"<p><b>{esc(status)}</b></p><pre>{esc(self.plan_text)}</pre>{result}"

    def _render(self) -> None:
        self.view.value = wrap(self.to_html())
