"""The decision log: every transition and decision kept as a record in SuiteCRM.

Each entry is a record of the core package's ``sx_Decisions`` module (see schema.yaml): the record it is
about (``parent_type``/``parent_id``), the flow and transition, from and to which status, the decision
and comment, who acted (``acted_by_id``), for whom when a deputy acted (``on_behalf_of_id``) and when
(``acted_at``). It is shown in a "Decisions" subpanel of the parent record: the subpanel comes from a
one-to-many relationship parent → sx_Decisions (``links``: parent module → link name), which
:meth:`DecisionLog.record` fills next to ``parent_id``.

Idempotent by ``key`` (kept in ``decision_key``): recording the same key again (a re-delivered event, a
retry after a crash) returns the existing entry and only completes what is missing (the subpanel row).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from suitecrm_ext.crm.base import CRM, Cond, all_of, parse_datetime

DECISIONS_MODULE = "sx_Decisions"
DECISION_FIELDS = [
    "name",
    "parent_type",
    "parent_id",
    "flow",
    "transition",
    "from_status",
    "to_status",
    "decision",
    "comment",
    "acted_by_id",
    "on_behalf_of_id",
    "acted_at",
    "decision_key",
]


@dataclass(frozen=True)
class Decision:
    """One entry of the decision log."""

    id: str
    parent_module: str
    parent_id: str
    flow: str
    transition: str
    from_status: str
    to_status: str
    decision: str
    comment: str
    acted_by_id: str
    on_behalf_of_id: str
    acted_at: dt.datetime | None
    key: str


class DecisionLog:
    """Writes and reads the decision log through a CRM (the gateway or a FakeCRM)."""

    def __init__(self, crm: CRM, module: str = DECISIONS_MODULE, links: Mapping[str, str] | None = None):
        self.crm = crm
        self.module = module
        self.links = dict(links or {})

    def find(self, key: str) -> Decision | None:
        """The entry recorded under ``key``, if any."""
        rec = next(
            iter(self.crm.find(self.module, Cond("decision_key", "eq", key), DECISION_FIELDS, limit=1)), None
        )
        return _decision(rec) if rec is not None else None

    def record(
        self,
        parent_module: str,
        parent_id: str,
        *,
        key: str,
        actor_id: str,
        to_status: str = "",
        from_status: str = "",
        flow: str = "",
        transition: str = "",
        decision: str = "",
        comment: str = "",
        on_behalf_of: str = "",
        at: dt.datetime | None = None,
    ) -> str:
        """Keep one decision; returns its id (the existing one when ``key`` was recorded before)."""
        if not key or len(key) > 64:
            raise ValueError("a decision needs a key of 1..64 characters (its idempotency key)")
        existing = self.find(key)
        if existing is not None:
            rid = existing.id
        else:
            at = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
            what = decision or transition or "change"
            move = f"{from_status} → {to_status}" if from_status or to_status else ""
            name = " ".join(p for p in (what, move) if p)[:255]
            rid = self.crm.save(
                self.module,
                {
                    "name": name,
                    "parent_type": parent_module,
                    "parent_id": parent_id,
                    "flow": flow[:100],
                    "transition": transition[:100],
                    "from_status": from_status[:100],
                    "to_status": to_status[:100],
                    "decision": decision[:100],
                    "comment": comment,
                    "acted_by_id": actor_id,
                    "on_behalf_of_id": on_behalf_of or "",
                    "acted_at": at,
                    "decision_key": key,
                },
            )
        link = self.links.get(parent_module)
        if link:
            self.crm.relate(parent_module, parent_id, link, [rid])  # relating twice is harmless
        return rid

    def history(self, parent_module: str, parent_id: str) -> list[Decision]:
        """Every entry about a record, oldest first (sorted here: not every transport sorts on several
        fields, and a record has few entries)."""
        where = all_of(Cond("parent_type", "eq", parent_module), Cond("parent_id", "eq", parent_id))
        entries = [_decision(r) for r in self.crm.find(self.module, where, DECISION_FIELDS)]
        epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        return sorted(entries, key=lambda d: (d.acted_at or epoch, d.id))


def _decision(rec) -> Decision:
    g = rec.get
    try:
        at = parse_datetime(g("acted_at"))
    except ValueError:
        at = None
    return Decision(
        rec.id,
        str(g("parent_type") or ""),
        str(g("parent_id") or ""),
        str(g("flow") or ""),
        str(g("transition") or ""),
        str(g("from_status") or ""),
        str(g("to_status") or ""),
        str(g("decision") or ""),
        str(g("comment") or ""),
        str(g("acted_by_id") or ""),
        str(g("on_behalf_of_id") or ""),
        at,
        str(g("decision_key") or ""),
    )


__all__ = ["DECISIONS_MODULE", "DECISION_FIELDS", "Decision", "DecisionLog"]
