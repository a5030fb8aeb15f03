"""The SQL implementation of :class:`StateStore` shared by the SQLite and MySQL backends.

Backends provide a connection, a transaction runner and a few dialect snippets; every statement is
parameterised (``?`` placeholders here, translated for the driver). Table names come from
``migrations.TABLES``, never from input.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from suitecrm_ext.events.codec import CodecError, dumps_event, loads_event
from suitecrm_ext.events.model import Event
from suitecrm_ext.state.base import (
    SCHEMA_VERSION,
    Delivery,
    JobRun,
    LockInfo,
    QueuedEvent,
    QueueStats,
    Router,
    StateError,
    StateStore,
    check_name,
)
from suitecrm_ext.state.migrations import MIGRATIONS, TABLES

T = TypeVar("T")

MAX_ERROR = 4000
_DELIVERY_COLS = (
    "d.id, d.event_key, d.plugin, d.status, d.attempts, d.next_attempt_at, d.last_error, d.lease_owner, "
    "d.lease_until, d.updated_at, e.body"
)


def _dump(value: Any, where: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StateError(f"{where}: value is not JSON-serialisable: {exc}") from None


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class SQLStore(StateStore):
    """Shared SQL logic. Subclasses implement ``_transaction`` and the dialect attributes."""

    #: placeholder of the driver (``?`` or ``%s``)
    paramstyle = "?"
    #: "INSERT OR IGNORE" / "INSERT IGNORE"
    insert_ignore = "INSERT OR IGNORE"
    #: appended to row-claiming SELECTs ("" on SQLite, whose write transaction already excludes others)
    claim_suffix = ""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.t = TABLES[self.backend]
        self._lock = threading.RLock()
        self._closed = False

    # --- plumbing -------------------------------------------------------------------------

    def _transaction(self, fn: Callable[[Any], T], write: bool = True, durable: bool = True) -> T:
        """Run ``fn(cursor)`` in one transaction (retrying on deadlock); subclasses implement.

        ``durable=False`` lets a backend skip the flush to disk at commit for bookkeeping whose loss
        on a power failure only causes a redelivery (claims, acks, failures, fan-out).
        """
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        text = text.format(**self.t)
        return text if self.paramstyle == "?" else text.replace("?", self.paramstyle)

    def _x(self, cur: Any, text: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._sql(text), tuple(params))
        return cur

    def _upsert_sql(self, table: str, cols: Sequence[str], key: Sequence[str]) -> str:
        raise NotImplementedError

    def _in(self, n: int) -> str:
        return ",".join("?" * n)

    def run(self, fn: Callable[[Any], T], write: bool = True, durable: bool = True) -> T:
        """Run ``fn(cursor)`` in one transaction of this store (for code in this package)."""
        if self._closed:
            raise StateError("the state store is closed")
        with self._lock:
            return self._transaction(fn, write, durable)

    def _run_bookkeeping(self, fn: Callable[[Any], T]) -> T:
        """A write whose loss on power failure only means a redelivery (see ``_transaction``)."""
        return self.run(fn, write=True, durable=False)

    def _migrate(self, cur: Any) -> None:
        self._x(cur, "CREATE TABLE IF NOT EXISTS {schema_version} (version INTEGER NOT NULL PRIMARY KEY)")
        row = self._x(cur, "SELECT MAX(version) FROM {schema_version}").fetchone()
        current = int(row[0] or 0)
        if current > SCHEMA_VERSION:
            raise StateError(
                f"state store schema version {current} is newer than this suitecrm-ext supports "
                f"({SCHEMA_VERSION}); upgrade suitecrm-ext or point state: at another store"
            )
        for version in sorted(v for v in MIGRATIONS if v > current):
            for stmt in MIGRATIONS[version][self.backend]:
                cur.execute(stmt)
            self._x(cur, "INSERT INTO {schema_version} (version) VALUES (?)", (version,))

    def schema_version(self) -> int:
        """The highest migration applied."""
        return self.run(lambda cur: int(self._x(cur, "SELECT MAX(version) FROM {schema_version}")
                                        .fetchone()[0] or 0), write=False)

    def ping(self) -> None:
        """One trivial query."""
        self.run(lambda cur: self._x(cur, "SELECT 1").fetchone(), write=False)

    # --- cursors --------------------------------------------------------------------------

    def get_cursor(self, name: str) -> dict | None:
        """The saved cursor or None."""
        check_name("cursor name", name)
        row = self.run(lambda cur: self._x(cur, "SELECT value FROM {cursors} WHERE name = ?", (name,))
                       .fetchone(), write=False)
        return json.loads(row[0]) if row else None

    def _set_cursor(self, cur: Any, name: str, value: dict) -> None:
        check_name("cursor name", name)
        if not isinstance(value, dict):
            raise StateError(f"cursor {name!r}: value must be a dict, got {type(value).__name__}")
        self._x(cur, self._upsert_sql("cursors", ("name", "value", "updated_at"), ("name",)),
                (name, _dump(value, f"cursor {name!r}"), self.clock()))

    def set_cursor(self, name: str, value: dict) -> None:
        """Save cursor ``name``."""
        self.run(lambda cur: self._set_cursor(cur, name, value))

    # --- key/value ------------------------------------------------------------------------

    def kv_get(self, ns: str, key: str, default: Any = None) -> Any:
        """Value or ``default``."""
        got = self.kv_get_many(ns, [key])
        return got[key] if key in got else default

    def kv_get_many(self, ns: str, keys: Iterable[str]) -> dict[str, Any]:
        """Present, unexpired values of ``keys``."""
        check_name("kv namespace", ns)
        wanted = [check_name(f"kv key in {ns!r}", k) for k in dict.fromkeys(keys)]
        if not wanted:
            return {}
        now = self.clock()

        def go(cur: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for part in _chunks(wanted, 500):
                self._x(cur, f"SELECT k, value FROM {{kv}} WHERE ns = ? AND k IN ({self._in(len(part))}) "
                             "AND (expires_at IS NULL OR expires_at > ?)", (ns, *part, now))
                out.update((k, json.loads(v)) for k, v in cur.fetchall())
            return out

        return self.run(go, write=False)

    def _kv_rows(self, ns: str, mapping: Mapping[str, Any], ttl: float | None) -> list[tuple]:
        check_name("kv namespace", ns)
        if ttl is not None and ttl <= 0:
            raise StateError(f"kv {ns!r}: ttl_seconds must be positive, got {ttl}")
        expires = self.clock() + ttl if ttl is not None else None
        return [(ns, check_name(f"kv key in {ns!r}", k), _dump(v, f"kv {ns!r}/{k!r}"), expires)
                for k, v in mapping.items()]

    def kv_set(self, ns: str, key: str, value: Any, ttl_seconds: float | None = None) -> None:
        """Store one value."""
        self.kv_set_many(ns, {key: value}, ttl_seconds)

    def kv_set_many(self, ns: str, mapping: Mapping[str, Any], ttl_seconds: float | None = None) -> None:
        """Store many values in one transaction."""
        rows = self._kv_rows(ns, mapping, ttl_seconds)
        if not rows:
            return
        sql = self._sql(self._upsert_sql("kv", ("ns", "k", "value", "expires_at"), ("ns", "k")))
        self.run(lambda cur: cur.executemany(sql, rows))

    def kv_delete(self, ns: str, key: str) -> bool:
        """Delete one key."""
        check_name("kv namespace", ns)
        return self.run(lambda cur: self._x(cur, "DELETE FROM {kv} WHERE ns = ? AND k = ?", (ns, key))
                        .rowcount > 0)

    def kv_add(self, ns: str, key: str, value: Any, ttl_seconds: float | None = None) -> bool:
        """Insert if absent or expired."""
        (row,) = self._kv_rows(ns, {key: value}, ttl_seconds)
        now = self.clock()

        def go(cur: Any) -> bool:
            self._x(cur, "DELETE FROM {kv} WHERE ns = ? AND k = ? AND expires_at IS NOT NULL "
                         "AND expires_at <= ?", (ns, key, now))
            return self._x(cur, f"{self.insert_ignore} INTO {{kv}} (ns, k, value, expires_at) "
                                "VALUES (?, ?, ?, ?)", row).rowcount == 1

        return self.run(go)

    def kv_keys(self, ns: str, prefix: str = "", limit: int = 1000) -> list[str]:
        """Keys of ``ns`` starting with ``prefix``."""
        check_name("kv namespace", ns)
        now = self.clock()

        def go(cur: Any) -> list[str]:
            self._x(cur, "SELECT k FROM {kv} WHERE ns = ? AND (expires_at IS NULL OR expires_at > ?) "
                         "ORDER BY k", (ns, now))
            out = []
            for (k,) in cur.fetchall():  # prefix compared in Python: no LIKE escaping pitfalls
                if k.startswith(prefix):
                    out.append(k)
                    if len(out) >= limit:
                        break
            return out

        return self.run(go, write=False)

    def kv_purge_expired(self) -> int:
        """Delete expired entries."""
        now = self.clock()
        return self.run(lambda cur: self._x(
            cur, "DELETE FROM {kv} WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)).rowcount)

    # --- event queue ----------------------------------------------------------------------

    def enqueue(
        self, events: Iterable[Event], *, cursor: tuple[str, dict] | None = None,
        kv: tuple[str, Mapping[str, Any]] | None = None,
    ) -> int:
        """Store events (dups by key ignored) and optionally a cursor and kv values, in one transaction."""
        now = self.clock()
        rows = []
        for ev in events:
            if not isinstance(ev, Event):
                raise StateError(f"enqueue: expected Event objects, got {type(ev).__name__}")
            check_name("event key", ev.key)
            try:
                body = dumps_event(ev)
            except CodecError as exc:
                raise StateError(f"event {ev.key}: {exc}") from None
            rows.append((ev.key, ev.module[:100], ev.record_id[:100], ev.kind.value, body, now))
        if cursor is not None:
            if not (isinstance(cursor, tuple) and len(cursor) == 2):
                raise StateError("enqueue: cursor must be a (name, value) tuple")
            check_name("cursor name", cursor[0])
        kv_rows: list[tuple] = []
        if kv is not None:
            if not (isinstance(kv, tuple) and len(kv) == 2 and isinstance(kv[1], Mapping)):
                raise StateError("enqueue: kv must be a (namespace, {key: value}) tuple")
            kv_rows = self._kv_rows(kv[0], kv[1], None)
        kv_sql = self._sql(self._upsert_sql("kv", ("ns", "k", "value", "expires_at"), ("ns", "k")))
        sql = self._sql(f"{self.insert_ignore} INTO {{events}} "
                        "(event_key, module, record_id, kind, body, received_at) VALUES (?, ?, ?, ?, ?, ?)")

        def go(cur: Any) -> int:
            new = 0
            for part in _chunks(rows, 500):
                cur.executemany(sql, part)
                new += max(cur.rowcount, 0)
            if cursor is not None:
                self._set_cursor(cur, cursor[0], cursor[1])
            for part in _chunks(kv_rows, 500):
                cur.executemany(kv_sql, part)
            return new

        return self.run(go)

    def fan_out(self, route: Router, limit: int = 500) -> int:
        """Create deliveries for events not yet fanned out."""
        now = self.clock()
        ins = self._sql(f"{self.insert_ignore} INTO {{deliveries}} (event_seq, event_key, plugin, status, "
                        "attempts, next_attempt_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)")

        def go(cur: Any) -> int:
            self._x(cur, "SELECT seq, event_key, body FROM {events} WHERE fanned_out = 0 ORDER BY seq "
                         f"LIMIT {int(limit)}{self.claim_suffix}")
            rows = cur.fetchall()
            if not rows:
                return 0
            deliveries = []
            for seq, key, body in rows:
                try:
                    ev = loads_event(body)
                except CodecError as exc:
                    deliveries.append((seq, key, "(unreadable)", now, now))
                    self.log_unreadable(key, exc)
                    continue
                try:
                    plugins = list(route(ev))
                except Exception as exc:  # noqa: BLE001 - reported with the event key
                    raise StateError(f"routing event {key} failed: {type(exc).__name__}: {exc}") from exc
                deliveries.extend((seq, key, check_name("plugin name", p), now, now) for p in plugins)
            if deliveries:
                cur.executemany(ins, deliveries)
            seqs = [r[0] for r in rows]
            for part in _chunks(seqs, 500):
                marks = self._in(len(part))
                self._x(cur, f"UPDATE {{events}} SET fanned_out = 1 WHERE seq IN ({marks})", part)
            return len(rows)

        return self._run_bookkeeping(go)

    def log_unreadable(self, key: str, exc: Exception) -> None:
        """Hook for an event body that no longer decodes (a delivery to "(unreadable)" is dead-lettered)."""
        import logging

        logging.getLogger("suitecrm_ext.state").error("event %s: stored body unreadable: %s", key, exc)

    def _deliveries(self, cur: Any, where: str, params: Sequence[Any], tail: str = "") -> list[Delivery]:
        self._x(cur, f"SELECT {_DELIVERY_COLS} FROM {{deliveries}} d JOIN {{events}} e "
                     f"ON e.seq = d.event_seq WHERE {where} {tail}", params)
        out = []
        for (did, key, plugin, status, attempts, nxt, err, owner, until, upd, body) in cur.fetchall():
            try:
                ev = loads_event(body)
            except CodecError as exc:
                ev = Event(module="?", record_id="?", kind="updated", time=_epoch0(), key=key)
                err = f"stored event unreadable: {exc}"
            out.append(Delivery(
                id=int(did), event_key=key, plugin=plugin, event=ev, status=status, attempts=int(attempts),
                next_attempt_at=float(nxt), last_error=err, lease_owner=owner,
                lease_until=float(until) if until is not None else None, updated_at=float(upd),
            ))
        return out

    def claim(self, owner: str, limit: int = 50, lease_seconds: float = 120.0) -> list[Delivery]:
        """Lease due deliveries to ``owner``."""
        check_name("worker id", owner)
        now = self.clock()

        def go(cur: Any) -> list[Delivery]:
            self._x(cur, "SELECT id FROM {deliveries} WHERE status = 'pending' AND next_attempt_at <= ? "
                         "AND (lease_until IS NULL OR lease_until < ?) ORDER BY id "
                         f"LIMIT {int(limit)}{self.claim_suffix}", (now, now))
            ids = [r[0] for r in cur.fetchall()]
            if not ids:
                return []
            marks = self._in(len(ids))
            self._x(cur, f"UPDATE {{deliveries}} SET lease_owner = ?, lease_until = ? WHERE id IN ({marks})",
                    (owner, now + lease_seconds, *ids))
            got = self._deliveries(cur, f"d.id IN ({marks})", ids, "ORDER BY d.id")
            bad = [d.id for d in got if d.plugin == "(unreadable)" or d.event.module == "?"]
            if bad:
                self._x(cur, f"UPDATE {{deliveries}} SET status = 'dead', lease_owner = NULL, "
                             f"lease_until = NULL, last_error = ? WHERE id IN ({self._in(len(bad))})",
                        ("stored event unreadable", *bad))
            return [d for d in got if d.id not in bad]

        return self._run_bookkeeping(go)

    def extend_lease(self, delivery_id: int, owner: str, lease_seconds: float) -> bool:
        """Renew a lease still held (a claim by another worker changes ``lease_owner`` atomically)."""
        now = self.clock()
        return self._run_bookkeeping(lambda cur: self._x(
            cur, "UPDATE {deliveries} SET lease_until = ? WHERE id = ? AND lease_owner = ? "
                 "AND status = 'pending'", (now + lease_seconds, delivery_id, owner)).rowcount == 1)

    def ack(self, delivery_id: int, owner: str) -> bool:
        """Mark done."""
        now = self.clock()

        def go(cur: Any) -> bool:
            n = self._x(cur, "UPDATE {deliveries} SET status = 'done', lease_owner = NULL, "
                             "lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?",
                        (now, delivery_id, owner)).rowcount
            if n:
                return True
            self._x(cur, "UPDATE {deliveries} SET status = 'done', updated_at = ? WHERE id = ? "
                         "AND status = 'pending'", (now, delivery_id))
            return False

        return self._run_bookkeeping(go)

    def fail(self, delivery_id: int, owner: str, error: str, retry_at: float | None) -> None:
        """Record a failed attempt."""
        now = self.clock()
        status = "pending" if retry_at is not None else "dead"
        self._run_bookkeeping(lambda cur: self._x(
            cur, "UPDATE {deliveries} SET attempts = attempts + 1, last_error = ?, status = ?, "
                 "next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? "
                 "WHERE id = ? AND lease_owner = ? AND status = 'pending'",  # a late ack made it done
            ((error or "")[:MAX_ERROR], status, retry_at if retry_at is not None else now, now,
             delivery_id, owner)))

    def release(self, delivery_ids: Iterable[int], owner: str) -> int:
        """Drop leases without an attempt."""
        ids = [int(i) for i in delivery_ids]
        if not ids:
            return 0
        return self._run_bookkeeping(lambda cur: self._x(
            cur, f"UPDATE {{deliveries}} SET lease_owner = NULL, lease_until = NULL "
                 f"WHERE lease_owner = ? AND id IN ({self._in(len(ids))})", (owner, *ids)).rowcount)

    def release_owner(self, owner: str) -> int:
        """Drop all of ``owner``'s leases."""
        return self._run_bookkeeping(lambda cur: self._x(
            cur, "UPDATE {deliveries} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
            (owner,)).rowcount)

    def dead_letters(self, limit: int = 100, plugin: str | None = None) -> list[Delivery]:
        """Dead deliveries, newest first."""
        where, params = "d.status = 'dead'", []
        if plugin:
            where += " AND d.plugin = ?"
            params.append(plugin)
        tail = f"ORDER BY d.updated_at DESC, d.id DESC LIMIT {int(limit)}"
        return self.run(lambda cur: self._deliveries(cur, where, params, tail), write=False)

    def replay(self, delivery_ids: Iterable[int]) -> int:
        """Re-queue deliveries."""
        ids = [int(i) for i in delivery_ids]
        if not ids:
            return 0
        now = self.clock()
        return self.run(lambda cur: self._x(
            cur, "UPDATE {deliveries} SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                 "lease_owner = NULL, lease_until = NULL, updated_at = ? "
                 f"WHERE status IN ('dead', 'done') AND id IN ({self._in(len(ids))})",
            (now, now, *ids)).rowcount)

    def replay_all_dead(self, plugin: str | None = None) -> int:
        """Re-queue every dead delivery."""
        now = self.clock()
        sql = ("UPDATE {deliveries} SET status = 'pending', attempts = 0, next_attempt_at = ?, "
               "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE status = 'dead'")
        params: list[Any] = [now, now]
        if plugin:
            sql += " AND plugin = ?"
            params.append(plugin)
        return self.run(lambda cur: self._x(cur, sql, params).rowcount)

    def get_delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery."""
        got = self.run(lambda cur: self._deliveries(cur, "d.id = ?", (int(delivery_id),)), write=False)
        return got[0] if got else None

    def recent_events(self, limit: int = 20) -> list[QueuedEvent]:
        """Newest events with deliveries."""

        def go(cur: Any) -> list[QueuedEvent]:
            self._x(cur, f"SELECT seq, body, received_at, fanned_out FROM {{events}} ORDER BY seq DESC "
                         f"LIMIT {int(limit)}")
            rows = cur.fetchall()
            if not rows:
                return []
            seqs = [r[0] for r in rows]
            dels = self._deliveries(cur, f"d.event_seq IN ({self._in(len(seqs))})", seqs, "ORDER BY d.id")
            by_key: dict[str, list[Delivery]] = {}
            for d in dels:
                by_key.setdefault(d.event_key, []).append(d)
            out = []
            for seq, body, received, fanned in rows:
                ev = loads_event(body)
                out.append(QueuedEvent(seq=int(seq), event=ev, received_at=float(received),
                                       fanned_out=bool(fanned), deliveries=tuple(by_key.get(ev.key, ()))))
            return out

        return self.run(go, write=False)

    def queue_stats(self) -> QueueStats:
        """Counts by state."""

        def go(cur: Any) -> QueueStats:
            total, unfanned = self._x(cur, "SELECT COUNT(*), COALESCE(SUM(CASE WHEN fanned_out = 0 THEN 1 "
                                           "ELSE 0 END), 0) FROM {events}").fetchone()
            self._x(cur, "SELECT status, COUNT(*) FROM {deliveries} GROUP BY status")
            counts = dict(cur.fetchall())
            return QueueStats(events=int(total), not_fanned_out=int(unfanned),
                              pending=int(counts.get("pending", 0)), done=int(counts.get("done", 0)),
                              dead=int(counts.get("dead", 0)))

        return self.run(go, write=False)

    def next_due_at(self) -> float | None:
        """Earliest due time of a pending delivery (an unfanned event counts as due now)."""

        def go(cur: Any) -> float | None:
            if self._x(cur, "SELECT seq FROM {events} WHERE fanned_out = 0 LIMIT 1").fetchone():
                return self.clock()
            row = self._x(cur, "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND "
                               "lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) "
                               "FROM {deliveries} WHERE status = 'pending'").fetchone()
            return float(row[0]) if row and row[0] is not None else None

        return self.run(go, write=False)

    def purge_done(self, older_than_seconds: float) -> int:
        """Delete old done deliveries and events left without deliveries."""
        cutoff = self.clock() - older_than_seconds

        def go(cur: Any) -> int:
            self._x(cur, "DELETE FROM {deliveries} WHERE status = 'done' AND updated_at < ?", (cutoff,))
            return self._x(cur, "DELETE FROM {events} WHERE fanned_out = 1 AND received_at < ? "
                                "AND NOT EXISTS (SELECT 1 FROM {deliveries} d "
                                "WHERE d.event_seq = {events}.seq)",
                           (cutoff,)).rowcount

        return self.run(go)

    # --- locks ----------------------------------------------------------------------------

    def acquire_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take or extend a lease."""
        check_name("lock name", name)
        check_name("lock owner", owner)
        now = self.clock()

        def go(cur: Any) -> bool:
            self._x(cur, "DELETE FROM {locks} WHERE name = ? AND expires_at <= ?", (name, now))
            if self._x(cur, f"{self.insert_ignore} INTO {{locks}} (name, owner, expires_at) VALUES (?, ?, ?)",
                       (name, owner, now + ttl_seconds)).rowcount == 1:
                return True
            return self._x(cur, "UPDATE {locks} SET expires_at = ? WHERE name = ? AND owner = ?",
                           (now + ttl_seconds, name, owner)).rowcount == 1

        return self.run(go)

    def renew_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Extend a live lease."""
        now = self.clock()
        return self.run(lambda cur: self._x(
            cur, "UPDATE {locks} SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?",
            (now + ttl_seconds, name, owner, now)).rowcount == 1)

    def release_lock(self, name: str, owner: str) -> bool:
        """Release if held."""
        return self.run(lambda cur: self._x(
            cur, "DELETE FROM {locks} WHERE name = ? AND owner = ?", (name, owner)).rowcount == 1)

    def lock_info(self, name: str) -> LockInfo | None:
        """Live lease on ``name``."""
        now = self.clock()
        row = self.run(lambda cur: self._x(
            cur, "SELECT name, owner, expires_at FROM {locks} WHERE name = ? AND expires_at > ?",
            (name, now)).fetchone(), write=False)
        return LockInfo(row[0], row[1], float(row[2])) if row else None

    # --- job runs -------------------------------------------------------------------------

    def job_started(self, name: str, owner: str) -> int:
        """Record a start."""
        check_name("job name", name)
        now = self.clock()
        return self.run(lambda cur: int(self._x(
            cur, "INSERT INTO {job_runs} (name, owner, started_at) VALUES (?, ?, ?)",
            (name, owner, now)).lastrowid))

    def job_finished(self, run_id: int, ok: bool, summary: str | None = None) -> None:
        """Record an end."""
        now = self.clock()
        self.run(lambda cur: self._x(
            cur, "UPDATE {job_runs} SET finished_at = ?, ok = ?, summary = ? WHERE id = ?",
            (now, 1 if ok else 0, (summary or "")[:MAX_ERROR] or None, run_id)))

    @staticmethod
    def _run_row(row: Sequence[Any]) -> JobRun:
        rid, name, owner, started, finished, ok, summary = row
        return JobRun(id=int(rid), name=name, owner=owner, started_at=float(started),
                      finished_at=float(finished) if finished is not None else None,
                      ok=None if ok is None else bool(ok), summary=summary)

    def last_job_runs(self) -> dict[str, JobRun]:
        """Latest run per job."""

        def go(cur: Any) -> dict[str, JobRun]:
            self._x(cur, "SELECT r.id, r.name, r.owner, r.started_at, r.finished_at, r.ok, r.summary "
                         "FROM {job_runs} r JOIN (SELECT name, MAX(id) AS id FROM {job_runs} "
                         "GROUP BY name) m ON m.id = r.id")
            return {r.name: r for r in map(self._run_row, cur.fetchall())}

        return self.run(go, write=False)

    def job_runs(self, name: str, limit: int = 20) -> list[JobRun]:
        """Recent runs of one job."""
        return self.run(lambda cur: [self._run_row(r) for r in self._x(
            cur, "SELECT id, name, owner, started_at, finished_at, ok, summary FROM {job_runs} "
                 f"WHERE name = ? ORDER BY id DESC LIMIT {int(limit)}", (name,)).fetchall()], write=False)


def _epoch0():
    import datetime as dt

    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
