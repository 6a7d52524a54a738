"""How close `richcoex scan` runs to the speed of the directory itself.

For each N (default 2,000, 10,000 and 50,000 users) a Samba lab DC is provisioned once and
cached under .benchmarks-cache/ (users bulk-loaded offline with ldbadd into 20 OUs, half
of them granted like Microsoft's module does, ~2% of users with explicit ACE variants, half of those with
inheritance disabled). Then, in one run and alternating three times, each in a
fresh child process so peak memory is its own:

  floor  a bare ldap3 paged search (page 1000, SD-flags control 7) reading the same
         attributes a scan reads — what no scan can beat
  scan   richcoex_kit.scan.scan over the same scope, token and schema reads included,
         writing the per-object CSV

Printed: both times (median), the ratio scan/floor (target <= 1.2), objects/s, distinct
descriptors, and each child's peak RSS. Needs the samba packages (scripts/test.sh
installs them). Run: python benchmarks/scan.py [--sizes 2000,10000,50000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from ldap3.protocol.microsoft import security_descriptor_control

from richcoex_kit.lab import scenarios as sc
from richcoex_kit.lab.samba import BASE_DN, SambaLab
from richcoex_kit.lab.seed import admin_directory, bring_up
from richcoex_kit.security import Ace, AceFlag, AceType, Acl, Right, SecurityDescriptor, Sid

CACHE = Path(__file__).resolve().parent.parent / ".benchmarks-cache"
SCOPE = f"OU=Bench,{BASE_DN}"
OUS = 20


def prepare(n: int) -> SambaLab:
    """A stopped, cached lab with n benchmark users. Built in three resumable phases (each
    leaves a marker file): seed the lab and the 20 OUs (DC running, seconds); bulk-load the
    users offline with ldbadd (DC stopped; per-add cost grows with the directory, ~14 min
    for 50,000 here); add the explicit ACE variants (DC running)."""
    lab = SambaLab(CACHE / f"scan-lab-{n}")
    if (lab.root / "bench-ready").exists():
        return lab
    print(f"  building a lab with {n:,} users (cached for next time)…", flush=True)
    ous = [f"OU=Bench{i:02d},{SCOPE}" for i in range(OUS)]
    if not (lab.root / "bench-seeded").exists():
        _seed_ous(bring_up(lab.root), ous)
        lab.stop(remove=False)
        (lab.root / "bench-seeded").write_text("")
    if not (lab.root / "bench-loaded").exists():
        ldif = lab.root / "bench.ldif"
        with ldif.open("w") as out:
            for i in range(n):
                out.write(f"dn: CN=bench{i:06d},{ous[i % OUS]}\nobjectClass: user\nsAMAccountName: b{n}x{i:06d}\n\n")
        subprocess.run(
            ["ldbadd", "-H", str(lab.root / "private" / "sam.ldb"), str(ldif)], check=True, capture_output=True
        )
        (lab.root / "bench-loaded").write_text("")
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


CHILD = {
    "floor": textwrap.dedent("""
        import json, resource, ssl, sys, time, ldap3
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
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """),
    "scan": textwrap.dedent("""
        import json, resource, sys, time, tempfile
        from richcoex_kit.checks import CheckRequest
        from richcoex_kit.directory.ldap import LdapDirectory
        from richcoex_kit.scan import scan
        from richcoex_kit.settings import Secret, Settings
        cfg = json.loads(sys.argv[1])
        settings = Settings(server="127.0.0.1", ca_file=cfg["ca"], tls_name=cfg["name"], bind_user="LAB\\\\Administrator")
        directory = LdapDirectory(settings, lambda user: Secret(cfg["password"]))
        with tempfile.TemporaryFile("w+") as out:
            start = time.perf_counter()
            result = scan(directory, CheckRequest(None), cfg["scope"], csv_out=out)
            seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "objects": result.scanned, "failing": len(result.failing),
                          "distinct": result.distinct_descriptors,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """),
}


def measure(kind: str, config: dict) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD[kind], json.dumps(config)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,10000,50000", help="comma-separated user counts")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        lab = prepare(n)
        info = lab.start()
        try:
            config = {"ca": info.ca_file, "name": info.tls_name, "password": info.password(), "scope": SCOPE}
            floors, scans = [], []
            for _ in range(args.rounds):
                floors.append(measure("floor", config))
                scans.append(measure("scan", config))
        finally:
            lab.stop(remove=False)
        floor = statistics.median(f["seconds"] for f in floors)
        taken = statistics.median(s["seconds"] for s in scans)
        last = scans[-1]
        rows.append(
            (
                n,
                floor,
                taken,
                taken / floor,
                last["objects"] / taken,
                last["distinct"],
                last["failing"],
                max(f["rss_mb"] for f in floors),
                max(s["rss_mb"] for s in scans),
            )
        )
        print(
            f"N={n:>6,}: floor {floor:6.2f}s  scan {taken:6.2f}s  ratio {taken / floor:4.2f}  "
            f"{last['objects'] / taken:8,.0f} objects/s  {last['distinct']:>4} distinct descriptors  "
            f"{last['failing']:>6,} failing  peak RSS floor {rows[-1][7]:.0f} MB, scan {rows[-1][8]:.0f} MB",
            flush=True,
        )
    print(
        "\n| N | bare paged search | richcoex scan | ratio | objects/s | distinct descriptors | peak RSS (floor / scan) |"
    )
    print("|---|---|---|---|---|---|---|")
    for n, floor, taken, ratio, rate, distinct, _, rss_floor, rss_scan in rows:
        print(
            f"| {n:,} | {floor:.2f} s | {taken:.2f} s | {ratio:.2f} | {rate:,.0f} | {distinct} | "
            f"{rss_floor:.0f} / {rss_scan:.0f} MB |"
        )
    met = all(row[3] <= 1.2 for row in rows)
    print("target b/a <= 1.2 met at every N" if met else "TARGET b/a <= 1.2 NOT MET")


if __name__ == "__main__":
    main()
