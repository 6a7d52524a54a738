"""Turn the CLI's TARGET options into a Directory: the built-in lab snapshot, a snapshot
file, or a live DC. Kept out of cli.py so the runner and notebooks share it."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .directory.base import Directory
from .settings import Settings


@dataclass(frozen=True)
class Target:
    """Where to look. With nothing set, the built-in lab snapshot (announced on stderr)."""

    lab: bool = False
    snapshot: str | None = None
    server: str | None = None
    port: int | None = None
    tls: str = "ldaps"
    ca_file: str | None = None
    tls_name: str | None = None
    insecure: bool = False
    auth: str = "simple"
    bind_user: str | None = None
    base: str | None = None

    def settings(self) -> Settings:
        assert self.server
        return Settings(
            server=self.server,
            port=self.port,
            tls=self.tls,
            ca_file=self.ca_file,
            tls_name=self.tls_name,
            insecure=self.insecure,
            auth=self.auth,
            bind_user=self.bind_user,
            base=self.base,
        )

    def open(self, announce: bool = True) -> Directory:
        """Connect (or load). Raises DirectoryError / SettingsError / SnapshotError."""
        from .directory.snapshot import SnapshotDirectory, builtin_lab_path

        if self.server:
            from .directory.ldap import LdapDirectory

            if self.insecure and announce:
                print(
                    f"richcoex: WARNING: --insecure: the certificate of {self.server} is NOT validated", file=sys.stderr
                )
            return LdapDirectory(self.settings())
        if self.snapshot:
            return SnapshotDirectory.load(self.snapshot)
        if announce:
            print("richcoex: no --server or --snapshot given: using the built-in lab snapshot (--lab)", file=sys.stderr)
        return SnapshotDirectory.load(builtin_lab_path(), kind="lab")


def default_scan_base(directory: Directory) -> str:
    """Where a scan looks when no base is given: the domain — on the built-in lab, the OU
    that holds the scenarios (its CN=Users holds the lab's own service accounts)."""
    if directory.kind == "lab":
        from .lab.samba import BASE_DN
        from .lab.scenarios import SCENARIO_OU

        return f"OU={SCENARIO_OU},{BASE_DN}"
    return directory.domain().base_dn
