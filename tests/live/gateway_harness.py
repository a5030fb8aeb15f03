"""The contract suite's backends on a real SuiteCRM 7.14.6: REST v4_1, V8 (both grants), SOAP, and the
gateway reading over MySQL with the read-only user (writes over REST).

The contract tests (tests/crm/contract/) expect what the emulators give them: empty modules at the
start of each test and a server clock the test can set. On the real instance:

- **Empty modules.** For the duration of the live contract module the rows of the tables those tests
  use are moved into ``sxt_bak_<table>`` copies (one ``INSERT ... SELECT`` each) and put back
  afterwards; between tests the tables are emptied. A run that dies in between is repaired by the next
  one (copies still present → restored first), so the instance's demo data is never lost.
- **The server clock.** ``BEFORE INSERT/UPDATE`` triggers on those tables stamp ``date_entered`` /
  ``date_modified`` from a one-row table ``sxt_test_clock`` instead of SuiteCRM's wall clock; the
  harness's clock writes that row. Everything else (saves, hooks, HTML cleaning, SQL) is SuiteCRM's own.
- Calls are counted on the HTTP session (and the reader's SQL), so "refused before any request" is
  checked against what really went over the wire. ``expire_session`` logs the session/token out behind
  the client's back with a separate request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pymysql
import requests
from crm.backends import Clock, Harness, Options

from suitecrm_ext.crm.base import Record
from suitecrm_ext.crm.gateway import Gateway
from suitecrm_ext.crm.http import RetryPolicy
from suitecrm_ext.lab import LabInstance

#: the tables the contract tests write and read (module tables, their _cstm, relationship tables)
TABLES = ("accounts", "accounts_cstm", "contacts", "contacts_cstm", "cases", "cases_cstm", "tasks",
          "notes", "accounts_contacts", "documents", "email_addr_bean_rel")
STAMPED = ("accounts", "contacts", "cases", "tasks", "notes", "documents")
BACKENDS = ("rest", "v8", "v8_password", "soap", "mysql")


class IsolatedTables:
    """Moves the contract tables' rows aside for a while; see the module docstring."""

    def __init__(self, lab: LabInstance):
        self.conn = pymysql.connect(**lab.db_params())

    def exec(self, sql: str, params: Any = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)

    def exists(self, table: str) -> bool:
        with self.conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND "
                        "table_name = %s", (table,))
            return cur.fetchone() is not None

    def restore(self) -> None:
        """Put the moved rows back (also what a run that died left behind) and drop the triggers."""
        for table in STAMPED:
            for kind in ("bi", "bu"):
                self.exec(f"DROP TRIGGER IF EXISTS sxt_clock_{kind}_{table}")
        for table in TABLES:
            if self.exists(f"sxt_bak_{table}"):
                self.exec(f"DELETE FROM `{table}`")
                self.exec(f"INSERT INTO `{table}` SELECT * FROM `sxt_bak_{table}`")
                self.exec(f"DROP TABLE `sxt_bak_{table}`")
        self.exec("DROP TABLE IF EXISTS sxt_test_clock")

    def isolate(self) -> None:
        self.restore()
        for table in TABLES:
            self.exec(f"CREATE TABLE `sxt_bak_{table}` LIKE `{table}`")
            self.exec(f"INSERT INTO `sxt_bak_{table}` SELECT * FROM `{table}`")
            self.exec(f"DELETE FROM `{table}`")
        self.exec("CREATE TABLE sxt_test_clock (id INT PRIMARY KEY, now DATETIME NULL)")
        self.exec("INSERT INTO sxt_test_clock VALUES (1, NULL)")
        for table in STAMPED:
            self.exec(f"""CREATE TRIGGER sxt_clock_bi_{table} BEFORE INSERT ON `{table}` FOR EACH ROW BEGIN
                DECLARE c DATETIME; SELECT now INTO c FROM sxt_test_clock WHERE id = 1;
                IF c IS NOT NULL THEN SET NEW.date_entered = c, NEW.date_modified = c; END IF; END""")
            self.exec(f"""CREATE TRIGGER sxt_clock_bu_{table} BEFORE UPDATE ON `{table}` FOR EACH ROW BEGIN
                DECLARE c DATETIME; SELECT now INTO c FROM sxt_test_clock WHERE id = 1;
                IF c IS NOT NULL AND NOT (NEW.date_modified <=> OLD.date_modified) THEN
                  SET NEW.date_modified = c; END IF; END""")

    def empty(self) -> None:
        for table in TABLES:
            self.exec(f"DELETE FROM `{table}`")

    def set_clock(self, now: dt.datetime | None) -> None:
        value = now.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0) if now else None
        self.exec("UPDATE sxt_test_clock SET now = %s WHERE id = 1", (value,))

    def close(self) -> None:
        self.conn.close()


class ServerClock(Clock):
    """The contract's clock, driving the triggers' time (SuiteCRM stamps to the second)."""

    def __init__(self, start: dt.datetime, tables: IsolatedTables):
        super().__init__(start)
        self.tables = tables
        tables.set_clock(start)

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        self.tables.set_clock(self.current)


class LiveStore:
    """``harness.store`` on the real instance: every row of a module, deleted ones too (read-only user)."""

    def __init__(self, lab: LabInstance):
        self.mysql = lab.transport("mysql")

    def records(self, module: str) -> list[Record]:
        return list(self.mysql.find(module, fields=["id"], include_deleted=True))

    def close(self) -> None:
        self.mysql.close()


class Counter:
    """Counts the HTTP requests of one requests.Session (and which of them read a list page)."""

    def __init__(self, session: requests.Session, page: Any):
        self.wire = 0
        self.pages = 0
        self._page = page
        session.hooks.setdefault("response", []).append(self._seen)

    def _seen(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.wire += 1
        if self._page(resp.request):
            self.pages += 1


def _rest_page(req: requests.PreparedRequest) -> bool:
    body = req.body if isinstance(req.body, str) else (req.body or b"").decode("utf-8", "replace")
    return "method=get_entry_list" in body and "%22id%22%5D" not in body  # not _existing()'s id probe


def _soap_page(req: requests.PreparedRequest) -> bool:
    return b"get_entry_list" in (req.body or b"") if isinstance(req.body, bytes) else \
        "get_entry_list" in (req.body or "")


def _v8_page(req: requests.PreparedRequest) -> bool:
    path = req.path_url.split("?", 1)[0]
    return req.method == "GET" and path.count("/") == 4 and "/Api/V8/module/" in path


def _logout_rest(lab: LabInstance, session_id: str | None) -> None:
    if session_id:
        requests.post(f"{lab.url}/service/v4_1/rest.php", timeout=30, data={
            "method": "logout", "input_type": "JSON", "response_type": "JSON",
            "rest_data": json.dumps([session_id])})


def _revoke_v8(lab: LabInstance, token: str | None) -> None:
    if token:
        requests.post(f"{lab.url}/Api/V8/logout", timeout=30, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/vnd.api+json"})


class LiveBackends:
    """The contract backends on one real instance. Each transport is built once for the module and
    reused by every test (as a long-running client would be: its session, token and metadata cache
    survive from test to test), so the live suite costs requests, not logins and WSDL parsing."""

    def __init__(self, lab: LabInstance, tables: IsolatedTables):
        self.lab = lab
        self.tables = tables
        self.store = LiveStore(lab)
        self._built: dict[str, tuple[Any, Any, Any, Any, list[Any]]] = {}

    def _build(self, name: str, opts: Options) -> tuple[Any, Any, Any, Any, list[Any]]:
        lab = self.lab
        holder: list[Any] = [[]]  # the current test's sleeps list
        policy = RetryPolicy(retries=opts.retries, sleep=lambda s: holder[0].append(s), rng=lambda: 0.5)
        flavour = "rest" if name == "mysql" else name
        crm = api = lab.transport(flavour)
        reader = None
        if name in ("rest", "soap"):
            crm.policy = policy
            counter = Counter(crm.http, _rest_page if name == "rest" else _soap_page)
            expire = lambda: _logout_rest(lab, crm.session_id)  # noqa: E731
        elif name.startswith("v8"):
            crm._retry = policy  # noqa: SLF001 - the non-sleeping policy of the contract suite
            counter = Counter(crm._session, _v8_page)  # noqa: SLF001
            expire = lambda: _revoke_v8(lab, crm._access)  # noqa: E731, SLF001
        else:  # the gateway: writes over REST, reads over MySQL (the read-only user)
            api.policy = policy
            reader = lab.transport("mysql")
            counter = Counter(api.http, _rest_page)
            crm = Gateway(api, reader, mysql=reader)
            expire = lambda: _logout_rest(lab, api.session_id)  # noqa: E731
        api.page_size = opts.page_size
        if reader is None:
            return crm, (lambda: counter.wire), (lambda: counter.pages), expire, holder
        reader.page_size = opts.page_size
        sql = {"n": 0, "pages": 0}
        real_run, real_records, real_stream = reader._run, reader._records, reader._stream_rows

        def counted(query: str, params: Any = (), **kw: Any) -> Any:
            sql["n"] += 1
            return real_run(query, params, **kw)

        def page(q: Any, rows: Any) -> Any:  # one keyset page or one streamed chunk
            sql["pages"] += 1
            return real_records(q, rows)

        def stream(*args: Any) -> Any:
            sql["n"] += 1
            return real_stream(*args)

        reader._run, reader._records, reader._stream_rows = counted, page, stream  # type: ignore[method-assign]
        return (crm, (lambda: counter.wire + sql["n"]), (lambda: counter.pages + sql["pages"]), expire,
                holder)

    @contextlib.contextmanager
    def harness(self, name: str, opts: Options) -> Iterator[Harness]:
        """One backend for one test: empty contract tables, the server clock at ``opts.clock``."""
        if name not in self._built:
            self._built[name] = self._build(name, opts)
        crm, wire, pages, expire, holder = self._built[name]
        self.tables.empty()
        clock = ServerClock(opts.clock.current, self.tables)
        sleeps: list[float] = []
        holder[0] = sleeps
        try:
            yield Harness(
                f"live-{name}", crm, self.store,  # type: ignore[arg-type]
                features=frozenset({"expire_session"}), clock=clock, sleeps=sleeps, page_calls=pages,
                wire_calls=wire, expire_session=expire, enum_options=not name.startswith("v8"))
        finally:
            self.tables.set_clock(None)

    def close(self) -> None:
        for crm, *_ in self._built.values():
            try:
                crm.close()
            except Exception:  # noqa: BLE001 - closing a session the test expired
                pass
        self.store.close()
