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
.rcx td{overflow-wrap:break-word}.rcx td code{overflow-wrap:normal;white-space:nowrap}
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
.rcx td.nowrap{white-space:nowrap!important}
.rcx details{margin:4px 0 10px}.rcx details>summary{cursor:pointer;color:#0969da;margin:4px 0}
.rcx ul.verdicts{list-style:none;padding:0;margin:4px 0 8px}.rcx ul.verdicts li{margin:4px 0}
.rcx .summary div.verdicts{flex-basis:100%}.rcx .summary li b{display:inline;font-size:inherit;color:inherit}
</style>"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def badge(status: Status | str) -> str:
    value = status.value if isinstance(status, Status) else str(status)
    return f'<span class="badge {esc(value)}">{esc(value)}</span>'


def wrap(body: str) -> str:
    return f'{STYLE}<div class="rcx">{body}</div>'


def dn_html(dn: object) -> str:
    """A DN that breaks only after a comma (between RDNs), never inside a name."""
    return esc(dn).replace(",", ",<wbr>")


def object_name(dn: str | None) -> str:
    """What an engineer calls the object: its first RDN's value (`rc-deny` of `CN=rc-deny,…`)."""
    rdn = first_rdn(dn)
    return rdn.partition("=")[2] or rdn


def collapsed(summary: str, body: str) -> str:
    """A long table below its one-line summary, opened on a click (plain HTML: no JavaScript)."""
    return f"<details><summary>{summary}</summary>{body}</details>"


def findings_table(findings: Iterable[Finding]) -> str:
    rows = []
    for f in findings:
        remedy = f'<div class="remedy">Fix: {esc(f.remedy)}</div>' if f.remedy and f.status != Status.PASS else ""
        ace = f.details.get("deciding_ace") if isinstance(f.details, dict) else None
        ace_text = f'<div class="muted"><code>{esc(ace["sddl"])}</code></div>' if ace else ""
        rows.append(
            f"<tr><td class='nowrap'>{badge(f.status)}</td><td><code>{esc(f.id)}</code></td><td title='{esc(f.object)}'>"
            f"{esc(first_rdn(f.object))}</td><td>{esc(f.summary)}{ace_text}{remedy}</td></tr>"
        )
    return ("<table><tr><th>Status</th><th>Check</th><th>Object</th><th>Finding</th></tr>" + "".join(rows)
            + "</table>")  # fmt: skip


def summary_header(meta: Mapping[str, object], findings: Iterable[Finding]) -> str:
    """The box at the top of every evidence page: verdict counts, the object(s) checked
    with one line each saying what decided it, target, time, who."""
    chosen = list(findings)
    counts = [(s, sum(f.status == s for f in chosen)) for s in reversed(SEVERITY)]
    badges = " ".join(f"{badge(s)} {n}" for s, n in counts if n)
    cells = "".join(f"<div><b>{esc(k)}</b>{esc(v)}</div>" for k, v in meta.items())
    verdicts = object_verdicts(chosen)
    lines = f'<div class="verdicts"><b>objects</b>{verdict_list(verdicts)}</div>' if verdicts else ""
    return f'<div class="summary"><div><b>verdicts</b>{badges or "none"}</div>{cells}{lines}</div>'


# What decided a failing write, in the few words a verdict line has room for.
CAUSE_SHORT = {
    "no-grant": "no ACE grants WriteProperty to the sync account or a group in its token",
    "inheritance-off": "inheritance disabled",
    "adminsdholder": "AdminSDHolder-protected (a member of a protected group)",
    "adminsdholder-orphan": "orphaned adminCount=1 (not protected: fix it on the object)",
}


@dataclass(frozen=True)
class ObjectVerdict:
    """One object's verdict in one sentence: its worst status and what caused it."""

    object: str
    status: Status
    sentence: str


def _worst(findings: Iterable[Finding]) -> Status:
    return max((f.status for f in findings), key=SEVERITY.index, default=Status.PASS)


def _causes(findings: list[Finding]) -> list[str]:
    """The distinct causes behind an object's failing writes, explicit Denies by ACE index."""
    causes: list[str] = []
    denies: list[str] = []
    for f in findings:
        if f.id == "object.adminsdholder" and f.status != Status.PASS:
            causes.append(CAUSE_SHORT.get(str(f.details.get("cause")), CAUSE_SHORT["adminsdholder"]))
        elif f.id == "object.inheritance" and f.status == Status.FAIL:
            causes.append(CAUSE_SHORT["inheritance-off"])
        elif f.id.startswith("acl.write.") and f.status == Status.FAIL:
            cause = f.details.get("cause")
            ace = f.details.get("deciding_ace") or {}
            if cause == "deny" and "index" in ace:
                denies.append(str(ace["index"]))
            elif cause in CAUSE_SHORT:
                causes.append(CAUSE_SHORT[cause])
    if denies:
        unique = sorted(set(denies), key=int)
        causes.insert(0, f"explicit Deny, ACE{'s' if len(unique) > 1 else ''} {', '.join(unique)}")
    return list(dict.fromkeys(causes))


def object_verdicts(findings: Iterable[Finding]) -> list[ObjectVerdict]:
    """Per object whose DACL was checked (an object.* or acl.* finding names it), in order."""
    by_object: dict[str, list[Finding]] = {}
    for f in findings:
        if f.object and f.id.startswith(("object.", "acl.")):
            by_object.setdefault(f.object, []).append(f)
    verdicts = []
    for dn, chosen in by_object.items():
        writes = [f for f in chosen if f.id.startswith("acl.write.")]
        failing = [f for f in writes if f.status == Status.FAIL]
        causes = _causes(chosen)
        if failing:
            sentence = f"{len(failing)} of {len(writes)} write-back attributes fail with 8344: " + "; ".join(causes)
        elif any(f.status == Status.ERROR for f in chosen):
            sentence = next(f.summary for f in chosen if f.status == Status.ERROR)
        elif writes and all(f.status == Status.PASS for f in writes):
            sentence = f"the sync account may write all {len(writes)} write-back attributes"
            sentence += f" (but {'; '.join(causes)})" if causes else ""
        else:
            sentence = "; ".join(dict.fromkeys(f.summary for f in chosen if f.status != Status.PASS)) or "checked"
        verdicts.append(ObjectVerdict(dn, _worst(chosen), sentence))
    return verdicts


def verdict_list(verdicts: Iterable[ObjectVerdict]) -> str:
    """One line per object: its badge, its name (the full DN beside it), the cause."""
    items = "".join(
        f"<li>{badge(v.status)} <b>{esc(object_name(v.object))}</b> — {esc(v.sentence)}"
        f" <span class='muted'>({dn_html(v.object)})</span></li>"
        for v in verdicts
    )
    return f"<ul class='verdicts'>{items}</ul>" if items else ""


def findings_section(findings: Iterable[Finding], open_up_to: int = 10) -> str:
    """The verdict line(s) first, then the findings; a table longer than `open_up_to`
    rows is collapsed under a line that counts it."""
    chosen = list(findings)
    lines = verdict_list(object_verdicts(chosen))
    table = findings_table(chosen)
    if len(chosen) <= open_up_to:
        return lines + table
    counts = ", ".join(f"{n} {s.value}" for s in reversed(SEVERITY) if (n := sum(f.status == s for f in chosen)))
    return lines + collapsed(f"{len(chosen)} findings ({counts}), with the deciding ACE and the fix", table)


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
            f"<tr class='{classes}' data-trustee='{esc(r.trustee)}'><td>{r.index}</td>"
            f"<td class='nowrap'>{'Allow' if r.allow else 'Deny'}</td>"
            f"<td title='{esc(r.trustee_sid)}'>{esc(r.trustee)}</td><td>{detail}</td>"
            f"<td>{esc(r.object_type)}{applies}</td><td>{source}</td><td>{decides}</td></tr>"
        )
    head = "<tr><th>#</th><th>Type</th><th>Trustee</th><th>{}</th><th>Object type</th><th>Source</th><th></th></tr>"
    return "<table class='rcx-acl'>" + head.format("SDDL" if show_sddl else "Rights") + "".join(body) + "</table>"


def acl_note(rows: list[AclRow], protected: bool, shown: int | None = None) -> str:
    """The line above an ACL table: how many ACEs (of how many, when filtered), how many
    decide a write-back attribute, and whether the object inherits."""
    deciding = sum(1 for r in rows if r.decides)
    inheritance = "inheritance <b>disabled</b> (DACL protected)" if protected else "inherits from its parent"
    count = f"{shown} of {len(rows)} ACEs shown" if shown is not None else f"{len(rows)} ACEs"
    return (f"<p class='muted rcx-acl-count'>{count}; {deciding} decide a write-back attribute (highlighted); "
            f"the object {inheritance}.</p>")  # fmt: skip


def acl_section(rows: list[AclRow], protected: bool, title: str = "") -> str:
    """The ACL as a static page shows it: its note, and the table collapsed below."""
    head = f"<h4>{esc(title)}</h4>" if title else ""
    deciding = [r for r in rows if r.decides]
    summary = f"every ACE ({len(rows)})" + (f", the {len(deciding)} that decide highlighted" if deciding else "")
    return head + acl_note(rows, protected) + collapsed(summary, acl_table(rows))


@dataclass(frozen=True)
class AttributeRow:
    """One write-back attribute as runbook 04's grid shows it."""

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


def attribute_rows(findings: Iterable[Finding], states: Mapping[str, Any],
                   allowed: frozenset[str] | None) -> list[AttributeRow]:  # fmt: skip
    """Join the acl.write.* and schema.* findings with the values read from the object
    (`states`: attribute name → directory.base.AttributeState)."""
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


def attribute_table(rows: Iterable[AttributeRow]) -> str:
    def yes_no(value: bool | None) -> str:
        return "—" if value is None else ("yes" if value else "<b>no</b>")

    body = [
        (r.name, badge(r.status), r.deciding, yes_no(r.in_schema), r.values or "—", r.last_change or "—",
         yes_no(r.dc_allows))
        for r in rows
    ]  # fmt: skip
    headers = ["Attribute", "Verdict", "Deciding ACE", "In schema", "Values", "Last change",
               "DC says writable (allowedAttributesEffective)"]  # fmt: skip
    return records_table(headers, body, html_columns=(1, 3, 6))


def group_html(findings: list[Finding], group: Any, error: str = "") -> str:
    """The group panel's content: the two group findings, the direct members, the path
    (`group`: directory.base.GroupFacts or None)."""
    if error:
        return f"<p><b>Could not check:</b> {esc(error)}</p>"
    parts = [findings_table(findings)]
    if group is not None:
        members = [(first_rdn(dn), str(sid or ""), dn) for dn, sid in group.members]
        table = records_table(["Member", "SID", "DN"], members)
        parts.append(f"<h4>Direct members of {esc(group.name)} ({len(members)})</h4>")
        parts.append(table if len(members) <= 10 else collapsed(f"{len(members)} members", table))
    path = findings[1].details.get("path") if len(findings) > 1 else None
    if path:
        parts.append("<p><b>Path:</b> " + " → ".join(esc(first_rdn(dn)) for dn in path) + "</p>")
    return "".join(parts)


def records_table(headers: list[str], rows: Iterable[Iterable[object]], html_columns: Iterable[int] = ()) -> str:
    """A plain table; columns listed in `html_columns` are already HTML (badges)."""
    raw = set(html_columns)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if i in raw else dn_html(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


CAUSE_WORDS = {
    "no-grant": "No ACE grants WriteProperty to the sync account or a group in its token (the grant was never made, "
    "or not where this object inherits it)",
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
