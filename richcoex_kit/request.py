"""What to check, apart from where: the object, the sync account, the group, the
attributes. Stdlib only, so the runner can pass it to the runbooks without loading the
directory code, and one place holds the defaults every entry point shows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# `auto`: the account the product implies (checks._resolve_sync_account); "" as the group:
# the product's own (MSOL_AD_Sync_RichCoexistence for DirSync, none for Connect / Cloud Sync),
# so a group given explicitly can be told from the default.
DEFAULT_SYNC_ACCOUNT = "auto"
DEFAULT_GROUP = ""
DEFAULT_ATTRIBUTES = "kb"
DEFAULT_PRODUCT = "auto"


@dataclass(frozen=True)
class CheckRequest:
    """What to check: an object (optional for group-only runs), with which account and group."""

    user: str | None
    sync_account: str = DEFAULT_SYNC_ACCOUNT
    group: str = DEFAULT_GROUP
    attributes: str = DEFAULT_ATTRIBUTES
    product: str = DEFAULT_PRODUCT  # dirsync, connect, cloudsync, or auto (see products.py)
    # The collector's JSON (syncserver.SyncState): decides the product and the `auto` account,
    # and narrows an object that failed export to exactly its failed attributes.
    sync_state: str = ""

    def context(self) -> dict[str, Any]:
        """The request as the evidence records it."""
        return {"user": self.user, "sync_account": self.sync_account, "group": self.group,
                "attributes": self.attributes, "product": self.product,
                "sync_state": self.sync_state}  # fmt: skip

    def parameters(self) -> dict[str, Any]:
        """The runbook parameters that carry this request (the object and the sync state
        travel separately: the runner decides which runbook gets `sync_state`)."""
        return {"sync_account": self.sync_account, "group": self.group, "attributes": self.attributes,
                "product": self.product}  # fmt: skip

    @classmethod
    def from_parameters(cls, namespace: Mapping[str, Any], user: str | None = None) -> CheckRequest:
        """The request a runbook's parameters name (its globals()), for `user`: every
        check parameter taken by its name, as `ConnectionSpec.from_parameters` does."""
        names = [f.name for f in dataclasses.fields(cls) if f.name != "user"]
        return cls(user or None, **{name: namespace[name] for name in names if name in namespace})
