"""Seeded kill -9 rounds of ``suitecrm-ext run`` (change feed, dispatcher and job runner in one
process) against a real SuiteCRM (shared by tests/reliability/test_crashes_live.py and
bench/reliability.py).

A test plugin (written into the work dir, loaded with ``SUITECRM_EXT_EXTRA_PLUGINS``) does two things
an integrator's plugin does, both through the real REST API:

- handler: every change of a watched Bug becomes one Note (``crm.create`` under an id derived from the
  event key), every call is also recorded in a local SQLite file (to count redeliveries);
- job ``rel-batch`` (every second): makes sure ``tasks`` Tasks exist, one at a time, checkpointing
  how far it got in the state store, so a killed run resumes where it stopped.

Each round the sidecar is started, one save per record is made while it runs, and it is killed with
SIGKILL after a seeded random delay (in the middle of polling, handling, or the job); the next round's
sidecar starts with the same ``--worker-id`` and must catch up before the next saves. An uninterrupted
run ends with one Note per save and exactly ``tasks`` Tasks: that is what SuiteCRM's DB must hold.
"""

from __future__ import annotations

import random
import sqlite3
import textwrap
import time
from pathlib import Path
from typing import Any

from faults import Outcome, db_rows

from suitecrm_ext.lab import LabInstance

PLUGIN = textwrap.dedent('''
    """Reliability kill-round plugin (tests/reliability/crashes.py)."""
    import os
    import sqlite3
    import time
    import uuid

    from suitecrm_ext import JobSpec, WatchSpec, hookimpl

    NS = uuid.UUID("9a3a1f9e-5d43-4f7e-8f39-6f0c1f6f2a11")
    TAG = os.environ["REL_TAG"]
    _con = None

    def con():
        global _con
        if _con is None:
            _con = sqlite3.connect(os.environ["REL_CALLS"], timeout=30, isolation_level=None)
        return _con

    @hookimpl
    def ext_watch(settings):
        return [WatchSpec("Bugs", fields=("name",))]

    @hookimpl
    def ext_on_record_change(event, ctx):
        name = event.changes["name"].after if "name" in event.changes else event.after.get("name")
        if not str(name or "").startswith(TAG):
            return
        con().execute("INSERT INTO calls VALUES (?, ?)", (event.key, name))
        ctx.crm.create("Notes", {"name": f"{name} note", "description": event.key},
                       id=str(uuid.uuid5(NS, event.key)))

    def batch(ctx):
        total = int(os.environ["REL_TASKS"])
        done = ctx.state.kv_get("rel", "done", 0)
        for i in range(done, total):
            ctx.crm.create("Tasks", {"name": f"{TAG} task {i}", "status": "Not Started"},
                           id=str(uuid.uuid5(NS, f"{TAG}-task-{i}")))
            ctx.state.kv_set("rel", "done", i + 1)
            time.sleep(0.2)
        return f"{total} tasks"

    @hookimpl
    def ext_jobs(settings):
        return [JobSpec("rel-batch", "1s", batch, "reliability: resumable batch of Tasks")]
''')


def _cursor_set(state: Path) -> bool:
    try:
        con = sqlite3.connect(state, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM cursors").fetchone()[0] > 0
        finally:
            con.close()
    except sqlite3.Error:
        return False


def _wait(cond: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


def kill_rounds(kit: Any, lab: LabInstance, tag: str, workdir: Path, *, rounds: int = 3, seed: int = 18,
                records: int = 3, tasks: int = 8, catch_up: float = 90.0) -> Outcome:
    """``rounds`` seeded kill -9 rounds, then one clean run to the end; the DB is checked against
    what an uninterrupted run leaves (see the module docstring)."""
    rng = random.Random(seed)
    out = Outcome("kill -9 of run (feed, dispatcher, job)")
    (workdir / "rel_crash_plugin.py").write_text(PLUGIN)
    calls = workdir / "calls.sqlite3"
    con = sqlite3.connect(calls, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT, name TEXT)")
    config = kit.config(state_dir=workdir, plugins=kit.plugins_off(),
                        events={"poll_interval_seconds": 0.5, "max_attempts": 10, "retry_base_seconds": 0.2,
                                "push": {"enabled": False}})
    state = Path(config["state"]["path"])
    env = {"PYTHONPATH": str(workdir), "REL_CALLS": str(calls), "REL_TAG": tag, "REL_TASKS": str(tasks),
           "SUITECRM_EXT_EXTRA_PLUGINS": "relcrash=rel_crash_plugin"}
    gw = lab.gateway("rest")
    saved: list[str] = []
    ids: list[str] = []
    kills = []

    def notes() -> set[str]:
        return {n for (n,) in db_rows(lab, "SELECT name FROM notes WHERE deleted = 0 AND name LIKE %s",
                                      (f"{tag} bug %",))}

    try:
        for r in range(rounds + 1):
            last = r == rounds
            with kit.sidecar(config, "--worker-id", "rel-crash", env=env, wait=False) as proc:
                if r == 0 and not _wait(lambda: _cursor_set(state), 60):
                    out.errors.append("the change feed never set its cursor:\n" + proc.log[-2000:])
                    return out
                # what the previous rounds saved must be caught up before this round saves again
                if not _wait(lambda: {f"{n} note" for n in saved} <= notes(), catch_up):
                    out.errors.append(f"round {r}: earlier saves not handled after the restart "
                                      f"within {catch_up} s:\n{proc.log[-2000:]}")
                    break
                if not last:
                    for i in range(records):
                        name = f"{tag} bug {i} r{r}"
                        if r == 0:
                            ids.append(gw.save("Bugs", {"name": name, "status": "New"}))
                        else:
                            gw.save("Bugs", {"id": ids[i], "name": name})
                        saved.append(name)
                    time.sleep(rng.uniform(0.0, 2.5))  # the seeded moment of the crash
                    proc.kill()
                    kills.append(proc.popen.returncode)
                else:
                    def finished() -> bool:
                        return {f"{n} note" for n in saved} <= notes() and len(_tasks(lab, tag)) >= tasks

                    done = _wait(finished, catch_up)
                    if not done:
                        out.errors.append("the clean run did not finish within "
                                          f"{catch_up} s:\n{proc.log[-2000:]}")
    finally:
        gw.close()
    out.expected = len(saved) + tasks
    got_notes = db_rows(lab, "SELECT name FROM notes WHERE deleted = 0 AND name LIKE %s", (f"{tag} bug %",))
    got_tasks = _tasks(lab, tag)
    wanted = [f"{n} note" for n in saved] + [f"{tag} task {i}" for i in range(tasks)]
    seen: dict[str, int] = {}
    for (n,) in got_notes + [(t,) for t in got_tasks]:
        seen[n] = seen.get(n, 0) + 1
    out.lost = sum(1 for n in wanted if n not in seen)
    out.duplicated = sum(c - 1 for c in seen.values() if c > 1) + sum(1 for n in seen if n not in wanted)
    keys = [k for (k,) in con.execute("SELECT key FROM calls")]
    out.detail.update(crashes=len(kills), deliveries=len(keys), redelivered=len(keys) - len(set(keys)))
    con.close()
    return out


def _tasks(lab: LabInstance, tag: str) -> list[str]:
    return [n for (n,) in db_rows(lab, "SELECT name FROM tasks WHERE deleted = 0 AND name LIKE %s",
                                  (f"{tag} task %",))]


def cleanup(lab: LabInstance, tag: str) -> None:
    """Remove the rounds' Bugs, Notes and Tasks."""
    import pymysql

    c = pymysql.connect(**lab.db_params())
    try:
        with c.cursor() as cur:
            for table in ("bugs", "notes", "tasks"):
                cur.execute(f"DELETE FROM {table} WHERE name LIKE %s", (tag + "%",))
    finally:
        c.close()
