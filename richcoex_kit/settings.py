"""Secrets, resolved at the moment of use and never stored.

The password comes from the environment variable RICHCOEX_PASSWORD, else the system
keyring (service "richcoex", the bind user as the key), else an interactive prompt: on
a terminal, or in a notebook whose front end can answer (JupyterLab shows a masked
input box) — never from a command-line argument or a papermill parameter, because those
end up in shell history, process listings and executed notebooks. A password typed into
a notebook is kept in this process's memory only (so the next cell does not ask again);
headless (papermill) nobody can answer, so it fails at once with one line. Where to
connect is `connection.ConnectionSpec`.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from typing import Any

from .errors import CouldNotRunError
from .text import command

PASSWORD_ENV = "RICHCOEX_PASSWORD"
KEYRING_SERVICE = "richcoex"

# Passwords typed into a notebook's prompt, for this kernel's lifetime only.
_PROMPTED: dict[tuple[str, str], Secret] = {}


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
    if (bind_user, variable) in _PROMPTED:
        return _PROMPTED[(bind_user, variable)]
    prompt = f"Password for {bind_user} (kept in memory only; or set {variable}): "
    kernel = answering_kernel()
    if kernel is not None:
        # ipykernel's getpass sends an input_request with password=True on the stdin
        # channel: the front end masks it, and the answer is never an output.
        secret = Secret(kernel.getpass(prompt))
        _PROMPTED[(bind_user, variable)] = secret
        return secret
    if sys.stdin is not None and sys.stdin.isatty() and running_kernel() is None:
        return Secret(getpass.getpass(prompt))
    raise MissingPasswordError(
        f"no password for {bind_user}: set {variable}, store one with "
        f"`{command('keyring', 'set', KEYRING_SERVICE, bind_user)}`, or run in JupyterLab or a terminal to be prompted"
    )


def running_kernel() -> Any:
    """The IPython kernel this code runs in, or None (a plain process, a terminal IPython).
    Looked up only when IPython is already loaded, so the CLI never imports it."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None)


def answering_kernel() -> Any:
    """The kernel, when the cell now running came from a front end that answers input
    requests (JupyterLab, Notebook, VS Code); None headless.

    ipykernel records each execute_request's `allow_stdin`: front ends send true,
    nbclient (papermill, nbconvert --execute) sends false, because nobody is there to
    answer. It is the one signal a kernel has of a person at the other end."""
    kernel = running_kernel()
    return kernel if kernel is not None and getattr(kernel, "_allow_stdin", False) else None
