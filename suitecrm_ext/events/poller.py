"""The polling change feed: turns rows changed in SuiteCRM into events in the state store's queue.

It needs no change to SuiteCRM. Per watched module it keeps a watermark ``(date_modified, id)`` in a
store cursor (``poller:<Module>``) and, on every :meth:`ChangeFeed.poll_once`, reads through the CRM
interface (MySQL transport when configured, else the API)::

    find(module, where=date_modified >= watermark - overlap, order=[date_modified, id], include_deleted=True)

Why the overlap: SuiteCRM stamps ``date_modified`` in PHP *before* its transaction commits, with
one-second resolution. A row can therefore become visible after the poller has moved its watermark
past that row's ``date_modified`` (a late commit), and a second change in the same second carries the
same stamp. Re-scanning ``overlap_seconds`` behind the watermark catches both; a per-record snapshot
(state kv namespace ``poller.seen``) makes sure a re-seen row is not emitted again.

How a row becomes an event:

- **created**: not seen before and ``date_entered`` at or after the feed's start (always, when the
  feed started from the beginning). One event per record, timed and keyed by ``date_entered``, so
  it can never be made twice; a record created and saved again before the next poll gives one
  *created* event with its latest values;
- **updated**: seen before with an older ``date_modified``; or not seen before and created before
  the feed started (then ``before`` values are unknown: None);
- **deleted**: ``deleted = 1`` and not already reported deleted (once per record; a record created
  and deleted between two polls gives only *deleted*);
- **same second**: a row whose ``date_modified`` equals the snapshot's (or is older: two concurrent
  saves of one record committed in the other order) yields another *updated* event only when a
  *watched* value differs (watched: the fields named by the module's WatchSpecs; when a spec names no
  fields, every field). Its key is the normal key, which holds the watched state and so equals the
  push's key for that save; only where that could collide with an event already reported — the
  same state earlier in that second (the snapshot keeps the second's state digests, ``ds``), a late
  commit, no field named, a snapshot without ``ds`` — it gets ``~n``, ``n`` counting the record's
  follow-ups (kept in its snapshot): delivered twice at worst, never lost. A row re-seen with
  identical watched values yields nothing. The snapshot keeps the latest ``date_modified`` seen, so
  a save stamped later again after such a late commit is compared against that second too.
- an update in which no watched field changed is not queued when every spec of the module names
  fields (nobody would receive it); the snapshot still advances.

``changes`` holds before/after values of the watched (named) fields that changed; ``values`` the
record's values as read. Event keys are :func:`~suitecrm_ext.events.model.make_key` (module, id,
kind, second of ``date_modified``; for *updated* also the digest of the named watched fields' values
after the change), the same as the push receiver's for the same change, so an event seen by both
sources is queued once, while two saves of one record in one second that change a watched field are
two events. (Modules watched only whole, with no field named, are keyed by the second alone: the
push of the second save of a second is then taken for the first; polling's follow-up catches it.)

Crash safety: rows are handled in chunks of ``batch_size``; each chunk's events, the new watermark
and the chunk's snapshots are written in ONE store transaction (``enqueue(events, cursor=..., kv=...)``).
A crash leaves all of them or none: the re-scan then re-creates the same events with the same keys.
(Snapshots written separately could be lost for rows older than ``watermark - overlap``, which are
not re-scanned; the next change of such a record was then mistaken for its creation and dropped.)

Several workers: given a ``lock_owner`` (the worker id), one feed polls at a time (a lease in the
store, see :meth:`ChangeFeed.poll_once`); the others take over when its lease expires or is released.

First start: the feed begins "now" (history is not replayed); ``start="beginning"`` or a datetime
changes that. The start is saved in the cursor (``floor``) so a restart does not move it.

A second CRM (``origin="portal"``): a plugin that watches another SuiteCRM runs its own feed over it
with an origin name. Its cursors are ``poller:<origin>:<Module>``, its snapshots keyed
``<origin>:<Module>:<id>``, and its events carry the origin (and so a key of their own); only specs
with that origin are given to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from suitecrm_ext.crm.base import CRM, Cond, Record
from suitecrm_ext.events.codec import CodecError, decode_value, encode_value, iso_utc, parse_iso_utc
from suitecrm_ext.events.model import Event, EventKind, FieldChange, WatchSpec, make_key, state_digest

log = logging.getLogger("suitecrm_ext.events.poller")

#: kv namespace of the per-record snapshots
SNAPSHOT_NS = "poller.seen"
#: cursor name prefix (``poller:Accounts``)
CURSOR_PREFIX = "poller:"
#: the lease that lets one feed poll at a time among the workers sharing a store
LOCK_NAME = "change-feed"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_PLAIN = (str, int, float, bool, type(None))


def _jsonable(value: Any) -> Any:
    """The codec's tagged form of a value, or its text when the codec has no type for it."""
    if isinstance(value, _PLAIN):
        return value
    try:
        return encode_value(value)
    except CodecError:
        return str(value)


def _storable(value: Any) -> Any:
    """The value itself when an event can carry it (see events/codec.py), else its text."""
    if isinstance(value, (*_PLAIN, dt.date, Decimal)):
        return value
    try:
        encode_value(value)
    except CodecError:
        return str(value)
    return value


def _second(value: dt.datetime) -> dt.datetime:
    value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class ModuleWatch:
    """What the feed watches in one module: the union of the plugins' specs for it.

    ``fields``: the named watched fields (their before/after values are kept); ``whole``: some spec
    named no fields, so any change to the record counts; ``kinds``: the kinds anyone wants.
    """

    module: str
    fields: tuple[str, ...]
    whole: bool
    kinds: frozenset[EventKind]

    @classmethod
    def merge(cls, specs: Sequence[WatchSpec]) -> dict[str, ModuleWatch]:
        """Group specs by module."""
        out: dict[str, ModuleWatch] = {}
        for module in dict.fromkeys(s.module for s in specs):
            mine = [s for s in specs if s.module == module]
            fields = tuple(dict.fromkeys(f for s in mine for f in s.fields))
            out[module] = cls(
                module=module,
                fields=fields,
                whole=any(not s.fields for s in mine),
                kinds=frozenset(k for s in mine for k in s.kinds),
            )
        return out


class ChangeFeed:
    """The polling change feed over a CRM and a state store (see the module docstring).

    ``crm``: any :class:`~suitecrm_ext.crm.base.CRM` (MySQL transport for speed, else an API);
    ``store``: the state store; ``watch``: the plugins' WatchSpecs (the feed polls their modules);
    ``overlap_seconds``: how far behind the watermark to re-scan; ``clock``: "now" as an aware UTC
    datetime; ``start``: ``"now"`` (default), ``"beginning"`` or a datetime, used when a module has
    no cursor yet; ``batch_size``: rows per store transaction; ``lock_owner``/``lock_ttl_seconds``:
    this feed's name in the polling lease (pass the worker id; None: no lease) and its length;
    ``origin``: ``""`` for the main CRM, else the name of the second CRM ``crm`` is (see the module
    docstring; its lease is ``change-feed:<origin>``).
    """

    def __init__(
        self,
        crm: CRM,
        store: Any,
        watch: Iterable[WatchSpec],
        *,
        overlap_seconds: float = 120,
        clock: Callable[[], dt.datetime] = _utcnow,
        start: Literal["now", "beginning"] | dt.datetime = "now",
        batch_size: int = 500,
        lock_owner: str | None = None,
        lock_ttl_seconds: float = 60.0,
        origin: str = "",
    ):
        if overlap_seconds < 0:
            raise ValueError("overlap_seconds must be >= 0")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not (start in ("now", "beginning") or isinstance(start, dt.datetime)):
            raise ValueError(f"start must be 'now', 'beginning' or a datetime, got {start!r}")
        self.crm = crm
        self.store = store
        self.origin = origin
        specs = list(watch)
        foreign = sorted({s.origin for s in specs if s.origin != origin})
        if foreign:
            raise ValueError(f"specs of origin(s) {', '.join(map(repr, foreign))} given to the feed of "
                             f"origin {origin!r}")
        self.watches = ModuleWatch.merge(specs)
        self._prefix = CURSOR_PREFIX + (f"{origin}:" if origin else "")
        self._snap_prefix = f"{origin}:" if origin else ""
        self._lock_name = LOCK_NAME + (f":{origin}" if origin else "")
        self.overlap = dt.timedelta(seconds=overlap_seconds)
        self.clock = clock
        self.start = start
        self.batch_size = batch_size
        self.lock_owner = lock_owner
        self.lock_ttl = lock_ttl_seconds
        self._checked: set[str] = set()

    @property
    def modules(self) -> list[str]:
        """The modules this feed polls."""
        return list(self.watches)

    # --- polling ----------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Poll every watched module once; returns how many new events were queued.

        With a ``lock_owner``, only one feed polls at a time among the processes sharing the store:
        the feed holds the lease ``change-feed`` (renewed on every poll, after every chunk stored
        and before every module, ``lock_ttl_seconds``; a crashed holder's lease expires, at once when
        it restarts with the same owner name); while
        another feed holds it, this returns 0 without reading anything. Without one, every feed
        polls (events still de-duplicate by key; the work is done twice).
        A module whose read fails is logged and skipped (the others are still polled); the error of
        the first failing module is re-raised at the end so a caller can back off.
        """
        if self.lock_owner and not self.store.acquire_lock(self._lock_name, self.lock_owner, self.lock_ttl):
            log.debug("change feed: another worker holds the %s lease; not polling", self._lock_name)
            return 0
        total = 0
        first_error: Exception | None = None
        for i, module in enumerate(self.watches):
            if i and not self._keep_lease():
                break
            try:
                total += self.poll_module(module)
            except Exception as exc:  # noqa: BLE001 - one module's failure must not stop the others
                log.error("change feed: polling %s failed: %s: %s", module, type(exc).__name__, exc)
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return total

    def run_forever(self, stop: threading.Event, interval_seconds: float) -> None:
        """Poll every ``interval_seconds`` until ``stop`` is set (errors are logged and retried)."""
        try:
            while not stop.is_set():
                try:
                    self.poll_once()
                except Exception:  # noqa: BLE001 - logged in poll_once; keep polling
                    pass
                stop.wait(interval_seconds)
        finally:
            self.release()

    def release(self) -> None:
        """Give up the polling lease (at shutdown) so another worker takes over at once."""
        if not self.lock_owner:
            return
        try:
            self.store.release_lock(self._lock_name, self.lock_owner)
        except Exception as exc:  # noqa: BLE001 - the lease expires by itself anyway
            log.warning("change feed: could not release the %s lease: %s", self._lock_name, exc)

    def cursor(self, module: str) -> dict | None:
        """The saved watermark of a module (``{"date_modified", "id", "floor"}``), or None."""
        return self.store.get_cursor(self._prefix + module)

    def poll_module(self, module: str) -> int:
        """Poll one module; returns how many new events were queued."""
        watch = self.watches[module]
        self._check_fields(watch)
        name = self._prefix + module
        cur = self.store.get_cursor(name)
        if cur is None:
            cur = self._initial_cursor()
            self.store.set_cursor(name, cur)
        floor = parse_iso_utc(cur["floor"], f"cursor {name}.floor") if cur.get("floor") else None
        wm = parse_iso_utc(cur["date_modified"], f"cursor {name}.date_modified") \
            if cur.get("date_modified") else None
        wm_id = cur.get("id") or ""
        since = None
        if wm is not None:
            since = wm - self.overlap
            if floor is not None and since < floor:
                since = floor
        elif floor is not None:
            since = floor
        where = Cond("date_modified", "gte", since) if since is not None else None
        rows = self.crm.find(module, where=where, order=["date_modified", "id"], include_deleted=True)
        new = 0
        while True:
            chunk = list(itertools.islice(rows, self.batch_size))
            if not chunk:
                break
            events, snaps, wm, wm_id = self._handle_chunk(watch, chunk, wm, wm_id, floor)
            value = {"date_modified": iso_utc(wm) if wm else None, "id": wm_id,
                     "floor": iso_utc(floor) if floor else None}
            # events + watermark + snapshots in one transaction (see "Crash safety")
            new += self.store.enqueue(events, cursor=(name, value), kv=(SNAPSHOT_NS, snaps))
            if not self._keep_lease():
                break
        return new

    # --- internals --------------------------------------------------------------------------

    def _keep_lease(self) -> bool:
        """Renew the polling lease during a long poll; False (stop polling) when another feed took it."""
        if not self.lock_owner or self.store.acquire_lock(self._lock_name, self.lock_owner, self.lock_ttl):
            return True
        log.warning("change feed: the %s lease ran out during a long poll and another worker took it; "
                    "stopping here (it continues from the saved watermark)", self._lock_name)
        return False

    def _initial_cursor(self) -> dict:
        if self.start == "beginning":
            return {"date_modified": None, "id": "", "floor": None}
        start = _second(self.clock() if self.start == "now" else self.start)
        return {"date_modified": iso_utc(start), "id": "", "floor": iso_utc(start)}

    def _check_fields(self, watch: ModuleWatch) -> None:
        """Warn once about watched fields the module does not have (a plugin's typo)."""
        if watch.module in self._checked or not watch.fields:
            return
        try:
            known = self.crm.fields(watch.module)
        except Exception:  # noqa: BLE001 - metadata is optional here; find() will report real errors
            return
        self._checked.add(watch.module)
        unknown = [f for f in watch.fields if f not in known]
        if unknown:
            log.warning("change feed: %s has no field(s) %s; watched by a plugin, they will never change",
                        watch.module, ", ".join(unknown))

    def _compared(self, watch: ModuleWatch, rec: Record) -> dict[str, Any]:
        names: Iterable[str] = rec.values.keys() if watch.whole else watch.fields
        return {n: _jsonable(rec.get(n)) for n in names}

    @staticmethod
    def _fingerprint(compared: Mapping[str, Any]) -> str:
        text = json.dumps(compared, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _handle_chunk(
        self, watch: ModuleWatch, chunk: list[Record], wm: dt.datetime | None, wm_id: str,
        floor: dt.datetime | None,
    ) -> tuple[list[Event], dict[str, dict], dt.datetime | None, str]:
        keys = [f"{self._snap_prefix}{watch.module}:{r.id}" for r in chunk]
        known = self.store.kv_get_many(SNAPSHOT_NS, keys)
        events: list[Event] = []
        snaps: dict[str, dict] = {}
        for key, rec in zip(keys, chunk, strict=True):
            dm = rec.get("date_modified")
            if not isinstance(dm, dt.datetime):
                log.debug("change feed: %s %s has no date_modified; skipped", watch.module, rec.id)
                continue
            dm = _second(dm)
            if wm is None or (dm, rec.id) > (wm, wm_id):
                wm, wm_id = dm, rec.id
            ev, snap = self._decide(watch, rec, dm, known.get(key), floor)
            if snap is not None:
                # a record read twice in one chunk (paged while it was saved again): its second
                # version is compared with the first, not with the snapshot from before this chunk
                snaps[key] = known[key] = snap
            if ev is not None and ev.kind in watch.kinds:
                events.append(ev)
        return events, snaps, wm, wm_id

    def _decide(
        self, watch: ModuleWatch, rec: Record, dm: dt.datetime, snap: Mapping[str, Any] | None,
        floor: dt.datetime | None,
    ) -> tuple[Event | None, dict | None]:
        """The event for one row (or None) and its new snapshot (or None when unchanged)."""
        compared = self._compared(watch, rec)
        fp = self._fingerprint(compared)
        named = compared if not watch.whole else {f: _jsonable(rec.get(f)) for f in watch.fields}
        new_snap = {"dm": iso_utc(dm), "del": bool(rec.deleted), "h": fp, "v": named}

        def event(kind: EventKind, changes: Mapping[str, FieldChange], when: dt.datetime = dm) -> Event:
            return Event(module=watch.module, record_id=rec.id, kind=kind, time=when, source="poll",
                         changes=changes, values={k: _storable(v) for k, v in rec.values.items()},
                         user_id=rec.get("modified_user_id") or None, origin=self.origin)

        follow_up = late = False
        seq = int(snap.get("n", 0)) if snap is not None else 0
        #: state digests of the updates keyed in the snapshot's second (None: a snapshot from before
        #: they were kept, so any follow-up gets its ~n)
        in_second: list[str] | None = [] if snap is None else snap.get("ds")
        if snap is not None:
            snap_dm = parse_iso_utc(snap.get("dm", ""), "snapshot dm")
            unchanged = snap.get("h") == fp and bool(snap.get("del")) == bool(rec.deleted)
            if dm <= snap_dm:
                if unchanged:
                    return None, None  # re-seen in the overlap window: already emitted
                # same second, or a save stamped before the version already seen but committed
                # after it (two concurrent saves of one record): another change of that second
                follow_up, late = True, dm < snap_dm
                seq += 1
                new_snap["n"] = seq
                # keep the latest stamp seen: a later save in that second is a follow-up too
                new_snap["dm"] = snap["dm"]
            else:
                in_second = []
                if seq:
                    new_snap["n"] = seq
        if in_second is not None:
            new_snap["ds"] = in_second
        if rec.deleted:
            if snap is not None and snap.get("del"):
                return None, new_snap  # deletion already reported; other columns may have moved
            return event(EventKind.DELETED, {}), new_snap
        if snap is None:
            entered = rec.get("date_entered")
            if isinstance(entered, dt.datetime) and (floor is None or _second(entered) >= floor):
                # new since the feed started (possibly saved again since): one "created", keyed by
                # date_entered so that re-detecting it later can never make a second one
                changes = {f: FieldChange(None, _storable(rec.get(f))) for f in watch.fields}
                return event(EventKind.CREATED, changes, _second(entered)), new_snap
            # existed before the feed started: what it was before is unknown
            changes = {f: FieldChange(None, _storable(rec.get(f))) for f in watch.fields}
        else:
            before = snap.get("v") or {}
            changes = {
                f: FieldChange(_decode_snap(before.get(f)), _storable(rec.get(f)))
                for f in watch.fields if f not in before or before.get(f) != named[f]
            }
            if snap.get("del"):
                changes.setdefault("deleted", FieldChange(True, False))  # restored record
            if not changes and not watch.whole:
                return None, new_snap  # no watched field changed: nobody wants this update
        ev = event(EventKind.UPDATED, changes)
        digest = state_digest(rec.values, watch.fields) if watch.fields else ""
        key = make_key(ev, digest)
        if follow_up:
            # another change in a second already reported: with the watched state in the key it is keyed
            # as the push of that save keys it, unless that state was already reported in the second
            # (A -> B -> A) or the save was stamped in an earlier second (a late commit), whose states
            # are not kept; then the key gets ~n, a key of its own
            if not digest or late or in_second is None or digest in in_second:
                key = f"{key}~{seq}"
        if digest and in_second is not None and new_snap["dm"] == iso_utc(dm):
            new_snap["ds"] = [*in_second, digest]
        return dataclasses.replace(ev, key=key), new_snap


def _decode_snap(value: Any) -> Any:
    """A snapshot value back to Python (datetimes etc. were stored in the codec's tagged form)."""
    try:
        return decode_value(value)
    except CodecError:
        return value
