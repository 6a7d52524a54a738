"""The `richcoex` command: thin wiring from options to the library.

Exit codes schedulers rely on: 0 nothing failed, 1 a FAIL finding, 2 usage error,
3 could not run (unreachable DC, TLS or bind failure, unknown or ambiguous user,
malformed input) — with one line on stderr, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .checks import DEFAULT_GROUP, DEFAULT_SYNC_ACCOUNT, CheckRequest, run_checks
from .directory.errors import DirectoryError
from .findings import EXIT_COULD_NOT_RUN, Finding, Status, document, exit_code
from .lab.samba import LabError
from .schema import UnknownAttributeError
from .security import DescriptorError
from .settings import SettingsError
from .targets import Target

EXPECTED_ERRORS = (DirectoryError, SettingsError, DescriptorError, LabError, UnknownAttributeError)


def fail(message: str, code: int = EXIT_COULD_NOT_RUN) -> None:
    click.echo(f"richcoex: error: {message}", err=True)
    sys.exit(code)


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the kit's expected failures into one line on stderr and exit code 3."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as error:
            fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
        except KeyboardInterrupt:
            fail("interrupted")

    return wrapper


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """TARGET: --lab (default), --snapshot FILE, or --server HOST and its connection options."""
    options = [
        click.option("--lab", is_flag=True, help="The built-in lab snapshot (the default when no target is given)."),
        click.option("--snapshot", type=click.Path(dir_okay=False), help="A snapshot captured by `richcoex collect`."),
        click.option("--server", help="A domain controller (host name as in its certificate, or IP with --tls-name)."),
        click.option("--port", type=int, help="LDAP port (default 636 for ldaps, 389 otherwise)."),
        click.option(
            "--tls",
            type=click.Choice(["ldaps", "starttls", "none"]),
            default="ldaps",
            show_default=True,
            help="Transport security; certificates are validated unless --insecure.",
        ),
        click.option(
            "--ca-file", type=click.Path(dir_okay=False), help="PEM file of the CA that issued the DC's certificate."
        ),
        click.option("--tls-name", help="Name expected in the DC's certificate when --server is an IP address."),
        click.option("--insecure", is_flag=True, help="Skip certificate validation (loudly). Never in production."),
        click.option(
            "--auth",
            type=click.Choice(["simple", "kerberos"]),
            default="simple",
            show_default=True,
            help="simple: --bind-user and RICHCOEX_PASSWORD/keyring/prompt; kerberos: your ticket (kinit).",
        ),
        click.option(
            "--bind-user", help="DOMAIN\\user, UPN or DN to bind as (the password never goes on the command line)."
        ),
        click.option("--base", help="Naming context to search (default: the rootDSE's defaultNamingContext)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--sync-account",
            default=DEFAULT_SYNC_ACCOUNT,
            show_default=True,
            help="The sync engine's AD account; `auto` finds the single MSOL_* account.",
        ),
        click.option("--group", default=DEFAULT_GROUP, show_default=True, help="The rich-coexistence group."),
        click.option(
            "--attributes",
            default="kb",
            show_default=True,
            help="kb (the KB's six), entra (the nine Azure AD Connect writes back) or NAME,NAME…",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_target(kw: dict[str, Any]) -> Target:
    keys = ("lab", "snapshot", "server", "port", "tls", "ca_file", "tls_name", "insecure", "auth", "bind_user", "base")
    chosen = [name for name in ("lab", "snapshot", "server") if kw.get(name)]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one target: --{chosen[0]} or --{chosen[1]}, not both")
    return Target(**{k: kw.pop(k) for k in keys})


_STATUS_COLOURS = {Status.PASS: "green", Status.FAIL: "red", Status.WARN: "yellow", Status.ERROR: "magenta"}


def print_table(findings: list[Finding]) -> None:
    """A readable table: status, check, object's first RDN, summary."""
    for f in findings:
        status = click.style(f"{f.status.value:<5}", fg=_STATUS_COLOURS.get(f.status), bold=f.status == Status.FAIL)
        where = f" [{f.object.split(',')[0]}]" if f.object else ""
        click.echo(f"{status} {f.id:<38}{where} {f.summary}")
        if f.status in (Status.FAIL, Status.WARN, Status.ERROR) and f.remedy:
            click.echo(f"      fix: {f.remedy}")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="richcoex")
def main() -> None:
    """Diagnose and fix Exchange hybrid write-back (KB 2406830, sync error 8344).

    \b
    Typical session:
      richcoex check --user jdoe                         # on the built-in lab snapshot
      export RICHCOEX_PASSWORD=…                         # never on the command line
      richcoex check --server dc1.corp.example --bind-user 'CORP\\svc-audit' --user jdoe
      richcoex run --server dc1.corp.example --bind-user 'CORP\\svc-audit' --user jdoe

    Exit codes: 0 nothing failed, 1 a check FAILed, 2 usage error, 3 could not run.
    """


@main.command()
@target_options
@check_options
@click.option("--user", "user", required=True, help="The affected object: sAMAccountName, UPN, DN or objectGUID.")
@click.option("--json", "as_json", is_flag=True, help="Emit the richcoex.findings/1 document on stdout.")
@guarded
def check(user: str, sync_account: str, group: str, attributes: str, as_json: bool, **kw: Any) -> None:
    """Run every KB 2406830 check for one object: group, membership, schema, inheritance,
    AdminSDHolder, and effective WriteProperty on each write-back attribute.

    Verdicts name the ACE that decided them. Read-only: nothing is written.
    """
    target = make_target(kw)
    with target.open() as directory:
        facts, findings = run_checks(directory, CheckRequest(user, sync_account, group, attributes))
        doc = document(findings, directory.target(), __version__, context=context_of(facts))
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        print_table(findings)
    sys.exit(exit_code(findings))


def context_of(facts: Any) -> dict[str, Any]:
    """Facts worth keeping beside the findings: the DC, the sync account and its token."""
    return {
        "domain": facts.domain.base_dn,
        "dc": facts.domain.dns_host_name,
        "user": facts.request.user,
        "sync_account": facts.sync_account.dn if facts.sync_account else facts.request.sync_account,
        "group": facts.request.group,
        "attributes": facts.request.attributes,
        "token": facts.token.to_json(facts.names) if facts.token else [],
    }


@main.group()
def lab() -> None:
    """A disposable Samba AD DC seeded with every failure scenario (needs the samba packages, root not required).

    Listens on 127.0.0.1:389/636 only; lives in $RICHCOEX_LAB_DIR (default ~/.cache/richcoex/lab).
    """


@lab.command("up")
@guarded
def lab_up() -> None:
    """Provision, start and seed the lab DC (about 10 s), then print how to connect."""
    from .lab.seed import bring_up

    info = bring_up()
    click.echo(f"lab DC running (pid {info.pid}) at ldaps://{info.host}:{info.port}, base {info.base_dn}")
    click.echo(
        f"  connect: --server {info.host} --ca-file {info.ca_file} --tls-name {info.tls_name} "
        f"--bind-user '{info.admin}'"
    )
    click.echo(f"  passwords (lab only) are in {info.credentials_file}:")
    click.echo(
        f'  export RICHCOEX_PASSWORD="$(python3 -c \'import json;print(json.load(open("{info.credentials_file}"))'
        f'["Administrator"])\')"'
    )


@lab.command("down")
@guarded
def lab_down() -> None:
    """Stop the lab DC (its own processes only) and delete its folder."""
    from .lab.samba import SambaLab

    lab = SambaLab()
    click.echo("lab DC stopped and removed" if lab.stop() else "no lab DC was running; folder removed")


@lab.command("status")
@guarded
def lab_status() -> None:
    """Say whether the lab DC runs, and how to reach it. Exit 1 when it does not run."""
    from .lab.samba import SambaLab

    info = SambaLab().info()
    if info is None:
        click.echo("lab DC: not running (richcoex lab up)")
        sys.exit(1)
    click.echo(
        f"lab DC: running, pid {info.pid}, ldaps://{info.host}:{info.port}, CA {info.ca_file}, "
        f"domain SID {info.domain_sid}"
    )


if __name__ == "__main__":
    main()
