"""The contract suite runs every test once per backend registered in tests/crm/backends/."""

from __future__ import annotations

import pytest
from crm.backends import Options, all_backends

BACKENDS = all_backends()


@pytest.fixture(params=[b.name for b in BACKENDS])
def harness(request):
    """A started backend (see crm.backends.Harness); page size 3 so paging is exercised."""
    backend = next(b for b in BACKENDS if b.name == request.param)
    with backend.start(Options()) as h:
        yield h


@pytest.fixture
def crm(harness):
    """The CRM under test."""
    return harness.crm
