"""SuiteCRM's own access model, read and written through the gateway: users, ACL roles, security groups.

Everything here goes through the :class:`~suitecrm_ext.crm.base.CRM` interface (``get``, ``find``,
``related``, ``relate``, ``save``), so it works over REST v4_1, V8, MySQL reads (``read_via: mysql``)
and :class:`~suitecrm_ext.testing.FakeCRM` alike. The semantics follow SuiteCRM 7.14's source:

- **roles** (``acl_roles``, ``acl_roles_users``): a user's roles are the roles given to them directly
  and, as ``ACLAction::getUserActions`` merges them, the roles of their security groups
  (``securitygroups_acl_roles``); ``via_groups=False`` gives only the direct ones
  (``ACLRole::getUserRoleNames``). Role names compare case-insensitively (the DB collation does).
- **security groups** (``securitygroups_users``, ``securitygroups_records`` with its ``module`` column):
  a record's groups are reached through the module's ``SecurityGroups`` link, a group's members through
  ``SecurityGroups.users``.
- **inheriting groups**: SuiteCRM copies a parent's groups to a new record only for web-UI saves
  (``SecurityGroup::inherit_parent`` reads ``$_REQUEST``); records created through an API get none.
  :meth:`AccessModel.inherit_groups` does what ``inherit_parentQuery`` does: adds every group of the
  source record that is not ``noninheritable``, skipping groups the record already has.
- **users**: admin is ``is_admin``; a user can be given work (:attr:`User.active`) when not deleted,
  ``status`` is Active, ``employee_status`` is not Terminated, and it is neither a group user nor a
  portal-only user. The manager is ``reports_to_id``.

An :class:`AccessModel` caches what it read (users, roles, groups); make one per unit of work (a hook
call, a job pass) so changes in SuiteCRM are seen by the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from suitecrm_ext.crm.base import CRM, Cond, NotFound, ValidationError

USER_FIELDS = [
    "user_name",
    "first_name",
    "last_name",
    "status",
    "employee_status",
    "is_admin",
    "reports_to_id",
    "is_group",
    "portal_only",
]
#: how far :meth:`AccessModel.manager_chain` walks up ``reports_to_id`` (a guard against cycles)
MAX_CHAIN = 25


class AccessError(ValueError):
    """A role, group or user named in a call does not exist (the message names it)."""


@dataclass(frozen=True)
class User:
    """A SuiteCRM user as workflows see them."""

    id: str
    user_name: str = ""
    name: str = ""
    email: str = ""
    is_admin: bool = False
    status: str = "Active"
    employee_status: str = "Active"
    reports_to_id: str = ""
    is_group: bool = False
    portal_only: bool = False
    deleted: bool = False

    @property
    def active(self) -> bool:
        """May the user be given work: live, Active, not Terminated, not a group or portal-only user."""
        return (
            not self.deleted
            and self.status == "Active"
            and self.employee_status != "Terminated"
            and not self.is_group
            and not self.portal_only
        )

    @property
    def display(self) -> str:
        """How messages name the user."""
        return self.name or self.user_name or self.id


@dataclass(frozen=True)
class Role:
    """An ACL role (Admin → Role Management)."""

    id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Group:
    """A security group (Admin → Security Suite Group Management)."""

    id: str
    name: str
    noninheritable: bool = False


def _fold(name: str) -> str:
    return name.strip().casefold()


class AccessModel:
    """Users, roles and security groups of one SuiteCRM, through a CRM (the gateway or a FakeCRM)."""

    def __init__(self, crm: CRM):
        self.crm = crm
        self._users: dict[str, User] = {}
        self._roles: list[Role] | None = None
        self._groups: list[Group] | None = None
        self._user_roles: dict[tuple[str, bool], list[Role]] = {}
        self._user_groups: dict[str, list[Group]] = {}

    def forget(self) -> None:
        """Drop everything cached (after changing roles or groups outside this object)."""
        self.__init__(self.crm)  # type: ignore[misc]

    # --- users ---------------------------------------------------------------------------

    def user(self, user_id: str) -> User:
        """The user with this id; a missing or deleted user comes back as ``User(id, deleted=True)``."""
        if user_id in self._users:
            return self._users[user_id]
        if not user_id:
            return User("", name="nobody", deleted=True)
        try:
            rec = self.crm.get("Users", user_id, USER_FIELDS)
        except NotFound:
            user = User(user_id, deleted=True)
        else:
            full = " ".join(p for p in (rec.get("first_name"), rec.get("last_name")) if p)
            user = User(
                id=rec.id,
                user_name=str(rec.get("user_name") or ""),
                name=full,
                email=self._email(user_id),
                is_admin=bool(rec.get("is_admin")),
                status=str(rec.get("status") or ""),
                employee_status=str(rec.get("employee_status") or "Active"),
                reports_to_id=str(rec.get("reports_to_id") or ""),
                is_group=bool(rec.get("is_group")),
                portal_only=bool(rec.get("portal_only")),
            )
        self._users[user_id] = user
        return user

    def _email(self, user_id: str) -> str:
        """The primary address (``email1``, which SuiteCRM computes from ``email_addresses``).

        A reader that cannot give ``email1`` (MySQL: it is not a column) is asked through the API."""
        sources = [self.crm]
        writer = getattr(self.crm, "writer", None)
        if writer is not None:
            sources.append(writer)
        for src in sources:
            try:
                return str(src.get("Users", user_id, ["email1"]).get("email1") or "")
            except ValidationError:
                continue
            except NotFound:
                return ""
        return ""

    def user_by_name(self, user_name: str) -> User | None:
        """The user with this login name (case-insensitive), or None."""
        rec = next(iter(self.crm.find("Users", Cond("user_name", "eq", user_name), ["id"], limit=1)), None)
        return self.user(rec.id) if rec is not None else None

    def is_admin(self, user_id: str) -> bool:
        """Whether the user is a SuiteCRM administrator."""
        return self.user(user_id).is_admin

    def is_active(self, user_id: str) -> bool:
        """Whether the user exists and may be given work (see :attr:`User.active`)."""
        return self.user(user_id).active

    def manager_chain(self, user_id: str) -> list[User]:
        """The user's managers, nearest first, following ``reports_to_id`` (cycle-safe, inactive included)."""
        out: list[User] = []
        seen = {user_id}
        current = self.user(user_id)
        while current.reports_to_id and current.reports_to_id not in seen and len(out) < MAX_CHAIN:
            seen.add(current.reports_to_id)
            current = self.user(current.reports_to_id)
            if current.deleted:
                break
            out.append(current)
        return out

    def manager(self, user_id: str, *, skip_inactive: bool = True) -> User | None:
        """The nearest manager (skipping inactive ones unless told not to), or None."""
        for m in self.manager_chain(user_id):
            if m.active or not skip_inactive:
                return m
        return None

    # --- roles ---------------------------------------------------------------------------

    def roles(self) -> list[Role]:
        """Every ACL role, by name."""
        if self._roles is None:
            self._roles = sorted(
                (
                    Role(r.id, str(r.get("name") or ""), str(r.get("description") or ""))
                    for r in self.crm.find("ACLRoles", None, ["name", "description"])
                ),
                key=lambda r: _fold(r.name),
            )
        return list(self._roles)

    def role(self, name_or_id: str) -> Role | None:
        """A role by name (case-insensitive) or id, or None."""
        for r in self.roles():
            if r.id == name_or_id or _fold(r.name) == _fold(name_or_id):
                return r
        return None

    def _need_role(self, name_or_id: str | Role) -> Role:
        if isinstance(name_or_id, Role):
            return name_or_id
        role = self.role(name_or_id)
        if role is None:
            known = ", ".join(r.name for r in self.roles()) or "none"
            raise AccessError(f"no ACL role {name_or_id!r} in SuiteCRM (roles: {known})")
        return role

    def ensure_role(self, name: str, description: str = "") -> Role:
        """The role of this name, created when missing (idempotent). The description is set on create."""
        role = self.role(name)
        if role is not None:
            return role
        rid = self.crm.save("ACLRoles", {"name": name, "description": description})
        role = Role(rid, name, description)
        self._roles = [*(self._roles or []), role]
        return role

    def user_roles(self, user_id: str, *, via_groups: bool = True) -> list[Role]:
        """The user's roles: direct ones, plus (``via_groups``) the roles of their security groups."""
        key = (user_id, via_groups)
        if key not in self._user_roles:
            found = {
                r.id: Role(r.id, str(r.get("name") or ""), str(r.get("description") or ""))
                for r in self._related("Users", user_id, "aclroles", ["name", "description"])
            }
            if via_groups:
                for g in self.user_groups(user_id):
                    for r in self._related("SecurityGroups", g.id, "aclroles", ["name", "description"]):
                        found.setdefault(
                            r.id, Role(r.id, str(r.get("name") or ""), str(r.get("description") or ""))
                        )
            self._user_roles[key] = sorted(found.values(), key=lambda r: _fold(r.name))
        return list(self._user_roles[key])

    def has_role(self, user_id: str, *roles: str, via_groups: bool = True) -> bool:
        """Whether the user has at least one of the named roles (case-insensitive names or ids)."""
        wanted = {_fold(r) for r in roles}
        return any(
            _fold(r.name) in wanted or r.id in roles for r in self.user_roles(user_id, via_groups=via_groups)
        )

    def role_users(
        self, role: str | Role, *, via_groups: bool = True, active_only: bool = True
    ) -> list[User]:
        """Members of a role (direct, plus members of groups holding it), by name; AccessError if unknown."""
        r = self._need_role(role)
        ids = [rec.id for rec in self._related("ACLRoles", r.id, "users", ["id"])]
        if via_groups:
            for g in self._related("ACLRoles", r.id, "SecurityGroups", ["id"]):
                ids += [u.id for u in self._related("SecurityGroups", g.id, "users", ["id"])]
        return self._users_of(ids, active_only)

    def add_user_to_role(self, role: str | Role, user_id: str) -> None:
        """Give a user a role directly (relating twice is harmless)."""
        r = self._need_role(role)
        self.crm.relate("ACLRoles", r.id, "users", [user_id])
        self._user_roles = {k: v for k, v in self._user_roles.items() if k[0] != user_id}

    def remove_user_from_role(self, role: str | Role, user_id: str) -> None:
        """Take a directly given role away from a user."""
        r = self._need_role(role)
        self.crm.unrelate("ACLRoles", r.id, "users", [user_id])
        self._user_roles = {k: v for k, v in self._user_roles.items() if k[0] != user_id}

    # --- security groups -----------------------------------------------------------------

    def groups(self) -> list[Group]:
        """Every security group, by name."""
        if self._groups is None:
            self._groups = sorted(
                (self._group(r) for r in self.crm.find("SecurityGroups", None, ["name", "noninheritable"])),
                key=lambda g: _fold(g.name),
            )
        return list(self._groups)

    @staticmethod
    def _group(rec) -> Group:
        return Group(rec.id, str(rec.get("name") or ""), bool(rec.get("noninheritable")))

    def group(self, name_or_id: str) -> Group | None:
        """A security group by name (case-insensitive) or id, or None."""
        for g in self.groups():
            if g.id == name_or_id or _fold(g.name) == _fold(name_or_id):
                return g
        return None

    def _need_group(self, name_or_id: str | Group) -> Group:
        if isinstance(name_or_id, Group):
            return name_or_id
        group = self.group(name_or_id)
        if group is None:
            known = ", ".join(g.name for g in self.groups()) or "none"
            raise AccessError(f"no security group {name_or_id!r} in SuiteCRM (groups: {known})")
        return group

    def ensure_group(self, name: str, *, noninheritable: bool = False, description: str = "") -> Group:
        """The security group of this name, created when missing (idempotent)."""
        group = self.group(name)
        if group is not None:
            return group
        gid = self.crm.save(
            "SecurityGroups", {"name": name, "noninheritable": noninheritable, "description": description}
        )
        group = Group(gid, name, noninheritable)
        self._groups = [*(self._groups or []), group]
        return group

    def user_groups(self, user_id: str) -> list[Group]:
        """The security groups the user is a member of, by name."""
        if user_id not in self._user_groups:
            self._user_groups[user_id] = sorted(
                (
                    self._group(r)
                    for r in self._related("Users", user_id, "SecurityGroups", ["name", "noninheritable"])
                ),
                key=lambda g: _fold(g.name),
            )
        return list(self._user_groups[user_id])

    def group_users(self, group: str | Group, *, active_only: bool = True) -> list[User]:
        """Members of a security group, by name; AccessError if the group is unknown."""
        g = self._need_group(group)
        return self._users_of(
            [r.id for r in self._related("SecurityGroups", g.id, "users", ["id"])], active_only
        )

    def add_user_to_group(self, group: str | Group, user_id: str) -> None:
        """Make a user a member of a security group (harmless when already a member)."""
        g = self._need_group(group)
        self.crm.relate("SecurityGroups", g.id, "users", [user_id])
        self._user_groups.pop(user_id, None)
        self._user_roles = {k: v for k, v in self._user_roles.items() if k[0] != user_id}

    def remove_user_from_group(self, group: str | Group, user_id: str) -> None:
        """End a user's membership of a security group."""
        g = self._need_group(group)
        self.crm.unrelate("SecurityGroups", g.id, "users", [user_id])
        self._user_groups.pop(user_id, None)
        self._user_roles = {k: v for k, v in self._user_roles.items() if k[0] != user_id}

    def record_groups(self, module: str, record_id: str) -> list[Group]:
        """The security groups a record belongs to (``securitygroups_records``), by name."""
        return sorted(
            (
                self._group(r)
                for r in self.crm.related(module, record_id, "SecurityGroups", ["name", "noninheritable"])
            ),
            key=lambda g: _fold(g.name),
        )

    def add_record_to_groups(self, module: str, record_id: str, groups: Iterable[str | Group]) -> list[Group]:
        """Put a record into security groups (by name or id; relating twice is harmless); returns them."""
        resolved = [self._need_group(g) for g in groups]
        if resolved:
            self.crm.relate(module, record_id, "SecurityGroups", [g.id for g in resolved])
        return resolved

    def remove_record_from_groups(self, module: str, record_id: str, groups: Iterable[str | Group]) -> None:
        """Take a record out of security groups."""
        resolved = [self._need_group(g) for g in groups]
        if resolved:
            self.crm.unrelate(module, record_id, "SecurityGroups", [g.id for g in resolved])

    def inherit_groups(self, module: str, record_id: str, from_module: str, from_id: str) -> list[Group]:
        """Give ``module/record_id`` the inheritable groups of ``from_module/from_id`` that it lacks.

        What SuiteCRM's ``inherit_parentQuery`` does for a web-UI create; API creates need this call.
        Returns the groups added (empty when there was nothing to add). Idempotent.
        """
        have = {g.id for g in self.record_groups(module, record_id)}
        add = [
            g for g in self.record_groups(from_module, from_id) if not g.noninheritable and g.id not in have
        ]
        if add:
            self.crm.relate(module, record_id, "SecurityGroups", [g.id for g in add])
        return add

    def shares_group(self, user_id: str, module: str, record_id: str) -> bool:
        """Whether the user is in at least one security group of the record."""
        mine = {g.id for g in self.user_groups(user_id)}
        return any(g.id in mine for g in self.record_groups(module, record_id))

    # --- internals -----------------------------------------------------------------------

    def _related(self, module: str, id: str, link: str, fields: Sequence[str]):
        try:
            return list(self.crm.related(module, id, link, fields))
        except NotFound:  # the user/role/group is gone: it has nothing
            return []

    def _users_of(self, ids: Iterable[str], active_only: bool) -> list[User]:
        seen: dict[str, User] = {}
        for uid in ids:
            if uid not in seen:
                seen[uid] = self.user(uid)
        users = [u for u in seen.values() if not u.deleted and (u.active or not active_only)]
        return sorted(users, key=lambda u: (_fold(u.display), u.id))
