"""The evidence bundle a scheduled run leaves behind, and how to read it back.

evidence/<UTC-timestamp>-<target>/
    NN-step[--object].ipynb   executed notebooks (widget views replaced by their HTML twins)
    NN-step[--object].html    the same as a page, a findings summary box at the top
    summary.json              richcoex.findings/1 + parameters (no secrets), DC, who, when, runs
    MANIFEST.sha256           sha256sum-compatible list of every file above
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import re
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import CouldNotRunError, one_line
from .files import write_private
from .findings import SCHEMA_ID, SEVERITY, Finding, Status, document
from .jsondoc import compile_schema, parse, validate
from .views import STYLE, summary_header, wrap

FINDINGS_MIMETYPE = "application/vnd.richcoex.findings+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MANIFEST = "MANIFEST.sha256"
SUMMARY = "summary.json"

if TYPE_CHECKING:  # importing nbformat costs ~0.8 s (jsonschema): `check` and `scan` record without it
    from nbformat import NotebookNode


def who_ran() -> str:
    """user@host of whoever ran the kit (recorded in every piece of evidence)."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def provenance() -> dict[str, str]:
    """When and by whom, for any document the kit emits."""
    return {"finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "who": who_ran()}


def step_record(step: str, findings: list[Finding], target: dict[str, str], context: dict[str, Any]) -> dict[str, Any]:
    """A runbook's last output: the findings document under FINDINGS_MIMETYPE (what the
    runner reads back), the page's summary box as HTML, and a one-line text form."""
    context = {**context, **provenance()}
    doc = document(findings, target, __version__, context=context)
    meta = {"step": step, "target": doc["target"].get("server", doc["target"]["kind"]),
            "object": context.get("user") or "—", "ran": f"{context['finished']} by {context['who']}",
            "kit": __version__}  # fmt: skip
    counts = ", ".join(f"{sum(f.status == s for f in findings)} {s.value}" for s in Status)
    return {FINDINGS_MIMETYPE: doc, "text/html": wrap(summary_header(meta, findings)),
            "text/plain": f"richcoex findings for {step}: {counts}"}  # fmt: skip


def strip_widget_views(notebook: NotebookNode) -> NotebookNode:
    """Keep each widget's static HTML twin; drop views whose live state a file cannot hold."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/html" in data:
                del data[WIDGET_VIEW]
    notebook.metadata.pop("widgets", None)
    return notebook


def recorded_documents(notebook: NotebookNode) -> list[dict[str, Any]]:
    """Every findings document a runbook recorded (its last cell's FINDINGS_MIMETYPE output)."""
    documents = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            document = output.get("data", {}).get(FINDINGS_MIMETYPE)
            if document:
                documents.append(dict(document))
    return documents


def failure_reason(notebook: NotebookNode) -> str | None:
    """Why an executed runbook stopped: the kit's one-line error, else the cell's error."""
    reason = None
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                for line in str(output.get("text", "")).splitlines():
                    if line.startswith("richcoex: error: "):
                        reason = line.removeprefix("richcoex: error: ")
            elif output.get("output_type") == "error":
                reason = f"{output.get('ename')}: {one_line(output.get('evalue'))}"
    return reason


def notebook_html(notebook: NotebookNode, summary: str, hide_input: bool = True) -> str:
    """The executed notebook as a page for sharing, with the findings summary on top."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", exclude_input=hide_input, exclude_input_prompt=True,
                            exclude_output_prompt=True)  # fmt: skip
    page, _ = exporter.from_notebook_node(notebook)
    box = f'{STYLE}<div class="rcx" style="margin:16px 24px 0">{summary}</div>'
    match = re.search(r"<main[^>]*>|<body[^>]*>", page)
    return page[: match.end()] + box + page[match.end() :] if match else box + page


def page_summary(meta: dict[str, object], findings: Iterable[Finding]) -> str:
    return "<h2 style='margin:0 0 8px'>richcoex evidence</h2>" + summary_header(meta, list(findings))


def write_manifest(folder: Path) -> Path:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(folder).as_posix()}")
    return write_private(folder / MANIFEST, "\n".join(lines) + "\n")


def verify_manifest(folder: Path) -> list[str]:
    """Files whose content no longer matches the manifest (empty when intact)."""
    problems = []
    for line in (folder / MANIFEST).read_text().splitlines():
        digest, name = line.split("  ", 1)
        path = folder / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(name)
    return problems


# What `diff` reads of a bundle's summary.json (the rest is for people).
_SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "findings"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "status"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"enum": [s.value for s in Status]},
                    "object": {"type": ["string", "null"]},
                },
            },
        },
    },
}


def load_summary(folder: str | Path) -> dict[str, Any]:
    """A bundle's summary.json, validated: one line naming the file and what was expected."""
    path = Path(folder) / SUMMARY
    where = f"evidence summary {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CouldNotRunError(f"{folder} is not an evidence bundle (no {SUMMARY})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CouldNotRunError(f"{where} is not readable: {error}") from None
    data = parse(text, where)
    validate(data, compile_schema(_SUMMARY_SCHEMA), where)
    return dict(data)


def diff_findings(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str | None, str | None]]:
    """(check id, object, status before, status after) for every finding that changed,
    appeared or disappeared between two bundles, in check order."""

    def index(summary: dict[str, Any]) -> dict[tuple[str, str], str]:
        return {(f["id"], f.get("object") or ""): f["status"] for f in summary["findings"]}

    old, new = index(before), index(after)
    changed = []
    for key in list(old) + [k for k in new if k not in old]:
        if old.get(key) != new.get(key):
            changed.append((key[0], key[1], old.get(key), new.get(key)))
    return changed


def got_worse(status_before: str | None, status_after: str | None) -> bool:
    if status_after is None:
        return False
    order = [s.value for s in SEVERITY]
    return order.index(status_after) > order.index(status_before or Status.PASS.value)
