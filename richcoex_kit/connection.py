"""Where and how to connect: the one definition of the target options.

The CLI's TARGET options, `richcoex run`'s parameters for the runbooks and every
runbook's parameters cell are all this dataclass's fields — the CLI generates its
options from `FIELDS`, the runner passes `to_parameters()`, the notebooks call
`from_parameters(globals())`, and a test fails when a runbook lacks a field. So an
option cannot again be accepted by one entry point and silently dropped by another.

It holds no secret: the password is resolved at bind time (`settings.resolve_password`).
Stdlib only, so the runner and the evidence writer can use it without loading ldap3.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError

TLS_MODES = ("ldaps", "starttls", "none")
AUTH_MODES = ("simple", "kerberos")
CONNECT_TIMEOUT_SECONDS = 10


def _option(help_text: str, **cli: Any) -> Any:
    return {"help": help_text, **cli}


@dataclass(frozen=True)
class ConnectionSpec:
    """A target: a live DC (`server` set), a snapshot file (`snapshot` set), or the
    built-in lab snapshot (neither). Empty string / 0 / False mean "not given", which is
    how papermill parameters carry them."""

    server: str = field(default="", metadata=_option(
        "A domain controller (host name as in its certificate, or an IP with --tls-name)."))  # fmt: skip
    snapshot: str = field(default="", metadata=_option(
        "A snapshot captured by `richcoex collect` (runs offline).", path=True))  # fmt: skip
    port: int = field(default=0, metadata=_option("LDAP port (default 636 for ldaps, 389 otherwise)."))
    tls: str = field(default="ldaps", metadata=_option(
        "Transport security; certificates are validated unless --insecure.", choices=TLS_MODES))  # fmt: skip
    ca_file: str = field(default="", metadata=_option(
        "PEM file of the CA that issued the DC's certificate.", path=True))  # fmt: skip
    tls_name: str = field(default="", metadata=_option("Name expected in the DC's certificate when --server is an IP."))
    insecure: bool = field(default=False, metadata=_option(
        "Skip certificate validation, or allow a simple bind over --tls none (warned loudly). Never in production."))  # fmt: skip
    auth: str = field(default="simple", metadata=_option(
        "simple: --bind-user and RICHCOEX_PASSWORD/keyring/prompt; kerberos: your ticket (kinit).",
        choices=AUTH_MODES))  # fmt: skip
    bind_user: str = field(default="", metadata=_option(
        "DOMAIN\\user, UPN or DN to bind as (its password never goes on the command line)."))  # fmt: skip
    base: str = field(default="", metadata=_option(
        "Naming context to search (default: the rootDSE's defaultNamingContext)."))  # fmt: skip

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise UsageError(f"--tls {self.tls!r}: expected one of {', '.join(TLS_MODES)}")
        if self.auth not in AUTH_MODES:
            raise UsageError(f"--auth {self.auth!r}: expected one of {', '.join(AUTH_MODES)}")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port!r}: expected a TCP port between 1 and 65535 (0: the default)")
        if self.server and self.snapshot:
            raise UsageError("choose one target: --server or --snapshot, not both")

    @property
    def kind(self) -> str:
        """ldap, snapshot or lab — what evidence records as the target's kind."""
        return "ldap" if self.server else "snapshot" if self.snapshot else "lab"

    @property
    def effective_port(self) -> int:
        return self.port or (636 if self.tls == "ldaps" else 389)

    @property
    def clear_text_password(self) -> bool:
        """A simple bind over plain LDAP: the password crosses the network readable."""
        return bool(self.server) and self.tls == "none" and self.auth == "simple"

    def check_live(self) -> None:
        """What a bind needs, said before any connection is tried."""
        if self.auth == "simple" and not self.bind_user:
            raise UsageError("--bind-user is required for simple bind (DOMAIN\\user, UPN or DN)")
        if self.clear_text_password and not self.insecure:
            raise UsageError(f"--tls none with a simple bind would send the password of {self.bind_user} in clear "
                             "text: use --tls ldaps or starttls (or pass --insecure to accept that risk)")  # fmt: skip
        if self.ca_file and not os.path.isfile(self.ca_file):
            raise UsageError(f"--ca-file {self.ca_file!r} does not exist")

    def describe(self) -> str:
        """`ldaps://dc1:636 as LAB\\svc` — for evidence and messages (no secret)."""
        scheme = "ldaps" if self.tls == "ldaps" else "ldap"
        who = self.bind_user or "(kerberos ticket)"
        suffix = " +StartTLS" if self.tls == "starttls" else ""
        return f"{scheme}://{self.server}:{self.effective_port}{suffix} as {who}"

    def slug(self) -> str:
        """A file-name-safe label of the target, for evidence folder names."""
        label = self.server or (Path(self.snapshot).stem if self.snapshot else "lab")
        return "".join(c if c.isalnum() or c in ".-" else "_" for c in label)

    def to_parameters(self) -> dict[str, Any]:
        """Every field as a runbook parameter; file paths made absolute, because a
        runbook executes in its own folder."""
        values = dataclasses.asdict(self)
        for name in PATH_FIELDS:
            if values[name]:
                values[name] = str(Path(values[name]).resolve())
        return values

    @classmethod
    def from_parameters(cls, namespace: Mapping[str, Any]) -> ConnectionSpec:
        """The spec a runbook's parameters name (its globals()): every field taken by
        name, so a parameter cannot be declared and then not passed on."""
        return cls(**{name: namespace[name] for name in FIELDS if name in namespace})


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(ConnectionSpec)}
PATH_FIELDS = tuple(name for name, f in FIELDS.items() if f.metadata.get("path"))
