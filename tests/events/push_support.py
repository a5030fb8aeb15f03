"""Helpers shared by the push-receiver tests: a configured app + a real PushServer on loopback."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests

from suitecrm_ext import WatchSpec, hookimpl
from suitecrm_ext.events.push import PushServer
from suitecrm_ext.events.signing import signed_headers, standard_headers
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import build_app, build_config, build_registry

SECRET = "test-secret-0123456789-abcdef"


class Gatekeeper:
    """A test plugin: refuses Documents moving to status "Archived" without acknowledgement."""

    def __init__(self, modules=("Documents",), behaviour: str = "rules", delay: float = 0.0):
        self.modules = modules
        self.behaviour = behaviour
        self.delay = delay
        self.asked: list[Any] = []

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec(m) for m in self.modules]

    @hookimpl
    def ext_validate_record_change(self, change, ctx):
        self.asked.append(change)
        if self.delay:
            time.sleep(self.delay)
        if self.behaviour == "raise":
            raise RuntimeError("validator bug")
        if self.behaviour == "garbage":
            return 42
        if change.after.get("status_id") == "Archived" and change.before.get("ack") != "1":
            return "Cannot archive: acknowledgement by J. Smith is not completed"
        return None


@dataclass
class Harness:
    """A running push server over a real SQLite store."""

    server: PushServer
    store: Any
    app: Any

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, path: str, doc: Any = None, *, body: bytes | None = None, secret: Any = SECRET,
             headers: dict | None = None, legacy: bool = False, **sign_kw) -> requests.Response:
        """POST signed with Standard Webhooks headers (``message_id``/``timestamp`` in ``sign_kw``),
        or with the legacy headers (``legacy=True``; ``nonce``/``timestamp``)."""
        data = body if body is not None else json.dumps(doc).encode()
        sign = signed_headers if legacy else standard_headers
        signed = sign(secret, data, **sign_kw)
        hdrs = {"Content-Type": "application/json", **signed}
        hdrs.update(headers or {})
        return requests.post(self.url + path, data=data, headers=hdrs, timeout=10)

    def queued(self) -> list:
        return [q.event for q in reversed(self.store.recent_events(limit=1000))]


def make_harness(tmp_path, plugins: dict | None = None, *, fail_modes: dict | None = None,
                 budget_ms: int = 2000, max_body: int = 4096, store: Any = None, clock=None,
                 **push: Any) -> Harness:
    """Build config, registry, app and a started PushServer (port picked by the OS); ``push``: more
    ``events.push`` settings (previous_secrets, max_workers, max_queue...)."""
    config = build_config(events={
        "push": {"enabled": True, "listen": "127.0.0.1:0", "secret": SECRET, "max_body_bytes": max_body,
                 "validation_budget_ms": budget_ms, "max_clock_skew_seconds": 300, **push},
        "validation_fail_mode": fail_modes or {},
    })
    registry = build_registry(plugins or {}, config=config)
    real = SQLiteStore(tmp_path / "state.sqlite3")
    app = build_app(registry, config=config, state=real)
    kw = {"clock": clock} if clock else {}
    server = PushServer(app, registry, store=store or real, **kw).start()
    return Harness(server=server, store=real, app=app)
