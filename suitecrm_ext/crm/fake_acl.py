"""SuiteCRM's record access rules for :class:`~suitecrm_ext.crm.fake.FakeCRM`: role rights and user views.

``FakeCRM.set_acl_role_rights(role_id, {(module, action): level})`` keeps what Admin → Role Management
would store in ``acl_roles_actions``; ``FakeCRM.as_user(user_id)`` is the CRM as that user's own API
session sees it, following SuiteCRM 7.14 (``ACLAction::getUserActions`` with ``securitysuite_additive``,
its default):

- an admin sees and may do everything;
- a user's level for a module action is the highest level any of their roles gives it (direct roles and
  the roles of their security groups); a role leaving it "not set" (0) does not count; no role setting
  it: SuiteCRM's default (90 = all; 89 = enabled for ``access``);
- ``access`` disabled (-98) closes the module; ``none`` (-99) denies the action; ``owner`` (75) allows
  records assigned to the user (``created_by`` for modules without an assigned user); ``group`` (80) also
  records in one of the user's security groups; ``all`` (90) every record;
- reads: ``find``/``count``/``related`` leave out what ``list`` does not allow; ``get`` of such a record
  raises PermissionDenied (REST's "Access Denied"), writes check ``edit`` / ``delete``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from suitecrm_ext.crm.base import CRM, NotFound, PermissionDenied, Record, Where

if TYPE_CHECKING:
    from suitecrm_ext.crm.fake import FakeCRM

DEFAULT_LEVEL = 90
DEFAULT_ACCESS = 89
ALLOW_ALL, ALLOW_GROUP, ALLOW_OWNER, ALLOW_NONE, DISABLED = 90, 80, 75, -99, -98


class UserView(CRM):
    """A FakeCRM as one user's session sees it (see the module docstring). Writes are stamped as that user."""

    name = "fake"

    def __init__(self, fake: FakeCRM, user_id: str):
        self.fake = fake
        self.user_id = user_id
        self.capabilities = fake.capabilities

    # --- the rules -----------------------------------------------------------------------

    def _user_row(self) -> Mapping[str, Any]:
        row = self.fake._modules["Users"].rows.get(self.user_id)
        if row is None or row["deleted"]:
            raise PermissionDenied(f"user {self.user_id} does not exist", transport="fake")
        return row

    def _pairs(self, module: str, link: str) -> Iterator[tuple[str, str]]:
        """(id on ``module``'s side, id on the other side) of the live rows of a link."""
        end = self.fake._links.get(module, {}).get(link)
        if end is None:
            return
        for (lhs, rhs), deleted in end.rel.rows.items():
            if not deleted:
                yield (lhs, rhs) if end.is_lhs else (rhs, lhs)

    def _roles(self) -> set[str]:
        roles = {role for user, role in self._pairs("Users", "aclroles") if user == self.user_id}
        groups = self._groups()
        roles |= {role for group, role in self._pairs("SecurityGroups", "aclroles") if group in groups}
        live = self.fake._modules["ACLRoles"].rows
        return {r for r in roles if r in live and not live[r]["deleted"]}

    def _groups(self) -> set[str]:
        live = self.fake._modules["SecurityGroups"].rows
        return {
            g
            for user, g in self._pairs("Users", "SecurityGroups")
            if user == self.user_id and g in live and not live[g]["deleted"]
        }

    def level(self, module: str, action: str) -> int:
        """The user's level for ``module``/``action`` (admin: 90)."""
        if self._user_row().get("is_admin"):
            return ALLOW_ALL
        given = [
            rights[(module, action)]
            for rid in self._roles()
            if (rights := self.fake._acl_rights.get(rid)) and rights.get((module, action), 0) != 0
        ]
        if action != "access":
            access = self.level(module, "access")
            if access == DISABLED:
                return ALLOW_NONE
        if not given:
            return DEFAULT_ACCESS if action == "access" else DEFAULT_LEVEL
        return max(given)

    def _owner(self, module: str, row: Mapping[str, Any]) -> bool:
        fields = self.fake._modules[module].fields
        owner = row.get("assigned_user_id") if "assigned_user_id" in fields else row.get("created_by")
        return owner == self.user_id

    def _in_group(self, module: str, record_id: str) -> bool:
        mine = self._groups()
        return any(rec == record_id and group in mine for rec, group in self._pairs(module, "SecurityGroups"))

    def allows(self, module: str, action: str, row: Mapping[str, Any] | None) -> bool:
        """Whether the user may ``action`` the record ``row`` (None: a new record) of ``module``."""
        lvl = self.level(module, action)
        if lvl >= ALLOW_ALL:
            return True
        if lvl in (ALLOW_NONE, DISABLED) or lvl < 0:
            return False
        if row is None:
            return True  # owner/group level: one may create records (they become one's own)
        if self._owner(module, row):
            return True
        return lvl >= ALLOW_GROUP and self._in_group(module, row["id"])

    def _row(self, module: str, id: str) -> Mapping[str, Any] | None:
        return self.fake._module(module).rows.get(id)

    def _deny(self, module: str, what: str) -> PermissionDenied:
        return PermissionDenied(
            f"user {self.user_id} may not {what} this {module} record (Access Denied)",
            transport="fake",
            module=module,
        )

    # --- the interface -------------------------------------------------------------------

    def get(self, module: str, id: str, fields: Sequence[str] | None = None) -> Record:
        """The record, if this user may view it (PermissionDenied otherwise)."""
        rec = self.fake.get(module, id, fields)
        if not self.allows(module, "view", self._row(module, id)):
            raise self._deny(module, "view")
        return rec

    def find(
        self,
        module: str,
        where: Where = None,
        fields: Sequence[str] | None = None,
        order: Sequence[str] | str | None = None,
        limit: int | None = None,
        *,
        include_deleted: bool = False,
    ) -> Iterator[Record]:
        """Matching records this user may list."""
        out = (
            r
            for r in self.fake.find(module, where, fields, order, None, include_deleted=include_deleted)
            if self.allows(module, "list", self._row(module, r.id))
        )
        for i, r in enumerate(out):
            if limit is not None and i >= limit:
                return
            yield r

    def count(self, module: str, where: Where = None, *, include_deleted: bool = False) -> int:
        """How many matching records this user may list."""
        return sum(1 for _ in self.find(module, where, ["id"], include_deleted=include_deleted))

    def save(self, module: str, values: Mapping[str, Any]) -> str:
        """Create or update, if this user may edit (stamped as this user)."""
        rid = values.get("id") if isinstance(values, Mapping) else None
        row = self._row(module, rid) if rid else None
        if rid and row is None:
            raise NotFound(f"{module} record {rid!r} does not exist or is deleted", transport="fake")
        if not self.allows(module, "edit", row):
            raise self._deny(module, "edit")
        saved, self.fake.user_id = self.fake.user_id, self.user_id
        try:
            return self.fake.save(module, values)
        finally:
            self.fake.user_id = saved

    def delete(self, module: str, id: str) -> None:
        """Soft delete, if this user may delete the record."""
        if not self.allows(module, "delete", self._row(module, id)):
            raise self._deny(module, "delete")
        self.fake.delete(module, id)

    def relate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Relate, if this user may edit the record."""
        if not self.allows(module, "edit", self._row(module, id)):
            raise self._deny(module, "edit")
        self.fake.relate(module, id, link, other_ids)

    def unrelate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Unrelate, if this user may edit the record."""
        if not self.allows(module, "edit", self._row(module, id)):
            raise self._deny(module, "edit")
        self.fake.unrelate(module, id, link, other_ids)

    def related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None = None
    ) -> Iterator[Record]:
        """Related records this user may list (the record itself must be viewable)."""
        self.get(module, id, ["id"])
        other = self.fake._link(module, link).other_module
        return iter(
            [
                r
                for r in self.fake.related(module, id, link, fields)
                if self.allows(other, "list", self._row(other, r.id))
            ]
        )

    def fields(self, module: str):
        """Field metadata (not filtered)."""
        return self.fake.fields(module)

    def modules(self) -> list[str]:
        """Modules whose access is not disabled for this user."""
        return [m for m in self.fake.modules() if self.level(m, "access") != DISABLED]


__all__ = ["UserView"]
