"""What to check, apart from where: the object, the sync account, the group, the
attributes. Stdlib only, so the runner can pass it to the runbooks without loading the
directory code, and one place holds the defaults every entry point shows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_SYNC_ACCOUNT = "MSOL_AD_Sync"
DEFAULT_GROUP = "MSOL_AD_Sync_RichCoexistence"
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

    def context(self) -> dict[str, Any]:
        """The request as the evidence records it."""
        return {"user": self.user, "sync_account": self.sync_account, "group": self.group,
                "attributes": self.attributes, "product": self.product}  # fmt: skip

    def parameters(self) -> dict[str, Any]:
        """The runbook parameters that carry this request (the object travels separately)."""
        return {"sync_account": self.sync_account, "group": self.group, "attributes": self.attributes,
                "product": self.product}  # fmt: skip

    @classmethod
    def from_parameters(cls, namespace: Mapping[str, Any], user: str | None = None) -> CheckRequest:
        """The request a runbook's parameters name (its globals()), for `user`: every
        check parameter taken by its name, as `ConnectionSpec.from_parameters` does."""
        names = [f.name for f in dataclasses.fields(cls) if f.name != "user"]
        return cls(user or None, **{name: namespace[name] for name in names if name in namespace})
