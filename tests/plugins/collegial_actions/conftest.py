"""Fixtures for collegial_actions tests (the helpers live in collegial_kit.py, a unique module name)."""

from __future__ import annotations

import pytest
from collegial_kit import Desk, make_desk


@pytest.fixture
def desk(tmp_path, smtp_server) -> Desk:
    """The plugin over a FakeCRM with its schema and demo users, mailing to ``smtp_server``."""
    d = make_desk(tmp_path, smtp_server.port)
    yield d
    d.ctx.app.close()
