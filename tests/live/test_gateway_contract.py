"""The gateway contract suite, unchanged, on a real SuiteCRM 7.14.6 (see gateway_harness.py for how
the instance is made to look like the emulators: empty modules per test and a settable server clock).

Backends: REST v4_1, V8 with client_credentials and with the password grant, SOAP (patched instance),
and the gateway reading over MySQL with the read-only user. Every test of tests/crm/contract/ runs here
against each of them; the fault-injection tests (transient faults, lost answers, ACL, revoked
credentials, garbage answers) need knobs only the emulators have and skip with the reason.
"""

from __future__ import annotations

import pytest
from crm.backends import Options
from crm.contract.test_contract_create_attach import *  # noqa: F403 - the contract tests, unchanged
from crm.contract.test_contract_crm import *  # noqa: F403
from gateway_harness import BACKENDS, IsolatedTables, start_live


@pytest.fixture(scope="module")
def isolated(live_lab):
    """The contract tables emptied (their rows kept aside) for this module, then put back."""
    if not live_lab.soap_patched:
        pytest.fail(f"{live_lab.path}: the live contract suite needs an instance with --patch-soap")
    tables = IsolatedTables(live_lab)
    tables.isolate()
    try:
        yield tables
    finally:
        tables.restore()
        tables.close()


@pytest.fixture(params=BACKENDS)
def harness(request, live_lab, isolated):
    """One backend on the real instance, page size 3 like the emulated suite."""
    with start_live(live_lab, request.param, isolated, Options()) as h:
        yield h


@pytest.fixture
def crm(harness):
    """The CRM under test."""
    return harness.crm
