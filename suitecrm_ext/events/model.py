"""The event model shared by the poller, the push receiver, the dispatcher and plugins."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


class EventKind(str, enum.Enum):
    """What happened to a record."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RELATED = "related"
    UNRELATED = "unrelated"


@dataclass(frozen=True)
class FieldChange:
    """One field's value before and after the change. ``before`` is None when it is not known."""

    before: Any
    after: Any


@dataclass(frozen=True)
class Event:
    """A change to a SuiteCRM record, seen by polling or pushed by the logic hook.

    ``key`` is a stable idempotency key: the same change seen twice (two polls, or a poll and a push)
    has the same key, so handlers can record what they did under it and skip repeats.
    ``values`` holds the record's values as seen with the event (may be partial).
    For related/unrelated: ``link`` is the link name and ``related_module``/``related_id`` the other side.
    ``origin`` names the SuiteCRM the change happened in: ``""`` for the one in the ``suitecrm`` section,
    else a name a plugin gave a second CRM it watches (e.g. portal_sync's ``"portal"``); it is part of
    the key, so the same record id in two CRMs never collides.
    """

    module: str
    record_id: str
    kind: EventKind
    time: dt.datetime
    source: Literal["poll", "push"] = "poll"
    changes: Mapping[str, FieldChange] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    link: str | None = None
    related_module: str | None = None
    related_id: str | None = None
    origin: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):
            object.__setattr__(self, "kind", EventKind(self.kind))
        if self.time.tzinfo is None:
            object.__setattr__(self, "time", self.time.replace(tzinfo=dt.timezone.utc))
        if not self.key:
            object.__setattr__(self, "key", make_key(self))

    def changed(self, name: str) -> bool:
        """True when field ``name`` is among the changes."""
        return name in self.changes


def make_key(ev: Event, state: str = "") -> str:
    """Idempotency key from what identifies a change: module, id, kind, second of change, other side
    (and the origin, for a change in a second CRM: ``<origin>|<module>:<id>:...``).

    ``state``: for an *updated* event, the :func:`state_digest` of the watched values after the change.
    SuiteCRM stamps ``date_modified`` to the second, so two saves of one record in one second differ
    only by what they saved; with the state in the key they are two events, while the poll and the push
    of one save (same second, same values) still share one key.
    """
    stamp = ev.time.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    parts = [ev.module, ev.record_id, ev.kind.value, stamp, ev.link or "", ev.related_id or ""]
    if ev.origin:
        parts.append(ev.origin)
    if state:
        parts.append(state)
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    key = f"{ev.module}:{ev.record_id}:{ev.kind.value}:{digest}"
    return f"{ev.origin}|{key}" if ev.origin else key


def state_digest(values: Mapping[str, Any], fields: Iterable[str] | None = None) -> str:
    """A short digest of a record's values after a change: of ``fields`` (all of ``values`` when None).

    Values are compared in one text form whether they come typed (the poller: bool, int, aware
    datetime) or as PHP's strings (the push receiver): ``True``/``"1"``, ``5``/``"5"``, a datetime
    and its ``YYYY-MM-DD HH:MM:SS`` UTC text, and ``O&#039;Brien``/``O'Brien`` (SuiteCRM's to_html)
    give the same digest; a missing value is "". Where the two still differ (e.g. a decimal saved as
    "10" and stored as "10.00") the push and the poll of one save become two events: delivered twice,
    never lost.
    """
    names = sorted(values) if fields is None else sorted(set(fields))
    text = "\x1e".join(f"{n}={_canonical(values.get(n))}" for n in names)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return html.unescape(value)  # a bean's text in PHP is HTML-encoded, the stored (polled) one not
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class RecordChange:
    """A change about to be saved (SuiteCRM ``before_save``), for ``ext_validate_record_change``.

    ``record_id`` is None for a new record. ``before`` holds the stored values (``$bean->fetched_row``),
    ``after`` the values being saved; ``changed`` the names whose value differs.
    """

    module: str
    record_id: str | None
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    user_id: str | None = None

    @property
    def is_new(self) -> bool:
        """True when the record is being created."""
        return not self.record_id or not self.before

    @property
    def changed(self) -> set[str]:
        """Names of fields whose value changes."""
        return {
            k for k, v in self.after.items() if str(self.before.get(k, "")) != str(v if v is not None else "")
        }


@dataclass(frozen=True)
class WatchSpec:
    """What a plugin wants to hear about: a module, optionally only some kinds and fields.

    ``fields`` are the fields whose before/after values the poller keeps so it can report
    field-level changes; an empty tuple means "any change to the record". ``origin`` is ``""`` for
    the CRM of the ``suitecrm`` section (the core's change feed and ``POST /events`` serve it); a
    plugin that watches a second CRM names it here, runs a ``ChangeFeed(..., origin=...)`` over it
    and may have it push to ``POST /o/<origin>/events`` (docs/events.md, "Second CRMs").
    """

    module: str
    fields: tuple[str, ...] = ()
    kinds: frozenset[EventKind] = frozenset(EventKind)
    origin: str = ""

    def matches(self, event: Event) -> bool:
        """Whether this spec wants ``event``."""
        if event.module != self.module or event.kind not in self.kinds or event.origin != self.origin:
            return False
        if self.fields and event.kind is EventKind.UPDATED:
            return any(f in event.changes for f in self.fields)
        return True
