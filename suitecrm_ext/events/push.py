"""The push receiver: an HTTP endpoint for the generated SuiteCRM logic hook (events/logic_hook.py).

Endpoints (stdlib ``ThreadingHTTPServer``, HTTP/1.1, JSON in and out):

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
    ``date_modified`` — of ``date_entered`` for created), so a change seen by both is queued once.
    Answers 200 ``{"ok": true, "key": ..., "new": bool}`` only after the event is durably queued.

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

``GET /health``
    ``{"ok": true}`` when the state store answers (503 otherwise). Unsigned; reveals nothing.

Both POSTs are signed (events/signing.py). Errors, all JSON ``{"error": ...}`` and nothing queued:
401 missing/wrong signature, stale timestamp (> ``events.push.max_clock_skew_seconds``) or replayed
nonce (nonces are kept in the state store, so a replay to another worker is caught too); 411 no
Content-Length; 413 body over ``events.push.max_body_bytes`` (refused from the headers, before the
body is read; with ``Expect: 100-continue`` the client never sends it); 400 malformed JSON or a
missing/bad field (named); 404/405 unknown path or method; 503 the store failed.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from suitecrm_ext.crm.base import normalize_values, parse_datetime
from suitecrm_ext.events.model import Event, EventKind, FieldChange, RecordChange, WatchSpec
from suitecrm_ext.events.signing import NONCE_HEADER, SignatureError, verify

log = logging.getLogger("suitecrm_ext.events.push")

#: kv namespace of the nonces already used
NONCE_NS = "push.nonce"
VALIDATE_HOOK = "ext_validate_record_change"
_MODULE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
#: ``/o/<origin>/events``: an event from a second CRM (see WatchSpec.origin)
_ORIGIN_PATH = re.compile(r"^/o/([A-Za-z][A-Za-z0-9_.-]{0,63})/events$")
_MIN_SECRET = 16


class PushConfigError(ValueError):
    """The push settings cannot work; the message names the config key."""


class BadRequest(ValueError):
    """A request body is not what the endpoint takes; the message names the field."""


# --- body parsing --------------------------------------------------------------------------


def _req_str(doc: Mapping[str, Any], name: str, limit: int = 100) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name}: required, a non-empty string")
    if len(value) > limit:
        raise BadRequest(f"{name}: longer than {limit} characters")
    return value.strip()


def _opt_str(doc: Mapping[str, Any], name: str, limit: int = 100) -> str | None:
    value = doc.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadRequest(f"{name}: longer than {limit} characters")
    return value


def _obj(doc: Mapping[str, Any], name: str, required: bool = False) -> dict[str, Any]:
    value = doc.get(name)
    if value == []:  # PHP's json_encode writes an empty associative array as []
        value = {}
    if value is None:
        if required:
            raise BadRequest(f"{name}: required, an object of field values")
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{name}: expected an object, got {type(value).__name__}")
    return value


def _module(doc: Mapping[str, Any]) -> str:
    module = _req_str(doc, "module")
    if not _MODULE_RE.match(module):
        raise BadRequest(f"module: not a module name: {module[:40]!r}")
    return module


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("body: not UTF-8") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise BadRequest(f"body: not valid JSON ({exc.msg} at {where})") from None
    except (ValueError, RecursionError):
        raise BadRequest("body: not valid JSON (too deeply nested)") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"body: expected a JSON object, got {type(doc).__name__}")
    return doc


def event_from_push(doc: Mapping[str, Any], *, received_at: dt.datetime, origin: str = "") -> Event:
    """The Event for a pushed body (see the module docstring). Raises BadRequest naming the field.
    ``origin``: the second CRM it came from (``/o/<origin>/events``), "" for the main one.

    ``values`` are kept as sent (strings), except the well-known ``date_entered``/``date_modified``
    (aware UTC datetimes) and ``deleted`` (bool), as the poller reports them.
    """
    module = _module(doc)
    record_id = _req_str(doc, "id")
    raw_kind = doc.get("kind")
    try:
        kind = EventKind(raw_kind)
    except ValueError:
        allowed = ", ".join(k.value for k in EventKind)
        raise BadRequest(f"kind: must be one of {allowed}, got {str(raw_kind)[:40]!r}") from None
    relation = kind in (EventKind.RELATED, EventKind.UNRELATED)
    raw_time = doc.get("date_modified")
    if raw_time in (None, ""):
        if not relation:
            raise BadRequest("date_modified: required for created/updated/deleted")
        when = received_at
    else:
        try:
            when = parse_datetime(raw_time) if isinstance(raw_time, str) else None
        except (ValueError, OverflowError):  # OverflowError: year 1 moved to UTC
            when = None
        if when is None:
            raise BadRequest(f"date_modified: not a SuiteCRM datetime: {str(raw_time)[:40]!r}")
    if kind is EventKind.CREATED and isinstance(doc.get("date_entered"), str) and doc["date_entered"]:
        # the poller times (and keys) a creation by date_entered; do the same so both de-duplicate
        try:
            when = parse_datetime(doc["date_entered"]) or when
        except (ValueError, OverflowError):
            raise BadRequest(f"date_entered: not a SuiteCRM datetime: {doc['date_entered'][:40]!r}") from None
    changes = {}
    for name, ch in _obj(doc, "changes").items():
        if not isinstance(ch, dict):
            raise BadRequest(f"changes.{name}: expected an object with before/after")
        changes[name] = FieldChange(before=ch.get("before"), after=ch.get("after"))
    link = _opt_str(doc, "link")
    related_id = _opt_str(doc, "related_id")
    raw_values = _obj(doc, "values")
    try:
        values = normalize_values(raw_values, {})
    except (ValueError, OverflowError) as exc:  # e.g. values.date_modified that is not a datetime
        raise BadRequest(f"values: {str(exc)[:200]}") from None
    if relation:
        if not link:
            raise BadRequest(f"link: required for {kind.value}")
        if not related_id:
            raise BadRequest(f"related_id: required for {kind.value}")
    return Event(
        module=module,
        record_id=record_id,
        kind=kind,
        time=when.replace(microsecond=0),
        source="push",
        changes=changes,
        values=values,
        user_id=_opt_str(doc, "user_id"),
        link=link,
        related_module=_opt_str(doc, "related_module"),
        related_id=related_id,
        origin=origin,
    )


def change_from_push(doc: Mapping[str, Any]) -> RecordChange:
    """The RecordChange for a /validate body. Raises BadRequest naming the field."""
    return RecordChange(
        module=_module(doc),
        record_id=_opt_str(doc, "id"),
        before=_obj(doc, "before"),
        after=_obj(doc, "after", required=True),
        user_id=_opt_str(doc, "user_id"),
    )


# --- validation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The answer of /validate. ``fail_mode`` is set when the module's fail mode decided."""

    allow: bool
    message: str = ""
    fail_mode: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON body."""
        return {"allow": self.allow, "message": self.message, "fail_mode": self.fail_mode}


class Validator:
    """Runs the plugins' ``ext_validate_record_change`` for a change, within a time budget.

    ``validators``: plugin name -> modules it validates (from its ``ext_watch``). A plugin that
    hangs keeps its worker thread busy (Python threads cannot be killed); the pool has
    ``max_workers`` threads, and a call that cannot even start within the budget counts as a
    time-out like any other.
    """

    def __init__(
        self,
        app: Any,
        registry: Any,
        *,
        budget_ms: int,
        fail_modes: Mapping[str, str],
        max_workers: int = 16,
    ):
        self.app = app
        self.registry = registry
        self.budget = budget_ms / 1000.0
        self.fail_modes = dict(fail_modes)
        self.pool = cf.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="validate")
        self.validators = self._collect()

    def _collect(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        settings = getattr(self.app.config, "plugin_settings", {})
        for name in self.registry.enabled:
            if not self.registry.implements(name, VALIDATE_HOOK):
                continue
            try:
                specs = self.registry.call_one(name, "ext_watch", settings=settings.get(name)) or []
                out[name] = {s.module for s in specs if isinstance(s, WatchSpec) and not s.origin}
            except Exception as exc:  # noqa: BLE001 - one plugin's mistake must not stop the others
                log.error("plugin %r: ext_watch failed; it validates nothing: %s", name, exc)
        return out

    def fail_mode(self, module: str) -> str:
        """``open`` or ``closed`` for a module (default open)."""
        return self.fail_modes.get(module, "open")

    def _call(self, name: str, change: RecordChange) -> Any:
        return self.registry.call_one(name, VALIDATE_HOOK, change=change, ctx=self.app.for_plugin(name))

    def validate(self, change: RecordChange) -> Verdict:
        """Ask every plugin validating ``change.module``; the verdict (see the module docstring)."""
        names = sorted(n for n, mods in self.validators.items() if change.module in mods)
        if not names:
            return Verdict(True)
        deadline = time.monotonic() + self.budget
        futures = {n: self.pool.submit(self._call, n, change) for n in names}
        cf.wait(futures.values(), timeout=max(deadline - time.monotonic(), 0))
        problems: list[str] = []
        for name in names:
            fut = futures[name]
            if not fut.done():
                fut.cancel()
                problems.append(f"{name} did not answer within {int(self.budget * 1000)} ms")
                continue
            exc = fut.exception()
            if exc is not None:
                log.error("plugin %r: %s failed: %s: %s", name, VALIDATE_HOOK, type(exc).__name__, exc)
                problems.append(f"{name} failed")
                continue
            result = fut.result()
            if result is None:
                continue
            if isinstance(result, str) and result.strip():
                return Verdict(False, result.strip())
            problems.append(f"{name} answered {type(result).__name__}, not a message or None")
        if not problems:
            return Verdict(True)
        mode = self.fail_mode(change.module)
        detail = "; ".join(problems)
        if mode == "closed":
            return Verdict(False, f"The change cannot be checked right now ({detail}); "
                                  "it is refused (fail-closed). Please try again later.", "closed")
        return Verdict(True, f"validation incomplete ({detail}); allowed (fail-open)", "open")

    def close(self) -> None:
        """Stop the worker threads (does not wait for hung plugins)."""
        self.pool.shutdown(wait=False, cancel_futures=True)


# --- the server ----------------------------------------------------------------------------


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
    try:
        parse_listen(push.listen)
    except PushConfigError as exc:
        out.append(("listen", str(exc)))
    return out


class PushServer:
    """The push receiver and validation endpoint, served from a background thread.

    ``app``: the AppContext (config, state store, plugin contexts); ``registry``: the plugins;
    ``store``: the state store (default ``app.state``); ``listen``: ``host:port`` overriding
    ``events.push.listen`` (port 0 picks a free port; see :attr:`url`); ``clock``: UNIX time, for
    the skew check; ``on_queued``: called with each *new* event once it is stored (e.g. to wake a
    dispatcher waiting for work; its exceptions are logged, never returned to SuiteCRM).
    Raises PushConfigError when the secret is missing or too short.
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
        secret = self.settings.secret.get_secret_value() if self.settings.secret else ""
        problems = [m for key, m in push_settings_problems(self.settings.model_copy(update={"enabled": True}))
                    if key == "secret"]
        if problems:
            raise PushConfigError(problems[0])
        self._secret = secret
        self.app = app
        self.store = store if store is not None else app.state
        self.clock = clock
        self.on_queued = on_queued
        self.host, self.port = parse_listen(listen or self.settings.listen)
        self.validator = Validator(
            app, registry, budget_ms=self.settings.validation_budget_ms,
            fail_modes=events.validation_fail_mode,
        )
        from suitecrm_ext.events.dispatcher import collect_watch_specs

        #: second CRMs the plugins watch (accepted at /o/<origin>/events)
        self.origins = frozenset(s.origin for specs in collect_watch_specs(
            registry, getattr(app.config, "plugin_settings", {})).values() for s in specs if s.origin)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server (``http://127.0.0.1:8765``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> PushServer:
        """Bind and serve in a daemon thread. Raises OSError when the address is taken."""
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="push-server", daemon=True)
        self._thread.start()
        log.info("push receiver listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving (requests in flight finish) and release the port."""
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

    # --- request handling (called from handler threads) -------------------------------------

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> None:
        """Signature, skew and replay checks; raises SignatureError."""
        nonce = verify(self._secret, headers, body, max_skew_seconds=self.settings.max_clock_skew_seconds,
                       now=self.clock())
        ttl = 2 * self.settings.max_clock_skew_seconds + 60
        if not self.store.kv_add(NONCE_NS, nonce, int(self.clock()), ttl_seconds=ttl):
            raise SignatureError(f"{NONCE_HEADER}: this nonce was already used (replayed request)")

    def receive_event(self, body: bytes, origin: str = "") -> dict[str, Any]:
        """Parse and queue one pushed event (of a second CRM when ``origin``); returns the answer body."""
        received = dt.datetime.fromtimestamp(int(self.clock()), dt.timezone.utc)
        event = event_from_push(_load_json(body), received_at=received, origin=origin)
        new = self.store.enqueue([event])
        log.debug("push: queued %s (%s)", event.key, "new" if new else "duplicate")
        if new and self.on_queued is not None:
            try:
                self.on_queued(event)
            except Exception as exc:  # noqa: BLE001 - the event is stored; the answer stays 200
                log.error("push: on_queued callback failed: %s: %s", type(exc).__name__, exc)
        return {"ok": True, "key": event.key, "new": bool(new)}

    def validate(self, body: bytes) -> dict[str, Any]:
        """Parse a /validate body and answer the verdict."""
        return self.validator.validate(change_from_push(_load_json(body))).as_dict()


def _make_handler(server: PushServer) -> type[BaseHTTPRequestHandler]:
    max_body = server.settings.max_body_bytes

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "suitecrm-ext"
        sys_version = ""
        timeout = 30  # a client that stalls mid-body is dropped

        def setup(self) -> None:
            super().setup()
            # headers and body are separate writes: without this, Nagle + delayed ACK add ~40 ms
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            log.debug("push %s %s", self.address_string(), format % args)

        def _send(self, status: int, doc: Mapping[str, Any], *, close: bool = False) -> None:
            data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def _length(self) -> int | None:
            """The declared body length, or None after answering an error (body not read)."""
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._send(411, {"error": "send a Content-Length (chunked bodies are not accepted)"},
                           close=True)
                return None
            raw = self.headers.get("Content-Length")
            if raw is None:
                self._send(411, {"error": "Content-Length header required"}, close=True)
                return None
            if not raw.strip().isdigit():
                self._send(400, {"error": "Content-Length: not a number"}, close=True)
                return None
            length = int(raw)
            if length > max_body:
                self._send(413, {"error": f"body of {length} bytes is over the limit of {max_body} "
                                          "(events.push.max_body_bytes)"}, close=True)
                return None
            return length

        def handle_expect_100(self) -> bool:
            # refuse an oversized body before the client sends it
            if self.command == "POST" and (self.path in ("/events", "/validate")
                                            or _ORIGIN_PATH.match(self.path)):
                raw = (self.headers.get("Content-Length") or "").strip()
                if raw.isdigit() and int(raw) > max_body:
                    self._length()
                    return False
            return super().handle_expect_100()

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            if self.path != "/health":
                self._send(404 if self.path not in ("/events", "/validate") else 405,
                           {"error": f"no GET {self.path[:60]}"})
                return
            try:
                server.store.ping()
            except Exception as exc:  # noqa: BLE001
                log.error("push /health: state store failed: %s", exc)
                self._send(503, {"ok": False, "error": "state store unavailable"})
                return
            self._send(200, {"ok": True})

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            origin = ""
            m = _ORIGIN_PATH.match(self.path)
            if m:
                origin = m.group(1)
                if origin not in server.origins:
                    known = ", ".join(sorted(server.origins)) or "none"
                    self._send(404, {"error": f"no origin {origin!r} is watched by an enabled plugin "
                                              f"(watched: {known})"}, close=True)
                    return
            elif self.path not in ("/events", "/validate"):
                self._send(404 if self.path != "/health" else 405, {"error": f"no POST {self.path[:60]}"},
                           close=True)
                return
            length = self._length()
            if length is None:
                return
            body = self.rfile.read(length)
            if len(body) != length:
                self._send(400, {"error": "body shorter than Content-Length"}, close=True)
                return
            try:
                server.authenticate(self.headers, body)
            except SignatureError as exc:
                log.warning("push %s from %s refused: %s", self.path, self.client_address[0], exc)
                self._send(401, {"error": str(exc)})
                return
            except Exception as exc:  # noqa: BLE001 - the store failed while checking the nonce
                log.error("push %s: nonce check failed: %s", self.path, exc)
                self._send(503, {"error": "state store unavailable"})
                return
            try:
                if origin:
                    answer = server.receive_event(body, origin)
                elif self.path == "/events":
                    answer = server.receive_event(body)
                else:
                    answer = server.validate(body)
            except BadRequest as exc:
                self._send(400, {"error": str(exc)})
                return
            except Exception as exc:  # noqa: BLE001 - never a 2xx unless stored
                log.error("push %s failed: %s: %s", self.path, type(exc).__name__, exc)
                self._send(503, {"error": "could not store the event; try again"})
                return
            self._send(200, answer)

    return Handler
