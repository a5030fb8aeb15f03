"""A fault-injecting HTTP proxy on loopback, in front of a real SuiteCRM (Apache/PHP).

Every request the sidecar sends to ``http://127.0.0.1:<proxy.port>`` is read whole, then with the
seeded probability ``rate`` one fault is injected instead of a clean pass-through (the kind drawn
from ``kinds``, seeded too, so a failing run can be replayed with the same seed):

``reset``        the connection is reset (RST) before anything reaches SuiteCRM;
``reset_after``  the request reaches SuiteCRM and is executed, then the connection is reset: the
                 answer is lost (a create has happened, the client does not know);
``stall``        the request is executed, then nothing is answered for ``stall_seconds`` (longer
                 than the client's timeout) and the connection is closed;
``502`` / ``503`` a gateway error is answered without forwarding (503 carries ``Retry-After: 1``);
``truncated``    the request is executed and the answer cut in half (full ``Content-Length``, half
                 the body, connection closed).

:meth:`FaultProxy.down` emulates SuiteCRM being restarted: for N seconds new connections are refused
(the port is closed, as when Apache is stopped) or answered ``503`` (as while PHP comes back), and
requests in flight are reset.

Each client connection carries one request (answers say ``Connection: close``); upstream requests
are sent as HTTP/1.0 so Apache answers close-delimited, never chunked. ``faults`` counts what was
injected by kind, ``forwarded`` how many requests reached SuiteCRM.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Sequence

KINDS = ("reset", "reset_after", "stall", "502", "503", "truncated")
_MAX_HEADER = 64 * 1024


class FaultProxy:
    """HTTP proxy 127.0.0.1:<port> -> ``target`` injecting seeded faults; use as a context manager."""

    def __init__(self, target_port: int, *, rate: float = 0.3, seed: int = 0,
                 kinds: Sequence[str] = KINDS, stall_seconds: float = 3.0, target_host: str = "127.0.0.1"):
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        self.target = (target_host, target_port)
        self.rate = rate
        self.kinds = tuple(kinds)
        self.stall_seconds = stall_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.forwarded = 0
        self.enabled = True
        self.outages: list[tuple[str, float]] = []
        self._unavailable = False
        self._clients: set[socket.socket] = set()
        self._stopped = threading.Event()
        self.port = 0
        self._listen()
        self.url = f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", self.port))
        self._srv.listen(128)
        self.port = self._srv.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, args=(self._srv,), name="fault-proxy",
                                        daemon=True)
        self._thread.start()

    def down(self, seconds: float, mode: str = "refuse") -> threading.Timer:
        """SuiteCRM "restarted" for ``seconds`` from now: ``refuse`` closes the port (connection
        refused), ``503`` answers every request with 503 without forwarding; either way the requests
        in flight are reset. Returns the timer that ends the outage (``.join()`` waits for it)."""
        if mode not in ("refuse", "503"):
            raise ValueError(f"unknown outage mode {mode!r}; known: refuse, 503")
        with self._lock:
            self.outages.append((mode, seconds))
            self._unavailable = True
            clients, self._clients = self._clients, set()
        for c in clients:
            _reset(c)
        if mode == "refuse":
            self._close_listener()

        def end() -> None:
            if mode == "refuse" and not self._stopped.is_set():
                self._listen()
            self._unavailable = False

        timer = threading.Timer(seconds, end)
        timer.daemon = True
        timer.start()
        return timer

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def injected(self) -> int:
        """Faults injected so far (all kinds)."""
        return sum(self.faults.values())

    def close(self) -> None:
        """Stop accepting; connections in flight finish on their own."""
        self._stopped.set()
        self._close_listener()

    def _close_listener(self) -> None:
        try:
            self._srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._srv.close()

    # --- serving --------------------------------------------------------------------------

    def _accept(self, srv: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _draw(self) -> str | None:
        with self._lock:
            self.requests += 1
            if not self.enabled or self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(self.kinds)
            self.faults[kind] += 1
            return kind

    def _serve(self, client: socket.socket) -> None:
        try:
            client.settimeout(30)
            request = _read_request(client)
            if request is None:
                return
            with self._lock:
                self._clients.add(client)
            fault = "503" if self._unavailable else self._draw()
            if fault == "reset":
                return _reset(client)
            if fault in ("502", "503"):
                extra = b"Retry-After: 1\r\n" if fault == "503" else b""
                reason = b"Bad Gateway" if fault == "502" else b"Service Unavailable"
                body = b"<html><body>" + reason + b" (injected)</body></html>"
                client.sendall(b"HTTP/1.1 " + fault.encode() + b" " + reason + b"\r\n" + extra +
                               b"Content-Type: text/html\r\nConnection: close\r\n"
                               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                return
            status_headers, body = self._forward(request)
            if client not in self._clients:
                return  # reset by an outage while SuiteCRM worked on it
            if fault == "reset_after":
                return _reset(client)
            if fault == "stall":
                time.sleep(self.stall_seconds)
                return
            head = status_headers + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            if fault == "truncated":
                client.sendall(head + body[: len(body) // 2])
                return _reset(client)
            client.sendall(head + body)
        except OSError:
            pass
        finally:
            with self._lock:
                self._clients.discard(client)
            try:
                client.close()
            except OSError:
                pass

    def _forward(self, request: tuple[bytes, list[bytes], bytes]) -> tuple[bytes, bytes]:
        line, headers, body = request
        method, target, _version = line.split(b" ", 2)
        hop = (b"connection", b"keep-alive")
        keep = [h for h in headers if h.split(b":", 1)[0].strip().lower() not in hop]
        raw = b" ".join((method, target, b"HTTP/1.0")) + b"\r\n" + b"\r\n".join(keep + [b"Connection: close"])
        with socket.create_connection(self.target, timeout=60) as up:
            up.sendall(raw + b"\r\n\r\n" + body)
            chunks = []
            while data := up.recv(65536):
                chunks.append(data)
        with self._lock:
            self.forwarded += 1
        answer = b"".join(chunks)
        head, _, rest = answer.partition(b"\r\n\r\n")
        status, *hdrs = head.split(b"\r\n")
        drop = (b"connection", b"keep-alive", b"content-length", b"transfer-encoding")
        hdrs = [h for h in hdrs if h.split(b":", 1)[0].strip().lower() not in drop]
        status = status.replace(b"HTTP/1.0", b"HTTP/1.1", 1)
        return b"\r\n".join([status, *hdrs, b"Connection: close"]) + b"\r\n", rest


def _read_request(sock: socket.socket) -> tuple[bytes, list[bytes], bytes] | None:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
        if len(buf) > _MAX_HEADER:
            return None
    head, _, body = buf.partition(b"\r\n\r\n")
    line, *headers = head.split(b"\r\n")
    length = 0
    for h in headers:
        name, _, value = h.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            return None
        body += data
    return line, headers, body


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) instead of an orderly FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()
