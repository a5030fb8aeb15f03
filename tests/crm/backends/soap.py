"""Contract backend: SoapCRM (zeep) against the stateful SOAP v4_1 emulator (over ``responses``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import responses
from crm.backends import Harness, Options, register, rest_family_faults
from crm.emulators.soap import SoapEmulator

from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.crm.http import RetryPolicy
from suitecrm_ext.crm.soap import SoapCRM

URL = "http://suitecrm.test"
USER, PASSWORD = "admin", "s3cr3t-Pa55"


@register("soap")
@contextmanager
def start(opts: Options) -> Iterator[Harness]:
    """SoapCRM with the packaged WSDL, page_size ``opts.page_size`` and a non-sleeping retry policy."""
    store = FakeCRM(page_size=1000, clock=opts.clock.now)
    sleeps: list[float] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        emulator = SoapEmulator(store, base_url=URL, username=USER, password=PASSWORD).install(rsps)
        crm = SoapCRM(URL, USER, PASSWORD, page_size=opts.page_size,
                      retry_policy=RetryPolicy(retries=opts.retries, sleep=sleeps.append, rng=lambda: 0.5))
        fail_next, lose_next_answer = rest_family_faults(emulator)

        harness = Harness(
            "soap", crm, store,
            features=frozenset({"expire_session", "transient_faults", "lost_answer"}),
            clock=opts.clock,
            sleeps=sleeps,
            page_calls=lambda: emulator.count("get_entry_list"),
            wire_calls=lambda: len(emulator.calls),
            expire_session=emulator.expire_sessions,
            fail_next=fail_next,
            lose_next_answer=lose_next_answer,
        )
        try:
            yield harness
        finally:
            crm.close()
