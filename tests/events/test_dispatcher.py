"""The dispatcher: routing by ext_watch, isolation between plugins, retries with backoff, dead letters."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from suitecrm_ext import Event, EventKind, FieldChange, WatchSpec, hookimpl
from suitecrm_ext.events.dispatcher import Dispatcher, collect_watch_specs, watched_fields
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import build_app, build_config, build_registry

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)




class Clock:
    def __init__(self):
        self.now = 5_000_000.0

    def __call__(self):
        return self.now


def ev(i, module="Accounts", kind="updated", changes=None):
    return Event(module=module, record_id=f"r{i}", kind=kind, time=T0 + dt.timedelta(seconds=i),
                 changes=changes or {})


class Recorder:
    """Records every event key it is handed."""

    def __init__(self, specs, fail_times=0, error=RuntimeError("CRM said no")):
        self.specs = specs
        self.seen: list[str] = []
        self.fail_times = fail_times
        self.error = error
        self.calls = 0

    @hookimpl
    def ext_watch(self, settings):
        return self.specs

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        self.calls += 1
        if self.calls <= self.fail_times:
            raise self.error
        assert ctx.name in ("good", "bad", "names", "other")
        self.seen.append(event.key)


class WatchOnly:
    """Watches but has no handler: must get no deliveries."""

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts")]


class BrokenWatch:
    """ext_watch raises."""

    @hookimpl
    def ext_watch(self, settings):
        raise ValueError("bad watch config")

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        raise AssertionError("must not be called")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    s = SQLiteStore(tmp_path / "state.sqlite3", clock=clock)
    yield s
    s.close()


def make(store, clock, plugins, *, enabled=None, max_attempts=3, **kw):
    config = build_config(
        events={"max_attempts": max_attempts, "retry_base_seconds": 10},
        plugins={n: {"enabled": e} for n, e in (enabled or {}).items()},
    )
    reg = build_registry(plugins, config)
    app = build_app(reg, config, state=store)
    return Dispatcher(app, reg, worker_id="w1", clock=clock, rng=lambda: 0.5, **kw)


def test_routing_follows_watch_specs_kinds_fields_and_enablement(store, clock):
    names = Recorder([WatchSpec("Accounts", fields=("name",)),
                      WatchSpec("Contacts", kinds=frozenset({EventKind.DELETED}))])
    other = Recorder([WatchSpec("Accounts")])
    disabled = Recorder([WatchSpec("Accounts")])
    d = make(store, clock, {"names": names, "other": other, "off": disabled, "watchonly": WatchOnly()},
             enabled={"off": False})
    renamed = ev(1, changes={"name": FieldChange("A", "B")})
    other_field = ev(2, changes={"phone_office": FieldChange("1", "2")})
    created = ev(3, kind="created")
    contact_updated, contact_deleted = ev(4, "Contacts"), ev(5, "Contacts", "deleted")
    store.enqueue([renamed, other_field, created, contact_updated, contact_deleted])
    stats = d.drain()
    assert stats.handled == 6 and stats.failed == 0
    assert names.seen == [renamed.key, created.key, contact_deleted.key]
    assert other.seen == [renamed.key, other_field.key, created.key]
    assert disabled.seen == []
    assert watched_fields(d.specs) == {"Accounts": {"name"}, "Contacts": set()}


def test_one_failing_plugin_does_not_block_or_lose_the_others(store, clock):
    good = Recorder([WatchSpec("Accounts")])
    bad = Recorder([WatchSpec("Accounts")], fail_times=10**6)
    d = make(store, clock, {"good": good, "bad": bad}, max_attempts=3)
    events = [ev(i) for i in range(5)]
    store.enqueue(events)
    first = d.drain()
    assert good.seen == [e.key for e in events]
    assert first.handled == 5 and first.failed == 5 and first.dead == 0
    # retries: 10 s then 20 s (base 10, x2 per failure, jitter pinned to 1.0)
    assert d.drain().claimed == 0
    clock.now += 10
    assert d.drain().failed == 5
    clock.now += 19.9
    assert d.drain().claimed == 0
    clock.now += 0.1
    third = d.drain()
    assert third.failed == 5 and third.dead == 5
    dead = store.dead_letters()
    assert len(dead) == 5 and all(x.plugin == "bad" and x.attempts == 3 for x in dead)
    assert dead[0].last_error.startswith("RuntimeError: CRM said no (at test_dispatcher.py:")
    assert good.seen == [e.key for e in events]  # the good plugin was never re-run


def test_dead_letters_replayed_reach_the_fixed_handler(store, clock):
    flaky = Recorder([WatchSpec("Accounts")], fail_times=2)
    d = make(store, clock, {"bad": flaky}, max_attempts=2)
    store.enqueue([ev(1)])
    d.drain()
    clock.now += 10
    d.drain()
    (dead,) = store.dead_letters()
    assert flaky.seen == []
    assert store.replay([dead.id]) == 1
    assert d.drain().handled == 1
    assert flaky.seen == [ev(1).key]
    assert store.dead_letters() == []


def test_backoff_is_exponential_jittered_and_capped(store, clock):
    d = make(store, clock, {"good": Recorder([])})
    d.rng = lambda: 0.5
    assert [d.backoff(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    d.rng = lambda: 0.0
    assert d.backoff(1) == 5
    d.rng = lambda: 0.999
    assert 14.9 < d.backoff(1) < 15
    assert d.backoff(30) == 3600


def test_stop_finishes_the_event_in_hand_and_releases_the_rest(store, clock):
    stop = threading.Event()

    class Stopper(Recorder):
        @hookimpl
        def ext_on_record_change(self, event, ctx):
            self.seen.append(event.key)
            stop.set()  # SIGTERM arrives while this event is being handled

    p = Stopper([WatchSpec("Accounts")])
    d = make(store, clock, {"good": p})
    store.enqueue([ev(i) for i in range(5)])
    stats = d.run_once(stop)
    assert stats.handled == 1 and stats.released == 4
    assert store.queue_stats().done == 1
    # released, not leased: another worker takes them at once
    assert len(store.claim("w2", limit=10)) == 4


def test_plugin_whose_ext_watch_fails_gets_nothing_and_others_work(store, clock, caplog):
    good = Recorder([WatchSpec("Accounts")])
    d = make(store, clock, {"good": good, "broken": BrokenWatch()})
    assert "broken" not in d.specs
    assert "plugin 'broken': ext_watch failed, it will receive no events: bad watch config" in caplog.text
    store.enqueue([ev(1)])
    assert d.drain().handled == 1 and good.seen == [ev(1).key]


def test_delivery_for_a_plugin_no_longer_enabled_fails_with_its_name(store, clock):
    p = Recorder([WatchSpec("Accounts")])
    store.enqueue([ev(1)])
    make(store, clock, {"good": p}).store.fan_out(lambda e: ["good"])
    d = make(store, clock, {"good": p}, enabled={"good": False}, max_attempts=1)
    assert d.drain().dead == 1
    (dead,) = store.dead_letters()
    assert "plugin 'good' is not loaded, not enabled" in dead.last_error


def test_collect_watch_specs_rejects_non_watchspec_results(store, clock, caplog):
    class Wrong(Recorder):
        @hookimpl
        def ext_watch(self, settings):
            return ["Accounts"]

    config = build_config()
    reg = build_registry({"wrong": Wrong([])}, config)
    assert collect_watch_specs(reg, {}) == {}
    assert "ext_watch must return WatchSpec objects, got str" in caplog.text


def test_two_dispatchers_on_one_mysql_store_handle_each_delivery_once(mysql_server, mysql_db):
    from suitecrm_ext.state.mysql import MySQLStore

    handled: list[tuple[str, str]] = []
    lock = threading.Lock()

    class Shared:
        @hookimpl
        def ext_watch(self, settings):
            return [WatchSpec("Accounts")]

        @hookimpl
        def ext_on_record_change(self, event, ctx):
            with lock:
                handled.append((ctx.name, event.key))

    stores = [MySQLStore(**mysql_server.params(mysql_db)) for _ in range(2)]
    try:
        stores[0].enqueue([ev(i) for i in range(400)])
        dispatchers = []
        for i, s in enumerate(stores):
            config = build_config()
            reg = build_registry({"good": Shared(), "other": Shared()}, config)
            dispatchers.append(Dispatcher(build_app(reg, config, state=s), reg, worker_id=f"w{i}"))
        counts = [0, 0]

        def work(i):
            counts[i] = dispatchers[i].drain().handled

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(handled) == 800 and len(set(handled)) == 800
        assert sum(counts) == 800 and all(counts)  # both workers took a share
    finally:
        for s in stores:
            s.close()


def test_a_delivery_whose_lease_ran_out_in_the_batch_is_not_handled_by_two_workers(store, clock):
    # worker 1 claimed a batch; its handlers are slow, so the lease of the batch's last delivery runs
    # out before worker 1 reaches it, and worker 2 takes and handles it meanwhile
    handled: list[tuple[str, str]] = []
    workers: dict[str, Dispatcher] = {}

    class Slow(Recorder):
        @hookimpl
        def ext_on_record_change(self, event, ctx):
            handled.append((event.key, "busy"))
            clock.now += 200  # each delivery takes 200 s of a 300 s lease
            if len(handled) == 2:
                workers["w2"].run_once()

    p = Slow([WatchSpec("Accounts")])
    workers["w1"] = make(store, clock, {"good": p}, lease_seconds=300, batch_size=10)
    workers["w2"] = make(store, clock, {"good": p}, lease_seconds=300, batch_size=1)
    workers["w2"].worker_id = "w2"
    store.enqueue([ev(i) for i in range(3)])
    workers["w1"].run_once()
    keys = [k for k, _ in handled]
    assert sorted(keys) == sorted(ev(i).key for i in range(3))  # each once, none twice
    assert store.queue_stats().done == 3
