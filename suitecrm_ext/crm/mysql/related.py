"""MySQLCRM's relationships: ``related`` through SuiteCRM's ``relationships`` table, and link resolution.

:class:`MySQLRelated` is a mixin of :class:`~suitecrm_ext.crm.mysql.reader.MySQLCRM`: a link becomes one
row of the ``relationships`` table (join table or a key on the other table, role column and value).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from suitecrm_ext.crm.base import NotFound, ProtocolError, Record, ValidationError
from suitecrm_ext.crm.mysql.schema import Relationship


class MySQLRelated:
    """related() of a MySQLCRM."""

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


__all__ = ["MySQLRelated"]
