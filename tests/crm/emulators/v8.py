"""A stateful emulator of SuiteCRM 7.14.6's V8 JSON:API, for ``responses``.

Data lives in a :class:`~suitecrm_ext.crm.fake.FakeCRM`; the emulator answers in exactly the shapes
recorded from a real 7.14.6 (tests/fixtures/v8/*.json, checked by tests/crm/test_v8_emulator.py):
OAuth2 ``/Api/access_token`` (client_credentials, password, refresh_token; the 500 ``unknown_error``
echoing a bad password), 401 ``access_denied`` hints, ``errors`` as an object with 400 for missing ids and
modules, string attributes with datetimes truncated to ``:00``, ``page[size]``/``page[number]`` with
``meta.total-pages`` and the ``next`` link quirk, create/update answering 201, string values through
SuiteCRM's ``to_html()``, and — as on the real one — records that tie on the sort key in an order of
their own on every page (:attr:`unstable_ties`).

Test knobs: :attr:`clock` (seconds; tokens expire by it), :meth:`revoke_tokens`, :meth:`fail_next`
(answer the next API calls with an HTTP status), :meth:`lose_next_answer` (do the work, then drop the
connection, as when a reply is lost), :attr:`requests` (every request seen: method, path, query dict).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses
from crm.emulators.rest import to_html

from suitecrm_ext.crm.base import Cond, Filter, NotFound, ValidationError
from suitecrm_ext.crm.fake import FakeCRM

JSONAPI = "application/vnd.api+json"
OBJECT_NAMES = {
    "Accounts": "Account", "Contacts": "Contact", "Cases": "Case", "Documents": "Document",
    "Tasks": "Task", "Users": "User", "Notes": "Note", "Emails": "Email",
    "SecurityGroups": "SecurityGroup", "ACLRoles": "ACLRole",
}
ACCESS = ["access", "delete", "edit", "export", "import", "list", "massupdate", "view"]
OPS = {"eq", "neq", "gt", "gte", "lt", "lte", "like"}


def object_name(module: str) -> str:
    """SuiteCRM's bean object name (the JSON:API ``type`` in answers): singular."""
    return OBJECT_NAMES.get(module) or (module[:-1] if module.endswith("s") else module)


class V8Emulator:
    """SuiteCRM V8 API over a FakeCRM. ``install(rsps)`` registers it on a ``responses`` mock."""

    def __init__(
        self,
        crm: FakeCRM | None = None,
        *,
        base_url: str = "http://suitecrm.test",
        client_id: str = "43345fd2-3a97-4152-9b8a-85e53478dac9",
        client_secret: str = "client-secret-123",
        username: str = "admin",
        password: str = "s3cr3t-Pa55",
        password_grant: bool = True,
        token_ttl: int = 3600,
        clock: Callable[[], float] | None = None,
    ):
        self.crm = crm or FakeCRM()
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.password_grant = password_grant
        self.token_ttl = token_ttl
        self.now = 1_795_411_523.5
        #: as the real one: records tying on the one sort key come in a per-page order (see _shuffle_ties)
        self.unstable_ties = True
        self.clock: Callable[[], float] = clock or (lambda: self.now)
        self.tokens: dict[str, float] = {}  # access token -> expiry
        self.revoked: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.token_requests: list[str] = []  # grant types asked for
        self._fail: list[tuple[Any, str | None]] = []
        self._lose: list[str] = []

    # --- knobs ---------------------------------------------------------------------------

    def revoke_tokens(self) -> None:
        """Every access token issued so far becomes revoked (as after logout)."""
        self.revoked.update(self.tokens)

    def fail_next(self, *statuses: int, retry_after: str | None = None) -> None:
        """The next API calls (not token calls) answer these HTTP statuses, one each (+ Retry-After)."""
        self._fail.extend((status, retry_after) for status in statuses)

    def drop_next(self, count: int = 1) -> None:
        """The next API calls fail with a connection error before reaching SuiteCRM."""
        self._fail.extend(("drop", None) for _ in range(count))

    def lose_next_answer(self, method: str) -> None:
        """The next ``method`` API call is carried out, then its answer is lost (ConnectionError)."""
        self._lose.append(method.upper())

    # --- wiring --------------------------------------------------------------------------

    def install(self, rsps: responses.RequestsMock) -> V8Emulator:
        """Register callbacks for every method under ``{base_url}/Api/``."""
        pattern = re.compile(re.escape(self.base_url) + r"/Api/.*")
        for method in ("GET", "POST", "PATCH", "DELETE"):
            rsps.add_callback(method, pattern, callback=self._dispatch)
        return self

    def _dispatch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        path = parts.path[len("/Api/"):] if parts.path.startswith("/Api/") else parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.requests.append((request.method, path, query))
        body: Any = None
        if request.body:
            raw = request.body.decode() if isinstance(request.body, bytes) else request.body
            try:
                body = json.loads(raw)
            except ValueError:
                return _json(400, {"errors": {"status": 400, "title": None, "detail": "Syntax error"}})
        if path == "access_token" and request.method == "POST":
            return self._token(body or {})
        if not path.startswith("V8/"):
            return _json(404, {"message": "Not found"}, "application/json")
        denied = self._check_token(request.headers.get("Authorization", ""))
        if denied:
            return denied
        if self._fail:
            status, retry_after = self._fail.pop(0)
            if status == "drop":
                raise requests.ConnectionError("connection refused (emulated)")
            headers = {"Content-Type": "text/html"}
            if retry_after is not None:
                headers["Retry-After"] = retry_after
            return status, headers, f"<h1>{status}</h1>"
        answer = self._route(request.method, path[len("V8/"):], query, body, request)
        if self._lose and self._lose[0] == request.method:
            self._lose.pop(0)
            raise requests.ConnectionError("connection reset by peer (answer lost)")
        return answer

    # --- OAuth2 --------------------------------------------------------------------------

    def _token(self, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        grant = body.get("grant_type")
        self.token_requests.append(str(grant))
        bad_client = {"error": "invalid_client", "error_description": "Client authentication failed",
                      "message": "Client authentication failed"}
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return _json(401, bad_client, "application/json")
        refresh = None
        if grant == "client_credentials":
            pass
        elif grant == "password":
            if not self.password_grant:
                return _json(401, bad_client, "application/json")
            if body.get("username") != self.username or body.get("password") != self.password:
                msg = f"The password is invalid: {body.get('password')}"  # yes, SuiteCRM echoes it
                return _json(500, {"error": "unknown_error", "error_description": msg, "message": msg},
                             "application/json")
            refresh = "def50200" + secrets.token_hex(64)
        elif grant == "refresh_token":
            if body.get("refresh_token") not in self.refresh_tokens:
                return _json(401, {"error": "invalid_request",
                                   "error_description": "The refresh token is invalid.",
                                   "hint": "Token has been revoked",
                                   "message": "The refresh token is invalid."}, "application/json")
            self.refresh_tokens.discard(body["refresh_token"])
            refresh = "def50200" + secrets.token_hex(64)
        else:
            return _json(400, {"error": "unsupported_grant_type",
                               "error_description": "The authorization grant type is not supported by the "
                                                    "authorization server.",
                               "message": "The authorization grant type is not supported by the "
                                          "authorization server."}, "application/json")
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(48) + "." + \
            secrets.token_urlsafe(64)
        self.tokens[token] = self.clock() + self.token_ttl
        out: dict[str, Any] = {"token_type": "Bearer", "expires_in": self.token_ttl, "access_token": token}
        if refresh:
            self.refresh_tokens.add(refresh)
            out["refresh_token"] = refresh
        return 200, {"Content-Type": "application/json; charset=UTF-8", "Cache-Control": "no-store",
                     "Pragma": "no-cache"}, json.dumps(out)

    def _check_token(self, header: str) -> tuple[int, dict[str, str], str] | None:
        token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
        if token.count(".") != 2:
            hint = "The JWT string must have two dots"
        elif token not in self.tokens:
            hint = "Access token could not be verified"
        elif token in self.revoked:
            hint = "Access token has been revoked"
        elif self.clock() >= self.tokens[token]:
            hint = "Access token is invalid"
        else:
            return None
        denied = "The resource owner or authorization server denied the request."
        return _json(401, {"error": "access_denied", "error_description": denied, "hint": hint,
                           "message": denied}, "application/json")

    # --- routes --------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, request) -> tuple:
        seg = path.split("/")
        try:
            if method == "GET" and path == "meta/modules":
                return self._meta_modules()
            if method == "GET" and len(seg) == 3 and seg[:2] == ["meta", "fields"]:
                return self._meta_fields(seg[2])
            if method == "POST" and path == "logout":
                auth = request.headers.get("Authorization", "")[len("Bearer "):]
                self.revoked.add(auth)
                return _json(200, {"meta": {"message": "You have been successfully logged out"}, "data": []})
            if seg[0] == "module":
                if len(seg) == 1 and method == "POST":
                    return self._create(body)
                if len(seg) == 1 and method == "PATCH":
                    return self._update(body)
                if len(seg) == 2 and method == "GET":
                    return self._list(seg[1], query, path)
                if len(seg) == 3 and method == "GET":
                    return self._get(seg[1], seg[2], query)
                if len(seg) == 3 and method == "DELETE":
                    return self._delete(seg[1], seg[2])
                if len(seg) == 5 and seg[3] == "relationships" and method == "GET":
                    return self._rel_get(seg[1], seg[2], seg[4], query)
                if len(seg) == 5 and seg[3] == "relationships" and method == "POST":
                    return self._rel_add(seg[1], seg[2], seg[4], body)
                if len(seg) == 6 and seg[3] == "relationships" and method == "DELETE":
                    return self._rel_delete(seg[1], seg[2], seg[4], seg[5])
        except _Bad as exc:
            return _error(exc.detail, exc.content_type)
        return _json(404, {"message": "Not found"}, "application/json")

    def _module(self, module: str) -> None:
        try:
            self.crm.fields(module)
        except NotFound:
            raise _Bad(f"Module {module} does not exist", "application/json") from None

    def _row(self, module: str, rid: str, include_deleted: bool = False):
        self._module(module)
        try:
            return self.crm.get(module, rid)
        except NotFound:
            recs = [r for r in self.crm.records(module) if r.id == rid] if include_deleted else []
            if not recs:
                raise _Bad(f"{module} module with id {rid} is not found") from None
            return recs[0]

    def attributes(self, module: str, rec, fields: list[str] | None = None) -> dict[str, Any]:
        """A record's V8 attributes: every field as a string, datetimes ISO with seconds at :00."""
        meta = self.crm.fields(module)
        out: dict[str, Any] = {}
        for name, info in meta.items():
            if name == "id" or (fields is not None and name not in fields):
                continue
            out[name] = v8_string(info.type, rec.values.get(name))
        return out

    def relationships(self, module: str, rid: str, prefix: str) -> dict[str, Any]:
        """``relationships``: one entry per related *module* (a later link to the same module wins)."""
        out: dict[str, Any] = {}
        for link, other in sorted(self.crm.links(module).items()):
            out[other] = {"links": {"related": f"{prefix}/{rid}/relationships/{link}"}}
        return dict(sorted(out.items()))

    def resource(self, module: str, rec, fields=None, prefix: str | None = None) -> dict[str, Any]:
        """One record as V8 serialises it."""
        return {"type": object_name(module), "id": rec.id, "attributes": self.attributes(module, rec, fields),
                "relationships": self.relationships(module, rec.id, prefix or f"V8/module/{module}")}

    def _fields_param(self, module: str, query: dict[str, str]) -> list[str] | None:
        raw = query.get(f"fields[{module}]")
        return None if raw is None else [f for f in raw.split(",") if f]

    def _meta_modules(self):
        attrs = {m: {"label": m, "access": list(ACCESS)} for m in self.crm.modules()}
        return _json(200, {"data": {"type": "modules", "attributes": attrs}})

    def _meta_fields(self, module: str):
        try:
            self.crm.fields(module)
        except NotFound:  # recorded live: not "does not exist" here, but the access refusal
            raise _Bad("[SuiteCRM] [Not Allowed] The API user does not have access to this module.",
                       "application/json") from None
        links = self.crm._links.get(module, {})  # noqa: SLF001 - the relationship name of each link
        attrs = {}
        for name, info in self.crm.fields(module).items():
            spec: dict[str, Any] = {"type": info.type, "required": info.required, "dbType": info.type}
            if name in links:
                spec["relationship"] = links[name].rel.name
            if info.length:
                spec["len"] = info.length
            if info.source:
                spec["source"] = info.source
            attrs[name] = spec
        return _json(200, {"data": {"type": "fields", "attributes": attrs}})

    def _get(self, module: str, rid: str, query: dict[str, str]):
        rec = self._row(module, rid)
        return _json(200, {"data": self.resource(module, rec, self._fields_param(module, query))})

    def _parse_filter(self, module: str, query: dict[str, str]):
        operator = "and"
        conds: list[Cond] = []
        deleted = False
        meta = self.crm.fields(module)
        for key, value in query.items():
            if not key.startswith("filter["):
                continue
            if key == "filter[operator]":
                if value.lower() not in ("and", "or"):
                    raise _Bad(f"Filter operator {value} is invalid")
                operator = value.lower()
                continue
            m = re.fullmatch(r"filter\[([^\]]+)\]\[([^\]]+)\]", key)
            if not m:
                raise _Bad(f"Filter field {key[7:-1]} must be an array")
            fname, op = m.groups()
            if fname == "deleted":
                deleted = op == "eq" and value == "1"
                continue
            if fname not in meta:
                raise _Bad(f"Filter field {fname} in {object_name(module)} module is not found",
                           "application/json")
            if op.lower() not in OPS:
                raise _Bad(f"Filter operator {op} is invalid", "application/json")
            conds.append(Cond(fname, op.lower(), value))
        return (Filter(operator, tuple(conds)) if conds else None), deleted

    def _list(self, module: str, query: dict[str, str], path: str):
        self._module(module)
        where, deleted = self._parse_filter(module, query)
        sort = query.get("sort")
        if sort:
            name = sort.lstrip("-")
            if name not in self.crm.fields(module):
                raise _Bad(f"Sort field {name} in {object_name(module)} module is not found")
        try:
            size = int(query.get("page[size]", "-1"))
            number = int(query.get("page[number]", "0"))
        except ValueError:
            raise _Bad('The option "page" with value array is invalid.', "application/json") from None
        key = sort.lstrip("-") if sort else None
        try:  # ids in order first; full records only for the page served
            rows = list(self.crm.find(module, where, ["id", "deleted"] + ([key] if key else []),
                                      order=sort or None, include_deleted=deleted))
        except ValidationError as exc:
            raise _Bad(str(exc)) from None
        if key and key != "id" and self.unstable_ties and size > 0:
            rows = _shuffle_ties(rows, key, (max(number, 1) - 1) * size + size)
        if deleted:
            rows = [r for r in rows if r.deleted]
            if rows:  # SuiteCRM re-reads each bean with getBeanSafe, which refuses deleted ones
                raise _Bad(f"{module} module with id {rows[0].id} is not found")
        total = len(rows)
        if size > 0:
            offset = (number - 1) * size if number > 0 else 0
            page = rows[offset:offset + size]
        else:
            page = rows
        fields = self._fields_param(module, query)
        page = [self.crm.get(module, r.id) for r in page]
        body: dict[str, Any] = {"data": [self.resource(module, r, fields) for r in page]}
        if page and size > 0:
            pages = math.ceil(total / size)
            body = {"meta": {"total-pages": pages, "records-on-this-page": len(page)}, **body}
            body["links"] = self._links(path, query, number, pages)
        return _json(200, body)

    @staticmethod
    def _links(path: str, query: dict[str, str], number: int, pages: int) -> dict[str, Any]:
        def link(n: int) -> str:
            q = {"page[size]": query["page[size]"], "page[number]": str(n)}
            q.update({k: v for k, v in query.items() if not k.startswith("page[")})
            return "V8/" + path + "?" + "&".join(f"{k}={v}" for k, v in q.items())

        return {
            "first": link(1) if number > 1 else None,
            "prev": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < pages else None,  # number 0 → "next" is page 1
            "last": link(pages),
        }

    def _create(self, body: Any):
        data = (body or {}).get("data") or {}
        module = data.get("type")
        if not module:
            raise _Bad('The required option "type" is missing.', "application/json")
        self._module(module)
        rid = data.get("id")
        attrs = dict(data.get("attributes") or {})
        self._check_attrs(module, attrs)
        if rid is not None:
            try:
                new = self.crm.insert(module, {"id": rid, **attrs})
            except ValidationError as exc:
                if "already exists" not in str(exc):  # a value SuiteCRM would have stored anyway
                    raise _Bad(str(exc)) from None
                # the id is stored already (deleted rows count too)
                raise _Bad(f"Bean {module} with id {rid} is already exist") from None
        else:
            new = self.crm.save(module, attrs)
        rec = self._row(module, new)
        return _json(201, {"data": self.resource(module, rec, None, prefix="V8/module")})

    def _check_attrs(self, module: str, attrs: dict[str, Any]) -> None:
        meta = self.crm.fields(module)
        for name in attrs:
            if name not in meta:
                raise _Bad(f"Property {name} in {object_name(module)} module is invalid", "application/json")

    def _update(self, body: Any):
        data = (body or {}).get("data") or {}
        module = data.get("type")
        if not module:
            raise _Bad('The required option "type" is missing.', "application/json")
        if not data.get("id"):
            raise _Bad('The required option "id" is missing.', "application/json")
        self._row(module, data["id"])
        attrs = dict(data.get("attributes") or {})
        self._check_attrs(module, attrs)
        self.crm.save(module, {**attrs, "id": data["id"]})
        rec = self._row(module, data["id"], include_deleted=True)
        return _json(201, {"data": self.resource(module, rec, None, prefix="V8/module")})

    def _delete(self, module: str, rid: str):
        self._row(module, rid)
        self.crm.delete(module, rid)
        return _json(200, {"meta": {"message": f"Record with id {rid} is deleted"}, "data": []})

    def _link_end(self, module: str, link: str) -> str:
        links = self.crm.links(module)
        if link not in links:
            raise _Bad(f"Link field {link} is not found in {object_name(module)} module")
        return links[link]

    def _rel_get(self, module: str, rid: str, link: str, query: dict[str, str]):
        self._row(module, rid)
        other = self._link_end(module, link)
        recs = list(self.crm.related(module, rid, link))
        if not recs:
            return _json(200, {"meta": {"message": f"There is no relationship set in {object_name(module)} "
                                                   f"module with {link} link field"}, "data": []})
        size = int(query.get("page[size]", "20") or 20)
        number = max(1, int(query.get("page[number]", "1") or 1))
        page = recs[(number - 1) * size:number * size]
        data = [{"type": object_name(other), "id": r.id, "attributes": self.attributes(other, r),
                 "links": {"self": f"V8/module/{object_name(other)}/{r.id}"}} for r in page]
        meta = {"total-records": len(recs), "total-pages": math.ceil(len(recs) / size),
                "records-on-this-page": len(page)}
        return _json(200, {"meta": meta, "data": data})

    def _rel_add(self, module: str, rid: str, link: str, body: Any):
        self._row(module, rid)
        self._link_end(module, link)
        data = (body or {}).get("data") or {}
        other_type, oid = data.get("type"), data.get("id")
        if not other_type:
            raise _Bad('The required option "type" is missing.', "application/json")
        self._row(other_type, oid)
        self.crm.relate(module, rid, link, [oid])
        meta = {
            "message": f"{other_type} record with id {oid} has been related to {module} record with id {rid} "
                       f"using link {link}",
            "sourceModule": module, "sourceModuleLabel": module, "sourceId": rid,
            "relatedModule": other_type, "relatedModuleLabel": other_type, "relatedId": oid,
            "relationshipLink": link,
        }
        return _json(201, {"meta": meta, "data": []})

    def _rel_delete(self, module: str, rid: str, link: str, oid: str):
        self._row(module, rid)
        other = self._link_end(module, link)
        if not any(r.id == oid for r in self.crm.related(module, rid, link)):
            raise _Bad(f"Module with {oid} id is not related to {object_name(module)}")
        self.crm.unrelate(module, rid, link, [oid])
        return _json(200, {"meta": {"message": f"Relationship has been deleted between {object_name(module)} "
                                               f"with id {rid} and {object_name(other)} with id {oid}"},
                           "data": []})


class _Bad(Exception):
    def __init__(self, detail: str, content_type: str = JSONAPI):
        super().__init__(detail)
        self.detail = detail
        self.content_type = content_type


def v8_string(ftype: str, value: Any) -> str:
    """A stored value as V8 prints it (strings; datetimes ISO 8601 UTC with seconds truncated)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return to_html(str(value))  # as recorded live: O&#039;Rourke, &lt;b&gt; (``&`` as it is)


def _shuffle_ties(rows: list, key: str, window: int) -> list:
    """Rows that tie on ``key`` in the order MySQL's ``ORDER BY key LIMIT window`` may give them: the
    real SuiteCRM sorts by the one V8 sort key only, and MySQL's order of ties depends on the LIMIT, so
    each page request sees its own order of them (recorded live: 30 equal names, page size 7 → 29 read)."""
    out: list = []
    i = 0
    while i < len(rows):
        j = i
        v = str(rows[i].values.get(key) or "").casefold()
        while j < len(rows) and str(rows[j].values.get(key) or "").casefold() == v:
            j += 1
        out.extend(sorted(rows[i:j], key=lambda r: hashlib.md5(f"{r.id}:{window}".encode()).digest()))
        i = j
    return out


def _json(status: int, body: Any, content_type: str = JSONAPI) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": content_type}, json.dumps(body)


def _error(detail: str, content_type: str = JSONAPI) -> tuple[int, dict[str, str], str]:
    return _json(400, {"errors": {"status": 400, "title": None, "detail": detail}}, content_type)
