"""The runtime's commands through the CLI: run --once, events tail/dead/replay, jobs list/run."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
import yaml
from click.testing import CliRunner

from suitecrm_ext import Event
from suitecrm_ext.cli import cli
from suitecrm_ext.plugins import PluginRegistry
from suitecrm_ext.state.sqlite import SQLiteStore

PLUGIN = textwrap.dedent('''
    """CLI test plugin: fails on records whose id starts with 'bad'; two jobs, one failing."""
    from suitecrm_ext import JobSpec, WatchSpec, hookimpl

    HANDLED = []


    @hookimpl
    def ext_watch(settings):
        return [WatchSpec("Accounts")]


    @hookimpl
    def ext_on_record_change(event, ctx):
        if event.record_id.startswith("bad"):
            raise ValueError(f"no such counterparty for {event.record_id}")
        HANDLED.append(event.record_id)


    def broken(ctx):
        raise RuntimeError("1C is down")


    @hookimpl
    def ext_jobs(settings):
        return [JobSpec("cli-sync", "5m", lambda ctx: {"imported": 2}, "import payments"),
                JobSpec("cli-broken", "0 3 * * *", broken)]
''')


T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def rig(tmp_path, monkeypatch):
    module = f"cli_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "suitecrm-ext.yaml"
    state_path = tmp_path / "state.sqlite3"
    config.write_text(yaml.safe_dump({
        "suitecrm": {"url": "http://suitecrm.test"},
        "state": {"path": str(state_path)},
        "events": {"max_attempts": 1},
        # the installed plugins (as this process loads them) stay out of the way: only the test plugin
        # handles events and runs jobs
        "plugins": {name: {"enabled": False} for name in PluginRegistry.discover().loaded},
    }))
    env = {"SUITECRM_EXT_CONFIG": str(config), "SUITECRM_EXT_EXTRA_PLUGINS": f"clip={module}"}
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    invoke.store = lambda: SQLiteStore(state_path)
    return invoke


def ev(rid):
    return Event(module="Accounts", record_id=rid, kind="updated", time=T0)


def test_events_tail_dead_and_replay(rig):
    res = rig("events", "tail")
    assert res.exit_code == 0 and "queue: 0 event(s), 0 not yet routed" in res.output
    store = rig.store()
    store.enqueue([ev("good-1"), ev("bad-1"), Event(module="Leads", record_id="l1", kind="created", time=T0)])
    store.close()
    res = rig("events", "tail")
    assert "(not yet routed to plugins)" in res.output

    res = rig("run", "--once", "--no-poll")
    # a failed delivery is not a failed run: it is retried / dead-lettered; the failing job is
    assert res.exit_code == 1
    assert "delivered 1, failed 1 (dead 1); jobs: cli-broken=failed, cli-sync=ok" in res.output

    res = rig("events", "dead")
    assert res.exit_code == 0
    (line, hint) = res.stdout.strip().splitlines()
    dead_id = line.split()[0]
    assert "clip  Accounts bad-1 updated  after 1 attempt(s): ValueError: no such counterparty for bad-1" \
        in line
    assert hint == "1 dead letter(s); replay with: suitecrm-ext events replay ID... | --all"

    tail = rig("events", "tail").output
    assert "queue: 3 event(s), 0 not yet routed; deliveries: 0 pending, 1 done, 1 dead" in tail
    assert "Leads l1 created (poll)\n    (no plugin watches it)" in tail
    assert f"delivery {dead_id} -> clip: dead, 1 failed attempt(s) — ValueError: no such counterparty" in tail

    assert rig("events", "replay", dead_id).stdout.strip() == "re-queued 1 delivery(ies)"
    assert f"delivery {dead_id} is already pending; left as is" in rig("events", "replay", dead_id).output
    res = rig("events", "replay", "99999")
    assert res.exit_code == 1 and "no delivery with id 99999 (see `events dead`)" in res.output
    res = rig("events", "replay")
    assert res.exit_code == 2 and "give delivery ID(s) (see `events dead`) or --all, not both" in res.output
    res = rig("events", "replay", dead_id, "--all")
    assert res.exit_code == 2

    rig("run", "--once", "--no-poll")  # fails again -> dead again
    res = rig("events", "replay", "--all", "--plugin", "other")
    assert res.stdout.strip() == "re-queued 0 dead letter(s)"
    assert rig("events", "replay", "--all").stdout.strip() == "re-queued 1 dead letter(s)"
    assert rig("events", "dead").stdout.strip() == "no dead letters"


def test_events_dead_json(rig):
    store = rig.store()
    store.enqueue([ev("bad-2")])
    store.close()
    rig("run", "--once", "--no-poll")
    import json

    (row,) = json.loads(rig("events", "dead", "--json").stdout)
    assert row["plugin"] == "clip" and row["event"]["record_id"] == "bad-2" and row["attempts"] == 1


def test_jobs_list_and_run(rig):
    res = rig("jobs", "list")
    assert res.exit_code == 0
    assert "cli-sync  [clip]  5m  last: -  never ran  next: now" in res.output
    assert "cli-broken  [clip]  0 3 * * *  last: -  never ran  next: now" in res.output

    res = rig("jobs", "run", "cli-sync", "--worker-id", "ops")
    assert (res.exit_code, res.stdout.strip()) == (0, "cli-sync: ok: imported=2")
    res = rig("jobs", "run", "cli-broken")
    assert (res.exit_code, res.stdout.strip()) == (1, "cli-broken: failed: RuntimeError: 1C is down")
    listing = rig("jobs", "list").output
    assert "cli-sync  [clip]  5m  last: " in listing and "ok: imported=2  next: " in listing
    assert "FAILED: RuntimeError: 1C is down" in listing

    store = rig.store()
    assert store.acquire_lock("job:cli-sync", "other-host:42", 60)
    run_id = store.job_started("cli-sync", "other-host:42")
    res = rig("jobs", "run", "cli-sync")
    assert (res.exit_code, res.stdout.strip()) == (75, "cli-sync: busy: already running by other-host:42")
    assert "cli-sync  [clip]  5m" in (listing := rig("jobs", "list").output)
    assert "running on other-host:42" in listing
    store.release_lock("job:cli-sync", "other-host:42")
    assert "interrupted (process died)" in rig("jobs", "list").output
    store.job_finished(run_id, True)
    store.close()

    res = rig("jobs", "run", "nope")
    assert res.exit_code == 1
    assert "no job named 'nope' (jobs: cli-broken, cli-sync, state-maintenance)" in res.output


def test_state_store_problem_is_reported_not_a_traceback(rig, tmp_path):
    (tmp_path / "state.sqlite3").write_bytes(b"garbage" * 200)
    res = rig("events", "tail")
    assert res.exit_code == 1
    assert "state store: state.path:" in res.output and "is not a usable SQLite state file" in res.output
