"""portal_sync in `suitecrm-ext run` between the two real instances: killed with SIGKILL mid-sync and
restarted, then the portal SuiteCRM unreachable for a while — nothing is lost, nothing is made twice.

The internal SuiteCRM pushes (the plugin's package, built with the live kit's push URL); the portal is
polled by the ``portal-sync`` job every second, through a TCP proxy the test can cut (an outage as the
sidecar sees it: connection refused), without touching the shared instance itself.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from plugins.portal_sync.journal import IDS_NS
from suitecrm_ext import Cond, IdMap, NotFound
from suitecrm_ext.state.sqlite import SQLiteStore


class Proxy:
    """TCP forwarding 127.0.0.1:<port> -> the portal; ``cut()`` refuses and drops connections."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self.up()

    def up(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def cut(self) -> None:
        srv, self._server = self._server, None
        if srv is not None:
            try:
                srv.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept(): the port is free
            except OSError:
                pass
            srv.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
        self._conns.clear()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def wait(what, timeout: float, label: str, proc=None):
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() > deadline:
            tail = proc.log[-8000:] if proc is not None else ""
            raise AssertionError(f"{label}: not reached in {timeout} s\n{tail}")
        time.sleep(0.3)


@pytest.fixture
def proxy(live_portal):
    p = Proxy(int(live_portal.url.rsplit(":", 1)[1]))
    yield p
    p.cut()


def test_killed_mid_sync_and_portal_outage_lose_nothing(
    live_kit, live_lab, live_portal, run_tag, proxy, tmp_path
):
    live_kit.install("portal_sync")
    internal = live_lab.gateway("rest")
    portal = live_portal.gateway("rest")
    portal_section = live_portal.suitecrm_section("rest")
    portal_section["url"] = f"http://127.0.0.1:{proxy.port}"
    portal_section["retries"] = 1
    plugin = {
        "portal": portal_section,
        "poll_schedule": "1s",
        "access": {"group_prefix": f"{run_tag} "},
        "organisation": {"publish": "all"},
    }
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    from importlib.metadata import entry_points

    others = {
        ep.name: {"enabled": False}
        for ep in entry_points(group="suitecrm_ext.plugins")
        if ep.name != "portal_sync"
    }
    config = live_kit.config(
        plugins={**others, "portal_sync": plugin},
        state_dir=state_dir,
        write_via="rest",
        read_via="mysql",
        events={"poll_interval_seconds": 1.0, "retry_base_seconds": 0.5},
    )
    store_path = Path(config["state"]["path"])
    # only this test's Accounts are published: the feed starts now, and we make them after the start
    acc, contacts = None, []
    try:
        with live_kit.sidecar(config, "--worker-id", "portal-live") as proc:
            store = SQLiteStore(store_path)
            # the change feed starts "now" at its first poll (history is not replayed): let it start
            wait(lambda: store.get_cursor("poller:Accounts"), 90, "the change feed's first poll", proc)
            acc = internal.save("Accounts", {"name": f"{run_tag} АО Daemon", "phone_office": "+7 1"})
            ids = IdMap(store, IDS_NS)
            portal_acc = wait(lambda: ids.right("Accounts", acc), 30, "the Account published", proc)
            for i in range(8):  # a burst of work; the sidecar is killed while it is on it
                cid = internal.save("Contacts", {"first_name": f"P{i}", "last_name": f"{run_tag} Daemon"})
                internal.relate("Contacts", cid, "accounts", [acc])
                contacts.append(cid)
            internal.save("Accounts", {"id": acc, "phone_office": "+7 2"})
            wait(lambda: any(ids.right("Contacts", c) for c in contacts), 30, "the first contact out", proc)
            proc.kill()
            at_kill = ids.entries("Contacts", contacts)
            done_at_kill = sum(p.data.get("state") == "ok" for p in at_kill.values())
            assert done_at_kill < 8, "the sidecar had finished before it was killed: nothing was mid-sync"
        live_kit.wait_free()
        with live_kit.sidecar(config, "--worker-id", "portal-live") as proc:

            def all_out():
                pairs = ids.entries("Contacts", contacts)
                return len(pairs) == 8 and all(p.data.get("state") == "ok" for p in pairs.values())

            wait(all_out, 180, "every contact after the restart", proc)
            wait(
                lambda: portal.get("Accounts", portal_acc, ["phone_office"])["phone_office"] == "+7 2",
                30,
                "the phone after the restart",
                proc,
            )
            made = list(portal.find("Contacts", Cond("last_name", "eq", f"{run_tag} Daemon"), ["first_name"]))
            assert sorted(r["first_name"] for r in made) == [f"P{i}" for i in range(8)]  # each once

            proxy.cut()  # the portal SuiteCRM is unreachable now
            internal.save("Accounts", {"id": acc, "website": "https://outage.example"})
            portal.save("Accounts", {"id": portal_acc, "phone_fax": "+7 3"})  # the portal's staff, meanwhile
            time.sleep(4)
            assert portal.get("Accounts", portal_acc, ["website"])["website"] != "https://outage.example"
            proxy.up()
            wait(
                lambda: (
                    portal.get("Accounts", portal_acc, ["website"])["website"] == "https://outage.example"
                ),
                60,
                "the internal change after the outage",
                proc,
            )
            wait(
                lambda: internal.get("Accounts", acc, ["phone_fax"])["phone_fax"] == "+7 3",
                60,
                "the portal change after the outage",
                proc,
            )
        assert store.dead_letters() == []
    finally:
        # the portal's copies this sidecar made, and the internal records this test made
        store = SQLiteStore(store_path)
        ids = IdMap(store, IDS_NS)
        mine = {acc, *contacts}
        for kind in ("Contacts", "Accounts"):
            for pair in list(ids.pairs(kind)):
                targets = [(portal, pair.right)] + ([(internal, pair.left)] if pair.left in mine else [])
                for crm, rid in targets:
                    try:
                        crm.delete(kind, rid)
                    except NotFound:
                        pass
        store.close()
        internal.close()
        portal.close()
