"""Contract backend: V8CRM against the stateful V8 JSON:API emulator (over ``responses``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import responses
from crm.backends import Harness, Options, register
from crm.emulators.v8 import V8Emulator

from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.crm.v8 import V8CRM

URL = "http://suitecrm.test"


@register("v8")
@contextmanager
def start(opts: Options) -> Iterator[Harness]:
    """V8CRM (password grant, page_size ``opts.page_size``, non-sleeping retries) on the suite's clock."""
    store = FakeCRM(page_size=1000, clock=opts.clock.now)
    sleeps: list[float] = []

    def seconds() -> float:
        return opts.clock.now().timestamp()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        emulator = V8Emulator(store, base_url=URL, clock=seconds).install(rsps)
        crm = V8CRM(URL, emulator.client_id, emulator.client_secret, grant="password",
                    username=emulator.username, password=emulator.password, page_size=opts.page_size,
                    retries=opts.retries, clock=seconds, sleep=sleeps.append)
        crm._retry.rng = lambda: 0.5  # noqa: SLF001 - deterministic backoff in tests

        def fail_next(*kinds: str) -> None:
            for kind in kinds:
                if kind == "drop":
                    emulator.drop_next()
                elif kind == "429":
                    emulator.fail_next(429, retry_after="3")
                else:
                    emulator.fail_next(int(kind))

        def lose_next_answer(op: str) -> None:
            emulator.lose_next_answer("POST")

        harness = Harness(
            "v8", crm, store,
            features=frozenset({"expire_session", "transient_faults", "lost_answer"}),
            clock=opts.clock,
            sleeps=sleeps,
            page_calls=lambda: sum(1 for m, p, _ in emulator.requests
                                   if m == "GET" and p.count("/") == 2 and p.startswith("V8/module/")),
            wire_calls=lambda: len(emulator.requests),
            expire_session=emulator.revoke_tokens,
            fail_next=fail_next,
            lose_next_answer=lose_next_answer,
            enum_options=False,
        )
        try:
            yield harness
        finally:
            crm.close()
