"""Fixtures for portal_sync tests (helpers in portal_kit.py and portal_web.py, unique module names)."""

from __future__ import annotations

import pytest
from portal_kit import Sidecar


@pytest.fixture
def make_sidecar(tmp_path, smtp_server):
    """Factory: ``make_sidecar(**plugin_settings)`` -> a Sidecar between two FakeCRMs."""
    made = []

    def factory(others=None, **settings):
        sc = Sidecar(tmp_path / f"s{len(made)}", smtp_server, smtp_server.port, settings, others or {})
        made.append(sc)
        return sc

    for p in [tmp_path]:
        p.mkdir(exist_ok=True)
    yield factory
    for sc in made:
        sc.close()


@pytest.fixture
def sidecar(make_sidecar) -> Sidecar:
    """The plugin with default settings, the portal role set up."""
    sc = make_sidecar()
    sc.adapter.setup()
    return sc
