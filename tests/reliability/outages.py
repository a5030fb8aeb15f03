"""SuiteCRM or its database "restarted" under a running ``suitecrm-ext run`` (shared by
tests/reliability/test_outages_live.py and bench/reliability.py).

The lab's Apache and MariaDB serve every instance on the host, so they are not restarted for real:
what the sidecar sees of a restart is emulated on its own path to them.

- ``http``: the sidecar reaches SuiteCRM through :class:`~faultproxy.FaultProxy`; ``down(N, "refuse")``
  closes the port (connection refused, requests in flight reset), then ``down(N, "503")`` answers 503
  (PHP coming back). The change feed polls and the handler writes through it.
- ``mysql``: the sidecar reads through the MySQL reader (``read_via: mysql``) over
  :class:`~tcpproxy.TcpProxy` in front of MariaDB's port; ``down(N)`` resets its connections and
  refuses new ones. The change feed polls through it.

The same sidecar process runs throughout (push off; crashes.py's plugin writes one Note per change
through REST). Bugs are saved before, during and after the outage, directly; afterwards every save
must have exactly one Note, the sidecar must still run, and nothing may be in the dead letters.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from crashes import PLUGIN, _cursor_set, _wait
from faultproxy import FaultProxy
from faults import Outcome, db_rows
from tcpproxy import TcpProxy

from suitecrm_ext.lab import LabInstance
from suitecrm_ext.state.sqlite import SQLiteStore


def outage_run(kit: Any, lab: LabInstance, tag: str, workdir: Path, *, side: str = "http",
               seconds: float = 10.0, records: int = 3, catch_up: float = 180.0) -> Outcome:
    """One outage of ``seconds`` (``http``: refused, then as long again 503) with saves around it."""
    out = Outcome(f"SuiteCRM {'restarted (HTTP refused, then 503)' if side == 'http' else 'DB restarted'}"
                  " under a running sidecar")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "rel_crash_plugin.py").write_text(PLUGIN)
    calls = workdir / "calls.sqlite3"
    con = sqlite3.connect(calls, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT, name TEXT)")
    port = int(lab.url.rsplit(":", 1)[1])
    proxy: Any = FaultProxy(port, rate=0.0) if side == "http" else TcpProxy(lab.mysql_section()["port"])
    config = kit.config(state_dir=workdir, plugins=kit.plugins_off(),
                        read_via="api" if side == "http" else "mysql",
                        events={"poll_interval_seconds": 0.5, "max_attempts": 40, "retry_base_seconds": 0.2,
                                "push": {"enabled": False}})
    if side == "http":
        config["suitecrm"].update(url=proxy.url, timeout=5, retries=2)
    else:
        config["suitecrm"]["mysql"].update(host="127.0.0.1", port=proxy.port)
    state = Path(config["state"]["path"])
    env = {"PYTHONPATH": str(workdir), "REL_CALLS": str(calls), "REL_TAG": tag, "REL_TASKS": "0",
           "SUITECRM_EXT_EXTRA_PLUGINS": "relcrash=rel_crash_plugin"}
    gw = lab.gateway("rest")
    saved: list[str] = []

    def notes() -> list[str]:
        return [n for (n,) in db_rows(lab, "SELECT name FROM notes WHERE deleted = 0 AND name LIKE %s",
                                      (f"{tag} bug %",))]

    def save(phase: str) -> None:
        for i in range(records):
            name = f"{tag} bug {i} {phase}"
            gw.save("Bugs", {"name": name, "status": "New"})
            saved.append(name)

    try:
        with proxy, kit.sidecar(config, "--worker-id", "rel-outage", env=env, wait=False) as proc:
            if not _wait(lambda: _cursor_set(state), 60):
                out.errors.append("the change feed never set its cursor:\n" + proc.log[-2000:])
                return out
            save("before")
            if not _wait(lambda: {f"{n} note" for n in saved} <= set(notes()), catch_up):
                out.errors.append("saves before the outage not handled:\n" + proc.log[-2000:])
                return out
            t0 = time.monotonic()
            if side == "http":
                proxy.down(seconds, "refuse")
                save("during")
                time.sleep(seconds)
                proxy.down(seconds, "503").join()
            else:
                timer = proxy.down(seconds)
                save("during")
                timer.join()
            save("after")
            done = _wait(lambda: {f"{n} note" for n in saved} <= set(notes()), catch_up)
            recovered = time.monotonic() - t0
            if not done:
                out.errors.append(f"not all saves handled within {catch_up} s after the outage:\n"
                                  + proc.log[-2000:])
            time.sleep(2)  # anything arriving twice would arrive now
            if proc.popen.poll() is not None:
                out.errors.append(f"the sidecar exited ({proc.popen.returncode}):\n{proc.log[-2000:]}")
            log = proc.log
    finally:
        gw.close()
    store = SQLiteStore(state)
    try:
        dead = len(store.dead_letters())
    finally:
        store.close()
    if dead:
        out.errors.append(f"{dead} dead letter(s)")
    got = notes()
    out.expected = len(saved)
    out.lost = sum(1 for n in saved if f"{n} note" not in got)
    out.duplicated = len(got) - len(set(got)) + sum(1 for n in set(got) if n[:-5] not in saved)
    keys = [k for (k,) in con.execute("SELECT key FROM calls")]
    con.close()
    out.detail.update(recovered=recovered if done else None, deliveries=len(keys),
                      redelivered=len(keys) - len(set(keys)), outages=len(proxy.outages),
                      errors_logged=sum(1 for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln))
    if side == "mysql":
        out.detail.update(resets=proxy.resets, connections=proxy.connections)
    return out
