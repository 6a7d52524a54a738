"""Secrets, resolved at the moment of use and never stored.

The password comes from the environment variable RICHCOEX_PASSWORD, else the system
keyring (service "richcoex", the bind user as the key), else an interactive prompt when
a terminal is attached — never from a command-line argument or a papermill parameter,
because those end up in shell history, process listings and executed notebooks. Where
to connect is `connection.ConnectionSpec`.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping

from .errors import CouldNotRunError
from .text import command

PASSWORD_ENV = "RICHCOEX_PASSWORD"
KEYRING_SERVICE = "richcoex"


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


def resolve_password(bind_user: str, env: Mapping[str, str] | None = None, variable: str = PASSWORD_ENV) -> Secret:
    """Find the bind password: environment `variable`, keyring, then a terminal prompt."""
    value = (os.environ if env is None else env).get(variable)
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
        f"`{command('keyring', 'set', KEYRING_SERVICE, bind_user)}`, or run from a terminal to be prompted"
    )
