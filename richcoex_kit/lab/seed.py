"""Seed a fresh lab DC with the Exchange schema attributes, the sync accounts and one
object per scenario. Departure from the design's "only directory/ talks LDAP": this is a
provisioning tool, not a read path, so it writes through the admin connection directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import ldap3
from ldap3.protocol.microsoft import security_descriptor_control

from ..connection import ConnectionSpec
from ..directory.errors import DirectoryError
from ..directory.ldap import LdapDirectory
from ..schema import CLASSES
from ..security import Ace, AceFlag, AceType, Acl, Right, SecurityDescriptor, Sid
from ..settings import Secret
from . import scenarios as sc
from .samba import LabError, LabInfo, SambaLab, generate_password

DACL_ONLY = 4
GLOBAL_SECURITY_GROUP = -2147483646
NORMAL_ACCOUNT = 512
DONT_EXPIRE_PASSWORD = 0x10000


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
        holder = self.descriptor(f"CN=AdminSDHolder,CN=System,{self.base}")
        target = self.descriptor(dn["rc-admin"])
        self.write_descriptor(dn["rc-admin"], target.with_dacl(holder.dacl, protected=True))


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
