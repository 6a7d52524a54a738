"""What every richcoex widget shares: a static HTML twin of its current state."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..views import wrap


class StaticTwin(w.VBox):
    """A VBox whose display also carries `text/html` of what it shows.

    JupyterLab renders the live widget; papermill/nbconvert have no widget state, so the
    evidence writer keeps the HTML twin instead (see evidence.strip_widget_views).
    """

    def to_html(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = wrap(self.to_html())
        return bundle
