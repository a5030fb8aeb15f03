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
from gateway_harness import BACKENDS, IsolatedTables, LiveBackends


@pytest.fixture(scope="module")
def isolated(live_lab):
    """The contract tables emptied (their rows kept aside) for this module, then put back; and the
    backends, built once for the module."""
    if not live_lab.soap_patched:
        pytest.fail(f"{live_lab.path}: the live contract suite needs an instance with --patch-soap")
    tables = IsolatedTables(live_lab)
    tables.isolate()
    backends = LiveBackends(live_lab, tables)
    try:
        yield backends
    finally:
        try:
            backends.close()
        finally:
            tables.restore()
            tables.close()


#: the password grant differs from client_credentials only in how tokens are got and renewed: it runs
#: the tests about sessions, reads, writes and relationships; the whole suite runs on client_credentials
PASSWORD_GRANT_TESTS = frozenset({
    "test_calls_survive_session_expiry", "test_create_then_get_normalises_values",
    "test_update_changes_values_and_date_modified", "test_paging_across_pages_returns_each_record_once",
    "test_limit_stops_early", "test_order_by_unknown_field_is_a_validation_error",
    "test_eq_mapping_and_case_insensitivity", "test_like_wildcards_and_escape", "test_delete_is_soft",
    "test_save_many_creates_and_updates_in_few_calls", "test_relate_related_unrelate",
    "test_values_suitecrm_would_damage_are_refused_before_sending",
    "test_hostile_values_round_trip_and_match_exactly",
})


@pytest.fixture(params=BACKENDS)
def harness(request, isolated):
    """One backend on the real instance, page size 3 like the emulated suite."""
    if request.param == "v8_password" and request.function.__name__ not in PASSWORD_GRANT_TESTS:
        pytest.skip("V8 password grant: the session/read/write subset runs (the whole suite runs on V8 "
                    "client_credentials)")
    with isolated.harness(request.param, Options()) as h:
        yield h


@pytest.fixture
def crm(harness):
    """The CRM under test."""
    return harness.crm
