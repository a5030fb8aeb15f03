"""FakeCRM's registry and test helpers: declaring modules, fields and links, and denying ACL rights.

:class:`FakeRegistry` is a mixin of :class:`~suitecrm_ext.crm.fake.FakeCRM`; it works on the fake's
``_modules`` / ``_links`` / ``_denied`` / ``_acl_rights`` state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from suitecrm_ext.crm.base import FieldInfo, PermissionDenied, Record, from_crm
from suitecrm_ext.crm.fake_acl import UserView
from suitecrm_ext.crm.fake_match import store_value
from suitecrm_ext.crm.fake_model import BASIC_FIELDS, STAMPED_FIELDS, LinkEnd, Relationship, StoredModule


class FakeRegistry:
    """Module, field and link declarations, ACL switches and record inspection of a FakeCRM."""

    def add_module(
        self,
        name: str,
        fields: Mapping[str, FieldInfo] | Sequence[FieldInfo],
        table: str | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        """Declare a module (e.g. a plugin's custom module). Missing basic fields (id, dates...) are added.

        ``fields`` is a list of FieldInfo or a dict name → FieldInfo. ``table`` defaults to the lower-cased
        module name, as SuiteCRM's Module Builder does. ``defaults``: values a new record gets when the
        create does not set them (vardef ``default``).
        """
        infos = list(fields.values()) if isinstance(fields, Mapping) else list(fields)
        by_name: dict[str, FieldInfo] = {}
        for info in infos:
            if not isinstance(info, FieldInfo):
                raise TypeError(f"fields of module {name} must be FieldInfo, got {type(info).__name__}")
            by_name[info.name] = info
        for basic in BASIC_FIELDS:
            by_name.setdefault(basic.name, basic)
        unknown = [k for k in (defaults or {}) if k not in by_name]
        if unknown:
            raise ValueError(f"defaults of module {name} name unknown fields: {', '.join(unknown)}")
        self._modules[name] = StoredModule(name=name, table=table or name.lower(), fields=by_name,
                                      defaults={k: store_value(by_name[k].type, v)
                                                for k, v in (defaults or {}).items()})
        self._links.setdefault(name, {})

    def add_fields(
        self,
        module: str,
        fields: Mapping[str, FieldInfo] | Sequence[FieldInfo],
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        """Add fields to a module this fake already has (e.g. a plugin's custom fields on Accounts).

        ``fields`` is a list of FieldInfo or a dict name → FieldInfo, as for :meth:`add_module`. Records and
        links are kept: records stored before read a new field as empty ("", None or False by type), as
        SuiteCRM rows created before a custom field existed do. A field the module already has is
        redefined (a package re-install changing an enum's options); the fields the fake stamps itself
        (id, deleted, date_entered, date_modified, created_by, modified_user_id) cannot be. ``defaults``:
        values new records get when the create does not set them, for fields given here.

        Raises NotFound for an unknown module, TypeError / ValueError naming the bad field; on any error
        nothing changes.
        """
        mod = self._module(module)
        infos = list(fields.values()) if isinstance(fields, Mapping) else list(fields)
        by_name: dict[str, FieldInfo] = {}
        for info in infos:
            if not isinstance(info, FieldInfo):
                raise TypeError(f"fields added to module {module} must be FieldInfo, "
                                f"got {type(info).__name__} {info!r}")
            by_name[info.name] = info
        stamped = sorted(set(by_name) & STAMPED_FIELDS)
        if stamped:
            raise ValueError(f"module {module}: cannot redefine {', '.join(stamped)} (set by the CRM itself)")
        unknown = [k for k in (defaults or {}) if k not in by_name]
        if unknown:
            raise ValueError(f"defaults for module {module} name fields not being added: "
                             f"{', '.join(unknown)}")
        stored_defaults: dict[str, Any] = {}
        for name, value in (defaults or {}).items():
            try:
                stored_defaults[name] = store_value(by_name[name].type, value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"default of {module}.{name}: {exc}") from None
        for name, info in by_name.items():
            if name not in mod.fields:
                empty = from_crm(info.type, "")
                for row in mod.rows.values():
                    row.setdefault(name, empty)
            mod.fields[name] = info
        mod.defaults.update(stored_defaults)

    def add_link(
        self,
        module: str,
        link: str,
        other_module: str,
        other_link: str | None = None,
        *,
        one_to_many: bool = False,
        id_field: str | None = None,
        relationship: str | None = None,
    ) -> None:
        """Declare a relationship reachable as ``module.link`` (and ``other_module.other_link`` if given).

        ``one_to_many=True``: a record of ``other_module`` has at most one partner in ``module`` (relating it
        to another one replaces the old row, as SuiteCRM does); ``id_field`` then names the field on the
        ``other_module`` record that holds the partner's id (e.g. Cases ``account_id``), kept in step.
        """
        for m in (module, other_module):
            self._module(m)
        if id_field is not None and id_field not in self._modules[other_module].fields:
            raise ValueError(f"{other_module} has no field {id_field!r} for link {module}.{link}")
        rel = Relationship(
            name=relationship or f"{module.lower()}_{link.lower()}",
            lhs_module=module, rhs_module=other_module, one_to_many=one_to_many, rhs_id_field=id_field,
        )
        self._links[module][link] = LinkEnd(rel, True)
        if other_link:
            self._links[other_module][other_link] = LinkEnd(rel, False)

    ACL_OPERATIONS = ("read", "save", "delete", "relate")

    def deny(self, module: str, *operations: str) -> None:
        """Make the acting user lack ACL rights on ``module``: PermissionDenied for those operations.

        ``operations``: "read" (get/find/count/related), "save" (save/save_many/insert), "delete",
        "relate" (relate/unrelate); none given = all of them. Undo with :meth:`allow`.
        """
        ops = set(operations or self.ACL_OPERATIONS)
        unknown = ops - set(self.ACL_OPERATIONS)
        if unknown:
            raise ValueError(f"unknown ACL operations: {', '.join(sorted(unknown))}")
        self._module(module)
        self._denied.setdefault(module, set()).update(ops)

    def allow(self, module: str, *operations: str) -> None:
        """Give back rights taken by :meth:`deny` (all of them when no operation is named)."""
        self._denied.get(module, set()).difference_update(operations or self.ACL_OPERATIONS)

    def _acl(self, module: str, operation: str) -> None:
        if operation in self._denied.get(module, ()):
            raise PermissionDenied(f"user {self.user_id} may not {operation} {module} records",
                                   transport=self.name, module=module)

    def acl_role_rights(self, role_id: str) -> dict[tuple[str, str], int]:
        """A role's rights as Admin → Role Management stores them: (module, action) → level (see fake_acl)."""
        self._live_row(self._module("ACLRoles"), role_id)
        return dict(self._acl_rights.get(role_id, {}))

    def set_acl_role_rights(self, role_id: str, rights: Mapping[tuple[str, str], int]) -> None:
        """Set some of a role's rights ((module, action) → ACL level: 90, 80, 75, -99, 89, -98, 0)."""
        self._live_row(self._module("ACLRoles"), role_id)
        self._acl_rights.setdefault(role_id, {}).update(rights)

    def as_user(self, user_id: str) -> UserView:
        """This CRM as ``user_id``'s own API session sees it: SuiteCRM's role rights and security groups
        decide what it may list, view, edit and delete (see ``suitecrm_ext.crm.fake_acl``)."""
        return UserView(self, user_id)

    def links(self, module: str) -> dict[str, str]:
        """Link names of a module → the module on the other side."""
        self._module(module)
        return {name: end.other_module for name, end in self._links[module].items()}

    def table(self, module: str) -> str:
        """The DB table name of a module."""
        return self._module(module).table

    def exists(self, module: str, id: str, *, include_deleted: bool = False) -> bool:
        """True when a record with this id is stored (and live, unless ``include_deleted``). Not logged."""
        row = self._module(module).rows.get(id)
        return row is not None and (include_deleted or not row["deleted"])

    def records(self, module: str) -> list[Record]:
        """Every stored record of a module, deleted ones included (a test helper; not logged in calls)."""
        mod = self._module(module)
        return [self._record(mod, row, None) for row in mod.rows.values()]


__all__ = ["FakeRegistry"]
