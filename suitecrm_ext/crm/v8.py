"""The V8 JSON:API transport (``/Api/access_token``, ``/Api/V8/...``) with OAuth2, over requests.

Behaviour of a real SuiteCRM 7.14.6 that this module is written against (recorded, see docs/gateway.md):

- Tokens: ``POST /Api/access_token`` with a JSON body; ``client_credentials`` or ``password`` grant; the
  password grant also returns a ``refresh_token``. The token is cached and renewed shortly before its
  ``expires_in`` runs out (the clock is injectable), and once more when an API call answers 401
  ``access_denied`` (refresh_token when we have one, else a new grant). A second 401 is an AuthError.
- A wrong client secret (or a grant the client may not use) is 401 ``invalid_client``. A wrong *user
  password* is HTTP **500** ``unknown_error`` whose message **contains the password that was sent**: it is
  mapped to AuthError, never retried, and neither the body nor the password reaches an exception or a log.
- API errors are ``{"errors": {"status", "title", "detail"}}`` (an object, not an array). A missing or
  deleted record and an unknown module are all HTTP 400 with a detail text, parsed here into NotFound; an
  unknown filter/sort field or attribute into ValidationError naming the field.
- Lists page with ``page[size]`` / ``page[number]`` (1-based); ``meta.total-pages`` tells when to stop
  (the ``next`` link is not used: without ``page[number]`` it points back to page 1).
- Filters are ``filter[field][op]=value`` with ops eq neq gt gte lt lte like and one level of
  ``filter[operator]=and|or``; one condition per (field, op). Anything else raises Unsupported.
- Attributes are strings passed through SuiteCRM's ``to_html()`` (``O&#039;Rourke``, ``&lt;b&gt;``; ``&`` as
  it is): they are decoded with :func:`~suitecrm_ext.crm.text.from_html`, so V8 reads what REST, SOAP and
  the database hold. Values SuiteCRM would damage on save (control characters, emoji) are refused.
- Attributes are strings; datetimes are ISO 8601 UTC **with the seconds truncated to :00** (a DB value of
  05:17:26 reads as 05:17:00). Records are normalised to aware UTC datetimes, but callers that need exact
  seconds (watermarks) must read through REST or MySQL.
- V8 cannot list soft-deleted rows (``filter[deleted][eq]=1`` answers 400), so ``include_deleted=True``
  raises Unsupported.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from suitecrm_ext.crm.base import (
    CRM,
    GUESSED_TYPES,
    FieldInfo,
    NotFound,
    ProtocolError,
    Record,
    Unsupported,
    ValidationError,
    Where,
    from_crm,
    to_crm,
)
from suitecrm_ext.crm.guid import new_guid
from suitecrm_ext.crm.http import RetryPolicy, make_session
from suitecrm_ext.crm.order import parse_order
from suitecrm_ext.crm.text import from_html, refuse_unstorable, warn_overlong
from suitecrm_ext.crm.v8_filters import V8_OPS, compile_filter
from suitecrm_ext.crm.v8_paging import read_complete
from suitecrm_ext.crm.v8_wire import JSONAPI as JSONAPI  # re-exported
from suitecrm_ext.crm.v8_wire import V8Wire, _AlreadyExists, _NotRelated

log = logging.getLogger("suitecrm_ext.crm.v8")

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _is_name(name: str) -> bool:
    """A module, link or field name as V8 paths and sort keys take it."""
    return _NAME_RE.match(name) is not None


def _v8_value(ftype: str | None, raw: Any) -> Any:
    """One V8 attribute → normalised value. Link fields come as ``{}`` and become ""."""
    if isinstance(raw, (dict, list)):
        raw = ""
    elif type(raw) is str and "&" in raw:
        raw = from_html(raw)
    try:
        return from_crm(ftype, raw)
    except ValueError:
        # date fields may come in the user's display format (m/d/Y [H:i])
        for fmt in ("%m/%d/%Y %H:%M", "%m/%d/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y"):
            try:
                parsed = dt.datetime.strptime(str(raw).strip(), fmt)
            except ValueError:
                continue
            if ftype == "date":
                return parsed.date()
            return parsed.replace(tzinfo=dt.timezone.utc)
        return raw


class V8CRM(V8Wire, CRM):
    """The CRM interface over SuiteCRM's V8 JSON:API (OAuth2). See the module docstring for the quirks.

    ``url`` is SuiteCRM's base URL (``https://crm.example.com``); ``grant`` is ``client_credentials`` or
    ``password`` (then ``username``/``password`` are required). ``clock`` (seconds, like ``time.time``)
    and ``sleep`` are injectable for tests; ``refresh_margin`` is how many seconds before expiry the token
    is renewed. ``link_modules`` (``{"Accounts": {"member_of": "Accounts"}}``) names the module behind links
    that V8's answers hide: V8 lists a record's relationships keyed by *module*, so of several links to the
    same module only one is visible.
    """

    name = "v8"
    #: Not: include_deleted, filter_in (of several values), filter_null, filter_nested, order_multi (all
    #: refused with Unsupported before any request); datetime_seconds (V8 answers :00), batch_save (one
    #: request per record), server_version, nul_values (SuiteCRM drops NUL on save: refused).
    capabilities = CRM.capabilities

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        grant: str = "client_credentials",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        page_size: int = 100,
        verify: bool | str = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        refresh_margin: float = 30.0,
        session: requests.Session | None = None,
        link_modules: Mapping[str, Mapping[str, str]] | None = None,
    ):
        if grant not in ("client_credentials", "password"):
            raise ValueError(f"V8 grant must be 'client_credentials' or 'password', not {grant!r}")
        if grant == "password" and (not username or not password):
            raise ValueError("V8 grant 'password' needs username and password")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if not re.match(r"^https?://[^/\s]+", url or ""):
            raise ValueError(f"V8 url must be an http(s):// URL, got {url!r}")
        self.base_url = url.rstrip("/")
        self.client_id = client_id
        self.grant = grant
        self.username = username
        self.page_size = page_size
        self.clock = clock
        self.refresh_margin = refresh_margin
        self._session = session or make_session(timeout=timeout, verify=verify)
        self._retry = RetryPolicy(retries=retries, sleep=sleep)
        self._init_wire(client_secret, password)
        self._fields: dict[str, dict[str, FieldInfo]] = {}
        self._links: dict[str, dict[str, str]] = {}
        self._link_rels: dict[str, dict[str, str]] = {}  # module -> link -> relationship (meta/fields)
        self._module_names: list[str] | None = None
        # module -> link -> related module, for links V8 does not name (see _link_module)
        self._link_overrides = {m: dict(links) for m, links in (link_modules or {}).items()}

    @classmethod
    def from_settings(cls, s: Any, **kwargs: Any) -> V8CRM:
        """Build from ``SuiteCRMSettings`` (``suitecrm.v8`` must be configured)."""
        v8 = s.v8
        if v8 is None:
            raise ValueError("suitecrm.v8 is not configured (client_id, client_secret)")
        return cls(
            s.url, v8.client_id, v8.client_secret.get_secret_value(), grant=v8.grant,
            username=v8.username, password=v8.password.get_secret_value() if v8.password else None,
            timeout=s.timeout, retries=s.retries, page_size=v8.page_size, verify=s.verify_tls, **kwargs,
        )

    def __repr__(self) -> str:
        return f"V8CRM({self.base_url!r}, client_id={self.client_id!r}, grant={self.grant!r})"

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _path_name(value: str, what: str) -> str:
        if not isinstance(value, str) or not _NAME_RE.match(value):
            raise ValueError(f"bad {what} name {value!r}")
        return value

    @staticmethod
    def _path_id(value: str) -> str:
        if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
            raise NotFound(f"bad record id {value!r}", transport="v8")
        return quote(value, safe="")

    def _record(self, module: str, item: Mapping[str, Any], fields: Sequence[str] | None) -> Record:
        meta = self._fields.get(module, {})
        attrs = item.get("attributes") or {}
        rid = str(item.get("id"))
        names = list(attrs) if fields is None else [f for f in fields if f != "id"]
        values = {}
        for n in names:
            info = meta.get(n)
            values[n] = _v8_value(info.type if info else GUESSED_TYPES.get(n), attrs.get(n, ""))
        if fields is None or "id" in fields:
            values["id"] = rid
        return Record(module=module, id=rid, values=values, deleted=bool(values.get("deleted", False)))

    def _check_names(self, module: str, names: Sequence[str], what: str, *, db_only: bool = False) -> None:
        """Unknown (or, for filters/order, non-db) fields → ValidationError before anything is sent."""
        meta = self.fields(module)
        unknown = [n for n in names if n not in meta]
        if unknown:
            raise ValidationError(f"{module} has no field(s) {', '.join(map(repr, unknown))} (in {what})",
                                  fields=unknown, transport=self.name, module=module)
        if db_only:
            non_db = [n for n in names if meta[n].source == "non-db"]
            if non_db:
                raise ValidationError(
                    f"{module} field(s) {', '.join(map(repr, non_db))} are not stored in the database "
                    f"(non-db) and cannot be used in {what}", fields=non_db, transport=self.name,
                    module=module)

    def _fields_param(self, module: str, fields: Sequence[str] | None) -> dict[str, str]:
        if fields is None:
            return {}
        if isinstance(fields, str):
            raise TypeError("fields must be a list of field names, not a string")
        self._check_names(module, list(fields), "fields")
        wanted = [f for f in fields if f != "id"]
        return {f"fields[{module}]": ",".join(wanted) if wanted else "id"}

    # --- the interface ----------------------------------------------------------------------

    def get(self, module: str, id: str, fields: Sequence[str] | None = None) -> Record:
        """One record (``GET /module/{module}/{id}``); NotFound when missing or deleted."""
        module = self._path_name(module, "module")
        params = self._fields_param(module, fields)
        self.fields(module)
        data, _ = self._api("GET", f"module/{module}/{self._path_id(id)}", params=params or None,
                            module=module)
        item = data.get("data") if isinstance(data, dict) else None
        if not isinstance(item, dict) or not item.get("id"):
            raise ProtocolError(f"V8 GET {module}/{id}: no data object", excerpt=json.dumps(data)[:500],
                                transport=self.name, module=module)
        return self._record(module, item, fields)

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
        """Matching records, ``page[number]`` 1, 2, … until ``meta.total-pages`` (one sort field at most)."""
        module = self._path_name(module, "module")
        if include_deleted:
            raise Unsupported("V8 cannot list deleted records (filter[deleted] answers 400); "
                              "use the rest or mysql transport for include_deleted", transport=self.name,
                              module=module)
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        params = self._list_params(module, where, fields, order)
        if params is None or limit == 0:
            return iter(())
        return self._pages(module, params, fields, limit)

    def _list_params(self, module, where, fields, order) -> dict[str, str] | None:
        keys = parse_order(order, is_name=_is_name)
        if len(keys) > 1:  # refused before any request (no metadata needed to know)
            raise Unsupported(f"V8 sorts by one field only; got {', '.join(k for k, _ in keys)}",
                              transport=self.name, module=module)
        compile_filter(where)  # what V8 cannot express is refused before any request, too
        flt = compile_filter(where, self.fields(module))
        if flt is None:
            return None
        names = sorted({k.split("][")[0][len("filter["):] for k in flt if k != "filter[operator]"})
        if names:
            self._check_names(module, names, "filter", db_only=True)
        params: dict[str, str] = dict(flt)
        params.update(self._fields_param(module, fields))
        if keys:
            self._check_names(module, [keys[0][0]], "order", db_only=True)
            params["sort"] = ("-" if keys[0][1] else "") + keys[0][0]
        else:
            params["sort"] = "id"  # a stable order, or offset pages may skip or repeat rows
        return params

    def _pages(self, module: str, base: dict[str, str], fields, limit: int | None) -> Iterator[Record]:
        """Pages until a short one, complete on ties of the sort key (see :mod:`.v8_paging`)."""
        size = self.page_size if limit is None else min(self.page_size, limit)
        key = base.get("sort", "id").lstrip("-")
        wanted = None if fields is None else list(fields)
        if wanted is not None and key not in wanted and key != "id":
            # the sort key must come back to see ties; it is left out of the records again
            base = {**base, f"fields[{module}]": base.get(f"fields[{module}]", "id") + "," + key}

        def fetch(params: Mapping[str, str]) -> tuple[list[Record], int | None]:
            data, _ = self._api("GET", f"module/{module}", params=params, module=module)
            items = data.get("data") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise ProtocolError(f"V8 list {module}: data is not a list", excerpt=json.dumps(data)[:500],
                                    transport=self.name, module=module)
            total = (data.get("meta") or {}).get("total-pages")
            want = None if wanted is None else [*wanted, key]
            return ([self._record(module, item, want) for item in items],
                    int(total) if isinstance(total, (int, str)) and str(total).isdigit() else None)

        for rec in read_complete(fetch, base, size=size, key=key, limit=limit, module=module):
            if wanted is not None and key not in wanted:
                rec.values.pop(key, None)
            yield rec

    def count(self, module: str, where: Where = None, *, include_deleted: bool = False) -> int:
        """``page[size]=1`` and read ``meta.total-pages`` (V8 has no count call).

        Where a SuiteCRM answers records but no total (``total-pages`` 0 with a filter, SuiteCRM #9760)
        the ids are paged through and counted instead. ``total-pages`` counts records the user's role may
        not list (#8653): with such a role, count through rest or mysql.
        """
        module = self._path_name(module, "module")
        if include_deleted:
            raise Unsupported("V8 cannot count deleted records", transport=self.name, module=module)
        params = self._list_params(module, where, ["id"], None)
        if params is None:
            return 0
        params = {"page[size]": "1", "page[number]": "1", **params}
        data, _ = self._api("GET", f"module/{module}", params=params, module=module)
        if not data.get("data"):
            return 0
        total = (data.get("meta") or {}).get("total-pages")
        if isinstance(total, int) and total > 0:
            return total
        log.info("V8 list %s answered no total-pages (SuiteCRM #9760); counting by paging", module)
        base = {k: v for k, v in params.items() if not k.startswith("page[")}
        return sum(1 for _ in self._pages(module, base, ["id"], None))

    def _attributes(self, module: str, values: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        if not isinstance(values, Mapping):
            raise ValidationError(f"{module} {where or 'values'}: values must be a mapping of field → value",
                                  transport=self.name, module=module)
        names = [k for k in values if k != "id"]
        self._check_names(module, names, where or "values")
        bad = [k for k, v in values.items() if isinstance(v, (dict, list, set, tuple))]
        if bad:
            raise ValidationError(f"{module}: structured values are not supported for {', '.join(bad)}",
                                  fields=bad, transport=self.name, module=module)
        refuse_unstorable(values, module=module, transport=self.name, where=where)
        warn_overlong(values, self.fields(module), module=module, transport=self.name, where=where)
        return {k: to_crm(values[k]) for k in names}

    def save(self, module: str, values: Mapping[str, Any]) -> str:
        """Create (POST, with an id chosen here) or update (PATCH) a record; returns its id.

        Duplicates: a create sends a new SuiteCRM-style id it generated itself, so when an answer is lost
        and the POST is retried, SuiteCRM answers "Bean … is already exist" — which here means our first
        attempt was stored, and is treated as success. A second record is never created.
        """
        module = self._path_name(module, "module")
        attrs = self._attributes(module, values)
        return self._save(module, values.get("id"), attrs)

    def _check_id(self, module: str, rid: Any) -> str:
        if not isinstance(rid, str) or not rid:
            raise ValidationError(f"{module}: id must be a non-empty string", fields=["id"],
                                  transport=self.name, module=module)
        return rid

    def _save(self, module: str, rid: Any, attrs: dict[str, Any]) -> str:
        delete = False
        if rid is not None:
            self._check_id(module, rid)
            if str(attrs.get("deleted", "0")) == "1":
                attrs.pop("deleted")
                delete = True
            for stamp in ("date_modified",):
                attrs.pop(stamp, None)
            if attrs or not delete:
                body = {"data": {"type": module, "id": rid, "attributes": attrs}}
                self._api("PATCH", "module", body=body, ok=(200, 201), module=module)
            if delete:
                self.delete(module, rid)
            return rid
        rid = new_guid()
        attrs.pop("date_modified", None)
        body = {"data": {"type": module, "id": rid, "attributes": attrs}}
        try:
            self._api("POST", "module", body=body, ok=(200, 201), module=module)
        except _AlreadyExists:
            log.info("V8 create %s %s: already stored by an earlier attempt (retry after a lost answer)",
                     module, rid)
        return rid

    def save_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Every row checked first (a bad row sends nothing), then one call per row (V8 has no bulk call)."""
        module = self._path_name(module, "module")
        prepared = [self._attributes(module, row, f"row {i}") for i, row in enumerate(rows)]
        for row in rows:  # every updated record must exist before anything is written
            if row.get("id") is not None:
                self.get(module, self._check_id(module, row["id"]), ["id"])
        return [self._save(module, row.get("id"), attrs) for row, attrs in zip(rows, prepared, strict=True)]

    def delete(self, module: str, id: str) -> None:
        """``DELETE /module/{module}/{id}`` (soft delete). A retried DELETE whose first try landed is fine."""
        module = self._path_name(module, "module")
        path = f"module/{module}/{self._path_id(id)}"
        try:
            self._api("DELETE", path, module=module)
        except NotFound as exc:
            # A retried DELETE (first answer lost) finds the record already deleted - by our first try.
            if getattr(exc, "attempts", 1) > 1:
                return
            raise

    def _link_module(self, module: str, id: str, link: str) -> str:
        """The module on the other side of ``module.link``, from a record's ``relationships`` links."""
        self._path_name(link, "link")
        if link in self._link_overrides.get(module, {}):
            return self._link_overrides[module][link]
        links = self._links.get(module)
        if links is None or link not in links:
            data, _ = self._api("GET", f"module/{module}/{self._path_id(id)}",
                                params={f"fields[{module}]": "id"}, module=module)
            rels = (data.get("data") or {}).get("relationships") or {}
            links = {}
            for other, spec in rels.items():
                related = ((spec or {}).get("links") or {}).get("related") or ""
                name = related.rsplit("/relationships/", 1)[-1] if "/relationships/" in related else ""
                if name:
                    links[name] = other
            self._links[module] = links
        if link not in links:
            info = self.fields(module).get(link)
            guessed = self._module_of_relationship(module, self._link_rels.get(module, {}).get(link),
                                                   set(links.values()) | set(self._known_modules()))
            if info is not None and info.type == "link" and guessed:
                links[link] = guessed
                return guessed
            if info is not None and info.type == "link":
                raise Unsupported(
                    f"V8 does not say which module {module}.{link} points to (its answers list one link per "
                    f"related module); name it in link_modules={{{module!r}: {{{link!r}: 'Module'}}}}",
                    transport=self.name, module=module)
            known = ", ".join(sorted(links)) or "none"
            raise ValidationError(f"{module} has no link {link!r} (links: {known})",
                                  fields=[link], transport=self.name, module=module)
        return links[link]

    def _known_modules(self) -> list[str]:
        if self._module_names is None:
            self._module_names = self.modules()
        return self._module_names

    @staticmethod
    def _module_of_relationship(module: str, relationship: str | None, related: set[str]) -> str | None:
        """The module a link points to, from its relationship's name (``accounts_contacts`` on Contacts →
        Accounts; V8 leaves Accounts out of a Contact's relationships): only when exactly one fits."""
        if not relationship:
            return None
        words = set(relationship.lower().split("_"))
        fits = [m for m in related if m.lower() in words and m != module]
        return fits[0] if len(fits) == 1 else None

    def relate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """``POST /module/{module}/{id}/relationships/{link}`` per related id; relating twice is harmless."""
        module = self._path_name(module, "module")
        ids = [other_ids] if isinstance(other_ids, str) else list(other_ids)
        other = self._link_module(module, id, link)
        for oid in ids:
            self._path_id(oid)
            body = {"data": {"type": other, "id": oid}}
            self._api("POST", f"module/{module}/{self._path_id(id)}/relationships/{link}", body=body,
                      ok=(200, 201), module=module)

    def unrelate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """``DELETE …/relationships/{link}/{other_id}``; removing what is not related is harmless."""
        module = self._path_name(module, "module")
        ids = [other_ids] if isinstance(other_ids, str) else list(other_ids)
        self._link_module(module, id, link)
        for oid in ids:
            try:
                self._api("DELETE", f"module/{module}/{self._path_id(id)}/relationships/{link}/"
                          f"{self._path_id(oid)}", module=module)
            except _NotRelated:
                pass

    def related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None = None
    ) -> Iterator[Record]:
        """``GET …/relationships/{link}``; records sorted by id."""
        module = self._path_name(module, "module")
        other = self._link_module(module, id, link)
        if fields is not None:
            self._check_names(other, list(fields), "fields")
        self.fields(other)
        out: dict[str, Record] = {}
        number = 1
        while True:
            data, _ = self._api("GET", f"module/{module}/{self._path_id(id)}/relationships/{link}",
                                params={"page[size]": str(self.page_size), "page[number]": str(number)},
                                module=module)
            items = data.get("data") or []
            for item in items:
                if not item.get("attributes"):  # older V8: type + id only
                    out[str(item["id"])] = self.get(other, str(item["id"]), fields)
                else:
                    out[str(item["id"])] = self._record(other, item, fields)
            total = (data.get("meta") or {}).get("total-pages")
            if not items or total is None or number >= int(total):
                break
            number += 1
        return iter(sorted(out.values(), key=lambda r: r.id))

    def fields(self, module: str) -> dict[str, FieldInfo]:
        """``GET /meta/fields/{module}`` → FieldInfo per field (cached; V8 gives no labels or options)."""
        module = self._path_name(module, "module")
        if module not in self._fields:
            try:
                data, _ = self._api("GET", f"meta/fields/{module}", module=module)
            except ValidationError as exc:
                if "Not Allowed" not in str(exc):
                    raise
                # the real V8 answers an unknown module here with "[Not Allowed] The API user does not
                # have access to this module" (400), as it does a module the user may not access
                raise NotFound(f"V8: module {module!r} does not exist or the API user may not access it "
                               f"({exc})", transport=self.name, module=module) from None
            attrs = ((data.get("data") or {}).get("attributes")) if isinstance(data, dict) else None
            if not isinstance(attrs, dict) or not attrs:
                raise NotFound(f"V8 has no field metadata for module {module!r}", transport=self.name,
                               module=module)
            out = {}
            self._link_rels[module] = {n: str(v.get("relationship") or "") for n, v in attrs.items()
                                       if isinstance(v, dict) and v.get("type") == "link"}
            for name, spec in attrs.items():
                spec = spec if isinstance(spec, dict) else {}
                length = spec.get("len")
                out[name] = FieldInfo(
                    name=name, type=str(spec.get("type") or ""), label="",
                    required=bool(spec.get("required")),
                    options=tuple(spec.get("options") or ()) if isinstance(spec.get("options"), list) else (),
                    length=int(length) if str(length or "").isdigit() else None,
                    source=str(spec.get("source") or ""),
                )
            self._fields[module] = out
        return dict(self._fields[module])

    def modules(self) -> list[str]:
        """``GET /meta/modules``: the modules the user can access."""
        data, _ = self._api("GET", "meta/modules")
        attrs = ((data.get("data") or {}).get("attributes")) if isinstance(data, dict) else None
        if not isinstance(attrs, dict):
            raise ProtocolError("V8 meta/modules: no attributes", excerpt=json.dumps(data)[:500],
                                transport=self.name)
        return sorted(attrs)

    def server_info(self) -> dict[str, Any]:
        """V8 does not report the SuiteCRM version; says which API answered."""
        return {"api": "V8 JSON:API"}

    def close(self) -> None:
        """``POST /Api/V8/logout`` when a token is held (revokes it); errors are ignored."""
        if self._access is None:
            return
        try:
            self._api("POST", "logout")
        except Exception as exc:  # closing must not fail the caller
            log.debug("V8 logout failed: %s", self._scrub(str(exc)))
        finally:
            self._access = None
            self._refresh = None


__all__ = ["V8CRM", "V8_OPS", "compile_filter"]
