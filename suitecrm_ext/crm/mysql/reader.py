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
    TransientError,
    Unsupported,
    ValidationError,
    Where,
    iter_conditions,
    normalize_where,
)
from suitecrm_ext.crm.http import RetryPolicy
from suitecrm_ext.crm.mysql.emails import email_fields, fetch_emails
from suitecrm_ext.crm.mysql.errors import map_error
from suitecrm_ext.crm.mysql.guard import READ_ONLY_MESSAGE, SqlGuard
from suitecrm_ext.crm.mysql.query import (
    Query,
    compile_filter,
    keyset_plan,
    order_keys,
    resume_after,
    select_sql,
)
from suitecrm_ext.crm.mysql.schema import (
    IDENT,
    SECRET_COLUMNS,
    Column,
    Relationship,
    TableMeta,
    sql_type_to_suitecrm,
    stock_fields,
)
from suitecrm_ext.crm.mysql.values import converter
from suitecrm_ext.crm.sqlfilter import check_value

if TYPE_CHECKING:
    from suitecrm_ext.config import MySQLSettings
    from suitecrm_ext.crm.mysql.writer import OwnedTableWriter

log = logging.getLogger("suitecrm_ext.crm.mysql")


# --- paging plans --------------------------------------------------------------------------------


class MySQLCRM(CRM):
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

    # --- connections and statements ------------------------------------------------------

    def _connect(self, **extra: Any) -> pymysql.connections.Connection:
        try:
            return pymysql.connect(**self._conn_args, **extra)
        except pymysql.MySQLError as exc:
            raise map_error(exc, f"connect to {self!r}") from None
        except OSError as exc:
            raise TransientError(f"connect to {self!r}: {exc}", transport="mysql") from None

    @property
    def _conn(self) -> pymysql.connections.Connection | None:
        return getattr(self._local, "conn", None)

    @_conn.setter
    def _conn(self, conn: pymysql.connections.Connection | None) -> None:
        old = getattr(self._local, "conn", None)
        self._local.conn = conn
        with self._conns_lock:
            self._open_conns.discard(old)
            if conn is not None:
                self._open_conns.add(conn)

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None or not self._conn.open:
            self._conn = self._connect()
        return self._conn

    def _run(self, sql: str, params: Sequence[Any] = (), *, one: bool = False) -> Any:
        """Run a guarded read: rows, or one row. Transient faults (connection lost or refused, deadlock,
        lock wait timeout) reconnect and retry with backoff and jitter (a read is idempotent)."""
        self._guard.check(sql)

        def once() -> Any:
            try:
                with self._connection().cursor() as cur:
                    cur.execute(sql, tuple(params))
                    return cur.fetchone() if one else cur.fetchall()
            except (pymysql.MySQLError, OSError) as exc:
                err = map_error(exc)
            if isinstance(err, TransientError):
                self._drop_connection()
            raise err

        try:
            return self.policy.call(once)
        except TransientError:
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            self._conn = None

    def ping(self) -> None:
        """Connect (or reconnect) and run ``SELECT 1``; raises AuthError / TransientError / NotFound."""
        self._run("SELECT 1")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only statement of your own (parameterised: ``%s`` placeholders) → rows as dicts.

        The statement passes :class:`SqlGuard`: anything that writes a SuiteCRM table is refused.
        """
        self._guard.check(sql)
        try:
            with self._connection().cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute(sql, tuple(params))
                return list(cur.fetchall())
        except (pymysql.MySQLError, OSError) as exc:
            raise map_error(exc) from None

    def close(self) -> None:
        """Close every thread's connection."""
        self._drop_connection()
        with self._conns_lock:
            conns, self._open_conns = list(self._open_conns), set()
        for conn in conns:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken or foreign-thread connection
                pass

    # --- metadata ------------------------------------------------------------------------

    def relationships(self) -> list[Relationship]:
        """SuiteCRM's relationship metadata (live rows of ``relationships``), cached."""
        if self._rels is None:
            rows = self._run(
                "SELECT relationship_name, lhs_module, lhs_table, lhs_key, rhs_module, rhs_table, rhs_key,"
                " join_table, join_key_lhs, join_key_rhs, relationship_type, relationship_role_column,"
                " relationship_role_column_value FROM relationships WHERE deleted = 0"
                " ORDER BY relationship_name"
            ) if self._table_exists("relationships") else ()
            self._rels = [Relationship(*(_blank_none(v) for v in r)) for r in rows]
        return self._rels

    def refresh_metadata(self) -> None:
        """Forget cached tables, fields and relationships (after a package install adds some)."""
        self._meta.clear()
        self._fields.clear()
        self._emails.clear()
        self._join_cols.clear()
        self._rels = None

    def table_for(self, module: str) -> str:
        """The table of a module: config ``tables``, else the relationships metadata, else lower(module)."""
        if not isinstance(module, str) or not module:
            raise ValidationError(f"bad module name {module!r}", transport="mysql")
        if module in self._tables_cfg:
            return self._tables_cfg[module]
        for rel in self.relationships():
            if rel.lhs_module == module and rel.lhs_table:
                return rel.lhs_table
            if rel.rhs_module == module and rel.rhs_table:
                return rel.rhs_table
        return module.lower()

    def _table_exists(self, table: str) -> bool:
        return bool(self._columns(table))

    def _columns(self, table: str) -> dict[str, Column]:
        rows = self._run(
            "SELECT column_name, data_type, column_type, character_maximum_length"
            " FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s"
            " ORDER BY ordinal_position", (table,),
        )
        return {r[0]: Column(r[0], r[1].lower(), r[2].lower(), r[3]) for r in rows}

    def _table_meta(self, table: str, module: str) -> TableMeta:
        if table not in self._meta:
            if not IDENT.match(table):
                raise ValidationError(f"{module}: {table!r} is not a valid table name", transport="mysql",
                                      module=module)
            secret = SECRET_COLUMNS.get(table.lower(), frozenset())
            cols = {n: c for n, c in self._columns(table).items() if n.lower() not in secret}
            if not cols:
                self._meta[table] = None
            else:
                cstm_cols = self._columns(f"{table}_cstm") if "id" in cols else {}
                self._meta[table] = TableMeta(table, cols, f"{table}_cstm" if cstm_cols else None, cstm_cols)
        meta = self._meta[table]
        if meta is None:
            raise NotFound(
                f"module {module!r}: no table {table!r} visible in database {self.database!r} (it does not "
                "exist, or the MySQL user lacks SELECT on it; map a module to its table with "
                "suitecrm.mysql.tables)", transport="mysql", module=module)
        if "id" not in meta.columns or "deleted" not in meta.columns:
            raise Unsupported(f"module {module!r}: table {table!r} has no id/deleted columns; not a module "
                              "table", transport="mysql", module=module)
        return meta

    def _module_meta(self, module: str) -> TableMeta:
        return self._table_meta(self.table_for(module), module)

    def fields(self, module: str) -> dict[str, FieldInfo]:
        """Fields of a module: the columns of its table and ``_cstm`` (``id_c`` left out), typed."""
        if module in self._fields:
            return self._fields[module]
        meta = self._module_meta(module)
        overrides = self._field_types.get(module, {})
        studio = self._studio_fields(module) if meta.cstm else {}
        stock = stock_fields(module)
        out: dict[str, FieldInfo] = {}
        for source, cols in (("", meta.columns), ("custom_fields", meta.cstm_columns)):
            for name, col in cols.items():
                if name == "id_c" or name in out:
                    continue
                base = stock.get(name) or studio.get(name)
                if base is not None:
                    info = FieldInfo(name, overrides.get(name, base.type), base.label, base.required,
                                     base.options, base.length or col.length, source)
                else:
                    info = FieldInfo(name, overrides.get(name) or sql_type_to_suitecrm(col), "",
                                     name == "id", (), col.length, source)
                out[name] = info
        for name, info in self._email_fields(module).items():
            out.setdefault(name, info)
        self._fields[module] = out
        return out

    def _email_fields(self, module: str) -> dict[str, FieldInfo]:
        """``email1`` & co. when the module has them and the address tables are readable (cached)."""
        if module not in self._emails:
            fields = email_fields(module, stock_fields(module))
            readable = all(self._table_exists(t) for t in ("email_addr_bean_rel", "email_addresses"))
            self._emails[module] = fields if fields and readable else {}
        return self._emails[module]

    def _studio_fields(self, module: str) -> dict[str, FieldInfo]:
        """Custom fields made in Studio, from ``fields_meta_data`` (their real SuiteCRM types)."""
        if not self._table_exists("fields_meta_data"):
            return {}
        rows = self._run(
            "SELECT name, type, vname, required, len FROM fields_meta_data"
            " WHERE custom_module = %s AND deleted = 0", (module,))
        return {r[0]: FieldInfo(r[0], r[1] or "varchar", r[2] or "", bool(r[3]), (), r[4] or None,
                                "custom_fields") for r in rows}

    def modules(self) -> list[str]:
        """Modules with a table here: the configured ones and those in the relationships metadata."""
        names = set(self._tables_cfg)
        for rel in self.relationships():
            names.update(m for m in (rel.lhs_module, rel.rhs_module) if m)
        rows = self._run("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        existing = {r[0] for r in rows}
        return sorted(m for m in names if self.table_for(m) in existing)

    def server_info(self) -> dict[str, Any]:
        """``{"flavor": "mysql", "db_version": ..., "sugar_version": ...}`` (the last from ``config``)."""
        info: dict[str, Any] = {"flavor": "mysql", "db_version": self._run("SELECT VERSION()", one=True)[0]}
        if self._table_exists("config"):
            row = self._run("SELECT value FROM config WHERE category = 'info' AND name = 'sugar_version'",
                            one=True)
            if row:
                info["sugar_version"] = row[0]
        return info

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

    def related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None = None
    ) -> Iterator[Record]:
        """Live records related to ``module/id`` through ``link``, paged by id.

        ``link`` is resolved to a row of SuiteCRM's ``relationships`` table: the ``links`` map given
        to the constructor; else a relationship of that name involving ``module``; else the
        relationship(s) whose other side's module or table is ``link`` (``Accounts`` + ``contacts`` →
        ``accounts_contacts``), preferring ``<table>_<link>`` / ``<link>_<table>`` when several match.
        A relationship of a module with itself (``member_accounts``) is read from the lhs side.
        Deleted relationship metadata, join rows and records are left out. NotFound when the record
        is missing or deleted; ValidationError when the link cannot be resolved.
        """
        rel, this_is_lhs = self._resolve_link(module, link)
        src = self._module_meta(module)
        if this_is_lhs:
            other_module, other_table = rel.rhs_module, rel.rhs_table
            src_key, other_key = rel.lhs_key, rel.rhs_key
        else:
            other_module, other_table = rel.lhs_module, rel.lhs_table
            src_key, other_key = rel.rhs_key, rel.lhs_key
        # the source record must be live; its key column gives the value to join on
        want = [src_key] + ([rel.role_column] if (rel.role_column and not rel.join_table and not this_is_lhs)
                            else [])
        for col in want:
            if not src.has(col):
                raise ProtocolError(f"relationship {rel.name}: {src.name} has no column {col!r}",
                                    transport="mysql", module=module)
        row = self._run(
            f"SELECT {', '.join(src.expr(c) for c in want)} FROM `{src.name}` t"
            + (f" LEFT JOIN `{src.cstm}` c ON c.id_c = t.id" if src.cstm else "")
            + " WHERE t.id = %s AND t.deleted = 0", (str(id),), one=True)
        if row is None:
            raise NotFound(f"{module} record {id!r} does not exist or is deleted", transport="mysql",
                           module=module)
        key_value = row[0]
        q = self._query(other_module, None, fields, include_deleted=False, table=other_table)
        omet = q.meta
        if rel.join_table:
            if rel.join_table not in self._join_cols:
                self._join_cols[rel.join_table] = self._columns(rel.join_table)
            jmeta = self._join_cols[rel.join_table]
            this_jk = rel.join_key_lhs if this_is_lhs else rel.join_key_rhs
            other_jk = rel.join_key_rhs if this_is_lhs else rel.join_key_lhs
            needed = [this_jk, other_jk] + ([rel.role_column] if rel.role_column else [])
            if not jmeta or any(c not in jmeta for c in needed) or not omet.has(other_key):
                raise ProtocolError(f"relationship {rel.name}: join table {rel.join_table!r} does not have "
                                    f"the columns the metadata names ({', '.join(map(str, needed))})",
                                    transport="mysql", module=module)
            sub = (f"SELECT j.`{other_jk}` FROM `{rel.join_table}` j WHERE j.`{this_jk}` = %s"
                   + (" AND j.deleted = 0" if "deleted" in jmeta else ""))
            params: list[Any] = [key_value]
            if rel.role_column:
                sub += f" AND j.`{rel.role_column}` = %s"
                params.append(rel.role_value)
            q.where.append(f"{omet.expr(other_key)} IN ({sub})")
            q.params.extend(params)
        else:
            if not omet.has(other_key):
                raise ProtocolError(f"relationship {rel.name}: {omet.name} has no column {other_key!r}",
                                    transport="mysql", module=module)
            if key_value in (None, ""):
                return iter(())
            q.where.append(f"{omet.expr(other_key)} = %s")
            q.params.append(key_value)
            if rel.role_column:
                if this_is_lhs:
                    q.where.append(f"{omet.expr(rel.role_column)} = %s")
                    q.params.append(rel.role_value)
                elif str(row[1]) != str(rel.role_value):
                    return iter(())
        if other_key not in omet.columns or (rel.role_column and this_is_lhs and not rel.join_table
                                             and rel.role_column not in omet.columns):
            q.need_cstm = True
        return self._keyset(q, [("t.`id`", "id", False)], None)

    def _resolve_link(self, module: str, link: str) -> tuple[Relationship, bool]:
        rels = [r for r in self.relationships() if module in (r.lhs_module, r.rhs_module)]
        named = self._links.get(f"{module}.{link}", link)
        exact = [r for r in rels if r.name == named]
        if not exact and named != link:
            raise ValidationError(f"links[{module}.{link}] names relationship {named!r}, which does not "
                                  f"involve {module}", transport="mysql", module=module)
        if not exact:
            key = link.lower()
            table = self.table_for(module)

            def other(r: Relationship) -> tuple[str, str]:
                return (r.rhs_module, r.rhs_table) if r.lhs_module == module else (r.lhs_module, r.lhs_table)

            # some real relationships rows have no lhs/rhs table: no match, not a crash
            exact = [r for r in rels if key in ((other(r)[0] or "").lower(), (other(r)[1] or "").lower())]
            if len(exact) > 1:
                single = table[:-1] if table.endswith("s") else table
                preferred = {f"{table}_{key}", f"{key}_{table}", f"{single}_{key}", f"{key}_{single}"}
                best = [r for r in exact if r.name.lower() in preferred]
                if len(best) != 1:
                    raise ValidationError(
                        f"{module} link {link!r} is ambiguous: relationships "
                        f"{', '.join(r.name for r in exact)} match; pass the relationship name",
                        fields=[link], transport="mysql", module=module)
                exact = best
        if not exact:
            names = ", ".join(r.name for r in rels) or "none"
            raise ValidationError(
                f"{module} has no relationship for link {link!r} in SuiteCRM's relationships table "
                f"(relationships of {module}: {names})", fields=[link], transport="mysql", module=module)
        rel = exact[0]
        return rel, rel.lhs_module == module

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


def _blank_none(v: Any) -> Any:
    return None if v == "" else v
