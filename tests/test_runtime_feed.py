"""The runtime in-process with the real change feed over FakeCRM: records flow to the plugin, stop
saves the cursor and returns 0; `run --once` reports a failing poll."""

from __future__ import annotations

import threading
import time

from suitecrm_ext import WatchSpec, hookimpl
from suitecrm_ext.events.poller import ChangeFeed
from suitecrm_ext.runtime import Runtime
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import FakeCRM, build_app, build_config, build_registry


class Recorder:
    """Watches Accounts, records (kind, id, name)."""

    def __init__(self):
        self.seen: list[tuple[str, str, str]] = []

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts")]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        self.seen.append((event.kind.value, event.record_id, event.values.get("name")))


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def build(tmp_path, crm, plugin, **events):
    config = build_config(events={"poll_interval_seconds": 0.05, "overlap_seconds": 5, **events})
    reg = build_registry({"rec": plugin}, config)
    store = SQLiteStore(tmp_path / "state.sqlite3")
    app = build_app(reg, config, crm=crm, state=store)

    def feed(rt):
        return ChangeFeed(crm, rt.store, [WatchSpec("Accounts")], start="beginning", overlap_seconds=5)

    return Runtime(app, reg, worker_id="w1", push=False, feed_factory=feed), store


def test_run_forever_delivers_polled_changes_and_stops_with_cursor_saved(tmp_path):
    crm = FakeCRM()
    first = crm.save("Accounts", {"name": "Acme"})
    plugin = Recorder()
    rt, store = build(tmp_path, crm, plugin)
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(rt.run_forever()))
    t.start()
    try:
        wait_for(lambda: ("created", first, "Acme") in plugin.seen)
        second = crm.save("Accounts", {"name": "Globex"})
        wait_for(lambda: ("created", second, "Globex") in plugin.seen)
    finally:
        rt.stop.set()
        t.join(10)
    assert not t.is_alive() and result == [0]
    cursor = store.get_cursor("poller:Accounts")
    assert cursor is not None and cursor["id"] in (first, second)
    assert store.queue_stats().pending == 0
    store.close()


def test_run_once_polls_delivers_and_reports_a_failing_feed(tmp_path):
    crm = FakeCRM()
    rid = crm.save("Accounts", {"name": "Initech"})
    plugin = Recorder()
    rt, store = build(tmp_path, crm, plugin)
    summary = rt.run_once()
    assert summary.ok and summary.polled == 1 and summary.dispatch.handled == 1
    assert plugin.seen == [("created", rid, "Initech")]
    assert summary.line() == "queued 1 new event(s); delivered 1, failed 0 (dead 0); jobs: none due"

    class DownFeed:
        def poll_once(self):
            raise ConnectionError("SuiteCRM unreachable")

    rt2 = Runtime(rt.app, rt.registry, worker_id="w1", feed_factory=lambda _rt: DownFeed())
    summary = rt2.run_once()
    assert not summary.ok
    assert summary.line().startswith("poll failed (ConnectionError: SuiteCRM unreachable)")
    store.close()


def test_a_feed_that_cannot_be_built_is_reported_and_fails_the_run(tmp_path, caplog):
    def no_crm(_rt):
        raise RuntimeError("no SuiteCRM transport configured")

    config = build_config()
    reg = build_registry({"rec": Recorder()}, config)
    store = SQLiteStore(tmp_path / "state.sqlite3")
    rt = Runtime(build_app(reg, config, state=store), reg, worker_id="w1", feed_factory=no_crm)
    assert rt.feed is None
    assert ("change feed could not start: RuntimeError: no SuiteCRM transport configured "
            "(run with --no-poll to go without it)") in caplog.text
    summary = rt.run_once()
    assert not summary.ok and summary.poll_error == "RuntimeError: no SuiteCRM transport configured"
    assert rt.run_forever() == 1
    # --no-poll: the same runtime without the feed works
    assert Runtime(rt.app, reg, worker_id="w1", poll=False, feed_factory=no_crm).run_once().ok
    store.close()


def test_a_job_still_running_after_the_grace_period_is_recorded_as_interrupted(tmp_path, monkeypatch):
    import suitecrm_ext.runtime as runtime_mod
    from suitecrm_ext import JobSpec

    monkeypatch.setattr(runtime_mod, "SHUTDOWN_GRACE", 0.2)
    started, release = threading.Event(), threading.Event()

    def stuck(ctx):
        started.set()
        release.wait(30)

    class Jobs:
        @hookimpl
        def ext_jobs(self, settings):
            return [JobSpec("stuck-job", "1h", stuck)]

    config = build_config()
    reg = build_registry({"jobs": Jobs()}, config)
    store = SQLiteStore(tmp_path / "state.sqlite3")
    rt = Runtime(build_app(reg, config, state=store), reg, worker_id="w1", poll=False, push=False)
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(rt.run_forever()))
    t.start()
    try:
        assert started.wait(10)
        rt.stop.set()
        t.join(10)
        assert result == [0]
        (run,) = store.job_runs("stuck-job")
        assert run.ok is False and run.summary == "interrupted: the process was stopped"
        assert store.lock_info("job:stuck-job") is None
    finally:
        release.set()  # in a real process the thread dies with it; here let it finish before closing
        wait_for(lambda: store.job_runs("stuck-job")[0].ok is True)
        store.close()


def test_a_push_wakes_the_idle_dispatcher_and_feed_leases_only_with_a_shared_store(tmp_path, monkeypatch):
    import datetime as dt

    import suitecrm_ext.runtime as runtime_mod
    from suitecrm_ext import Event, EventKind

    monkeypatch.setattr(runtime_mod, "IDLE_WAIT", 60.0)  # without a wake-up the event would wait a minute
    crm = FakeCRM()
    plugin = Recorder()
    config = build_config(events={"push": {"enabled": True, "secret": "s" * 32, "listen": "127.0.0.1:0"}})
    reg = build_registry({"rec": plugin}, config)
    store = SQLiteStore(tmp_path / "state.sqlite3")
    rt = Runtime(build_app(reg, config, crm=crm, state=store), reg, worker_id="w1", poll=False, push=False)
    assert runtime_mod._default_push(rt).on_queued == rt.wake
    assert runtime_mod._default_feed(rt).lock_owner is None  # SQLite: one host, no polling lease
    t = threading.Thread(target=rt.run_forever)
    t.start()
    try:
        time.sleep(0.3)  # let the loop go idle
        now = dt.datetime.now(dt.timezone.utc)
        store.enqueue([Event("Accounts", "a1", EventKind.CREATED, now, source="push", values={"name": "P"})])
        rt.wake()
        wait_for(lambda: ("created", "a1", "P") in plugin.seen)
    finally:
        rt.stop.set()
        rt.wake()
        t.join(10)
    assert not t.is_alive()
    shared = build_config(state={"backend": "mysql", "mysql": {"user": "u", "database": "d"}})
    rt2 = Runtime(build_app(reg, shared, crm=crm, state=store), reg, worker_id="w9", poll=False, push=False)
    assert runtime_mod._default_feed(rt2).lock_owner == "w9"
    store.close()
