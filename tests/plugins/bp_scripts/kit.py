"""What bp_scripts tests share: a FakeCRM with the package's modules, a config, a clock, the engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from suitecrm_ext import Event, EventKind, FieldChange
from suitecrm_ext.testing import (
    FakeCRM,
    build_app,
    build_config,
    build_registry,
    install_workflow,
    load_plugin_schema,
    register_schema,
)

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = ROOT / "config" / "processes"
DOCUMENTS = ROOT / "config" / "documents"
PLUGIN = "plugins.bp_scripts.plugin"


class Clock:
    """Epoch seconds the tests move by hand (also the FakeCRM's clock: one second per write)."""

    def __init__(self, start: dt.datetime = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)):
        self.t = start.timestamp()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def dt(self) -> dt.datetime:
        self.t += 1
        return dt.datetime.fromtimestamp(self.t, dt.timezone.utc)


def bp_crm(clock: Clock | None = None) -> FakeCRM:
    """A FakeCRM with the core workflow modules and the bp_scripts package."""
    crm = FakeCRM(clock=clock.dt if clock else None)
    install_workflow(crm)
    register_schema(crm, load_plugin_schema("bp_scripts"))
    return crm


def bp_app(
    crm: FakeCRM,
    tmp_path: Path,
    *,
    processes: list[str] | None = None,
    settings: dict | None = None,
    smtp: dict | None = None,
    push_secret: str | None = None,
    extra_plugins: dict | None = None,
):
    """(app, registry) with bp_scripts configured over ``crm`` and a SQLite state store in ``tmp_path``."""
    section: dict[str, Any] = {
        "process_files": processes if processes is not None else [],
        "documents_dir": str(DOCUMENTS),
        "lock_seconds": 2,
    }
    section.update(settings or {})
    events: dict[str, Any] = {}
    if push_secret:
        events = {"push": {"secret": push_secret}}
    sections: dict[str, Any] = {"state": {"path": str(tmp_path / "state.sqlite3")}}
    if smtp:
        sections["smtp"] = smtp
    if events:
        sections["events"] = events
    config = build_config(
        plugins={"bp_scripts": section, **{n: {} for n in (extra_plugins or {})}}, **sections
    )
    reg = build_registry(
        {"bp_scripts": PLUGIN, "workflow": "suitecrm_ext.workflow.plugin", **(extra_plugins or {})}, config
    )
    app = build_app(reg, crm=crm)
    return app, reg


def event(
    module: str,
    rid: str,
    kind: str = "updated",
    changes: dict | None = None,
    values: dict | None = None,
    when: dt.datetime | None = None,
) -> Event:
    """An event as the change feed would deliver it."""
    return Event(
        module,
        rid,
        EventKind(kind),
        when or dt.datetime.now(dt.timezone.utc),
        changes={k: FieldChange(b, a) for k, (b, a) in (changes or {}).items()},
        values=values or {},
    )


class EventedCRM(FakeCRM):
    """A FakeCRM that queues the event SuiteCRM's logic hook would push for every save, create and delete —
    the engine's own writes included, so processes set off by other processes run as they would."""

    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.queue: list[Event] = []
        self.muted = False

    def _before(self, module: str, rid: str | None) -> dict[str, Any] | None:
        if not rid or not self.exists(module, rid):
            return None
        return dict(next(r for r in self.records(module) if r.id == rid).values)

    def _emit(self, module: str, rid: str, before: dict[str, Any] | None, kind: str | None = None) -> None:
        if self.muted:
            return
        after = dict(next(r for r in self.records(module) if r.id == rid).values)
        if kind is None:
            kind = "created" if before is None else "updated"
        changes = {
            k: FieldChange((before or {}).get(k), v)
            for k, v in after.items()
            if before is None or before.get(k) != v
        }
        if kind == "updated" and not changes:
            return
        when = after.get("date_modified") or dt.datetime.now(dt.timezone.utc)
        self.queue.append(
            Event(module, rid, EventKind(kind), when, source="push", changes=changes, values=after)
        )

    def save(self, module: str, values: Any) -> str:
        before = self._before(module, values.get("id"))
        rid = super().save(module, values)
        self._emit(module, rid, before)
        return rid

    def create(self, module: str, values: Any, *, id: str) -> str:
        before = self._before(module, id)
        rid = super().create(module, values, id=id)
        self._emit(module, rid, before)
        return rid

    def delete(self, module: str, id: str) -> None:
        before = self._before(module, id)
        super().delete(module, id)
        if not self.muted and before is not None:
            self.queue.append(
                Event(
                    module,
                    id,
                    EventKind.DELETED,
                    dt.datetime.now(dt.timezone.utc),
                    source="push",
                    values=before,
                )
            )

    def pump(self, engine: Any, limit: int = 500) -> int:
        """Deliver queued events (and those they cause) to the engine; returns how many."""
        n = 0
        while self.queue and n < limit:
            engine.on_event(self.queue.pop(0))
            n += 1
        return n


def evented_crm(clock: Clock | None = None) -> EventedCRM:
    """An EventedCRM with the core workflow modules and the bp_scripts package."""
    crm = EventedCRM(clock=clock.dt if clock else None)
    crm.muted = True
    install_workflow(crm)
    register_schema(crm, load_plugin_schema("bp_scripts"))
    crm.muted = False
    return crm
