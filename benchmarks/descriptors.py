"""Descriptor parsing and the WriteProperty decision, against the Python peers.

Builds a corpus of realistic AD user descriptors (2-8 KB, 40-120 ACEs: the user-class
defaults and inherited domain ACEs of a real Samba DC descriptor, plus OU delegations as
object ACEs, inherited copies, a few explicit denies and some ACE padding), then times in
one run, one core:

  floor      a bare loop that only walks the ACE headers
  ours       SecurityDescriptor.from_bytes
  ours+eval  from_bytes + evaluate_all over the KB's six attributes
  fused      decide_writes: the same six decisions in one walk over the bytes (the scan's
             per-distinct-descriptor path)
  winacl     winacl.dtyp.security_descriptor.SECURITY_DESCRIPTOR.from_bytes
  impacket   impacket.ldap.ldaptypes.SR_SECURITY_DESCRIPTOR(data=...) (a sample: ~8 ms each)

Peers are benchmark-only dependencies: pip install -e '.[dev]'.
Run: python benchmarks/descriptors.py [--count 10000]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import struct
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from richcoex_kit.schema import ATTRIBUTE_SETS, CATALOGUE, CLASSES
from richcoex_kit.security import Ace, AceFlag, AceType, Acl, SecurityDescriptor, Sid
from richcoex_kit.security.access import AttributeRef, decide_writes, evaluate_all, token_bytes

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "samba-descriptors.json"
DOMAIN = "S-1-5-21-15812907-4107863746-4255914069"


def build_corpus(count: int, seed: int = 7) -> list[bytes]:
    """Realistic user descriptors built on a real DC's user descriptor."""
    rng = random.Random(seed)
    template = SecurityDescriptor.from_bytes(base64.b64decode(json.loads(FIXTURE.read_text())["user-healthy"]))
    base_aces = list(template.dacl.aces)
    guids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(400)]
    trustees = [Sid.parse(f"{DOMAIN}-{rid}") for rid in range(1100, 1400)]
    corpus = []
    for _ in range(count):
        target = rng.randint(40, 120)
        kept = base_aces[: rng.randint(min(20, target), min(len(base_aces), target))]
        extra = []
        while len(kept) + len(extra) < target:
            kind = rng.random()
            trustee = rng.choice(trustees)
            if kind < 0.03:
                ace = Ace(AceType.ACCESS_DENIED_OBJECT, 0, 0x20, trustee, rng.choice(guids))
            elif kind < 0.55:
                ace = Ace(
                    AceType.ACCESS_ALLOWED_OBJECT,
                    AceFlag.INHERITED | AceFlag.CONTAINER_INHERIT,
                    rng.choice((0x10, 0x30, 0x100, 0x20)),
                    trustee,
                    rng.choice(guids),
                    CLASSES["user"],
                )
            elif kind < 0.8:
                ace = Ace(
                    AceType.ACCESS_ALLOWED_OBJECT,
                    AceFlag.INHERITED,
                    rng.choice((0x10, 0x30)),
                    trustee,
                    rng.choice(guids),
                )
            else:
                ace = Ace(AceType.ACCESS_ALLOWED, AceFlag.INHERITED, rng.choice((0x20094, 0x10, 0x4)), trustee)
            if rng.random() < 0.02:
                ace = Ace(
                    ace.type,
                    ace.flags,
                    ace.mask,
                    ace.sid,
                    ace.object_type,
                    ace.inherited_object_type,
                    padding=b"\x00" * 4,
                )
            extra.append(ace)
        explicit = [a for a in extra if not a.is_inherited]
        inherited = [a for a in extra if a.is_inherited]
        aces = explicit + kept + inherited
        corpus.append(template.with_dacl(Acl.from_aces(aces, revision=4)).to_bytes())
    return corpus


def walk_headers(data: bytes) -> int:
    """The floor: read the DACL offset and hop over every ACE header, nothing else."""
    off = struct.unpack_from("<I", data, 16)[0]
    count = data[off + 4] | data[off + 5] << 8
    pos = off + 8
    for _ in range(count):
        pos += data[pos + 2] | data[pos + 3] << 8
    return pos


def rate(label: str, function: Callable[[bytes], object], corpus: list[bytes], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for item in corpus:
            function(item)
        times.append(time.perf_counter() - start)
    per_second = len(corpus) / statistics.median(times)
    print(f"  {label:<34} {per_second:>12,.0f} descriptors/s")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="corpus size (default 10,000)")
    parser.add_argument("--impacket-sample", type=int, default=300, help="descriptors impacket parses (slow)")
    args = parser.parse_args()

    corpus = build_corpus(args.count)
    sizes = [len(d) for d in corpus]
    counts = [len(SecurityDescriptor.from_bytes(d).dacl) for d in corpus[:2000]]
    print(
        f"corpus: {len(corpus):,} user descriptors, {statistics.mean(sizes) / 1024:.1f} KB mean "
        f"({min(sizes) / 1024:.1f}-{max(sizes) / 1024:.1f} KB), {statistics.mean(counts):.0f} ACEs mean"
    )

    token = token_bytes([f"{DOMAIN}-1102", f"{DOMAIN}-1105", f"{DOMAIN}-513", "S-1-1-0", "S-1-5-11", "S-1-5-2"])
    attributes = tuple(
        AttributeRef(
            name, CATALOGUE[name].schema_id or uuid.uuid5(uuid.NAMESPACE_URL, name), CATALOGUE[name].property_set
        )
        for name in ATTRIBUTE_SETS["kb"]
    )
    classes = [CLASSES["user"], CLASSES["organizationalPerson"], CLASSES["person"], CLASSES["top"]]

    print("one core, median of 3:")
    floor = rate("floor: walk ACE headers only", walk_headers, corpus)
    ours = rate("richcoex from_bytes", SecurityDescriptor.from_bytes, corpus)
    fused = rate("richcoex decide_writes(6), fused", lambda d: decide_writes(d, token, attributes, classes), corpus)
    evaluated = rate(
        "richcoex from_bytes + evaluate_all(6)",
        lambda d: evaluate_all(SecurityDescriptor.from_bytes(d), token, attributes, classes),
        corpus,
    )
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR

    winacl = rate("winacl SECURITY_DESCRIPTOR.from_bytes", SECURITY_DESCRIPTOR.from_bytes, corpus)
    from impacket.ldap.ldaptypes import SR_SECURITY_DESCRIPTOR

    impacket = rate(
        "impacket SR_SECURITY_DESCRIPTOR",
        lambda d: SR_SECURITY_DESCRIPTOR(data=d),
        corpus[: args.impacket_sample],
        repeats=1,
    )

    print("ratios:")
    print(f"  fused decide vs winacl parse        {fused / winacl:6.1f}x   (target >= 10x)")
    print(f"  fused decide vs impacket parse      {fused / impacket:6.0f}x   (target >= 200x)")
    print(f"  floor vs fused decide               {floor / fused:6.1f}x   (target <= 4x)")
    print(f"  floor vs from_bytes + evaluate_all  {floor / evaluated:6.1f}x")
    print(f"  parse alone vs winacl parse         {ours / winacl:6.1f}x")
    ok = fused >= 10 * winacl and fused >= 200 * impacket and floor <= 4 * fused
    print("targets met" if ok else "TARGETS NOT MET")


if __name__ == "__main__":
    main()
