"""`suitecrm-ext run` killed with SIGKILL in the middle of a burst of real saves, then started again:
every change reaches the handler, none has its effect twice (push through the real Apache/PHP hook,
the change feed catching what was saved while the sidecar was down)."""

from __future__ import annotations

import sqlite3
import textwrap
import threading
import time

import pytest

PLUGIN = textwrap.dedent('''
    """Live kill test plugin: one effect per event key (idempotent), every call recorded."""
    import os
    import sqlite3

    from suitecrm_ext import WatchSpec, hookimpl

    _con = None

    def con():
        global _con
        if _con is None:
            _con = sqlite3.connect(os.environ["LK_EFFECTS"], timeout=30, isolation_level=None)
        return _con

    @hookimpl
    def ext_watch(settings):
        return [WatchSpec("Documents", fields=("document_name",))]

    @hookimpl
    def ext_on_record_change(event, ctx):
        c = con()
        name = event.changes["document_name"].after if "document_name" in event.changes else None
        c.execute("INSERT INTO calls VALUES (?, ?, ?)", (event.key, event.record_id, name))
        c.execute("BEGIN IMMEDIATE")
        if c.execute("SELECT 1 FROM effects WHERE key = ?", (event.key,)).fetchone() is None:
            c.execute("INSERT INTO effects VALUES (?, ?, ?, ?)",
                      (event.key, event.record_id, name, event.source))
        c.execute("COMMIT")
''')
BURST = 20


@pytest.fixture
def docs(live_kit, live_lab, run_tag):
    live_kit.install("collegial_actions")  # its hook pushes Documents
    gw = live_lab.gateway("rest")
    ids = [gw.save("Documents", {"document_name": f"{run_tag} kill {i}", "status_id": "Active"})
           for i in range(BURST)]
    yield ids
    for i in ids:
        gw.delete("Documents", i)
    gw.close()


def test_kill_9_during_a_burst_of_saves_loses_nothing_and_does_nothing_twice(live_kit, live_lab, docs,
                                                                           run_tag, tmp_path):
    (tmp_path / "lk_plugin.py").write_text(PLUGIN)
    effects = tmp_path / "effects.sqlite3"
    con = sqlite3.connect(effects)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE calls (key TEXT, record_id TEXT, name TEXT)")
    con.execute("CREATE TABLE effects (key TEXT, record_id TEXT, name TEXT, source TEXT)")
    con.commit()
    config = live_kit.config(state_dir=tmp_path, plugins=live_kit.plugins_off(),
                             events={"poll_interval_seconds": 1, "max_attempts": 5,
                                     "retry_base_seconds": 0.2})
    env = {"PYTHONPATH": str(tmp_path), "LK_EFFECTS": str(effects),
           "SUITECRM_EXT_EXTRA_PLUGINS": "lk=lk_plugin"}
    gw = live_lab.gateway("rest")
    saved: list[tuple[str, str]] = []

    def burst():
        for i, doc in enumerate(docs):
            name = f"{run_tag} burst {i}"
            gw.save("Documents", {"id": doc, "document_name": name})
            saved.append((doc, name))

    with live_kit.sidecar(config, "--worker-id", "lk1", env=env) as first:
        writer = threading.Thread(target=burst)
        writer.start()
        while len(saved) < BURST // 3:
            time.sleep(0.05)
        first.kill()  # SIGKILL in the middle of the burst
        writer.join()
    gw.close()
    live_kit.wait_free()
    with live_kit.sidecar(config, "--worker-id", "lk1", env=env):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            got = set(con.execute("SELECT record_id, name FROM effects WHERE name IS NOT NULL"))
            if set(saved) <= got:
                break
            time.sleep(0.5)
    got = con.execute("SELECT record_id, name, source FROM effects WHERE name LIKE ?",
                      (f"{run_tag} burst %",)).fetchall()
    assert {(r, n) for r, n, _ in got} == set(saved)  # nothing lost
    keys = [k for (k,) in con.execute("SELECT key FROM effects")]
    assert len(keys) == len(set(keys))  # nothing twice
    # the saves before the kill came through the hook, those while it was down through the change feed
    assert {s for _, _, s in got} == {"push", "poll"}
