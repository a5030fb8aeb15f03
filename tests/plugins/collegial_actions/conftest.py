"""Fixtures for collegial_actions tests (the helpers live in collegial_kit.py, a unique module name)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from collegial_kit import Desk, Sink, free_port, make_desk


@pytest.fixture
def smtp():
    """A real SMTP server on loopback; ``.handler.messages`` holds what it received."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.sink = sink
    yield controller
    controller.stop()


@pytest.fixture
def desk(tmp_path, smtp) -> Desk:
    """The plugin over a FakeCRM with its schema and demo users, mailing to the ``smtp`` server."""
    d = make_desk(tmp_path, smtp.port)
    yield d
    d.ctx.app.close()
