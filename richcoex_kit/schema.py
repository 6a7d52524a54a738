"""The write-back attribute catalogue, and its resolution against a live schema.

GUIDs here are a cross-check only: the kit reads schemaIDGUID
and attributeSecurityGUID from the forest it checks, because Exchange schema versions
(and the Samba lab) may differ from any table. A GUID is filled in below only where a
public source confirms it; the source is named beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class CatalogueAttribute:
    """An attribute the sync engine writes back, as public sources know it."""

    name: str
    schema_id: uuid.UUID | None
    property_set: uuid.UUID | None
    note: str = ""


def _g(text: str) -> uuid.UUID:
    return uuid.UUID(text)


# Sources: [MS-ADA3] (proxyAddresses, ms-Exch-Public-Delegates), [MS-ADA2]
# (ms-DS-External-Directory-Object-Id), and the Exchange GUIDs that Microsoft's own
# AdSyncConfig module (ADSyncConfig.psm1 / its "Hybrid Exchange" ACL script) grants
# WriteProperty on. Property sets are left None where no public source states them; the
# live schema's attributeSecurityGUID fills them in.
CATALOGUE: dict[str, CatalogueAttribute] = {
    a.name: a
    for a in (
        CatalogueAttribute("msExchSafeSendersHash", _g("7cb4c7d3-8787-42b0-b438-3c5d479ad31e"), None),
        CatalogueAttribute("msExchBlockedSendersHash", _g("66437984-c3c5-498f-b269-987819ef484b"), None),
        CatalogueAttribute("msExchSafeRecipientsHash", _g("6f606079-3a82-4c1b-8efb-dcc8c91d26fe"), None),
        CatalogueAttribute("msExchArchiveStatus", None, None, "schemaIDGUID not confirmed publicly"),
        CatalogueAttribute("msExchUCVoiceMailSettings", None, None, "schemaIDGUID not confirmed publicly"),
        CatalogueAttribute(
            "proxyAddresses",
            _g("bf967a06-0de6-11d0-a285-00aa003049e2"),
            _g("e48d0154-bcf8-11d1-8702-00c04fb96050"),
            "MS-ADA3: Public Information property set in a schema without Exchange",
        ),
        CatalogueAttribute("msExchUserHoldPolicies", None, None, "schemaIDGUID not confirmed publicly"),
        CatalogueAttribute("msDS-ExternalDirectoryObjectId", _g("bd29bf90-66ad-40e1-887b-10df070419a6"), None),
        CatalogueAttribute("publicDelegates", _g("f0f8ff9a-1191-11d0-a060-00aa006c33ed"), None),
    )
}

# The KB's six, in the KB's order; and the nine Azure AD Connect writes back today.
ATTRIBUTE_SETS: dict[str, tuple[str, ...]] = {
    "kb": (
        "msExchSafeSendersHash",
        "msExchBlockedSendersHash",
        "msExchSafeRecipientsHash",
        "msExchArchiveStatus",
        "msExchUCVoiceMailSettings",
        "proxyAddresses",
    ),
    "entra": (
        "msExchSafeSendersHash",
        "msExchBlockedSendersHash",
        "msExchSafeRecipientsHash",
        "msExchArchiveStatus",
        "msExchUCVoiceMailSettings",
        "proxyAddresses",
        "msExchUserHoldPolicies",
        "msDS-ExternalDirectoryObjectId",
        "publicDelegates",
    ),
}

# KB 2406830 spells msExchSafeRecipientsHash without the "s"; accept it and say so.
ALIASES: dict[str, str] = {"msexchsaferecipienthash": "msExchSafeRecipientsHash"}

PROPERTY_SETS: dict[uuid.UUID, str] = {
    _g("b1b3a417-ec55-4191-b327-b72e33e38af2"): "Exchange Personal Information",
    _g("1f298a89-de98-47b8-b5cd-572ad53d267e"): "Exchange Information",
    _g("e48d0154-bcf8-11d1-8702-00c04fb96050"): "Public Information",
    _g("77b5b886-944a-11d1-aebd-0000f80367c1"): "Personal Information",
    _g("59ba2f42-79a2-11d0-9020-00c04fc2d3cf"): "General Information",
    _g("4c164200-20c0-11d0-a768-00aa006e0529"): "Account Restrictions",
    # MS-ADTS 5.1.3.2.1 (validated writes, Windows Server 2016): msDS-KeyCredentialLink's
    # attributeSecurityGUID in [MS-ADA2], so a grant on it covers that attribute too.
    _g("9b026da6-0d3c-465c-8bee-5199d7165cba"): "DS-Validated-Write-Computer",
}

# Class schemaIDGUIDs from [MS-ADSC].
CLASSES: dict[str, uuid.UUID] = {
    "user": _g("bf967aba-0de6-11d0-a285-00aa003049e2"),
    "inetOrgPerson": _g("4828cc14-1437-45bc-9b07-ad6f015e5f28"),
    "group": _g("bf967a9c-0de6-11d0-a285-00aa003049e2"),
    "contact": _g("5cb41ed0-0e4c-11d0-a286-00aa003049e2"),
    "organizationalPerson": _g("bf967aa4-0de6-11d0-a285-00aa003049e2"),
    "person": _g("bf967aa7-0de6-11d0-a285-00aa003049e2"),
    "top": _g("bf967ab7-0de6-11d0-a285-00aa003049e2"),
    "computer": _g("bf967a86-0de6-11d0-a285-00aa003049e2"),
}

# The classes Microsoft's module grants write-back on, which the scan covers by default.
WRITEBACK_CLASSES = ("user", "inetOrgPerson", "group", "contact")


class UnknownAttributeError(UsageError, ValueError):
    """An --attributes value names neither a set nor a write-back attribute."""


def canonical_name(name: str) -> tuple[str, str | None]:
    """The schema's spelling of `name`, and a note when the caller used the KB's misspelling."""
    lowered = name.strip().lower()
    if lowered in ALIASES:
        real = ALIASES[lowered]
        return real, f"KB 2406830 writes {name!r}; the schema's attribute is {real}"
    for known in CATALOGUE:
        if known.lower() == lowered:
            return known, None
    return name.strip(), None


def select_attributes(spec: str | Iterable[str]) -> list[str]:
    """`kb`, `entra`, or a comma-separated list of names → schema spellings, in order."""
    items = [spec] if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in items:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            chosen = ATTRIBUTE_SETS.get(part.lower()) or (canonical_name(part)[0],)
            names += [n for n in chosen if n not in names]
    if not names:
        raise UnknownAttributeError(f"--attributes {spec!r} names no attribute (expected kb, entra or NAME,NAME…)")
    return names


def property_set_name(guid: uuid.UUID | None) -> str | None:
    return PROPERTY_SETS.get(guid) if guid else None


def cross_check(name: str, live_schema_id: uuid.UUID) -> str | None:
    """A note when the forest's schemaIDGUID differs from the publicly confirmed one."""
    entry = CATALOGUE.get(name)
    if entry is None or entry.schema_id is None or entry.schema_id == live_schema_id:
        return None
    return f"the forest's schemaIDGUID differs from the published {entry.schema_id}; the forest's is used"
