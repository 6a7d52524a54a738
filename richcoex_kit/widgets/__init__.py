"""ipywidgets front ends over the checks (optional layer).

Each widget shows interactively in JupyterLab and carries a static HTML rendering of its
current state in the same output, which headless runs and evidence pages show. Verdicts
always come from library functions a headless run also calls.
"""

from .acl_viewer import AclViewer
from .attribute_grid import AttributeGrid
from .fix_panel import FixPanel
from .group_panel import GroupPanel
from .scan_table import ScanTable

__all__ = ["AclViewer", "AttributeGrid", "FixPanel", "GroupPanel", "ScanTable"]
