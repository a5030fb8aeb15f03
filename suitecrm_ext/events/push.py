"""The push receiver: an HTTP endpoint for the generated SuiteCRM logic hook (events/logic_hook.py).

Endpoints (HTTP/1.1, JSON in and out, one request per connection; a fixed pool of
``events.push.max_workers`` threads behind a queue of ``events.push.max_queue`` connections, see
events/http_pool.py):

``POST /events``
    One record change posted by the logic hook (after_save, after_delete,
    after_relationship_add/delete). Body::

        {"module": "Accounts", "id": "<id>", "kind": "updated", "date_modified": "2026-11-23 09:00:00",
         "user_id": "1", "changes": {"name": {"before": "Old", "after": "New"}}, "values": {...},
         "link": null, "related_module": null, "related_id": null}

    ``kind`` is created / updated / deleted / related / unrelated; ``date_modified`` (SuiteCRM's DB
    format, UTC, or ISO 8601) is required except for related/unrelated; ``date_entered`` (optional)
    times a *created* event; ``link`` and ``related_id`` are required for related/unrelated. The
    event's key is the poller's key for the same change (module, id, kind, second of
    ``date_modified`` — of ``date_entered`` for created — and, for updated, the digest of the named
    watched fields' values after the save), so a change seen by both is queued once, and two saves of
    one record within one second that change a watched field are two events.
    Answers 200 ``{"ok": true, "key": ..., "new": bool}`` only after the event is durably queued. A
    message whose ``webhook-id`` was already queued (a resend, or a replay) is not processed again:
    200 ``{"ok": true, "new": false, "duplicate": true}``.

``POST /validate``
    A change about to be saved (before_save)::

        {"module": "Documents", "id": "<id or empty for a new record>", "user_id": "1",
         "before": {<fetched_row>}, "after": {<values being saved>}}

    Asks every enabled plugin that implements ``ext_validate_record_change`` and watches the
    module, in parallel, within ``events.push.validation_budget_ms``. Answers 200
    ``{"allow": bool, "message": str, "fail_mode": null | "open" | "closed"}``: the first refusal
    (by plugin name) wins; when no plugin refused but one failed or ran out of time, the module's
    ``events.validation_fail_mode`` (default open) decides and ``fail_mode`` says so.

``POST /o/<origin>/events``
    The same, from a second CRM a plugin watches under that origin name (e.g. portal_sync's client
    portal, whose ``$sugar_config['suitecrm_ext']['url']`` is ``http://sidecar:8765/o/portal``). The
    event carries the origin; an origin no enabled plugin watches is 404. Same signing and secret.

``POST /aow``
    A SuiteCRM workflow (AOW) action a plugin's package ships (schema ``aow_actions``) runs on a
    record; the body and its key are described in events/aow.py. The enabled plugins implementing
    ``ext_aow_action`` are asked; the answer is theirs (``{"ok": true, ...}``: the action is
    Complete in SuiteCRM), 404 when no enabled plugin handles the action, 503 when the plugin failed.

``GET /health``
    ``{"ok": true, "stats": {"accepted": {...}, "refused": {...}, "refused_total": n}}`` when the
    state store answers (503 otherwise). Unsigned; reveals counts only.

Both POSTs are signed (events/signing.py: Standard Webhooks ``webhook-id`` / ``webhook-timestamp`` /
``webhook-signature``; the legacy ``X-SuiteCRM-Ext-*`` headers of 0.1 hooks are still accepted for
one release). Every answer to a POST carries the Standard Webhooks headers for the request's
``webhook-id``, signed with the receiver's secrets, and the hook trusts a ``/validate`` verdict only
so. Refusals, all JSON ``{"error": ...}``, nothing queued, each counted by reason
(``GET /health``): 401 missing/wrong signature (*forged*), malformed signature headers
(*malformed*) or a timestamp further than ``events.push.max_clock_skew_seconds`` (*stale*); 409 a
``/validate`` id used before, 401 a legacy nonce used before (*replayed*; ids and nonces are kept in
the state store, so a replay to another worker is caught too); 413 body over
``events.push.max_body_bytes``, refused from the headers before
the body is read (*oversized*); 400 malformed JSON or fields (named), 411 no Content-Length
(*malformed*); 503 + ``Retry-After`` when every worker is busy and the queue is full
(*overloaded*), or when the store failed; 404/405 unknown path or method.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from suitecrm_ext.events.aow import NoHandler
from suitecrm_ext.events.http_pool import BoundedHTTPServer, PushStats
from suitecrm_ext.events.model import Event, EventKind, make_key, state_digest
from suitecrm_ext.events.push_body import BadRequest, change_from_push, event_from_push, load_json
from suitecrm_ext.events.signing import (
    ID_HEADER,
    NONCE_HEADER,
    SignatureError,
    Verified,
    header,
    hmac_key,
    new_message_id,
    standard_headers,
    verify,
)
from suitecrm_ext.events.validation import VALIDATE_HOOK, Validator, Verdict

log = logging.getLogger("suitecrm_ext.events.push")

#: kv namespaces: legacy nonces already used; Standard Webhooks ids already handled
NONCE_NS = "push.nonce"
MESSAGE_NS = "push.msgid"
_MIN_SECRET = 16
_ENDPOINTS = ("/events", "/validate", "/aow")
#: ``/o/<origin>/events``: an event from a second CRM (see WatchSpec.origin)
_ORIGIN_PATH = re.compile(r"^/o/([A-Za-z][A-Za-z0-9_.-]{0,63})/events$")

__all__ = [
    "VALIDATE_HOOK", "BadRequest", "PushConfigError", "PushServer", "Validator", "Verdict",
    "change_from_push", "event_from_push", "parse_listen", "push_settings_problems",
]


class PushConfigError(ValueError):
    """The push settings cannot work; the message names the config key."""


class Replayed(Exception):
    """A message id (or legacy nonce) that was used before."""


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` -> (host, port); raises PushConfigError naming events.push.listen."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise PushConfigError(f"events.push.listen: expected host:port, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def push_settings_problems(push: Any) -> list[tuple[str, str]]:
    """What keeps the push receiver of ``events.push`` settings from starting, as (key, message)
    pairs; empty when it is disabled or fine (``config check`` and ``doctor`` report them)."""
    if not push.enabled:
        return []
    out = []
    secret = push.secret.get_secret_value() if push.secret else ""
    if not secret:
        out.append(("secret", "events.push.secret: required for the push receiver (the same value as "
                    "$sugar_config['suitecrm_ext']['secret'] in SuiteCRM's config_override.php)"))
    elif len(secret) < _MIN_SECRET:
        out.append(("secret", f"events.push.secret: at least {_MIN_SECRET} characters, please"))
    for i, old in enumerate(getattr(push, "previous_secrets", None) or []):
        if len(old.get_secret_value()) < _MIN_SECRET:
            out.append(("secret", f"events.push.previous_secrets[{i}]: at least {_MIN_SECRET} characters"))
    named = [("secret", secret)] + [(f"previous_secrets[{i}]", s.get_secret_value())
                                    for i, s in enumerate(getattr(push, "previous_secrets", None) or [])]
    for key, value in named:
        if value.startswith("whsec_"):
            try:
                hmac_key(value)
            except ValueError as exc:
                out.append(("secret", f"events.push.{key}: {exc}"))
    try:
        parse_listen(push.listen)
    except PushConfigError as exc:
        out.append(("listen", str(exc)))
    return out


class PushServer:
    """The push receiver and validation endpoint, served from background threads.

    ``app``: the AppContext (config, state store, plugin contexts); ``registry``: the plugins;
    ``store``: the state store (default ``app.state``); ``listen``: ``host:port`` overriding
    ``events.push.listen`` (port 0 picks a free port; see :attr:`url`); ``clock``: UNIX time, for
    the skew check; ``on_queued``: called with each *new* event once it is stored (e.g. to wake a
    dispatcher waiting for work; its exceptions are logged, never returned to SuiteCRM).
    :attr:`stats` counts accepted and refused requests. Raises PushConfigError when the secret is
    missing or too short.
    """

    def __init__(
        self,
        app: Any,
        registry: Any,
        *,
        store: Any = None,
        listen: str | None = None,
        clock: Callable[[], float] = time.time,
        on_queued: Callable[[Event], None] | None = None,
    ):
        events = app.config.settings.events
        self.settings = events.push
        problems = [m for key, m in push_settings_problems(self.settings.model_copy(update={"enabled": True}))
                    if key == "secret"]
        if problems:
            raise PushConfigError(problems[0])
        self._secrets = [self.settings.secret.get_secret_value(),
                         *(s.get_secret_value() for s in self.settings.previous_secrets)]
        self.app = app
        self.registry = registry
        self.store = store if store is not None else app.state
        self.clock = clock
        self.on_queued = on_queued
        self.stats = PushStats()
        self.host, self.port = parse_listen(listen or self.settings.listen)
        self.validator = Validator(
            app, registry, budget_ms=self.settings.validation_budget_ms,
            fail_modes=events.validation_fail_mode,
        )
        from suitecrm_ext.events.dispatcher import collect_watch_specs

        by_plugin = collect_watch_specs(registry, getattr(app.config, "plugin_settings", {}))
        specs = [s for ss in by_plugin.values() for s in ss]
        #: second CRMs the plugins watch (accepted at /o/<origin>/events)
        self.origins = frozenset(s.origin for s in specs if s.origin)
        #: (origin, module) -> the named watched fields whose values key an update, as the poller
        #: keys it (events/model.py make_key; none named: the second alone, as before)
        self._watched: dict[tuple[str, str], tuple[str, ...]] = {}
        for spec in specs:
            where = (spec.origin, spec.module)
            self._watched[where] = tuple(dict.fromkeys((*self._watched.get(where, ()), *spec.fields)))
        self._httpd: BoundedHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._legacy_warned = False

    @property
    def url(self) -> str:
        """Base URL of the running server (``http://127.0.0.1:8765``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> PushServer:
        """Bind and serve in daemon threads. Raises OSError when the address is taken."""
        self._httpd = BoundedHTTPServer(
            (self.host, self.port), _make_handler(self), workers=self.settings.max_workers,
            queue_size=self.settings.max_queue, on_overload=lambda: self.stats.refused("overloaded"))
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="push-server", daemon=True)
        self._thread.start()
        log.debug("push receiver: %d workers, queue of %d connections", self.settings.max_workers,
                  self.settings.max_queue)
        log.info("push receiver listening on %s", self.url)  # tests and scripts read the URL off this line
        return self

    def stop(self) -> None:
        """Stop serving (requests in hand finish) and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.validator.close()

    def __enter__(self) -> PushServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request handling (called from worker threads) --------------------------------------

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> Verified:
        """Signature and skew checks (raises SignatureError); a legacy nonce used before raises
        :class:`Replayed` (the Standard Webhooks id is checked by each endpoint)."""
        checked = verify(self._secrets, headers, body, max_skew_seconds=self.settings.max_clock_skew_seconds,
                         now=self.clock())
        if checked.scheme == "legacy":
            if not self._legacy_warned:
                self._legacy_warned = True
                log.warning("push: a request signed with the legacy X-SuiteCRM-Ext-* headers; reinstall the "
                            "plugins' packages (their hooks sign with Standard Webhooks headers): the legacy "
                            "scheme goes away in the next release")
            if not self.store.kv_add(NONCE_NS, checked.message_id, int(self.clock()), ttl_seconds=self._ttl):
                raise Replayed(f"{NONCE_HEADER}: this nonce was already used (replayed request)")
        return checked

    @property
    def _ttl(self) -> int:
        return 2 * self.settings.max_clock_skew_seconds + 60

    def receive_event(self, body: bytes, message_id: str | None = None, origin: str = "") -> dict[str, Any]:
        """Parse and queue one pushed event (of a second CRM when ``origin``); returns the answer body.
        ``message_id`` (the request's webhook-id) is noted once the event is stored; a message noted
        before is not queued again."""
        if message_id is not None and self.store.kv_get(MESSAGE_NS, message_id) is not None:
            return {"ok": True, "new": False, "duplicate": True}
        received = dt.datetime.fromtimestamp(int(self.clock()), dt.timezone.utc)
        event = event_from_push(load_json(body), received_at=received, origin=origin)
        fields = self._watched.get((origin, event.module))
        if event.kind is EventKind.UPDATED and fields:
            event = dataclasses.replace(event, key=make_key(event, state_digest(event.values, fields)))
        new = self.store.enqueue([event])
        if message_id is not None:
            self.store.kv_add(MESSAGE_NS, message_id, event.key, ttl_seconds=self._ttl)
        log.debug("push: queued %s (%s)", event.key, "new" if new else "duplicate")
        if new and self.on_queued is not None:
            try:
                self.on_queued(event)
            except Exception as exc:  # noqa: BLE001 - the event is stored; the answer stays 200
                log.error("push: on_queued callback failed: %s: %s", type(exc).__name__, exc)
        return {"ok": True, "key": event.key, "new": bool(new)}

    def validate(self, body: bytes, message_id: str | None = None) -> dict[str, Any]:
        """Parse a /validate body and answer the verdict; a ``message_id`` used before raises Replayed."""
        change = change_from_push(load_json(body))
        if message_id is not None and not self.store.kv_add(MESSAGE_NS, message_id, "validate",
                                                            ttl_seconds=self._ttl):
            raise Replayed(f"{ID_HEADER}: this message id was already used (replayed request)")
        return self.validator.validate(change).as_dict()

    def aow_action(self, body: bytes, message_id: str | None = None) -> dict[str, Any]:
        """Parse a /aow body and hand it to the plugin that runs the action (events/aow.py); a
        ``message_id`` used before raises Replayed, no plugin for it raises NoHandler."""
        from suitecrm_ext.events.aow import aow_call_from_push, run_aow_action

        call = aow_call_from_push(load_json(body))
        if message_id is not None and not self.store.kv_add(MESSAGE_NS, message_id, "aow",
                                                            ttl_seconds=self._ttl):
            raise Replayed(f"{ID_HEADER}: this message id was already used (replayed request)")
        return run_aow_action(self.app, self.registry, call)

    def answer_headers(self, body: bytes, message_id: str | None) -> dict[str, str]:
        """Standard Webhooks headers signing an answer for the request's id (a new id when it had none)."""
        return standard_headers(self._secrets, body, message_id=message_id or new_message_id(),
                                timestamp=int(self.clock()))


def _make_handler(server: PushServer) -> type[BaseHTTPRequestHandler]:
    max_body = server.settings.max_body_bytes
    stats = server.stats

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "suitecrm-ext"
        sys_version = ""
        timeout = 10  # a client that stalls mid-request frees its worker after this

        def setup(self) -> None:
            super().setup()
            # headers and body are separate writes: without this, Nagle + delayed ACK add ~40 ms
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.message_id: str | None = None

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            log.debug("push %s %s", self.address_string(), format % args)

        def _send(self, status: int, doc: Mapping[str, Any], *,
                  refused: str | None = None, extra: Mapping[str, str] | None = None) -> None:
            if refused:
                stats.refused(refused)
            data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if self.command == "POST":
                for name, value in server.answer_headers(data, self.message_id).items():
                    self.send_header(name, value)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            # one request per connection (as the PHP hook sends them): an idle kept-alive
            # connection would hold one of the few workers while new connections wait
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def _length(self) -> int | None:
            """The declared body length, or None after answering an error (body not read)."""
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._send(411, {"error": "send a Content-Length (chunked bodies are not accepted)"},
                           refused="malformed")
                return None
            raw = self.headers.get("Content-Length")
            if raw is None:
                self._send(411, {"error": "Content-Length header required"}, refused="malformed")
                return None
            if not raw.strip().isdigit():
                self._send(400, {"error": "Content-Length: not a number"}, refused="malformed")
                return None
            length = int(raw)
            if length > max_body:
                self._send(413, {"error": f"body of {length} bytes is over the limit of {max_body} "
                                          "(events.push.max_body_bytes)"}, refused="oversized")
                return None
            return length

        def handle_expect_100(self) -> bool:
            # refuse an oversized body before the client sends it
            if self.command == "POST" and (self.path in _ENDPOINTS or _ORIGIN_PATH.match(self.path)):
                raw = (self.headers.get("Content-Length") or "").strip()
                if raw.isdigit() and int(raw) > max_body:
                    self._length()
                    return False
            return super().handle_expect_100()

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            if self.path != "/health":
                self._send(404 if self.path not in _ENDPOINTS else 405, {"error": f"no GET {self.path[:60]}"})
                return
            try:
                server.store.ping()
            except Exception as exc:  # noqa: BLE001
                log.error("push /health: state store failed: %s", exc)
                self._send(503, {"ok": False, "error": "state store unavailable"})
                return
            self._send(200, {"ok": True, "stats": stats.snapshot()})

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            given_id = (header(self.headers, ID_HEADER) or "").strip()
            if given_id and len(given_id) <= 256 and given_id.isascii() and given_id.isprintable():
                self.message_id = given_id  # answers are signed for it (verified or not)
            origin = ""
            m = _ORIGIN_PATH.match(self.path)
            if m:
                origin = m.group(1)
                if origin not in server.origins:
                    known = ", ".join(sorted(server.origins)) or "none"
                    self._send(404, {"error": f"no origin {origin!r} is watched by an enabled plugin "
                                              f"(watched: {known})"})
                    return
            elif self.path not in _ENDPOINTS:
                self._send(404 if self.path != "/health" else 405, {"error": f"no POST {self.path[:60]}"})
                return
            length = self._length()
            if length is None:
                return
            body = self.rfile.read(length)
            if len(body) != length:
                self._send(400, {"error": "body shorter than Content-Length"},
                           refused="malformed")
                return
            try:
                checked = server.authenticate(self.headers, body)
            except SignatureError as exc:
                log.warning("push %s from %s refused: %s", self.path, self.client_address[0], exc)
                self._send(401, {"error": str(exc)}, refused=exc.reason)
                return
            except Replayed as exc:
                log.warning("push %s from %s refused: %s", self.path, self.client_address[0], exc)
                self._send(401, {"error": str(exc)}, refused="replayed")
                return
            except Exception as exc:  # noqa: BLE001 - the store failed while checking the nonce
                log.error("push %s: nonce check failed: %s", self.path, exc)
                self._send(503, {"error": "state store unavailable"}, extra={"Retry-After": "1"})
                return
            mid = checked.message_id if checked.scheme == "standard" else None
            try:
                if origin or self.path == "/events":
                    answer = server.receive_event(body, mid, origin)
                    if answer.get("duplicate"):
                        stats.refused("replayed")  # acknowledged (a resend must stop), not processed
                        self._send(200, answer)
                        return
                elif self.path == "/aow":
                    answer = server.aow_action(body, mid)
                else:
                    answer = server.validate(body, mid)
            except NoHandler as exc:
                self._send(404, {"ok": False, "error": str(exc)})
                return
            except BadRequest as exc:
                self._send(400, {"error": str(exc)}, refused="malformed")
                return
            except Replayed as exc:
                log.warning("push %s from %s refused: %s", self.path, self.client_address[0], exc)
                self._send(409, {"error": str(exc)}, refused="replayed")
                return
            except Exception as exc:  # noqa: BLE001 - never a 2xx unless stored
                log.error("push %s failed: %s: %s", self.path, type(exc).__name__, exc)
                self._send(503, {"error": "could not store the event; try again"}, extra={"Retry-After": "1"})
                return
            endpoint = "events" if origin else self.path.lstrip("/")
            stats.accepted(endpoint + ("" if checked.scheme == "standard" else ".legacy"))
            self._send(200, answer)

    return Handler
