"""What the sync keeps in the state store besides the id map: conflicts and refused changes.

Both are keyed by a digest of what happened (pair, field, values), so a sync repeated after a crash or
a redelivery records the same conflict once. kv namespaces: ``portal_sync.conflicts``,
``portal_sync.refusals``; each entry is a small JSON document with ``at`` (UTC ISO time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

CONFLICTS_NS = "portal_sync.conflicts"
REFUSALS_NS = "portal_sync.refusals"
IDS_NS = "portal_sync.ids"
#: longest value text kept in a conflict or refusal (they are for people to read)
VALUE_MAX = 500


def digest(*parts: Any) -> str:
    """A short stable key from the parts."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_MAX else text[:VALUE_MAX] + "…"


class Journal:
    """Conflicts and refusals of the sync, in the state store."""

    def __init__(self, store: Any):
        self.store = store

    def conflict(
        self,
        *,
        module: str,
        internal_id: str,
        portal_id: str,
        record: str,
        field: str,
        base: str,
        internal: str,
        portal: str,
        rule: str,
        winner: str,
    ) -> tuple[str, bool]:
        """Record a conflict; returns (key, True when it is new)."""
        key = digest(module, internal_id, field, base, internal, portal)
        doc = {
            "at": _now(),
            "module": module,
            "internal_id": internal_id,
            "portal_id": portal_id,
            "record": _short(record),
            "field": field,
            "base": _short(base),
            "internal": _short(internal),
            "portal": _short(portal),
            "rule": rule,
            "winner": winner,
            "task_id": None,
        }
        return key, self.store.kv_add(CONFLICTS_NS, key, doc)

    def set_task(self, key: str, task_id: str) -> None:
        """Note the review Task made for a conflict."""
        doc = self.store.kv_get(CONFLICTS_NS, key)
        if isinstance(doc, dict):
            doc["task_id"] = task_id
            self.store.kv_set(CONFLICTS_NS, key, doc)

    def refusal(
        self,
        *,
        module: str,
        portal_id: str,
        internal_id: str | None,
        field: str,
        reason: str,
        value: Any = "",
        side: str = "portal",
    ) -> bool:
        """Record a change that was refused (bad portal data, a field the side does not own, another
        organisation's record); True when it is new (it is logged then)."""
        key = digest(module, portal_id, internal_id or "", field, reason, value)
        doc = {
            "at": _now(),
            "module": module,
            "portal_id": portal_id,
            "internal_id": internal_id,
            "field": field,
            "reason": _short(reason),
            "value": _short(value),
            "side": side,
        }
        return self.store.kv_add(REFUSALS_NS, key, doc)

    def _all(self, ns: str, limit: int) -> list[dict]:
        keys = self.store.kv_keys(ns, "", limit=10**9)
        docs = self.store.kv_get_many(ns, keys)
        out = [dict(d, key=k) for k, d in docs.items() if isinstance(d, dict)]
        out.sort(key=lambda d: (d.get("at") or "", d["key"]), reverse=True)
        return out[:limit]

    def conflicts(self, limit: int = 100) -> list[dict]:
        """Recorded conflicts, newest first."""
        return self._all(CONFLICTS_NS, limit)

    def refusals(self, limit: int = 100) -> list[dict]:
        """Recorded refusals, newest first."""
        return self._all(REFUSALS_NS, limit)

    def counts(self) -> dict[str, int]:
        """How many conflicts and refusals are recorded."""
        return {
            "conflicts": len(self.store.kv_keys(CONFLICTS_NS, "", limit=10**9)),
            "refusals": len(self.store.kv_keys(REFUSALS_NS, "", limit=10**9)),
        }
