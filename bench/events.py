"""Change -> handler latency through the real runtime, for polling (1 s interval) and push; poll cost.

    python bench/events.py [--changes 40] [--pushes 300] [--rows 20000] [--mysql]

1. **Polling**: ``Runtime.run_forever`` (dispatcher + change feed every 1 s) over an in-memory SuiteCRM
   (FakeCRM behind a lock, as the feed polls from its own thread) and a SQLite state store; records
   are saved at random moments; the latency is from the save to the plugin's ``ext_on_record_change``.
2. **Push**: the same runtime with the push receiver on loopback; signed POSTs like the logic hook's;
   latency from sending the request to the handler call (the dispatcher's idle wait is part of it),
   and the POST round trip alone (signature + nonce check + durable enqueue + answer); and once more
   with ``PushServer(on_queued=...)`` waking a dispatcher loop instead of its 0.5 s idle wait.
3. **Poll cost**: one ``poll_once`` over a table of ``--rows`` records of which 100 changed, against a
   naive baseline run in the same process that reads the whole table each poll and compares every
   row with its snapshot. Prints rows/s and the ratio. ``--mysql`` repeats it on SuiteCRM's tables in
   a real MariaDB read through MySQLCRM.

Not part of the test run; prints its figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from suitecrm_ext import WatchSpec, hookimpl  # noqa: E402
from suitecrm_ext.events.poller import SNAPSHOT_NS, ChangeFeed  # noqa: E402
from suitecrm_ext.events.push import PushServer  # noqa: E402
from suitecrm_ext.events.signing import signed_headers  # noqa: E402
from suitecrm_ext.runtime import Runtime  # noqa: E402
from suitecrm_ext.state.sqlite import SQLiteStore  # noqa: E402
from suitecrm_ext.testing import FakeCRM, build_app, build_config, build_registry  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"


class LockedCRM:
    """FakeCRM shared between the bench thread (writes) and the feed thread (reads)."""

    def __init__(self, crm: FakeCRM):
        self.crm = crm
        self.lock = threading.Lock()

    def save(self, module, values):
        with self.lock:
            return self.crm.save(module, values)

    def find(self, *args, **kw):
        with self.lock:
            return iter(list(self.crm.find(*args, **kw)))

    def fields(self, module):
        with self.lock:
            return self.crm.fields(module)


class Stamper:
    """A plugin recording when each record's event reached its handler."""

    def __init__(self):
        self.seen: dict[str, float] = {}
        self.done = threading.Event()
        self.expect = 0

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts")]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        self.seen.setdefault(event.record_id, time.time())
        if len(self.seen) >= self.expect:
            self.done.set()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def report(name: str, lat: list[float]) -> None:
    ms = [v * 1000 for v in lat]
    print(f"{name:<28} n={len(ms):<5} p50={pct(ms, 50):8.1f} ms  p95={pct(ms, 95):8.1f} ms  "
          f"max={max(ms):8.1f} ms  mean={statistics.mean(ms):8.1f} ms")


def runtime(tmp: Path, push: bool, crm, stamper: Stamper):
    config = build_config(events={
        "poll_interval_seconds": 1, "overlap_seconds": 10,
        "push": {"enabled": push, "listen": "127.0.0.1:0", "secret": SECRET},
    })
    registry = build_registry({"stamper": stamper}, config=config)
    store = SQLiteStore(tmp / f"state-{'push' if push else 'poll'}.sqlite3")
    app = build_app(registry, config=config, crm=crm, state=store)
    servers: list[PushServer] = []

    def push_factory(rt):
        # as runtime._default_push wires it: a stored event wakes the dispatcher
        servers.append(PushServer(rt.app, rt.registry, store=rt.store, on_queued=rt.wake))
        return servers[0]

    rt = Runtime(app, registry, worker_id="bench", poll=not push, push=push, push_factory=push_factory)
    thread = threading.Thread(target=rt.run_forever, daemon=True)
    thread.start()
    deadline = time.time() + 5
    while push and not (servers and servers[0]._httpd) and time.time() < deadline:
        time.sleep(0.01)
    return rt, thread, (servers[0] if servers else None), store


def bench_polling(tmp: Path, changes: int) -> list[float]:
    crm = LockedCRM(FakeCRM(["Accounts", "Users"]))
    stamper = Stamper()
    stamper.expect = changes
    rt, thread, _, store = runtime(tmp, False, crm, stamper)
    time.sleep(1.5)  # the feed's first poll sets its start
    saved: dict[str, float] = {}
    for i in range(changes):
        time.sleep(random.uniform(0.05, 1.0))
        rid = crm.save("Accounts", {"name": f"Poll {i}"})
        saved[rid] = time.time()
    stamper.done.wait(30)
    rt.stop.set()
    thread.join(10)
    store.close()
    return [stamper.seen[r] - t for r, t in saved.items() if r in stamper.seen]


def bench_push(tmp: Path, pushes: int) -> list[float]:
    stamper = Stamper()
    stamper.expect = pushes
    rt, thread, server, store = runtime(tmp, True, LockedCRM(FakeCRM(["Accounts", "Users"])), stamper)
    session = requests.Session()
    sent: dict[str, float] = {}
    acked: list[float] = []
    for i in range(pushes):
        rid = f"push-{i:06d}"
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        body = json.dumps({"module": "Accounts", "id": rid, "kind": "updated", "date_modified": now,
                           "user_id": "1", "changes": {"name": {"before": "a", "after": "b"}}}).encode()
        sent[rid] = time.time()
        r = session.post(server.url + "/events", data=body, timeout=10,
                         headers={"Content-Type": "application/json", **signed_headers(SECRET, body)})
        r.raise_for_status()
        acked.append(time.time() - sent[rid])
        time.sleep(random.uniform(0.0, 0.05))
    stamper.done.wait(30)
    rt.stop.set()
    thread.join(10)
    store.close()
    return [stamper.seen[r] - t for r, t in sent.items() if r in stamper.seen], acked


def bench_push_wake(tmp: Path, pushes: int) -> list[float]:
    """Push with PushServer(on_queued=...) waking a dispatcher loop (what the runtime could do)."""
    from suitecrm_ext.events.dispatcher import Dispatcher

    stamper = Stamper()
    stamper.expect = pushes
    config = build_config(events={"push": {"enabled": True, "listen": "127.0.0.1:0", "secret": SECRET}})
    registry = build_registry({"stamper": stamper}, config=config)
    store = SQLiteStore(tmp / "state-wake.sqlite3")
    app = build_app(registry, config=config, state=store)
    wake, stop = threading.Event(), threading.Event()
    server = PushServer(app, registry, store=store, on_queued=lambda ev: wake.set()).start()
    dispatcher = Dispatcher(app, registry, worker_id="bench-wake", store=store)

    def loop():
        while not stop.is_set():
            stats = dispatcher.run_once(stop)
            if stats.claimed == 0 and stats.fanned_out == 0:
                wake.wait(0.5)
                wake.clear()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    session = requests.Session()
    sent: dict[str, float] = {}
    for i in range(pushes):
        rid = f"wake-{i:06d}"
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        body = json.dumps({"module": "Accounts", "id": rid, "kind": "updated", "date_modified": now}).encode()
        sent[rid] = time.time()
        session.post(server.url + "/events", data=body, timeout=10,
                     headers={"Content-Type": "application/json", **signed_headers(SECRET, body)})
        time.sleep(random.uniform(0.0, 0.05))
    stamper.done.wait(30)
    stop.set()
    wake.set()
    thread.join(10)
    server.stop()
    store.close()
    return [stamper.seen[r] - t for r, t in sent.items() if r in stamper.seen]


def naive_poll(crm: FakeCRM, store, module: str) -> int:
    """The baseline: read every row, compare with its snapshot, update snapshots of changed rows."""
    changed = 0
    rows = list(crm.find(module, include_deleted=True))
    known = store.kv_get_many("naive", [r.id for r in rows])
    new = {}
    for r in rows:
        stamp = r.get("date_modified").isoformat()
        if known.get(r.id) != stamp:
            new[r.id] = stamp
            changed += 1
    if new:
        store.kv_set_many("naive", new)
    return changed


def bench_poll_cost(tmp: Path, rows: int) -> None:
    clock = {"now": dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.timezone.utc)}
    crm = FakeCRM(["Accounts", "Users"], clock=lambda: clock["now"], page_size=1000)
    ids = []
    for i in range(rows):  # history: one change every 3 s the day before
        clock["now"] += dt.timedelta(seconds=3)
        ids.append(crm.save("Accounts", {"name": f"Row {i}"}))
    t = time.perf_counter()
    store = SQLiteStore(tmp / "cost.sqlite3")
    feed = ChangeFeed(crm, store, [WatchSpec("Accounts", fields=("name",))], overlap_seconds=60,
                      start="beginning", clock=lambda: clock["now"])
    first = feed.poll_once()
    first_s = time.perf_counter() - t
    print(f"first poll from the beginning: {first} events from {rows} rows in {first_s:.2f} s "
          f"({rows / first_s:,.0f} rows/s)")
    naive_poll(crm, store, "Accounts")
    clock["now"] += dt.timedelta(hours=1)
    for rid in random.sample(ids, 100):
        crm.save("Accounts", {"id": rid, "name": "changed"})
    t = time.perf_counter()
    n_feed = feed.poll_once()
    feed_s = time.perf_counter() - t
    t = time.perf_counter()
    n_naive = naive_poll(crm, store, "Accounts")
    naive_s = time.perf_counter() - t
    print(f"poll cost, {rows} rows, 100 changed: watermark feed {feed_s * 1000:8.1f} ms ({n_feed} events); "
          f"naive full scan {naive_s * 1000:8.1f} ms ({n_naive} changes); "
          f"speed-up x{naive_s / max(feed_s, 1e-9):.1f}")
    print(f"   snapshots kept: {len(store.kv_keys(SNAPSHOT_NS, limit=10 ** 7))}")
    store.close()


def bench_poll_cost_mysql(tmp: Path, rows: int) -> None:
    """The same comparison with SuiteCRM's tables in a real MariaDB, read through MySQLCRM."""
    import uuid

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import SUITECRM_SCHEMA, load_sql
    from mariadb import get_server

    from suitecrm_ext.crm.mysql import MySQLCRM

    server = get_server()
    db = server.create_database()
    try:
        load_sql(server, db, SUITECRM_SCHEMA)
        base = dt.datetime(2026, 11, 22, 8, 0)
        ids = [str(uuid.uuid4()) for _ in range(rows)]
        with server.connect(db) as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO accounts (id, name, date_entered, date_modified, deleted) "
                "VALUES (%s, %s, %s, %s, 0)",
                [(rid, f"Row {i}", base + dt.timedelta(seconds=3 * i), base + dt.timedelta(seconds=3 * i))
                 for i, rid in enumerate(ids)])
        crm = MySQLCRM(**server.params(db))
        store = SQLiteStore(tmp / "cost-mysql.sqlite3")
        feed = ChangeFeed(crm, store, [WatchSpec("Accounts", fields=("name",))], overlap_seconds=60,
                          start="beginning")
        t = time.perf_counter()
        first = feed.poll_once()
        first_s = time.perf_counter() - t
        naive_poll(crm, store, "Accounts")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        with server.connect(db) as conn, conn.cursor() as cur:
            cur.executemany("UPDATE accounts SET name = 'changed', date_modified = %s WHERE id = %s",
                            [(now, rid) for rid in random.sample(ids, 100)])
        t = time.perf_counter()
        n_feed = feed.poll_once()
        feed_s = time.perf_counter() - t
        t = time.perf_counter()
        n_naive = naive_poll(crm, store, "Accounts")
        naive_s = time.perf_counter() - t
        print(f"MariaDB: first poll {first} events / {rows} rows in {first_s:.2f} s "
              f"({rows / first_s:,.0f} rows/s)")
        print(f"MariaDB poll cost, {rows} rows, 100 changed: watermark feed {feed_s * 1000:8.1f} ms "
              f"({n_feed} events); naive full scan {naive_s * 1000:8.1f} ms ({n_naive} changes); "
              f"speed-up x{naive_s / max(feed_s, 1e-9):.1f}")
        crm.close()
        store.close()
    finally:
        server.drop_database(db)
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=40, help="record saves for the polling run")
    ap.add_argument("--pushes", type=int, default=300, help="signed POSTs for the push run")
    ap.add_argument("--rows", type=int, default=20000, help="table size for the poll-cost comparison")
    ap.add_argument("--mysql", action="store_true",
                    help="also compare on MariaDB ($SUITECRM_EXT_TEST_MYSQL_DSN or a private mariadbd)")
    args = ap.parse_args()
    random.seed(7)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        poll = bench_polling(tmp, args.changes)
        push, acked = bench_push(tmp, args.pushes)
        print("change -> handler latency through Runtime.run_forever (SQLite state store)")
        report("polling, 1 s interval", poll)
        report("push (signed HTTP)", push)
        report("push, POST -> 200 (queued)", acked)
        report("push + on_queued wake-up", bench_push_wake(tmp, args.pushes))
        print(f"ratio poll/push p50: x{pct(poll, 50) / max(pct(push, 50), 1e-9):.1f}")
        bench_poll_cost(tmp, args.rows)
        if args.mysql:
            bench_poll_cost_mysql(tmp, args.rows)


if __name__ == "__main__":
    main()
