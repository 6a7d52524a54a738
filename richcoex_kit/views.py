"""HTML for findings, ACLs, groups and attributes: what widgets show interactively and
what headless runs and evidence pages show statically — the same builders, so a shared
evidence page says exactly what the engineer saw.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .dn import first_rdn
from .findings import SEVERITY, Finding, Status
from .security import SecurityDescriptor
from .security.access import Decision
from .security.rights import SDDL_ACE_TYPES, rights_in_words
from .security.sddl import ace_to_sddl

STYLE = """<style>
.rcx{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;font-size:13px;color:#1f2328}
.rcx table{border-collapse:collapse;width:100%;margin:6px 0 12px;table-layout:auto!important}
.rcx td{overflow-wrap:anywhere}.rcx td code{overflow-wrap:normal;white-space:nowrap}
.rcx th{background:#f6f8fa;font-weight:600;border-bottom:2px solid #d0d7de;padding:5px 8px}
.rcx td{border-bottom:1px solid #eaeef2;padding:5px 8px;vertical-align:top}
.rcx th,.rcx td{text-align:left!important;white-space:normal!important;max-width:none!important}
.rcx code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.rcx .badge{display:inline-block;min-width:44px;text-align:center;border-radius:10px;padding:1px 8px;
  font-weight:700;font-size:11px;color:#fff}
.rcx .PASS{background:#1a7f37}.rcx .FAIL{background:#cf222e}.rcx .WARN{background:#9a6700}
.rcx .SKIP{background:#6e7781}.rcx .ERROR{background:#8250df}
.rcx tr.decides td{background:#fff8c5}.rcx tr.deny td:first-child{border-left:3px solid #cf222e}
.rcx tr.allow td:first-child{border-left:3px solid #1a7f37}
.rcx .muted{color:#656d76}.rcx .remedy{color:#0969da}
.rcx .summary{display:flex;gap:16px;flex-wrap:wrap;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;
  margin-bottom:10px;background:#f6f8fa}
.rcx .summary div{min-width:140px}.rcx .summary b{display:block;font-size:11px;color:#656d76;font-weight:600}
</style>"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def badge(status: Status | str) -> str:
    value = status.value if isinstance(status, Status) else str(status)
    return f'<span class="badge {esc(value)}">{esc(value)}</span>'


def wrap(body: str) -> str:
    return f'{STYLE}<div class="rcx">{body}</div>'


def findings_table(findings: Iterable[Finding]) -> str:
    rows = []
    for f in findings:
        remedy = f'<div class="remedy">Fix: {esc(f.remedy)}</div>' if f.remedy and f.status != Status.PASS else ""
        ace = f.details.get("deciding_ace") if isinstance(f.details, dict) else None
        ace_text = f'<div class="muted"><code>{esc(ace["sddl"])}</code></div>' if ace else ""
        rows.append(
            f"<tr><td>{badge(f.status)}</td><td><code>{esc(f.id)}</code></td><td title='{esc(f.object)}'>"
            f"{esc(first_rdn(f.object))}</td><td>{esc(f.summary)}{ace_text}{remedy}</td></tr>"
        )
    return ("<table><tr><th>Status</th><th>Check</th><th>Object</th><th>Finding</th></tr>" + "".join(rows)
            + "</table>")  # fmt: skip


def summary_header(meta: Mapping[str, object], findings: Iterable[Finding]) -> str:
    """The box at the top of every evidence page: verdict counts, target, time, who."""
    chosen = list(findings)
    counts = [(s, sum(f.status == s for f in chosen)) for s in reversed(SEVERITY)]
    badges = " ".join(f"{badge(s)} {n}" for s, n in counts if n)
    cells = "".join(f"<div><b>{esc(k)}</b>{esc(v)}</div>" for k, v in meta.items())
    return f'<div class="summary"><div><b>verdicts</b>{badges or "none"}</div>{cells}</div>'


@dataclass(frozen=True)
class AclRow:
    """One ACE as the ACL viewer shows it."""

    index: int
    allow: bool
    type: str
    trustee: str
    trustee_sid: str
    rights: str
    object_type: str
    inherited_object_type: str
    inherited: bool
    inherit_only: bool
    sddl: str
    decides: tuple[str, ...]


def acl_rows(sd: SecurityDescriptor, decisions: Mapping[str, Decision], names: Mapping[str, str]) -> list[AclRow]:
    """Every DACL entry, with the write-back attributes it decides (if any)."""
    deciding: dict[int, list[str]] = {}
    for name, decision in decisions.items():
        if decision.ace_index is not None:
            deciding.setdefault(decision.ace_index, []).append(name)
    rows = []
    for index, ace in enumerate(sd.dacl or ()):
        sid = str(ace.sid) if ace.sid else ""
        object_type = str(ace.object_type) if ace.object_type else ""
        inherited_type = str(ace.inherited_object_type) if ace.inherited_object_type else ""
        rows.append(AclRow(
            index=index, allow=ace.is_allow, type=SDDL_ACE_TYPES.get(ace.type, hex(ace.type)),
            trustee=names.get(sid) or (ace.sid.name() if ace.sid else None) or sid, trustee_sid=sid,
            rights=rights_in_words(ace.mask) if ace.opaque is None else "(not interpreted)",
            object_type=names.get(object_type, object_type) if object_type else "(all)",
            inherited_object_type=names.get(inherited_type, inherited_type),
            inherited=ace.is_inherited, inherit_only=ace.inherit_only,
            sddl=ace_to_sddl(ace) if ace.opaque is None else "(opaque)",
            decides=tuple(deciding.get(index, ())),
        ))  # fmt: skip
    return rows


def acl_table(rows: Iterable[AclRow], show_sddl: bool = False) -> str:
    body = []
    for r in rows:
        classes = " ".join(c for c in ("decides" if r.decides else "", "allow" if r.allow else "deny") if c)
        decides = f"<b>decides {esc(', '.join(r.decides))}</b>" if r.decides else ""
        source = "inherited" if r.inherited else "explicit"
        if r.inherit_only:
            source += ", inherit-only"
        detail = f"<code>{esc(r.sddl)}</code>" if show_sddl else esc(r.rights)
        applies = (
            f" <span class='muted'>(on {esc(r.inherited_object_type)} objects)</span>"
            if r.inherited_object_type
            else ""
        )
        body.append(
            f"<tr class='{classes}'><td>{r.index}</td><td>{'Allow' if r.allow else 'Deny'}</td>"
            f"<td title='{esc(r.trustee_sid)}'>{esc(r.trustee)}</td><td>{detail}</td>"
            f"<td>{esc(r.object_type)}{applies}</td><td>{source}</td><td>{decides}</td></tr>"
        )
    head = "<tr><th>#</th><th>Type</th><th>Trustee</th><th>{}</th><th>Object type</th><th>Source</th><th></th></tr>"
    return "<table>" + head.format("SDDL" if show_sddl else "Rights") + "".join(body) + "</table>"


def records_table(headers: list[str], rows: Iterable[Iterable[object]], html_columns: Iterable[int] = ()) -> str:
    """A plain table; columns listed in `html_columns` are already HTML (badges)."""
    raw = set(html_columns)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if i in raw else esc(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


CAUSE_WORDS = {
    "no-grant": "No ACE grants the group WriteProperty (the grant was never made, or not where this object inherits it)",
    "deny": "An explicit Deny decides before any Allow",
    "inheritance-off": "Inheritance is disabled on the object, so the OU's grant does not reach it (the KB's note)",
    "adminsdholder": "AdminSDHolder-protected (a member of a protected group): SDProp re-stamps the ACL hourly",
    "adminsdholder-orphan": "Orphaned adminCount=1 (in no protected group): fix it on the object, not AdminSDHolder",
}


def bar_chart(counts: Mapping[str, int], words: Mapping[str, str] | None = None) -> str:
    """Horizontal bars in plain HTML/CSS: renders in JupyterLab, nbconvert pages and mail."""
    if not counts:
        return "<p class='muted'>nothing to chart</p>"
    top = max(counts.values())
    rows = []
    for key, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        width = max(2, round(300 * count / top))
        label = f"<b>{esc(key)}</b>" + (f"<div class='muted'>{esc(words[key])}</div>" if words and key in words else "")
        rows.append(f"<tr><td style='width:45%'>{label}</td><td><span style='display:inline-block;height:12px;"
                    f"width:{width}px;background:#cf222e;border-radius:2px'></span> {count}</td></tr>")  # fmt: skip
    return "<table>" + "".join(rows) + "</table>"


def scan_rows(failing: Iterable[Any], attributes: tuple[str, ...], limit: int = 500) -> str:
    items = list(failing)
    rows = []
    for obj in items[:limit]:
        failed = [a for a, ok in zip(attributes, obj.verdict.writable, strict=True) if not ok]
        causes = ", ".join(sorted(obj.verdict.cause_set))
        rows.append((obj.dn, obj.object_class, causes, ", ".join(failed)))
    more = f"<p class='muted'>{len(items) - limit} more in the CSV.</p>" if len(items) > limit else ""
    return records_table(["Object", "Class", "Cause", "Attributes that fail"], rows) + more


def scan_report(result: Any, meta: Mapping[str, object]) -> str:
    """The page a manager reads: how many objects are affected, why, and where."""
    incomplete = (f"<p style='color:#cf222e'><b>Incomplete:</b> {esc(result.incomplete)} — the counts cover the "
                  f"{result.scanned} objects scanned before that.</p>") if result.incomplete else ""  # fmt: skip
    facts = {**meta, "scope": result.base, "objects scanned": f"{result.scanned:,}",
             "failing": f"{len(result.failing):,}", "could not check": f"{len(result.unreadable):,}",
             "distinct descriptors": f"{result.distinct_descriptors:,}",
             "rate": f"{result.rate:,.0f} objects/s"}  # fmt: skip
    cells = "".join(f"<div><b>{esc(k)}</b>{esc(v)}</div>" for k, v in facts.items())
    by_ou = records_table(["OU", "Failing objects"], result.by_ou.most_common(50))
    blind = (f"<p style='color:#cf222e'><b>ERROR:</b> {len(result.unreadable):,} objects could not be checked; "
             "no verdict is given for them.</p>"
             + records_table(["Object", "Class", "Why"], [(o.dn, o.object_class, o.why) for o in result.unreadable[:500]])
             ) if result.unreadable else ""  # fmt: skip
    return (f"<h2>Write-back scan</h2><div class='summary'>{cells}</div>{incomplete}{blind}"
            f"<h3>Failing objects by cause</h3>{bar_chart(result.by_cause, CAUSE_WORDS)}"
            f"<h3>Failing objects by OU</h3>{by_ou}"
            f"<h3>Failing objects</h3>{scan_rows(result.failing, result.attributes)}")  # fmt: skip


def html_page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title></head>"
            f"<body style='margin:24px'>{wrap(body)}</body></html>")  # fmt: skip
