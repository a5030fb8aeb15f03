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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from suitecrm_ext.crm.base import (
    CRM,
    Attachment,
    Cond,
    FieldInfo,
    Filter,
    NotFound,
    Record,
    ValidationError,
    Where,
    from_crm,
    iter_conditions,
    normalize_where,
)
from suitecrm_ext.crm.fake_links import FakeRelationships
from suitecrm_ext.crm.fake_match import match_cond, sort_key, store_value
from suitecrm_ext.crm.fake_model import BASIC_FIELDS, STOCK_LINKS, LinkEnd, StoredModule
from suitecrm_ext.crm.fake_registry import FakeRegistry
from suitecrm_ext.crm.guid import new_guid
from suitecrm_ext.crm.order import parse_order
from suitecrm_ext.crm.stock_modules import STOCK_DEFAULTS, STOCK_FIELDS, STOCK_TABLES
from suitecrm_ext.crm.text import column_length, refuse_unstorable, stored_text, warn_overlong


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class FakeCRM(FakeRegistry, FakeRelationships, CRM):
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
        self._modules: dict[str, StoredModule] = {}
        self._links: dict[str, dict[str, LinkEnd]] = {}
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

    def _module(self, module: str) -> StoredModule:
        try:
            return self._modules[module]
        except (KeyError, TypeError):
            raise NotFound(f"module {module!r} does not exist", transport=self.name, module=module) from None

    def _live_row(self, mod: StoredModule, id: str) -> dict[str, Any]:
        row = mod.rows.get(id) if isinstance(id, str) else None
        if row is None or row["deleted"]:
            raise NotFound(f"{mod.name} record {id!r} does not exist or is deleted", transport=self.name,
                           module=mod.name)
        return row

    def _blank(self, module: str) -> dict[str, Any]:
        mod = self._modules[module]
        return {n: from_crm(f.type, "") for n, f in mod.fields.items()} | copy.deepcopy(mod.defaults)

    def _check_fields(self, mod: StoredModule, names: Sequence[str] | None, what: str) -> None:
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

    def _check_where(self, mod: StoredModule, where: Where) -> Filter | None:
        flt = normalize_where(where)
        if flt is None:
            return None
        bad, non_db, bad_values = [], [], []
        for cond in iter_conditions(flt):
            info = mod.fields.get(cond.field)
            if info is None:
                bad.append(cond.field)
            elif info.source == "non-db":
                non_db.append(cond.field)
            elif cond.op not in ("like", "is_null", "not_null"):
                for v in (cond.value if cond.op == "in" else [cond.value]):
                    try:
                        store_value(info.type, v)
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

    def _order_keys(self, mod: StoredModule, order: Sequence[str] | str | None) -> list[tuple[str, bool]]:
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
            rows.sort(key=lambda r, n=name, t=ftype: sort_key(t, r.get(n)), reverse=desc)
        return rows

    def _match(self, mod: StoredModule, row: Mapping[str, Any], flt: Filter | Cond | None) -> bool:
        if flt is None:
            return True
        if isinstance(flt, Cond):
            return match_cond(mod.fields[flt.field].type, row.get(flt.field), flt)
        results = (self._match(mod, row, item) for item in flt.items)
        return all(results) if flt.op == "and" else any(results)

    def _prepare(self, mod: StoredModule, values: Mapping[str, Any], where: str = "") -> dict[str, Any]:
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
        warn_overlong(values, mod.fields, module=mod.name, transport=self.name, where=where)
        out: dict[str, Any] = {}
        bad: list[str] = []
        for name, value in values.items():
            ftype = mod.fields[name].type
            try:
                stored = store_value(ftype, value)
            except (TypeError, ValueError):
                bad.append(name)
                continue
            # as SuiteCRM's save does: entities decoded, name/varchar trimmed, then cut to the column's
            # length by the database (suitecrm_ext.crm.text)
            if type(stored) is str:
                stored = stored_text(stored, ftype)
                keep = column_length(mod.fields[name])
                stored = stored[:keep] if keep is not None else stored
            out[name] = stored
        if bad:
            raise ValidationError(
                f"{mod.name}: bad value(s) for {', '.join(f'{n}={values[n]!r}' for n in bad)}"
                + (f" ({where})" if where else ""), fields=bad, transport=self.name, module=mod.name)
        if "id" in out and (not isinstance(out["id"], str) or not out["id"]):
            raise ValidationError(f"{mod.name}: id must be a non-empty string", fields=["id"],
                                  transport=self.name, module=mod.name)
        return out

    def _save(self, mod: StoredModule, values: Mapping[str, Any]) -> str:
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

    def _record(self, mod: StoredModule, row: Mapping[str, Any], fields: Sequence[str] | None) -> Record:
        names = list(mod.fields) if fields is None else list(fields)
        values = {n: copy.copy(row.get(n, from_crm(mod.fields[n].type, ""))) for n in names if n != "id"}
        if fields is not None and "id" in fields:
            values["id"] = row["id"]
        elif fields is None:
            values["id"] = row["id"]
        return Record(module=mod.name, id=row["id"], values=values, deleted=bool(row["deleted"]))


__all__ = ["BASIC_FIELDS", "STOCK_LINKS", "FakeCRM", "parse_order"]
