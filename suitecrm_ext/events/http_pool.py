"""An HTTP server with bounded threads and a bounded queue, and counters of what it refused.

The stdlib ``ThreadingHTTPServer`` starts one thread per connection: a flood of connections means a
flood of threads and of memory. :class:`BoundedHTTPServer` serves connections with a fixed pool of
``workers`` threads; accepted connections wait in a queue of at most ``queue_size``. When the queue
is full the accepting thread answers ``503 Service Unavailable`` with ``Retry-After`` itself and
closes the connection, so memory stays bounded by ``workers`` requests in hand (each at most the
body limit) plus ``queue_size`` idle sockets.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
from collections import Counter
from collections.abc import Callable
from http.server import HTTPServer
from typing import Any

log = logging.getLogger("suitecrm_ext.events.push")

#: refusal reasons counted by :class:`PushStats`
REFUSAL_REASONS = ("forged", "stale", "replayed", "oversized", "malformed", "overloaded")


class PushStats:
    """Thread-safe counters: requests accepted (by endpoint and scheme) and refused (by reason)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()

    def accepted(self, what: str) -> None:
        """Count one accepted request (``events``, ``validate``, ``legacy``, ``duplicate``...)."""
        with self._lock:
            self._accepted[what] += 1

    def refused(self, reason: str) -> None:
        """Count one refused request; ``reason`` is one of :data:`REFUSAL_REASONS`."""
        with self._lock:
            self._refused[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        """``{"accepted": {...}, "refused": {reason: n for every reason}, "refused_total": n}``."""
        with self._lock:
            refused = {r: self._refused.get(r, 0) for r in REFUSAL_REASONS}
            return {"accepted": dict(self._accepted), "refused": refused,
                    "refused_total": sum(self._refused.values())}


def _overload_answer(retry_after: int) -> bytes:
    body = json.dumps({"error": "the push receiver is busy; retry later"}).encode()
    return (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: {retry_after}\r\nConnection: close\r\n\r\n"
            ).encode("ascii") + body


class BoundedHTTPServer(HTTPServer):
    """``HTTPServer`` whose connections are handled by ``workers`` threads through a queue of at
    most ``queue_size`` connections; beyond that, 503 + ``Retry-After`` (``on_overload`` is called)."""

    request_queue_size = 128  # the kernel's accept backlog (also bounded)

    def __init__(self, address: tuple[str, int], handler: type, *, workers: int, queue_size: int,
                 on_overload: Callable[[], None] | None = None, retry_after: int = 1):
        super().__init__(address, handler)
        self.pending: queue.Queue[tuple[Any, Any] | None] = queue.Queue(maxsize=max(1, queue_size))
        self.on_overload = on_overload
        self._overload = _overload_answer(retry_after)
        self._workers = [threading.Thread(target=self._work, name=f"push-worker-{i}", daemon=True)
                         for i in range(max(1, workers))]
        for t in self._workers:
            t.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self.pending.put_nowait((request, client_address))
        except queue.Full:
            self._refuse(request)

    def _refuse(self, request: socket.socket) -> None:
        if self.on_overload is not None:
            self.on_overload()
        try:
            request.settimeout(0.1)
            try:  # read what has arrived, so closing does not reset the connection before the answer
                request.recv(65536)
            except OSError:
                pass
            request.sendall(self._overload)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self.pending.get()
            if item is None:
                return
            request, address = item
            try:
                self.finish_request(request, address)
            except Exception:  # noqa: BLE001 - one bad connection must not kill the worker
                self.handle_error(request, address)
            finally:
                self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("push: connection from %s failed", client_address, exc_info=True)

    def server_close(self) -> None:
        """Stop the workers (after the requests in hand) and close the waiting connections."""
        super().server_close()
        while True:
            try:
                item = self.pending.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        for _ in self._workers:
            self.pending.put(None)
        for t in self._workers:
            t.join(timeout=5)
