"""The state-store interface: the sidecar's own operational state, one API over SQLite and MySQL.

What lives here (all of it could be rebuilt; SuiteCRM stays the system of record):

- **cursors** — named JSON documents, e.g. the change feed's watermark per module;
- **key/value** — plugin data, poller snapshots, id maps, push nonces, "did I already do X for
  event K" markers; values are JSON-serialisable, optionally with a time to live;
- **the event queue** — events stored durably, fanned out into one *delivery* per interested
  plugin; deliveries are claimed with a lease, acknowledged, failed (retried later) or dead-lettered;
- **locks** — leases with an expiry, so a crashed holder's lock frees itself;
- **job runs** — history of scheduled jobs (start, end, ok, summary or error).

Life of an event::

    enqueue(events, cursor=...)           # poller / push receiver; one transaction; dup keys ignored
    fan_out(route, limit)                  # dispatcher: event -> one delivery per matching plugin
    claim(owner, limit, lease_seconds)     # dispatcher: leased to one worker; SKIP LOCKED on MySQL
    ack(id, owner) | fail(id, owner, error, retry_at)   # retry_at=None -> dead letter
    dead_letters() / replay(ids) / replay_all_dead()   # the admin's tools

Times are UNIX epoch seconds (float) from the store's ``clock`` (``time.time`` by default); hosts
sharing a MySQL store must keep their clocks in sync (NTP), as with any lease-based scheme.

Every method may raise :class:`StateError` (bad input, a broken store) — never a driver exception.
Implementations are safe to use from several threads of one process (each call is atomic) and from
several processes; MySQL also from several hosts.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suitecrm_ext.events.model import Event

#: The schema version this code writes; stores migrate older schemas up to it when opened.
SCHEMA_VERSION = 2

#: Longest accepted names (cursor names, kv namespaces/keys, lock names, plugin names).
MAX_NAME = 190


class StateError(Exception):
    """The state store refused the input or failed; the message says what and where."""


@dataclass(frozen=True)
class Delivery:
    """One event to be handed to one plugin.

    ``status`` is ``pending`` (waiting or being handled), ``done`` or ``dead``. ``attempts`` counts
    failed attempts so far. ``lease_owner``/``lease_until`` say which worker holds it, until when.
    """

    id: int
    event_key: str
    plugin: str
    event: Event
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None = None
    lease_owner: str | None = None
    lease_until: float | None = None
    updated_at: float = 0.0


@dataclass(frozen=True)
class QueuedEvent:
    """An event as stored in the queue, with its deliveries (for ``events tail``).

    ``fanned_out`` is False until the dispatcher has created the deliveries.
    """

    seq: int
    event: Event
    received_at: float
    fanned_out: bool
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock and until when."""

    name: str
    owner: str
    expires_at: float


@dataclass(frozen=True)
class JobRun:
    """One run of a scheduled job. ``ok`` is None while it runs (or when its process died)."""

    id: int
    name: str
    owner: str
    started_at: float
    finished_at: float | None = None
    ok: bool | None = None
    summary: str | None = None


@dataclass(frozen=True)
class QueueStats:
    """Counts for ``events tail`` and monitoring."""

    events: int
    not_fanned_out: int
    pending: int
    done: int
    dead: int


#: ``fan_out``'s routing function: an event -> names of the plugins that want it.
Router = Callable[[Event], Sequence[str]]


class StateStore(abc.ABC):
    """The operational state store. Open one with :func:`suitecrm_ext.state.open_store`."""

    #: ``sqlite`` or ``mysql``
    backend: str = ""

    # --- life cycle -----------------------------------------------------------------------

    @abc.abstractmethod
    def ping(self) -> None:
        """Check the store answers (one trivial query); raises StateError when it does not."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close connections. Safe to call twice."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The schema version of the store (equal to ``SCHEMA_VERSION`` once opened)."""

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- cursors --------------------------------------------------------------------------

    @abc.abstractmethod
    def get_cursor(self, name: str) -> dict | None:
        """The cursor saved under ``name``, or None when there is none."""

    @abc.abstractmethod
    def set_cursor(self, name: str, value: dict) -> None:
        """Save (replace) cursor ``name``. ``value`` must be a JSON-serialisable dict."""

    # --- key/value ------------------------------------------------------------------------

    @abc.abstractmethod
    def kv_get(self, ns: str, key: str, default: Any = None) -> Any:
        """The value under ``(ns, key)``, or ``default`` when absent or expired."""

    @abc.abstractmethod
    def kv_get_many(self, ns: str, keys: Iterable[str]) -> dict[str, Any]:
        """``{key: value}`` for those of ``keys`` present (and not expired) in ``ns``."""

    @abc.abstractmethod
    def kv_set(self, ns: str, key: str, value: Any, ttl_seconds: float | None = None) -> None:
        """Store ``value`` (JSON-serialisable) under ``(ns, key)``, replacing any; optional expiry."""

    @abc.abstractmethod
    def kv_set_many(self, ns: str, mapping: Mapping[str, Any], ttl_seconds: float | None = None) -> None:
        """``kv_set`` for every item, in one transaction (all or nothing)."""

    @abc.abstractmethod
    def kv_delete(self, ns: str, key: str) -> bool:
        """Remove ``(ns, key)``; True when something was there."""

    @abc.abstractmethod
    def kv_add(self, ns: str, key: str, value: Any, ttl_seconds: float | None = None) -> bool:
        """Store ``value`` only if ``(ns, key)`` is absent (or expired). Atomic across processes.

        True when this call stored it, False when it was already there. Use it for replay-nonce
        checks and "did I already do X for this event key" markers.
        """

    @abc.abstractmethod
    def kv_keys(self, ns: str, prefix: str = "", limit: int = 1000) -> list[str]:
        """Keys present in ``ns`` starting with ``prefix`` (sorted, at most ``limit``)."""

    @abc.abstractmethod
    def kv_purge_expired(self) -> int:
        """Delete expired entries; returns how many."""

    # --- event queue ----------------------------------------------------------------------

    @abc.abstractmethod
    def enqueue(
        self, events: Iterable[Event], *, cursor: tuple[str, dict] | None = None,
        kv: tuple[str, Mapping[str, Any]] | None = None,
    ) -> int:
        """Store ``events`` durably in one transaction; returns how many were new.

        Events whose ``key`` is already queued (or was queued and is not yet purged) are ignored.
        When ``cursor`` is given as ``(name, value)`` it is saved in the SAME transaction, and so are
        the key/values of ``kv`` given as ``(ns, {key: value})`` (as ``kv_set_many``, no expiry), so a
        crash leaves either all of them, or none.
        """

    @abc.abstractmethod
    def fan_out(self, route: Router, limit: int = 500) -> int:
        """Create the deliveries of up to ``limit`` events not yet fanned out; returns events done.

        ``route(event)`` names the plugins that want the event (possibly none). Each event is
        fanned out exactly once even with several workers (the rows are claimed first). An event
        whose ``route`` raises is left for the next call and the error re-raised as StateError.
        """

    @abc.abstractmethod
    def claim(self, owner: str, limit: int = 50, lease_seconds: float = 120.0) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries to ``owner`` (oldest first) and return them.

        Due: status ``pending``, ``next_attempt_at`` reached, and no live lease. No delivery is
        leased to two owners at once (``SELECT ... FOR UPDATE SKIP LOCKED`` on MySQL, a write
        transaction on SQLite). A lease that expires (crashed worker) makes the delivery due again.
        """

    @abc.abstractmethod
    def extend_lease(self, delivery_id: int, owner: str, lease_seconds: float) -> bool:
        """Renew ``owner``'s lease on a pending delivery to now + ``lease_seconds``.

        False when ``owner`` no longer holds it (another worker claimed it after the lease ran out,
        or it is done): the caller must then not handle it.
        """

    @abc.abstractmethod
    def ack(self, delivery_id: int, owner: str) -> bool:
        """Mark a delivery done. False when ``owner`` no longer holds its lease (it is still done)."""

    @abc.abstractmethod
    def fail(self, delivery_id: int, owner: str, error: str, retry_at: float | None) -> None:
        """Record a failed attempt (``attempts`` + 1, ``last_error``) and drop the lease.

        ``retry_at`` is when to try again; None sends the delivery to the dead-letter list.
        """

    @abc.abstractmethod
    def release(self, delivery_ids: Iterable[int], owner: str) -> int:
        """Drop ``owner``'s leases on these deliveries (not attempted: shutting down)."""

    @abc.abstractmethod
    def release_owner(self, owner: str) -> int:
        """Drop every lease held by ``owner`` (a restarted worker with a stable id reclaims its work)."""

    @abc.abstractmethod
    def dead_letters(self, limit: int = 100, plugin: str | None = None) -> list[Delivery]:
        """Dead deliveries, newest first."""

    @abc.abstractmethod
    def replay(self, delivery_ids: Iterable[int]) -> int:
        """Re-queue these deliveries (dead or done): pending, attempts 0, due now. Returns count."""

    @abc.abstractmethod
    def replay_all_dead(self, plugin: str | None = None) -> int:
        """Re-queue every dead delivery (of ``plugin`` if given). Returns count."""

    @abc.abstractmethod
    def get_delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery by id."""

    @abc.abstractmethod
    def recent_events(self, limit: int = 20) -> list[QueuedEvent]:
        """The last ``limit`` queued events, newest first, with their deliveries."""

    @abc.abstractmethod
    def queue_stats(self) -> QueueStats:
        """Counts of events and deliveries by state."""

    @abc.abstractmethod
    def next_due_at(self) -> float | None:
        """When the earliest pending delivery becomes due (None when none is pending)."""

    @abc.abstractmethod
    def purge_done(self, older_than_seconds: float) -> int:
        """Delete done deliveries older than that, and events left with no delivery. Returns events."""

    # --- locks ----------------------------------------------------------------------------

    @abc.abstractmethod
    def acquire_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take lock ``name`` for ``owner`` until now + ``ttl_seconds``.

        True when taken (or already held by ``owner``, whose lease is extended); False when another
        owner holds a lease that has not expired. An expired lease is taken over.
        """

    @abc.abstractmethod
    def renew_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Extend ``owner``'s lease; False when ``owner`` no longer holds it."""

    @abc.abstractmethod
    def release_lock(self, name: str, owner: str) -> bool:
        """Release the lock if ``owner`` holds it; True when released."""

    @abc.abstractmethod
    def lock_info(self, name: str) -> LockInfo | None:
        """The live lease on ``name`` (None when free or expired)."""

    # --- job runs -------------------------------------------------------------------------

    @abc.abstractmethod
    def job_started(self, name: str, owner: str) -> int:
        """Record the start of a run of job ``name``; returns the run id."""

    @abc.abstractmethod
    def job_finished(self, run_id: int, ok: bool, summary: str | None = None) -> None:
        """Record the end of a run (``summary``: the job's result or the error, truncated)."""

    @abc.abstractmethod
    def last_job_runs(self) -> dict[str, JobRun]:
        """The latest run of every job that ever ran, by job name."""

    @abc.abstractmethod
    def job_runs(self, name: str, limit: int = 20) -> list[JobRun]:
        """Recent runs of one job, newest first."""


def check_name(what: str, value: str, limit: int = MAX_NAME) -> str:
    """Validate a name used as a key; raises StateError naming ``what``."""
    if not isinstance(value, str) or not value:
        raise StateError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise StateError(f"{what} is longer than {limit} characters: {value[:40]!r}...")
    return value
