"""MySQLCRM's metadata: module → table, typed fields, relationship rows, modules and server info.

:class:`MySQLMetadata` is a mixin of :class:`~suitecrm_ext.crm.mysql.reader.MySQLCRM`; what it reads from
``information_schema``, ``relationships`` and ``fields_meta_data`` is cached until
:meth:`~MySQLMetadata.refresh_metadata`.
"""

from __future__ import annotations

from typing import Any

from suitecrm_ext.crm.base import FieldInfo, NotFound, Unsupported, ValidationError
from suitecrm_ext.crm.mysql.emails import email_fields
from suitecrm_ext.crm.mysql.schema import (
    IDENT,
    SECRET_COLUMNS,
    Column,
    Relationship,
    TableMeta,
    sql_type_to_suitecrm,
    stock_fields,
)


class MySQLMetadata:
    """Tables, fields and relationships of a MySQLCRM, as SuiteCRM's database describes them."""

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


def _blank_none(v: Any) -> Any:
    return None if v == "" else v


__all__ = ["MySQLMetadata"]
