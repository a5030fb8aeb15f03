"""Contract backend: RestV4CRM against the stateful REST v4_1 emulator (over ``responses``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import responses
from crm.backends import Harness, Options, register, rest_family_faults
from crm.emulators.rest import RestV4Emulator

from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.crm.http import RetryPolicy
from suitecrm_ext.crm.rest_v4 import RestV4CRM

URL = "http://suitecrm.test"
USER, PASSWORD = "admin", "s3cr3t-Pa55"


@register("rest")
@contextmanager
def start(opts: Options) -> Iterator[Harness]:
    """RestV4CRM with page_size ``opts.page_size`` and a non-sleeping retry policy."""
    store = FakeCRM(page_size=1000, clock=opts.clock.now)
    sleeps: list[float] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        emulator = RestV4Emulator(store, base_url=URL, username=USER, password=PASSWORD).install(rsps)
        crm = RestV4CRM(URL, USER, PASSWORD, page_size=opts.page_size,
                        retry_policy=RetryPolicy(retries=opts.retries, sleep=sleeps.append, rng=lambda: 0.5))
        fail_next, lose_next_answer = rest_family_faults(emulator)

        harness = Harness(
            "rest", crm, store,
            features=frozenset({"expire_session", "transient_faults", "lost_answer", "acl", "auth_revoked",
                                "garbage_answer"}),
            clock=opts.clock,
            sleeps=sleeps,
            page_calls=lambda: emulator.count("get_entry_list"),
            wire_calls=lambda: len(emulator.calls),
            expire_session=emulator.expire_sessions,
            fail_next=fail_next,
            lose_next_answer=lose_next_answer,
            deny=store.deny,
            revoke_credentials=lambda: emulator.change_password("changed-by-admin"),
            garbage_next=emulator.garbage_next,
        )
        try:
            yield harness
        finally:
            crm.close()
