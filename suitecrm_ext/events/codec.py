"""The JSON form of an :class:`~suitecrm_ext.events.model.Event` (queue rows, dead letters, push bodies).

Form (version 1)::

    {"v": 1, "key": "Accounts:<id>:updated:<digest>", "module": "Accounts", "record_id": "<id>",
     "kind": "updated", "time": "2026-11-23T09:10:00Z", "source": "poll",
     "changes": {"name": {"before": "Old", "after": "New"}},
     "values": {"name": "New", "date_modified": {"$dt": "2026-11-23T09:10:00Z"}},
     "user_id": "1", "link": null, "related_module": null, "related_id": null}

An event from a second CRM also has ``"origin": "<name>"`` (absent for the main CRM).
``time`` is ISO 8601 in UTC with a ``Z`` suffix. Values that JSON has no type for are tagged so they
come back with their type: ``{"$dt": iso-utc}`` (datetime), ``{"$date": "YYYY-MM-DD"}``,
``{"$dec": "12.50"}`` (Decimal); other non-JSON values are refused with an error naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from suitecrm_ext.events.model import Event, EventKind, FieldChange

CODEC_VERSION = 1


class CodecError(ValueError):
    """An event cannot be encoded or a stored/posted document is not a valid event."""


def iso_utc(value: dt.datetime) -> str:
    """A datetime as ISO 8601 UTC with ``Z`` (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso_utc(text: str, where: str = "time") -> dt.datetime:
    """Parse ISO 8601 (``Z`` or offset; naive = UTC) into an aware UTC datetime."""
    if not isinstance(text, str):
        raise CodecError(f"{where}: expected an ISO 8601 string, got {type(text).__name__}")
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CodecError(f"{where}: not an ISO 8601 datetime: {text[:40]!r}") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def encode_value(value: Any, where: str = "value") -> Any:
    """A Python value -> its JSON-able tagged form."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return {"$dt": iso_utc(value)}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, Mapping):
        return {str(k): encode_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise CodecError(f"{where}: cannot store a {type(value).__name__} in an event")


def decode_value(value: Any, where: str = "value") -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, body), = value.items()
            if tag == "$dt":
                return parse_iso_utc(body, where)
            if tag == "$date":
                try:
                    return dt.date.fromisoformat(str(body))
                except ValueError:
                    raise CodecError(f"{where}: not a date: {str(body)[:20]!r}") from None
            if tag == "$dec":
                try:
                    return Decimal(str(body))
                except ArithmeticError:
                    raise CodecError(f"{where}: not a decimal: {str(body)[:20]!r}") from None
        return {k: decode_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON-able dict of an event (see the module docstring)."""
    doc = {
        "v": CODEC_VERSION,
        "key": event.key,
        "module": event.module,
        "record_id": event.record_id,
        "kind": event.kind.value,
        "time": iso_utc(event.time),
        "source": event.source,
        "changes": {
            name: {"before": encode_value(ch.before, f"changes.{name}.before"),
                   "after": encode_value(ch.after, f"changes.{name}.after")}
            for name, ch in event.changes.items()
        },
        "values": {k: encode_value(v, f"values.{k}") for k, v in event.values.items()},
        "user_id": event.user_id,
        "link": event.link,
        "related_module": event.related_module,
        "related_id": event.related_id,
    }
    if event.origin:
        doc["origin"] = event.origin
    return doc


def _opt_str(doc: Mapping[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is None or isinstance(value, str):
        return value
    raise CodecError(f"{name}: expected a string or null, got {type(value).__name__}")


def _req_str(doc: Mapping[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise CodecError(f"{name}: required, a non-empty string")
    return value


def event_from_dict(doc: Mapping[str, Any]) -> Event:
    """An Event from its dict form; raises CodecError naming the bad field."""
    if not isinstance(doc, Mapping):
        raise CodecError(f"event: expected an object, got {type(doc).__name__}")
    version = doc.get("v", CODEC_VERSION)
    if version != CODEC_VERSION:
        raise CodecError(f"v: unsupported event format version {version!r} (this code reads {CODEC_VERSION})")
    try:
        kind = EventKind(doc.get("kind"))
    except ValueError:
        allowed = ", ".join(k.value for k in EventKind)
        raise CodecError(f"kind: must be one of {allowed}, got {doc.get('kind')!r}") from None
    source = doc.get("source", "poll")
    if source not in ("poll", "push"):
        raise CodecError(f"source: must be poll or push, got {source!r}")
    raw_changes = doc.get("changes") or {}
    if not isinstance(raw_changes, Mapping):
        raise CodecError("changes: expected an object of {field: {before, after}}")
    changes = {}
    for name, ch in raw_changes.items():
        if not isinstance(ch, Mapping):
            raise CodecError(f"changes.{name}: expected an object with before/after")
        changes[name] = FieldChange(
            before=decode_value(ch.get("before"), f"changes.{name}.before"),
            after=decode_value(ch.get("after"), f"changes.{name}.after"),
        )
    raw_values = doc.get("values") or {}
    if not isinstance(raw_values, Mapping):
        raise CodecError("values: expected an object")
    key = doc.get("key") or ""
    if not isinstance(key, str):
        raise CodecError("key: expected a string")
    return Event(
        module=_req_str(doc, "module"),
        record_id=_req_str(doc, "record_id"),
        kind=kind,
        time=parse_iso_utc(doc.get("time"), "time"),
        source=source,
        changes=changes,
        values={k: decode_value(v, f"values.{k}") for k, v in raw_values.items()},
        user_id=_opt_str(doc, "user_id"),
        link=_opt_str(doc, "link"),
        related_module=_opt_str(doc, "related_module"),
        related_id=_opt_str(doc, "related_id"),
        origin=_opt_str(doc, "origin") or "",
        key=key,
    )


def dumps_event(event: Event) -> str:
    """Compact JSON text of an event."""
    return json.dumps(event_to_dict(event), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads_event(text: str | bytes) -> Event:
    """An Event from JSON text; raises CodecError."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"event: not valid JSON: {exc}") from None
    return event_from_dict(doc)
