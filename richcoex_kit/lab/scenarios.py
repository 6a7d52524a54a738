"""Every failure scenario of KB 2406830, seeded into a lab DC.

Each `Scenario` names the object to check, the sync account and group to check it with,
and what the DC must enforce for each write-back attribute. The oracle tests compare the
kit's verdicts with real writes; the README's scenario table is this table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..schema import ATTRIBUTE_SETS, CLASSES
from .samba import BASE_DN

GROUP = "MSOL_AD_Sync_RichCoexistence"
SYNC_ACCOUNT = "MSOL_AD_Sync"
NESTED_SYNC_ACCOUNT = "MSOL_nested"
NESTING_GROUP = "RC-Nested-Sync"
OUTSIDER_SYNC_ACCOUNT = "MSOL_notmember"
ABSENT_GROUP = "MSOL_RichCoex_NeverCreated"
SCENARIO_OU = "RichCoex"
OU_WRITEBACK = "Writeback"
OU_NOGRANT = "NoGrant"

EXCHANGE_PERSONAL_INFORMATION = uuid.UUID("b1b3a417-ec55-4191-b327-b72e33e38af2")
PERSONAL_SET = ("msExchSafeSendersHash", "msExchBlockedSendersHash", "msExchSafeRecipientsHash")
MISSING_FROM_SCHEMA = "msExchUserHoldPolicies"


@dataclass(frozen=True)
class SchemaAddition:
    """An attribute the lab adds to Samba's schema, as an Exchange/AD schema defines it."""

    name: str
    attribute_id: str
    syntax: str
    om_syntax: int
    single_valued: bool
    schema_id: uuid.UUID
    property_set: uuid.UUID | None = None
    om_object_class: bytes | None = None
    link_id: int | None = None


def _lab_guid(name: str) -> uuid.UUID:
    """A stable GUID for an attribute whose real schemaIDGUID no public source confirms."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"richcoex-lab:{name}")


# OIDs of the Exchange attributes from `../shared/samba-lab.md`; GUIDs as in schema.py.
SCHEMA_ADDITIONS: tuple[SchemaAddition, ...] = (
    SchemaAddition(
        "msExchSafeSendersHash",
        "1.2.840.113556.1.4.7000.102.50765",
        "2.5.5.10",
        4,
        True,
        uuid.UUID("7cb4c7d3-8787-42b0-b438-3c5d479ad31e"),
        EXCHANGE_PERSONAL_INFORMATION,
    ),
    SchemaAddition(
        "msExchSafeRecipientsHash",
        "1.2.840.113556.1.4.7000.102.50766",
        "2.5.5.10",
        4,
        True,
        uuid.UUID("6f606079-3a82-4c1b-8efb-dcc8c91d26fe"),
        EXCHANGE_PERSONAL_INFORMATION,
    ),
    SchemaAddition(
        "msExchBlockedSendersHash",
        "1.2.840.113556.1.4.7000.102.50976",
        "2.5.5.10",
        4,
        True,
        uuid.UUID("66437984-c3c5-498f-b269-987819ef484b"),
        EXCHANGE_PERSONAL_INFORMATION,
    ),
    SchemaAddition(
        "msExchArchiveStatus", "1.2.840.113556.1.4.7000.102.51602", "2.5.5.9", 2, True, _lab_guid("msExchArchiveStatus")
    ),
    SchemaAddition(
        "msExchUCVoiceMailSettings",
        "1.2.840.113556.1.4.7000.102.51612",
        "2.5.5.12",
        64,
        False,
        _lab_guid("msExchUCVoiceMailSettings"),
    ),
    SchemaAddition(
        "msDS-ExternalDirectoryObjectId",
        "1.2.840.113556.1.4.2310",
        "2.5.5.12",
        64,
        True,
        uuid.UUID("bd29bf90-66ad-40e1-887b-10df070419a6"),
    ),
    # Windows Server 2016 schema; Samba 4.17's schema lacks it. IDs from [MS-ADA2]
    # msDS-KeyCredentialLink (attributeID, schemaIdGuid, DN-Binary syntax, linkId 2220,
    # attributeSecurityGUID = DS-Validated-Write-Computer); Microsoft's Windows Server 2016
    # domain-wide update (operation 89) grants (OA;CI;RPWP;5b47d60f-…;;Enterprise Key Admins).
    SchemaAddition(
        "msDS-KeyCredentialLink",
        "1.2.840.113556.1.4.2328",
        "2.5.5.7",
        127,
        False,
        uuid.UUID("5b47d60f-6090-40b2-9f37-2a4de88f3063"),
        uuid.UUID("9b026da6-0d3c-465c-8bee-5199d7165cba"),
        om_object_class=bytes.fromhex("2a864886f7140101010b"),
        link_id=2220,
    ),
    SchemaAddition(
        "publicDelegates",
        "1.2.840.113556.1.2.268",
        "2.5.5.1",
        127,
        False,
        uuid.UUID("f0f8ff9a-1191-11d0-a060-00aa006c33ed"),
        om_object_class=bytes.fromhex("2b0c0287731c00854a"),
    ),
)

ALL_ATTRIBUTES = ATTRIBUTE_SETS["entra"]
PRESENT_ATTRIBUTES = tuple(a for a in ALL_ATTRIBUTES if a != MISSING_FROM_SCHEMA)
# In Samba 4.17's own schema: mS-DS-ConsistencyGuid (23773dc2-b63a-11d2-90e1-00c04fd91ab1,
# the source anchor Entra Connect writes); msDS-KeyCredentialLink is added above.
CONSISTENCY_GUID = "mS-DS-ConsistencyGuid"
KEY_CREDENTIAL_LINK = "msDS-KeyCredentialLink"


@dataclass(frozen=True)
class Scenario:
    """One way write-back breaks (or works), and what the DC enforces for it."""

    name: str
    user: str
    description: str
    writable: frozenset[str]
    sync_account: str = SYNC_ACCOUNT
    group: str | None = GROUP
    attributes: str = "kb"
    expect_status: dict[str, str] = field(default_factory=dict)
    # Ground truth (PRODUCT_SCENARIOS): which product grants it, the object's class, the
    # attributes written for real as `sync_account`, and those it cannot read back.
    product: str = "dirsync"
    object_class: str = "user"
    probes: tuple[str, ...] = ()
    unreadable: frozenset[str] = frozenset()


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "healthy",
        "rc-healthy",
        "Inherits the grant Microsoft's module puts on the OU (OA;CIIO;WP;<attr>;user;group).",
        frozenset(PRESENT_ATTRIBUTES),
    ),
    Scenario("no-grant", "rc-nogrant", "Lives in an OU where the group was never granted anything.", frozenset()),
    Scenario(
        "inheritance-off",
        "rc-noinherit",
        "The KB's case: inheritance disabled and inherited ACEs removed (DACL protected).",
        frozenset(),
        expect_status={"object.inheritance": "FAIL"},
    ),
    Scenario(
        "deny-first",
        "rc-deny",
        "An explicit Deny WriteProperty for the group stands before the inherited Allow.",
        frozenset(),
    ),
    Scenario(
        "proxy-only",
        "rc-proxyonly",
        "Only proxyAddresses is granted (explicit ACE); the Exchange attributes are not.",
        frozenset({"proxyAddresses"}),
    ),
    Scenario(
        "property-set",
        "rc-propset",
        "Granted through the Exchange Personal Information property set only.",
        frozenset(PERSONAL_SET),
    ),
    Scenario(
        "nested-member",
        "rc-healthy",
        "The sync account is a member only through a nested group.",
        frozenset(PRESENT_ATTRIBUTES),
        sync_account=NESTED_SYNC_ACCOUNT,
    ),
    Scenario(
        "not-member",
        "rc-healthy",
        "The sync account is not a member of the group.",
        frozenset(),
        sync_account=OUTSIDER_SYNC_ACCOUNT,
        expect_status={"group.sync-account-member": "FAIL"},
    ),
    Scenario(
        "group-missing",
        "rc-healthy",
        "The group was never created, so nothing grants the sync account anything.",
        frozenset(),
        sync_account=OUTSIDER_SYNC_ACCOUNT,
        group=ABSENT_GROUP,
        expect_status={"group.exists": "FAIL", "group.sync-account-member": "FAIL"},
    ),
    Scenario(
        "adminsdholder",
        "rc-admin",
        "A Domain Admin (adminCount=1): SDProp stamps AdminSDHolder's protected ACL on it.",
        frozenset(),
        expect_status={"object.adminsdholder": "WARN", "object.inheritance": "FAIL"},
    ),
    Scenario(
        "schema-missing",
        "rc-healthy",
        f"The forest schema lacks {MISSING_FROM_SCHEMA}, which the Entra set writes back.",
        frozenset(PRESENT_ATTRIBUTES),
        attributes="entra",
        expect_status={f"schema.{MISSING_FROM_SCHEMA}": "FAIL"},
    ),
    Scenario(
        "escaped-dn",
        "rc-doe",
        "A healthy user whose DN has an escaped comma (CN=Doe\\, John).",
        frozenset(PRESENT_ATTRIBUTES),
    ),
)


# -- Entra Connect, Entra Cloud Sync and per-class scenarios (issues 12 and 13) ------------
# Seeded under their own top-level OU so the scenarios above (and the scans and snapshot
# built on them) stay exactly as they were; the kit's verdicts on these are wired separately.
PRODUCTS_OU = "RichCoexProducts"
OU_CONNECT = "EntraConnect"
OU_CLOUD_SYNC = "CloudSync"
OU_PER_CLASS = "PerClass"
OU_UNMANAGED = "Unmanaged"
OU_SOURCE_ANCHOR = "SourceAnchor"
OU_HARDENED = "Hardened"
PRODUCTS_BASE = f"OU={PRODUCTS_OU},{BASE_DN}"

# Entra Connect's default AD DS Connector account is MSOL_ + 12 hex digits, created in the
# forest root domain (entra-docs reference-connect-accounts-permissions.md); a custom
# connector account may have any name.
CONNECT_ACCOUNT = "MSOL_5f3a9c0e1b27"
CUSTOM_CONNECT_ACCOUNT = "svc-aadconnect"
# Entra Cloud Sync's default gMSA (entra-docs cloud-sync/gmsa-cloud-sync.md, how-to-install.md).
CLOUD_SYNC_GMSA = "provAgentgMSA$"
HELPDESK_GROUP = "RC-Helpdesk"
CONTRACTORS_GROUP = "RC-Contractors"

CONNECT_DN = f"OU={OU_CONNECT},{PRODUCTS_BASE}"
PER_CLASS_DN = f"OU={OU_PER_CLASS},{PRODUCTS_BASE}"
UNMANAGED_DN = f"OU={OU_UNMANAGED},{PRODUCTS_BASE}"
CONTACT_DN = f"CN=rc-contact,{PER_CLASS_DN}"
GROUP_OBJECT_DN = f"CN=rc-group,{PER_CLASS_DN}"
CLOUD_CONTACT_DN = f"CN=rc-cloud-contact,OU={OU_CLOUD_SYNC},{PRODUCTS_BASE}"

# Attributes outside the write-back set that a fix must leave refused on rc-noncanonical.
GUARDED = ("description", "telephoneNumber")
WRITEBACK = frozenset(PRESENT_ATTRIBUTES)
USER_PROBES = PRESENT_ATTRIBUTES
CLASS_PROBES = ("proxyAddresses", "description")
# Observed: with the inherited RPWP stripped, the connector cannot even read the Exchange
# attributes back — the user class's default DACL lets Authenticated Users read property
# sets only (proxyAddresses is in Public Information), not these attributes.
UNREADABLE_WHEN_STRIPPED = WRITEBACK - {"proxyAddresses"}


def _granted_directly(name: str, user: str, description: str, writable: frozenset[str], *,
                      sync_account: str = CONNECT_ACCOUNT, product: str = "connect",
                      probes: tuple[str, ...] = USER_PROBES, **fields: Any) -> Scenario:  # fmt: skip
    """An Entra Connect or Cloud Sync scenario: the account itself holds the grant, no group."""
    return Scenario(name, user, description, writable, sync_account=sync_account, group=None, product=product,
                    probes=probes, **fields)  # fmt: skip


PRODUCT_SCENARIOS: tuple[Scenario, ...] = (
    _granted_directly(
        "connect-healthy",
        "rc-connect-healthy",
        "Inherits Set-ADSyncExchangeHybridPermissions' grant on the OU (OA;CIIO;RPWP;;user;MSOL_…).",
        WRITEBACK,
    ),
    _granted_directly(
        "connect-inheritance-off",
        "rc-connect-broken",
        "The KB's case under Entra Connect: DACL protected, inherited ACEs (the grant) stripped.",
        frozenset(),
        unreadable=UNREADABLE_WHEN_STRIPPED,
    ),
    _granted_directly(
        "connect-custom-account",
        "rc-connect-healthy",
        "A custom-named connector account granted the same way on the same OU.",
        WRITEBACK,
        sync_account=CUSTOM_CONNECT_ACCOUNT,
    ),
    _granted_directly(
        "connect-custom-inheritance-off",
        "rc-connect-broken",
        "The custom connector account on the protected, stripped user.",
        frozenset(),
        sync_account=CUSTOM_CONNECT_ACCOUNT,
        unreadable=UNREADABLE_WHEN_STRIPPED,
    ),
    _granted_directly(
        "connect-orphan-admincount",
        "rc-orphan",
        "adminCount=1 left behind (in no protected group); DACL still inherits the grant: writable.",
        WRITEBACK,
    ),
    _granted_directly(
        "connect-orphan-protected",
        "rc-orphan-stripped",
        "adminCount=1 orphan that kept SDProp's protected DACL (inherited ACEs stripped): refused.",
        frozenset(),
    ),
    _granted_directly(
        "connect-domain-admin",
        "rc-admin",
        "The truly protected Domain Admin (AdminSDHolder's DACL): refused to the connector too.",
        frozenset(),
    ),
    _granted_directly(
        "connect-noncanonical",
        "rc-noncanonical",
        "Protected, stripped DACL with a non-canonical explicit order (an Allow for RC-Helpdesk "
        "before a Deny for RC-Contractors) and explicit Denies of description/telephoneNumber "
        "for the connector: a fix must keep every ACE's relative order and those two refused.",
        frozenset(),
        probes=(*USER_PROBES, *GUARDED),
        unreadable=UNREADABLE_WHEN_STRIPPED,
    ),
    _granted_directly(
        "connect-contact",
        CONTACT_DN,
        "A contact under an OU granting RPWP on proxyAddresses to descendant contacts only.",
        frozenset({"proxyAddresses"}),
        object_class="contact",
        probes=CLASS_PROBES,
    ),
    _granted_directly(
        "connect-group",
        "rc-group",
        "A group under the same OU (RPWP on proxyAddresses to descendant groups only).",
        frozenset({"proxyAddresses"}),
        object_class="group",
        probes=CLASS_PROBES,
    ),
    _granted_directly(
        "unmanaged-computer",
        "rc-pc$",
        "A computer in a scanned OU with no grant: not a write-back class, and refused.",
        frozenset(),
        object_class="computer",
        probes=CLASS_PROBES,
    ),
    _granted_directly(
        "unmanaged-gmsa",
        "rc-gmsa$",
        "A gMSA (msDS-GroupManagedServiceAccount) in the same OU: refused.",
        frozenset(),
        object_class="msDS-GroupManagedServiceAccount",
        probes=CLASS_PROBES,
    ),
    _granted_directly(
        "unmanaged-smsa",
        "rc-smsa$",
        "An sMSA (msDS-ManagedServiceAccount) in the same OU: refused.",
        frozenset(),
        object_class="msDS-ManagedServiceAccount",
        probes=CLASS_PROBES,
    ),
    _granted_directly(
        "connect-source-anchor",
        "rc-anchor",
        "Only Set-ADSyncMsDsConsistencyGuidPermissions' grant (RPWP;mS-DS-ConsistencyGuid;user): "
        "the source anchor is writable, msDS-KeyCredentialLink and the Exchange set are not.",
        frozenset({CONSISTENCY_GUID}),
        probes=(CONSISTENCY_GUID, KEY_CREDENTIAL_LINK, "proxyAddresses", "msExchSafeSendersHash"),
    ),
    _granted_directly(
        "connect-write-only",
        "rc-writeonly",
        "Protected DACL granting the connector WriteProperty on proxyAddresses without "
        "ReadProperty and nobody else read access: the write lands, the confirming import "
        "cannot read it back.",
        frozenset({"proxyAddresses"}),
        probes=("proxyAddresses", "msExchSafeSendersHash"),
        unreadable=frozenset({"proxyAddresses", "msExchSafeSendersHash"}),
    ),
    _granted_directly(
        "cloudsync-healthy",
        "rc-cloud-healthy",
        "Inherits Set-AADCloudSyncPermissions' HybridExchangePermissions grant for provAgentgMSA$.",
        WRITEBACK,
        sync_account=CLOUD_SYNC_GMSA,
        product="cloudsync",
    ),
    _granted_directly(
        "cloudsync-contact",
        CLOUD_CONTACT_DN,
        "Cloud Sync writes proxyAddresses to contacts; the same grant covers contact.",
        frozenset({"proxyAddresses", "description"}),
        sync_account=CLOUD_SYNC_GMSA,
        product="cloudsync",
        object_class="contact",
        probes=CLASS_PROBES,
    ),
    _granted_directly(
        "cloudsync-not-granted",
        "rc-connect-healthy",
        "The gMSA on an object granted only to the Entra Connect accounts: refused.",
        frozenset(),
        sync_account=CLOUD_SYNC_GMSA,
        product="cloudsync",
    ),
)

ALL_SCENARIOS = SCENARIOS + PRODUCT_SCENARIOS
SCENARIO_BY_NAME = {s.name: s for s in ALL_SCENARIOS}


@dataclass(frozen=True)
class Expectation:
    """One row of the ground truth: what the DC does when `account` writes `attribute` on
    `identity` for real, and whether `account` can then read the value back."""

    scenario: str
    account: str
    identity: str
    object_class: str
    attribute: str
    writable: bool
    readable: bool


def expectations(scenarios: tuple[Scenario, ...] = PRODUCT_SCENARIOS) -> tuple[Expectation, ...]:
    """The oracle's expectations, one row per (scenario, probed attribute)."""
    return tuple(
        Expectation(s.name, s.sync_account, s.user, s.object_class, name, name in s.writable, name not in s.unreadable)
        for s in scenarios
        for name in s.probes
    )


EXPECTATIONS = expectations()

USER_CLASS = CLASSES["user"]


def expectations_markdown(rows: tuple[Expectation, ...] = EXPECTATIONS) -> str:
    """The expectations as a Markdown table (for the README or a report)."""
    lines = [
        "| scenario | account | object | class | attribute | writable | readable |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        obj = row.identity.split(",")[0].removeprefix("CN=")
        lines.append(
            f"| `{row.scenario}` | {row.account} | `{obj}` | {row.object_class} | {row.attribute} | "
            f"{'yes' if row.writable else 'no'} | {'yes' if row.readable else 'no'} |"
        )
    return "\n".join(lines)
