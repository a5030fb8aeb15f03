"""Fixtures for account_opening tests (the helpers live in ao_kit.py, a unique module name)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from ao_kit import Bank, Sink, free_port, make_bank


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
def bank(tmp_path, smtp) -> Bank:
    """The plugin over a FakeCRM with its schema and the bank's staff, mailing to the ``smtp`` server."""
    b = make_bank(tmp_path, smtp.port)
    yield b
    b.ctx.app.close()
