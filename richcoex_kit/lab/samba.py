"""A disposable, real Samba AD domain controller under one folder.

Recipe verified in `../shared/samba-lab.md`. Everything the DC writes stays under its
folder; it listens on 127.0.0.1 only; `stop()` ends only the process session it started
(recorded PID), so tests leave no process or port behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import CouldNotRunError

REALM = "LAB.EXAMPLE.TEST"
NETBIOS_DOMAIN = "LAB"
BASE_DN = "DC=lab,DC=example,DC=test"
TLS_NAME = "DC1.lab.example.test"
HOST = "127.0.0.1"
KDC_PORT = 88
PORTS = (KDC_PORT, 389, 636, 3268, 3269)


class LabError(CouldNotRunError):
    """The lab could not be provisioned, started or stopped; the message says why."""


@dataclass(frozen=True)
class LabInfo:
    """How to reach a running lab. The password lives in `credentials_file` (mode 0600)."""

    root: str
    pid: int
    host: str
    port: int
    ca_file: str
    tls_name: str
    base_dn: str
    admin: str
    credentials_file: str
    domain_sid: str = ""

    def password(self, account: str = "Administrator") -> str:
        return json.loads(Path(self.credentials_file).read_text())[account]


def feed_tool(argv: list[str], stdin: str, package: str, what: str, env: dict[str, str] | None = None) -> None:
    """Run a Samba/Kerberos tool with a secret on stdin (never on its command line, where
    process listings show it); a missing tool or a failure is one LabError line."""
    if not shutil.which(argv[0]):
        raise LabError(f"{argv[0]} is not installed: apt-get install {package}")
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise LabError(f"{what} failed: {' '.join(tail)}")


def default_root() -> Path:
    """Where `richcoex lab up` keeps its DC: $RICHCOEX_LAB_DIR or ~/.cache/richcoex/lab."""
    return Path(os.environ.get("RICHCOEX_LAB_DIR") or Path.home() / ".cache" / "richcoex" / "lab")


def _port_open(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def generate_password() -> str:
    """A password Samba's complexity rules accept; never printed, only kept in the 0600 file."""
    return "Rc-" + secrets.token_urlsafe(18) + "-9a"


def krb5_conf_text() -> str:
    """A krb5.conf for the lab realm only: the KDC is 127.0.0.1, no DNS look-ups at all.

    Host names are not canonicalised through DNS (there is no DNS for the lab), so the
    service principal is built from the name the client is given (ldap/DC1.lab.example.test),
    which is why a Kerberos bind to the lab names the server by its TLS name."""
    return (
        "[libdefaults]\n"
        f"\tdefault_realm = {REALM}\n"
        "\tdns_lookup_realm = false\n"
        "\tdns_lookup_kdc = false\n"
        "\tdns_canonicalize_hostname = false\n"
        "\trdns = false\n"
        "\tudp_preference_limit = 1\n"
        "[realms]\n"
        f"\t{REALM} = {{\n\t\tkdc = {HOST}:{KDC_PORT}\n\t}}\n"
        "[domain_realm]\n"
        f"\t.{REALM.lower()} = {REALM}\n"
        f"\t{REALM.lower()} = {REALM}\n"
    )


class SambaLab:
    """Provision, start, inspect and stop one lab DC rooted at `root`."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root else default_root()
        self.state_file = self.root / "lab.json"
        self.credentials_file = self.root / "credentials.json"

    # -- state -----------------------------------------------------------------------
    def info(self) -> LabInfo | None:
        """The running lab's connection facts, or None when it is not running."""
        if not self.state_file.exists():
            return None
        data = json.loads(self.state_file.read_text())
        info = LabInfo(**data)
        return info if _pid_alive(info.pid) and _port_open(info.port) else None

    def credentials(self) -> dict[str, str]:
        return json.loads(self.credentials_file.read_text())

    def save_credentials(self, **accounts: str) -> None:
        data = self.credentials() if self.credentials_file.exists() else {}
        data.update(accounts)
        self.credentials_file.touch(mode=0o600)
        self.credentials_file.write_text(json.dumps(data))

    # -- life cycle ------------------------------------------------------------------
    def provision(self) -> None:
        """Provision a fresh domain into `root` (whatever was there is removed)."""
        for tool in ("samba", "samba-tool"):
            if not shutil.which(tool):
                raise LabError(f"{tool} is not installed: apt-get install samba samba-ad-dc samba-ad-provision")
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "log").mkdir(parents=True)
        (self.root / "run").mkdir()
        password = generate_password()
        root = str(self.root)
        options = {
            "interfaces": "127.0.0.1",
            "bind interfaces only": "yes",
            # The KDC makes `--auth kerberos` testable end to end; it adds well under a
            # second to start-up and listens on 127.0.0.1:88 like the LDAP ports.
            "server services": "ldap, kdc",
            "pid directory": f"{root}/run",
            "ncalrpc dir": f"{root}/run/ncalrpc",
            "winbindd socket directory": f"{root}/run/winbindd",
            "ntp signd socket directory": f"{root}/run/ntp_signd",
            "log file": f"{root}/log/log.%m",
            "dsdb:schema update allowed": "yes",
        }
        command = [
            "samba-tool",
            "domain",
            "provision",
            f"--targetdir={root}",
            f"--realm={REALM}",
            f"--domain={NETBIOS_DOMAIN}",
            "--server-role=dc",
            "--dns-backend=NONE",
            "--host-name=dc1",
            f"--adminpass={password}",
        ] + [f"--option={key}={value}" for key, value in options.items()]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise LabError(f"samba-tool domain provision failed: {' '.join(tail).replace(password, '***')}")
        self.save_credentials(Administrator=password)
        # Let `--tls none` work against the lab (plain LDAP simple bind on 127.0.0.1); the
        # provisioner drops this option, so it goes into [global] here.
        conf = self.root / "etc" / "smb.conf"
        conf.write_text(conf.read_text().replace("[global]\n", "[global]\n\tldap server require strong auth = no\n", 1))
        self.krb5_conf.write_text(krb5_conf_text())

    # -- Kerberos --------------------------------------------------------------------
    @property
    def krb5_conf(self) -> Path:
        """The lab's own krb5.conf: point KRB5_CONFIG at it, so /etc is never read or written."""
        return self.root / "krb5.conf"

    @property
    def ccache(self) -> Path:
        """The lab's own credential cache (KRB5CCNAME=FILE:<this>)."""
        return self.root / "run" / "krb5cc"

    def kerberos_env(self) -> dict[str, str]:
        """Environment variables that make MIT Kerberos tools and python-gssapi use the lab only."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5CCNAME": f"FILE:{self.ccache}"}

    def kinit(self, account: str = "Administrator") -> dict[str, str]:
        """Get a ticket for `account` into the lab's ccache; returns the environment to use it.

        The password goes to kinit on stdin (MIT kinit reads it from there without a TTY),
        never on a command line."""
        feed_tool(["kinit", f"{account}@{REALM}"], self.credentials()[account] + "\n", "krb5-user",
                  f"kinit {account}@{REALM}", env={**os.environ, **self.kerberos_env()})  # fmt: skip
        return self.kerberos_env()

    def kdestroy(self) -> None:
        """Drop the lab's ticket cache (a missing cache is fine)."""
        with contextlib.suppress(FileNotFoundError):
            self.ccache.unlink()

    def start(self, timeout: float = 30.0) -> LabInfo:
        """Start the provisioned DC and wait until LDAPS and the KDC answer."""
        busy = [port for port in PORTS if _port_open(port)]
        if busy:
            raise LabError(f"port(s) {busy} on {HOST} are taken: another DC or lab is running (richcoex lab down)")
        log = open(self.root / "log" / "stdout.log", "ab")  # noqa: SIM115 - the DC keeps writing to it
        process = subprocess.Popen(
            [
                "samba",
                "-F",
                "--no-process-group",
                "-M",
                "single",
                "-s",
                str(self.root / "etc" / "smb.conf"),
                "--debug-stdout",
                "--maximum-runtime=10800",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not (_port_open(636) and _port_open(KDC_PORT)):
            if process.poll() is not None or time.monotonic() > deadline:
                self._kill_session(process.pid)
                raise LabError(f"the lab DC did not start listening on 636 and {KDC_PORT}; see {self.root / 'log'}")
            time.sleep(0.1)
        info = LabInfo(
            root=str(self.root),
            pid=process.pid,
            host=HOST,
            port=636,
            ca_file=str(self.root / "private" / "tls" / "ca.pem"),
            tls_name=TLS_NAME,
            base_dn=BASE_DN,
            admin=f"{NETBIOS_DOMAIN}\\Administrator",
            credentials_file=str(self.credentials_file),
        )
        self.state_file.write_text(json.dumps(asdict(info)))
        return info

    def record(self, info: LabInfo) -> None:
        self.state_file.write_text(json.dumps(asdict(info)))

    @staticmethod
    def _kill_session(pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)

    def stop(self, remove: bool = True) -> bool:
        """Stop the lab's own process session; True when something was running."""
        was_running = False
        if self.state_file.exists():
            pid = json.loads(self.state_file.read_text())["pid"]
            was_running = _pid_alive(pid)
            self._kill_session(pid)
            deadline = time.monotonic() + 5
            while _port_open(636) and time.monotonic() < deadline:
                time.sleep(0.1)
        if remove and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        return was_running
