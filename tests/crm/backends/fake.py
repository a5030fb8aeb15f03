"""Contract backend: FakeCRM itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crm.backends import Harness, Options, register

from suitecrm_ext.crm.fake import FakeCRM


@register("fake")
@contextmanager
def start(opts: Options) -> Iterator[Harness]:
    """A FakeCRM paging ``opts.page_size`` records at a time, on the suite's clock."""
    crm = FakeCRM(page_size=opts.page_size, clock=opts.clock.now)
    yield Harness(
        "fake", crm, crm, clock=opts.clock, features=frozenset({"acl"}), deny=crm.deny,
        page_calls=lambda: sum(1 for c in crm.calls if c[0] == "find_page"),
        wire_calls=lambda: sum(1 for c in crm.calls if c[0] != "find_page"),
    )
