"""Local HTTP servers speaking SMS.ru's and SMSC's published HTTP APIs (JSON answers), for the adapters'
tests: they keep every message they took, and can be told to fail the way real providers do.

SMS.ru: POST /sms/send (api_id, to, msg, json=1, from, test) → {"status": "OK", "status_code": 100,
"sms": {"<phone>": {"status": "OK", "status_code": 100, "sms_id": "..."}}, "balance": ...}; errors as
{"status": "ERROR", "status_code": N, "status_text": "..."}; POST /sms/status (sms_id) →
{"status": "OK", "sms": {"<id>": {"status": "OK", "status_code": 103, ...}}}; POST /my/balance.

SMSC: POST /sys/send.php (login, psw, phones, mes, id, fmt=3) → {"id": N, "cnt": 1}; errors as
{"error": "...", "error_code": N}; the same (phone, id) twice → error 9; POST /sys/status.php (phone, id,
fmt=3) → {"status": N, "last_date": "...", "last_timestamp": T} (-3: not found); POST /sys/balance.php.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Behaviour:
    """How the next requests are answered."""

    #: answer this many sends with a "try later" (SMS.ru 220 / SMSC HTTP 503)
    unavailable: int = 0
    #: take this many sends, then drop the connection without an answer (the client cannot know)
    drop_after_accept: int = 0
    #: answer sends after this many seconds (client timeouts)
    delay: float = 0.0
    #: statuses to walk through on /status queries: queued → sent → delivered
    delivered_after: int = 1
    refuse_numbers: set[str] = field(default_factory=lambda: {"70000000000"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeProvider:
    """Base: a server on 127.0.0.1 (``url``), the messages it took (``messages``), ``behaviour``."""

    credentials: dict[str, str] = {}

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.behaviour = Behaviour()
        self.status_queries: dict[str, int] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                form = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
                form.update({k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()})
                outer.handle(self, urlparse(self.path).path, form)

            do_GET = do_POST

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeProvider:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def answer(self, h: BaseHTTPRequestHandler, data: Any, status: int = 200) -> None:
        raw = json.dumps(data, ensure_ascii=False).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def drop(self, h: BaseHTTPRequestHandler) -> None:
        """Close the connection without an answer (the message was taken)."""
        h.close_connection = True
        try:
            h.connection.shutdown(2)
        except OSError:
            pass

    def handle(self, h: BaseHTTPRequestHandler, path: str, form: dict[str, str]) -> None:
        raise NotImplementedError

    def _status_step(self, mid: str) -> int:
        with self.lock:
            self.status_queries[mid] = self.status_queries.get(mid, 0) + 1
            return self.status_queries[mid]


class FakeSmsRu(FakeProvider):
    """SMS.ru's HTTP API (see the module docstring)."""

    API_ID = "A3CA597E-3ACF-4E7D-82EE-CF82B52B1A8B"

    def handle(self, h: BaseHTTPRequestHandler, path: str, form: dict[str, str]) -> None:
        self.requests.append((path, form))
        if form.get("api_id") != self.API_ID:
            return self.answer(
                h, {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}
            )
        b = self.behaviour
        if path == "/sms/send":
            if b.delay:
                time.sleep(b.delay)
            if b.unavailable > 0:
                b.unavailable -= 1
                return self.answer(
                    h,
                    {
                        "status": "ERROR",
                        "status_code": 220,
                        "status_text": "Сервис временно недоступен, попробуйте чуть позже",
                    },
                )
            phone = form.get("to", "")
            if phone in b.refuse_numbers:
                return self.answer(
                    h,
                    {
                        "status": "OK",
                        "status_code": 100,
                        "balance": 100.0,
                        "sms": {
                            phone: {
                                "status": "ERROR",
                                "status_code": 207,
                                "status_text": "На этот номер нельзя отправлять сообщения",
                            }
                        },
                    },
                )
            with self.lock:
                sms_id = f"{len(self.messages) + 1:06d}-{int(time.time()) % 10**8:08d}"
                self.messages.append(
                    {
                        "id": sms_id,
                        "phone": phone,
                        "text": form.get("msg", ""),
                        "sender": form.get("from", ""),
                        "test": form.get("test", ""),
                    }
                )
            if b.drop_after_accept > 0:
                b.drop_after_accept -= 1
                return self.drop(h)
            return self.answer(
                h,
                {
                    "status": "OK",
                    "status_code": 100,
                    "balance": 4122.56,
                    "sms": {phone: {"status": "OK", "status_code": 100, "sms_id": sms_id}},
                },
            )
        if path == "/sms/status":
            sms_id = form.get("sms_id", "")
            if not any(m["id"] == sms_id for m in self.messages):
                item = {"status": "ERROR", "status_code": -1, "status_text": "Сообщение не найдено"}
            else:
                n = self._status_step(sms_id)
                code = 103 if n >= b.delivered_after else 102
                item = {
                    "status": "OK",
                    "status_code": code,
                    "cost": 0.5,
                    "sms": 1,
                    "status_text": "Сообщение доставлено" if code == 103 else "Сообщение отправлено (в пути)",
                }
            return self.answer(
                h, {"status": "OK", "status_code": 100, "sms": {sms_id: item}, "balance": 4122.06}
            )
        if path == "/my/balance":
            return self.answer(h, {"status": "OK", "status_code": 100, "balance": 4122.56})
        self.answer(h, {"status": "ERROR", "status_code": 211, "status_text": "Метод не найден"})


class FakeSmsc(FakeProvider):
    """SMSC's HTTP API (see the module docstring)."""

    LOGIN, PASSWORD = "shop", "smsc-secret-pw"

    def handle(self, h: BaseHTTPRequestHandler, path: str, form: dict[str, str]) -> None:
        self.requests.append((path, form))
        if form.get("login") != self.LOGIN or form.get("psw") != self.PASSWORD:
            return self.answer(h, {"error": "authorise error", "error_code": 2})
        b = self.behaviour
        if path == "/sys/send.php":
            if b.delay:
                time.sleep(b.delay)
            if b.unavailable > 0:
                b.unavailable -= 1
                h.send_response(503)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return None
            phone, mid = form.get("phones", ""), form.get("id", "")
            if phone in b.refuse_numbers:
                return self.answer(h, {"error": "invalid phone number", "error_code": 7, "id": mid})
            with self.lock:
                if mid and any(m["phone"] == phone and m["id"] == mid for m in self.messages):
                    return self.answer(h, {"error": "duplicate request, wait a minute", "error_code": 9})
                self.messages.append(
                    {"id": mid, "phone": phone, "text": form.get("mes", ""), "sender": form.get("sender", "")}
                )
            if b.drop_after_accept > 0:
                b.drop_after_accept -= 1
                return self.drop(h)
            return self.answer(h, {"id": int(mid) if mid.isdigit() else mid, "cnt": 1})
        if path == "/sys/status.php":
            phone, mid = form.get("phone", ""), form.get("id", "")
            if not any(m["phone"] == phone and m["id"] == mid for m in self.messages):
                return self.answer(h, {"status": -3, "last_date": "", "last_timestamp": 0})
            n = self._status_step(mid)
            code = 1 if n >= b.delivered_after else 0
            return self.answer(
                h, {"status": code, "last_date": "01.12.2026 12:00:00", "last_timestamp": 1796126400}
            )
        if path == "/sys/balance.php":
            return self.answer(h, {"balance": "100.50"})
        self.answer(h, {"error": "unknown method", "error_code": 1})
