"""An id map in the state store: which record of one system is which record of another, both ways.

Sync plugins keep here what they matched or created (``Accounts`` ``<internal id>`` is ``<portal
id>`` in the client portal), with a small JSON document per pair for their own bookkeeping (the
values both sides agreed on at the last sync, a creation in progress, ...)::

    ids = IdMap(ctx.state, "portal_sync.ids")
    ids.link("Accounts", internal_id, portal_id, {"base": {...}})
    ids.right("Accounts", internal_id)          # -> portal id, or None
    ids.left("Accounts", portal_id)             # -> internal id, or None
    ids.entry("Accounts", internal_id)          # -> IdPair(kind, left, right, data), or None

Both directions are written in one store transaction, so a crash leaves the pair linked both ways or
not at all. A pair is unique both ways: linking a left id that already points elsewhere, or a right
id that already belongs to another left id, raises :class:`IdMapConflict` (callers serialise the
work on one pair, e.g. with ``store.acquire_lock``; the map does not lock).

Layout (kv namespace ``ns``): ``L:<kind>:<left id>`` -> ``{"r": right, "d": data}`` and
``R:<kind>:<right id>`` -> left. ``kind`` names the thing mapped (a module name, ``login``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from suitecrm_ext.state.base import StateError, check_name

#: entries read per store call while iterating
_PAGE = 500


class IdMapConflict(StateError):
    """A link would make an id stand for two records; the message names both."""


@dataclass(frozen=True)
class IdPair:
    """One mapped pair: ``left`` (e.g. the internal CRM's id), ``right`` (the other system's), ``data``."""

    kind: str
    left: str
    right: str
    data: dict[str, Any] = field(default_factory=dict)


class IdMap:
    """The id map of one plugin (one kv namespace) over a :class:`~suitecrm_ext.state.base.StateStore`."""

    def __init__(self, store: Any, ns: str):
        self.store = store
        self.ns = check_name("id map namespace", ns)

    @staticmethod
    def _lk(kind: str, left: str) -> str:
        return f"L:{check_name('id map kind', kind, 60)}:{check_name('left id', left, 120)}"

    @staticmethod
    def _rk(kind: str, right: str) -> str:
        return f"R:{check_name('id map kind', kind, 60)}:{check_name('right id', right, 120)}"

    # --- reading ------------------------------------------------------------------------------

    def entry(self, kind: str, left: str) -> IdPair | None:
        """The pair whose left id is ``left``, or None."""
        doc = self.store.kv_get(self.ns, self._lk(kind, left))
        if not isinstance(doc, dict) or not doc.get("r"):
            return None
        return IdPair(kind, left, doc["r"], dict(doc.get("d") or {}))

    def entries(self, kind: str, lefts: Sequence[str]) -> dict[str, IdPair]:
        """The pairs of those ``lefts`` that are mapped (one store read)."""
        keys = {self._lk(kind, left): left for left in lefts}
        docs = self.store.kv_get_many(self.ns, list(keys))
        return {keys[k]: IdPair(kind, keys[k], d["r"], dict(d.get("d") or {}))
                for k, d in docs.items() if isinstance(d, dict) and d.get("r")}

    def right(self, kind: str, left: str) -> str | None:
        """The right id mapped to ``left``, or None."""
        pair = self.entry(kind, left)
        return pair.right if pair else None

    def left(self, kind: str, right: str) -> str | None:
        """The left id mapped to ``right``, or None."""
        value = self.store.kv_get(self.ns, self._rk(kind, right))
        return value if isinstance(value, str) and value else None

    def entry_by_right(self, kind: str, right: str) -> IdPair | None:
        """The pair whose right id is ``right``, or None."""
        left = self.left(kind, right)
        if left is None:
            return None
        pair = self.entry(kind, left)
        return pair if pair is not None and pair.right == right else None

    def lefts(self, kind: str) -> list[str]:
        """Every left id of ``kind``, sorted."""
        prefix = self._lk(kind, "x")[:-1]
        return [k[len(prefix):] for k in self.store.kv_keys(self.ns, prefix, limit=10**9)]

    def pairs(self, kind: str) -> Iterator[IdPair]:
        """Every pair of ``kind``, ordered by left id (read a page at a time)."""
        lefts = self.lefts(kind)
        for i in range(0, len(lefts), _PAGE):
            page = lefts[i:i + _PAGE]
            docs = self.store.kv_get_many(self.ns, [self._lk(kind, left) for left in page])
            for left in page:
                doc = docs.get(self._lk(kind, left))
                if isinstance(doc, dict) and doc.get("r"):
                    yield IdPair(kind, left, doc["r"], dict(doc.get("d") or {}))

    def count(self, kind: str) -> int:
        """How many pairs of ``kind`` there are."""
        return len(self.lefts(kind))

    # --- writing ------------------------------------------------------------------------------

    def link(self, kind: str, left: str, right: str, data: Mapping[str, Any] | None = None) -> IdPair:
        """Map ``left`` <-> ``right`` (with ``data``), both ways in one transaction.

        Linking a pair again (same ids) replaces its data. Raises IdMapConflict when ``left`` is
        mapped to another right id or ``right`` to another left id.
        """
        current = self.entry(kind, left)
        if current is not None and current.right != right:
            raise IdMapConflict(f"{kind} {left} is already mapped to {current.right}, not {right}")
        owner = self.left(kind, right)
        if owner is not None and owner != left:
            raise IdMapConflict(f"{kind} {right} (right side) already belongs to {owner}, not {left}")
        doc = {"r": right, "d": dict(data or {})}
        self.store.kv_set_many(self.ns, {self._lk(kind, left): doc, self._rk(kind, right): left})
        return IdPair(kind, left, right, doc["d"])

    def link_many(self, kind: str, pairs: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[IdPair]:
        """:meth:`link` for many ``(left, right, data)`` at once, in ONE transaction (all or none)."""
        lefts = [self._lk(kind, left) for left, _, _ in pairs]
        rights = [self._rk(kind, right) for _, right, _ in pairs]
        have_l = self.store.kv_get_many(self.ns, lefts)
        have_r = self.store.kv_get_many(self.ns, rights)
        batch: dict[str, Any] = {}
        out = []
        for (left, right, data), lk, rk in zip(pairs, lefts, rights, strict=True):
            cur = have_l.get(lk)
            if isinstance(cur, dict) and cur.get("r") not in (None, right):
                raise IdMapConflict(f"{kind} {left} is already mapped to {cur['r']}, not {right}")
            owner = have_r.get(rk)
            if owner not in (None, left):
                raise IdMapConflict(f"{kind} {right} (right side) already belongs to {owner}, not {left}")
            if lk in batch or rk in batch:
                raise IdMapConflict(f"{kind}: {left} or {right} appears twice in one link_many")
            batch[lk] = {"r": right, "d": dict(data or {})}
            batch[rk] = left
            out.append(IdPair(kind, left, right, dict(data or {})))
        if batch:
            self.store.kv_set_many(self.ns, batch)
        return out

    def update_many(self, kind: str, data: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the data of several existing pairs (``{left: data}``) in one transaction."""
        keys = {left: self._lk(kind, left) for left in data}
        docs = self.store.kv_get_many(self.ns, list(keys.values()))
        batch = {}
        for left, key in keys.items():
            doc = docs.get(key)
            if not isinstance(doc, dict) or not doc.get("r"):
                raise StateError(f"id map {self.ns}: {kind} {left} is not mapped")
            batch[key] = {"r": doc["r"], "d": dict(data[left])}
        if batch:
            self.store.kv_set_many(self.ns, batch)

    def update(self, kind: str, left: str, data: Mapping[str, Any]) -> IdPair:
        """Replace the data of an existing pair; StateError when ``left`` is not mapped."""
        current = self.entry(kind, left)
        if current is None:
            raise StateError(f"id map {self.ns}: {kind} {left} is not mapped")
        doc = {"r": current.right, "d": dict(data)}
        self.store.kv_set(self.ns, self._lk(kind, left), doc)
        return IdPair(kind, left, current.right, doc["d"])

    def unlink(self, kind: str, left: str) -> bool:
        """Forget the pair of ``left``; True when there was one."""
        current = self.entry(kind, left)
        if current is None:
            return False
        if self.left(kind, current.right) == left:
            self.store.kv_delete(self.ns, self._rk(kind, current.right))
        self.store.kv_delete(self.ns, self._lk(kind, left))
        return True
