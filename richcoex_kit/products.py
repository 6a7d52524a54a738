"""The sync products in use, and what each implies: which account writes back, whether a
group holds the grants, which attributes reach which object classes, and which Microsoft
command grants the rights.

The verdict that matters is the sync identity's effective access however it was granted;
this model only decides the defaults and what counts as a finding. Every product fact is
cited from Microsoft's documentation beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import UsageError
from .text import command

ProductId = Literal["dirsync", "connect", "cloudsync"]
PRODUCT_IDS: tuple[ProductId, ...] = ("dirsync", "connect", "cloudsync")
PERSON_CLASSES = ("user", "inetOrgPerson")
WRITEBACK_CLASSES = ("user", "inetOrgPerson", "group", "contact")


@dataclass(frozen=True)
class Product:
    """One sync product's facts."""

    id: ProductId
    label: str
    default_account: str | None  # None: found by pattern (`MSOL_*`)
    uses_group: bool
    default_group: str | None
    # object class -> attributes written back to it; a class absent here gets none.
    # `None` as the value: every attribute of the selected set.
    class_scope: dict[str, frozenset[str] | None]
    never_written: frozenset[str] = frozenset()

    def attributes_for(self, object_class: str, selected: tuple[str, ...]) -> tuple[str, ...]:
        """Of `selected`, those this product writes back to an object of `object_class`
        (its structural class), in the order given."""
        if object_class not in self.class_scope:
            return ()
        scope = self.class_scope[object_class]
        return tuple(a for a in selected if a not in self.never_written and (scope is None or a in scope))

    def classes_for(self, attribute: str) -> tuple[str, ...]:
        """The object classes this product writes `attribute` to (for OU-level grants)."""
        return tuple(c for c in WRITEBACK_CLASSES if self.attributes_for(c, (attribute,)))


_PROXY_ONLY = frozenset({"proxyAddresses"})

PRODUCTS: dict[ProductId, Product] = {
    # KB 2406830: DirSync's account MSOL_AD_Sync, the group MSOL_AD_Sync_RichCoexistence
    # holding the grants, Enable-MSOnlineRichCoexistence. Unsupported since 2017.
    "dirsync": Product(
        "dirsync",
        "DirSync / Azure AD Sync",
        "MSOL_AD_Sync",
        True,
        "MSOL_AD_Sync_RichCoexistence",
        {"user": None, "inetOrgPerson": None, "contact": _PROXY_ONLY, "group": _PROXY_ONLY},
    ),
    # entra-docs reference-connect-accounts-permissions.md: the AD DS Connector account
    # (MSOL_<hex> in the forest root domain, or a custom account) gets Read/Write all
    # properties on User, iNetOrgPerson, Group and Contact for Exchange hybrid, granted
    # directly (no group) by the wizard or AdSyncConfig's Set-ADSyncExchangeHybridPermissions.
    # reference-connect-sync-attributes-synchronized.md, "Exchange hybrid writeback": the
    # Exchange attributes go to user/inetOrgPerson; contacts and groups get proxyAddresses.
    "connect": Product(
        "connect",
        "Microsoft Entra Connect Sync",
        None,
        False,
        None,
        {"user": None, "inetOrgPerson": None, "contact": _PROXY_ONLY, "group": _PROXY_ONLY},
    ),
    # entra-docs cloud-sync/exchange-hybrid.md: agent 1.1.1107.0 or later; proxyAddresses to
    # user/contact/inetOrgPerson, the Exchange attributes and msDS-ExternalDirectoryObjectId
    # to user/inetOrgPerson; no group attributes, no publicDelegates. The gMSA
    # (provAgentgMSA$ by default) is granted by Set-AADCloudSyncPermissions with the
    # permission type HybridExchangePermissions (cloud-sync/how-to-gmsa-cmdlets.md).
    "cloudsync": Product(
        "cloudsync",
        "Microsoft Entra Cloud Sync",
        "provAgentgMSA$",
        False,
        None,
        {"user": None, "inetOrgPerson": None, "contact": _PROXY_ONLY},
        never_written=frozenset({"publicDelegates"}),
    ),
}


def product(product_id: str) -> Product:
    """The product named by `--product` (dirsync, connect, cloudsync)."""
    try:
        return PRODUCTS[product_id.strip().lower()]  # type: ignore[index]
    except KeyError:
        raise UsageError(f"--product {product_id!r}: expected one of {', '.join(PRODUCT_IDS)} or auto") from None


# objectClass values of a managed service account (MS-ADSC): what Cloud Sync's agent runs as.
MANAGED_SERVICE_ACCOUNT_CLASSES = frozenset({"msds-groupmanagedserviceaccount", "msds-managedserviceaccount"})
DIRSYNC_ACCOUNT = "MSOL_AD_Sync"


def infer_product(account: str, object_classes: tuple[str, ...] = ()) -> ProductId:
    """The documented rule when nothing says which product runs: the account
    `MSOL_AD_Sync` exactly → dirsync; a managed service account (sAMAccountName ending in
    `$`, or objectClass msDS-GroupManagedServiceAccount / msDS-ManagedServiceAccount) →
    cloudsync; any other account → connect."""
    name = account.strip().rsplit("\\", 1)[-1].split("@", 1)[0]
    if name.lower() == DIRSYNC_ACCOUNT.lower():
        return "dirsync"
    if name.endswith("$") or MANAGED_SERVICE_ACCOUNT_CLASSES & {c.lower() for c in object_classes}:
        return "cloudsync"
    return "connect"


# Entra Connect's express setup names the AD DS Connector account MSOL_ + 12 hex digits
# (entra-docs reference-connect-accounts-permissions.md, "AD DS Connector account").
_CONNECT_DEFAULT = re.compile(r"MSOL_[0-9a-f]{12}", re.IGNORECASE)


def implied_product(sam_account_name: str) -> ProductId | None:
    """The product whose *default* account this is (`--sync-account auto`): MSOL_AD_Sync →
    dirsync, MSOL_<12 hex> → connect, provAgentgMSA$ → cloudsync; any other name → None."""
    if sam_account_name.lower() == DIRSYNC_ACCOUNT.lower():
        return "dirsync"
    if _CONNECT_DEFAULT.fullmatch(sam_account_name):
        return "connect"
    if sam_account_name.lower() == (PRODUCTS["cloudsync"].default_account or "").lower():
        return "cloudsync"
    return None


def why_inferred(product_id: ProductId) -> str:
    """The rule of `infer_product` that chose `product_id`, in words (stderr and evidence)."""
    return {
        "dirsync": "the account is MSOL_AD_Sync, DirSync's",
        "cloudsync": "the account is a managed service account, as Cloud Sync's agent runs as",
        "connect": "any account other than MSOL_AD_Sync or a managed service account is an Entra Connect connector",
    }[product_id]


# entra-docs connect/how-to-connect-configure-ad-ds-connector-account.md, "Permissions for
# Exchange Hybrid Deployment": Set-ADSyncExchangeHybridPermissions grants Read/Write all
# properties on user, inetOrgPerson, group and contact, at each domain root or on -ADobjectDN.
_ADSYNCCONFIG = "Import-Module AdSyncConfig"
# entra-docs cloud-sync/how-to-gmsa-cmdlets.md: permission type HybridExchangePermissions,
# -TargetDomain with -TargetDomainCredential (an admin of that domain).
_CLOUDSYNC_MODULE = "Import-Module 'C:\\Program Files\\Microsoft Azure AD Connect Provisioning Agent\\Microsoft.CloudSync.Powershell.dll'"


def grant_command(
    product_id: ProductId,
    account: str | None,
    domain: str | None,
    object_dn: str | None = None,
    grantee: str | None = None,
    attributes: tuple[str, ...] = (),
) -> str:
    """Microsoft's own way to grant the product's sync identity write-back rights: the one
    text for the remedy of `sync.export-errors`, the `acl.write.*` findings and the fix's
    alternative. Every word is quoted with `text.command()` (a DN is free text)."""
    name = account or "<name>"
    where = domain or "<domain>"
    if product_id == "connect":
        argv = ["Set-ADSyncExchangeHybridPermissions", "-ADConnectorAccountName", name,
                "-ADConnectorAccountDomain", where]  # fmt: skip
        if object_dn:
            argv += ["-ADobjectDN", object_dn]
        return f"{_ADSYNCCONFIG}; {command(*argv)}"
    if product_id == "cloudsync":
        argv = ["Set-AADCloudSyncPermissions", "-PermissionType", "HybridExchangePermissions", "-TargetDomain", where]
        return (f"{_CLOUDSYNC_MODULE}; {command(*argv)} -TargetDomainCredential (Get-Credential) "
                "(grants the agent's gMSA on the whole domain)")  # fmt: skip
    if object_dn and attributes:
        trustee = grantee or f"{where}\\{PRODUCTS['dirsync'].default_group}"
        return "; ".join(command("dsacls", object_dn, "/G", f"{trustee}:RPWP;{attribute}") for attribute in attributes)
    return ("Import-Module DirSync; Enable-MSOnlineRichCoexistence (KB 2406830), which grants "
            f"{PRODUCTS['dirsync'].default_group}")  # fmt: skip
