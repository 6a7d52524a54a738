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
    _g("e45795b2-9455-11d1-aebd-0000f80367c1"): "Email-Information",
    _g("e45795b3-9455-11d1-aebd-0000f80367c1"): "Web-Information",
    _g("5f202010-79a5-11d0-9020-00c04fc2d4cf"): "User-Logon",
    _g("bc0ac240-79a9-11d0-9020-00c04fc2d4cf"): "Membership",
    _g("037088f8-0ae1-11d2-b422-00a0c968f939"): "RAS-Information",
    _g("91e647de-d96f-4b70-9557-d63ff4f3ccd8"): "Private-Information",
    _g("5805bc62-bdc9-4428-a5e2-856a0f4c185e"): "Terminal-Server-License-Server",
}

# Control access rights (an ACE's ObjectType with CR, or a validated write), by rightsGuid,
# as [MS-ADTS] 5.1.3.2.1 "Control Access Rights" lists them: the ones default user
# descriptors carry, so the ACL viewer names them. A forest may add more; those stay GUIDs.
CONTROL_ACCESS_RIGHTS: dict[uuid.UUID, str] = {
    _g("ab721a53-1e2f-11d0-9819-00aa0040529b"): "User-Change-Password",
    _g("00299570-246d-11d0-a768-00aa006e0529"): "User-Force-Change-Password",
    _g("ab721a54-1e2f-11d0-9819-00aa0040529b"): "Send-As",
    _g("ab721a56-1e2f-11d0-9819-00aa0040529b"): "Receive-As",
    _g("f3a64788-5306-11d1-a9c5-0000f80367c1"): "Validated-SPN",
    _g("72e39547-7b18-11d1-adef-00c04fd8d5cd"): "Validated-DNS-Host-Name",
    _g("68b1d179-0d15-4d4f-ab71-46152e79a7bc"): "Allowed-To-Authenticate",
    _g("bf9679c0-0de6-11d0-a285-00aa003049e2"): "Self-Membership",
}

# Attributes outside the write-back catalogue that default descriptors name (schemaIDGUID,
# [MS-ADA1]–[MS-ADA3]); the write-back attributes are named from the forest's own schema.
OTHER_ATTRIBUTES: dict[uuid.UUID, str] = {
    _g("b7c69e6d-2cc7-11d2-854e-00a0c983f608"): "tokenGroups",
    _g("46a9b11d-60ae-405a-b7e8-ff8a58d456d2"): "tokenGroupsGlobalAndUniversal",
    _g("bf967a7f-0de6-11d0-a285-00aa003049e2"): "userCertificate",
    _g("6db69a1c-9422-11d1-aebd-0000f80367c1"): "terminalServer",
    _g("bd29bf90-66ad-40e1-887b-10df070419a6"): "msDS-ExternalDirectoryObjectId",
    _g("f0f8ff9a-1191-11d0-a060-00aa006c33ed"): "publicDelegates",
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


def well_known_guid_names() -> dict[str, str]:
    """GUID string → name for every property set, control access right, class and
    attribute this module knows, so no ACE shows a raw GUID where the name is known."""
    known = {**OTHER_ATTRIBUTES, **CONTROL_ACCESS_RIGHTS, **PROPERTY_SETS}
    return {str(guid): name for guid, name in known.items()} | {str(guid): name for name, guid in CLASSES.items()}


def cross_check(name: str, live_schema_id: uuid.UUID) -> str | None:
    """A note when the forest's schemaIDGUID differs from the publicly confirmed one."""
    entry = CATALOGUE.get(name)
    if entry is None or entry.schema_id is None or entry.schema_id == live_schema_id:
        return None
    return f"the forest's schemaIDGUID differs from the published {entry.schema_id}; the forest's is used"
