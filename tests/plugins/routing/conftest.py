"""Fixtures for the routing tests (helpers in routing_kit.py, a module name of its own)."""

from __future__ import annotations

import pytest
from routing_kit import make_office


@pytest.fixture
def office_factory(tmp_path, smtp_server, monkeypatch):
    """``office_factory(routes=[...] | route_files=[...], **settings)`` → an Office at Monday 10:00 MSK."""
    made = []

    def make(**kw):
        office = make_office(tmp_path / f"o{len(made)}", smtp_server.port, monkeypatch, **kw)
        made.append(office)
        return office

    (tmp_path).mkdir(exist_ok=True)
    yield make
    for o in made:
        o.ctx.app.close()
