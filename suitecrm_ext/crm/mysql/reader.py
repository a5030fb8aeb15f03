"""The read side of the CRM interface, straight from SuiteCRM's tables (see the package docstring)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.cursors

from suitecrm_ext.crm.base import (
    CRM,
    FieldInfo,
    Filter,
    NotFound,
    PermissionDenied,
    ProtocolError,
    Record,
    ValidationError,
    Where,
    iter_conditions,
    normalize_where,
)
from suitecrm_ext.crm.http import RetryPolicy
from suitecrm_ext.crm.mysql.connection import MySQLConnections
from suitecrm_ext.crm.mysql.emails import fetch_emails
from suitecrm_ext.crm.mysql.errors import map_error
from suitecrm_ext.crm.mysql.guard import READ_ONLY_MESSAGE, SqlGuard
from suitecrm_ext.crm.mysql.metadata import MySQLMetadata
from suitecrm_ext.crm.mysql.query import (
    Query,
    compile_filter,
    keyset_plan,
    order_keys,
    resume_after,
    select_sql,
)
from suitecrm_ext.crm.mysql.related import MySQLRelated
from suitecrm_ext.crm.mysql.schema import (
    IDENT,
    Column,
    Relationship,
    TableMeta,
    sql_type_to_suitecrm,
)
from suitecrm_ext.crm.mysql.values import converter
from suitecrm_ext.crm.sqlfilter import check_value

if TYPE_CHECKING:
    from suitecrm_ext.config import MySQLSettings
    from suitecrm_ext.crm.mysql.writer import OwnedTableWriter

log = logging.getLogger("suitecrm_ext.crm.mysql")


class MySQLCRM(MySQLConnections, MySQLMetadata, MySQLRelated, CRM):
    """The read side of the CRM interface, straight from SuiteCRM's database. See the module docstring.

    ``tables`` maps module → table for modules whose table is neither ``lower(module)`` nor named in
    the ``relationships`` metadata. ``links`` maps ``"Module.link"`` → relationship name where the
    built-in link resolution (see :meth:`related`) is ambiguous. ``field_types`` maps module →
    {field: SuiteCRM type} to override the detected types. Connections are opened lazily.
    """

    name = "mysql"
    capabilities = frozenset({"get", "find", "count", "related", "fields", "modules", "include_deleted",
                              "filter_in", "filter_null", "filter_nested", "order_multi", "datetime_seconds",
                              "server_version", "nul_values"})

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3306,
        user: str = "",
        password: str = "",
        database: str = "",
        *,
        unix_socket: str | None = None,
        page_size: int = 1000,
        tables: Mapping[str, str] | None = None,
        links: Mapping[str, str] | None = None,
        field_types: Mapping[str, Mapping[str, str]] | None = None,
        connect_timeout: float = 10,
        read_timeout: float | None = 300,
        retries: int = 3,
    ):
        if not database:
            raise ValueError("MySQLCRM needs a database name")
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        self._conn_args = dict(
            host=host, port=port, user=user, password=password, database=database, unix_socket=unix_socket,
            charset="utf8mb4", autocommit=True, connect_timeout=connect_timeout, read_timeout=read_timeout,
        )
        self.database = database
        self.page_size = page_size
        self.retries = retries
        self.policy = RetryPolicy(retries=retries, base=0.2, max_wait=10.0)
        self._tables_cfg = dict(tables or {})
        for module, table in self._tables_cfg.items():
            if not IDENT.match(table):
                raise ValueError(f"tables.{module}: {table!r} is not a valid table name")
        self._links = dict(links or {})
        self._field_types = {m: dict(v) for m, v in (field_types or {}).items()}
        self._guard = SqlGuard()
        # one connection per thread: the change feed, the dispatcher and the push receiver's validation
        # threads share one gateway, and a pymysql connection must not be used by two threads at once
        self._local = threading.local()
        self._open_conns: set[pymysql.connections.Connection] = set()
        self._conns_lock = threading.Lock()
        self._meta: dict[str, TableMeta | None] = {}
        self._fields: dict[str, dict[str, FieldInfo]] = {}
        self._emails: dict[str, dict[str, FieldInfo]] = {}
        self._rels: list[Relationship] | None = None
        #: join tables' columns, asked once (related() asked information_schema on every call)
        self._join_cols: dict[str, dict[str, Column]] = {}

    @classmethod
    def from_settings(cls, s: MySQLSettings, *, retries: int = 3) -> MySQLCRM:
        """Build from the ``suitecrm.mysql`` config section."""
        return cls(
            s.host, s.port, s.user, s.password.get_secret_value(), s.database, unix_socket=s.unix_socket,
            page_size=s.page_size, tables=s.tables, links=s.links, retries=retries,
        )

    def __repr__(self) -> str:  # never show the password
        a = self._conn_args
        where = a["unix_socket"] or f"{a['host']}:{a['port']}"
        return f"MySQLCRM({a['user']}@{where}/{self.database})"

    # --- reads ---------------------------------------------------------------------------

    def get(self, module: str, id: str, fields: Sequence[str] | None = None) -> Record:
        """One live record by id; NotFound when missing or deleted."""
        q = self._query(module, None, fields, include_deleted=False)
        q.where.append("t.id = %s")
        q.params.append(str(id))
        rows = self._run(self._select_sql(q, []) + " LIMIT 1", q.params)
        if not rows:
            raise NotFound(f"{module} record {id!r} does not exist or is deleted", transport="mysql",
                           module=module)
        return self._records(q, rows[:1])[0]

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
        """Matching records, keyset-paged by id (default) or by (date_modified, id). Validates eagerly.

        ``order=None`` means id order. ``order="date_modified"`` (or ``["date_modified", "id"]``, or the
        descending forms) pages on ``(date_modified, id)``; other orders stream one query.
        """
        if limit is not None and limit < 0:
            raise ValidationError(f"limit must be >= 0, got {limit}", transport="mysql", module=module)
        q = self._query(module, where, fields, include_deleted=include_deleted)
        keys = self._order(q, order)
        if limit == 0:
            return iter(())
        plan = keyset_plan(keys)
        if plan is not None:
            return self._keyset(q, plan, limit)
        return self._stream(q, keys, limit)

    def count(self, module: str, where: Where = None, *, include_deleted: bool = False) -> int:
        """How many records match."""
        q = self._query(module, where, ["id"], include_deleted=include_deleted)
        where_sql = f" WHERE {' AND '.join(q.where)}" if q.where else ""
        return int(self._run(f"SELECT COUNT(*) FROM {q.from_sql()}{where_sql}", q.params, one=True)[0])

    # --- query building ------------------------------------------------------------------

    def _query(self, module: str, where: Where, fields: Sequence[str] | None, *, include_deleted: bool,
               table: str | None = None) -> Query:
        meta = self._table_meta(table, module) if table else self._module_meta(module)
        finfo = self.fields(module) if not table or table == self.table_for(module) else {}
        emails = [n for n, f in finfo.items() if f.source == "non-db" and not meta.has(n)]
        if fields is None:
            names = [n for n in meta.columns] + [n for n in meta.cstm_columns if n != "id_c"]
            wanted_emails = emails
        else:
            if isinstance(fields, str):
                raise ValidationError(f"{module}: fields must be a list of field names, not a string",
                                      transport="mysql", module=module)
            unknown = [f for f in fields if not isinstance(f, str) or not (meta.has(f) or f in emails)]
            if unknown:
                raise ValidationError(f"{module} has no field(s) {', '.join(map(repr, unknown))}",
                                      fields=[str(u) for u in unknown], transport="mysql", module=module)
            wanted = list(dict.fromkeys(fields))
            names = [n for n in wanted if n not in emails]
            wanted_emails = [n for n in wanted if n in emails]
        q = Query(module, meta, names, [], [])
        q.emails = wanted_emails
        q.types = {n: (finfo[n].type if n in finfo else sql_type_to_suitecrm(
            meta.columns.get(n) or meta.cstm_columns[n])) for n in names if meta.has(n)}
        q.need_cstm = any(n not in meta.columns for n in names)
        if not include_deleted:
            q.where.append("t.deleted = 0")
        if isinstance(where, (str, bytes)):
            raise ValidationError(f"{module}: where must be a Cond, Filter or mapping, not raw SQL text",
                                  transport="mysql", module=module)
        try:
            flt = normalize_where(where)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{module}: bad filter: {exc}", transport="mysql", module=module) from None
        if flt is not None:
            _refuse_non_db([c.field for c in iter_conditions(flt)], emails, module, "filtered")
            _check_filter_values(flt, {**{n: f.type for n, f in finfo.items()}, **q.types}, module)
            sql, params = compile_filter(q, flt)
            q.where.append(sql)
            q.params.extend(params)
        return q

    def _order(self, q: Query, order: Sequence[str] | str | None) -> list[tuple[str, str, bool]]:
        items = [order] if isinstance(order, str) else list(order or ())
        names = [p.strip().lstrip("-").strip() for i in items if isinstance(i, str) for p in i.split(",")]
        _refuse_non_db(names, list(self._email_fields(q.module)), q.module, "sorted")
        return order_keys(q, order)

    def _select_sql(self, q: Query, keys: list[tuple[str, str, bool]]) -> str:
        return select_sql(q, keys)

    def _record(self, q: Query, row: Sequence[Any]) -> Record:
        n = len(q.names)
        if len(q.converters) != n:
            q.converters = [converter(q.types.get(name)) for name in q.names]
        values = {name: conv(v) for name, conv, v in zip(q.names, q.converters, row, strict=False)}
        return Record(module=q.module, id=str(row[n]), values=values, deleted=bool(row[n + 1]))

    def _records(self, q: Query, rows: Sequence[Sequence[Any]]) -> list[Record]:
        """Records of one page of rows, with their e-mail fields (one query per page) when asked for."""
        records = [self._record(q, row) for row in rows]
        if q.emails and records:
            found = fetch_emails(self._run, q.module, [r.id for r in records])
            blank = {"email1": "", "email2": "", "invalid_email": False, "email_opt_out": False}
            for rec in records:
                got = found.get(rec.id, blank)
                rec.values.update({name: got[name] for name in q.emails})
        return records

    # --- paging --------------------------------------------------------------------------

    def _keyset(self, q: Query, keys: list[tuple[str, str, bool]], limit: int | None) -> Iterator[Record]:
        """Pages of ``page_size`` rows, each resuming after the last key seen (NULL keys paged first)."""
        n = len(q.names)
        first = keys[0]
        nullable = first[1] != "id"
        desc = first[2]
        # ascending: NULL first keys come first, as in ORDER BY; descending: last
        phases = ["null", "value"] if not desc else ["value", "null"]
        if not nullable:
            phases = ["value"]
        sent = 0
        for phase in phases:
            last: tuple | None = None
            if phase == "null":
                page_keys = [keys[-1]]
                extra = [f"{first[0]} IS NULL"]
            else:
                page_keys = keys
                extra = [f"{first[0]} IS NOT NULL"] if nullable else []
            order_sql = ", ".join(f"{e} {'DESC' if d else 'ASC'}" for e, _, d in page_keys)
            while True:
                size = self.page_size if limit is None else min(self.page_size, limit - sent)
                if size <= 0:
                    return
                where = list(q.where) + extra
                params = list(q.params)
                if last is not None:
                    cond, p = resume_after(page_keys, last)
                    where.append(cond)
                    params.extend(p)
                where_sql = f" WHERE {' AND '.join(where)}" if where else ""
                cols = [q.meta.expr(x) for x in q.names] + ["t.id", "t.deleted"] + [k[0] for k in page_keys]
                sql = (f"SELECT {', '.join(cols)} FROM {q.from_sql()}{where_sql} ORDER BY {order_sql}"
                       f" LIMIT {int(size)}")
                rows = self._run(sql, params)
                yield from self._records(q, rows)
                sent += len(rows)
                if len(rows) < size:
                    break
                after = tuple(rows[-1][n + 2:])
                if after == last:  # the server ignored the resume condition: never loop forever
                    raise ProtocolError(f"{q.module}: keyset paging made no progress after {after!r}",
                                        transport="mysql", module=q.module)
                last = after

    def _stream(self, q: Query, keys: list[tuple[str, str, bool]], limit: int | None) -> Iterator[Record]:
        """One query streamed through an unbuffered cursor on its own connection (memory stays flat)."""
        order_sql = ", ".join(f"{e} {'DESC' if d else 'ASC'}" for e, _, d in keys)
        sql = self._select_sql(q, keys) + f" ORDER BY {order_sql}" + (f" LIMIT {int(limit)}" if limit else "")
        self._guard.check(sql)
        return self._stream_rows(q, sql, q.params)

    def _stream_rows(self, q: Query, sql: str, params: list[Any]) -> Iterator[Record]:
        conn = self._connect(cursorclass=pymysql.cursors.SSCursor)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                while True:
                    rows = cur.fetchmany(self.page_size)
                    if not rows:
                        break
                    yield from self._records(q, rows)
        except (pymysql.MySQLError, OSError) as exc:
            raise map_error(exc, f"streaming {q.module}") from None
        finally:
            conn.close()

    # --- writes: refused -----------------------------------------------------------------

    def save(self, module: str, values: Mapping[str, Any]) -> str:
        """Refused: SuiteCRM records are written through the API."""
        raise PermissionDenied(READ_ONLY_MESSAGE, transport="mysql", module=module)

    def save_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Refused: SuiteCRM records are written through the API."""
        raise PermissionDenied(READ_ONLY_MESSAGE, transport="mysql", module=module)

    def delete(self, module: str, id: str) -> None:
        """Refused: SuiteCRM records are written through the API."""
        raise PermissionDenied(READ_ONLY_MESSAGE, transport="mysql", module=module)

    def relate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Refused: SuiteCRM relationships are written through the API."""
        raise PermissionDenied(READ_ONLY_MESSAGE, transport="mysql", module=module)

    def unrelate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Refused: SuiteCRM relationships are written through the API."""
        raise PermissionDenied(READ_ONLY_MESSAGE, transport="mysql", module=module)

    # --- the sanctioned write path ---------------------------------------------------------

    def owned_writer(self, owned_tables: Iterable[str], *, chunk_size: int = 500) -> OwnedTableWriter:
        """A writer for tables the sidecar or a plugin owns (never stock SuiteCRM tables).

        Use it for the sidecar's own tables and for the table of a custom module that the plugin's own
        package created, filled exactly as SuiteCRM would (id, date_entered, date_modified, created_by,
        modified_user_id, deleted, relationship rows). Raises PermissionDenied for a stock table.
        """
        from suitecrm_ext.crm.mysql.writer import OwnedTableWriter

        return OwnedTableWriter(self, owned_tables, chunk_size=chunk_size)


def _check_filter_values(flt: Filter, types: dict[str, str], module: str) -> None:
    """A filter value the field's type cannot hold is a ValidationError naming the field, as over REST."""
    for cond in iter_conditions(flt):
        ftype = types.get(cond.field)
        if not ftype or cond.op in ("like", "is_null", "not_null"):
            continue
        for value in (cond.value if cond.op == "in" else [cond.value]):
            if value is None:
                continue
            try:
                check_value(cond, ftype, value)
            except ValidationError as exc:
                raise ValidationError(f"{module}: {exc}", fields=[cond.field], transport="mysql",
                                      module=module) from None


def _refuse_non_db(names: Sequence[str], non_db: Sequence[str], module: str, what: str) -> None:
    bad = [n for n in names if n in non_db]
    if bad:
        raise ValidationError(
            f"{module} field(s) {', '.join(map(repr, bad))} are not stored in the module's table (non-db: "
            f"SuiteCRM keeps e-mail addresses in email_addresses) and cannot be {what} on",
            fields=bad, transport="mysql", module=module)

