"""Backends of the CRM contract suite (tests/crm/contract/): one module per backend, found automatically.

A backend module registers a context manager that starts the CRM under test and yields a
:class:`Harness`::

    from crm.backends import Harness, Options, register

    @register("v8")
    @contextmanager
    def start(opts: Options) -> Iterator[Harness]:
        store = FakeCRM(page_size=opts.page_size, clock=opts.clock)   # the server-side data
        ...                                                            # emulator + transport
        yield Harness("v8", crm, store, features={...}, page_calls=..., wire_calls=..., ...)

Every module in this package is imported by :func:`all_backends`, so adding a backend is adding a file;
the contract tests never change. Features a backend lacks make the tests that need them skip
(:meth:`Harness.require`); operations a *transport* lacks are expressed by ``crm.capabilities``
(the contract then expects :class:`~suitecrm_ext.crm.base.Unsupported`, raised before any request,
or the documented limited behaviour, e.g. datetimes truncated to the minute). Nothing is skipped for a
transport's sake: a backend cannot declare a contract test away.

Feature names: ``expire_session`` (the server forgets our session/token), ``transient_faults`` (the next
calls fail with 5xx / 429 + Retry-After / connection errors), ``lost_answer`` (a write is done but its
answer never arrives), ``acl`` (``deny``: the user lacks rights on a module), ``auth_revoked``
(``revoke_credentials``: the password/secret is changed on the server), ``garbage_answer``
(``garbage_next``: an answer that is not the API's format, e.g. a PHP warning page).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from suitecrm_ext.crm.base import CRM
from suitecrm_ext.crm.fake import FakeCRM


class Clock:
    """A settable clock for the server side: ``now()`` and ``advance(seconds)``."""

    def __init__(self, start: dt.datetime):
        self.current = start

    def now(self) -> dt.datetime:
        """The current fake time (aware UTC)."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.current += dt.timedelta(seconds=seconds)


@dataclass
class Options:
    """How the contract suite wants a backend started."""

    page_size: int = 3
    clock: Clock = field(default_factory=lambda: Clock(dt.datetime(2026, 11, 23, 5, 17, 26, 654321,
                                                                   tzinfo=dt.timezone.utc)))
    retries: int = 3


@dataclass
class Harness:
    """The CRM under test plus the knobs its backend offers.

    ``store`` is the data behind the transport (the FakeCRM itself for the fake backend); tests may look
    at it to check server-side effects (e.g. no duplicate rows). ``sleeps`` collects the waits the
    client's retry policy took (nobody sleeps for real).
    """

    backend: str
    crm: CRM
    store: FakeCRM
    features: frozenset[str] = frozenset()
    clock: Clock | None = None  # the server's clock (Options.clock), to advance time
    sleeps: list[float] = field(default_factory=list)
    page_calls: Callable[[], int] = lambda: 0  # list pages fetched so far
    wire_calls: Callable[[], int] = lambda: 0  # server calls so far (requests, or interface calls)
    expire_session: Callable[[], None] | None = None
    fail_next: Callable[..., None] | None = None  # fail_next("503", "429", "drop")
    lose_next_answer: Callable[[str], None] | None = None  # lose_next_answer("create" | "save_many")
    deny: Callable[..., None] | None = None  # deny(module, "read" | "save" | "delete" | "relate", ...)
    revoke_credentials: Callable[[], None] | None = None  # the server stops accepting our credentials
    garbage_next: Callable[[], None] | None = None  # the next answer is not in the API's format
    # False when the API's field metadata carries no enum options (V8 meta/fields, recorded)
    enum_options: bool = True

    def require(self, feature: str) -> None:
        """Skip the calling test when this backend cannot do ``feature``."""
        if feature not in self.features:
            pytest.skip(f"the {self.backend} backend has no {feature!r}")


@dataclass(frozen=True)
class Backend:
    """A registered backend: its name and how to start it."""

    name: str
    start: Callable[[Options], contextlib.AbstractContextManager[Harness]]


_REGISTRY: dict[str, Backend] = {}


def rest_family_faults(emulator: Any) -> tuple[Callable[..., None], Callable[[str], None]]:
    """``fail_next`` / ``lose_next_answer`` for the REST v4_1 emulator and the SOAP one built on it."""

    def fail_next(*kinds: str) -> None:
        for kind in kinds:
            if kind == "drop":
                emulator.drop_next()
            elif kind == "429":
                emulator.fail_next(429, retry_after="3")
            else:
                emulator.fail_next(int(kind))

    def lose_next_answer(op: str) -> None:
        emulator.lose_next_answer({"create": "set_entry", "save_many": "set_entries"}[op])

    return fail_next, lose_next_answer


def register(name: str) -> Callable[[Callable[[Options], Any]], Callable[[Options], Any]]:
    """Decorator registering a backend start function (a context manager yielding a Harness)."""

    def deco(fn: Callable[[Options], Any]) -> Callable[[Options], Any]:
        if name in _REGISTRY:
            raise ValueError(f"contract backend {name!r} registered twice")
        _REGISTRY[name] = Backend(name, fn)
        return fn

    return deco


def all_backends() -> list[Backend]:
    """Every backend of this package (imports each module once), fake first."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return sorted(_REGISTRY.values(), key=lambda b: (b.name != "fake", b.name))


@contextlib.contextmanager
def started(name: str, opts: Options | None = None) -> Iterator[Harness]:
    """Start one backend by name (for tests outside the parametrised suite)."""
    all_backends()
    with _REGISTRY[name].start(opts or Options()) as harness:
        yield harness
