"""REST v4_1 relationships: ``set_relationship`` and ``get_relationships``, as SuiteCRM answers them.

:class:`RestRelationships` is a mixin of :class:`~suitecrm_ext.crm.rest_v4.RestV4CRM`. A ``related`` call
always names the fields it wants: with an empty select list the real 7.14.6 answers phantom entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from suitecrm_ext.crm.base import CRMError, NotFound, PermissionDenied, ProtocolError, Record, ValidationError


class RestRelationships:
    """relate / unrelate / related of a RestV4CRM."""

    def _check_link(self, module: str, link: str) -> None:
        self._meta(module)
        if link not in self._links[module]:
            known = ", ".join(sorted(self._links[module])) or "none"
            raise ValidationError(f"{module} has no link {link!r} (links: {known})", fields=[link],
                                  transport=self.name, module=module)

    def _set_relationship(self, module: str, id: str, link: str, other_ids: list[str], delete: int) -> dict:
        payload = self._call("set_relationship", [module, id, link, other_ids, [], delete])
        if not isinstance(payload, dict) or not {"created", "failed", "deleted"} <= set(payload):
            raise ProtocolError(f"REST set_relationship {module}.{link}: unexpected answer",
                                excerpt=json.dumps(payload)[:500], transport=self.name)
        if int(payload["failed"]):
            raise PermissionDenied(f"REST set_relationship {module}.{link}: SuiteCRM refused the change "
                                   f"({payload['failed']} failed)", transport=self.name, module=module)
        return payload

    def relate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """``set_relationship``, then a check that every other id is related (NotFound for missing ones)."""
        other_ids = [other_ids] if isinstance(other_ids, str) else list(other_ids)
        self._check_link(module, link)
        self._require_live(module, [id])
        if not other_ids:
            return
        self._set_relationship(module, id, link, other_ids, 0)
        related = {r.id for r in self._related(module, id, link, ["id"])}
        missing = [o for o in other_ids if o not in related]
        if missing:
            raise NotFound(f"cannot relate {module} {id} through {link!r}: record(s) "
                           f"{', '.join(map(repr, missing))} do not exist or are deleted",
                           transport=self.name, module=module)

    def unrelate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """``set_relationship`` with ``delete=1`` (SuiteCRM soft-deletes the relationship rows)."""
        other_ids = [other_ids] if isinstance(other_ids, str) else list(other_ids)
        self._check_link(module, link)
        self._require_live(module, [id])
        if other_ids:
            self._set_relationship(module, id, link, other_ids, 1)

    def related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None = None
    ) -> Iterator[Record]:
        """``get_relationships`` page by page (live related records only)."""
        self._check_link(module, link)
        self._require_live(module, [id])
        other = self._links[module][link].get("module") or ""
        checked = False
        if fields is not None and other:
            self._meta(other)
            self._check_fields(other, fields, "fields")
            checked = True
        return iter(list(self._related(module, id, link, fields, checked=checked)))

    def _related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None, *, checked: bool = True
    ) -> Iterator[Record]:
        """Pages of ``get_relationships``. Unless ``checked``, ``fields`` are validated against the module
        of the first answer (SuiteCRM leaves the ``module`` of many link fields empty)."""
        offset = 0
        fallback = self._links[module][link].get("module") or module
        select = self._select(fields)
        if fields is None:
            # an empty select list makes the real get_relationships answer phantom entries (id null,
            # only 'deleted' and the custom fields): name the related module's fields instead
            other = self._links[module][link].get("module") or self._related_module(module, id, link)
            if other is None:
                return
            self._meta(other)
            fallback = other
            select = [n for n, f in self._fields[other].items() if f.type != "link"]
        while True:
            payload = self._call("get_relationships", [module, id, link, "", select, [], 0, "",
                                                       offset, self.page_size])
            try:
                entries = payload["entry_list"]
            except (TypeError, KeyError):
                raise ProtocolError(f"REST get_relationships {module}.{link}: unexpected answer",
                                    excerpt=json.dumps(payload)[:500], transport=self.name) from None
            for entry in entries:
                other = entry.get("module_name") or fallback
                if other not in self._fields:
                    try:
                        self._meta(other)
                    except CRMError:
                        pass
                if not checked and fields is not None and other in self._fields:
                    self._check_fields(other, fields, "fields")
                    checked = True
                yield self._record(other, entry, fields)
            if len(entries) < self.page_size:
                return
            offset += len(entries)

    def _related_module(self, module: str, id: str, link: str) -> str | None:
        """The module behind a link SuiteCRM's metadata does not name (None when nothing is related)."""
        payload = self._call("get_relationships", [module, id, link, "", ["id"], [], 0, "", 0, 1])
        entries = payload.get("entry_list") if isinstance(payload, dict) else None
        return (entries[0].get("module_name") or None) if entries else None


__all__ = ["RestRelationships"]
