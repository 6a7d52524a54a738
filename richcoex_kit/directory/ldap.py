"""The live directory over ldap3: TLS, bind, the SD-flags control, identity resolution.

Every ldap3 call goes through `guard`, which turns ldap3's exceptions into our typed
`DirectoryError`s with one-line messages that name the server; a bind password is never
part of any message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import ssl
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import ldap3
from ldap3.core import exceptions as ldap_exc
from ldap3.protocol.microsoft import security_descriptor_control
from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import parse_dn

from ..connection import CONNECT_TIMEOUT_SECONDS, ConnectionSpec
from ..dn import domain_of
from ..security import Sid
from ..settings import resolve_password
from .base import (
    PROTECTED_ACCOUNT_RIDS,
    AttributeState,
    Directory,
    DirectoryObject,
    DirectoryWriter,
    DomainFacts,
    GroupFacts,
    ScanRow,
    SchemaAttribute,
    protected_group_sids,
    split_account,
)
from .errors import (
    AmbiguousError,
    BindError,
    ConcurrentChangeError,
    DirectoryError,
    InsufficientRightsError,
    InvalidInputError,
    NotFoundError,
    TlsError,
    TokenGroupsUnavailableError,
    UnreachableError,
)

T = TypeVar("T")

# Owner, group and DACL (MS-ADTS 3.1.1.3.4.1.11): without this control a non-admin such
# as the sync account reads nTSecurityDescriptor as empty.
SD_FLAGS_OWNER_GROUP_DACL = 7
SD_FLAGS_DACL = 4
EXTENDED_DN_CONTROL = "1.2.840.113556.1.4.529"
OBJECT_ATTRIBUTES = [
    "distinguishedName",
    "objectGUID",
    "objectSid",
    "objectClass",
    "sAMAccountName",
    "adminCount",
    "nTSecurityDescriptor",
    "sIDHistory",
]

SCAN_ATTRIBUTES = ["nTSecurityDescriptor", "objectClass", "adminCount", "distinguishedName", "objectGUID"]
_DN_LIKE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9-]*\s*=.+")
_EXTENDED_SID = re.compile(r"<SID=([0-9a-fA-F]+)>")
_INSUFFICIENT_ACCESS = 50
_NO_SUCH_OBJECT = 32
_INVALID_DN = 34
_REFERRAL = 10
# MS-ADTS 3.1.1.3.1.1: a global catalog answers on 3268 (LDAP, StartTLS) and 3269 (LDAPS).
GC_PORT, GC_PORT_TLS = 3268, 3269
# What `find_sync_accounts` looks for: Entra Connect's and DirSync's MSOL_* accounts and Cloud
# Sync's default gMSA (entra-docs reference-connect-accounts-permissions.md, cloud-sync/gmsa-cloud-sync.md).
SYNC_ACCOUNT_FILTER = "(&(objectClass=user)(|(sAMAccountName=MSOL_*)(sAMAccountName=provAgentgMSA$)))"


def _first(entry: dict[str, Any], name: str) -> Any:
    value = entry.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _tls_config(settings: ConnectionSpec) -> ldap3.Tls:
    if settings.insecure:
        return ldap3.Tls(validate=ssl.CERT_NONE)
    names = [settings.tls_name] if settings.tls_name else None
    try:
        return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file, valid_names=names)
    except ldap_exc.LDAPSSLConfigurationError as error:
        raise TlsError(f"--ca-file {settings.ca_file!r} is not a usable PEM CA certificate: {error}") from None


class LdapDirectory(Directory):
    """A bound ldap3 connection plus per-connection caches of schema and names."""

    kind = "ldap"
    offline = False

    def __init__(self, settings: ConnectionSpec, password_source: Callable[[str], Any] = resolve_password) -> None:
        settings.check_live()
        self.settings = settings
        self._schema_cache: dict[str, SchemaAttribute | None] = {}
        self._class_cache: dict[str, uuid.UUID | None] = {}
        self._domain: DomainFacts | None = None
        self._protected: dict[str, str] | None = None
        self._password_source = password_source
        self._global_catalog: LdapDirectory | None = None
        self._domains: dict[str, str] | None = None
        self.connection = self._connect(password_source)

    # -- connection ------------------------------------------------------------------
    def where(self) -> str:
        """host:port, as every message names the DC."""
        return f"{self.settings.server}:{self.settings.effective_port}"

    def _connect(self, password_source: Callable[[str], Any]) -> ldap3.Connection:
        settings = self.settings
        use_ssl = settings.tls == "ldaps"
        server = ldap3.Server(
            settings.server,
            port=settings.effective_port,
            use_ssl=use_ssl,
            tls=_tls_config(settings) if settings.tls != "none" else None,
            get_info=ldap3.NONE,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        kwargs: dict[str, Any] = {
            # Never chase a referral: ldap3 would bind again, with the same password, to the
            # host a DN's DC= parts name — over plain LDAP even from an LDAPS session.
            "auto_referrals": False,
            "raise_exceptions": False,
            "receive_timeout": CONNECT_TIMEOUT_SECONDS,
            "read_only": False,
            "return_empty_attributes": True,
        }
        if settings.auth == "kerberos":
            # The service principal is ldap/<host name>: connecting by IP address, the name in
            # the DC's certificate (--tls-name) is the host name to ask a ticket for.
            target = (settings.tls_name,) if settings.tls_name else None
            kwargs.update(authentication=ldap3.SASL, sasl_mechanism=ldap3.KERBEROS, sasl_credentials=target)
        else:
            assert settings.bind_user
            kwargs.update(
                user=settings.bind_user,
                password=password_source(settings.bind_user).reveal(),
                authentication=ldap3.SIMPLE,
            )
        connection = ldap3.Connection(server, **kwargs)
        kwargs.pop("password", None)
        self.guard(connection.open, "connect")
        if settings.tls == "starttls" and not self.guard(connection.start_tls, "StartTLS"):
            raise TlsError(f"StartTLS with {self.where()} failed: {connection.result.get('description')}")
        if not self._bind(connection):
            result = connection.result or {}
            code = result.get("result")
            who = settings.bind_user or "the Kerberos ticket"
            if code == 49:
                raise BindError(f"{self.where()} refused the credentials for {who} (invalid credentials)")
            if code == 8:
                raise BindError(f"{self.where()} requires a stronger bind: use --tls ldaps or starttls")
            raise BindError(f"bind to {self.where()} as {who} failed: {result.get('description') or code}")
        connection.password = None  # bound: the connection object need not carry it for its lifetime
        return connection

    def _bind(self, connection: ldap3.Connection) -> bool:
        """Bind; a Kerberos failure (no ticket, unknown service principal, clock skew) is
        python-gssapi's GSSError, which ldap3 lets through: turn it into a one-line BindError."""
        if self.settings.auth != "kerberos":
            return self.guard(connection.bind, "bind")
        try:
            with warnings.catch_warnings():
                # ldap3 parses the DC's certificate for channel binding; cryptography warns about
                # certificates (Samba's self-signed one) whose serial number is not positive.
                warnings.simplefilter("ignore")
                return self.guard(connection.bind, "bind")
        except Exception as error:
            if type(error).__module__.split(".")[0] != "gssapi":
                raise
            text = " ".join(str(error).split())
            raise BindError(f"Kerberos bind to {self.where()} failed (kinit first?): {text[:300]}") from None

    def guard(self, call: Callable[..., T], what: str, *args: Any, **kwargs: Any) -> T:
        """Run one ldap3 call, turning its exceptions into the kit's typed errors."""
        try:
            return call(*args, **kwargs)
        except ldap_exc.LDAPSocketOpenError as error:
            text = str(error)
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower() or "hostname" in text.lower():
                raise TlsError(
                    f"the TLS certificate of {self.where()} could not be verified "
                    "(pass --ca-file with the issuing CA, --tls-name with the name in the certificate, "
                    "or --insecure to skip validation)"
                ) from None
            raise UnreachableError(f"cannot reach {self.where()} ({what}): {text.splitlines()[0][:160]}") from None
        except ldap_exc.LDAPStartTLSError as error:
            raise TlsError(f"StartTLS with {self.where()} failed: {str(error)[:160]}") from None
        except (
            ldap_exc.LDAPSocketReceiveError,
            ldap_exc.LDAPSessionTerminatedByServerError,
            ldap_exc.LDAPSocketSendError,
            ldap_exc.LDAPSocketCloseError,
        ) as error:
            raise UnreachableError(f"the connection to {self.where()} was lost during {what}: {error}") from None
        except ldap_exc.LDAPInvalidDnError:
            raise InvalidInputError(f"{args[0] if args else '?'!r} is not a valid DN") from None
        except ldap_exc.LDAPException as error:
            raise DirectoryError(f"{what} on {self.where()} failed: {type(error).__name__}: {error}") from None
        except ssl.SSLError as error:
            raise TlsError(f"TLS with {self.where()} failed: {error.reason or error}") from None
        except OSError as error:
            raise UnreachableError(f"cannot reach {self.where()} ({what}): {error.strerror or error}") from None

    def writer(self) -> DirectoryWriter:
        return LdapWriter(self)

    def as_account(self, bind_user: str, password_variable: str) -> LdapDirectory:
        """The same DC and transport, bound as `bind_user` (a simple bind)."""
        spec = dataclasses.replace(self.settings, bind_user=bind_user, auth="simple")
        return LdapDirectory(spec, functools.partial(resolve_password, variable=password_variable))

    def close(self) -> None:
        # The connection may already be gone (DC stopped); closing must not fail.
        with contextlib.suppress(Exception):
            self.connection.unbind()
        if self._global_catalog is not None:
            self._global_catalog.close()

    def target(self) -> dict[str, str]:
        return {"kind": "ldap", "server": self.where(), "bind": self.settings.bind_user or "kerberos"}

    # -- searching -------------------------------------------------------------------
    def search(
        self,
        base: str,
        search_filter: str,
        attributes: list[str],
        scope: str = ldap3.SUBTREE,
        controls: list[Any] | None = None,
        what: str = "search",
    ) -> list[dict[str, Any]]:
        """One search, results as {attribute: value(s)} plus "dn"; typed errors."""
        ok = self.guard(
            self.connection.search,
            what,
            base,
            search_filter,
            search_scope=scope,
            attributes=attributes,
            controls=controls,
        )
        result = self.connection.result or {}
        code = result.get("result", 0)
        if not ok and code not in (0, _NO_SUCH_OBJECT):
            if code == _INSUFFICIENT_ACCESS:
                raise InsufficientRightsError(f"{self.settings.bind_user} may not read {base} on {self.where()}")
            if code == _INVALID_DN:
                raise InvalidInputError(f"{base!r} is not a valid DN")
            if code == _REFERRAL:
                raise NotFoundError(f"{base!r} is not held by {self.where()}, which refers to another domain's DC "
                                    "(the kit does not follow referrals): connect to that domain's DC")  # fmt: skip
            raise DirectoryError(f"{what} under {base} on {self.where()} failed: {result.get('description')}")
        rows = []
        for item in self.connection.response or []:
            if item.get("type") != "searchResEntry":
                continue
            row = dict(item.get("raw_attributes") or {})
            row["dn"] = item["dn"]
            row["_attributes"] = item.get("attributes") or {}
            rows.append(row)
        return rows

    def scan_objects(self, base: str, ldap_filter: str, page_size: int) -> Iterator[ScanRow]:
        """Simple paged results (RFC 2696) with the SD-flags control, page by page."""
        generator = self.connection.extend.standard.paged_search(
            base, ldap_filter, search_scope=ldap3.SUBTREE, attributes=SCAN_ATTRIBUTES,
            controls=security_descriptor_control(sdflags=SD_FLAGS_OWNER_GROUP_DACL),
            paged_size=page_size, generator=True,
        )  # fmt: skip
        while True:
            item = self.guard(next, "paged search", generator, None)
            if item is None:
                result = self.connection.result or {}
                if result.get("result") == _INSUFFICIENT_ACCESS:
                    raise InsufficientRightsError(f"{self.settings.bind_user} may not search {base} on {self.where()}")
                if result.get("result") not in (0, None):
                    raise DirectoryError(f"scan of {base} on {self.where()} failed: {result.get('description')}")
                return
            if item.get("type") != "searchResEntry":
                continue
            raw = item["raw_attributes"]
            descriptor = raw.get("nTSecurityDescriptor") or ()
            admin = raw.get("adminCount") or ()
            yield ScanRow(
                item["dn"],
                tuple(value.decode() for value in raw.get("objectClass") or ()),
                int(admin[0]) if admin else None,
                bytes(descriptor[0]) if descriptor and descriptor[0] else None,
            )

    def domain(self) -> DomainFacts:
        if self._domain is None:
            root = self.search(
                "",
                "(objectClass=*)",
                ["defaultNamingContext", "dnsHostName", "configurationNamingContext", "schemaNamingContext"],
                scope=ldap3.BASE,
                what="rootDSE read",
            )
            if not root:
                raise DirectoryError(f"{self.where()} returned no rootDSE")
            attrs = root[0]["_attributes"]
            base, schema, config = naming_contexts(attrs, self.settings.base, self.where())
            head = self.search(base, "(objectClass=*)", ["objectSid"], scope=ldap3.BASE, what="domain read")
            if not head or not head[0].get("objectSid"):
                raise NotFoundError(f"{base!r} (from --base) is not a domain on {self.where()}")
            partitions = self.search(
                f"CN=Partitions,{config}",
                f"(&(objectClass=crossRef)(nCName={escape_filter_chars(base)}))",
                ["nETBIOSName"],
                what="partition read",
            )
            netbios = _first(partitions[0]["_attributes"], "nETBIOSName") if partitions else base
            self._domain = DomainFacts(
                base_dn=base,
                domain_sid=Sid.from_bytes(head[0]["objectSid"][0]),
                netbios_name=str(netbios),
                dns_host_name=str(_first(attrs, "dnsHostName") or self.settings.server),
                server=self.where(),
                schema_nc=schema,
                configuration_nc=config,
                ds_heuristics=self._ds_heuristics(config),
            )
        return self._domain

    def _ds_heuristics(self, config: str) -> str | None:
        """dSHeuristics of the forest's nTDSService object (MS-ADTS 6.1.1.2.4.1.2); unset is None."""
        rows = self.search(f"CN=Directory Service,CN=Windows NT,CN=Services,{config}", "(objectClass=*)",
                           ["dSHeuristics"], scope=ldap3.BASE, what="dSHeuristics read")  # fmt: skip
        value = _first(rows[0]["_attributes"], "dSHeuristics") if rows else None
        return str(value) if value else None

    def protected_accounts(self) -> dict[str, str]:
        """Expanded here, level by level through `member` (a few searches), rather than one
        LDAP_MATCHING_RULE_IN_CHAIN search per group: measured on the Samba lab, those took
        ~40 ms each, 0.6 s per connection."""
        if self._protected is None:
            domain = self.domain()
            base = domain.base_dn
            groups = protected_group_sids(domain.domain_sid, domain.ds_heuristics)
            clauses = "".join(f"(objectSid={escape_bytes(sid.to_bytes())})" for sid in groups)
            rows = self.search(base, f"(&(objectClass=group)(|{clauses}))", ["objectSid", "member"],
                               what="protected groups read")  # fmt: skip
            result: dict[str, str] = {}
            primary: dict[int, str] = {}
            for row in rows:  # SDProp protects the groups themselves too
                sid = Sid.from_bytes(row["objectSid"][0])
                result[row["dn"].lower()] = groups.get(sid, str(sid))
                if sid.domain_part() == domain.domain_sid and sid.rid is not None:
                    primary[sid.rid] = result[row["dn"].lower()]
            # A primary group is no `member` link: its members carry primaryGroupID instead.
            if primary:
                wanted = "".join(f"(primaryGroupID={rid})" for rid in primary)
                for row in self.search(base, f"(|{wanted})", ["primaryGroupID"], what="primary group read"):
                    rid = int(_first(row["_attributes"], "primaryGroupID") or 0)
                    result.setdefault(row["dn"].lower(), primary.get(rid, "a protected group"))
            level = [
                (str(m), result[row["dn"].lower()]) for row in rows for m in row["_attributes"].get("member") or ()
            ]
            while level:
                fresh = {dn.lower(): (dn, name) for dn, name in level if dn.lower() not in result}
                result.update({key: name for key, (_, name) in fresh.items()})
                level = []
                items = list(fresh.values())
                for start in range(0, len(items), 50):  # which new members are groups, and theirs
                    wanted = "".join(
                        f"(distinguishedName={escape_filter_chars(dn)})" for dn, _ in items[start : start + 50]
                    )
                    for row in self.search(base, f"(&(objectClass=group)(|{wanted}))", ["member"],
                                           what="nested group read"):  # fmt: skip
                        name = result[row["dn"].lower()]
                        level += [(str(m), name) for m in row["_attributes"].get("member") or ()]
            accounts = "".join(f"(objectSid={escape_bytes(Sid.parse(f'{domain.domain_sid}-{rid}').to_bytes())})"
                               for rid in PROTECTED_ACCOUNT_RIDS)  # fmt: skip
            for row in self.search(base, f"(|{accounts})", ["objectSid"], what="protected accounts read"):
                rid = Sid.from_bytes(row["objectSid"][0]).rid or 0
                result.setdefault(row["dn"].lower(), PROTECTED_ACCOUNT_RIDS.get(rid, "protected account"))
            self._protected = result
        return self._protected

    # -- objects ---------------------------------------------------------------------
    def _to_object(self, row: dict[str, Any]) -> DirectoryObject:
        if not row.get("objectGUID"):
            # The DC returns the entry but no attribute the bound account may not read.
            raise InsufficientRightsError(f"{self.settings.bind_user} may not read {row['dn']} on {self.where()}")
        attrs = row["_attributes"]
        sid_raw = row.get("objectSid") or []
        descriptor = row.get("nTSecurityDescriptor") or []
        admin_count = _first(attrs, "adminCount")
        return DirectoryObject(
            dn=row["dn"],
            guid=uuid.UUID(bytes_le=row["objectGUID"][0]),
            sid=Sid.from_bytes(sid_raw[0]) if sid_raw else None,
            object_classes=tuple(str(c) for c in attrs.get("objectClass") or ()),
            sam_account_name=_first(attrs, "sAMAccountName") or None,
            admin_count=int(admin_count) if admin_count not in (None, []) else None,
            descriptor=bytes(descriptor[0]) if descriptor and descriptor[0] else None,
            sid_history=tuple(Sid.from_bytes(value) for value in row.get("sIDHistory") or () if value),
        )

    def _read_objects(self, base: str, search_filter: str, scope: str = ldap3.SUBTREE) -> list[DirectoryObject]:
        rows = self.search(
            base,
            search_filter,
            OBJECT_ATTRIBUTES,
            scope=scope,
            controls=security_descriptor_control(sdflags=SD_FLAGS_OWNER_GROUP_DACL),
            what="object read",
        )
        return [self._to_object(row) for row in rows]

    def search_base(self) -> str:
        """Where identities are looked up: --base when given, else the domain."""
        return self.settings.base or self.domain().base_dn

    def find_object(self, identity: str) -> DirectoryObject:
        text = identity.strip()
        if not text:
            raise InvalidInputError("the identity is empty (expected sAMAccountName, UPN, DN or objectGUID)")
        base = self.search_base()
        try:
            guid = uuid.UUID(text.strip("{}"))
        except ValueError:
            guid = None
        if guid is not None:
            found = self._read_objects(base, f"(objectGUID={escape_bytes(guid.bytes_le)})")
        elif _DN_LIKE.match(text):
            try:
                parse_dn(text)
                found = self._read_objects(text, "(objectClass=*)", scope=ldap3.BASE)
            except (ldap_exc.LDAPInvalidDnError, InvalidInputError):
                raise InvalidInputError(
                    f"{text!r} is not a valid DN (expected e.g. CN=Doe\\, John,OU=Staff,DC=corp,DC=example)"
                ) from None
        else:
            domain, name = split_account(text)
            if domain is not None and self._domain_of(domain) != self.domain().base_dn.lower():
                raise NotFoundError(
                    f"{text!r} names the domain {domain}, not the connected {self.domain().netbios_name}"
                )
            value = escape_filter_chars(name)
            found = self._read_objects(base, f"(|(sAMAccountName={value})(userPrincipalName={value}))")
        if not found:
            raise NotFoundError(
                f"no object matches {text!r} under {base} on {self.where()} "
                "(expected a sAMAccountName, name$, DOMAIN\\name, UPN, DN or objectGUID)"
            )
        return _single(text, found)

    def _domain_of(self, name: str) -> str | None:
        """The naming context (lower case) of a domain named by NetBIOS or DNS name, from the
        forest's crossRef objects (CN=Partitions), or None when the forest has no such domain."""
        if self._domains is None:
            root = self.search("", "(objectClass=*)", ["configurationNamingContext"], scope=ldap3.BASE,
                               what="rootDSE read")  # fmt: skip
            config = _first(root[0]["_attributes"], "configurationNamingContext") if root else None
            rows = self.search(f"CN=Partitions,{config}", "(&(objectClass=crossRef)(nETBIOSName=*))",
                               ["nETBIOSName", "dnsRoot", "nCName"], what="partition read") if config else []  # fmt: skip
            self._domains = {}
            for row in rows:
                attrs = row["_attributes"]
                context = str(_first(attrs, "nCName")).lower()
                for label in (_first(attrs, "nETBIOSName"), _first(attrs, "dnsRoot")):
                    if label:
                        self._domains[str(label).lower()] = context
        return self._domains.get(name.lower())

    def global_catalog(self) -> LdapDirectory:
        """The same server's global catalog (3269 with LDAPS, else 3268), bound the same way;
        opened at first use. Samba's AD DC is a global catalog too."""
        if self._global_catalog is None:
            port = GC_PORT_TLS if self.settings.tls == "ldaps" else GC_PORT
            spec = dataclasses.replace(self.settings, port=port, base="")
            self._global_catalog = LdapDirectory(spec, self._password_source)
        return self._global_catalog

    def find_in_global_catalog(self, identity: str) -> DirectoryObject:
        """`identity` (sAMAccountName, name$, DOMAIN\\name or UPN) anywhere in the forest: a
        subtree search from the root of the global catalog. DOMAIN\\name keeps its domain."""
        domain, name = split_account(identity)
        context = self._domain_of(domain) if domain else None
        if domain and context is None:
            raise NotFoundError(f"the forest of {self.where()} has no domain {domain!r} (for {identity!r})")
        gc = self.global_catalog()
        value = escape_filter_chars(name)
        found = gc._read_objects("", f"(|(sAMAccountName={value})(userPrincipalName={value}))")
        if context:
            found = [obj for obj in found if obj.dn.lower().endswith(context)]
        if not found:
            raise NotFoundError(f"no object matches {identity!r} in the global catalog of {gc.where()}")
        return _single(identity, found)

    def find_sync_accounts(self) -> list[DirectoryObject]:
        local = self._read_objects(self.domain().base_dn, SYNC_ACCOUNT_FILTER)
        return local or self.global_catalog()._read_objects("", SYNC_ACCOUNT_FILTER)

    def find_group(self, name: str) -> GroupFacts | None:
        rows = self.search(
            self.domain().base_dn,
            f"(&(objectClass=group)(sAMAccountName={escape_filter_chars(name)}))",
            ["objectSid", "sAMAccountName", "member"],
            controls=[(EXTENDED_DN_CONTROL, False, None)],
            what="group read",
        )
        if not rows:
            return None
        row = rows[0]
        members = tuple(_split_extended_dn(str(value)) for value in row["_attributes"].get("member") or ())
        return GroupFacts(
            dn=_split_extended_dn(row["dn"])[0],
            sid=Sid.from_bytes(row["objectSid"][0]),
            name=str(_first(row["_attributes"], "sAMAccountName")),
            members=members,
        )

    def token_groups(self, obj: DirectoryObject) -> tuple[Sid, ...]:
        """The same constructed attribute for every kind of account (user, gMSA, sMSA); an
        account of another domain of the forest is read through the global catalog."""
        outside = not obj.dn.lower().endswith(self.domain().base_dn.lower())
        source = self.global_catalog() if outside else self
        rows = source.search(obj.dn, "(objectClass=*)", ["tokenGroups"], scope=ldap3.BASE, what="tokenGroups read")
        if not rows:
            raise NotFoundError(f"{obj.dn} vanished while reading its tokenGroups on {self.where()}")
        values = rows[0].get("tokenGroups") or ()
        if not values:
            # Never empty when computed: it always holds the primary group (MS-ADTS 3.1.1.4.5.19).
            raise TokenGroupsUnavailableError(
                f"{self.where()} returned no tokenGroups for {obj.dn}: the DC computes it only when a global "
                "catalog is reachable (MS-ADTS 3.1.1.4.5.19), so the account's groups are unknown"
            )
        return tuple(Sid.from_bytes(value) for value in values)

    def builtin_memberships(self) -> dict[Sid, tuple[Sid, ...]]:
        rows = self.search(
            f"CN=Builtin,{self.domain().base_dn}",
            "(objectClass=group)",
            ["objectSid", "member"],
            controls=[(EXTENDED_DN_CONTROL, False, None)],
            what="builtin groups read",
        )
        result = {}
        for row in rows:
            members = [_split_extended_dn(str(v))[1] for v in row["_attributes"].get("member") or ()]
            result[Sid.from_bytes(row["objectSid"][0])] = tuple(sid for sid in members if sid is not None)
        return result

    # -- schema ----------------------------------------------------------------------
    def _schema_nc(self) -> str:
        return self.domain().schema_nc

    def schema_attribute(self, name: str) -> SchemaAttribute | None:
        key = name.lower()
        if key not in self._schema_cache:
            rows = self.search(
                self._schema_nc(),
                f"(&(objectClass=attributeSchema)(lDAPDisplayName={escape_filter_chars(name)}))",
                ["lDAPDisplayName", "schemaIDGUID", "attributeSecurityGUID"],
                scope=ldap3.LEVEL,
                what="schema read",
            )
            if rows:
                security = rows[0].get("attributeSecurityGUID") or []
                self._schema_cache[key] = SchemaAttribute(
                    name=str(_first(rows[0]["_attributes"], "lDAPDisplayName")),
                    schema_id=uuid.UUID(bytes_le=rows[0]["schemaIDGUID"][0]),
                    property_set=uuid.UUID(bytes_le=security[0]) if security and len(security[0]) == 16 else None,
                )
            else:
                self._schema_cache[key] = None
        return self._schema_cache[key]

    def class_guids(self, names: tuple[str, ...]) -> tuple[uuid.UUID, ...]:
        missing = [n for n in names if n.lower() not in self._class_cache]
        if missing:
            clauses = "".join(f"(lDAPDisplayName={escape_filter_chars(n)})" for n in missing)
            rows = self.search(
                self._schema_nc(),
                f"(&(objectClass=classSchema)(|{clauses}))",
                ["lDAPDisplayName", "schemaIDGUID"],
                scope=ldap3.LEVEL,
                what="schema read",
            )
            for row in rows:
                name = str(_first(row["_attributes"], "lDAPDisplayName"))
                self._class_cache[name.lower()] = uuid.UUID(bytes_le=row["schemaIDGUID"][0])
        return tuple(g for g in (self._class_cache.get(n.lower()) for n in names) if g is not None)

    def attribute_states(self, obj: DirectoryObject, names: tuple[str, ...]) -> tuple[AttributeState, ...]:
        rows = self.search(
            obj.dn,
            "(objectClass=*)",
            [*names, "msDS-ReplAttributeMetaData", "whenChanged"],
            scope=ldap3.BASE,
            what="attribute read",
        )
        if not rows:
            raise NotFoundError(f"{obj.dn} vanished on {self.where()}")
        attrs = {k.lower(): v for k, v in rows[0]["_attributes"].items()}
        raw = {k.lower(): v for k, v in rows[0].items() if not k.startswith("_") and k != "dn"}
        metadata = _parse_repl_metadata(raw.get("msds-replattributemetadata") or [])
        # Samba does not construct msDS-ReplAttributeMetaData; the object's whenChanged is
        # the closest fact it offers, and is labelled as such.
        when_changed = attrs.get("whenchanged")
        fallback = (f"object whenChanged {when_changed}" if when_changed else None, None, None)
        states = []
        for name in names:
            value = attrs.get(name.lower())
            values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
            shown = tuple(v.hex() if isinstance(v, bytes) else str(v) for v in values)
            changed, dsa, version = metadata.get(name.lower(), fallback if not metadata else (None, None, None))
            states.append(AttributeState(name, shown, changed, dsa, version))
        return tuple(states)

    def allowed_attributes_effective(self, obj: DirectoryObject) -> frozenset[str]:
        rows = self.search(
            obj.dn,
            "(objectClass=*)",
            ["allowedAttributesEffective"],
            scope=ldap3.BASE,
            what="allowedAttributesEffective read",
        )
        values = rows[0]["_attributes"].get("allowedAttributesEffective") if rows else None
        return frozenset(str(v).lower() for v in values or ())

    def names(self, sids: set[Sid]) -> dict[str, str]:
        domain = self.domain()
        result: dict[str, str] = {}
        unknown = []
        for sid in sids:
            known = sid.name(domain.domain_sid, domain.netbios_name)
            if known:
                result[str(sid)] = known
            else:
                unknown.append(sid)
        for start in range(0, len(unknown), 50):
            chunk = unknown[start : start + 50]
            clauses = "".join(f"(objectSid={escape_bytes(s.to_bytes())})" for s in chunk)
            for row in self.search(
                domain.base_dn, f"(|{clauses})", ["objectSid", "sAMAccountName"], what="name lookup"
            ):
                sid = Sid.from_bytes(row["objectSid"][0])
                result[str(sid)] = f"{domain.netbios_name}\\{_first(row['_attributes'], 'sAMAccountName')}"
        return result


class LdapWriter(DirectoryWriter):
    """The kit's only writes to a directory, each refused loudly rather than overwriting.

    A DACL write must not lose a concurrent change. What the DC honours (measured on the
    Samba lab): a modify that deletes the exact old value is refused ("MOD_DELETE for
    nTSecurityDescriptor not supported yet", unwillingToPerform), and the rootDSE offers no
    LDAP assertion control. So `replace_dacl` re-reads the DACL *and* its replication
    version (replPropertyMetaData, ATTRTYP 0x20119) in one search right before the write,
    refuses if the DACL is not the one the plan was made from, writes, and reads the
    version again: anything but one step up means another write landed in the remaining
    window of a few milliseconds, which is then reported — detected, not prevented.
    """

    def __init__(self, directory: LdapDirectory) -> None:
        self.directory = directory
        self.connection = directory.connection

    @property
    def who(self) -> str:
        return self.directory.settings.bind_user or "the Kerberos principal"

    def _check(self, ok: bool, what: str, dn: str) -> None:
        if ok:
            return
        result = self.connection.result or {}
        code, text = result.get("result"), (result.get("message") or result.get("description") or "")
        where = self.directory.where()
        if code == _INSUFFICIENT_ACCESS:
            raise InsufficientRightsError(f"{self.who} may not {what} {dn} on {where} (insufficient access rights)")
        raise DirectoryError(f"could not {what} {dn} on {where}: {result.get('description')} {text}".strip())

    def read_dacl(self, dn: str) -> bytes:
        """The DACL-only descriptor (SD flags 4): what a DACL write replaces, byte for byte."""
        return self.dacl_state(dn)[0]

    def dacl_state(self, dn: str) -> tuple[bytes, int | None]:
        """The DACL-only descriptor and its replication version, read in one search."""
        rows = self.directory.search(dn, "(objectClass=*)", ["nTSecurityDescriptor", "replPropertyMetaData"],
                                     scope=ldap3.BASE, controls=security_descriptor_control(sdflags=SD_FLAGS_DACL),
                                     what="DACL read")  # fmt: skip
        value = rows[0].get("nTSecurityDescriptor") if rows else None
        if not value or not value[0]:
            raise InsufficientRightsError(f"{self.who} may not read the DACL of {dn} on {self.directory.where()}")
        metadata = rows[0].get("replPropertyMetaData") or []
        return bytes(value[0]), _descriptor_version(metadata[0]) if metadata else None

    def replace_dacl(self, dn: str, expected: bytes, new: bytes) -> None:
        """Write `new` only if the stored DACL is still `expected` (see the class note)."""
        current, version = self.dacl_state(dn)
        if current != expected:
            raise ConcurrentChangeError(f"the DACL of {dn} changed on {self.directory.where()} since it was read; "
                                        "nothing was written — re-run")  # fmt: skip
        ok = self.directory.guard(self.connection.modify, "DACL write", dn,
                                   {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [new])]},
                                   controls=security_descriptor_control(sdflags=SD_FLAGS_DACL))  # fmt: skip
        self._check(ok, "change the permissions of", dn)
        _, after = self.dacl_state(dn)
        if version is not None and after is not None and after - version > 1:
            raise ConcurrentChangeError(
                f"another write to the DACL of {dn} landed at the same moment as ours (version {version} → {after}); "
                "one of the two is lost — compare with the backup and re-run"
            )

    def add_member(self, group_dn: str, member_dn: str) -> bool:
        """Add; False when it was already a member (someone else fixed it). The DC says so
        with attributeOrValueExists (20), or — AD and Samba for a linked attribute such as
        member — entryAlreadyExists (68); either means the kit added nothing."""
        ok = self.directory.guard(self.connection.modify, "member add", group_dn,
                                   {"member": [(ldap3.MODIFY_ADD, [member_dn])]})  # fmt: skip
        if not ok and (self.connection.result or {}).get("result") in (20, 68):
            return False
        self._check(ok, "add a member to", group_dn)
        return True

    def remove_member(self, group_dn: str, member_dn: str) -> None:
        ok = self.directory.guard(self.connection.modify, "member removal", group_dn,
                                   {"member": [(ldap3.MODIFY_DELETE, [member_dn])]})  # fmt: skip
        self._check(ok, "remove a member from", group_dn)

    def create_group(self, dn: str, name: str) -> None:
        """A global security group; refused (not overwritten) if the DN already exists."""
        attributes = {"objectClass": ["top", "group"], "sAMAccountName": name, "groupType": -2147483646}
        ok = self.directory.guard(self.connection.add, "group creation", dn, attributes=attributes)
        if not ok and (self.connection.result or {}).get("result") == 68:
            raise ConcurrentChangeError(f"{dn} already exists on {self.directory.where()}; nothing was written")
        self._check(ok, "create", dn)

    def delete(self, dn: str) -> None:
        ok = self.directory.guard(self.connection.delete, "delete", dn)
        self._check(ok, "delete", dn)


NT_SECURITY_DESCRIPTOR_ATTRTYP = 0x00020119  # 1.2.840.113556.1.2.281 in the default prefix table


def _descriptor_version(blob: bytes) -> int | None:
    """nTSecurityDescriptor's dwVersion from a replPropertyMetaData blob (MS-DRSR 5.159:
    16-byte header with the entry count at offset 8, then 48-byte entries)."""
    if len(blob) < 16:
        return None
    count = int.from_bytes(blob[8:12], "little")
    for index in range(count):
        at = 16 + 48 * index
        if at + 8 > len(blob):
            return None
        if int.from_bytes(blob[at : at + 4], "little") == NT_SECURITY_DESCRIPTOR_ATTRTYP:
            return int.from_bytes(blob[at + 4 : at + 8], "little")
    return None


def _parse_repl_metadata(values: list[Any]) -> dict[str, tuple[str | None, str | None, int | None]]:
    """msDS-ReplAttributeMetaData (XML fragments, MS-ADTS 3.1.1.4.5.17) → per attribute:
    last originating change time, originating DSA, version."""
    import xml.etree.ElementTree as ET

    result = {}
    for value in values:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        try:
            node = ET.fromstring(text.replace("\x00", "").strip())
        except ET.ParseError:
            continue
        name = (node.findtext("pszAttributeName") or "").lower()
        version = node.findtext("dwVersion")
        result[name] = (
            node.findtext("ftimeLastOriginatingChange"),
            node.findtext("pszLastOriginatingDsaDN"),
            int(version) if version and version.isdigit() else None,
        )
    return result


def naming_contexts(root: dict[str, Any], base: str | None, where: str) -> tuple[str, str, str]:
    """The domain, schema and configuration naming contexts from a rootDSE's attributes.

    Read, never built from the domain DN: in a child domain (corp.example's child
    emea.corp.example) the schema is CN=Schema,CN=Configuration,DC=corp,DC=example, not
    under DC=emea. `base` (--base) chooses the domain; the other two are the forest's."""
    domain = domain_of(base) or _first(root, "defaultNamingContext")
    schema = _first(root, "schemaNamingContext")
    config = _first(root, "configurationNamingContext")
    if not (domain and schema and config):
        missing = [n for n, v in (("defaultNamingContext", domain), ("schemaNamingContext", schema),
                                  ("configurationNamingContext", config)) if not v]  # fmt: skip
        raise DirectoryError(f"the rootDSE of {where} lacks {', '.join(missing)}: not an Active Directory DC?")
    return str(domain), str(schema), str(config)


def _single(identity: str, found: list[DirectoryObject]) -> DirectoryObject:
    if len(found) > 1:
        dns = "; ".join(obj.dn for obj in found[:5])
        raise AmbiguousError(f"{identity!r} is ambiguous: {len(found)} objects match ({dns}); give a DN or objectGUID")
    return found[0]


def _split_extended_dn(value: str) -> tuple[str, Sid | None]:
    """`<GUID=…>;<SID=…>;CN=x,…` → ("CN=x,…", Sid) as the extended-DN control returns it."""
    sid = None
    match = _EXTENDED_SID.search(value)
    if match:
        try:
            sid = Sid.from_bytes(bytes.fromhex(match.group(1)))
        except ValueError:
            sid = None
    parts = value.split(";")
    dn = ";".join(p for p in parts if not (p.startswith("<") and p.endswith(">")))
    return dn, sid
