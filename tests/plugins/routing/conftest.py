"""Fixtures for the routing tests (helpers in routing_kit.py, a module name of its own)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from routing_kit import Sink, free_port, make_office


@pytest.fixture
def smtp():
    """A real SMTP server on loopback; ``.sink.messages`` holds what it received."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.sink = sink
    yield controller
    controller.stop()


@pytest.fixture
def office_factory(tmp_path, smtp, monkeypatch):
    """``office_factory(routes=[...] | route_files=[...], **settings)`` → an Office at Monday 10:00 MSK."""
    made = []

    def make(**kw):
        office = make_office(tmp_path / f"o{len(made)}", smtp.port, monkeypatch, **kw)
        made.append(office)
        return office

    (tmp_path).mkdir(exist_ok=True)
    yield make
    for o in made:
        o.ctx.app.close()
