"""A stateful emulator of SuiteCRM 7.14.6's REST v4_1 wire protocol, for ``responses``.

Data lives in a :class:`~suitecrm_ext.crm.fake.FakeCRM`; the emulator speaks exactly the recorded protocol
(tests/fixtures/rest_v4/*.json, checked field for field by tests/crm/test_rest_v4_emulator.py):

- form fields ``method``/``input_type``/``response_type``/``rest_data``; ``rest_data`` a JSON array taken by
  position, or an object whose keys must be the PHP parameter names (else HTTP 500 with an empty body);
- errors as HTTP 200 ``{"name", "number", "description"}`` (10, 11, 20, ``"-1"``);
- ``get_entry_list`` with ``result_count``/``next_offset`` ints and ``total_count`` a string, past-the-end
  pages, ``deleted=1``; ``get_entry`` of a missing/deleted id with the list-shaped warning;
- the ``query`` SQL is *parsed* (the subset a careful client may send: qualified columns,
  ``= <> != > >= < <= LIKE IN IS [NOT] NULL``, AND/OR/parentheses, MySQL-escaped string literals and
  ``_utf8 X'..'`` hex literals, numbers); a syntax error or an unknown column answers HTTP 500 "Database
  failure" like SuiteCRM does; a literal with a backslash right before a quote (``'x\\'``) is refused with
  error 40, as SuiteCRM's ``SugarSQLValidate`` misreads it and refuses the query;
- ``order_by`` as ``SugarBean::process_order_by`` reads it: keys must be bare vardef names (``name DESC``);
  anything else (``accounts.name``) is dropped silently, as on the real SuiteCRM;
- ``set_entry`` with SuiteCRM's real id semantics: an existing id updates, ``new_with_id`` inserts, an
  insert of an existing id is a DB failure, an unknown id without ``new_with_id`` silently saves nothing;
- string values leave through SuiteCRM's ``to_html()`` (``"<>'`` encoded, ``&`` not), as recorded live.

Test knobs: :meth:`expire_sessions`, :meth:`fail_next` (HTTP statuses for the next calls, optionally with
Retry-After), :meth:`drop_next` (connection error before the call is processed), :meth:`lose_next_answer`
(process the call, then drop the connection), :attr:`calls` (every call: method name and positional
arguments, session ids included), :attr:`always_invalid_session`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import requests
import responses

from suitecrm_ext.crm.base import Cond, Filter, NotFound, PermissionDenied, ValidationError, to_crm
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.crm.stock_modules import STOCK_DEFAULTS

ENDPOINT_PATH = "/service/v4_1/rest.php"
JSON_CT = "application/json; charset=UTF-8"
HTML_CT = "text/html; charset=UTF-8"
DB_FAILURE = "Database failure. Please refer to suitecrm.log for details."

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "rest_v4"

#: link_fields of the recorded get_module_fields answers, per module.
RECORDED_LINKS: dict[str, dict[str, dict[str, Any]]] = {
    path.stem.split("-", 1)[1]: json.loads(path.read_text(encoding="utf-8"))["response"]["link_fields"]
    for path in FIXTURES.glob("get_module_fields-*.json")
}

#: Extra keys some fields carry in get_module_fields (as recorded).
FIELD_EXTRAS: dict[tuple[str, str], dict[str, Any]] = {
    ("Cases", "status"): {"parentenum": "state"},
    ("Cases", "state"): {"parentenum": "status"},
    ("Tasks", "parent_name"): {"type_name": "parent_type"},
    ("Contacts", "report_to_name"): {"len": "id"},  # sic, in SuiteCRM's vardefs
    ("Documents", "is_template"): {"default_value": 0},
    ("Tasks", "date_due_flag"): {"default_value": 0},
    ("Tasks", "date_start_flag"): {"default_value": 0},
}

#: PHP parameter names of every emulated method, in order, with defaults for optional trailing ones.
SIGNATURES: dict[str, list[tuple[str, Any]]] = {
    "login": [("user_auth", ...), ("application_name", ""), ("name_value_list", [])],
    "logout": [("session", ...)],
    "get_server_info": [],
    "get_user_id": [("session", ...)],
    "get_available_modules": [("session", ...), ("filter", "all")],
    "get_module_fields": [("session", ...), ("module_name", ...), ("fields", [])],
    "get_entry": [("session", ...), ("module_name", ...), ("id", ...), ("select_fields", ...),
                  ("link_name_to_fields_array", ...), ("track_view", False)],
    "get_entry_list": [("session", ...), ("module_name", ...), ("query", ...), ("order_by", ...),
                       ("offset", ...), ("select_fields", ...), ("link_name_to_fields_array", ...),
                       ("max_results", ...), ("deleted", ...), ("favorites", False)],
    "get_entries_count": [("session", ...), ("module_name", ...), ("query", ...), ("deleted", ...)],
    "set_entry": [("session", ...), ("module_name", ...), ("name_value_list", ...)],
    "set_entries": [("session", ...), ("module_name", ...), ("name_value_lists", ...)],
    "set_relationship": [("session", ...), ("module_name", ...), ("module_id", ...), ("link_field_name", ...),
                         ("related_ids", ...), ("name_value_list", ...), ("delete", 0)],
    "get_note_attachment": [("session", ...), ("id", ...)],
    "set_note_attachment": [("session", ...), ("note", ...)],
    "get_relationships": [("session", ...), ("module_name", ...), ("module_id", ...),
                          ("link_field_name", ...), ("related_module_query", ...), ("related_fields", ...),
                          ("related_module_link_name_to_fields_array", ...), ("deleted", ...),
                          ("order_by", ""), ("offset", 0), ("limit", False)],
}

ERRORS = {
    10: ("Invalid Login", "Login attempt failed please check the username and password"),
    11: ("Invalid Session ID", "The session ID is invalid"),
    20: ("Module Does Not Exist", "This module is not available on this server"),
    40: ("Access Denied", "You do not have access"),
}
INVALID_CALL = {
    "name": "An Undefined Error - invalid_call occurred",
    "number": "-1",
    "description": "There is no error definition for invalid_call",
}
ACLS = ["edit", "delete", "list", "view", "import", "export"]
BEAN_NAMES = {"Accounts": "Account", "Contacts": "Contact", "Cases": "aCase", "Documents": "Document",
              "Tasks": "Task", "Users": "User", "Notes": "Note", "Emails": "Email",
              "SecurityGroups": "SecurityGroup", "ACLRoles": "ACLRole"}
DATE_OPTIONS = [("=", "Equals"), ("not_equal", "Not On"), ("greater_than", "After"), ("less_than", "Before"),
                ("last_7_days", "Last 7 Days"), ("next_7_days", "Next 7 Days"),
                ("last_30_days", "Last 30 Days"), ("next_30_days", "Next 30 Days"),
                ("last_month", "Last Month"), ("this_month", "This Month"), ("next_month", "Next Month"),
                ("last_year", "Last Year"), ("this_year", "This Year"), ("next_year", "Next Year"),
                ("between", "Is Between")]


class _Fatal(Exception):
    """PHP died: HTTP 500 with this body."""

    def __init__(self, body: str = "", content_type: str = HTML_CT):
        super().__init__(body)
        self.body = body
        self.content_type = content_type


class _ApiError(Exception):
    def __init__(self, number: int):
        super().__init__(number)
        self.number = number


def to_html(value: str) -> str:
    """SuiteCRM's ``to_html()``: ``" < > '`` as entities, ``&`` left alone (include/utils/db_utils.php)."""
    return (value.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&#039;"))


def rest_string(value: Any) -> str:
    """A stored value as REST v4_1 shows it: DB format strings, "1"/"0", "" for NULL, through to_html()."""
    text = to_crm(value)
    return to_html(str(text))


class RestV4Emulator:
    """SuiteCRM REST v4_1 over a FakeCRM. ``install(rsps)`` registers it on a ``responses`` mock."""

    def __init__(
        self,
        crm: FakeCRM | None = None,
        *,
        base_url: str = "http://suitecrm.test",
        username: str = "admin",
        password: str = "s3cr3t-Pa55",
        user_id: str = "1",
    ):
        self.crm = crm or FakeCRM()
        self.base_url = base_url.rstrip("/")
        self.endpoint = self.base_url + ENDPOINT_PATH
        self.username = username
        self.password_md5 = hashlib.md5(password.encode()).hexdigest()
        self.user_id = user_id
        self.sessions: set[str] = set()
        self.calls: list[tuple[str, list[Any]]] = []
        self.raw_requests: list[dict[str, str]] = []
        self.always_invalid_session = False
        #: cap max_results like SuiteCRM versions hit by #4400 (list_max_entries_per_page); None: 7.14.6
        self.max_results_cap: int | None = None
        self._faults: list[tuple[str | None, str, Any]] = []  # (method or None, kind, arg)

    # --- knobs ------------------------------------------------------------------------

    def install(self, rsps: responses.RequestsMock) -> RestV4Emulator:
        """Answer POSTs to the REST endpoint on ``rsps``."""
        rsps.add_callback(responses.POST, self.endpoint, callback=self._handle)
        return self

    def expire_sessions(self) -> None:
        """Forget every session (as after PHP session expiry): the next call gets error 11."""
        self.sessions.clear()

    def fail_next(self, *statuses: int, retry_after: str | None = None, method: str | None = None) -> None:
        """Answer the next calls (of ``method``, or any) with these HTTP statuses before doing anything."""
        for status in statuses:
            self._faults.append((method, "status", (status, retry_after)))

    def drop_next(self, count: int = 1, method: str | None = None) -> None:
        """Fail the next calls with a connection error before they reach SuiteCRM."""
        for _ in range(count):
            self._faults.append((method, "drop", None))

    def lose_next_answer(self, method: str) -> None:
        """Process the next ``method`` call, then drop the connection (the answer is lost)."""
        self._faults.append((method, "lose", None))

    def garbage_next(self, method: str | None = None) -> None:
        """Answer the next call (of ``method``, or any) with HTTP 200 and a PHP warning page, not JSON."""
        self._faults.append((method, "garbage", None))

    def change_password(self, password: str) -> None:
        """The admin changes the user's password: logins with the old one fail (error 10)."""
        self.password_md5 = hashlib.md5(password.encode()).hexdigest()

    def count(self, method: str) -> int:
        """How many calls of ``method`` were received."""
        return sum(1 for m, _ in self.calls if m == method)

    # --- dispatch -----------------------------------------------------------------------

    def _take_fault(self, method: str) -> tuple[str, Any] | None:
        for i, (m, kind, arg) in enumerate(self._faults):
            if m is None or m == method:
                del self._faults[i]
                return kind, arg
        return None

    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = request.body or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        self.raw_requests.append(form)
        method = form.get("method", "")
        fault = self._take_fault(method)
        if fault and fault[0] == "status":
            status, retry_after = fault[1]
            headers = {"Content-Type": HTML_CT}
            if retry_after is not None:
                headers["Retry-After"] = retry_after
            return status, headers, "" if status != 502 else "<html><body>Bad Gateway</body></html>"
        if fault and fault[0] == "drop":
            raise requests.ConnectionError("connection refused (emulated)")
        if fault and fault[0] == "garbage":
            warning = "<br />\n<b>Warning</b>:  Undefined array key in ... on line 42"
            return 200, {"Content-Type": HTML_CT}, warning
        try:
            answer = self._dispatch(form)
        except _Fatal as fatal:
            return 500, {"Content-Type": fatal.content_type}, fatal.body
        if fault and fault[0] == "lose":
            raise requests.ReadTimeout("read timed out (emulated: the answer was lost)")
        return 200, {"Content-Type": JSON_CT}, json.dumps(answer)

    def _dispatch(self, form: Mapping[str, str]) -> Any:
        method = form.get("method", "")
        json_io = form.get("input_type") == "JSON" and form.get("response_type") == "JSON"
        if method not in SIGNATURES or not json_io:
            return INVALID_CALL
        raw = form.get("rest_data", "")
        try:
            data = json.loads(raw) if raw else []
        except ValueError:
            data = []
        args = self._bind(method, data)
        self.calls.append((method, args))
        try:
            return getattr(self, f"_m_{method}")(*args)
        except PermissionDenied:  # FakeCRM.deny(): SuiteCRM's ACL check fails → SoapError no_access
            name, description = ERRORS[40]
            return {"name": name, "number": 40, "description": description}
        except _ApiError as err:
            name, description = ERRORS[err.number]
            return {"name": name, "number": err.number, "description": description}

    @staticmethod
    def _bind(method: str, data: Any) -> list[Any]:
        """PHP call_user_func_array: a list by position, an object by parameter name (unknown → fatal)."""
        sig = SIGNATURES[method]
        names = [n for n, _ in sig]
        if isinstance(data, dict):
            unknown = [k for k in data if k not in names]
            if unknown:
                raise _Fatal("")  # PHP 8: Error: Unknown named parameter
            data = [data[n] if n in data else sig[i][1] for i, n in enumerate(names)]
        elif not isinstance(data, list):
            data = [data]
        if len(data) > len(sig):
            data = data[: len(sig)]
        args = list(data) + [default for _, default in sig[len(data):]]
        if any(a is ... for a in args):
            raise _Fatal("")  # ArgumentCountError
        return args

    def _session(self, session: Any) -> None:
        if self.always_invalid_session or not isinstance(session, str) or session not in self.sessions:
            raise _ApiError(11)

    def _module(self, module: Any) -> None:
        if not isinstance(module, str) or module not in self.crm.modules():
            raise _ApiError(20)

    # --- methods ------------------------------------------------------------------------

    def _m_login(self, user_auth, application_name, name_value_list):
        if not isinstance(user_auth, dict) or user_auth.get("user_name") != self.username or \
                user_auth.get("password") != self.password_md5:
            raise _ApiError(10)
        sid = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))
        self.sessions.add(sid)
        nv = {"user_id": self.user_id, "user_name": self.username, "user_language": "en_us",
              "user_currency_id": None, "user_is_admin": True, "user_default_team_id": None,
              "user_default_dateformat": "m/d/Y", "user_default_timeformat": "H:i",
              "user_number_separator": ",", "user_decimal_separator": ".", "mobile_max_list_entries": None,
              "mobile_max_subpanel_entries": None, "user_currency_name": "US Dollars"}
        return {"id": sid, "module_name": "Users",
                "name_value_list": {k: {"name": k, "value": v} for k, v in nv.items()}}

    def _m_logout(self, session):
        self._session(session)
        self.sessions.discard(session)
        return None

    def _m_get_server_info(self):
        return {"flavor": "CE", "version": "6.5.25", "suitecrm_version": "7.14.6",
                "gmt_time": to_crm(self.crm.clock().replace(microsecond=0))}

    def _m_get_user_id(self, session):
        self._session(session)
        return self.user_id

    def _m_get_available_modules(self, session, filter):
        self._session(session)
        return {"modules": [
            {"module_key": m, "module_label": m, "favorite_enabled": False,
             "acls": [{"action": a, "access": True} for a in ACLS]}
            for m in self.crm.modules()
        ]}

    def _m_get_module_fields(self, session, module_name, fields):
        self._session(session)
        self._module(module_name)
        meta = self.crm.fields(module_name)
        wanted = set(fields or meta)
        out = {}
        for name, info in meta.items():
            if name not in wanted:
                continue
            if info.options:
                options: Any = {k: {"name": k, "value": k} for k in info.options}
            elif info.type in ("datetime", "datetimecombo", "date"):
                options = {k: {"name": k, "value": v} for k, v in DATE_OPTIONS}
            else:
                options = []
            out[name] = {"name": name, "type": info.type, "group": "", "id_name": "", "label": info.label,
                         "required": 1 if info.required else 0, "options": options, "related_module": "",
                         "calculated": False, "len": info.length if info.length is not None else ""}
            if name in STOCK_DEFAULTS.get(module_name, {}):
                out[name]["default_value"] = STOCK_DEFAULTS[module_name][name]
            out[name].update(FIELD_EXTRAS.get((module_name, name), {}))
        links = {}
        for link, other in self.crm.links(module_name).items():
            # as recorded where we have it (SuiteCRM leaves "module" empty for many links)
            links[link] = RECORDED_LINKS.get(module_name, {}).get(link) or {
                "name": link, "type": "link", "group": "", "id_name": "",
                "relationship": f"{module_name.lower()}_{link.lower()}", "module": other,
                "bean_name": BEAN_NAMES.get(other, other)}
        return {"module_name": module_name, "table_name": self.crm.table(module_name), "module_fields": out,
                "link_fields": links}

    def _entry(self, module: str, rec, select: list[str]) -> dict[str, Any]:
        names = [n for n in select if n in rec.values or n == "id"] if select else ["id", *rec.values]
        nvl = {}
        for n in dict.fromkeys(names):
            value = rec.id if n == "id" else rec.values.get(n)
            if n == "deleted":
                value = rec.deleted
            nvl[n] = {"name": n, "value": rest_string(value)}
        return {"id": rec.id, "module_name": module, "name_value_list": nvl}

    def _known(self, module: str, names: list[str]) -> list[str]:
        meta = self.crm.fields(module)
        return [n for n in (names or []) if n in meta]

    def _m_get_entry(self, session, module_name, id, select_fields, link_name_to_fields_array, track_view):
        self._session(session)
        self._module(module_name)
        try:
            rec = self.crm.get(module_name, id, self._known(module_name, select_fields) or None)
        except NotFound:
            return {"entry_list": [{"id": id, "module_name": module_name, "name_value_list": [
                {"name": "warning",
                 "value": "Access to this object is denied since it has been deleted or does not exist"},
                {"name": "deleted", "value": "1"}]}], "relationship_list": []}
        return {"entry_list": [self._entry(module_name, rec, select_fields)], "relationship_list": []}

    def _m_get_entry_list(self, session, module_name, query, order_by, offset, select_fields,
                          link_name_to_fields_array, max_results, deleted, favorites):
        self._session(session)
        self._module(module_name)
        flt = self._parse_query(module_name, query)
        order = self._parse_order(module_name, order_by)
        offset = int(offset or 0)
        size = int(max_results) if max_results not in (None, "", 0, "0") else 20
        if self.max_results_cap:  # older SuiteCRMs cap max_results at the list-view size (#4400)
            size = min(size, self.max_results_cap)
        with_deleted = bool(int(deleted or 0))
        rows = self.crm.find(module_name, flt, self._known(module_name, select_fields) or None, order,
                             offset + size, include_deleted=with_deleted)
        page = list(rows)[offset:]
        total = self.crm.count(module_name, flt, include_deleted=with_deleted)
        return {"result_count": len(page), "total_count": str(total), "next_offset": offset + len(page),
                "entry_list": [self._entry(module_name, r, select_fields) for r in page],
                "relationship_list": []}

    def _m_get_entries_count(self, session, module_name, query, deleted):
        self._session(session)
        self._module(module_name)
        flt = self._parse_query(module_name, query)
        n = self.crm.count(module_name, flt, include_deleted=bool(int(deleted or 0)))
        return {"result_count": str(n)}

    def _save_one(self, module: str, nvl: Any) -> str:
        """SugarWebServiceImpl::set_entry semantics on one name_value_list."""
        if isinstance(nvl, dict):
            items = [(v["name"], v["value"]) if isinstance(v, dict) else (k, v) for k, v in nvl.items()]
        else:
            items = [(i["name"], i.get("value")) for i in nvl]
        values = dict(items)
        meta = self.crm.fields(module)
        new_with_id = str(values.pop("new_with_id", "")).lower() in ("1", "true")
        rid = values.pop("id", None)
        known = {k: v for k, v in values.items() if k in meta}  # SuiteCRM sets others as plain properties
        deleted = str(known.pop("deleted", "0")) in ("1", "true", "True")
        if rid and new_with_id:
            if self.crm.exists(module, rid, include_deleted=True):
                raise _Fatal(DB_FAILURE)  # duplicate primary key on INSERT
            self.crm.insert(module, {"id": rid, **known})
        elif rid:
            if not self.crm.exists(module, rid):
                return rid  # retrieve() failed; the UPDATE matches no row: nothing saved, id echoed
            if known:
                self.crm.save(module, {"id": rid, **known})
        else:
            rid = self.crm.save(module, known)
        if deleted:
            self.crm.delete(module, rid)
        return rid

    def _m_set_entry(self, session, module_name, name_value_list):
        self._session(session)
        self._module(module_name)
        rid = self._save_one(module_name, name_value_list)
        if isinstance(name_value_list, dict):
            echo = name_value_list
        else:
            echo = {i["name"]: {"name": i["name"], "value": i.get("value")} for i in name_value_list}
        return {"id": rid, "entry_list": echo}

    def _m_get_note_attachment(self, session, id):
        """NoteSoap::retrieveFile: the file base64-encoded, '' when the Note has none."""
        import base64

        self._session(session)
        try:
            note = self.crm.get("Notes", id)
            att = self.crm.get_attachment(id)
        except NotFound:  # retrieve() of a missing Note leaves an empty bean
            return {"note_attachment": {"id": id, "filename": "", "file": "", "related_module_id": "",
                                        "related_module_name": ""}}
        return {"note_attachment": {
            "id": id, "filename": note.get("filename") or "",
            "file": base64.b64encode(att.content).decode() if att else "",
            "related_module_id": note.get("parent_id") or "",
            "related_module_name": note.get("parent_type") or ""}}

    def _m_set_note_attachment(self, session, note):
        """NoteSoap::newSaveFile: '-1' for a missing Note; an empty file saves nothing."""
        import base64

        self._session(session)
        note_id = (note or {}).get("id") or ""
        if not note_id or not self.crm.exists("Notes", note_id):
            return {"id": "-1"}
        data = (note or {}).get("file") or ""
        if data:
            self.crm.set_attachment(note_id, str(note.get("filename") or ""), base64.b64decode(data))
        return {"id": note_id}

    def _m_set_entries(self, session, module_name, name_value_lists):
        self._session(session)
        self._module(module_name)
        return {"ids": [self._save_one(module_name, nvl) for nvl in name_value_lists]}

    def _m_set_relationship(self, session, module_name, module_id, link_field_name, related_ids,
                            name_value_list, delete):
        self._session(session)
        self._module(module_name)
        ids = [related_ids] if isinstance(related_ids, str) else list(related_ids or [])
        if link_field_name not in self.crm.links(module_name):
            return {"created": 0, "failed": 1, "deleted": 0}
        try:
            self.crm.get(module_name, module_id, ["id"])
        except NotFound:
            return {"created": 0, "failed": 1, "deleted": 0}
        other = self.crm.links(module_name)[link_field_name]
        if int(delete or 0):
            self.crm.unrelate(module_name, module_id, link_field_name, ids)
            return {"created": 0, "failed": 0, "deleted": 1}
        # Link2::add skips ids whose bean cannot be loaded ("Unable to load related bean by id")
        loadable = [i for i in ids if self.crm.exists(other, i)]
        self.crm.relate(module_name, module_id, link_field_name, loadable)
        return {"created": 1, "failed": 0, "deleted": 0}

    def _m_get_relationships(self, session, module_name, module_id, link_field_name, related_module_query,
                             related_fields, related_module_link_name_to_fields_array, deleted, order_by,
                             offset, limit):
        self._session(session)
        self._module(module_name)
        if link_field_name not in self.crm.links(module_name):
            return {"entry_list": [], "relationship_list": []}
        try:
            recs = list(self.crm.related(module_name, module_id, link_field_name))
        except NotFound:
            return {"entry_list": [], "relationship_list": []}
        offset = int(offset or 0)
        if limit not in (None, False, "", 0):
            recs = recs[offset:offset + int(limit)]
        else:
            recs = recs[offset:]
        other = self.crm.links(module_name)[link_field_name]
        if not related_fields:  # recorded live: an empty select answers phantom beans (id null)
            custom = [n for n, f in self.crm.fields(other).items() if f.source == "custom_fields"]
            return {"entry_list": [{"id": None, "module_name": other, "name_value_list": {
                n: {"name": n, "value": "0" if n == "deleted" else ""} for n in ["deleted", *custom]}}
                for _ in recs], "relationship_list": []}
        return {"entry_list": [self._entry(other, r, related_fields) for r in recs], "relationship_list": []}

    # --- the SQL subset ------------------------------------------------------------------

    def _column(self, module: str, qualified: str) -> str:
        table = self.crm.table(module)
        meta = self.crm.fields(module)
        if "." not in qualified:
            raise _Fatal(DB_FAILURE)
        prefix, name = qualified.split(".", 1)
        info = meta.get(name)
        if info is None or info.source == "non-db":
            raise _Fatal(DB_FAILURE)  # Unknown column
        expected = f"{table}_cstm" if info.source == "custom_fields" else table
        if prefix != expected:
            raise _Fatal(DB_FAILURE)
        return name

    def _parse_query(self, module: str, query: Any) -> Filter | None:
        if not query:
            return None
        parser = _SqlParser(str(query), lambda col: self._column(module, col))
        try:
            flt = parser.parse()
        except _SqlSyntax:
            raise _Fatal(DB_FAILURE) from None
        except _QueryRefused:
            raise _ApiError(40) from None
        try:
            self.crm.count(module, flt)  # type errors in values surface as DB failures too
        except ValidationError:
            raise _Fatal(DB_FAILURE) from None
        return flt

    def _parse_order(self, module: str, order_by: Any) -> list[str]:
        """``SugarBean::process_order_by``: a key counts only when its first word is a vardef name stored
        in the DB; everything else (``accounts.name``, unknown names) is dropped without an error."""
        meta = self.crm.fields(module)
        out = []
        for part in [p.strip() for p in str(order_by or "").split(",") if p.strip()]:
            words = part.split(None, 1)
            info = meta.get(words[0])
            if info is None or info.source == "non-db":
                continue
            desc = len(words) > 1 and words[1].strip().upper() == "DESC"
            out.append(("-" if desc else "") + words[0])
        return out


class _SqlSyntax(Exception):
    pass


class _QueryRefused(Exception):
    """SugarSQLValidate refused the query: SuiteCRM answers error 40 (no_access)."""


_TOKEN_RE = re.compile(r"""
    \s*(?:
      (?P<hex>_utf8\s+X'[0-9A-Fa-f]*')
    | (?P<str>'(?:[^'\\]|\\.|'')*')
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op><>|!=|>=|<=|=|>|<)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
    )""", re.X | re.S)

_UNESCAPE = {"0": "\x00", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "b": "\b"}


def mysql_unescape(literal: str) -> str:
    """The value of a MySQL single-quoted literal (``'...'``), backslash escapes and doubled quotes."""
    body = literal[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            # MySQL keeps the backslash for \% and \_ (so LIKE sees the escape)
            out.append(_UNESCAPE.get(nxt, "\\" + nxt if nxt in "%_" else nxt))
            i += 2
        elif ch == "'" and body[i + 1:i + 2] == "'":
            out.append("'")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def literal_value(literal: str) -> str:
    """The value of a literal the clients send: ``'...'`` or ``_utf8 X'<hex>'``."""
    if literal.startswith("_utf8"):
        return bytes.fromhex(literal.split("'")[1]).decode("utf-8")
    return mysql_unescape(literal)


class _SqlParser:
    """expr := and_expr (OR and_expr)*; and_expr := atom (AND atom)*; atom := '(' expr ')' | predicate."""

    def __init__(self, text: str, column):
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.column = column

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN_RE.match(text, pos)
            if not m or m.end() == pos:
                raise _SqlSyntax(text[pos:pos + 20])
            kind = m.lastgroup
            tokens.append((kind, m.group(kind)))
            pos = m.end()
        return tokens

    def peek(self, kind: str | None = None, value: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        k, v = self.tokens[self.pos]
        return (kind is None or k == kind) and (value is None or v.upper() == value)

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        if not self.peek(kind, value):
            raise _SqlSyntax(f"expected {value or kind} at token {self.pos}")
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def parse(self) -> Filter:
        result = self.expr()
        if self.pos != len(self.tokens):
            raise _SqlSyntax("trailing tokens")
        return result if isinstance(result, Filter) else Filter("and", (result,))

    def expr(self):
        items = [self.and_expr()]
        while self.peek("word", "OR"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Filter("or", tuple(items))

    def and_expr(self):
        items = [self.atom()]
        while self.peek("word", "AND"):
            self.take()
            items.append(self.atom())
        return items[0] if len(items) == 1 else Filter("and", tuple(items))

    def literal(self) -> Any:
        if self.peek("hex"):
            return literal_value(self.take("hex"))
        if self.peek("str"):
            text = self.take("str")
            if re.search(r"\\'", text[:-1]) or text.endswith("\\'"):
                raise _QueryRefused(text)  # SugarSQLValidate's parser misreads a backslash before a quote
            return mysql_unescape(text)
        if self.peek("num"):
            text = self.take("num")
            return float(text) if "." in text else int(text)
        raise _SqlSyntax("literal expected")

    def atom(self):
        if self.peek("punct", "("):
            self.take()
            inner = self.expr()
            self.take("punct", ")")
            return inner
        if self.peek("num"):  # constant predicate: 1=1 / 1=0
            left = self.take("num")
            self.take("op", "=")
            right = self.take("num")
            return Filter("and", ()) if left == right else Filter("or", ())
        col = self.column(self.take("word"))
        if self.peek("word", "IS"):
            self.take()
            negate = self.peek("word", "NOT")
            if negate:
                self.take()
            self.take("word", "NULL")
            return _Raw(col, "not_null_sql" if negate else "is_null_sql")
        if self.peek("word", "LIKE"):
            self.take()
            return Cond(col, "like", self.literal())
        if self.peek("word", "IN"):
            self.take()
            self.take("punct", "(")
            values = [self.literal()]
            while self.peek("punct", ","):
                self.take()
                values.append(self.literal())
            self.take("punct", ")")
            return Cond(col, "in", values)
        op = self.take("op")
        value = self.literal()
        return Cond(col, {"=": "eq", "<>": "neq", "!=": "neq", ">": "gt", ">=": "gte", "<": "lt",
                          "<=": "lte"}[op], value)


def _Raw(col: str, kind: str) -> Cond:
    """SQL ``IS [NOT] NULL``. Our stored empties are NULL for non-text types and '' or NULL for text;
    the clients always pair ``IS NULL`` with ``= ''`` for text fields, so FakeCRM's is_null/not_null match."""
    return Cond(col, "not_null" if kind == "not_null_sql" else "is_null")
