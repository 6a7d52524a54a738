"""The `richcoex` command: thin wiring from options to the library.

Exit codes schedulers rely on: 0 nothing failed, 1 a FAIL finding, 2 usage error,
3 could not run (unreachable DC, TLS or bind failure, unknown or ambiguous user,
malformed input) — with one line on stderr, never a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .connection import FIELDS, ConnectionSpec
from .dn import first_rdn
from .errors import EXIT_COULD_NOT_RUN, EXPECTED_ERRORS, exit_code_of, one_line
from .findings import NEEDS_ATTENTION, Finding, Status, document, exit_code
from .products import PRODUCT_IDS
from .request import DEFAULT_ATTRIBUTES, DEFAULT_GROUP, DEFAULT_PRODUCT, DEFAULT_SYNC_ACCOUNT, CheckRequest
from .targets import announce, open_target
from .text import printable


def fail(message: str, code: int = EXIT_COULD_NOT_RUN) -> None:
    click.echo(f"richcoex: error: {printable(message)}", err=True)
    sys.exit(code)


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the kit's expected failures into one line on stderr and exit code 3."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as error:
            fail(one_line(error), exit_code_of(error))
        except KeyboardInterrupt:
            fail("interrupted")

    return wrapper


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """TARGET: --lab (default), --snapshot FILE, or --server HOST and its connection
    options — generated from `ConnectionSpec`, the one definition the runbooks share."""
    options = [
        click.option("--lab", is_flag=True, help="The built-in lab snapshot (the default when no target is given).")
    ]
    for name, spec_field in FIELDS.items():
        meta = spec_field.metadata
        flag = "--" + name.replace("_", "-")
        if spec_field.type in (bool, "bool"):
            options.append(click.option(flag, name, is_flag=True, help=meta["help"]))
        elif "choices" in meta:
            options.append(click.option(flag, name, type=click.Choice(meta["choices"]), default=spec_field.default,
                                        show_default=True, help=meta["help"]))  # fmt: skip
        elif spec_field.type in (int, "int"):
            options.append(click.option(flag, name, type=click.IntRange(0, 65535), default=spec_field.default,
                                        help=meta["help"]))  # fmt: skip
        else:
            kind = click.Path(dir_okay=False) if meta.get("path") else str
            options.append(click.option(flag, name, type=kind, default=spec_field.default, help=meta["help"]))
    for option in reversed(options):
        command = option(command)
    return command


def check_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--sync-account",
            default=DEFAULT_SYNC_ACCOUNT,
            show_default=True,
            help="The account that writes back: sAMAccountName, gMSA/sMSA name$, DOMAIN\\name, UPN, DN or "
            "objectGUID; looked up in the domain, then the forest's global catalog. `auto`: the collector's "
            "connector account (--sync-state), else the one account the product implies (MSOL_AD_Sync, "
            "MSOL_<hex>, provAgentgMSA$).",
        ),
        click.option(
            "--group",
            default=DEFAULT_GROUP,
            help="The group holding the grants. Default: the product's (MSOL_AD_Sync_RichCoexistence for dirsync; "
            "none for connect/cloudsync, which grant the account directly — given anyway, it FAILs only when "
            "write-back fails).",
        ),
        click.option(
            "--attributes",
            default=DEFAULT_ATTRIBUTES,
            show_default=True,
            help="kb (the KB's six), entra (the nine Azure AD Connect writes back) or NAME,NAME…",
        ),
        click.option(
            "--product",
            type=click.Choice(["auto", *PRODUCT_IDS]),
            default=DEFAULT_PRODUCT,
            show_default=True,
            help="The sync product: dirsync, connect (Entra Connect Sync), cloudsync (Entra Cloud Sync); "
            "auto takes it from --sync-state, else infers it from the sync account.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_request(kw: dict[str, Any], user: str | None = None) -> CheckRequest:
    """Pop the check options from a command's keyword arguments into a CheckRequest."""
    return CheckRequest(user, *(kw.pop(name) for name in ("sync_account", "group", "attributes", "product")))


def make_target(kw: dict[str, Any]) -> ConnectionSpec:
    """Pop the TARGET options from a command's keyword arguments into a ConnectionSpec."""
    lab = kw.pop("lab")
    spec = ConnectionSpec(**{name: kw.pop(name) for name in FIELDS})
    if lab and spec.kind != "lab":
        raise click.UsageError(f"choose one target: --lab or --{'server' if spec.server else 'snapshot'}, not both")
    announce(spec, lab)
    return spec


def nonblank(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """--user must name something: an empty or blank one would silently check nothing."""
    for item in value if isinstance(value, tuple) else (value,):
        if item is not None and not item.strip():
            raise click.BadParameter("expected a sAMAccountName, UPN, DN or objectGUID, not an empty string")
    return value


_STATUS_COLOURS = {Status.PASS: "green", Status.FAIL: "red", Status.WARN: "yellow", Status.ERROR: "magenta"}


def print_table(findings: list[Finding]) -> None:
    """A readable table: status, check, object's first RDN, summary."""
    for f in findings:
        status = click.style(f"{f.status.value:<5}", fg=_STATUS_COLOURS.get(f.status), bold=f.status == Status.FAIL)
        where = f" [{first_rdn(f.object)}]" if f.object else ""
        click.echo(f"{status} {printable(f.id):<38}{printable(where)} {printable(f.summary)}")
        if f.status in NEEDS_ATTENTION and f.remedy:
            click.echo(f"      fix: {printable(f.remedy)}")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="richcoex")
def main() -> None:
    """Diagnose and fix Exchange hybrid write-back (KB 2406830, sync error 8344).

    \b
    Typical session:
      richcoex check --user rc-deny                      # on the built-in lab snapshot
      richcoex notebooks ~/richcoex                      # the runbooks, to open in JupyterLab
      export RICHCOEX_PASSWORD=…                         # never on the command line
      richcoex check --server dc1.corp.example --bind-user 'CORP\\svc-audit' --user jdoe
      richcoex run --server dc1.corp.example --bind-user 'CORP\\svc-audit' --user jdoe

    Exit codes: 0 nothing failed, 1 a check FAILed, 2 usage error, 3 could not run.
    """


@main.command()
@target_options
@check_options
@click.option(
    "--user",
    "user",
    required=True,
    callback=nonblank,
    help="The affected object: sAMAccountName, UPN, DN or objectGUID.",
)
@click.option(
    "--sync-state",
    type=click.Path(dir_okay=False),
    help="The sync server's state (JSON from `richcoex collect-sync --print-script`): adds the sync.* checks.",
)
@click.option("--json", "as_json", is_flag=True, help="Emit the richcoex.findings/1 document on stdout.")
@guarded
def check(user: str, sync_state: str | None, as_json: bool, **kw: Any) -> None:
    """Run every KB 2406830 check for one object: (with --sync-state) write-back enabled,
    cycle idle, export errors; group, membership, schema, inheritance, AdminSDHolder, and
    effective WriteProperty on each write-back attribute.

    Verdicts name the ACE that decided them. Read-only: nothing is written.
    """
    from .checks import load_state, run_checks
    from .evidence import provenance
    from .syncserver import sync_findings

    target = make_target(kw)
    request = dataclasses.replace(make_request(kw, user), sync_state=sync_state or "")
    state = load_state(request)
    with open_target(target) as directory:
        facts, findings = run_checks(directory, request)
        click.echo(printable(f"richcoex: {facts.resolution()}"), err=True)
        if state is not None:
            findings = sync_findings(state) + findings
        doc = document(findings, directory.target(), __version__, context={**facts.context(), **provenance()})
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        print_table(findings)
    sys.exit(exit_code(findings))


@main.command()
@target_options
@check_options
@click.option(
    "--user",
    "users",
    multiple=True,
    callback=nonblank,
    help="An affected object (repeat): 00, 03 and 04 run once per object.",
)
@click.option("--steps", help="Which runbooks, by number prefix: e.g. 00,03 (default: all).")
@click.option(
    "--output",
    default="evidence",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the evidence bundle folder is created.",
)
@click.option(
    "--sync-state",
    type=click.Path(dir_okay=False, exists=True),
    help="The sync server's JSON (collect-sync): feeds 01, and 03 checks exactly its failed objects.",
)
@click.option(
    "-p",
    "--parameter",
    "parameters",
    multiple=True,
    metavar="NAME=VALUE",
    help="Another runbook parameter (see `papermill --help-notebook runbooks/NN-….ipynb`). Never a secret.",
)
@click.option("--timeout", default=600, show_default=True, help="Seconds a single cell may run.")
@guarded
def run(
    users: tuple[str, ...],
    steps: str | None,
    output: str,
    sync_state: str | None,
    parameters: tuple[str, ...],
    timeout: int,
    **kw: Any,
) -> None:
    """Execute the runbooks headless with papermill and write an evidence bundle:
    executed notebooks, their HTML pages, summary.json and MANIFEST.sha256.

    \b
    Exit code: 0 nothing failed, 1 a check FAILed, 2 usage error,
    3 a runbook could not run (its one-line reason is printed and kept in summary.json).
    """
    from pathlib import Path

    # papermill → nbformat → jsonschema, whose optional `iri` format checker imports
    # rfc3987_syntax, which compiles ~40 lark grammars: 0.75 s of every `richcoex run`.
    # nbformat validates without a format checker, so nothing here uses it; a None entry
    # makes its import fail, which jsonschema treats as "not installed" (the Python docs:
    # "If the value is None, the import raises ModuleNotFoundError").
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

    from .errors import UsageError
    from .runner import RunRequest, counts_line
    from .runner import run as execute

    extra = {}
    for item in parameters:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"-p {item!r}: expected NAME=VALUE")
        extra[name.strip()] = value
    target = make_target(kw)
    request = RunRequest(target=target, check=make_request(kw), users=list(users),
                         steps=[s for s in (steps or "").split(",") if s], output=Path(output),
                         sync_state=sync_state, extra=extra, timeout=timeout)  # fmt: skip
    try:
        code, folder = execute(request)
    except UsageError as error:
        raise click.UsageError(str(error)) from None
    summary = json.loads((folder / "summary.json").read_text())
    click.echo(f"evidence: {folder}")
    click.echo(counts_line(summary))
    for failed in (r for r in summary["runs"] if r["status"] != "ran"):
        click.echo(printable(f"richcoex: error: {failed['file']} could not run: {failed['error']}"), err=True)
    sys.exit(code)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite runbooks in FOLDER that changed since they were copied.")
@guarded
def notebooks(folder: str, force: bool) -> None:
    """Copy the runbooks into FOLDER (your working copy) and print the line that opens
    them in JupyterLab. Outputs and autosaves then land in FOLDER, never in the installed
    runbooks (fix backups go to the user's data folder, or a runbook's backup_dir); a
    runbook you ran or edited is kept unless --force."""
    from pathlib import Path

    from .notebooks import copy_runbooks
    from .text import command

    path = Path(folder)
    written = copy_runbooks(path, force)
    click.echo(f"{len(written)} runbook(s) copied into {path.resolve()}", err=True)
    click.echo(command("cd", str(path.resolve())) + " && " + command("jupyter", "lab", "00-triage.ipynb"))


@main.command()
@click.argument("before", type=click.Path(file_okay=False, exists=True))
@click.argument("after", type=click.Path(file_okay=False, exists=True))
@guarded
def diff(before: str, after: str) -> None:
    """Compare two evidence bundles finding by finding (before and after a fix).

    Exit code 1 when any finding got worse, else 0.
    """
    from .evidence import diff_findings, got_worse, load_summary

    changes = diff_findings(load_summary(before), load_summary(after))
    if not changes:
        click.echo("no finding changed")
    worse = False
    for fid, obj, old, new in changes:
        arrow = f"{old or '(absent)'} → {new or '(absent)'}"
        worse |= got_worse(old, new)
        colour = "red" if got_worse(old, new) else "green"
        click.echo(f"{click.style(f'{arrow:<18}', fg=colour)} {printable(fid):<40} {printable(first_rdn(obj))}")
    sys.exit(1 if worse else 0)


@main.command()
@target_options
@check_options
@click.option(
    "--filter",
    "ldap_filter",
    help="LDAP filter of the objects to scan, replacing the default: users that are persons "
    "((&(objectCategory=person)(objectClass=user))), inetOrgPerson, contacts and groups — computers, gMSAs and "
    "sMSAs are never written back and excluded. Offline (a snapshot) a custom filter scans every recorded object.",
)
@click.option("--page-size", default=1000, show_default=True, type=click.IntRange(1), help="Objects per LDAP page.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write one row per object here (streamed).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the summary page here.")
@click.option("--json", "as_json", is_flag=True, help="Emit acl.write.* FAIL findings (richcoex.findings/1) on stdout.")
@guarded
def scan(
    ldap_filter: str | None,
    page_size: int,
    csv_path: str | None,
    html_path: str | None,
    as_json: bool,
    **kw: Any,
) -> None:
    """Scan an OU or the whole domain: every object whose write-back would fail, with the
    cause (no grant, deny, inheritance off, AdminSDHolder) and the deciding ACE. For scan,
    --base DN is the scope (an OU or the domain), not only the naming context.

    One paged read of each object's descriptor; each distinct descriptor is evaluated once.
    Progress on stderr; Ctrl-C or a lost connection keeps what was scanned and exits 3.
    """
    import contextlib

    from .dn import check_dn
    from .evidence import provenance
    from .files import open_private, write_private
    from .progress import Counter
    from .scan import findings as scan_findings
    from .scan import scan as run_scan
    from .targets import default_scan_base
    from .views import html_page, scan_report

    scope = kw.pop("base")  # for a scan, --base is the scope; the account and group are found domain-wide
    if scope:
        check_dn(scope, "--base")
    request = make_request(kw)
    target = make_target({**kw, "base": ""})
    with (
        open_target(target) as directory,
        open_private(csv_path, newline="") if csv_path else contextlib.nullcontext() as out,
    ):
        # The bar starts once the DC and the CSV are open, so a failure there is one clean line.
        bar = Counter("scan", "object")

        def progress(scanned: int, failing: int) -> None:
            bar.update(scanned, failing=failing)

        base = scope or default_scan_base(directory)
        result = run_scan(directory, request, base, ldap_filter, page_size, out, progress)
        where = directory.target()
        bar.close()
    click.echo(printable(f"richcoex: {result.resolution}"), err=True)
    found = scan_findings(result, request)
    if html_path:
        meta = {"target": where.get("server", where["kind"]), "kit": __version__}
        write_private(html_path, html_page("richcoex scan", scan_report(result, meta)))
    if as_json:
        context = {**result.context(), **provenance()}
        # Not indented: one finding per refused attribute of every failing object makes this
        # megabytes, and json's C encoder runs only without indent (5,000 users: ~10 MB).
        click.echo(json.dumps(document(found, where, __version__, context=context)))
    else:
        click.echo(printable(f"scanned {result.scanned:,} objects under {result.base} in {result.seconds:.1f}s "
                             f"({result.rate:,.0f}/s, {result.distinct_descriptors:,} distinct descriptors): "
                             f"{len(result.failing):,} would fail write-back, "
                             f"{len(result.unreadable):,} could not be checked"))  # fmt: skip
        for cause, count in result.by_cause.most_common():
            click.echo(f"  {count:>8,}  {cause}")
        for blind in result.unreadable[:20]:
            click.echo(printable(f"  ERROR  {blind.dn}: {blind.why}"))
    if not result.scanned and not result.incomplete:
        click.echo(printable(f"richcoex: WARNING: {result.base} holds no object the scan reads: nothing was "
                             "checked (check --base)"), err=True)  # fmt: skip
    if result.incomplete:
        fail(f"scan incomplete after {result.scanned:,} objects: {result.incomplete}")
    if result.unreadable:
        fail(f"could not check {len(result.unreadable):,} objects (no verdict is given for them)")
    sys.exit(1 if result.failing else 0)


def _live(target: ConnectionSpec, command: str) -> None:
    if not target.server:
        raise click.UsageError(
            f"{command} changes a directory: give --server (a snapshot or the lab cannot be written)"
        )


@main.command()
@target_options
@check_options
@click.option(
    "--user",
    required=True,
    callback=nonblank,
    help="The object whose write-back fails: sAMAccountName, UPN, DN or objectGUID.",
)
@click.option("--apply", "apply_", is_flag=True, help="Write the plan (default: dry run, nothing is written).")
@click.option(
    "--backup-dir",
    type=click.Path(file_okay=False),
    help="Where the original DACLs and memberships are saved before any write "
    "(default: $XDG_DATA_HOME/richcoex/backups or ~/.local/share/richcoex/backups; created 0700).",
)
@click.option(
    "--scope-ou",
    help="Grant on this OU instead of the object: inheritable, one ACE per attribute and per class the product "
    "writes it back to (proxyAddresses also for contacts/groups, the rest for user/inetOrgPerson).",
)
@click.option(
    "--remove-deny",
    type=int,
    multiple=True,
    metavar="INDEX",
    help="Remove the explicit Deny ACE at this index (the plan names them). Never done unasked.",
)
@click.option("--drop-explicit", is_flag=True, help="When enabling inheritance, also drop the object's explicit ACEs.")
@click.option(
    "--adminsdholder",
    is_flag=True,
    help="For an AdminSDHolder-protected object (a member of a protected group), grant on CN=AdminSDHolder instead.",
)
@click.option("--create-group-in", metavar="DN", help="Create the missing group in this container.")
@guarded
def fix(
    user: str,
    apply_: bool,
    backup_dir: str | None,
    scope_ou: str | None,
    remove_deny: tuple[int, ...],
    drop_explicit: bool,
    adminsdholder: bool,
    create_group_in: str | None,
    **kw: Any,
) -> None:
    """Plan the least-privilege fix for one object and show it as an SDDL diff; with
    --apply, back up, write (refusing if anything changed since it was read), re-check.

    \b
    The plan: one Allow Read/Write Property ACE per failing attribute for the product's
    trustee (the account itself for connect/cloudsync, the group for dirsync); enable
    inheritance where it is off; for dirsync, add the sync account to the group. Denies
    and AdminSDHolder-protected objects are reported, changed only when asked by name.
    Microsoft's equivalent command is shown beside the plan, as an alternative.
    Undo with `richcoex restore BACKUP.json --server …`.
    """
    from pathlib import Path

    from .checks import run_checks
    from .remedy import FixOptions, apply_plan, default_backup_dir, plan_fix

    target = make_target(kw)
    _live(target, "fix")
    request = make_request(kw, user)
    options = FixOptions(scope_ou, remove_deny, drop_explicit, adminsdholder, create_group_in)
    with open_target(target) as directory:
        plan = plan_fix(directory, request, options)
        if plan.resolution:
            click.echo(printable(f"richcoex: {plan.resolution}"), err=True)
        click.echo("\n".join(printable(line) for line in plan.describe().split("\n")))
        if not apply_:
            click.echo("\n(dry run: nothing was written; add --apply to write this plan)" if not plan.empty else "")
            sys.exit(0)
        if plan.empty:
            sys.exit(0)
        folder = Path(backup_dir).resolve() if backup_dir else default_backup_dir()
        click.echo(f"\nbackups: {folder}")
        applied = apply_plan(plan, directory, folder)
        for line in applied.done:
            click.echo(f"done: {printable(line)}")
        _, findings = run_checks(directory, request)
    click.echo("\nafter the fix:")
    print_table([f for f in findings if f.id.startswith(("group.", "object.", "acl."))])
    sys.exit(exit_code(findings))


@main.command()
@click.argument("backup", type=click.Path(dir_okay=False, exists=True))
@target_options
@click.option(
    "--force",
    is_flag=True,
    help="Restore even though the DACL changed after the fix, the record was never marked applied, or the "
    "membership was not added by the kit. Never deletes an object the kit did not create.",
)
@guarded
def restore(backup: str, force: bool, **kw: Any) -> None:
    """Undo one change of `richcoex fix --apply` from its backup file: a DACL goes back
    byte for byte (refused if it changed since the fix, unless --force); an added member
    is removed; a created group is deleted."""
    from pathlib import Path

    from .remedy import load_backup
    from .remedy import restore as undo

    target = make_target(kw)
    _live(target, "restore")
    load_backup(Path(backup))  # a damaged file is said before any connection
    with open_target(target) as directory:
        click.echo(printable(undo(Path(backup), directory, force=force)))


@main.command("collect-sync")
@click.option(
    "--print-script",
    is_flag=True,
    required=True,
    help="Print the read-only PowerShell collector to run on the sync server.",
)
def collect_sync(print_script: bool) -> None:
    """The sync server's side of KB step 1. Copy the script to the DirSync / Azure AD Connect /
    Entra Connect server, run it as a local administrator, bring back its JSON:

    \b
      richcoex collect-sync --print-script > Get-RichCoexSyncState.ps1
      (on the sync server) powershell -ExecutionPolicy Bypass -File Get-RichCoexSyncState.ps1 -Out state.json
      richcoex check --sync-state state.json --user jdoe …
    """
    from .syncserver import collector_script

    click.echo(collector_script(), nl=False)


@main.command()
@target_options
@check_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The snapshot file to write.")
@click.option("--user", "users", multiple=True, callback=nonblank, help="An object to capture (repeat for several).")
@guarded
def collect(out: str, users: tuple[str, ...], **kw: Any) -> None:
    """Capture a snapshot: exactly what the runbooks read for the given objects, so a
    support engineer can run every runbook offline (--snapshot FILE). Holds descriptors,
    SIDs and names; never a password. Shows progress on stderr.
    """
    from pathlib import Path

    from .collect import collect_to_file

    target = make_target(kw)
    request = make_request(kw)
    with open_target(target) as directory:
        path = collect_to_file(directory, Path(out), list(users), request)
    click.echo(f"snapshot written: {path} ({len(users)} object(s))")


@main.group()
def lab() -> None:
    """A disposable Samba AD DC seeded with every failure scenario (needs the samba packages, and root: it binds 389/636).

    Listens on 127.0.0.1:389/636 only; lives in $RICHCOEX_LAB_DIR (default ~/.cache/richcoex/lab).
    """


@lab.command("up")
@guarded
def lab_up() -> None:
    """Provision, start and seed the lab DC (about 10 s), then print how to connect."""
    from .lab.samba import default_root
    from .lab.seed import bring_up

    click.echo(f"richcoex: provisioning and seeding a Samba AD DC under {default_root()} (about 10 s)…", err=True)
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


@lab.command("capture")
@click.option("--out", type=click.Path(dir_okay=False), help="Where to write (default: the packaged lab snapshot).")
@guarded
def lab_capture(out: str | None) -> None:
    """Regenerate the built-in lab snapshot from a real lab DC (starts one if none runs)."""
    from pathlib import Path

    from .lab.capture import capture_lab
    from .lab.samba import SambaLab
    from .lab.seed import bring_up

    lab = SambaLab()
    running = lab.info()
    started = running is None
    if running is None:
        click.echo("richcoex: no lab DC runs: provisioning one for the capture (about 10 s)…", err=True)
    info = running or bring_up()
    try:
        path = capture_lab(info, Path(out) if out else None)
    finally:
        if started:
            lab.stop()
    click.echo(f"lab snapshot written: {path}")


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
