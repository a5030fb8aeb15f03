"""FakeCRM: the CRM interface in memory, with the semantics of a real SuiteCRM 7.14.

Plugin tests use it through ``suitecrm_ext.testing`` (fixture ``fake_crm``); the REST v4_1 emulator in the
test suite keeps its data in one, so the contract suite runs the same tests against both.

What it does like SuiteCRM:

- soft delete: a deleted record keeps its row with ``deleted=True``; ``get`` raises NotFound for it (and for
  a missing id); ``find(..., include_deleted=True)`` lists it; deleting a record soft-deletes its
  relationship rows;
- ``date_entered`` / ``date_modified`` stamped in UTC with one-second resolution, ``created_by`` /
  ``modified_user_id`` from :attr:`FakeCRM.user_id`;
- values normalised by field type (aware UTC datetimes, dates, bools, ints) with
  :func:`~suitecrm_ext.crm.base.normalize_values`;
- string comparisons, ``like`` and ordering are case-insensitive and ignore trailing spaces, as with
  SuiteCRM's ``utf8_general_ci`` collation; ``NULL`` sorts first ascending (punctuation may sort slightly
  differently from MySQL's collation weights; letters, digits and spaces sort alike);
- ``find`` pages through the result ``page_size`` records at a time, re-running the query per page like
  offset paging does, so code that pages is exercised;
- unknown modules raise NotFound, unknown fields (in values, filters, field lists, order) raise
  ValidationError naming them; fields SuiteCRM does not store in the DB (``non-db``) cannot be filtered
  or ordered on, as in a real ``get_entry_list`` query.

Filter semantics (every transport follows them): ``eq``/``in`` compare case-insensitively; ``neq`` also
matches empty values; ``is_null`` matches NULL and, for text fields, the empty string; ``like`` takes
``%`` and ``_`` wildcards and ``\\`` to escape them; comparisons against an empty value are false.

Test helpers beyond the interface: :meth:`FakeCRM.records` (every row incl. deleted), :attr:`FakeCRM.calls`
(a log of interface calls, one tuple each, e.g. ``("find_page", "Accounts", 0, 50)``),
:meth:`FakeCRM.add_module`, :meth:`FakeCRM.add_link`, :meth:`FakeCRM.links`, :meth:`FakeCRM.deny` (simulate
missing ACL rights), :meth:`FakeCRM.insert` (create with a known id), :meth:`FakeCRM.set_acl_role_rights` /
:meth:`FakeCRM.as_user` (role rights and one user's view of the data, with SuiteCRM's ACL and security
group rules: ``suitecrm_ext.crm.fake_acl``), and the settable
:attr:`FakeCRM.user_id` and :attr:`FakeCRM.clock`.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from suitecrm_ext.crm.base import (
    CRM,
    Attachment,
    Cond,
    FieldInfo,
    Filter,
    NotFound,
    PermissionDenied,
    Record,
    ValidationError,
    Where,
    from_crm,
    normalize_where,
    parse_datetime,
    to_crm,
)
from suitecrm_ext.crm.fake_acl import UserView
from suitecrm_ext.crm.guid import new_guid
from suitecrm_ext.crm.stock_modules import STOCK_DEFAULTS, STOCK_FIELDS, STOCK_TABLES
from suitecrm_ext.crm.text import refuse_unstorable, stored_text

#: Field types whose values are text (for ``is_null`` matching "" and case-insensitive comparison).
_NUMERIC_OR_TIME = {"datetime", "datetimecombo", "date", "bool", "int", "float", "decimal", "currency"}

#: Fields every module has, added by :meth:`FakeCRM.add_module` when missing (SuiteCRM's "basic" template).
BASIC_FIELDS: tuple[FieldInfo, ...] = (
    FieldInfo("id", "id", "ID", required=True),
    FieldInfo("name", "name", "Name", length=255),
    FieldInfo("date_entered", "datetime", "Date Created"),
    FieldInfo("date_modified", "datetime", "Date Modified"),
    FieldInfo("modified_user_id", "assigned_user_name", "Modified By"),
    FieldInfo("created_by", "assigned_user_name", "Created By"),
    FieldInfo("description", "text", "Description"),
    FieldInfo("deleted", "bool", "Deleted"),
    FieldInfo("assigned_user_id", "relate", "Assigned User"),
)

#: Fields the fake stamps itself on every write; :meth:`FakeCRM.add_fields` cannot redefine them.
_STAMPED_FIELDS = frozenset({"id", "deleted", "date_entered", "date_modified", "created_by",
                             "modified_user_id"})

#: Stock links: (module, link, other module, other link, one_to_many, id field on the "many" side).
#: ``one_to_many`` means each record of the other module has at most one partner through this link.
STOCK_LINKS: tuple[tuple[str, str, str, str, bool, str | None], ...] = (
    ("Accounts", "contacts", "Contacts", "accounts", False, None),
    ("Accounts", "cases", "Cases", "accounts", True, "account_id"),
    ("Accounts", "members", "Accounts", "member_of", True, "parent_id"),
    ("Accounts", "documents", "Documents", "accounts", False, None),
    ("Accounts", "tasks", "Tasks", "accounts", True, None),
    ("Accounts", "notes", "Notes", "accounts", True, None),
    ("Accounts", "emails", "Emails", "accounts", False, None),
    ("Accounts", "SecurityGroups", "SecurityGroups", "accounts", False, None),
    ("Contacts", "cases", "Cases", "contacts", False, None),
    ("Contacts", "documents", "Documents", "contacts", False, None),
    ("Contacts", "tasks", "Tasks", "contacts", True, "contact_id"),
    ("Contacts", "notes", "Notes", "contacts", True, "contact_id"),
    ("Contacts", "emails", "Emails", "contacts", False, None),
    ("Contacts", "SecurityGroups", "SecurityGroups", "contacts", False, None),
    ("Cases", "documents", "Documents", "cases", False, None),
    ("Cases", "tasks", "Tasks", "cases", True, None),
    ("Cases", "notes", "Notes", "cases", True, None),
    ("Cases", "emails", "Emails", "cases", False, None),
    ("Cases", "SecurityGroups", "SecurityGroups", "cases", False, None),
    ("Documents", "SecurityGroups", "SecurityGroups", "documents", False, None),
    ("Notes", "SecurityGroups", "SecurityGroups", "notes", False, None),
    ("Tasks", "notes", "Notes", "tasks", True, None),
    ("Users", "SecurityGroups", "SecurityGroups", "users", False, None),
    ("Users", "aclroles", "ACLRoles", "users", False, None),
    ("SecurityGroups", "aclroles", "ACLRoles", "SecurityGroups", False, None),
    ("Users", "reportees", "Users", "reports_to_link", True, "reports_to_id"),
    ("Accounts", "opportunities", "Opportunities", "accounts", True, "account_id"),
    ("Contacts", "opportunities", "Opportunities", "contacts", False, None),
    ("Opportunities", "tasks", "Tasks", "opportunities", True, None),
    ("Opportunities", "notes", "Notes", "opportunities", True, None),
    ("Opportunities", "emails", "Emails", "opportunities", False, None),
    ("Accounts", "aos_invoices", "AOS_Invoices", "accounts", True, "billing_account_id"),
    ("Contacts", "aos_invoices", "AOS_Invoices", "contacts", True, "billing_contact_id"),
    ("Opportunities", "SecurityGroups", "SecurityGroups", "opportunities", False, None),
    ("AOS_Invoices", "SecurityGroups", "SecurityGroups", "aos_invoices", False, None),
    ("AOS_Products", "SecurityGroups", "SecurityGroups", "aos_products", False, None),
)


@dataclass
class _Module:
    name: str
    table: str
    fields: dict[str, FieldInfo]
    defaults: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> values (incl. deleted)


@dataclass
class _Relationship:
    """Rows of one relationship between ``lhs`` and ``rhs`` records; value = deleted flag."""

    name: str
    lhs_module: str
    rhs_module: str
    one_to_many: bool
    rhs_id_field: str | None
    rows: dict[tuple[str, str], bool] = field(default_factory=dict)


@dataclass(frozen=True)
class _LinkEnd:
    rel: _Relationship
    is_lhs: bool  # this module is the relationship's lhs side

    @property
    def other_module(self) -> str:
        return self.rel.rhs_module if self.is_lhs else self.rel.lhs_module


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class FakeCRM(CRM):
    """In-memory SuiteCRM with the stock modules (see the module docstring for the semantics).

    ``modules``: None for every stock module (Accounts, Contacts, Cases, Documents, Tasks, Users, Notes,
    Emails, SecurityGroups, ACLRoles), or an iterable of stock module names to keep only those.
    ``page_size``: records per internal page of :meth:`find`. ``user_id``: the acting user (stamped into
    ``created_by`` / ``modified_user_id``). ``clock``: returns "now" (aware or naive UTC datetime).
    """

    name = "fake"
    capabilities = CRM.capabilities | {
        "include_deleted", "filter_in", "filter_null", "filter_nested", "order_multi", "datetime_seconds",
        "batch_save", "server_version", "create_with_id", "attachments",
    }

    def __init__(
        self,
        modules: Iterable[str] | None = None,
        *,
        page_size: int = 50,
        user_id: str = "1",
        clock: Callable[[], dt.datetime] | None = None,
    ):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.user_id = user_id
        self.clock: Callable[[], dt.datetime] = clock or _utcnow
        self.calls: list[tuple[Any, ...]] = []
        self._denied: dict[str, set[str]] = {}
        self._acl_rights: dict[str, dict[tuple[str, str], int]] = {}  # role id -> (module, action) -> level
        self._modules: dict[str, _Module] = {}
        self._links: dict[str, dict[str, _LinkEnd]] = {}
        self._files: dict[str, bytes] = {}  # Note id -> attachment content (upload/<id> in SuiteCRM)
        wanted = set(STOCK_FIELDS) if modules is None else set(modules)
        unknown = wanted - set(STOCK_FIELDS)
        if unknown:
            raise ValueError(
                f"not stock modules: {', '.join(sorted(unknown))} (use add_module for your own modules)"
            )
        for name in STOCK_FIELDS:
            if name in wanted:
                self.add_module(name, list(STOCK_FIELDS[name]), table=STOCK_TABLES[name],
                                defaults=STOCK_DEFAULTS.get(name))
        for mod, link, other, other_link, one_to_many, id_field in STOCK_LINKS:
            if mod in self._modules and other in self._modules:
                self.add_link(mod, link, other, other_link, one_to_many=one_to_many, id_field=id_field)
        if "Users" in self._modules:
            # every SuiteCRM has the admin user with id "1"
            self._modules["Users"].rows["1"] = self._blank("Users") | {
                "id": "1", "user_name": "admin", "last_name": "Administrator", "full_name": "Administrator",
                "is_admin": True, "status": "Active", "deleted": False,
                "date_entered": self._now(), "date_modified": self._now(), "created_by": "1",
                "modified_user_id": "1",
            }

    # --- registry -------------------------------------------------------------------------

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
        self._modules[name] = _Module(name=name, table=table or name.lower(), fields=by_name,
                                      defaults={k: _store_value(by_name[k].type, v)
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
        stamped = sorted(set(by_name) & _STAMPED_FIELDS)
        if stamped:
            raise ValueError(f"module {module}: cannot redefine {', '.join(stamped)} (set by the CRM itself)")
        unknown = [k for k in (defaults or {}) if k not in by_name]
        if unknown:
            raise ValueError(f"defaults for module {module} name fields not being added: "
                             f"{', '.join(unknown)}")
        stored_defaults: dict[str, Any] = {}
        for name, value in (defaults or {}).items():
            try:
                stored_defaults[name] = _store_value(by_name[name].type, value)
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
        rel = _Relationship(
            name=relationship or f"{module.lower()}_{link.lower()}",
            lhs_module=module, rhs_module=other_module, one_to_many=one_to_many, rhs_id_field=id_field,
        )
        self._links[module][link] = _LinkEnd(rel, True)
        if other_link:
            self._links[other_module][other_link] = _LinkEnd(rel, False)

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

    # --- the interface -------------------------------------------------------------------

    def get(self, module: str, id: str, fields: Sequence[str] | None = None) -> Record:
        """One record by id. NotFound when missing or deleted."""
        self.calls.append(("get", module, id))
        mod = self._module(module)
        self._acl(module, "read")
        self._check_fields(mod, fields, "fields")
        row = mod.rows.get(id)
        if row is None or row["deleted"]:
            raise NotFound(f"{module} record {id!r} does not exist or is deleted", transport=self.name,
                           module=module)
        return self._record(mod, row, fields)

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
        """Matching records, fetched ``page_size`` at a time (each page re-runs the query, like offsets)."""
        self.calls.append(("find", module))
        mod = self._module(module)
        self._acl(module, "read")
        flt = self._check_where(mod, where)
        self._check_fields(mod, fields, "fields")
        keys = self._order_keys(mod, order)
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        return self._pages(mod, flt, fields, keys, limit, include_deleted)

    def _pages(self, mod, flt, fields, keys, limit, include_deleted) -> Iterator[Record]:
        offset = 0
        served = 0
        while limit is None or served < limit:
            size = self.page_size if limit is None else min(self.page_size, limit - served)
            rows = self._select(mod, flt, keys, include_deleted)
            page = rows[offset:offset + size]
            self.calls.append(("find_page", mod.name, offset, len(page)))
            for row in page:
                yield self._record(mod, row, fields)
            served += len(page)
            offset += len(page)
            if len(page) < size:
                return

    def count(self, module: str, where: Where = None, *, include_deleted: bool = False) -> int:
        """How many records match."""
        self.calls.append(("count", module))
        mod = self._module(module)
        self._acl(module, "read")
        flt = self._check_where(mod, where)
        return sum(1 for row in mod.rows.values()
                   if (include_deleted or not row["deleted"]) and self._match(mod, row, flt))

    def save(self, module: str, values: Mapping[str, Any]) -> str:
        """Create (no ``id``) or update (``id`` of a live record) a record; returns its id.

        An ``id`` that is missing or deleted raises NotFound (SuiteCRM itself would silently update
        nothing). New ids are generated SuiteCRM-style. ``deleted=True`` soft-deletes, like ``delete``.
        """
        if isinstance(values, Mapping):  # refused before it reaches the store, as the transports do
            refuse_unstorable(values, module=module, transport=self.name)
        self.calls.append(("save", module, values.get("id") if isinstance(values, Mapping) else None))
        mod = self._module(module)
        self._acl(module, "save")
        return self._save(mod, values)

    def save_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Save several records in one call (validated all first: a bad row changes nothing)."""
        for i, row in enumerate(rows):  # refused before anything reaches the store
            if isinstance(row, Mapping):
                refuse_unstorable(row, module=module, transport=self.name, where=f"row {i}")
        self.calls.append(("save_many", module, len(rows)))
        mod = self._module(module)
        self._acl(module, "save")
        for i, row in enumerate(rows):
            self._prepare(mod, row, where=f"row {i}")
        for row in rows:
            if "id" in row:
                self._live_row(mod, row["id"])
        return [self._save(mod, row) for row in rows]

    def insert(self, module: str, values: Mapping[str, Any]) -> str:
        """Create a record with the ``id`` given in ``values`` (SuiteCRM's ``new_with_id``); returns it.

        Handy to seed records with known ids. ValidationError when that id is already stored (even deleted),
        as the duplicate primary key would be in SuiteCRM's database.
        """
        self.calls.append(("insert", module, values.get("id") if isinstance(values, Mapping) else None))
        mod = self._module(module)
        self._acl(module, "save")
        data = self._prepare(mod, values)
        rid = data.get("id")
        if rid is None:
            return self._save(mod, values)
        if rid in mod.rows:
            raise ValidationError(f"{module} record {rid!r} already exists", fields=["id"],
                                  transport=self.name, module=module)
        mod.rows[rid] = self._blank(mod.name) | {"id": rid, "deleted": False}
        rest = {k: v for k, v in values.items() if k != "id"}
        row = mod.rows[rid]
        row.update(self._prepare(mod, rest))
        now = self._now()
        row["date_entered"] = row.get("date_entered") or now
        row["created_by"] = row.get("created_by") or self.user_id
        row["date_modified"] = now
        row["modified_user_id"] = self.user_id
        row["deleted"] = bool(row.get("deleted"))
        return rid

    def create(self, module: str, values: Mapping[str, Any], *, id: str) -> str:
        """Create under the caller's id; a live record with that id is updated instead (``CRM.create``)."""
        from suitecrm_ext.crm.guid import is_guid

        self.calls.append(("create", module, id))
        mod = self._module(module)
        self._acl(module, "save")
        if not isinstance(id, str) or not is_guid(id):
            raise ValidationError(f"{module}: {str(id)[:40]!r} is not a SuiteCRM id (8-4-4-4-12 hex)",
                                  fields=["id"], transport=self.name, module=module)
        values = {k: v for k, v in values.items() if k != "id"}
        if id in mod.rows:
            self._live_row(mod, id)
            return self._save(mod, {"id": id, **values})
        self._prepare(mod, values)
        return self.insert(module, {"id": id, **values})

    def get_attachment(self, note_id: str) -> Attachment | None:
        """The file set with :meth:`set_attachment` (None when the Note has none)."""
        self.calls.append(("get_attachment", note_id))
        self._acl("Notes", "read")
        row = self._live_row(self._module("Notes"), note_id)
        stored = self._files.get(note_id)
        if stored is None or not row.get("filename"):
            return None
        return Attachment(row["filename"], stored, str(row.get("file_mime_type") or ""))

    def set_attachment(self, note_id: str, filename: str, content: bytes) -> None:
        """Store a Note's file; sets ``filename`` / ``file_mime_type`` and saves the Note like SuiteCRM."""
        self.calls.append(("set_attachment", note_id))
        mod = self._module("Notes")
        self._acl("Notes", "save")
        self._live_row(mod, note_id)
        if not isinstance(filename, str) or not filename.strip() or "/" in filename or "\\" in filename:
            raise ValidationError(f"Notes {note_id}: bad attachment file name {str(filename)[:60]!r}",
                                  fields=["filename"], transport=self.name, module="Notes")
        if not content:
            raise ValidationError(f"Notes {note_id}: an attachment needs content (SuiteCRM ignores an empty "
                                  "file)", fields=["filecontents"], transport=self.name, module="Notes")
        self._files[note_id] = bytes(content)
        # what SuiteCRM 7.14.6 records for a file set through the API (UploadFile::getMimeSoap; seen live
        # for a .pdf too)
        self._save(mod, {"id": note_id, "filename": filename, "file_mime_type": "application/octet-stream"})

    def delete(self, module: str, id: str) -> None:
        """Soft delete (``deleted=1``); its relationship rows are soft-deleted too."""
        self.calls.append(("delete", module, id))
        mod = self._module(module)
        self._acl(module, "delete")
        self._live_row(mod, id)
        self._soft_delete(mod, id)

    def _soft_delete(self, mod: _Module, id: str) -> None:
        row = mod.rows[id]
        row["deleted"] = True
        row["date_modified"] = self._now()
        row["modified_user_id"] = self.user_id
        for end in self._links[mod.name].values():
            for key in list(end.rel.rows):
                if key[0 if end.is_lhs else 1] == id:
                    self._drop_row(end.rel, key)

    def relate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Add relationship rows; relating twice is harmless. NotFound for a missing record on either side."""
        other_ids = self._ids(other_ids)
        self.calls.append(("relate", module, id, link, tuple(other_ids)))
        end = self._link(module, link)
        self._acl(module, "relate")
        self._live_row(self._module(module), id)
        other = self._module(end.other_module)
        for oid in other_ids:
            self._live_row(other, oid)
        for oid in other_ids:
            lhs, rhs = (id, oid) if end.is_lhs else (oid, id)
            rel = end.rel
            if rel.one_to_many:
                # the rhs record has one partner: replace an existing row to another lhs record
                for key, deleted in list(rel.rows.items()):
                    if key[1] == rhs and key[0] != lhs and not deleted:
                        self._drop_row(rel, key)
            rel.rows[(lhs, rhs)] = False
            if rel.rhs_id_field:
                self._modules[rel.rhs_module].rows[rhs][rel.rhs_id_field] = lhs

    def unrelate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Soft-delete relationship rows; unrelating what is not related is harmless."""
        other_ids = self._ids(other_ids)
        self.calls.append(("unrelate", module, id, link, tuple(other_ids)))
        end = self._link(module, link)
        self._acl(module, "relate")
        self._live_row(self._module(module), id)
        for oid in other_ids:
            key = (id, oid) if end.is_lhs else (oid, id)
            if key in end.rel.rows:
                self._drop_row(end.rel, key)

    def related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None = None
    ) -> Iterator[Record]:
        """Live records related through ``link`` (deleted records and removed rows are left out)."""
        self.calls.append(("related", module, id, link))
        end = self._link(module, link)
        self._acl(module, "read")
        self._live_row(self._module(module), id)
        other = self._modules[end.other_module]
        self._check_fields(other, fields, "fields")
        out = []
        for (lhs, rhs), deleted in end.rel.rows.items():
            if deleted:
                continue
            if end.is_lhs and lhs == id:
                oid = rhs
            elif not end.is_lhs and rhs == id:
                oid = lhs
            else:
                continue
            row = other.rows.get(oid)
            if row is not None and not row["deleted"]:
                out.append(self._record(other, row, fields))
        out.sort(key=lambda r: r.id)
        return iter(out)

    def fields(self, module: str) -> dict[str, FieldInfo]:
        """Field metadata of a module."""
        self.calls.append(("fields", module))
        return dict(self._module(module).fields)

    def modules(self) -> list[str]:
        """Every declared module."""
        self.calls.append(("modules",))
        return sorted(self._modules)

    def server_info(self) -> dict[str, Any]:
        """What a SuiteCRM 7.14.6 reports, plus ``"fake": True``."""
        return {"flavor": "CE", "version": "6.5.25", "suitecrm_version": "7.14.6", "fake": True}

    # --- internals ---------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        now = self.clock()
        now = now.replace(tzinfo=dt.timezone.utc) if now.tzinfo is None else now.astimezone(dt.timezone.utc)
        return now.replace(microsecond=0)

    def _module(self, module: str) -> _Module:
        try:
            return self._modules[module]
        except (KeyError, TypeError):
            raise NotFound(f"module {module!r} does not exist", transport=self.name, module=module) from None

    def _link(self, module: str, link: str) -> _LinkEnd:
        self._module(module)
        end = self._links[module].get(link)
        if end is None:
            known = ", ".join(sorted(self._links[module])) or "none"
            raise ValidationError(f"{module} has no link {link!r} (links: {known})", fields=[link],
                                  transport=self.name, module=module)
        return end

    def _live_row(self, mod: _Module, id: str) -> dict[str, Any]:
        row = mod.rows.get(id) if isinstance(id, str) else None
        if row is None or row["deleted"]:
            raise NotFound(f"{mod.name} record {id!r} does not exist or is deleted", transport=self.name,
                           module=mod.name)
        return row

    @staticmethod
    def _ids(other_ids: Sequence[str]) -> list[str]:
        if isinstance(other_ids, str):
            return [other_ids]
        return list(other_ids)

    def _drop_row(self, rel: _Relationship, key: tuple[str, str]) -> None:
        rel.rows[key] = True
        if rel.rhs_id_field:
            row = self._modules[rel.rhs_module].rows.get(key[1])
            if row is not None and row.get(rel.rhs_id_field) == key[0]:
                row[rel.rhs_id_field] = ""

    def _blank(self, module: str) -> dict[str, Any]:
        mod = self._modules[module]
        return {n: from_crm(f.type, "") for n, f in mod.fields.items()} | copy.deepcopy(mod.defaults)

    def _check_fields(self, mod: _Module, names: Sequence[str] | None, what: str) -> None:
        if names is None:
            return
        if isinstance(names, str):
            raise TypeError(f"{what} must be a list of field names, not a string")
        unknown = [n for n in names if n not in mod.fields]
        if unknown:
            raise ValidationError(
                f"{mod.name} has no field(s) {', '.join(map(repr, unknown))} (in {what})",
                fields=unknown, transport=self.name, module=mod.name,
            )

    def _check_where(self, mod: _Module, where: Where) -> Filter | None:
        flt = normalize_where(where)
        if flt is None:
            return None
        bad, non_db, bad_values = [], [], []
        for cond in _conditions(flt):
            info = mod.fields.get(cond.field)
            if info is None:
                bad.append(cond.field)
            elif info.source == "non-db":
                non_db.append(cond.field)
            elif cond.op not in ("like", "is_null", "not_null"):
                for v in (cond.value if cond.op == "in" else [cond.value]):
                    try:
                        _store_value(info.type, v)
                    except (TypeError, ValueError):
                        bad_values.append(f"{cond.field} {cond.op} {v!r}")
        if bad:
            raise ValidationError(f"{mod.name} has no field(s) {', '.join(map(repr, bad))} (in filter)",
                                  fields=bad, transport=self.name, module=mod.name)
        if non_db:
            raise ValidationError(
                f"{mod.name} field(s) {', '.join(map(repr, non_db))} are not stored in the database "
                "(non-db) and cannot be filtered on", fields=non_db, transport=self.name, module=mod.name)
        if bad_values:
            raise ValidationError(
                f"{mod.name}: filter value(s) do not fit the field type: {'; '.join(bad_values)}",
                fields=[b.split(" ", 1)[0] for b in bad_values], transport=self.name, module=mod.name)
        return flt

    def _order_keys(self, mod: _Module, order: Sequence[str] | str | None) -> list[tuple[str, bool]]:
        keys = parse_order(order)
        names = [n for n, _ in keys]
        self._check_fields(mod, names, "order")
        non_db = [n for n in names if mod.fields[n].source == "non-db"]
        if non_db:
            raise ValidationError(f"{mod.name} field(s) {', '.join(map(repr, non_db))} are non-db and cannot "
                                  "be ordered on", fields=non_db, transport=self.name, module=mod.name)
        if "id" not in names:
            keys.append(("id", False))  # a stable order makes paging deterministic
        return keys

    def _select(self, mod, flt, keys, include_deleted) -> list[dict[str, Any]]:
        rows = [r for r in mod.rows.values()
                if (include_deleted or not r["deleted"]) and self._match(mod, r, flt)]
        for name, desc in reversed(keys):
            ftype = mod.fields[name].type
            rows.sort(key=lambda r, n=name, t=ftype: _sort_key(t, r.get(n)), reverse=desc)
        return rows

    def _match(self, mod: _Module, row: Mapping[str, Any], flt: Filter | Cond | None) -> bool:
        if flt is None:
            return True
        if isinstance(flt, Cond):
            return _match_cond(mod.fields[flt.field].type, row.get(flt.field), flt)
        results = (self._match(mod, row, item) for item in flt.items)
        return all(results) if flt.op == "and" else any(results)

    def _prepare(self, mod: _Module, values: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        """Validate and normalise values to store; raises ValidationError naming every bad field."""
        if not isinstance(values, Mapping):
            raise ValidationError(
                f"{mod.name} {where or 'values'}: values must be a mapping of field → value",
                transport=self.name, module=mod.name)
        unknown = [k for k in values if k not in mod.fields]
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise ValidationError(
                f"{mod.name} has no field(s) {names}" + (f" ({where})" if where else ""),
                fields=unknown, transport=self.name, module=mod.name)
        refuse_unstorable(values, module=mod.name, transport=self.name, where=where)
        out: dict[str, Any] = {}
        bad: list[str] = []
        for name, value in values.items():
            ftype = mod.fields[name].type
            try:
                stored = _store_value(ftype, value)
            except (TypeError, ValueError):
                bad.append(name)
                continue
            # as SuiteCRM's save does: entities decoded, name/varchar trimmed (suitecrm_ext.crm.text)
            out[name] = stored_text(stored, ftype) if type(stored) is str else stored
        if bad:
            raise ValidationError(
                f"{mod.name}: bad value(s) for {', '.join(f'{n}={values[n]!r}' for n in bad)}"
                + (f" ({where})" if where else ""), fields=bad, transport=self.name, module=mod.name)
        if "id" in out and (not isinstance(out["id"], str) or not out["id"]):
            raise ValidationError(f"{mod.name}: id must be a non-empty string", fields=["id"],
                                  transport=self.name, module=mod.name)
        return out

    def _save(self, mod: _Module, values: Mapping[str, Any]) -> str:
        data = self._prepare(mod, values)
        now = self._now()
        rid = data.pop("id", None)
        data.pop("date_modified", None)  # SuiteCRM stamps it on every save
        if rid is not None:
            row = self._live_row(mod, rid)
            data.pop("date_entered", None)
            data.pop("created_by", None)
            if data.pop("deleted", False):
                row.update(data)
                self._soft_delete(mod, rid)
                return rid
            data.pop("deleted", None)
            row.update(data)
        else:
            rid = new_guid()
            while rid in mod.rows:  # pragma: no cover - 1 in 2**80
                rid = new_guid()
            row = self._blank(mod.name)
            row.update(data)
            row["id"] = rid
            row["date_entered"] = data.get("date_entered") or now
            row["created_by"] = data.get("created_by") or self.user_id
            row["deleted"] = bool(data.get("deleted", False))
            mod.rows[rid] = row
        row["date_modified"] = now
        row["modified_user_id"] = self.user_id
        return rid

    def _record(self, mod: _Module, row: Mapping[str, Any], fields: Sequence[str] | None) -> Record:
        names = list(mod.fields) if fields is None else list(fields)
        values = {n: copy.copy(row.get(n, from_crm(mod.fields[n].type, ""))) for n in names if n != "id"}
        if fields is not None and "id" in fields:
            values["id"] = row["id"]
        elif fields is None:
            values["id"] = row["id"]
        return Record(module=mod.name, id=row["id"], values=values, deleted=bool(row["deleted"]))


# --- helpers shared with the emulators --------------------------------------------------------


def parse_order(order: Sequence[str] | str | None) -> list[tuple[str, bool]]:
    """``"name"``, ``"-date_modified"``, ``["a", "-b"]`` or ``"a, -b"`` → [(field, descending)]."""
    if order is None:
        return []
    items = [p.strip() for p in order.split(",")] if isinstance(order, str) else list(order)
    keys = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"bad order item {item!r}: use a field name, '-name' for descending")
        desc = item.startswith("-")
        name = item[1:] if desc else item
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"bad field name in order: {item!r}")
        keys.append((name, desc))
    return keys


def _conditions(flt: Filter) -> Iterator[Cond]:
    for item in flt.items:
        if isinstance(item, Cond):
            yield item
        else:
            yield from _conditions(item)


def _store_value(ftype: str, value: Any) -> Any:
    """A value as the DB would keep it (datetimes to the second), normalised like a read gives it back."""
    if isinstance(value, (list, dict, set, tuple)):
        raise TypeError("structured values are not supported")
    if ftype in ("datetime", "datetimecombo") and isinstance(value, str) and value:
        parsed = parse_datetime(value)
        return parsed.replace(microsecond=0) if parsed else parsed
    if ftype == "int" and value not in (None, "") and not isinstance(value, bool):
        return int(value)
    normalised = from_crm(ftype, to_crm(value))
    if isinstance(normalised, dt.datetime):
        normalised = normalised.replace(microsecond=0)
    return normalised


def _is_empty(ftype: str, value: Any) -> bool:
    return value is None or (value == "" and ftype not in _NUMERIC_OR_TIME)


def _fold(value: Any) -> Any:
    """Case-insensitive, trailing-space-insensitive comparison key, like utf8_general_ci."""
    if isinstance(value, str):
        return value.rstrip(" ").casefold()
    return value


def _coerce(ftype: str, value: Any) -> Any:
    """A filter value to the stored type of the field, for comparing."""
    try:
        return _store_value(ftype, value)
    except (TypeError, ValueError):
        return value


def _sort_key(ftype: str, value: Any) -> tuple:
    if value is None or (value == "" and ftype in _NUMERIC_OR_TIME):
        return (0, "")
    return (1, _fold(value) if isinstance(value, str) else value)


def _like_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.S | re.IGNORECASE)


def _match_cond(ftype: str, stored: Any, cond: Cond) -> bool:
    op = cond.op
    if op == "is_null":
        return _is_empty(ftype, stored)
    if op == "not_null":
        return not _is_empty(ftype, stored)
    if op == "neq":
        return stored is None or _fold(stored) != _fold(_coerce(ftype, cond.value))
    if stored is None:
        return False
    if op == "eq":
        return _fold(stored) == _fold(_coerce(ftype, cond.value))
    if op == "in":
        return any(_fold(stored) == _fold(_coerce(ftype, v)) for v in cond.value)
    if op == "like":
        return bool(_like_regex(str(to_crm(cond.value))).fullmatch(str(to_crm(stored))))
    if stored == "" and ftype in _NUMERIC_OR_TIME:
        return False
    a, b = _fold(stored), _fold(_coerce(ftype, cond.value))
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        a, b = str(to_crm(a)), str(to_crm(b))
    if op == "gt":
        return a > b
    if op == "gte":
        return a >= b
    if op == "lt":
        return a < b
    if op == "lte":
        return a <= b
    raise ValueError(f"unknown operator {op!r}")  # pragma: no cover - Cond validates ops


__all__ = ["BASIC_FIELDS", "STOCK_LINKS", "FakeCRM", "parse_order"]
