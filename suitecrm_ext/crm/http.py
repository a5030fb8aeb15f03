"""HTTP plumbing shared by the REST v4_1, V8 and SOAP transports.

- :func:`make_session`: a ``requests.Session`` that applies a default timeout to every request and
  verifies TLS (``verify`` may be a CA bundle path).
- :func:`send`: one HTTP request; connection errors, timeouts and answers cut off mid-body become
  :class:`TransientError`;
  :func:`classify` turns HTTP 5xx and 429 (with its ``Retry-After``) into :class:`TransientError` and
  other unexpected statuses into :class:`ProtocolError` carrying the start of the body.
- :class:`RetryPolicy`: tenacity retrying of :class:`TransientError` only, with exponential backoff and
  jitter, ``Retry-After`` honoured (capped), ``retries`` from ``suitecrm.retries``. The sleep function is
  injectable so tests never sleep for real.

Only *transient* faults are retried. A caller must only retry an operation that is safe to repeat: reads
are; a create is only because the transports choose the new record's id themselves (see
:mod:`suitecrm_ext.crm.rest_v4`). Request bodies are never logged (they carry passwords and tokens).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
import tenacity

from suitecrm_ext import __version__
from suitecrm_ext.crm.base import ProtocolError, TransientError

log = logging.getLogger("suitecrm_ext.crm.http")

T = TypeVar("T")

USER_AGENT = f"suitecrm-ext/{__version__}"


class TimeoutSession(requests.Session):
    """A Session whose requests get ``timeout`` unless the call gives its own."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Like ``requests.Session.request`` with the default timeout and the session's ``verify`` applied.

        ``verify`` is passed per request because requests otherwise lets ``REQUESTS_CA_BUNDLE`` from the
        environment override ``Session.verify`` (requests issue #3829).
        """
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


def make_session(
    timeout: float = 30.0, verify: bool | str = True, user_agent: str = USER_AGENT
) -> TimeoutSession:
    """A session with a default per-request ``timeout`` (seconds) and TLS verification (bool or CA path)."""
    if timeout <= 0:
        raise ValueError("timeout must be > 0 seconds")
    session = TimeoutSession(timeout)
    session.verify = verify
    session.headers["User-Agent"] = user_agent
    return session


def excerpt(resp: requests.Response, limit: int = 2000) -> str:
    """The start of a response body as text (for error messages)."""
    try:
        return resp.text[:limit]
    except Exception:  # pragma: no cover - undecodable bodies
        return repr(resp.content[:limit])


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` header (seconds or an HTTP date) → seconds to wait, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def send(
    session: requests.Session, method: str, url: str, *, transport: str, what: str = "", **kwargs: Any
) -> requests.Response:
    """Do one request; a connection error or timeout becomes TransientError. Statuses are not checked here."""
    label = what or f"{method} {url}"
    try:
        return session.request(method, url, **kwargs)
    except requests.Timeout as exc:
        raise TransientError(f"{label}: timed out ({type(exc).__name__})", transport=transport) from None
    except requests.ConnectionError as exc:
        raise TransientError(f"{label}: cannot connect: {_short(exc)}", transport=transport) from None
    except requests.exceptions.ChunkedEncodingError as exc:
        # the connection broke while the answer was read (cut short of its Content-Length): the
        # request may have been executed, so this is a lost answer, as transient as a timeout
        raise TransientError(f"{label}: the answer was cut off: {_short(exc)}", transport=transport) from None
    except requests.RequestException as exc:
        raise ProtocolError(f"{label}: request failed: {_short(exc)}", transport=transport) from None


def classify(
    resp: requests.Response, *, transport: str, what: str = "", ok: tuple[int, ...] = (200,)
) -> None:
    """Raise for a status outside ``ok``: 5xx/429 → TransientError (with retry_after), else ProtocolError."""
    if resp.status_code in ok:
        return
    label = what or f"{resp.request.method if resp.request else 'HTTP'} {resp.url}"
    body = excerpt(resp)
    if resp.status_code == 429:
        raise TransientError(
            f"{label}: HTTP 429 Too Many Requests", transport=transport,
            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
        )
    if resp.status_code >= 500:
        detail = f": {body[:200]!r}" if body.strip() else " with an empty body"
        raise TransientError(
            f"{label}: HTTP {resp.status_code}{detail}",
            transport=transport, retry_after=parse_retry_after(resp.headers.get("Retry-After")),
        )
    raise ProtocolError(f"{label}: unexpected HTTP {resp.status_code}", excerpt=body, transport=transport)


@dataclass
class RetryPolicy:
    """Retry TransientError up to ``retries`` times with exponential backoff and jitter.

    Wait before retry *n* (1-based): ``min(max_wait, base * 2**(n-1))`` scaled by a random factor in
    [0.5, 1.0) ("equal jitter"); when the error carries ``retry_after`` (429/503 ``Retry-After``) that is
    waited instead, capped at ``max_retry_after``. ``sleep`` and ``rng`` are injectable for tests.
    """

    retries: int = 4
    base: float = 0.5
    max_wait: float = 30.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random
    waits: list[float] = field(default_factory=list)  # every wait taken, for tests and diagnostics

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> RetryPolicy:
        """From ``SuiteCRMSettings`` (``suitecrm.retries``)."""
        return cls(retries=settings.retries, **kwargs)

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after)
        backoff = min(self.max_wait, self.base * (2 ** (attempt - 1)))
        return backoff * (0.5 + self.rng() / 2)

    def _tenacity_wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if state.attempt_number > self.retries:
            return 0.0  # tenacity asks before its stop check: the last attempt is not retried
        wait = self.wait_for(state.attempt_number, error)
        self.waits.append(wait)
        log.warning("transient failure (attempt %d of %d), retrying in %.1fs: %s",
                    state.attempt_number, self.retries + 1, wait, error)
        return wait

    def retrying(self) -> tenacity.Retrying:
        """A tenacity ``Retrying`` object implementing this policy (re-raises the last error)."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=self._tenacity_wait,
            sleep=self.sleep,
            reraise=True,
        )

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)``, retrying it on TransientError per this policy."""
        return self.retrying()(fn, *args, **kwargs)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."


__all__ = [
    "RetryPolicy",
    "TimeoutSession",
    "USER_AGENT",
    "classify",
    "excerpt",
    "make_session",
    "parse_retry_after",
    "send",
]
