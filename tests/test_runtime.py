"""`suitecrm-ext run` as a real process: SIGKILL mid-way and restart, SIGTERM, two workers on MySQL.

The test plugin (written to a temp dir, loaded with SUITECRM_EXT_EXTRA_PLUGINS) records every call
and, idempotently by event key, one effect per event in its own SQLite file.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import yaml

from suitecrm_ext import Event
from suitecrm_ext.state.mysql import MySQLStore
from suitecrm_ext.state.sqlite import SQLiteStore

PLUGIN = textwrap.dedent('''
    """Runtime test plugin: records each event it handles, idempotently, in a SQLite effects file."""
    import os
    import sqlite3
    import time

    from suitecrm_ext import JobSpec, WatchSpec, hookimpl

    DELAY = float(os.environ.get("RT_DELAY", "0"))
    _con = None


    def con():
        global _con
        if _con is None:
            _con = sqlite3.connect(os.environ["RT_EFFECTS"], timeout=30, isolation_level=None)
            _con.execute("PRAGMA synchronous=NORMAL")  # WAL: survives SIGKILL; no fsync per event
        return _con


    @hookimpl
    def ext_watch(settings):
        return [WatchSpec("Accounts")]


    @hookimpl
    def ext_on_record_change(event, ctx):
        c = con()
        c.execute("INSERT INTO calls VALUES (?, ?)", (event.key, os.getpid()))
        if DELAY:
            time.sleep(DELAY)
        c.execute("BEGIN IMMEDIATE")
        if c.execute("SELECT 1 FROM effects WHERE key = ?", (event.key,)).fetchone() is None:
            c.execute("INSERT INTO effects VALUES (?, ?)", (event.key, os.getpid()))
        c.execute("COMMIT")


    @hookimpl
    def ext_jobs(settings):
        return [JobSpec("rt-tick", "1h", lambda ctx: "ticked")]
''')


_INSTALLED: list[str] | None = None


def installed_plugins() -> list[str]:
    """Entry-point plugins that load in a fresh process (as `suitecrm-ext` sees them; inside pytest
    the tests' own `plugins` directory can shadow the real package)."""
    global _INSTALLED
    if _INSTALLED is None:
        out = subprocess.run(
            [sys.executable, "-c", "from suitecrm_ext.plugins import PluginRegistry as R; "
                                   "print(' '.join(R.discover().loaded))"],
            capture_output=True, text=True, check=True, cwd="/",
        ).stdout
        _INSTALLED = out.split()
    return _INSTALLED

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


class Rig:
    """A temp dir with config, plugin, effects file; starts `suitecrm-ext` processes."""

    def __init__(self, tmp: Path, state: dict, suitecrm: dict | None = None, **events: object):
        self.tmp = tmp
        (tmp / "rt_plugin.py").write_text(PLUGIN)
        self.effects = tmp / "effects.sqlite3"
        con = sqlite3.connect(self.effects)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE calls (key TEXT, pid INTEGER)")
        con.execute("CREATE TABLE effects (key TEXT, pid INTEGER)")
        con.execute("CREATE INDEX effects_key ON effects (key)")  # not unique: duplicates must show
        con.commit()
        con.close()
        self.config = tmp / "suitecrm-ext.yaml"
        self.config.write_text(yaml.safe_dump({
            "suitecrm": suitecrm or {"url": "http://suitecrm.test"},
            "state": state,
            "events": {"max_attempts": 3, "retry_base_seconds": 0.1, **events},
            # the installed plugins stay out of the way: only the test plugin handles events / runs jobs
            "plugins": {name: {"enabled": False} for name in installed_plugins()},
        }))
        self.env = {**os.environ, "PYTHONPATH": str(tmp), "RT_EFFECTS": str(self.effects),
                    "SUITECRM_EXT_EXTRA_PLUGINS": "rt=rt_plugin", "SUITECRM_EXT_CONFIG": str(self.config)}

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", "from suitecrm_ext.cli import main; main()", *args],
            env={**self.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def query(self, sql: str) -> list[tuple]:
        con = sqlite3.connect(self.effects, timeout=30)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def wait_calls(self, n: int, proc: subprocess.Popen, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.query("SELECT COUNT(*) FROM calls")[0][0]
            if got >= n:
                return got
            if proc.poll() is not None:
                raise AssertionError(f"run exited early ({proc.returncode}): {proc.stderr.read()}")
            time.sleep(0.02)
        raise AssertionError(f"fewer than {n} calls after {timeout}s")


def events(n: int) -> list[Event]:
    return [Event(module="Accounts", record_id=f"acc-{i:05d}", kind="updated",
                  time=T0 + dt.timedelta(seconds=i)) for i in range(n)]


def test_sigkill_mid_way_then_restart_every_event_handled_effects_not_duplicated(tmp_path):
    rig = Rig(tmp_path, {"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")})
    store = SQLiteStore(tmp_path / "state.sqlite3")
    assert store.enqueue(events(5000)) == 5000
    proc = rig.start("run", "--worker-id", "w1", "--no-poll")
    at_kill = rig.wait_calls(1000, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    done_at_kill = store.queue_stats().done
    assert 1000 <= at_kill and done_at_kill < 5000, "the process must die mid-way for the test to mean it"

    again = rig.start("run", "--once", "--worker-id", "w1", "--no-poll")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert "failed 0 (dead 0)" in out

    effects = rig.query("SELECT key, COUNT(*) FROM effects GROUP BY key")
    assert len(effects) == 5000 and all(n == 1 for _, n in effects)
    assert {k for k, _ in effects} == {e.key for e in events(5000)}
    calls = rig.query("SELECT COUNT(*), COUNT(DISTINCT key) FROM calls")[0]
    assert calls[1] == 5000
    # at least once, not "all over again": only the batch in hand when killed is redelivered
    assert calls[0] - 5000 <= 20
    stats = store.queue_stats()
    assert (stats.done, stats.pending, stats.dead) == (5000, 0, 0)
    store.close()


def test_sigterm_finishes_the_event_in_hand_and_exits_0(tmp_path):
    rig = Rig(tmp_path, {"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")})
    store = SQLiteStore(tmp_path / "state.sqlite3")
    store.enqueue(events(200))
    proc = rig.start("-v", "run", "--worker-id", "w1", "--no-poll", RT_DELAY="0.05")
    rig.wait_calls(3, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "SIGTERM received: finishing the event in hand" in err
    calls = rig.query("SELECT COUNT(*) FROM calls")[0][0]
    effects = rig.query("SELECT COUNT(*) FROM effects")[0][0]
    stats = store.queue_stats()
    assert calls == effects == stats.done < 200  # the event in hand was completed and acknowledged
    leased = store.run(lambda cur: cur.execute(
        "SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NOT NULL").fetchone()[0])
    assert leased == 0  # the rest of the batch was released for other workers
    # the scheduler ran its due job before stopping, and said so
    assert store.last_job_runs()["rt-tick"].ok is True
    store.close()


def test_two_run_processes_on_a_mysql_store_handle_each_event_exactly_once(tmp_path, mysql_server, mysql_db):
    params = mysql_server.params(mysql_db)
    rig = Rig(tmp_path, {"backend": "mysql", "mysql": params})
    store = MySQLStore(**params)
    store.enqueue(events(1500))
    procs = [rig.start("run", "--once", "--worker-id", f"w{i}", "--no-poll") for i in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    calls = rig.query("SELECT key, COUNT(*) FROM calls GROUP BY key")
    assert len(calls) == 1500 and all(n == 1 for _, n in calls)  # exactly once, no retries needed
    per_pid = dict(rig.query("SELECT pid, COUNT(*) FROM calls GROUP BY pid"))
    assert len(per_pid) == 2 and sum(per_pid.values()) == 1500  # both processes took a share
    assert store.queue_stats().done == 1500
    store.close()


def test_extra_plugins_variable_is_validated(tmp_path):
    rig = Rig(tmp_path, {"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")})
    p = rig.start("run", "--once", "--no-poll", SUITECRM_EXT_EXTRA_PLUGINS="rt")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2
    assert "SUITECRM_EXT_EXTRA_PLUGINS: expected name=module[:attr], got 'rt'" in err
    p = rig.start("run", "--once", "--no-poll", SUITECRM_EXT_EXTRA_PLUGINS="rt=no_such_module")
    _, err = p.communicate(timeout=30)
    assert "plugin 'rt' failed to import 'no_such_module': ModuleNotFoundError" in err


SECRET = "rt-push-secret-0123456789abcdef"


def test_run_serves_signed_push_events_to_the_plugin_and_keeps_the_secret_out_of_logs(tmp_path):
    import json

    import requests

    from suitecrm_ext.events.signing import standard_headers

    rig = Rig(tmp_path, {"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")},
              push={"enabled": True, "listen": "127.0.0.1:0", "secret": "${RT_PUSH_SECRET}"})
    proc = rig.start("-v", "run", "--worker-id", "w1", "--no-poll", RT_PUSH_SECRET=SECRET)
    try:
        lines = []
        while True:
            line = proc.stderr.readline()
            assert line, f"run exited before listening: {''.join(lines)}"
            lines.append(line)
            if "push receiver listening on " in line:
                url = line.rsplit(" ", 1)[-1].strip()
                break
        body = json.dumps({"module": "Accounts", "id": "acc-push-1", "kind": "updated",
                           "date_modified": "2026-11-23 09:00:00",
                           "changes": {"name": {"before": "Old", "after": "New"}}}).encode()
        r = requests.post(f"{url}/events", data=body, timeout=10,
                          headers={"Content-Type": "application/json", **standard_headers(SECRET, body)})
        assert r.status_code == 200 and r.json()["new"] is True
        rig.wait_calls(1, proc)
        key = r.json()["key"]
        assert rig.query("SELECT key FROM effects") == [(key,)]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert SECRET not in "".join(lines) + err


def test_run_exits_1_when_the_enabled_push_receiver_cannot_start(tmp_path):
    rig = Rig(tmp_path, {"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")},
              push={"enabled": True, "listen": "127.0.0.1:0"})
    proc = rig.start("run", "--no-poll")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "push receiver could not start: PushConfigError: events.push.secret: required" in err


def test_sigkill_mid_way_over_5000_changed_rows_polled_from_the_suitecrm_db(
    tmp_path, mysql_server, suitecrm_db
):
    """The same crash test with the real change feed reading SuiteCRM's accounts table over MySQL."""
    suitecrm = {
        "url": "http://suitecrm.test", "write_via": "rest", "read_via": "mysql",
        "rest": {"username": "admin", "password": "unused-in-this-test"},
        "mysql": mysql_server.params(suitecrm_db),
    }
    rig = Rig(tmp_path, {"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")}, suitecrm=suitecrm,
              poll_interval_seconds=1)
    store = SQLiteStore(tmp_path / "state.sqlite3")
    proc = rig.start("run", "--worker-id", "w1")
    try:
        deadline = time.monotonic() + 30
        while store.get_cursor("poller:Accounts") is None:  # the feed has started ("from now on")
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(5000)]
        with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO accounts (id, name, date_entered, date_modified, modified_user_id, created_by, "
                "deleted) VALUES (%s, %s, %s, %s, '1', '1', 0)",
                [(rid, f"Account {i}", stamp, stamp) for i, rid in enumerate(ids)])
        rig.wait_calls(1000, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert store.queue_stats().done < 5000, "the process must die mid-way for the test to mean it"

    again = rig.start("run", "--once", "--worker-id", "w1")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    effects = rig.query("SELECT key, COUNT(*) FROM effects GROUP BY key")
    assert all(n == 1 for _, n in effects)
    handled_ids = sorted(k.split(":")[1] for k, _ in effects)
    assert handled_ids == ids  # every row reached the handler, once in effect
    assert all(k.split(":")[2] == "created" for k, _ in effects)
    store.close()
