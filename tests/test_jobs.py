"""The scheduler: schedules, due times, run history, and the lock that keeps a job single."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from suitecrm_ext import JobSpec, hookimpl
from suitecrm_ext.jobs import ScheduleError, Scheduler, collect_jobs, parse_schedule
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import build_app, build_config, build_registry


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 11, 23, 9, 3, tzinfo=dt.timezone.utc).timestamp()

    def __call__(self):
        return self.now


class JobsPlugin:
    """Declares the jobs it is given."""

    def __init__(self, *specs):
        self.specs = list(specs)

    @hookimpl
    def ext_jobs(self, settings):
        return self.specs


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    s = SQLiteStore(tmp_path / "state.sqlite3", clock=clock)
    yield s
    s.close()


def scheduler(store, clock, plugins, owner="host-a", **kw):
    config = build_config()
    reg = build_registry(plugins, config)
    return Scheduler(build_app(reg, config, state=store), reg, owner=owner, clock=clock, **kw)


@pytest.mark.parametrize("text, interval", [("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400),
                                            (" 2 m ", 120), ("1.5h", 5400)])
def test_interval_schedules(text, interval):
    assert parse_schedule(text).interval == interval


def test_cron_schedule_next_time_is_utc():
    sched = parse_schedule("*/10 * * * *")
    after = dt.datetime(2026, 11, 23, 9, 3, 59, tzinfo=dt.timezone.utc).timestamp()
    assert dt.datetime.fromtimestamp(sched.next_after(after), dt.timezone.utc) == \
        dt.datetime(2026, 11, 23, 9, 10, tzinfo=dt.timezone.utc)
    nightly = parse_schedule("0 3 * * *")
    assert dt.datetime.fromtimestamp(nightly.next_after(after), dt.timezone.utc).isoformat() == \
        "2026-11-24T03:00:00+00:00"


@pytest.mark.parametrize("text, message", [
    ("", "schedule is empty"),
    ("5 minutes", "neither an interval"),
    ("0.5s", "at least 1s"),
    ("61 * * * *", "neither an interval"),
    ("* * * *", "neither an interval"),
    ("*/10 * * * * *", "neither an interval"),
])
def test_bad_schedules_say_what_is_accepted(text, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


def test_collect_jobs_reports_each_bad_declaration_and_keeps_the_good(store, clock):
    def noop(ctx):
        return None

    class Raises:
        @hookimpl
        def ext_jobs(self, settings):
            raise RuntimeError("no settings")

    plugins = {
        "a": JobsPlugin(JobSpec("sync", "1m", noop), JobSpec("bad-sched", "every minute", noop), "oops"),
        "b": JobsPlugin(JobSpec("sync", "5m", noop), JobSpec("nightly", "0 3 * * *", noop)),
        "c": Raises(),
    }
    config = build_config()
    reg = build_registry(plugins, config)
    jobs, problems = collect_jobs(reg, {})
    assert sorted(jobs) == ["nightly", "sync"] and jobs["sync"].plugin == "a"
    assert problems == [
        "plugin 'a': job 'bad-sched': schedule 'every minute' is neither an interval (30s, 5m, 1h, 1d) nor "
        "a 5-field cron expression (minute hour day month weekday, e.g. '*/10 * * * *')",
        "plugin 'a': ext_jobs must return JobSpec objects, got str",
        "plugin 'b': job 'sync' is already declared by plugin 'a'; skipped",
        "plugin 'c': ext_jobs failed: RuntimeError: no settings",
    ]


def test_due_run_and_history(store, clock):
    calls = []

    def sync(ctx):
        calls.append(ctx.name)
        return {"imported": 3}

    def broken(ctx):
        raise ValueError("1C answered 500")

    plugin = JobsPlugin(JobSpec("sync", "5m", sync), JobSpec("broken", "1h", broken))
    s = scheduler(store, clock, {"p": plugin})
    assert [j.name for j in s.due_jobs()] == ["broken", "sync"]  # never ran: due now
    outcomes = {o.job: o for o in s.run_due()}
    assert outcomes["sync"].status == "ok" and outcomes["sync"].summary == "imported=3"
    assert outcomes["broken"].status == "failed"
    assert outcomes["broken"].summary == "ValueError: 1C answered 500"
    assert calls == ["p"]
    assert s.due_jobs() == []
    assert s.seconds_until_next() == 300
    clock.now += 300
    assert [j.name for j in s.due_jobs()] == ["sync"]
    last = store.last_job_runs()
    assert last["broken"].ok is False and last["sync"].ok is True and last["sync"].owner == "host-a"
    # the locks were released after the run, also after the failure
    assert store.lock_info("job:sync") is None and store.lock_info("job:broken") is None


def test_busy_when_another_owner_holds_the_lock_and_not_due_after_it_ran(store, clock):
    s = scheduler(store, clock, {"p": JobsPlugin(JobSpec("sync", "5m", lambda ctx: "done"))})
    assert store.acquire_lock("job:sync", "host-b", 60)
    out = s.run_job("sync")
    assert (out.status, out.summary) == ("busy", "already running by host-b")
    # host-b ran it and let go: host-a, which had seen it due, must not run it again
    store.job_finished(store.job_started("sync", "host-b"), True)
    store.release_lock("job:sync", "host-b")
    assert s.run_job("sync").status == "not-due"
    assert s.run_job("sync", force=True).status == "ok"  # `jobs run NAME` runs it anyway
    with pytest.raises(KeyError, match="no job named 'nope' \\(jobs: sync\\)"):
        s.run_job("nope")


def test_heartbeat_keeps_the_lock_while_a_long_job_runs(tmp_path):
    store = SQLiteStore(tmp_path / "state.sqlite3")
    started, finish = threading.Event(), threading.Event()

    def long_job(ctx):
        started.set()
        finish.wait(10)

    s = scheduler(store, time.time, {"p": JobsPlugin(JobSpec("long", "1h", long_job))}, lock_ttl=0.3)
    t = threading.Thread(target=s.run_job, args=("long",))
    t.start()
    started.wait(5)
    other = SQLiteStore(tmp_path / "state.sqlite3")
    try:
        for _ in range(8):  # ~4 lock TTLs: the heartbeat must keep renewing
            time.sleep(0.15)
            assert other.acquire_lock("job:long", "host-b", 60) is False
    finally:
        finish.set()
        t.join()
        other.close()
        store.close()


def test_heartbeat_that_renews_late_takes_back_a_lease_nobody_else_took(store, clock):
    # the store stalled past the lease (the heartbeat's renewal came late), but no one took the lock:
    # the running job keeps it instead of running on unprotected for a second run to start
    from suitecrm_ext.jobs import _Heartbeat

    assert store.acquire_lock("job:long", "host-a", 0.3)
    clock.now += 10  # lease expired, nobody else took it
    beat = _Heartbeat(store, "job:long", "host-a", 0.3)
    beat.start()
    try:
        for _ in range(100):
            if store.lock_info("job:long") is not None:
                break
            time.sleep(0.05)
        held = store.lock_info("job:long")
        assert held is not None and held.owner == "host-a"
        assert store.acquire_lock("job:long", "host-b", 60) is False
    finally:
        beat.stop()


HOLDER = textwrap.dedent("""
    import sys, time
    from suitecrm_ext import JobSpec, hookimpl
    from suitecrm_ext.jobs import Scheduler
    from suitecrm_ext.state.sqlite import SQLiteStore
    from suitecrm_ext.state.mysql import MySQLStore
    from suitecrm_ext.testing import build_app, build_config, build_registry
    import json

    spec = json.loads(sys.argv[1])
    store = SQLiteStore(spec["path"]) if "path" in spec else MySQLStore(**spec["mysql"])

    def hang(ctx):
        print("RUNNING", flush=True)
        time.sleep(600)

    class P:
        @hookimpl
        def ext_jobs(self, settings):
            return [JobSpec("nightly", "1d", hang)]

    config = build_config()
    reg = build_registry({"p": P()}, config)
    app = build_app(reg, config, state=store)
    Scheduler(app, reg, owner="crashing-host", lock_ttl=1.0).run_job("nightly")
""")


@pytest.mark.parametrize("backend", ["sqlite", "mysql"])
def test_job_lock_across_processes_and_a_crashed_holders_lease_expires(backend, tmp_path, request):
    if backend == "sqlite":
        spec = {"path": str(tmp_path / "state.sqlite3")}
        store = SQLiteStore(spec["path"])
    else:
        from suitecrm_ext.state.mysql import MySQLStore

        server, db = request.getfixturevalue("mysql_server"), request.getfixturevalue("mysql_db")
        spec = {"mysql": server.params(db)}
        store = MySQLStore(**spec["mysql"])
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, json.dumps(spec)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "RUNNING"
        ran = []
        plugin = JobsPlugin(JobSpec("nightly", "1d", lambda ctx: ran.append(1)))
        s = scheduler(store, time.time, {"p": plugin})
        out = s.run_job("nightly", force=True)
        assert (out.status, out.summary) == ("busy", "already running by crashing-host")
        proc.kill()  # the holder dies without releasing its lock
        proc.wait()
        deadline = time.monotonic() + 15
        while (out := s.run_job("nightly", force=True)).status == "busy" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert out.status == "ok" and ran == [1]
        runs = store.job_runs("nightly")
        assert [(r.owner, r.ok) for r in runs] == [("host-a", True), ("crashing-host", None)]
    finally:
        if proc.poll() is None:
            proc.kill()
        store.close()
