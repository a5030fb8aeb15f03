"""Direct, read-only access to SuiteCRM's MySQL/MariaDB database (pymysql).

:class:`MySQLCRM` implements the read side of the CRM interface straight from SuiteCRM's tables:

- **Module → table**: ``tables`` (config ``suitecrm.mysql.tables``) first, then what SuiteCRM's own
  ``relationships`` metadata table says (its ``lhs_module/lhs_table`` and ``rhs_module/rhs_table`` pairs
  name the table of every module that takes part in a relationship, custom modules included), and
  finally ``lower(module)``. No module is special-cased in code.
- **Custom fields**: ``<table>_cstm`` is LEFT JOINed on ``id_c`` when it exists; its columns appear as
  ordinary fields (``source="custom_fields"``).
- **Paging**: ``find`` uses keyset paging on ``id`` (the default order: the primary key, so every page is
  an index range read, and the order FakeCRM uses) or on ``(date_modified, id)`` when ordered that way;
  every page is a fresh, short query that resumes after the last row seen, so memory stays flat,
  a dropped connection costs one page, and rows sharing one ``date_modified`` second are neither lost
  nor repeated. Other orders stream the result through an unbuffered cursor on a connection of its own.
- **Relationships**: ``related`` reads SuiteCRM's ``relationships`` table (join table, lhs/rhs keys,
  ``relationship_role_column``/``_value``) and honours ``deleted`` on the metadata row, the join rows
  and the records.
- **Field types**: ``fields`` reads ``information_schema`` of the table and its ``_cstm``; the SuiteCRM
  type of a column comes from ``field_types`` (constructor), then ``fields_meta_data`` (Studio-made
  custom fields), then the stock 7.14 metadata, then the column's SQL type (best effort).
- **Values** are normalised like the API transports: aware UTC datetimes, dates, bools, ints; other
  values are strings ("" for NULL).

**Read-only towards SuiteCRM.** ``save``/``delete``/``relate`` raise PermissionDenied: records are
written through an API so SuiteCRM's logic hooks, workflows and audit run. Every statement this module
sends passes :class:`SqlGuard`, which refuses INSERT/UPDATE/DELETE/REPLACE/ALTER/DROP/TRUNCATE/CREATE
(and anything else that writes) unless every table it touches is owned by the sidecar or a plugin.
The one sanctioned write path is :meth:`MySQLCRM.owned_writer` (design principle 2): tables of the
sidecar's state or of a custom module a plugin's own package created, never stock SuiteCRM tables.

A ``MySQLCRM`` holds one connection and is not thread-safe: use one per thread.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.converters
import pymysql.cursors
from pymysql.constants import ER, SERVER_STATUS

from suitecrm_ext.crm.base import (
    CRM,
    AuthError,
    Cond,
    CRMError,
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
    from_crm,
    normalize_where,
)
from suitecrm_ext.crm.http import RetryPolicy

if TYPE_CHECKING:
    from suitecrm_ext.config import MySQLSettings

log = logging.getLogger("suitecrm_ext.crm.mysql")

READ_ONLY_MESSAGE = "the MySQL transport is read-only towards SuiteCRM tables; writes go through the API"

#: Every table of a stock SuiteCRM 7.14.6 install (from its schema dump). ``owned_writer`` refuses them
#: even when a caller claims to own one: the sidecar never writes stock tables directly.
STOCK_TABLES: frozenset[str] = frozenset("""
    accounts accounts_audit accounts_bugs accounts_cases accounts_contacts accounts_cstm
    accounts_opportunities acl_actions acl_roles acl_roles_actions acl_roles_users address_book alerts
    am_projecttemplates am_projecttemplates_audit am_projecttemplates_contacts_1_c
    am_projecttemplates_project_1_c am_projecttemplates_users_1_c am_tasktemplates
    am_tasktemplates_am_projecttemplates_c am_tasktemplates_audit aobh_businesshours aod_index
    aod_index_audit aod_indexevent aod_indexevent_audit aok_knowledge_base_categories
    aok_knowledge_base_categories_audit aok_knowledgebase aok_knowledgebase_audit
    aok_knowledgebase_categories aop_case_events aop_case_events_audit aop_case_updates
    aop_case_updates_audit aor_charts aor_conditions aor_fields aor_reports aor_reports_audit
    aor_scheduled_reports aos_contracts aos_contracts_audit aos_contracts_documents aos_invoices
    aos_invoices_audit aos_line_item_groups aos_line_item_groups_audit aos_pdf_templates
    aos_pdf_templates_audit aos_product_categories aos_product_categories_audit aos_products
    aos_products_audit aos_products_quotes aos_products_quotes_audit aos_quotes
    aos_quotes_aos_invoices_c aos_quotes_audit aos_quotes_os_contracts_c aos_quotes_project_c
    aow_actions aow_conditions aow_processed aow_processed_aow_actions aow_workflow aow_workflow_audit
    bugs bugs_audit calls calls_contacts calls_leads calls_reschedule calls_reschedule_audit calls_users
    campaign_log campaign_trkrs campaigns campaigns_audit cases cases_audit cases_bugs cases_cstm config
    contacts contacts_audit contacts_bugs contacts_cases contacts_cstm contacts_users
    cron_remove_documents currencies custom_fields document_revisions documents documents_accounts
    documents_bugs documents_cases documents_contacts documents_opportunities eapm email_addr_bean_rel
    email_addresses email_addresses_audit email_cache email_marketing email_marketing_prospect_lists
    email_templates emailman emails emails_beans emails_email_addr_rel emails_text
    external_oauth_connections external_oauth_providers favorites fields_meta_data folders folders_rel
    folders_subscriptions fp_event_locations fp_event_locations_audit fp_event_locations_fp_events_1_c
    fp_events fp_events_audit fp_events_contacts_c fp_events_fp_event_delegates_1_c
    fp_events_fp_event_locations_1_c fp_events_leads_1_c fp_events_prospects_1_c import_maps
    inbound_email inbound_email_autoreply inbound_email_cache_ts jjwg_address_cache
    jjwg_address_cache_audit jjwg_areas jjwg_areas_audit jjwg_maps jjwg_maps_audit
    jjwg_maps_jjwg_areas_c jjwg_maps_jjwg_markers_c jjwg_markers jjwg_markers_audit job_queue leads
    leads_audit leads_cstm linked_documents meetings meetings_contacts meetings_cstm meetings_leads
    meetings_users notes oauth2clients oauth2tokens oauth_consumer oauth_nonce oauth_tokens
    opportunities opportunities_audit opportunities_contacts opportunities_cstm outbound_email
    outbound_email_audit project project_contacts_1_c project_cstm project_task project_task_audit
    project_users_1_c projects_accounts projects_bugs projects_cases projects_contacts
    projects_opportunities projects_products prospect_list_campaigns prospect_lists
    prospect_lists_prospects prospects prospects_cstm relationships releases reminders
    reminders_invitees roles roles_modules roles_users saved_search schedulers securitygroups
    securitygroups_acl_roles securitygroups_audit securitygroups_default securitygroups_records
    securitygroups_users spots sugarfeed surveyquestionoptions surveyquestionoptions_audit
    surveyquestionoptions_surveyquestionresponses surveyquestionresponses surveyquestionresponses_audit
    surveyquestions surveyquestions_audit surveyresponses surveyresponses_audit surveys surveys_audit
    tasks templatesectionline tracker upgrade_history user_preferences users users_feeds
    users_last_import users_password_link users_signatures vcals
""".split())

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")

#: Columns of stock 7.14.6 tables holding password hashes or stored credentials (vardefs marked
#: ``sensitive`` or of type password/encrypt). SuiteCRM's APIs never return them; neither does this
#: reader (they are left out of ``fields``, records and filters), so they cannot reach events or logs.
SECRET_COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset({"user_hash"}),
    "users_password_link": frozenset({"keyhash"}),
    "inbound_email": frozenset({"email_password"}),
    "outbound_email": frozenset({"mail_smtppass"}),
    "oauth2clients": frozenset({"secret"}),
    "oauth2tokens": frozenset({"access_token", "refresh_token"}),
    "oauth_consumer": frozenset({"c_secret"}),
    "oauth_tokens": frozenset({"secret"}),
    "external_oauth_connections": frozenset({"client_secret", "access_token", "refresh_token"}),
    "external_oauth_providers": frozenset({"client_secret"}),
}


# --- the SQL guard -------------------------------------------------------------------------------

_READ_VERBS = {"select", "show", "explain", "describe", "desc", "set", "begin", "start", "commit",
               "rollback", "savepoint", "release", "with"}
_WRITE_VERBS = {"insert", "replace", "update", "delete", "alter", "drop", "truncate", "create", "rename"}
_MODIFIERS = {"low_priority", "delayed", "high_priority", "ignore", "quick", "online"}
_TOKEN = re.compile(r"`(?:[^`]|``)*`|[A-Za-z0-9_$@]+|\S")
#: words that make a SET change more than the session (anywhere in its assignment list)
_SET_REFUSED = frozenset({"password", "global", "persist", "persist_only", "role", "@@global", "@@persist",
                          "@@persist_only"})
#: what may stand between EXPLAIN/DESCRIBE and the statement explained
_EXPLAIN_OPTIONS = frozenset({"analyze", "extended", "partitions", "format", "=", "json", "tree",
                              "traditional"})


class SqlGuard:
    """Refuses every statement that could write a table the sidecar does not own.

    ``check(sql)`` passes reads (SELECT, SHOW, SET of session variables, transaction control) and
    writes whose every target table is in ``owned``; everything else raises PermissionDenied naming
    the statement kind and table. It also refuses several statements in one string, MySQL
    executable comments (``/*! ... */``), ``SELECT ... INTO OUTFILE/DUMPFILE`` and qualified
    (``db.table``) names in writes; MariaDB's ``SET STATEMENT ... FOR <stmt>`` and MySQL's
    ``EXPLAIN ANALYZE <stmt>`` are checked as the ``<stmt>`` they run.
    It is a second line of defence: the transport builds its own SQL.
    """

    _CACHE_SIZE = 256

    def __init__(self, owned: Iterable[str] = ()):
        self.owned = frozenset(t.lower() for t in owned)
        # statement templates already found safe: a bulk insert repeats the same text per chunk, and
        # tokenising it char by char each time capped insert_many near 5,000 rows/s
        self._passed: dict[str, None] = {}

    def check(self, sql: str) -> None:
        """Raise PermissionDenied unless ``sql`` is a read or writes only owned tables."""
        if sql in self._passed:
            return
        self._check(sql)
        if len(self._passed) >= self._CACHE_SIZE:
            self._passed.pop(next(iter(self._passed)))
        self._passed[sql] = None

    def _check(self, sql: str) -> None:
        self._check_tokens(_tokens(sql), sql)

    def _check_tokens(self, tokens: list[str], sql: str) -> None:
        if not tokens:
            raise PermissionDenied("empty SQL statement", transport="mysql")
        verb = tokens[0].lower()
        words = [t.lower() for t in tokens]
        if verb in _READ_VERBS:
            if verb == "with" and any(w in ("insert", "update", "delete", "replace") for w in words):
                raise self._refuse("a WITH ... data-changing statement", sql)
            if {"outfile", "dumpfile"} & set(words):
                raise self._refuse("SELECT ... INTO OUTFILE/DUMPFILE", sql)
            if verb == "set" and len(words) > 1 and words[1] == "statement":
                # MariaDB's SET STATEMENT var=value[, ...] FOR <statement> runs <statement>
                if "for" not in words:
                    raise self._refuse("SET STATEMENT without FOR", sql)
                self._check_tokens(tokens[words.index("for") + 1:], sql)
                return
            if verb == "set" and len(words) > 1 and (words[1] == "default" or _SET_REFUSED & set(words)):
                # any assignment of the list may be GLOBAL/PERSIST (SET a = 1, GLOBAL b = 2)
                bad = words[1] if words[1] == "default" else sorted(_SET_REFUSED & set(words))[0]
                raise self._refuse(f"SET {bad.upper()}", sql)
            if verb in ("explain", "describe", "desc"):
                # MySQL 8's EXPLAIN ANALYZE executes the statement it explains: check that statement
                i = 1
                while i < len(words) and words[i] in _EXPLAIN_OPTIONS:
                    i += 1
                if i < len(words) and words[i] in _WRITE_VERBS | {"with", "set"}:
                    self._check_tokens(tokens[i:], sql)
            return
        if verb not in _WRITE_VERBS:
            raise self._refuse(f"{verb.upper()} statements", sql)
        for table in _write_targets(verb, tokens, sql):
            if table.lower() not in self.owned:
                raise PermissionDenied(
                    f"refused {verb.upper()} on table {table!r}: {READ_ONLY_MESSAGE}"
                    + (f" (tables this writer owns: {', '.join(sorted(self.owned))})" if self.owned else ""),
                    transport="mysql",
                )

    @staticmethod
    def _refuse(what: str, sql: str) -> PermissionDenied:
        return PermissionDenied(f"refused {what}: {READ_ONLY_MESSAGE}", transport="mysql")


def _tokens(sql: str) -> list[str]:
    """Tokens of one statement, with comments and string literals removed (literals become ``?``)."""
    out: list[str] = []
    i, n = 0, len(sql)
    buf: list[str] = []
    while i < n:
        ch = sql[i]
        if sql.startswith("/*", i):
            if sql.startswith("/*!", i) or sql.startswith("/*M!", i):
                raise PermissionDenied("refused SQL with an executable /*! ... */ comment", transport="mysql")
            end = sql.find("*/", i + 2)
            if end < 0:
                raise PermissionDenied("refused SQL with an unterminated comment", transport="mysql")
            buf.append(" ")
            i = end + 2
        elif ch == "#" or sql.startswith("-- ", i) or sql.startswith("--\t", i) or sql.startswith("--\n", i) \
                or (sql.startswith("--", i) and i + 2 == n):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif ch in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise PermissionDenied("refused SQL with an unterminated string literal", transport="mysql")
            buf.append(" ? ")
            i = j + 1
        elif ch == "`":
            end = i + 1
            while True:
                end = sql.find("`", end)
                if end < 0:
                    raise PermissionDenied("refused SQL with an unterminated `identifier`", transport="mysql")
                if end + 1 < n and sql[end + 1] == "`":
                    end += 2
                    continue
                break
            buf.append(sql[i:end + 1])
            i = end + 1
        else:
            buf.append(ch)
            i += 1
    text = "".join(buf).strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    out = _TOKEN.findall(text)
    if ";" in out:
        raise PermissionDenied("refused several SQL statements in one call", transport="mysql")
    return out


def _unquote(tok: str) -> str:
    return tok[1:-1].replace("``", "`") if tok.startswith("`") else tok


def _is_ident(tok: str) -> bool:
    return tok.startswith("`") or bool(_IDENT.match(tok))


def _table_at(tokens: list[str], i: int, verb: str) -> tuple[str, int]:
    """The table name starting at tokens[i] (refusing ``db.table``) and the index after it."""
    if i >= len(tokens) or not _is_ident(tokens[i]):
        raise PermissionDenied(f"refused {verb.upper()}: cannot tell which table it writes",
                               transport="mysql")
    if i + 1 < len(tokens) and tokens[i + 1] == ".":
        raise PermissionDenied(
            f"refused {verb.upper()} on a qualified table name ({_unquote(tokens[i])}.…): writes may only "
            "name tables of the configured database", transport="mysql")
    return _unquote(tokens[i]), i + 1


def _write_targets(verb: str, tokens: list[str], sql: str) -> list[str]:
    words = [t.lower() for t in tokens]
    i = 1
    if verb in ("insert", "replace"):
        while i < len(words) and words[i] in _MODIFIERS:
            i += 1
        if i < len(words) and words[i] == "into":
            i += 1
        return [_table_at(tokens, i, verb)[0]]
    if verb == "truncate":
        if i < len(words) and words[i] == "table":
            i += 1
        return [_table_at(tokens, i, verb)[0]]
    if verb in ("alter", "drop", "create"):
        if verb == "create" and words[i:i + 2] == ["or", "replace"]:
            i += 2
        while i < len(words) and words[i] in _MODIFIERS | {"temporary"}:
            i += 1
        if verb == "create" and i < len(words) and words[i] in ("index", "unique", "fulltext", "spatial"):
            if "on" not in words[i:]:
                raise PermissionDenied("refused CREATE INDEX without ON <table>", transport="mysql")
            return [_table_at(tokens, words.index("on", i) + 1, verb)[0]]
        if i >= len(words) or words[i] != "table":
            kind = words[i].upper() if i < len(words) else "?"
            raise PermissionDenied(f"refused {verb.upper()} {kind}: {READ_ONLY_MESSAGE}", transport="mysql")
        i += 1
        if words[i:i + 2] == ["if", "exists"]:
            i += 2
        elif words[i:i + 3] == ["if", "not", "exists"]:
            i += 3
        names = []
        while True:
            name, i = _table_at(tokens, i, verb)
            names.append(name)
            if verb == "drop" and i < len(words) and words[i] == ",":
                i += 1
                continue
            break
        if verb == "create" and "select" in words[i:]:
            raise PermissionDenied("refused CREATE TABLE ... SELECT: create the table, then insert",
                                   transport="mysql")
        return names
    if verb == "rename":
        if i < len(words) and words[i] == "table":
            i += 1
        names = []
        while i < len(words):
            name, i = _table_at(tokens, i, verb)
            names.append(name)
            if i < len(words) and words[i] in ("to", ","):
                i += 1
        return names
    # UPDATE and DELETE: every table named in the table references (conservative: aliases too)
    stop = {"set"} if verb == "update" else {"where", "order", "limit", "returning"}
    names = []
    expect = True
    while i < len(words) and words[i] not in stop:
        w = words[i]
        if w in ("(", ")", "select"):
            raise PermissionDenied(f"refused {verb.upper()} with a subquery in its table list",
                                   transport="mysql")
        if w in (",", "join", "from", "using", "straight_join"):
            expect = True
            i += 1
            continue
        if w in _MODIFIERS or w in ("inner", "left", "right", "cross", "outer", "natural", "as", "on"):
            expect = w != "on" and expect
            i += 1
            continue
        if expect and _is_ident(tokens[i]) and w != "?":
            name, i = _table_at(tokens, i, verb)
            names.append(name)
            expect = False
            continue
        i += 1
    if not names:
        raise PermissionDenied(f"refused {verb.upper()}: cannot tell which table it writes",
                               transport="mysql")
    return names


# --- errors --------------------------------------------------------------------------------------

_TRANSIENT_CODES = {2002, 2003, 2006, 2013, 2014, 2055, ER.LOCK_DEADLOCK, ER.LOCK_WAIT_TIMEOUT, 1040, 1053}
_AUTH_CODES = {ER.ACCESS_DENIED_ERROR, ER.DBACCESS_DENIED_ERROR, 1698}  # 1045, 1044, 1698
_DENIED_CODES = {ER.TABLEACCESS_DENIED_ERROR, ER.COLUMNACCESS_DENIED_ERROR, ER.SPECIFIC_ACCESS_DENIED_ERROR,
                 1227, 1370}


def map_error(exc: BaseException, what: str = "") -> CRMError:
    """A pymysql exception as the gateway's typed error (the message never contains the password)."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    prefix = f"{what}: " if what else ""
    if code in _AUTH_CODES:
        return AuthError(f"{prefix}MySQL refused the login: {text}", transport="mysql")
    if code in _DENIED_CODES:
        return PermissionDenied(f"{prefix}MySQL denied it: {text}", transport="mysql")
    if code in _TRANSIENT_CODES or isinstance(exc, (OSError, pymysql.err.InterfaceError)):
        return TransientError(f"{prefix}MySQL connection problem: {text}", transport="mysql")
    if code == ER.BAD_DB_ERROR:
        return NotFound(f"{prefix}{text}", transport="mysql")
    if code == ER.NO_SUCH_TABLE:
        return NotFound(f"{prefix}{text}", transport="mysql")
    if code == ER.DUP_ENTRY:
        return ValidationError(f"{prefix}duplicate key: {text}", transport="mysql")
    if isinstance(exc, (pymysql.err.DataError, pymysql.err.IntegrityError)):
        return ValidationError(f"{prefix}{text}", transport="mysql")
    return ProtocolError(f"{prefix}MySQL error {code}: {text}", transport="mysql")


# --- metadata ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column as information_schema describes it."""

    name: str
    data_type: str  # varchar, char, int, tinyint, datetime, ...
    column_type: str  # varchar(150), tinyint(1), ...
    length: int | None = None


@dataclass(frozen=True)
class TableMeta:
    """A module table, its ``_cstm`` table (if any) and their columns (in table order)."""

    name: str
    columns: dict[str, Column]
    cstm: str | None = None
    cstm_columns: dict[str, Column] = field(default_factory=dict)

    def expr(self, column: str) -> str:
        """The qualified SQL expression of a field (``t.`name``` or ``c.`x_c```)."""
        if column in self.columns:
            return f"t.`{column}`"
        return f"c.`{column}`"

    def has(self, column: str) -> bool:
        """True when the field is a column of the table or of its ``_cstm``."""
        return column in self.columns or (column in self.cstm_columns and column != "id_c")


@dataclass(frozen=True)
class Relationship:
    """One row of SuiteCRM's ``relationships`` table."""

    name: str
    lhs_module: str
    lhs_table: str
    lhs_key: str
    rhs_module: str
    rhs_table: str
    rhs_key: str
    join_table: str | None
    join_key_lhs: str | None
    join_key_rhs: str | None
    relationship_type: str
    role_column: str | None
    role_value: str | None


_TEXT_TYPES = {"char", "varchar", "text", "tinytext", "mediumtext", "longtext", "enum", "set"}


def sql_type_to_suitecrm(col: Column) -> str:
    """Best-effort SuiteCRM field type of a column from its SQL type."""
    t, ct = col.data_type, col.column_type
    if t == "tinyint" and ct.startswith("tinyint(1)"):
        return "bool"
    if t in ("tinyint", "smallint", "mediumint", "int", "bigint"):
        return "int"
    if t in ("datetime", "timestamp"):
        return "datetime"
    if t in ("date", "time"):
        return t
    if t == "decimal":
        return "decimal"
    if t in ("float", "double"):
        return "float"
    if t in ("text", "mediumtext", "longtext", "tinytext"):
        return "text"
    if t == "char" and col.length == 36:
        return "id"
    if "blob" in t or "binary" in t:
        return "blob"
    return "varchar"


# --- paging plans --------------------------------------------------------------------------------


@dataclass
class _Query:
    module: str
    meta: TableMeta
    names: list[str]  # output field names, in order
    where: list[str]
    params: list[Any]
    joins: list[str] = field(default_factory=list)
    need_cstm: bool = False
    types: dict[str, str] = field(default_factory=dict)
    converters: list[Any] = field(default_factory=list)

    def from_sql(self) -> str:
        sql = f"`{self.meta.name}` t"
        if self.need_cstm and self.meta.cstm:
            sql += f" LEFT JOIN `{self.meta.cstm}` c ON c.id_c = t.id"
        return sql + "".join(" " + j for j in self.joins)


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
            if not _IDENT.match(table):
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
        self._rels: list[Relationship] | None = None

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
            if not _IDENT.match(table):
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
        stock = _stock_fields(module)
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
        self._fields[module] = out
        return out

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
        return self._record(q, rows[0])

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
        plan = _keyset_plan(keys)
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
            jmeta = self._columns(rel.join_table)
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

            exact = [r for r in rels if other(r)[0].lower() == key or other(r)[1].lower() == key]
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
               table: str | None = None) -> _Query:
        meta = self._table_meta(table, module) if table else self._module_meta(module)
        finfo = self.fields(module) if not table or table == self.table_for(module) else {}
        if fields is None:
            names = [n for n in meta.columns] + [n for n in meta.cstm_columns if n != "id_c"]
        else:
            if isinstance(fields, str):
                raise ValidationError(f"{module}: fields must be a list of field names, not a string",
                                      transport="mysql", module=module)
            unknown = [f for f in fields if not isinstance(f, str) or not meta.has(f)]
            if unknown:
                raise ValidationError(f"{module} has no field(s) {', '.join(map(repr, unknown))}",
                                      fields=[str(u) for u in unknown], transport="mysql", module=module)
            names = list(dict.fromkeys(fields))
        q = _Query(module, meta, names, [], [])
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
            sql, params = self._compile(q, flt)
            q.where.append(sql)
            q.params.extend(params)
        return q

    def _compile(self, q: _Query, f: Filter | Cond) -> tuple[str, list[Any]]:
        if isinstance(f, Filter):
            parts, params = [], []
            for item in f.items:
                sql, p = self._compile(q, item)
                parts.append(sql)
                params.extend(p)
            if not parts:
                return ("1=1" if f.op == "and" else "1=0"), []
            return "(" + f" {f.op.upper()} ".join(parts) + ")", params
        meta = q.meta
        if not meta.has(f.field):
            raise ValidationError(f"{q.module} has no field {f.field!r} (in filter)", fields=[f.field],
                                  transport="mysql", module=q.module)
        if f.field not in meta.columns:
            q.need_cstm = True
        col = meta.columns.get(f.field) or meta.cstm_columns[f.field]
        e = meta.expr(f.field)
        text = col.data_type in _TEXT_TYPES
        op, v = f.op, f.value
        if op == "is_null" or (op == "eq" and v is None):
            return (f"({e} IS NULL OR {e} = '')" if text else f"{e} IS NULL"), []
        if op == "not_null" or (op == "neq" and v is None):
            return (f"({e} IS NOT NULL AND {e} <> '')" if text else f"{e} IS NOT NULL"), []
        if op == "in":
            values = [_db_value(x, q.module, f.field) for x in v]
            if not values:
                return "1=0", []
            return f"{e} IN ({', '.join(['%s'] * len(values))})", values
        value = _db_value(v, q.module, f.field)
        if op == "eq":
            return f"{e} = %s", [value]
        if op == "neq":
            return f"({e} <> %s OR {e} IS NULL)", [value]
        if op == "like":
            return f"{e} LIKE %s", [value]
        sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        if text:
            return f"({e} {sym} %s AND {e} <> '')", [value]
        return f"{e} {sym} %s", [value]

    def _order(self, q: _Query, order: Sequence[str] | str | None) -> list[tuple[str, str, bool]]:
        """[(sql expr, field name, descending)], always ending with id for a total order."""
        if order is None:
            items = []  # id order: the primary key makes every keyset page an index range read
        elif isinstance(order, str):
            items = [p.strip() for p in order.split(",")]
        else:
            items = list(order)
        keys: list[tuple[str, str, bool]] = []
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise ValidationError(f"{q.module}: bad order item {item!r}; use a field name, '-name' for "
                                      "descending", transport="mysql", module=q.module)
            desc = item.startswith("-")
            name = item[1:].strip() if desc else item.strip()
            if not q.meta.has(name):
                raise ValidationError(f"{q.module} has no field {name!r} (in order)", fields=[name],
                                      transport="mysql", module=q.module)
            if name not in q.meta.columns:
                q.need_cstm = True
            keys.append((q.meta.expr(name), name, desc))
        if "id" not in [k[1] for k in keys]:
            keys.append(("t.`id`", "id", keys[-1][2] if len(keys) == 1 and keys[0][1] == "date_modified"
                          else False))
        return keys

    def _select_sql(self, q: _Query, keys: list[tuple[str, str, bool]]) -> str:
        cols = [q.meta.expr(n) for n in q.names] + ["t.id", "t.deleted"] + [k[0] for k in keys]
        where_sql = f" WHERE {' AND '.join(q.where)}" if q.where else ""
        return f"SELECT {', '.join(cols)} FROM {q.from_sql()}{where_sql}"

    def _record(self, q: _Query, row: Sequence[Any]) -> Record:
        n = len(q.names)
        if len(q.converters) != n:
            q.converters = [_converter(q.types.get(name)) for name in q.names]
        values = {name: conv(v) for name, conv, v in zip(q.names, q.converters, row, strict=False)}
        return Record(module=q.module, id=str(row[n]), values=values, deleted=bool(row[n + 1]))

    # --- paging --------------------------------------------------------------------------

    def _keyset(self, q: _Query, keys: list[tuple[str, str, bool]], limit: int | None) -> Iterator[Record]:
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
                    cond, p = _after(page_keys, last)
                    where.append(cond)
                    params.extend(p)
                where_sql = f" WHERE {' AND '.join(where)}" if where else ""
                cols = [q.meta.expr(x) for x in q.names] + ["t.id", "t.deleted"] + [k[0] for k in page_keys]
                sql = (f"SELECT {', '.join(cols)} FROM {q.from_sql()}{where_sql} ORDER BY {order_sql}"
                       f" LIMIT {int(size)}")
                rows = self._run(sql, params)
                for row in rows:
                    yield self._record(q, row)
                sent += len(rows)
                if len(rows) < size:
                    break
                after = tuple(rows[-1][n + 2:])
                if after == last:  # the server ignored the resume condition: never loop forever
                    raise ProtocolError(f"{q.module}: keyset paging made no progress after {after!r}",
                                        transport="mysql", module=q.module)
                last = after

    def _stream(self, q: _Query, keys: list[tuple[str, str, bool]], limit: int | None) -> Iterator[Record]:
        """One query streamed through an unbuffered cursor on its own connection (memory stays flat)."""
        order_sql = ", ".join(f"{e} {'DESC' if d else 'ASC'}" for e, _, d in keys)
        sql = self._select_sql(q, keys) + f" ORDER BY {order_sql}" + (f" LIMIT {int(limit)}" if limit else "")
        self._guard.check(sql)
        return self._stream_rows(q, sql, q.params)

    def _stream_rows(self, q: _Query, sql: str, params: list[Any]) -> Iterator[Record]:
        conn = self._connect(cursorclass=pymysql.cursors.SSCursor)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                while True:
                    rows = cur.fetchmany(self.page_size)
                    if not rows:
                        break
                    for row in rows:
                        yield self._record(q, row)
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
        return OwnedTableWriter(self, owned_tables, chunk_size=chunk_size)


# --- the writer for owned tables ---------------------------------------------------------------


class PreparedInsert:
    """A handle on an insert that :meth:`OwnedTableWriter.prepare_insert` checked and rendered."""

    __slots__ = ("table", "rows", "__weakref__")

    def __init__(self, table: str, rows: int):
        self.table = table
        self.rows = rows

    def __repr__(self) -> str:
        return f"<PreparedInsert {self.table}: {self.rows} rows>"


class OwnedTableWriter:
    """Writes to sidecar/plugin-owned tables only, on a connection of its own.

    ``insert_many`` is atomic (one transaction, unless inside :meth:`transaction`), chunked and
    parameterised; with ``update_on_duplicate`` it is an idempotent upsert keyed by the table's primary
    or unique keys, so re-running an import after a crash leaves the same end state. Every statement
    passes a :class:`SqlGuard` that allows writes to the owned tables only.
    """

    def __init__(self, crm: MySQLCRM, owned_tables: Iterable[str], *, chunk_size: int = 500):
        if isinstance(owned_tables, str):
            owned_tables = [owned_tables]
        owned = []
        for t in owned_tables:
            if not isinstance(t, str) or not _IDENT.match(t):
                raise ValidationError(f"owned table name {t!r} is not a plain table name", transport="mysql")
            if t.lower() in STOCK_TABLES:
                raise PermissionDenied(f"{t!r} is a stock SuiteCRM table; {READ_ONLY_MESSAGE}",
                                       transport="mysql")
            owned.append(t.lower())
        if not owned:
            raise ValidationError("owned_writer needs at least one owned table", transport="mysql")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.owned = frozenset(owned)
        self.chunk_size = chunk_size
        self._crm = crm
        self._guard = SqlGuard(self.owned)
        self._conn: pymysql.connections.Connection | None = None
        self._depth = 0
        self._columns: dict[str, dict[str, Column]] = {}
        # rendered statements by handle: weak (a handle dropped unrun frees its rows), locked (a pipeline
        # prepares in one thread and runs in another)
        self._prepared: weakref.WeakKeyDictionary[PreparedInsert, tuple] = weakref.WeakKeyDictionary()
        self._prepared_lock = threading.Lock()

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None or not self._conn.open:
            if self._depth:
                raise TransientError("the connection was lost inside a transaction; it was rolled back",
                                     transport="mysql")
            self._conn = self._crm._connect()
        return self._conn

    def _check_table(self, table: str) -> dict[str, Column]:
        if not isinstance(table, str) or table.lower() not in self.owned:
            raise PermissionDenied(
                f"refused write to table {table!r}: not owned by this writer (owns "
                f"{', '.join(sorted(self.owned))}); {READ_ONLY_MESSAGE}", transport="mysql")
        if table not in self._columns:
            cols = self._crm._columns(table)
            if not cols:
                raise NotFound(f"owned table {table!r} does not exist in {self._crm.database!r}",
                               transport="mysql")
            self._columns[table] = cols
        return self._columns[table]

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> int:
        """Run one guarded statement (``%s`` placeholders); returns the affected row count."""
        self._guard.check(sql)
        try:
            with self._connection().cursor() as cur:
                return int(cur.execute(sql, params))
        except (pymysql.MySQLError, OSError) as exc:
            raise map_error(exc) from None

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]], *,
                    update_on_duplicate: Sequence[str] = ()) -> int:
        """Insert rows (all with the same keys) in chunks; upsert the named columns on duplicate keys.

        Returns MySQL's affected-row count: 1 per inserted row, 2 per updated row, 0 per row left as
        it was. Unknown columns, rows with different keys or an empty row raise ValidationError before
        anything is written; the whole call is one transaction (all rows or none).
        """
        return self.run_prepared(self.prepare_insert(table, rows, update_on_duplicate=update_on_duplicate))

    def prepare_insert(self, table: str, rows: Sequence[Mapping[str, Any]], *,
                       update_on_duplicate: Sequence[str] = ()) -> PreparedInsert:
        """Check and render an :meth:`insert_many` now, to run later with :meth:`run_prepared`.

        Everything that can refuse the call (ownership, columns, values, the SQL guard) happens here and
        nothing touches the connection, so a pipeline can prepare batch N+1 in one thread while another
        runs batch N on this writer. The rendered statements stay inside the writer (the returned handle
        carries none), so nothing but this method's output can be run.
        """
        cols_meta = self._check_table(table)
        rows = list(rows)
        handle = PreparedInsert(table, len(rows))
        if not rows:
            with self._prepared_lock:
                self._prepared[handle] = (rows, [], "", "", False, [])
            return handle
        columns = list(rows[0].keys())
        if not columns:
            raise ValidationError(f"insert_many({table}): row 0 has no columns", transport="mysql")
        column_set = set(columns)
        for i, row in enumerate(rows):
            if type(row) is not dict and not isinstance(row, Mapping):
                raise ValidationError(f"insert_many({table}): row {i} is not a mapping", transport="mysql")
            if row.keys() != column_set:
                raise ValidationError(
                    f"insert_many({table}): row {i} has columns {sorted(row)}, row 0 has {sorted(columns)}",
                    transport="mysql")
        unknown = [c for c in list(columns) + list(update_on_duplicate)
                   if not isinstance(c, str) or c not in cols_meta]
        if unknown:
            raise ValidationError(f"insert_many({table}): unknown column(s) {', '.join(map(repr, unknown))}",
                                  fields=[str(u) for u in unknown], transport="mysql")
        col_sql = ", ".join(f"`{c}`" for c in columns)
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        upsert = ""
        if update_on_duplicate:
            upsert = " ON DUPLICATE KEY UPDATE " + ", ".join(
                f"`{c}` = VALUES(`{c}`)" for c in update_on_duplicate)
        head = f"INSERT INTO `{table}` ({col_sql}) VALUES "
        for start in range(0, len(rows), self.chunk_size):
            # the guard checks the statement template (cached per chunk length); the values are then
            # spliced in as escaped literals, exactly as pymysql's own ``query % escaped_args`` would,
            # only without its per-value call chain (2.7M values per 100k payments cost ~3 s there)
            self._guard.check(head + ", ".join([one] * len(rows[start:start + self.chunk_size])) + upsert)
        conn = self._conn
        nbe = bool(conn is not None and conn.server_status & _NO_BACKSLASH_ESCAPES)
        rendered = (rows, columns, head, upsert, nbe, self._render(rows, columns, head, upsert, table, nbe))
        with self._prepared_lock:
            self._prepared[handle] = rendered
        return handle

    def _render(self, rows: list[Mapping[str, Any]], columns: list[str], head: str, upsert: str, table: str,
                nbe: bool) -> list[str]:
        return [head + _values_sql(rows[start:start + self.chunk_size], columns, table, nbe) + upsert
                for start in range(0, len(rows), self.chunk_size)]

    def run_prepared(self, handle: PreparedInsert) -> int:
        """Run what :meth:`prepare_insert` rendered, in one transaction (or the enclosing one), once.

        Returns MySQL's affected-row count (see :meth:`insert_many`).
        """
        try:
            with self._prepared_lock:
                rows, columns, head, upsert, nbe, statements = self._prepared.pop(handle)
        except (KeyError, TypeError):
            raise ValidationError(f"run_prepared: {handle!r} was not prepared by this writer, or already ran",
                                  transport="mysql") from None
        if not rows:
            return 0
        total = 0
        with self.transaction():
            conn = self._connection()
            if bool(conn.server_status & _NO_BACKSLASH_ESCAPES) != nbe:  # the session's quoting changed
                statements = self._render(rows, columns, head, upsert, handle.table, not nbe)
            for sql in statements:
                try:
                    with conn.cursor() as cur:
                        total += int(cur.execute(sql))
                except (pymysql.MySQLError, OSError) as exc:
                    raise map_error(exc) from None
        return total

    @contextmanager
    def transaction(self) -> Iterator[OwnedTableWriter]:
        """All writes inside happen or none do (nested uses join the outer transaction)."""
        conn = self._connection()
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        try:
            conn.begin()
        except (pymysql.MySQLError, OSError) as exc:
            raise map_error(exc) from None
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            try:
                conn.rollback()
            except (pymysql.MySQLError, OSError):  # the connection died: the server rolled back
                self._conn = None
            raise
        self._depth = 0
        try:
            conn.commit()
        except (pymysql.MySQLError, OSError) as exc:
            self._conn = None
            raise map_error(exc, "commit") from None

    def close(self) -> None:
        """Close the writer's connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> OwnedTableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- helpers -----------------------------------------------------------------------------------


def _blank_none(v: Any) -> Any:
    return None if v == "" else v


def _keyset_plan(keys: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]] | None:
    """The keys when keyset paging applies: (id) or (date_modified, id), one direction."""
    names = [k[1] for k in keys]
    dirs = {k[2] for k in keys}
    if len(dirs) == 1 and names in (["id"], ["date_modified", "id"]):
        return keys
    return None


def _after(keys: list[tuple[str, str, bool]], last: tuple) -> tuple[str, list[Any]]:
    """``WHERE`` part that resumes after ``last`` in ``keys`` order (same direction for every key)."""
    if len(keys) == 1:
        e, _, d = keys[0]
        return f"{e} {'<' if d else '>'} %s", [last[0]]
    (e1, _, d), (e2, _, _) = keys
    op = "<" if d else ">"
    return f"({e1} {op} %s OR ({e1} = %s AND {e2} {op} %s))", [last[0], last[0], last[1]]


#: what MySQL needs escaped inside a '...' literal (pymysql's escape_string table: NUL, LF, CR, ^Z, quotes,
#: backslash); used only while the session has backslash escapes on (not NO_BACKSLASH_ESCAPES). A list
#: table (translate leaves characters past its end alone) behind a regex test: most values need nothing,
#: and translating Cyrillic text char by char cost more than the rest of the statement building.
_LITERAL_ESCAPES = [chr(i) for i in range(128)]
for _ch, _esc in {"\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z", "'": "\\'", '"': '\\"',
                  "\\": "\\\\"}.items():
    _LITERAL_ESCAPES[ord(_ch)] = _esc
_NEEDS_ESCAPE = re.compile("[\0\n\r\x1a'\"\\\\]").search


_NO_BACKSLASH_ESCAPES = SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES


def _values_sql(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], table: str,
                no_backslash_escapes: bool) -> str:
    """``(v, ...), (v, ...)`` for ``rows``: every value an escaped SQL literal, as pymysql's
    ``Connection.escape`` renders it for a session with (or without) NO_BACKSLASH_ESCAPES.

    Strings (nearly every value of a bulk import) are escaped inline with pymysql's own table; other
    values go through ``_db_value`` (which refuses what SQL cannot hold) and pymysql's converters.
    """
    def other(v: Any, c: str) -> str:
        if v is None:
            return "NULL"
        v = _db_value(v, table, c)
        if isinstance(v, str):
            return "'" + (v.replace("'", "''") if no_backslash_escapes else v.translate(esc)) + "'"
        if isinstance(v, (bytes, bytearray)):
            return f"X'{v.hex()}'"
        return str(pymysql.converters.escape_item(v, "utf8mb4"))

    esc, needs = _LITERAL_ESCAPES, _NEEDS_ESCAPE
    if no_backslash_escapes:
        return ", ".join("(" + ", ".join([other(r[c], c) for c in columns]) + ")" for r in rows)
    return ", ".join(
        "(" + ", ".join([("'" + (v.translate(esc) if needs(v) else v) + "'") if type(v) is str
                         else str(v) if type(v) is int else other(v, c) for c in columns for v in (r[c],)])
        + ")"
        for r in rows)


def _db_value(v: Any, where: str, name: str) -> Any:
    """A Python value as a parameter: aware datetimes to naive UTC, bools to 1/0."""
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo else v
    if v is None or isinstance(v, (str, int, float, decimal.Decimal, dt.date, dt.time, bytes)):
        return v
    raise ValidationError(f"{where}.{name}: cannot use a {type(v).__name__} value in SQL", fields=[name],
                          transport="mysql")


def _value(ftype: str | None, raw: Any) -> Any:
    """A column value normalised like the API transports give it."""
    if isinstance(raw, (decimal.Decimal, float)) and ftype not in ("int",):
        raw = str(raw)
    elif isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    elif isinstance(raw, dt.timedelta):
        secs = int(raw.total_seconds())
        raw = f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
    try:
        return from_crm(ftype, raw)
    except ValueError:  # e.g. a zero date '0000-00-00 00:00:00'
        return None


_UTC = dt.timezone.utc
_DATETIME, _STR, _INT = dt.datetime, str, int


def _converter(ftype: str | None) -> Any:
    """A per-column fast path of :func:`_value` for the value types pymysql usually returns."""
    if ftype in ("datetime", "datetimecombo"):
        return lambda v: v.replace(tzinfo=_UTC) if type(v) is _DATETIME else _value(ftype, v)
    if ftype == "bool":
        return lambda v: v != 0 if type(v) is _INT else _value(ftype, v)
    if ftype == "int":
        return lambda v: v if type(v) is _INT else _value(ftype, v)
    if ftype in ("date",):
        return lambda v: _value(ftype, v)
    return lambda v: v if type(v) is _STR else ("" if v is None else _value(ftype, v))


def _stock_fields(module: str) -> dict[str, FieldInfo]:
    """Stock 7.14 field metadata of a module."""
    from suitecrm_ext.crm.stock_modules import STOCK_FIELDS

    return {f.name: f for f in STOCK_FIELDS.get(module, ())}
