"""Fixtures for account_opening tests (the helpers live in ao_kit.py, a unique module name)."""

from __future__ import annotations

import pytest
from ao_kit import Bank, make_bank


@pytest.fixture
def bank(tmp_path, smtp_server) -> Bank:
    """The plugin over a FakeCRM with its schema and the bank's staff, mailing to ``smtp_server``."""
    b = make_bank(tmp_path, smtp_server.port)
    yield b
    b.ctx.app.close()
