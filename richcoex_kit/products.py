"""The sync products in use, and what each implies: which account writes back, whether a
group holds the grants, which attributes reach which object classes, and which Microsoft
command grants the rights.

The verdict that matters is the sync identity's effective access however it was granted;
this model only decides the defaults and what counts as a finding. Every product fact is
cited from Microsoft's documentation beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import UsageError

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
    grant_command: str
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
        "Import-Module DirSync; Enable-MSOnlineRichCoexistence (KB 2406830), which grants the group",
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
        "Import-Module AdSyncConfig; Set-ADSyncExchangeHybridPermissions -ADConnectorAccountName <account> "
        "-ADConnectorAccountDomain <domain> [-ADobjectDN <DN>]",
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
        "Import-Module 'C:\\Program Files\\Microsoft Azure AD Connect Provisioning Agent\\Microsoft.CloudSync.Powershell.dll'; "
        "Set-AADCloudSyncPermissions -PermissionType HybridExchangePermissions -TargetDomain <domain FQDN> "
        "-TargetDomainCredential (Get-Credential)",
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


def infer_product(account: str) -> ProductId:
    """The documented rule when nothing says which product runs: the account
    `MSOL_AD_Sync` exactly → dirsync; a managed service account (`name$`) → cloudsync;
    any other account → connect."""
    name = account.strip().rsplit("\\", 1)[-1].split("@", 1)[0]
    if name.lower() == "msol_ad_sync":
        return "dirsync"
    if name.endswith("$"):
        return "cloudsync"
    return "connect"
