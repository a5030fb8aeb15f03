"""Scheduled triggers and the periodic pass of the engine (the ``bp-advance`` job): a mixin of
:class:`~plugins.bp_scripts.engine.Engine`, which gives it ``crm``, ``state``, ``runs``, ``processes``,
``clock``, ``calendar``, ``start`` and ``advance``."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from suitecrm_ext import Cond, all_of
from suitecrm_ext.workflow import Facts

from .processes import ProcessDef, interval_seconds
from .runs import run_id_for

NS_SCHEDULE = "bp_scripts.schedule"


class SchedulingMixin:
    """``tick`` (the job's pass), ``scan`` (one scheduled trigger), ``today``."""

    crm: Any
    state: Any
    runs: Any
    processes: dict[str, ProcessDef]
    calendar: Any

    def tick(self) -> dict[str, int]:
        """The job's pass: scheduled triggers, due runs (retries, waiting steps, stale ones)."""
        counts = {"scanned": 0, "started": 0, "advanced": 0}
        for p in self.processes.values():
            if "schedule" in p.trigger.on:
                s, st = self.scan(p)
                counts["scanned"] += s
                counts["started"] += st
        now = self.clock()
        for rid, due in sorted(self.runs.active().items(), key=lambda kv: kv[1]):
            if due <= now:
                if self.advance(rid) is not None:
                    counts["advanced"] += 1
        return counts

    def scan(self, p: ProcessDef, *, force: bool = False) -> tuple[int, int]:
        """A scheduled trigger: when due, every record of the module matching ``where`` and ``when`` gets
        the process once per value of ``once_per``. Returns (records looked at, runs started)."""
        now = self.clock()
        last = self.state.kv_get(NS_SCHEDULE, p.name) or 0
        if not force and now - float(last) < interval_seconds(p.trigger.every or "1h"):
            return 0, 0
        conds = [Cond(k, "eq", v) for k, v in p.trigger.where.items()]
        where = all_of(*conds) if conds else None
        seen = started = 0
        today = self.today()
        for rec in self.crm.find(p.module, where):
            seen += 1
            facts = Facts(rec.values, None, module=p.module, record_id=rec.id, extra={"today": today})
            if not p.trigger.when.holds(facts):
                continue
            key = "schedule:" + _digest([str(rec.get(f) or "") for f in p.trigger.once_per])
            rid = run_id_for(p.name, p.module, rec.id, key)
            if self.runs.get(rid) is not None:
                continue
            if self.start(p, rec.id, key, values=rec.values) is not None:
                started += 1
        self.state.kv_set(NS_SCHEDULE, p.name, now)
        return seen, started

    def today(self) -> dt.date:
        """Today in the business calendar's time zone (UTC without one)."""
        now = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)
        tz = getattr(self.calendar, "tz", None)
        return (now.astimezone(tz) if tz is not None else now).date()


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


__all__ = ["NS_SCHEDULE", "SchedulingMixin"]
