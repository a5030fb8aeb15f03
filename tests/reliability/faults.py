"""Fault scenarios against a real SuiteCRM through :class:`~faultproxy.FaultProxy` (shared by
tests/reliability/test_faults_live.py and bench/reliability.py).

Both scenarios write only records whose names carry ``tag`` and check the outcome in SuiteCRM's own
database (the app's MySQL user), not through the faulty path:

- :func:`gateway_run`: the gateway (REST v4_1, writes and reads) creates, updates and lists records
  through the proxy; afterwards every record exists exactly once with its last value.
- :func:`feed_run`: the change feed polls and the dispatcher delivers through the proxy; the handler
  writes one Note per event into SuiteCRM through the proxy too (``crm.create`` under an id derived
  from the event key, the idempotent pattern plugins use). Afterwards every save has exactly one Note.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from suitecrm_ext import WatchSpec, hookimpl
from suitecrm_ext.config import SuiteCRMSettings
from suitecrm_ext.crm.base import TransientError
from suitecrm_ext.crm.gateway import build_gateway
from suitecrm_ext.lab import LabInstance

#: the module the scenarios write (no plugin package hooks it, so only the scenario sees its changes)
MODULE = "Bugs"
NOTE_NS = uuid.UUID("5f0e0f3c-2b8e-4b62-9a55-0c7d1d2f0a18")


@dataclass
class Outcome:
    """What a scenario saw: what it meant to write, what SuiteCRM's DB holds, what went wrong."""

    name: str
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    errors: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Everything arrived once and no call gave up."""
        return not (self.lost or self.duplicated or self.errors)


def proxied_gateway(lab: LabInstance, proxy_url: str, *, timeout: float = 1.5, retries: int = 10) -> Any:
    """A REST gateway to ``lab`` through the proxy (short timeout so a stall is a timeout)."""
    sec = lab.suitecrm_section("rest", url=proxy_url, timeout=timeout, retries=retries)
    return build_gateway(SuiteCRMSettings.model_validate(sec))


def db_rows(lab: LabInstance, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows from SuiteCRM's database, read directly (never through the proxy)."""
    con = pymysql.connect(**lab.db_params())
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        con.close()


def cleanup(lab: LabInstance, tag: str) -> None:
    """Remove the scenario's records (Bugs and Notes named with ``tag``)."""
    con = pymysql.connect(**lab.db_params())
    try:
        with con.cursor() as cur:
            for table in ("bugs", "notes"):
                cur.execute(f"DELETE FROM {table} WHERE name LIKE %s", (tag + "%",))
    finally:
        con.close()


def _count(names: list[str], rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    seen: dict[str, int] = {}
    for (name,) in rows:
        seen[name] = seen.get(name, 0) + 1
    lost = sum(1 for n in names if n not in seen)
    duplicated = sum(c - 1 for c in seen.values() if c > 1)
    return lost, duplicated


def gateway_run(lab: LabInstance, proxy_url: str, tag: str, n: int = 8) -> Outcome:
    """Create ``n`` records, update each, list them, through the proxy; check SuiteCRM's DB."""
    out = Outcome("gateway read/write (REST)", expected=n)
    gw = proxied_gateway(lab, proxy_url)
    final: list[str] = []
    try:
        ids = []
        for i in range(n):
            try:
                ids.append(gw.save(MODULE, {"name": f"{tag} gw {i}", "status": "New"}))
            except Exception as exc:  # noqa: BLE001 - counted: a call that gave up is a failure
                out.errors.append(f"create {i}: {type(exc).__name__}: {exc}")
        for i, rid in enumerate(ids):
            try:
                gw.save(MODULE, {"id": rid, "name": f"{tag} gw {i} v2"})
                final.append(f"{tag} gw {i} v2")
            except Exception as exc:  # noqa: BLE001
                out.errors.append(f"update {i}: {type(exc).__name__}: {exc}")
        try:
            from suitecrm_ext import Cond
            listed = list(gw.find(MODULE, Cond("name", "like", f"{tag} gw %"), fields=["id", "name"]))
            out.detail["listed"] = len(listed)
            if sorted(r["name"] for r in listed) != sorted(final):
                out.errors.append(f"list through the proxy gave {len(listed)} records, expected {len(final)}")
        except Exception as exc:  # noqa: BLE001
            out.errors.append(f"list: {type(exc).__name__}: {exc}")
    finally:
        gw.close()
    rows = db_rows(lab, "SELECT name FROM bugs WHERE deleted = 0 AND name LIKE %s", (f"{tag} gw %",))
    out.lost, out.duplicated = _count([f"{tag} gw {i} v2" for i in range(n)], rows)
    out.duplicated += max(0, len(rows) - n - out.duplicated)
    return out


class NoteWriter:
    """Test plugin: every change of a watched Bug becomes one Note in SuiteCRM (id from the event key)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def ext_watch(self, settings: Any) -> list[WatchSpec]:
        return [WatchSpec(MODULE, fields=("name",))]

    @hookimpl
    def ext_on_record_change(self, event: Any, ctx: Any) -> None:
        self.calls.append(event.key)
        name = event.changes["name"].after if "name" in event.changes else event.after.get("name")
        ctx.crm.create("Notes", {"name": f"{name} note", "description": event.key},
                       id=str(uuid.uuid5(NOTE_NS, event.key)))


def feed_run(lab: LabInstance, proxy_url: str, tag: str, workdir: Path, n: int = 6,
             timeout: float = 120.0) -> Outcome:
    """Saves made directly; the feed + dispatcher + handler's writes go through the proxy."""
    from suitecrm_ext.events.dispatcher import Dispatcher
    from suitecrm_ext.events.poller import ChangeFeed
    from suitecrm_ext.state.sqlite import SQLiteStore
    from suitecrm_ext.testing import build_app, build_config, build_registry

    out = Outcome("change feed + dispatcher", expected=2 * n)
    writer = NoteWriter()
    conf = build_config(suitecrm=lab.suitecrm_section("rest", url=proxy_url, timeout=1.5, retries=10),
                        events={"max_attempts": 20, "retry_base_seconds": 0.1})
    registry = build_registry({"notes": writer}, config=conf)
    store = SQLiteStore(workdir / f"feed-{tag}.sqlite3")
    crm = proxied_gateway(lab, proxy_url)
    direct = lab.gateway("rest")
    app = build_app(registry, config=conf, crm=crm, state=store)
    feed = ChangeFeed(crm, store, [WatchSpec(MODULE, fields=("name",))], overlap_seconds=60)
    dispatcher = Dispatcher(app, registry, worker_id="rel-faults", settings=conf.settings.events, store=store)
    poll_errors = 0
    try:
        # the feed's first poll only sets its cursor ("now"); it must see everything after that
        while True:
            try:
                feed.poll_once()
                break
            except TransientError:
                poll_errors += 1
        names: list[str] = []
        ids = [direct.save(MODULE, {"name": f"{tag} feed {i}", "status": "New"}) for i in range(n)]
        names += [f"{tag} feed {i}" for i in range(n)]
        _pump(feed, dispatcher, lab, tag, names, timeout, out)
        for i, rid in enumerate(ids):
            direct.save(MODULE, {"id": rid, "name": f"{tag} feed {i} v2"})
        names += [f"{tag} feed {i} v2" for i in range(n)]
        poll_errors += _pump(feed, dispatcher, lab, tag, names, timeout, out)
        dead = store.dead_letters()
        if dead:
            out.errors.append(f"{len(dead)} dead letter(s): {dead[0].last_error}")
        calls = writer.calls
        out.detail.update(deliveries=len(calls), redelivered=len(calls) - len(set(calls)),
                          poll_errors=poll_errors)
    finally:
        crm.close()
        direct.close()
        store.close()
    rows = db_rows(lab, "SELECT name FROM notes WHERE deleted = 0 AND name LIKE %s", (f"{tag} feed %",))
    out.lost, out.duplicated = _count([f"{nm} note" for nm in names], rows)
    return out


def _pump(feed: Any, dispatcher: Any, lab: LabInstance, tag: str, names: list[str], timeout: float,
          out: Outcome) -> int:
    """Poll and dispatch until every name in ``names`` has its Note (or ``timeout``); poll errors."""
    errors = 0
    deadline = time.monotonic() + timeout
    want = {f"{nm} note" for nm in names}
    while time.monotonic() < deadline:
        try:
            feed.poll_once()
        except TransientError:
            errors += 1
        dispatcher.drain()
        got = {n for (n,) in db_rows(lab, "SELECT name FROM notes WHERE deleted = 0 AND name LIKE %s",
                                     (f"{tag} feed %",))}
        if want <= got:
            return errors
        time.sleep(0.2)
    out.errors.append(f"not all changes were handled within {timeout:.0f} s")
    return errors
