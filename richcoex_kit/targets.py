"""Open what a `ConnectionSpec` names: the built-in lab snapshot, a snapshot file, or a
live DC. Shared by the CLI, the runner's notebooks and the session layer, so each opens a
target — and says what it opened — the same way."""

from __future__ import annotations

import sys

from .connection import ConnectionSpec
from .directory.base import Directory


def open_target(spec: ConnectionSpec) -> Directory:
    """Connect (or load). Raises the kit's errors (usage 2, could not run 3)."""
    from .directory.snapshot import SnapshotDirectory, builtin_lab_path

    if spec.server:
        from .directory.ldap import LdapDirectory

        return LdapDirectory(spec)
    if spec.snapshot:
        return SnapshotDirectory.load(spec.snapshot)
    return SnapshotDirectory.load(builtin_lab_path(), kind="lab")


def warnings_for(spec: ConnectionSpec, lab_flag: bool = True) -> list[str]:
    """What the engineer must be told about a target before it is used: the built-in lab
    chosen because nothing was given (not when --lab asked for it), a certificate that is
    not validated."""
    said = []
    if spec.kind == "lab" and not lab_flag:
        said.append("richcoex: no --server or --snapshot given: using the built-in lab snapshot (--lab)")
    if spec.server and spec.insecure and spec.tls != "none":
        said.append(f"richcoex: WARNING: --insecure: the certificate of {spec.server} is NOT validated")
    if spec.clear_text_password:
        said.append(f"richcoex: WARNING: --tls none: the password of {spec.bind_user or '(no --bind-user)'} is sent "
                    f"to {spec.server} in CLEAR TEXT, readable by anyone on the network path"
                    + ("" if spec.insecure else " — refused without --insecure"))  # fmt: skip
    return said


def announce(spec: ConnectionSpec, lab_flag: bool = True) -> None:
    for line in warnings_for(spec, lab_flag):
        print(line, file=sys.stderr)


def default_scan_base(directory: Directory) -> str:
    """Where a scan looks when no base is given: the domain — on the built-in lab, the OU
    that holds the scenarios (its CN=Users holds the lab's own service accounts)."""
    if directory.kind == "lab":
        from .lab.samba import BASE_DN
        from .lab.scenarios import SCENARIO_OU

        return f"OU={SCENARIO_OU},{BASE_DN}"
    return directory.domain().base_dn
