"""Where to connect and as whom. Secrets are resolved at the moment of use and never stored.

The password comes from the environment variable RICHCOEX_PASSWORD, else the system
keyring (service "richcoex", the bind user as the key), else an interactive prompt when
a terminal is attached — never from a command-line argument or a papermill parameter,
because those end up in shell history, process listings and executed notebooks.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, field

from .errors import CouldNotRunError, UsageError

PASSWORD_ENV = "RICHCOEX_PASSWORD"
KEYRING_SERVICE = "richcoex"
TLS_MODES = ("ldaps", "starttls", "none")
AUTH_MODES = ("simple", "kerberos")


class SettingsError(UsageError, ValueError):
    """A connection setting is missing or contradictory; the message names it."""


class MissingPasswordError(CouldNotRunError):
    """No password could be found without asking, and nobody can be asked (exit 3)."""


class Secret:
    """A password that does not show itself in repr(), str() or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    """How to reach a DC. Holds no secret: see `resolve_password`."""

    server: str
    port: int | None = None
    tls: str = "ldaps"
    ca_file: str | None = None
    insecure: bool = False
    tls_name: str | None = None
    auth: str = "simple"
    bind_user: str | None = None
    base: str | None = None
    timeout: int = 10
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise SettingsError(f"--tls {self.tls!r}: expected one of {', '.join(TLS_MODES)}")
        if self.auth not in AUTH_MODES:
            raise SettingsError(f"--auth {self.auth!r}: expected one of {', '.join(AUTH_MODES)}")
        if self.auth == "simple" and not self.bind_user:
            raise SettingsError("--bind-user is required for simple bind (DOMAIN\\user, UPN or DN)")
        if self.ca_file and not os.path.isfile(self.ca_file):
            raise SettingsError(f"--ca-file {self.ca_file!r} does not exist")

    @property
    def effective_port(self) -> int:
        return self.port or (636 if self.tls == "ldaps" else 389)

    def describe(self) -> str:
        """`ldaps://dc1:636 as LAB\\svc` — for evidence and messages (no secret)."""
        scheme = "ldaps" if self.tls == "ldaps" else "ldap"
        who = self.bind_user or "(kerberos ticket)"
        suffix = " +StartTLS" if self.tls == "starttls" else ""
        return f"{scheme}://{self.server}:{self.effective_port}{suffix} as {who}"


def resolve_password(bind_user: str, env: dict[str, str] | None = None, variable: str = PASSWORD_ENV) -> Secret:
    """Find the bind password: environment `variable`, keyring, then a terminal prompt."""
    env = os.environ if env is None else env
    value = env.get(variable)
    if value:
        return Secret(value)
    try:
        import keyring  # optional extra

        stored = keyring.get_password(KEYRING_SERVICE, bind_user)
    except Exception:  # keyring not installed, or no usable backend on a jump host
        stored = None
    if stored:
        return Secret(stored)
    if sys.stdin is not None and sys.stdin.isatty():
        return Secret(getpass.getpass(f"Password for {bind_user}: "))
    raise MissingPasswordError(
        f"no password for {bind_user}: set {variable}, store one with "
        f"`keyring set {KEYRING_SERVICE} '{bind_user}'`, or run from a terminal to be prompted"
    )
