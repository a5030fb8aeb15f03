"""The CRM interface over SuiteCRM's REST v4_1 API (``POST /service/v4_1/rest.php``).

Wire format, as recorded from SuiteCRM 7.14.6: form fields ``method``, ``input_type=JSON``,
``response_type=JSON`` and ``rest_data``. ``rest_data`` is sent as a JSON **array**, each method's
parameters in their exact PHP order: SuiteCRM hands it to ``call_user_func_array``, and a JSON object
whose keys are not the PHP parameter names is a fatal error (HTTP 500, empty body).

- Login sends the md5 hex of the password (the plain password is never kept). The session id is reused;
  on "Invalid Session ID" (number 11, also after a server-side logout or expiry) the client logs in again
  **once** and repeats the call; a second refusal is an :class:`AuthError`.
- Errors come back as HTTP 200 ``{"name", "number", "description"}``: 10 (and the other login failures)
  → AuthError, 11 → re-login, 20 → NotFound (module), 40 → PermissionDenied, others (e.g. ``"-1"`` for an
  unknown method) → ProtocolError. HTTP 500 "Database failure" means SuiteCRM's SQL failed: when the
  call carried a ``query`` we built from a filter, the only thing in it that can be wrong is a field
  that SuiteCRM's metadata lists but its table lacks (values are escaped), so it is a ValidationError
  naming the filter's fields; otherwise it is a ProtocolError. Other 5xx, an empty 500, 429,
  connection errors and timeouts are TransientError and retried (:mod:`suitecrm_ext.crm.http`).
- ``query`` / ``order_by`` are SQL inside SuiteCRM and are built only by :mod:`suitecrm_ext.crm.sqlfilter`.
- A ``get_entry`` of a missing *or deleted* id answers with a list-shaped ``name_value_list`` holding a
  warning → NotFound.
- String values are decoded on read with :func:`~suitecrm_ext.crm.text.from_html`: SuiteCRM hands them
  out through its ``to_html()`` (``&quot; &lt; &gt; &#039;``, but ``&`` as it is), so the records read
  here hold what the database holds. Values SuiteCRM would silently damage on save (NUL and other
  control characters, characters outside the BMP such as emoji) are refused before sending
  (:mod:`suitecrm_ext.crm.text`).
- ``order_by`` names fields bare (``name DESC, id ASC``); SuiteCRM drops table-qualified keys.

**Duplicates on retry.** Reads, updates, deletes and relationship changes are idempotent and are retried
on transient faults. A create is made idempotent: the client generates the record id (SuiteCRM-shaped,
:func:`~suitecrm_ext.crm.guid.new_guid`) and sends ``id`` + ``new_with_id=true``. If the answer is
lost (timeout, 5xx), the next attempt first asks whether a record with that id now exists: if it does,
the create had gone through and its id is returned; only if not is the create sent again. Re-sending
blindly would not work either way: with ``new_with_id`` a second INSERT of the same id fails ("Database
failure"), and without it SuiteCRM silently updates nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import requests

from suitecrm_ext.crm.base import (
    CRM,
    Attachment,
    CRMError,
    FieldInfo,
    NotFound,
    PermissionDenied,
    ProtocolError,
    Record,
    ValidationError,
    Where,
    iter_conditions,
    normalize_where,
    parse_bool,
)
from suitecrm_ext.crm.convert import converters
from suitecrm_ext.crm.convert import value_converter as _value_converter
from suitecrm_ext.crm.guid import is_guid, new_guid
from suitecrm_ext.crm.http import RetryPolicy, make_session
from suitecrm_ext.crm.order import parse_order
from suitecrm_ext.crm.rest_v4_links import RestRelationships
from suitecrm_ext.crm.rest_v4_meta import ENUM_TYPES as ENUM_TYPES  # re-exported
from suitecrm_ext.crm.rest_v4_meta import RestMetadata
from suitecrm_ext.crm.rest_v4_wire import AUTH_ERRORS as AUTH_ERRORS  # re-exported
from suitecrm_ext.crm.rest_v4_wire import (
    RestWire,
    _DatabaseFailure,
    _InvalidSession,
    from_name_value_list,
    name_value_list,
)
from suitecrm_ext.crm.sqlfilter import compile_order, compile_where, sql_string
from suitecrm_ext.crm.text import from_html, refuse_unstorable, warn_overlong

log = logging.getLogger("suitecrm_ext.crm.rest")
_text = _value_converter(None)

DEFAULT_PATH = "/service/v4_1/rest.php"

#: kept for callers of the old name: SuiteCRM's ``to_html()`` undone (see suitecrm_ext.crm.text)
html_decode = from_html


class RestV4CRM(RestWire, RestMetadata, RestRelationships, CRM):
    """SuiteCRM through REST v4_1. See the module docstring for the protocol details and retry safety.

    ``url`` is SuiteCRM's base URL (``https://crm.example.com``); ``path`` the REST endpoint under it.
    ``page_size`` records per ``get_entry_list`` call, ``batch_size`` rows per ``set_entries`` call.
    ``retry_policy`` (optional) replaces the default one built from ``retries`` (tests inject a
    non-sleeping one); ``session`` an HTTP session.
    """

    name = "rest"
    capabilities = CRM.capabilities | {
        "include_deleted", "filter_in", "filter_null", "filter_nested", "order_multi", "datetime_seconds",
        "batch_save", "server_version", "create_with_id", "attachments",
    }

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        page_size: int = 200,
        verify: bool | str = True,
        path: str = DEFAULT_PATH,
        batch_size: int = 100,
        application_name: str = "suitecrm-ext",
        session: requests.Session | None = None,
        retry_policy: RetryPolicy | None = None,
    ):
        if not re.match(r"^https?://", url or ""):
            raise ValueError(f"SuiteCRM url must start with http:// or https://, got {url!r}")
        if page_size < 1 or batch_size < 1:
            raise ValueError("page_size and batch_size must be at least 1")
        self.endpoint = url.rstrip("/") if url.rstrip("/").endswith(".php") else url.rstrip("/") + path
        self.username = username
        self._password_md5 = hashlib.md5(password.encode("utf-8")).hexdigest()
        self.page_size = page_size
        self.batch_size = batch_size
        self.application_name = application_name
        self.http = session or make_session(timeout=timeout, verify=verify)
        self.policy = retry_policy or RetryPolicy(retries=retries)
        self.session_id: str | None = None
        self.user_id: str | None = None
        self._fields: dict[str, dict[str, FieldInfo]] = {}
        self._links: dict[str, dict[str, dict[str, Any]]] = {}
        self._tables: dict[str, str] = {}
        self._convs: dict[str, dict[str, Any]] = {}  # module -> field -> value converter

    @classmethod
    def from_settings(cls, s: Any, **kwargs: Any) -> RestV4CRM:
        """Build from ``SuiteCRMSettings`` (its ``rest`` section must be present)."""
        if s.rest is None:
            raise ValueError("suitecrm.rest is not configured (username and password are needed)")
        return cls(
            s.url, s.rest.username, s.rest.password.get_secret_value(), timeout=s.timeout,
            retries=s.retries, page_size=s.rest.page_size, verify=s.verify_tls, path=s.rest.path, **kwargs,
        )

    def __repr__(self) -> str:
        return f"RestV4CRM({self.endpoint!r}, user={self.username!r})"

    # --- reads -------------------------------------------------------------------------

    def _check_fields(self, module: str, names: Sequence[str] | None, what: str) -> None:
        if names is None:
            return
        if isinstance(names, str):
            raise TypeError(f"{what} must be a list of field names, not a string")
        known = self._fields[module]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValidationError(f"{module} has no field(s) {', '.join(map(repr, unknown))} (in {what})",
                                  fields=unknown, transport=self.name, module=module)

    def _select(self, fields: Sequence[str] | None) -> list[str]:
        if fields is None:
            return []
        return list(dict.fromkeys(["id", "deleted", *fields]))

    def _converters(self, module: str) -> dict[str, Any]:
        conv = self._convs.get(module)
        if conv is None:
            conv = converters(self._fields.get(module, {}))
            if module in self._fields:  # only what the metadata says is cached
                self._convs[module] = conv
        return conv

    def _record(self, module: str, entry: Mapping[str, Any], fields: Sequence[str] | None) -> Record:
        """One entry of an answer as a Record: values typed by the module's fields, to_html() undone."""
        nvl = entry.get("name_value_list") if type(entry) is dict else None
        if type(nvl) is not dict:  # list-shaped or missing: the generic path (and its errors)
            try:
                nvl = {k: {"value": v} for k, v in from_name_value_list(entry["name_value_list"]).items()}
            except (TypeError, KeyError):
                raise ProtocolError(f"REST {module}: entry without name_value_list",
                                    excerpt=json.dumps(entry)[:500], transport=self.name) from None
        conv = self._converters(module)
        keep = None if fields is None else set(fields)
        values: dict[str, Any] = {}
        deleted = False
        raw_id = None
        for name, item in nvl.items():
            value = item.get("value") if type(item) is dict else item
            if name == "deleted":
                deleted = parse_bool(value)
            elif name == "id":
                raw_id = value
            if keep is None or name in keep:
                values[name] = conv.get(name, _text)(value)
        rid = entry.get("id") or raw_id
        if not rid:
            raise ProtocolError(f"REST {module}: entry without id", excerpt=json.dumps(entry)[:500],
                                transport=self.name)
        if keep is None:
            values.setdefault("id", rid)
        return Record(module=module, id=rid, values=values, deleted=deleted)

    def get(self, module: str, id: str, fields: Sequence[str] | None = None) -> Record:
        """``get_entry``; NotFound for a missing or deleted id (SuiteCRM's list-shaped warning answer)."""
        self._meta(module)
        self._check_fields(module, fields, "fields")
        payload = self._call("get_entry", [module, id, self._select(fields), [], False])
        try:
            entry = payload["entry_list"][0]
        except (TypeError, KeyError, IndexError):
            raise ProtocolError(f"REST get_entry {module}: unexpected answer",
                                excerpt=json.dumps(payload)[:500],
                                transport=self.name) from None
        if isinstance(entry.get("name_value_list"), list):
            raise NotFound(f"{module} record {id!r} does not exist or is deleted", transport=self.name,
                           module=module)
        return self._record(module, entry, fields)

    def _query(self, module: str, where: Where) -> tuple[str, list[str]]:
        flt = normalize_where(where)
        query = compile_where(flt, self._tables[module], self._fields[module], module)
        names = sorted({c.field for c in iter_conditions(flt)}) if flt else []
        return query, names

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
        """``get_entry_list`` page by page (``offset`` ← ``next_offset``) until a short or empty page."""
        self._meta(module)
        self._check_fields(module, fields, "fields")
        query, names = self._query(module, where)
        order_by = compile_order(parse_order(order), self._tables[module], self._fields[module], module)
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        return self._find_pages(module, query, names, order_by, fields, limit, include_deleted)

    def _find_pages(self, module, query, names, order_by, fields, limit, include_deleted) -> Iterator[Record]:
        offset = 0
        served = 0
        select = self._select(fields)
        while limit is None or served < limit:
            size = self.page_size if limit is None else min(self.page_size, limit - served)
            payload = self._call(
                "get_entry_list",
                [module, query, order_by, offset, select, [], size, 1 if include_deleted else 0, False],
                filter_fields=names,
            )
            try:
                entries = payload["entry_list"]
                count = int(payload["result_count"])
                next_offset = int(payload["next_offset"])
            except (TypeError, KeyError, ValueError):
                raise ProtocolError(f"REST get_entry_list {module}: unexpected answer",
                                    excerpt=json.dumps(payload)[:500], transport=self.name) from None
            for entry in entries[:size]:
                yield self._record(module, entry, fields)
            served += min(len(entries), size)
            if count == 0 or not entries:
                return
            if count < size:
                # a short page ends the list, unless SuiteCRM capped max_results at its list-view size
                # (SuiteCRM #4400, older versions) while total_count says more records match
                total = _int_or_none(payload.get("total_count"))
                if total is None or offset + count >= total:
                    return
                log.info("REST get_entry_list %s: %d of %d asked for, %d in all: paging on (SuiteCRM "
                         "#4400 caps max_results)", module, count, size, total)
            if next_offset <= offset:
                raise ProtocolError(f"REST get_entry_list {module}: next_offset did not advance",
                                    excerpt=json.dumps({k: payload.get(k) for k in
                                                        ("result_count", "next_offset", "total_count")}),
                                    transport=self.name)
            offset = next_offset

    def count(self, module: str, where: Where = None, *, include_deleted: bool = False) -> int:
        """``get_entries_count`` (SuiteCRM answers the number as a string)."""
        self._meta(module)
        query, names = self._query(module, where)
        payload = self._call("get_entries_count", [module, query, 1 if include_deleted else 0],
                             filter_fields=names)
        try:
            return int(payload["result_count"])
        except (TypeError, KeyError, ValueError):
            raise ProtocolError(f"REST get_entries_count {module}: unexpected answer",
                                excerpt=json.dumps(payload)[:500], transport=self.name) from None

    def _existing(self, module: str, ids: Sequence[str], *, include_deleted: bool = False) -> set[str]:
        """Which of ``ids`` exist (live, or any with include_deleted), in as few calls as paging needs."""
        found: set[str] = set()
        table = self._tables[module]
        for start in range(0, len(ids), self.page_size):
            chunk = list(ids[start:start + self.page_size])
            query = f"{table}.id IN ({', '.join(sql_string(i) for i in chunk)})"
            payload = self._call("get_entry_list", [module, query, "id ASC", 0, ["id"], [],
                                                    len(chunk), 1 if include_deleted else 0, False])
            try:
                found.update(e["id"] for e in payload["entry_list"])
            except (TypeError, KeyError):
                raise ProtocolError(f"REST get_entry_list {module}: unexpected answer",
                                    excerpt=json.dumps(payload)[:500], transport=self.name) from None
        return found

    def _require_live(self, module: str, ids: Sequence[str]) -> None:
        missing = [i for i in ids if i not in self._existing(module, ids)] if ids else []
        if missing:
            raise NotFound(f"{module} record(s) {', '.join(map(repr, missing))} do not exist or are deleted",
                           transport=self.name, module=module)

    # --- writes ------------------------------------------------------------------------

    def _check_values(self, module: str, values: Mapping[str, Any], where: str = "") -> None:
        if not isinstance(values, Mapping):
            raise ValidationError(f"{module} {where or 'values'}: values must be a mapping of field → value",
                                  transport=self.name, module=module)
        known = self._fields[module]
        unknown = [k for k in values if k not in known]
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise ValidationError(f"{module} has no field(s) {names}" + (f" ({where})" if where else ""),
                                  fields=unknown, transport=self.name, module=module)
        bad = [k for k, v in values.items() if isinstance(v, (list, dict, set, tuple))]
        if bad:
            raise ValidationError(f"{module}: structured value(s) for {', '.join(bad)}", fields=bad,
                                  transport=self.name, module=module)
        if "id" in values and (not isinstance(values["id"], str) or not values["id"]):
            raise ValidationError(f"{module}: id must be a non-empty string", fields=["id"],
                                  transport=self.name, module=module)
        refuse_unstorable(values, module=module, transport=self.name, where=where)
        warn_overlong(values, known, module=module, transport=self.name, where=where)

    def save(self, module: str, values: Mapping[str, Any]) -> str:
        """Create (client-chosen id + ``new_with_id``, safe to retry) or update (NotFound if missing)."""
        self._meta(module)
        self._check_values(module, values)
        values = dict(values)
        rid = values.pop("id", None)
        if rid is None:
            return self._create(module, values)
        self._require_live(module, [rid])
        payload = self._call("set_entry", [module, name_value_list({"id": rid, **values})])
        self._check_set_entry(module, payload)
        return rid

    def create(self, module: str, values: Mapping[str, Any], *, id: str) -> str:
        """Create under the caller's id (``new_with_id``); a live record with that id is updated instead."""
        self._meta(module)
        self._check_values(module, values)
        if not isinstance(id, str) or not is_guid(id):
            raise ValidationError(f"{module}: {str(id)[:40]!r} is not a SuiteCRM id (8-4-4-4-12 hex)",
                                  fields=["id"], transport=self.name, module=module)
        values = {k: v for k, v in values.items() if k != "id"}
        if self._existing(module, [id], include_deleted=True):
            self._require_live(module, [id])
            payload = self._call("set_entry", [module, name_value_list({"id": id, **values})])
            self._check_set_entry(module, payload)
            return id
        return self._create(module, values, id)

    def _create(self, module: str, values: Mapping[str, Any], rid: str | None = None) -> str:
        rid = rid or new_guid()
        nvl = name_value_list({"id": rid, "new_with_id": True, **values})
        attempts = 0

        def once() -> str:
            nonlocal attempts
            attempts += 1
            # After a lost answer the create may have happened: look before sending it again.
            if attempts > 1 and self._existing(module, [rid], include_deleted=True):
                log.info("create of %s %s had gone through before the answer was lost", module, rid)
                return rid
            try:
                payload = self._with_session("set_entry", lambda sid: [sid, module, nvl])
            except _DatabaseFailure as exc:
                # a concurrent earlier attempt may have inserted the same id meanwhile
                if attempts > 1 and self._existing(module, [rid], include_deleted=True):
                    return rid
                raise ProtocolError(f"REST set_entry {module}: SuiteCRM reported a database failure",
                                    excerpt=exc.body, transport=self.name) from None
            self._check_set_entry(module, payload)
            return rid

        return self.policy.call(once)

    def get_attachment(self, note_id: str) -> Attachment | None:
        """``get_note_attachment``: the Note's file (base64 on the wire), None when it has none."""
        import base64
        import binascii

        self._meta("Notes")
        self._require_live("Notes", [note_id])
        payload = self._call("get_note_attachment", [note_id])
        try:
            att = payload["note_attachment"]
            filename, data = att.get("filename") or "", att.get("file") or ""
        except (TypeError, KeyError, AttributeError):
            raise ProtocolError("REST get_note_attachment: unexpected answer", excerpt=str(payload),
                                transport=self.name) from None
        if not filename:
            return None
        try:
            content = base64.b64decode(data, validate=True) if data else b""
        except (binascii.Error, ValueError):
            raise ProtocolError("REST get_note_attachment: the file is not base64", excerpt=str(data)[:100],
                                transport=self.name) from None
        mime = ""
        try:
            mime = str(self.get("Notes", note_id, ["file_mime_type"]).get("file_mime_type") or "")
        except NotFound:
            pass
        return Attachment(filename, content, mime)

    def set_attachment(self, note_id: str, filename: str, content: bytes) -> None:
        """``set_note_attachment`` (SuiteCRM stores the file under the Note's id and saves the Note)."""
        import base64

        if not isinstance(filename, str) or not filename.strip() or "/" in filename or "\\" in filename:
            raise ValidationError(f"Notes {note_id}: bad attachment file name {str(filename)[:60]!r}",
                                  fields=["filename"], transport=self.name, module="Notes")
        if not content:
            raise ValidationError(f"Notes {note_id}: an attachment needs content (SuiteCRM ignores an empty "
                                  "file)", fields=["filecontents"], transport=self.name, module="Notes")
        self._meta("Notes")
        self._require_live("Notes", [note_id])
        payload = self._call("set_note_attachment", [{"id": note_id, "filename": filename,
                                                      "file": base64.b64encode(content).decode("ascii")}])
        if not isinstance(payload, dict) or payload.get("id") in (None, "", "-1", -1):
            raise ProtocolError(f"REST set_note_attachment: SuiteCRM did not store the file of {note_id}",
                                excerpt=str(payload), transport=self.name)

    def _check_set_entry(self, module: str, payload: Any) -> None:
        if not isinstance(payload, dict) or not payload.get("id"):
            # SuiteCRM returns nothing when the ACL check refuses the save
            raise PermissionDenied(f"REST set_entry {module}: SuiteCRM did not save the record (no id back)",
                                   transport=self.name, module=module)

    def save_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """``set_entries`` in batches of ``batch_size``; everything is validated before anything is written.

        Updated ids must exist (one ``get_entry_list`` per page of ids). A batch whose answer is lost is
        retried without the rows that the lost call had already created (found by their client ids).
        """
        self._meta(module)
        for i, row in enumerate(rows):
            self._check_values(module, row, where=f"row {i}")
        update_ids = [row["id"] for row in rows if "id" in row]
        if update_ids:
            self._require_live(module, list(dict.fromkeys(update_ids)))
        prepared: list[tuple[str, bool, list[dict[str, Any]]]] = []  # (id, is_new, nvl)
        for row in rows:
            values = dict(row)
            rid = values.pop("id", None)
            if rid is None:
                rid = new_guid()
                prepared.append((rid, True, name_value_list({"id": rid, "new_with_id": True, **values})))
            else:
                prepared.append((rid, False, name_value_list({"id": rid, **values})))
        for start in range(0, len(prepared), self.batch_size):
            self._set_entries(module, prepared[start:start + self.batch_size])
        return [rid for rid, _, _ in prepared]

    def create_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """``set_entries`` with ``new_with_id`` under the rows' own ids; rows whose id exists already (a
        repeat) are updated instead; NotFound for ids of deleted records. All rows are checked first."""
        self._meta(module)
        ids = []
        for i, row in enumerate(rows):
            rid = row.get("id") if isinstance(row, Mapping) else None
            if not isinstance(rid, str) or not is_guid(rid):
                raise ValidationError(f"{module} row {i}: {str(rid)[:40]!r} is not a SuiteCRM id",
                                      fields=["id"], transport=self.name, module=module)
            self._check_values(module, row, where=f"row {i}")
            ids.append(rid)
        existing = self._existing(module, ids, include_deleted=True) if ids else set()
        live = self._existing(module, sorted(existing)) if existing else set()
        gone = [rid for rid in ids if rid in existing and rid not in live]
        if gone:
            raise NotFound(f"{module} record(s) {', '.join(gone[:5])} are deleted", transport=self.name,
                           module=module)
        prepared: list[tuple[str, bool, list[dict[str, Any]]]] = []
        for row in rows:
            values = {k: v for k, v in row.items() if k != "id"}
            rid = row["id"]
            if rid in live:
                prepared.append((rid, False, name_value_list({"id": rid, **values})))
            else:
                prepared.append((rid, True, name_value_list({"id": rid, "new_with_id": True, **values})))
        for start in range(0, len(prepared), self.batch_size):
            self._set_entries(module, prepared[start:start + self.batch_size])
        return ids

    def _set_entries(self, module: str, batch: list[tuple[str, bool, list[dict[str, Any]]]]) -> None:
        pending = list(batch)
        attempts = 0

        def once() -> None:
            nonlocal pending, attempts
            attempts += 1
            if attempts > 1:
                new_ids = [rid for rid, is_new, _ in pending if is_new]
                done = self._existing(module, new_ids, include_deleted=True) if new_ids else set()
                pending = [p for p in pending if not (p[1] and p[0] in done)]
                if not pending:
                    return
            try:
                lists = [p[2] for p in pending]
                payload = self._with_session("set_entries", lambda sid: [sid, module, lists])
            except _DatabaseFailure as exc:
                raise ProtocolError(f"REST set_entries {module}: SuiteCRM reported a database failure",
                                    excerpt=exc.body, transport=self.name) from None
            ids = payload.get("ids") if isinstance(payload, dict) else None
            if not isinstance(ids, list):
                raise ProtocolError(f"REST set_entries {module}: unexpected answer",
                                    excerpt=json.dumps(payload)[:500], transport=self.name)
            missing = [rid for rid, _, _ in pending if rid not in ids]
            if missing:
                raise PermissionDenied(
                    f"REST set_entries {module}: SuiteCRM did not save {len(missing)} row(s) "
                    f"({', '.join(missing[:5])}...)", transport=self.name, module=module)

        self.policy.call(once)

    def delete(self, module: str, id: str) -> None:
        """Soft delete: ``set_entry`` with ``deleted=1`` (REST v4_1 has no delete method)."""
        self._meta(module)
        self._require_live(module, [id])
        nvl = [{"name": "id", "value": id}, {"name": "deleted", "value": 1}]
        payload = self._call("set_entry", [module, nvl])
        self._check_set_entry(module, payload)
    # --- session -----------------------------------------------------------------------

    def close(self) -> None:
        """``logout`` (best effort) and close the HTTP session."""
        if self.session_id:
            try:
                self._post("logout", [self.session_id])
            except (CRMError, _InvalidSession, _DatabaseFailure) as exc:
                log.info("REST logout failed (ignored): %s", exc)
            self.session_id = None
        self.http.close()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


__all__ = ["RestV4CRM", "from_name_value_list", "html_decode", "name_value_list"]
