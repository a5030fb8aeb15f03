"""Dispatch throughput: events/s with a no-op handler, 1 and 2 worker processes, MySQL state store.

    python bench/dispatch.py [--events 20000] [--sqlite]

Uses $SUITECRM_EXT_TEST_MYSQL_DSN or starts a private MariaDB (tests/mariadb.py). Each worker is a
separate process with its own connection running ``Dispatcher.drain()``. The naive baseline, run in
the same process over the same store, claims and acknowledges one delivery per transaction
(``claim(limit=1)``), which is what a queue without batching does. Prints records/s, per-claim
latency percentiles, and the ratio to the baseline. Not part of the test run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from suitecrm_ext import Event, WatchSpec, hookimpl  # noqa: E402
from suitecrm_ext.events.dispatcher import Dispatcher  # noqa: E402
from suitecrm_ext.state.mysql import MySQLStore  # noqa: E402
from suitecrm_ext.state.sqlite import SQLiteStore  # noqa: E402
from suitecrm_ext.testing import build_app, build_config, build_registry  # noqa: E402

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


HANDLER_SECONDS = 0.0


class NoOp:
    """Watches Accounts, does nothing (or sleeps --handler-ms, standing in for a CRM call)."""

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts")]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        if HANDLER_SECONDS:
            time.sleep(HANDLER_SECONDS)


def open_store(spec):
    return SQLiteStore(spec["path"]) if "path" in spec else MySQLStore(**spec["mysql"])


def dispatcher(store, worker_id):
    config = build_config()
    reg = build_registry({"noop": NoOp()}, config)
    return Dispatcher(build_app(reg, config, state=store), reg, worker_id=worker_id, batch_size=50)


def fill(spec, n, tag):
    store = open_store(spec)
    evs = [Event(module="Accounts", record_id=f"{tag}-{i:07d}", kind="updated", time=T0) for i in range(n)]
    for i in range(0, n, 2000):
        store.enqueue(evs[i:i + 2000])
    store.fan_out(lambda e: ["noop"], limit=n)
    store.close()


class TimedStore:
    """Wraps a store to time claim() calls."""

    def __init__(self, inner, timings):
        self._inner, self._timings = inner, timings

    def claim(self, *a, **kw):
        t = time.perf_counter()
        out = self._inner.claim(*a, **kw)
        if out:
            self._timings.append((time.perf_counter() - t) / len(out))
        return out

    def __getattr__(self, name):
        return getattr(self._inner, name)


def worker(spec, worker_id, start, out, handler_seconds=0.0):
    global HANDLER_SECONDS
    HANDLER_SECONDS = handler_seconds
    store = open_store(spec)
    timings: list[float] = []
    d = dispatcher(TimedStore(store, timings), worker_id)
    start.wait()
    t = time.perf_counter()
    handled = d.drain().handled
    out.put((worker_id, handled, time.perf_counter() - t, timings))
    store.close()


def run_workers(spec, n_workers, handler_seconds=0.0):
    start, out = mp.Event(), mp.Queue()
    procs = [mp.Process(target=worker, args=(spec, f"w{i}", start, out, handler_seconds))
             for i in range(n_workers)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let them connect
    t = time.perf_counter()
    start.set()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t
    for p in procs:
        p.join()
    handled = sum(r[1] for r in results)
    timings = [x for r in results for x in r[3]]
    return handled, wall, timings


def naive(spec):
    store = open_store(spec)
    d = dispatcher(store, "naive")
    t = time.perf_counter()
    handled = 0
    while batch := store.claim("naive", limit=1):
        for delivery in batch:
            d.deliver(delivery)
            handled += 1
    wall = time.perf_counter() - t
    store.close()
    return handled, wall


def pct(values, p):
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--sqlite", action="store_true", help="use a SQLite store instead of MySQL")
    ap.add_argument("--handler-ms", type=float, default=0.0,
                    help="also measure 1 and 2 workers with a handler that waits this long (I/O stand-in)")
    args = ap.parse_args()
    server = None
    if args.sqlite:
        spec = {"path": str(Path(tempfile.mkdtemp()) / "state.sqlite3")}
        label = "sqlite"
    else:
        from mariadb import get_server

        server = get_server()
        db = server.create_database("bench")
        spec = {"mysql": server.params(db)}
        label = "mysql"
    try:
        open_store(spec).close()  # create the schema once
        n = args.events
        fill(spec, n // 4, "naive")
        base_n, base_wall = naive(spec)
        base_rate = base_n / base_wall
        print(f"store={label} events per run={n}")
        print(f"naive baseline (claim+ack one at a time, 1 worker): {base_n} in {base_wall:.2f}s = "
              f"{base_rate:,.0f} events/s")
        for workers in (1, 2):
            fill(spec, n, f"w{workers}")
            handled, wall, timings = run_workers(spec, workers)
            rate = handled / wall
            ms = [t * 1000 for t in timings]
            print(f"{workers} worker(s): {handled} in {wall:.2f}s = {rate:,.0f} events/s "
                  f"(x{rate / base_rate:.1f} vs naive); claim cost per delivery p50 {pct(ms, 50):.3f} ms, "
                  f"p95 {pct(ms, 95):.3f} ms")
        if args.handler_ms:
            m = max(n // 10, 100)
            for workers in (1, 2):
                fill(spec, m, f"h{workers}")
                handled, wall, _ = run_workers(spec, workers, args.handler_ms / 1000)
                print(f"{workers} worker(s), handler {args.handler_ms:g} ms: {handled} in {wall:.2f}s = "
                      f"{handled / wall:,.0f} events/s")
    finally:
        if server is not None:
            server.drop_database(db)
            server.stop()


if __name__ == "__main__":
    main()
