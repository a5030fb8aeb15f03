"""A plain TCP proxy on loopback (in front of MariaDB's port for the MySQL reader) that can go down.

Bytes are passed through untouched in both directions. :meth:`TcpProxy.down` emulates the database
being restarted: every open connection is reset (the reader's connection dies mid-query or between
queries) and for ``seconds`` new connections are refused (the port is closed); then it listens again
on the same port.
"""

from __future__ import annotations

import socket
import struct
import threading


class TcpProxy:
    """TCP proxy 127.0.0.1:<port> -> ``target``; ``down(seconds)`` resets and refuses; a context manager."""

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0
        self.resets = 0
        self.outages: list[float] = []
        self._lock = threading.Lock()
        self._pairs: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._listen()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting and reset what is open."""
        self._stopped.set()
        self._close_listener()
        self._reset_all()

    def down(self, seconds: float) -> threading.Timer:
        """Reset every open connection and refuse new ones for ``seconds``; returns the timer that
        ends the outage (``.join()`` waits for it)."""
        self.outages.append(seconds)
        self._close_listener()
        self._reset_all()

        def end() -> None:
            if not self._stopped.is_set():
                self._listen()

        timer = threading.Timer(seconds, end)
        timer.daemon = True
        timer.start()
        return timer

    def _listen(self) -> None:
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", self.port))
        self._srv.listen(128)
        self.port = self._srv.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._srv,), name="tcp-proxy", daemon=True).start()

    def _close_listener(self) -> None:
        try:
            self._srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._srv.close()

    def _reset_all(self) -> None:
        with self._lock:
            socks, self._pairs = self._pairs, set()
            self.resets += len(socks) // 2
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            s.close()

    def _accept(self, srv: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            up.settimeout(None)
            with self._lock:
                self.connections += 1
                self._pairs |= {client, up}
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self._lock:
                self._pairs.discard(src)
                self._pairs.discard(dst)
