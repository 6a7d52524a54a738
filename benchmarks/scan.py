"""How close `richcoex scan` runs to the speed of the directory itself.

For each N (default 2,000, 10,000 and 50,000 users) a Samba lab DC is provisioned once and
cached under .benchmarks-cache/ (users bulk-loaded offline with ldbadd into 20 OUs, half
of them granted like Microsoft's module does, ~2% of users with explicit ACE variants, half
of those with inheritance disabled). `--unique N` adds issue 14's worst case: N users each
with its own explicit ACE, so no two descriptors are alike (counted on the DC before timing)
and the scan's per-descriptor verdict cache never helps. Then, in one run and alternating
(the order flips each round, so drift on a shared machine lands on every side), each in a
fresh child process so peak memory is its own:

  floor  a bare ldap3 paged search (page 1000, SD-flags control 7) reading the same
         attributes a scan reads — what no scan can beat
  scan   richcoex_kit.scan.scan over the same scope, token and schema reads included,
         writing the per-object CSV
  cli    `richcoex scan --json` as a user runs it

Two ratios, because they answer different questions. In-process (the floor's search loop
vs the scan call, connection made): is the scan loop itself as fast as the directory?
Whole-process (wall time of the floor child vs the `richcoex scan` process, start-up,
imports, bind, token, schema and output included): what does a user wait for, relative to
the least a Python process can do? Printed: medians, both ratios (targets <= 1.2 and
<= 1.25), objects/s, distinct descriptors, and each child's peak RSS (VmHWM).
Needs the samba packages. The DC binds 127.0.0.1's fixed ports: run it in its own network
namespace when other DCs may be running:

  unshare --net bash -c 'ip link set lo up; .venv/bin/python benchmarks/scan.py --sizes 5000 --unique 5000 --rounds 5'
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import ssl
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import ldap3
from ldap3.protocol.microsoft import security_descriptor_control

from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.samba import BASE_DN, LabInfo, SambaLab
from richcoex_kit.lab.seed import admin_directory, bring_up
from richcoex_kit.security import Ace, AceFlag, AceType, Acl, Right, SecurityDescriptor, Sid

CACHE = Path(__file__).resolve().parent.parent / ".benchmarks-cache"
SCOPE = f"OU=Bench,{BASE_DN}"
FILTER = "(|(objectClass=user)(objectClass=inetOrgPerson)(objectClass=group)(objectClass=contact))"
OUS = 20
UNIQUE_RID = 100_000  # trustee RIDs of the worst case's explicit ACEs: far above any real account's


def lab_root(n: int, unique: bool = False) -> Path:
    return CACHE / (f"scan-lab-unique-{n}" if unique else f"scan-lab-{n}")


def prepare(n: int, unique: bool = False) -> SambaLab:
    """A stopped, cached lab with n benchmark users. Built in three resumable phases (each
    leaves a marker file): seed the lab and the 20 OUs (DC running, seconds); bulk-load the
    users offline with ldbadd (DC stopped; per-add cost grows with the directory, ~14 min
    for 50,000 here); add the explicit ACE variants (DC running).

    `unique` builds issue 14's worst case instead: every user is added with its own explicit
    ACE (a trustee SID no other user has), so no two descriptors are alike and the scan's
    verdict cache never hits. The ACE goes into the LDIF as SDDL, so Samba merges it with the
    inherited ACEs at add time, as it would for an object created with a descriptor."""
    lab = SambaLab(lab_root(n, unique))
    if (lab.root / "bench-ready").exists():
        return lab
    print(f"  building a lab with {n:,} users{' (unique descriptors)' if unique else ''} (cached for next time)…",
          flush=True)  # fmt: skip
    ous = [f"OU=Bench{i:02d},{SCOPE}" for i in range(OUS)]
    seeded = lab.root / "bench-seeded"
    if not seeded.exists():
        info = bring_up(lab.root)
        _seed_ous(info, ous)
        lab.stop(remove=False)
        seeded.write_text(info.domain_sid)  # start() forgets it; the unique LDIF needs it
    if not (lab.root / "bench-loaded").exists():
        domain_sid = seeded.read_text().strip()
        ldif = lab.root / "bench.ldif"
        with ldif.open("w") as out:
            for i in range(n):
                out.write(f"dn: CN=bench{i:06d},{ous[i % OUS]}\nobjectClass: user\nsAMAccountName: b{n}x{i:06d}\n")
                if unique:
                    out.write(f"nTSecurityDescriptor: D:(A;;RP;;;{domain_sid}-{UNIQUE_RID + i})\n")
                out.write("\n")
        subprocess.run(
            ["ldbadd", "-H", str(lab.root / "private" / "sam.ldb"), str(ldif)], check=True, capture_output=True
        )
        (lab.root / "bench-loaded").write_text("")
    if not unique:
        _vary(lab.start(), ous, n)
        lab.stop(remove=False)
    (lab.root / "bench-ready").write_text(str(n))
    return lab


def _dacl(conn, dn: str) -> SecurityDescriptor:
    conn.search(
        dn,
        "(objectClass=*)",
        "BASE",
        attributes=["nTSecurityDescriptor"],
        controls=security_descriptor_control(sdflags=4),
    )
    return SecurityDescriptor.from_bytes(conn.response[0]["raw_attributes"]["nTSecurityDescriptor"][0])


def _write(conn, dn: str, sd: SecurityDescriptor) -> None:
    conn.modify(
        dn,
        {"nTSecurityDescriptor": [("MODIFY_REPLACE", [sd.to_bytes()])]},
        controls=security_descriptor_control(sdflags=4),
    )
    assert conn.result["result"] == 0, conn.result


def _seed_ous(info, ous: list[str]) -> None:
    """20 OUs; the even ones granted like the lab's Writeback OU (Microsoft's module)."""
    with admin_directory(info) as admin:
        conn = admin.connection
        group_sid = Sid.from_bytes(
            admin.search(f"CN={sc.GROUP},CN=Users,{BASE_DN}", "(objectClass=*)", ["objectSid"], scope="BASE")[0][
                "objectSid"
            ][0]
        )
        conn.add(SCOPE, ["top", "organizationalUnit"])
        for i, ou in enumerate(ous):
            conn.add(ou, ["top", "organizationalUnit"])
            if i % 2 == 0:
                sd = _dacl(conn, ou)
                grants = [
                    Ace(
                        AceType.ACCESS_ALLOWED_OBJECT,
                        AceFlag.CONTAINER_INHERIT | AceFlag.INHERIT_ONLY,
                        Right.WRITE_PROPERTY,
                        group_sid,
                        admin.schema_attribute(name).schema_id,
                        sc.USER_CLASS,
                    )
                    for name in sc.PRESENT_ATTRIBUTES
                ]
                _write(conn, ou, sd.with_dacl(Acl.from_aces(grants + list(sd.dacl.aces))))


def _vary(info, ous: list[str], n: int) -> None:
    """~2% of users get an explicit ACE (one of 200 trustees); half of those also lose
    inheritance — so the forest holds a few hundred distinct descriptors, as real ones do."""
    rng = random.Random(n)
    with admin_directory(info) as admin:
        conn = admin.connection
        domain_sid = admin.domain().domain_sid
        for i in rng.sample(range(n), max(1, n // 50)):
            dn = f"CN=bench{i:06d},{ous[i % OUS]}"
            sd = _dacl(conn, dn)
            extra = Ace(AceType.ACCESS_ALLOWED, 0, Right.READ_PROPERTY, Sid.parse(f"{domain_sid}-{5000 + i % 200}"))
            protected = rng.random() < 0.5
            aces = [a for a in sd.dacl.aces if not (protected and a.is_inherited)]
            _write(conn, dn, sd.with_dacl(Acl.from_aces([extra, *aces]), protected=protected))


# Peak RSS of the child's own address space. Not getrusage's ru_maxrss: Linux carries the
# parent's high-water mark across fork+exec, so every child would report at least this
# script's size (77 MB after the distinct-descriptor count) and floor and scan look alike.
PEAK_RSS = textwrap.dedent("""
    def peak_rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
""")

CHILD = {
    "floor": textwrap.dedent("""
        import json, ssl, sys, time, ldap3
        PEAK_RSS
        from ldap3.protocol.microsoft import security_descriptor_control
        cfg = json.loads(sys.argv[1])
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=cfg["ca"], valid_names=[cfg["name"]])
        conn = ldap3.Connection(ldap3.Server("127.0.0.1", 636, use_ssl=True, tls=tls, get_info=ldap3.NONE),
                                "LAB\\\\Administrator", cfg["password"], auto_bind=True)
        start = time.perf_counter()
        count = 0
        for entry in conn.extend.standard.paged_search(cfg["scope"], "(|(objectClass=user)(objectClass=inetOrgPerson)(objectClass=group)(objectClass=contact))",
                attributes=["nTSecurityDescriptor", "objectClass", "adminCount", "distinguishedName", "objectGUID"],
                controls=security_descriptor_control(sdflags=7), paged_size=1000, generator=True):
            count += entry.get("type") == "searchResEntry"
        print(json.dumps({"seconds": time.perf_counter() - start, "objects": count,
                          "rss_mb": peak_rss_mb()}))
    """),
    "scan": textwrap.dedent("""
        import json, sys, time, tempfile
        PEAK_RSS
        from richcoex_kit.checks import CheckRequest
        from richcoex_kit.directory.ldap import LdapDirectory
        from richcoex_kit.scan import scan
        from richcoex_kit.connection import ConnectionSpec
        from richcoex_kit.settings import Secret
        cfg = json.loads(sys.argv[1])
        settings = ConnectionSpec(server="127.0.0.1", ca_file=cfg["ca"], tls_name=cfg["name"], bind_user="LAB\\\\Administrator")
        directory = LdapDirectory(settings, lambda user: Secret(cfg["password"]))
        with tempfile.TemporaryFile("w+") as out:
            start = time.perf_counter()
            result = scan(directory, CheckRequest(None, "MSOL_AD_Sync", product="dirsync"), cfg["scope"], csv_out=out)
            seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "objects": result.scanned, "failing": len(result.failing),
                          "distinct": result.distinct_descriptors,
                          "rss_mb": peak_rss_mb()}))
    """),
}
CHILD = {kind: code.replace("PEAK_RSS\n", PEAK_RSS) for kind, code in CHILD.items()}


def floor_config(info: LabInfo, scope: str = SCOPE) -> dict[str, str]:
    """What the child scripts need to reach the lab (the password goes in argv of a child
    on this machine only: it is the throw-away lab's)."""
    return {"ca": info.ca_file, "name": info.tls_name, "password": info.password(), "scope": scope}


def floor_argv(config: dict[str, str]) -> list[str]:
    """The bare paged search as a whole process: what no scan process can beat."""
    return [sys.executable, "-c", CHILD["floor"], json.dumps(config)]


def scan_cli_argv(richcoex: str, info: LabInfo, scope: str = SCOPE) -> list[str]:
    """`richcoex scan --json` against the lab, as a user would type it."""
    return [richcoex, "scan", "--server", info.host, "--port", str(info.port), "--ca-file", info.ca_file,
            "--tls-name", info.tls_name, "--bind-user", info.admin, "--base", scope, "--json",
            "--sync-account", "MSOL_AD_Sync", "--product", "dirsync"]  # fmt: skip


def scan_cli_env(info: LabInfo) -> dict[str, str]:
    """The password the way the CLI takes it: from the environment, never argv."""
    return {"RICHCOEX_PASSWORD": info.password()}


def measure(kind: str, config: dict[str, str]) -> dict:
    """Run one child; its own in-process figures plus the wall time of the whole process."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD[kind], json.dumps(config)], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "wall": wall}


def measure_cli(info: LabInfo) -> dict:
    """`richcoex scan --json` as a whole process (start-up, bind, token, schema, output)."""
    start = time.perf_counter()
    result = subprocess.run(
        scan_cli_argv(str(Path(sys.executable).parent / "richcoex"), info),
        capture_output=True,
        text=True,
        env={**os.environ, **scan_cli_env(info)},
    )
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):  # 1: some object would fail write-back, as the lab intends
        raise RuntimeError(f"richcoex scan exited {result.returncode}: {result.stderr[-2000:]}")
    return {"wall": wall, "findings": len(json.loads(result.stdout)["findings"])}


def distinct_descriptors(config: dict[str, str]) -> tuple[int, int]:
    """(objects, distinct raw descriptors) under the scope, counted directly from the DC and
    not by the code under test — the proof that the worst case really has no two alike."""
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=config["ca"], valid_names=[config["name"]])
    server = ldap3.Server("127.0.0.1", 636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, "LAB\\Administrator", config["password"], auto_bind=True)
    seen: set[bytes] = set()
    count = 0
    for entry in conn.extend.standard.paged_search(
        config["scope"], FILTER, attributes=["nTSecurityDescriptor"],
        controls=security_descriptor_control(sdflags=7), paged_size=1000, generator=True,
    ):  # fmt: skip
        if entry.get("type") == "searchResEntry":
            count += 1
            seen.add(hashlib.sha256(entry["raw_attributes"]["nTSecurityDescriptor"][0]).digest())
    conn.unbind()
    return count, len(seen)


@dataclass
class Figures:
    """Medians for one lab: in-process (the loop alone) and whole-process (what a user waits for)."""

    n: int
    unique: bool
    floor: float
    scan: float
    floor_process: float
    scan_process: float
    objects: int
    distinct: int
    distinct_dc: int
    failing: int
    rss_floor: float
    rss_scan: float

    @property
    def ratio(self) -> float:
        return self.scan / self.floor

    @property
    def process_ratio(self) -> float:
        return self.scan_process / self.floor_process


def bench(n: int, unique: bool, rounds: int) -> Figures:
    """Alternate floor, in-process scan and scan CLI `rounds` times on one running lab."""
    lab = prepare(n, unique)
    info = lab.start()
    try:
        config = floor_config(info)
        objects, distinct_dc = distinct_descriptors(config)
        if unique and distinct_dc != objects:
            raise RuntimeError(f"worst-case lab has {distinct_dc:,} distinct descriptors for {objects:,} objects")
        floors, scans, clis = [], [], []
        for i in range(rounds):
            steps = [
                lambda: floors.append(measure("floor", config)),
                lambda: scans.append(measure("scan", config)),
                lambda: clis.append(measure_cli(info)),
            ]
            for step in steps if i % 2 == 0 else reversed(steps):  # drift lands on both sides
                step()
    finally:
        lab.stop(remove=False)
    last = scans[-1]
    return Figures(
        n=n,
        unique=unique,
        floor=statistics.median(f["seconds"] for f in floors),
        scan=statistics.median(s["seconds"] for s in scans),
        floor_process=statistics.median(f["wall"] for f in floors),
        scan_process=statistics.median(c["wall"] for c in clis),
        objects=last["objects"],
        distinct=last["distinct"],
        distinct_dc=distinct_dc,
        failing=last["failing"],
        rss_floor=max(f["rss_mb"] for f in floors),
        rss_scan=max(s["rss_mb"] for s in scans),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,10000,50000", help="comma-separated user counts (shared descriptors)")
    parser.add_argument(
        "--unique", default="", help="comma-separated user counts for the worst case, e.g. 5000 (one descriptor each)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    labs = [(int(s), False) for s in args.sizes.split(",") if s] + [(int(s), True) for s in args.unique.split(",") if s]
    rows: list[Figures] = []
    for n, unique in labs:
        f = bench(n, unique, args.rounds)
        rows.append(f)
        print(
            f"N={n:>6,}{' unique' if unique else ''}: in-process floor {f.floor:6.2f}s scan {f.scan:6.2f}s "
            f"ratio {f.ratio:4.2f} | processes floor {f.floor_process:6.2f}s scan CLI {f.scan_process:6.2f}s "
            f"ratio {f.process_ratio:4.2f} | {f.objects / f.scan:8,.0f} objects/s  {f.distinct_dc:,} distinct "
            f"descriptors on the DC ({f.distinct:,} seen by the scan)  {f.failing:,} failing",
            flush=True,
        )
    print(f"\nMedians of {args.rounds} alternating rounds; each child its own process. In-process: the search or")
    print(
        "scan loop alone (connection made). Whole process: wall time, start-up, bind, token/schema and output included.\n"
    )
    print(
        "| N | descriptors | (a) bare paged search | (b) richcoex scan | b/a | (a) as a process | "
        "(c) `richcoex scan --json` process | c/a | objects/s | distinct descriptors | peak RSS (a / b) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for f in rows:
        print(
            f"| {f.n:,} | {'one each (worst case)' if f.unique else 'shared'} | {f.floor:.2f} s | {f.scan:.2f} s | "
            f"{f.ratio:.2f} | {f.floor_process:.2f} s | {f.scan_process:.2f} s | {f.process_ratio:.2f} | "
            f"{f.objects / f.scan:,.0f} | {f.distinct_dc:,} | {f.rss_floor:.0f} / {f.rss_scan:.0f} MB |"
        )
    if args.json:
        print(json.dumps([{**asdict(f), "ratio": f.ratio, "process_ratio": f.process_ratio} for f in rows], indent=2))
    print("in-process target b/a <= 1.2: " + ("met" if all(f.ratio <= 1.2 for f in rows) else "NOT MET"))
    print("whole-process target c/a <= 1.25: " + ("met" if all(f.process_ratio <= 1.25 for f in rows) else "NOT MET"))


if __name__ == "__main__":
    main()
