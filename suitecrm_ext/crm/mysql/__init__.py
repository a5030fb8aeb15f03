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

The package holds what that needs, one idea per module: :mod:`.reader` (``MySQLCRM``: reads, paging),
:mod:`.connection` (per-thread connections, guarded statements, retries), :mod:`.metadata` (module →
table, typed fields, relationship rows), :mod:`.related` (links through ``relationships``), :mod:`.guard`
(``SqlGuard``, ``STOCK_TABLES``), :mod:`.writer` (``OwnedTableWriter``), :mod:`.schema` (table and
relationship metadata), :mod:`.values` (value conversion both ways) and :mod:`.errors`. The names below
stay importable from ``suitecrm_ext.crm.mysql``.
"""

from __future__ import annotations

from suitecrm_ext.crm.mysql.errors import map_error
from suitecrm_ext.crm.mysql.guard import READ_ONLY_MESSAGE, STOCK_TABLES, SqlGuard
from suitecrm_ext.crm.mysql.reader import MySQLCRM
from suitecrm_ext.crm.mysql.schema import (
    SECRET_COLUMNS,
    Column,
    Relationship,
    TableMeta,
    sql_type_to_suitecrm,
)
from suitecrm_ext.crm.mysql.writer import OwnedTableWriter, PreparedInsert

__all__ = [
    "READ_ONLY_MESSAGE", "SECRET_COLUMNS", "STOCK_TABLES", "Column", "MySQLCRM", "OwnedTableWriter",
    "PreparedInsert", "Relationship", "SqlGuard", "TableMeta", "map_error", "sql_type_to_suitecrm",
]
