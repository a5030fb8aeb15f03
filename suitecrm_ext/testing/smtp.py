"""A real SMTP server on loopback for tests (aiosmtpd), and the ``smtp`` config section pointing at it.

aiosmtpd is a test-only dependency (suitecrm-ext's ``[test]`` extra): it is imported when a server is
started, so importing the testing kit never needs it.

Example::

    from suitecrm_ext.testing import smtp_server

    with smtp_server() as server:
        config = build_config(smtp=server.settings(sender="crm@example.test"))
        ...  # the code under test mails through config.settings.smtp
    [mail] = server.to("alice@example.test")
    assert mail["Subject"] == "Review needed"

In pytest the fixture ``smtp_server`` does the same for one test.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server took it: the SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class SmtpServer:
    """What :func:`smtp_server` yields: where it listens and what it received.

    ``received`` lists every accepted message with its envelope, in arrival order; ``messages`` the
    parsed messages alone; ``to(address)`` those whose envelope named ``address`` as a recipient (Bcc
    included, unlike the To header). Set ``refuse = n`` to answer the next ``n`` messages with
    ``451 try again later`` (a transient refusal; nothing is kept), as a busy mail server does.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.received: list[ReceivedMail] = []
        self.refuse = 0
        self._lock = threading.Lock()

    @property
    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed (``email.policy.default``), in arrival order."""
        with self._lock:
            return [r.message for r in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        """The messages delivered to ``address`` (compared without regard to case)."""
        wanted = address.lower()
        with self._lock:
            return [r.message for r in self.received if wanted in (a.lower() for a in r.rcpt_tos)]

    def clear(self) -> None:
        """Forget what was received so far."""
        with self._lock:
            self.received.clear()

    def settings(self, sender: str = "crm@example.test", **extra: Any) -> dict[str, Any]:
        """The config's ``smtp`` section for this server (plain, no TLS, no login): pass it as
        ``build_config(smtp=server.settings())``; ``extra`` adds or overrides keys."""
        return smtp_settings(self.port, host=self.host, sender=sender, **extra)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        """aiosmtpd's handler hook: keep the message (or refuse it while ``refuse`` counts down)."""
        with self._lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 try again later"
            message = message_from_bytes(envelope.content, policy=policy.default)
            self.received.append(ReceivedMail(envelope.mail_from or "", tuple(envelope.rcpt_tos), message))
        return "250 OK"

    def __repr__(self) -> str:
        return f"<SmtpServer {self.host}:{self.port} received={len(self.received)}>"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for a server a test starts later, or a closed one)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def smtp_settings(
    port: int | None = None, *, host: str = "127.0.0.1", sender: str = "crm@example.test", **extra: Any
) -> dict[str, Any]:
    """The config's ``smtp`` section for a server on ``host:port``; ``port`` None is a free port nobody
    listens on (mail fails there, as with the mail server down)."""
    return {"host": host, "port": port or free_port(host), "sender": sender, **extra}


@contextmanager
def smtp_server(host: str = "127.0.0.1", port: int | None = None) -> Iterator[SmtpServer]:
    """Run a real SMTP server (aiosmtpd) on ``host`` for the ``with`` block; stopped at its end.

    ``port`` None picks a free one; give a port to bring up a server where mail was failing before
    (e.g. a retry test that starts with no server on ``free_port()``).
    """
    from aiosmtpd.controller import Controller  # test-only dependency, imported when needed

    server = SmtpServer(host, port or free_port(host))
    controller = Controller(server, hostname=host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
