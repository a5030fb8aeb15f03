"""Test kit for portal_sync: two FakeCRMs (the internal CRM and the portal), the portal's web entry points
on loopback (portal_web.py), a real SMTP server, a real SQLite state store, and the plugin run the way
``suitecrm-ext run`` runs it: the core change feed over the internal CRM, the ``portal-sync`` job
polling the portal, the dispatcher delivering both origins' events to the plugin.

:meth:`Sidecar.cycle` is one round of all three on a clock that moves one second per round (FakeCRM
stamps ``date_modified`` to the second, as SuiteCRM does); :meth:`Sidecar.settle` runs rounds until
nothing is queued any more.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from portal_web import PortalWeb

import plugins.portal_sync.plugin as plugin_module
from plugins.portal_sync.adapter import ORIGIN
from plugins.portal_sync.engine import watch_specs
from plugins.portal_sync.service import forget, sync_for
from plugins.portal_sync.suitecrm_portal import SuiteCRMPortal
from suitecrm_ext import ChangeFeed, FieldInfo
from suitecrm_ext.events.dispatcher import Dispatcher
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import (
    FakeCRM,
    SmtpServer,
    build_app,
    build_config,
    build_registry,
    load_plugin_schema,
    register_schema,
)

PLUGIN = "portal_sync"
T0 = dt.datetime(2026, 11, 23, 9, 0, 0, tzinfo=dt.timezone.utc)

#: AOP_Case_Updates as SuiteCRM 7.14.6's get_module_fields describes it (checked live)
CASE_UPDATE_FIELDS = [
    FieldInfo("name", "name", "Name", length=255),
    FieldInfo("description", "text", "Description"),
    FieldInfo("case_id", "id", "Case"),
    FieldInfo("contact_id", "id", "Contact"),
    FieldInfo("internal", "bool", "Internal Update"),
]


class Clock:
    """The FakeCRMs' clock, moved by hand."""

    def __init__(self, start: dt.datetime = T0):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += dt.timedelta(seconds=seconds)


def make_crm(clock: Clock, *, internal: bool) -> FakeCRM:
    crm = FakeCRM(clock=clock)
    crm.add_module("AOP_Case_Updates", CASE_UPDATE_FIELDS, table="aop_case_updates")
    crm.add_module(
        "ACLActions",
        [
            FieldInfo("category", "varchar", "Category", length=100),
            FieldInfo("acltype", "varchar", "Type", length=100),
            FieldInfo("aclaccess", "int", "Access"),
        ],
        table="acl_actions",
    )
    if internal:
        register_schema(crm, load_plugin_schema(PLUGIN))
    else:
        for module in ("Accounts", "Contacts", "Cases", "AOP_Case_Updates", "Notes", "Documents"):
            for name in ("access", "view", "list", "edit", "delete", "import", "export", "massupdate"):
                crm.save("ACLActions", {"name": name, "category": module, "acltype": "module"})
    return crm


@dataclass
class Sidecar:
    """The plugin between two FakeCRMs (see the module docstring)."""

    tmp: Path
    #: the test's SMTP server (``smtp_server`` fixture), shared by the sidecars of a test
    sink: SmtpServer
    smtp_port: int
    settings: dict[str, Any] = field(default_factory=dict)
    #: more plugins in the same sidecar (name -> plugin object), e.g. one that listens like routing does
    others: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.mail_start = len(self.sink.messages)  # the SMTP server is shared by the sidecars of a test
        self.clock = Clock()
        self.skip = 0.0  # seconds the sidecar's wall clock (store, dispatcher) is ahead of time.time()
        self.internal = make_crm(self.clock, internal=True)
        self.portal = make_crm(self.clock, internal=False)
        self.web = PortalWeb(self.portal, self.smtp_port)
        self.store = SQLiteStore(self.tmp / "state.sqlite3", clock=self.wall)
        section = {
            "portal": {
                "url": self.web.url,
                "write_via": "rest",
                "rest": {"username": "admin", "password": "admin-pw"},
            },
            **self.settings,
        }
        self.config = build_config(
            plugins={PLUGIN: section}, smtp={"host": "127.0.0.1", "port": self.smtp_port}
        )
        self.registry = build_registry({PLUGIN: plugin_module, **self.others}, config=self.config)
        self.app = build_app(self.registry, self.config, crm=self.internal, state=self.store)
        self.plugin_settings = self.config.plugin_settings[PLUGIN]
        self.adapter = SuiteCRMPortal(
            self.plugin_settings, self.store, crm=self.portal, feed_crm=self.portal, clock=self.clock
        )
        self.app.portal_adapter = self.adapter
        self.ctx = self.app.for_plugin(PLUGIN)
        self.feed = self._feed()
        self.dispatcher = Dispatcher(
            self.app, self.registry, worker_id="test-worker", store=self.store, clock=self.wall
        )
        self.stopped_internal = False

    def wall(self) -> float:
        """The sidecar's UNIX time (moved ahead to make retries due)."""
        import time

        return time.time() + self.skip

    def _feed(self) -> ChangeFeed:
        specs = [s for s in watch_specs(self.plugin_settings) if not s.origin]
        for name in self.others:
            specs += [
                s for s in self.registry.call_one(name, "ext_watch", settings=None) or [] if not s.origin
            ]
        return ChangeFeed(
            self.internal, self.store, specs, start="beginning", clock=self.clock, overlap_seconds=5
        )

    @property
    def sync(self):
        """The plugin's PortalSync (as its hooks get it)."""
        return sync_for(self.ctx)

    def restart(self) -> None:
        """A new sidecar process over the same state store and CRMs (after a crash)."""
        forget(self.app)
        self.store.close()
        self.store = SQLiteStore(self.tmp / "state.sqlite3", clock=self.wall)
        self.store.release_owner("test-worker")  # as `run` does at start: the dead process's leases
        self.app = build_app(self.registry, self.config, crm=self.internal, state=self.store)
        self.adapter = SuiteCRMPortal(
            self.plugin_settings, self.store, crm=self.portal, feed_crm=self.portal, clock=self.clock
        )
        self.app.portal_adapter = self.adapter
        self.ctx = self.app.for_plugin(PLUGIN)
        self.feed = self._feed()
        self.dispatcher = Dispatcher(
            self.app, self.registry, worker_id="test-worker", store=self.store, clock=self.wall
        )

    # --- running -----------------------------------------------------------------------------

    def cycle(self) -> int:
        """One round: internal feed, deliver, the portal-sync job, deliver. Returns events queued (and
        registrations seen, and retries made due)."""
        self.clock.advance(1)
        retries = 0
        if self.store.queue_stats().pending:
            self.skip += 4000  # past any backoff: retries are due now
            retries = self.store.queue_stats().pending
        queued = self.feed.poll_once()
        self.dispatcher.drain()
        polled = self.sync.poll()
        self.dispatcher.drain()
        return queued + polled["queued"] + polled["registered"] + retries

    def settle(self, rounds: int = 12) -> None:
        """Rounds until a round queues nothing (and nothing waits for a retry)."""
        for _ in range(rounds):
            if self.cycle() == 0:
                return
        raise AssertionError("the sync did not settle: events keep coming (an echo loop?)")

    def due_and_dead(self) -> tuple[int, int]:
        s = self.store.queue_stats()
        return s.pending, s.dead

    # --- the people ----------------------------------------------------------------------------

    def client_account(self, name: str = "ООО Ромашка", **values: Any) -> str:
        """An internal client Account with a manager."""
        return self.internal.save(
            "Accounts",
            {
                "name": name,
                "phone_office": "+7 495 000-00-01",
                "billing_address_city": "Москва",
                "annual_revenue": "10 млн",
                "assigned_user_id": "1",
                **values,
            },
        )

    def client_contact(
        self,
        account_id: str,
        first: str = "Ivan",
        last: str = "Petrov",
        email: str = "ivan.petrov@romashka.example",
        **values: Any,
    ) -> str:
        """An internal Contact of the Account."""
        cid = self.internal.save(
            "Contacts",
            {
                "first_name": first,
                "last_name": last,
                "email1": email,
                "phone_work": "+7 495 000-00-02",
                "description": "likes golf",
                **values,
            },
        )
        self.internal.relate("Contacts", cid, "accounts", [account_id])
        return cid

    def mails_to(self, address: str) -> list[Any]:
        mine = self.sink.messages[self.mail_start :]
        return [m for m in mine if address.lower() in str(m["To"]).lower()]

    def register(self, email: str, password: str = "Client-pw-2026!") -> requests.Response:
        """The client opens the link of the newest mail to ``email`` and chooses a password."""
        mail = self.mails_to(email)[-1]
        link = re.search(r"(http\S+Changenewpassword\S+)", mail.get_content()).group(1)
        q = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
        login = self.portal_user(email)
        return requests.post(
            f"{self.web.url}/index.php?entryPoint=Changenewpassword",
            allow_redirects=False,
            data={
                "guid": q["guid"],
                "key": q["key"],
                "login": "1",
                "user_name": login.get("user_name"),
                "new_password": password,
            },
            timeout=10,
        )

    def portal_user(self, email: str):
        from suitecrm_ext import Cond

        return next(
            iter(
                self.portal.find(
                    "Users",
                    Cond("user_name", "eq", email.lower()),
                    ["user_name", "status", "pwd_last_changed"],
                )
            )
        )

    def as_client(self, user_id: str):
        """Make the portal FakeCRM act as this portal user (its writes are stamped with the user)."""
        portal = self.portal

        class _As:
            def __enter__(self):
                self.before = portal.user_id
                portal.user_id = user_id
                return portal

            def __exit__(self, *exc):
                portal.user_id = self.before

        return _As()

    def close(self) -> None:
        forget(self.app)
        self.web.stop()
        self.store.close()


__all__ = ["ORIGIN", "Sidecar"]
