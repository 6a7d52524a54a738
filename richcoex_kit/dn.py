"""Distinguished names, through ldap3's own parser (`ldap3.utils.dn`), never by hand.

A CN may hold an escaped comma (the lab's `CN=Doe\\, John`): splitting on "," cuts it
in two. Every module that needs a DN's parent, first RDN or domain asks here. ldap3 is
imported at the first call, so the evidence writer and the runner, which show DNs but do
not talk LDAP, can import this module without loading ldap3.
"""

from __future__ import annotations

from .errors import UsageError


def _components(dn: str) -> list[str]:
    """The RDNs as written (escapes kept); raises when ldap3 does not parse `dn`."""
    from ldap3.utils.dn import parse_dn

    components: list[str] = []
    for attribute, value, separator in parse_dn(dn):
        if components and components[-1].endswith("+"):
            components[-1] += f"{attribute}={value}"
        else:
            components.append(f"{attribute}={value}")
        if separator == "+":
            components[-1] += "+"
    return components


def check_dn(dn: str, what: str) -> str:
    """`dn` unchanged when ldap3 parses it, else a UsageError naming `what` (e.g. --base)."""
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    try:
        if not parse_dn(dn):
            raise LDAPInvalidDnError("empty")
    except LDAPInvalidDnError:
        raise UsageError(f"{what} {dn!r} is not a valid DN (expected e.g. OU=Sales,DC=corp,DC=example)") from None
    return dn


def parent(dn: str) -> str:
    """The DN one level up ("" for a top-level DN). ldap3's `to_dn` splits on unescaped
    separators without validating each value — a third of `parse_dn`'s cost — which is
    enough for DNs the DC returned, and it is called once per failing object in a scan."""
    from ldap3.utils.dn import to_dn

    try:
        return ",".join(to_dn(dn)[1:])
    except Exception:  # ldap3 raises several types for malformed input; a display helper never fails
        return ""


def first_rdn(dn: str | None) -> str:
    """`CN=Doe\\, John` of `CN=Doe\\, John,OU=…` (the text as written, escapes kept)."""
    if not dn:
        return ""
    try:
        parts = _components(dn)
    except Exception:  # shown as given rather than failing a report
        return dn
    return parts[0] if parts else dn


def file_label(dn: str | None, limit: int = 40) -> str:
    """The first RDN's value as a file-name-safe label (`Doe__John` of `CN=Doe\\, John,…`)."""
    value = first_rdn(dn).partition("=")[2] or first_rdn(dn)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value)[:limit] or "object"


def domain_of(dn: str | None) -> str | None:
    """The trailing DC=… components of a DN (the domain it lies in), or None."""
    if not dn:
        return None
    try:
        parts = _components(dn)
    except Exception:  # not a DN: no domain to name
        return None
    index = len(parts)
    while index > 0 and parts[index - 1].upper().startswith("DC="):
        index -= 1
    return ",".join(parts[index:]) or None


def dns_name(dn: str | None) -> str:
    """`corp.example.com` of `CN=x,OU=y,DC=corp,DC=example,DC=com`: the DNS name of the domain
    a DN lies in, as Microsoft's cmdlets take it (-ADConnectorAccountDomain, -TargetDomain)."""
    from ldap3.utils.dn import parse_dn

    head = domain_of(dn)
    if not head:
        return ""
    return ".".join(value for attribute, value, _ in parse_dn(head) if attribute.upper() == "DC")
