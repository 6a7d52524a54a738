"""Seed a fresh lab DC with the Exchange schema attributes, the sync accounts and one
object per scenario. Departure from the design's "only directory/ talks LDAP": this is a
provisioning tool, not a read path, so it writes through the admin connection directly.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import ldap3
from ldap3.protocol.microsoft import security_descriptor_control

from ..connection import ConnectionSpec
from ..directory.errors import DirectoryError
from ..directory.ldap import LdapDirectory
from ..schema import CLASSES
from ..security import Ace, AceFlag, AceType, Acl, Right, SecurityDescriptor, Sid
from ..security.sddl import descriptor_from_sddl
from ..settings import Secret
from . import scenarios as sc
from .samba import LabError, LabInfo, SambaLab, feed_tool, generate_password

DACL_ONLY = 4
GLOBAL_SECURITY_GROUP = -2147483646
NORMAL_ACCOUNT = 512
DONT_EXPIRE_PASSWORD = 0x10000
WORKSTATION_TRUST_ACCOUNT = 0x1000
# dsacls /I:S ("sub-objects only") on an OU, which is what AdSyncConfig's
# GrantADPermissionsOnADobject uses for OUs and containers: CONTAINER_INHERIT|INHERIT_ONLY.
SUB_OBJECTS_ONLY = AceFlag.CONTAINER_INHERIT | AceFlag.INHERIT_ONLY
READ_WRITE_PROPERTY = Right.READ_PROPERTY | Right.WRITE_PROPERTY
# Generic All as Samba stores it (already mapped).
FULL_CONTROL = 0x000F01FF
SYSTEM = Sid.parse("S-1-5-18")
# The service principal names a Windows DC registers for its LDAP service. Samba's
# samba_spnupdate would add them, but it runs with the DNS update service, which the lab
# does not start; without them the KDC cannot issue the ldap/ ticket a GSSAPI bind needs.
LDAP_SPNS = (
    "ldap/DC1.lab.example.test",
    "ldap/DC1",
    "ldap/DC1.lab.example.test/lab.example.test",
    "ldap/DC1.lab.example.test/LAB",
)


def admin_directory(info: LabInfo, account: str = "Administrator") -> LdapDirectory:
    settings = ConnectionSpec(
        server=info.host, port=info.port, ca_file=info.ca_file, tls_name=info.tls_name, bind_user=f"LAB\\{account}"
    )
    return LdapDirectory(settings, password_source=lambda _user: Secret(info.password(account)))


class _Seeder:
    def __init__(self, directory: LdapDirectory, lab: SambaLab) -> None:
        self.directory = directory
        self.conn = directory.connection
        self.lab = lab
        self.base = directory.domain().base_dn
        self.domain_sid = directory.domain().domain_sid

    def _ok(self, done: bool, what: str) -> None:
        if not done:
            raise LabError(
                f"lab seeding failed to {what}: {self.conn.result.get('description')} "
                f"{self.conn.result.get('message', '')}".strip()
            )

    def add(self, dn: str, attributes: dict) -> None:
        self._ok(self.conn.add(dn, attributes=attributes), f"add {dn}")

    def modify(self, dn: str, changes: dict, controls=None) -> None:
        self._ok(self.conn.modify(dn, changes, controls=controls), f"modify {dn}")

    def sid_of(self, dn: str) -> Sid:
        rows = self.directory.search(dn, "(objectClass=*)", ["objectSid"], scope=ldap3.BASE)
        return Sid.from_bytes(rows[0]["objectSid"][0])

    def descriptor(self, dn: str) -> SecurityDescriptor:
        rows = self.directory.search(
            dn,
            "(objectClass=*)",
            ["nTSecurityDescriptor"],
            scope=ldap3.BASE,
            controls=security_descriptor_control(sdflags=DACL_ONLY),
        )
        return SecurityDescriptor.from_bytes(rows[0]["nTSecurityDescriptor"][0])

    def write_descriptor(self, dn: str, sd: SecurityDescriptor) -> None:
        self.modify(
            dn,
            {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [sd.to_bytes()])]},
            controls=security_descriptor_control(sdflags=DACL_ONLY),
        )

    def edit_dacl(self, dn: str, change: Callable[[list[Ace]], list[Ace]], protected: bool | None = None) -> None:
        sd = self.descriptor(dn)
        assert sd.dacl is not None
        self.write_descriptor(dn, sd.with_dacl(Acl.from_aces(change(list(sd.dacl.aces))), protected=protected))

    # -- steps -----------------------------------------------------------------------
    def extend_schema(self) -> None:
        schema_nc = f"CN=Schema,CN=Configuration,{self.base}"
        for attr in sc.SCHEMA_ADDITIONS:
            values = {
                "objectClass": ["top", "attributeSchema"],
                "lDAPDisplayName": attr.name,
                "attributeID": attr.attribute_id,
                "attributeSyntax": attr.syntax,
                "oMSyntax": attr.om_syntax,
                "isSingleValued": "TRUE" if attr.single_valued else "FALSE",
                "schemaIDGUID": attr.schema_id.bytes_le,
                "searchFlags": 0,
            }
            if attr.property_set:
                values["attributeSecurityGUID"] = attr.property_set.bytes_le
            if attr.om_object_class:
                values["oMObjectClass"] = attr.om_object_class
            if attr.link_id is not None:
                values["linkID"] = attr.link_id
            self.add(f"CN={attr.name},{schema_nc}", values)
        self.refresh_schema()
        names = [attr.name for attr in sc.SCHEMA_ADDITIONS]
        self.modify(f"CN=User,{schema_nc}", {"mayContain": [(ldap3.MODIFY_ADD, names)]})
        self.refresh_schema()

    def refresh_schema(self) -> None:
        self.conn.check_names = False
        self.modify("", {"schemaUpdateNow": [(ldap3.MODIFY_REPLACE, ["1"])]})
        self.conn.check_names = True

    def add_ou(self, name: str, parent: str) -> str:
        dn = f"OU={name},{parent}"
        self.add(dn, {"objectClass": ["top", "organizationalUnit"]})
        return dn

    def add_group(self, name: str, parent: str) -> str:
        dn = f"CN={name},{parent}"
        self.add(dn, {"objectClass": ["top", "group"], "sAMAccountName": name, "groupType": GLOBAL_SECURITY_GROUP})
        return dn

    def add_user(self, cn: str, sam: str, parent: str, password: str | None = None) -> str:
        dn = f"CN={cn},{parent}"
        values: dict = {
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "sAMAccountName": sam,
            "userPrincipalName": f"{sam}@lab.example.test",
        }
        if password:
            values["unicodePwd"] = f'"{password}"'.encode("utf-16-le")
            values["userAccountControl"] = NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
        self.add(dn, values)
        return dn

    def add_contact(self, cn: str, parent: str) -> str:
        dn = f"CN={cn},{parent}"
        self.add(dn, {"objectClass": ["top", "person", "organizationalPerson", "contact"]})
        return dn

    def add_machine(
        self,
        cn: str,
        parent: str,
        object_class: str,
        password: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> str:
        """A computer, gMSA or sMSA (all `computer` subclasses; sAMAccountName ends in $)."""
        dn = f"CN={cn},{parent}"
        values: dict = {
            "objectClass": [object_class],
            "sAMAccountName": f"{cn}$",
            "userAccountControl": WORKSTATION_TRUST_ACCOUNT,
        }
        values.update(extra or {})
        self.add(dn, values)
        if password:
            self.modify(dn, {"unicodePwd": [(ldap3.MODIFY_REPLACE, [f'"{password}"'.encode("utf-16-le")])]})
        return dn

    def schema_guid(self, name: str) -> uuid.UUID:
        """An attribute's schemaIDGUID as the lab's schema holds it."""
        rows = self.directory.search(
            f"CN=Schema,CN=Configuration,{self.base}", f"(lDAPDisplayName={name})", ["schemaIDGUID"], scope=ldap3.LEVEL
        )
        return uuid.UUID(bytes_le=rows[0]["schemaIDGUID"][0])

    def strip_inherited(self, dn: str, extra: list[Ace] | None = None) -> None:
        """What "disable inheritance, remove inherited permissions" does (the KB's case)."""
        self.edit_dacl(dn, lambda aces: [*(extra or []), *(a for a in aces if not a.is_inherited)], protected=True)

    def stamp_admin_sd_holder(self, dn: str) -> None:
        """What SDProp does to a protected account: AdminSDHolder's DACL, protected."""
        holder = self.descriptor(f"CN=AdminSDHolder,CN=System,{self.base}")
        self.write_descriptor(dn, self.descriptor(dn).with_dacl(holder.dacl, protected=True))

    def add_member(self, group_dn: str, member_dn: str) -> None:
        self.modify(group_dn, {"member": [(ldap3.MODIFY_ADD, [member_dn])]})

    def grant(self, trustee: Sid, object_type: uuid.UUID | None, flags: int = 0, inherited_type=None) -> Ace:
        return Ace(AceType.ACCESS_ALLOWED_OBJECT, flags, Right.WRITE_PROPERTY, trustee, object_type, inherited_type)

    def run(self) -> None:
        users = f"CN=Users,{self.base}"
        self.modify(
            f"CN=Administrator,{users}",
            {"userAccountControl": [(ldap3.MODIFY_REPLACE, [NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD])]},
        )
        self.extend_schema()
        schema = {a.name: a for a in sc.SCHEMA_ADDITIONS}
        guid_of = {name: (schema[name].schema_id if name in schema else None) for name in sc.PRESENT_ATTRIBUTES}
        guid_of["proxyAddresses"] = uuid.UUID("bf967a06-0de6-11d0-a285-00aa003049e2")

        passwords = {}
        accounts = {}
        for sam in (sc.SYNC_ACCOUNT, sc.NESTED_SYNC_ACCOUNT, sc.OUTSIDER_SYNC_ACCOUNT):
            passwords[sam] = generate_password()
            accounts[sam] = self.add_user(sam, sam, users, passwords[sam])
        self.lab.save_credentials(**passwords)
        group_dn = self.add_group(sc.GROUP, users)
        nesting_dn = self.add_group(sc.NESTING_GROUP, users)
        self.add_member(group_dn, accounts[sc.SYNC_ACCOUNT])
        self.add_member(group_dn, nesting_dn)
        self.add_member(nesting_dn, accounts[sc.NESTED_SYNC_ACCOUNT])
        group_sid = self.sid_of(group_dn)

        container = self.add_ou(sc.SCENARIO_OU, self.base)
        writeback = self.add_ou(sc.OU_WRITEBACK, container)
        nogrant = self.add_ou(sc.OU_NOGRANT, container)
        inherit_to_users = AceFlag.CONTAINER_INHERIT | AceFlag.INHERIT_ONLY
        ou_grants = [
            self.grant(group_sid, guid_of[n], inherit_to_users, CLASSES["user"]) for n in sc.PRESENT_ATTRIBUTES
        ]
        self.edit_dacl(writeback, lambda aces: ou_grants + aces)

        dn = {}
        for sam, cn, parent in (
            ("rc-healthy", "rc-healthy", writeback),
            ("rc-noinherit", "rc-noinherit", writeback),
            ("rc-deny", "rc-deny", writeback),
            ("rc-admin", "rc-admin", writeback),
            ("rc-doe", "Doe\\, John", writeback),
            ("rc-nogrant", "rc-nogrant", nogrant),
            ("rc-proxyonly", "rc-proxyonly", nogrant),
            ("rc-propset", "rc-propset", nogrant),
        ):
            dn[sam] = self.add_user(cn, sam, parent)

        self.edit_dacl(dn["rc-noinherit"], lambda aces: [a for a in aces if not a.is_inherited], protected=True)
        denies = [
            Ace(AceType.ACCESS_DENIED_OBJECT, 0, Right.WRITE_PROPERTY, group_sid, guid_of[n])
            for n in sc.PRESENT_ATTRIBUTES
        ]
        self.edit_dacl(dn["rc-deny"], lambda aces: denies + aces)
        self.edit_dacl(dn["rc-proxyonly"], lambda aces: [self.grant(group_sid, guid_of["proxyAddresses"]), *aces])
        self.edit_dacl(dn["rc-propset"], lambda aces: [self.grant(group_sid, sc.EXCHANGE_PERSONAL_INFORMATION), *aces])

        # What SDProp does to a protected account: adminCount=1 and AdminSDHolder's DACL, protected.
        self.add_member(f"CN=Domain Admins,{users}", dn["rc-admin"])
        self.modify(dn["rc-admin"], {"adminCount": [(ldap3.MODIFY_REPLACE, [1])]})
        self.stamp_admin_sd_holder(dn["rc-admin"])

        self.modify(
            f"CN=DC1,OU=Domain Controllers,{self.base}", {"servicePrincipalName": [(ldap3.MODIFY_ADD, list(LDAP_SPNS))]}
        )
        self.seed_products(guid_of)

    # -- Entra Connect, Entra Cloud Sync and per-class scenarios ----------------------------
    def exchange_hybrid_grant(self, trustee: Sid) -> list[Ace]:
        """Set-ADSyncExchangeHybridPermissions on an OU, ACE for ACE.

        AdSyncConfig.psm1 (shipped with Entra Connect) builds the dsacls grants
        "<account>:RPWP;;user", ";;inetorgperson", ";;group", ";;contact" and applies them to
        an OU with inheritance 'S' (/I:S, sub-objects only); entra-docs
        how-to-connect-configure-ad-ds-connector-account.md lists the same four rows:
        "Allow, Read/Write all properties, Descendant User/InetOrgPerson/Group/Contact objects".
        So: Allow object ACE, CI|IO, ReadProperty|WriteProperty, no ObjectType (all
        properties), InheritedObjectType = the class. Set-AADCloudSyncPermissions
        -PermissionType HybridExchangePermissions grants "the permissions used by Azure AD
        Connect" (entra-docs cloud-sync/how-to-gmsa-cmdlets.md): the same four ACEs."""
        return [
            Ace(AceType.ACCESS_ALLOWED_OBJECT, SUB_OBJECTS_ONLY, READ_WRITE_PROPERTY, trustee, None, CLASSES[name])
            for name in ("user", "inetOrgPerson", "group", "contact")
        ]

    def seed_products(self, guid_of: dict[str, uuid.UUID | None]) -> None:
        users = f"CN=Users,{self.base}"
        passwords = {name: generate_password() for name in (sc.CONNECT_ACCOUNT, sc.CUSTOM_CONNECT_ACCOUNT)}
        connector = {name: self.add_user(name, name, users, password) for name, password in passwords.items()}
        connect_sid = self.sid_of(connector[sc.CONNECT_ACCOUNT])
        custom_sid = self.sid_of(connector[sc.CUSTOM_CONNECT_ACCOUNT])
        helpdesk = self.sid_of(self.add_group(sc.HELPDESK_GROUP, users))
        contractors = self.sid_of(self.add_group(sc.CONTRACTORS_GROUP, users))

        # Entra Cloud Sync's gMSA. Samba 4.17 creates it over LDAP but computes no managed
        # password (msDS-ManagedPassword reads empty) and refuses unicodePwd on it over LDAP,
        # even to Administrator, as AD does. Its password is set through the local sam.ldb
        # (system session) instead, so the lab can bind as the real gMSA object: its SID,
        # class and token are genuine, only the password's origin is the lab's.
        dc_sid = self.sid_of(f"CN=DC1,OU=Domain Controllers,{self.base}")
        membership = descriptor_from_sddl(f"O:S-1-5-32-544D:(A;;0x{FULL_CONTROL:x};;;{dc_sid})")
        gmsa_cn = sc.CLOUD_SYNC_GMSA.removesuffix("$")
        gmsa_dn = self.add_machine(
            gmsa_cn,
            f"CN=Managed Service Accounts,{self.base}",
            "msDS-GroupManagedServiceAccount",
            extra={
                "dNSHostName": f"{gmsa_cn}.lab.example.test",
                "msDS-ManagedPasswordInterval": 30,
                "msDS-GroupMSAMembership": membership.to_bytes(),
            },
        )
        passwords[sc.CLOUD_SYNC_GMSA] = generate_password()
        self.set_password_locally(gmsa_dn, passwords[sc.CLOUD_SYNC_GMSA])
        gmsa_sid = self.sid_of(gmsa_dn)
        self.lab.save_credentials(**passwords)

        root = self.add_ou(sc.PRODUCTS_OU, self.base)
        connect = self.add_ou(sc.OU_CONNECT, root)
        cloud = self.add_ou(sc.OU_CLOUD_SYNC, root)
        per_class = self.add_ou(sc.OU_PER_CLASS, root)
        unmanaged = self.add_ou(sc.OU_UNMANAGED, root)
        anchor = self.add_ou(sc.OU_SOURCE_ANCHOR, root)
        hardened = self.add_ou(sc.OU_HARDENED, root)
        grants = self.exchange_hybrid_grant(connect_sid) + self.exchange_hybrid_grant(custom_sid)
        self.edit_dacl(connect, lambda aces: grants + aces)
        self.edit_dacl(cloud, lambda aces: self.exchange_hybrid_grant(gmsa_sid) + aces)
        proxy = guid_of["proxyAddresses"]
        # Contacts and groups get proxyAddresses written back, nothing else: grant exactly that,
        # each ACE scoped to its class the way dsacls /I:S "RPWP;proxyAddresses;contact" writes it.
        per_class_grants = [
            Ace(AceType.ACCESS_ALLOWED_OBJECT, SUB_OBJECTS_ONLY, READ_WRITE_PROPERTY, connect_sid, proxy, CLASSES[c])
            for c in ("contact", "group")
        ]
        self.edit_dacl(per_class, lambda aces: per_class_grants + aces)
        # Set-ADSyncMsDsConsistencyGuidPermissions: "<account>:RPWP;mS-DS-ConsistencyGuid;user" (/I:S).
        consistency = self.schema_guid(sc.CONSISTENCY_GUID)
        self.edit_dacl(
            anchor,
            lambda aces: [
                Ace(
                    AceType.ACCESS_ALLOWED_OBJECT,
                    SUB_OBJECTS_ONLY,
                    READ_WRITE_PROPERTY,
                    connect_sid,
                    consistency,
                    CLASSES["user"],
                ),
                *aces,
            ],
        )

        made = {}
        for sam, parent in (
            ("rc-connect-healthy", connect),
            ("rc-connect-broken", connect),
            ("rc-orphan", connect),
            ("rc-orphan-stripped", connect),
            ("rc-noncanonical", connect),
            ("rc-anchor", anchor),
            ("rc-writeonly", hardened),
            ("rc-cloud-healthy", cloud),
        ):
            made[sam] = self.add_user(sam, sam, parent)
        self.add_contact("rc-contact", per_class)
        self.add_group("rc-group", per_class)
        self.add_contact("rc-cloud-contact", cloud)
        self.add_machine("rc-pc", unmanaged, "computer")
        self.add_machine(
            "rc-gmsa",
            unmanaged,
            "msDS-GroupManagedServiceAccount",
            extra={"dNSHostName": "rc-gmsa.lab.example.test", "msDS-ManagedPasswordInterval": 30},
        )
        self.add_machine("rc-smsa", unmanaged, "msDS-ManagedServiceAccount")

        self.strip_inherited(made["rc-connect-broken"])
        # adminCount is never cleared when an account leaves the protected groups (FACTS.md):
        # one orphan still inherits, the other kept the DACL SDProp stamped on it.
        for sam in ("rc-orphan", "rc-orphan-stripped"):
            self.modify(made[sam], {"adminCount": [(ldap3.MODIFY_REPLACE, [1])]})
        self.stamp_admin_sd_holder(made["rc-orphan-stripped"])
        # Non-canonical on purpose: an Allow (RC-Helpdesk) before a Deny (RC-Contractors),
        # then Denies of two attributes outside the write-back set for the connector.
        description, telephone = self.schema_guid("description"), self.schema_guid("telephoneNumber")
        custom_order = [
            Ace(AceType.ACCESS_ALLOWED_OBJECT, 0, READ_WRITE_PROPERTY, helpdesk, telephone),
            Ace(AceType.ACCESS_DENIED, 0, Right.WRITE_PROPERTY, contractors),
            Ace(AceType.ACCESS_DENIED_OBJECT, 0, Right.WRITE_PROPERTY, connect_sid, description),
            Ace(AceType.ACCESS_DENIED_OBJECT, 0, Right.WRITE_PROPERTY, connect_sid, telephone),
        ]
        self.strip_inherited(made["rc-noncanonical"], custom_order)
        # Write-only: only admins may read; the connector may write proxyAddresses, read nothing.
        domain_admins = Sid.parse(f"{self.domain_sid}-512")
        write_only = [
            Ace(AceType.ACCESS_ALLOWED, 0, FULL_CONTROL, domain_admins),
            Ace(AceType.ACCESS_ALLOWED, 0, FULL_CONTROL, SYSTEM),
            Ace(AceType.ACCESS_ALLOWED_OBJECT, 0, Right.WRITE_PROPERTY, connect_sid, proxy),
        ]
        self.write_descriptor(
            made["rc-writeonly"],
            self.descriptor(made["rc-writeonly"]).with_dacl(Acl.from_aces(write_only), protected=True),
        )

    def set_password_locally(self, dn: str, password: str) -> None:
        """Set a password through the DC's own sam.ldb: ldbmodify opens it with a system
        session, so the acl module does not refuse what it refuses over LDAP. The LDIF (and
        so the password) goes on stdin, never on a command line."""
        value = base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode()
        ldif = f"dn: {dn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {value}\n-\n"
        feed_tool(["ldbmodify", "-H", f"tdb://{self.lab.root}/private/sam.ldb"], ldif, "ldb-tools",
                  f"setting the password of {dn} through sam.ldb")  # fmt: skip


def seed(info: LabInfo, lab: SambaLab) -> LabInfo:
    """Seed the lab DC; returns its info completed with the domain SID."""
    with admin_directory(info) as directory:
        try:
            _Seeder(directory, lab).run()
        except DirectoryError as error:
            raise LabError(f"lab seeding failed: {error}") from None
        domain_sid = str(directory.domain().domain_sid)
    completed = LabInfo(**{**info.__dict__, "domain_sid": domain_sid})
    lab.record(completed)
    return completed


def bring_up(root=None) -> LabInfo:
    """Provision, start and seed a fresh lab DC (about 10 s)."""
    lab = SambaLab(root)
    if lab.info() is not None:
        raise LabError(f"a lab is already running from {lab.root} (richcoex lab down first)")
    lab.provision()
    info = lab.start()
    try:
        return seed(info, lab)
    except Exception:
        lab.stop()
        raise
