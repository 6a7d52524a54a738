"""Every failure scenario of KB 2406830, seeded into a lab DC.

Each `Scenario` names the object to check, the sync account and group to check it with,
and what the DC must enforce for each write-back attribute. The oracle tests compare the
kit's verdicts with real writes; the README's scenario table is this table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ..schema import ATTRIBUTE_SETS, CLASSES

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


@dataclass(frozen=True)
class Scenario:
    """One way write-back breaks (or works), and what the DC enforces for it."""

    name: str
    user: str
    description: str
    writable: frozenset[str]
    sync_account: str = SYNC_ACCOUNT
    group: str = GROUP
    attributes: str = "kb"
    expect_status: dict[str, str] = field(default_factory=dict)


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

SCENARIO_BY_NAME = {s.name: s for s in SCENARIOS}

USER_CLASS = CLASSES["user"]
