"""FakeCRM's relationships: relating, unrelating and reading related records, as SuiteCRM does.

:class:`FakeRelationships` is a mixin of :class:`~suitecrm_ext.crm.fake.FakeCRM`. Relationship rows are
soft-deleted like SuiteCRM's; a one-to-many link keeps one partner per record and its id field in step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from suitecrm_ext.crm.base import Record, ValidationError
from suitecrm_ext.crm.fake_model import LinkEnd, Relationship, StoredModule


class FakeRelationships:
    """relate / unrelate / related of a FakeCRM, and the soft delete of a record's relationship rows."""

    def relate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Add relationship rows; relating twice is harmless. NotFound for a missing record on either side."""
        other_ids = self._ids(other_ids)
        self.calls.append(("relate", module, id, link, tuple(other_ids)))
        end = self._link(module, link)
        self._acl(module, "relate")
        self._live_row(self._module(module), id)
        other = self._module(end.other_module)
        for oid in other_ids:
            self._live_row(other, oid)
        for oid in other_ids:
            lhs, rhs = (id, oid) if end.is_lhs else (oid, id)
            rel = end.rel
            if rel.one_to_many:
                # the rhs record has one partner: replace an existing row to another lhs record
                for key, deleted in list(rel.rows.items()):
                    if key[1] == rhs and key[0] != lhs and not deleted:
                        self._drop_row(rel, key)
            rel.rows[(lhs, rhs)] = False
            if rel.rhs_id_field:
                self._modules[rel.rhs_module].rows[rhs][rel.rhs_id_field] = lhs

    def unrelate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Soft-delete relationship rows; unrelating what is not related is harmless."""
        other_ids = self._ids(other_ids)
        self.calls.append(("unrelate", module, id, link, tuple(other_ids)))
        end = self._link(module, link)
        self._acl(module, "relate")
        self._live_row(self._module(module), id)
        for oid in other_ids:
            key = (id, oid) if end.is_lhs else (oid, id)
            if key in end.rel.rows:
                self._drop_row(end.rel, key)

    def related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None = None
    ) -> Iterator[Record]:
        """Live records related through ``link`` (deleted records and removed rows are left out)."""
        self.calls.append(("related", module, id, link))
        end = self._link(module, link)
        self._acl(module, "read")
        self._live_row(self._module(module), id)
        other = self._modules[end.other_module]
        self._check_fields(other, fields, "fields")
        out = []
        for (lhs, rhs), deleted in end.rel.rows.items():
            if deleted:
                continue
            if end.is_lhs and lhs == id:
                oid = rhs
            elif not end.is_lhs and rhs == id:
                oid = lhs
            else:
                continue
            row = other.rows.get(oid)
            if row is not None and not row["deleted"]:
                out.append(self._record(other, row, fields))
        out.sort(key=lambda r: r.id)
        return iter(out)

    def _soft_delete(self, mod: StoredModule, id: str) -> None:
        row = mod.rows[id]
        row["deleted"] = True
        row["date_modified"] = self._now()
        row["modified_user_id"] = self.user_id
        for end in self._links[mod.name].values():
            for key in list(end.rel.rows):
                if key[0 if end.is_lhs else 1] == id:
                    self._drop_row(end.rel, key)

    def _link(self, module: str, link: str) -> LinkEnd:
        self._module(module)
        end = self._links[module].get(link)
        if end is None:
            known = ", ".join(sorted(self._links[module])) or "none"
            raise ValidationError(f"{module} has no link {link!r} (links: {known})", fields=[link],
                                  transport=self.name, module=module)
        return end

    @staticmethod
    def _ids(other_ids: Sequence[str]) -> list[str]:
        if isinstance(other_ids, str):
            return [other_ids]
        return list(other_ids)

    def _drop_row(self, rel: Relationship, key: tuple[str, str]) -> None:
        rel.rows[key] = True
        if rel.rhs_id_field:
            row = self._modules[rel.rhs_module].rows.get(key[1])
            if row is not None and row.get(rel.rhs_id_field) == key[0]:
                row[rel.rhs_id_field] = ""


__all__ = ["FakeRelationships"]
