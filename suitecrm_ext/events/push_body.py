"""Bodies posted by the logic hook to the push receiver: parsed and checked into events and changes.

:func:`event_from_push` turns a ``POST /events`` body into an :class:`~suitecrm_ext.events.model.Event`,
:func:`change_from_push` a ``POST /validate`` body into a :class:`~suitecrm_ext.events.model.RecordChange`
(see ``events/push.py`` for the shapes). Anything else raises :class:`BadRequest` naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from suitecrm_ext.crm.base import normalize_values, parse_datetime
from suitecrm_ext.events.model import Event, EventKind, FieldChange, RecordChange

_MODULE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}\Z")


class BadRequest(ValueError):
    """A request body is not what the endpoint takes; the message names the field."""


# --- body parsing --------------------------------------------------------------------------


def _req_str(doc: Mapping[str, Any], name: str, limit: int = 100) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name}: required, a non-empty string")
    if len(value) > limit:
        raise BadRequest(f"{name}: longer than {limit} characters")
    return value.strip()


def _opt_str(doc: Mapping[str, Any], name: str, limit: int = 100) -> str | None:
    value = doc.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadRequest(f"{name}: longer than {limit} characters")
    return value


def _obj(doc: Mapping[str, Any], name: str, required: bool = False) -> dict[str, Any]:
    value = doc.get(name)
    if value == []:  # PHP's json_encode writes an empty associative array as []
        value = {}
    if value is None:
        if required:
            raise BadRequest(f"{name}: required, an object of field values")
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{name}: expected an object, got {type(value).__name__}")
    return value


def _module(doc: Mapping[str, Any]) -> str:
    module = _req_str(doc, "module")
    if not _MODULE_RE.match(module):
        raise BadRequest(f"module: not a module name: {module[:40]!r}")
    return module


def load_json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("body: not UTF-8") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise BadRequest(f"body: not valid JSON ({exc.msg} at {where})") from None
    except (ValueError, RecursionError):
        raise BadRequest("body: not valid JSON (too deeply nested)") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"body: expected a JSON object, got {type(doc).__name__}")
    return doc


def event_from_push(doc: Mapping[str, Any], *, received_at: dt.datetime, origin: str = "") -> Event:
    """The Event for a pushed body (see the module docstring). Raises BadRequest naming the field.
    ``origin``: the second CRM it came from (``/o/<origin>/events``), "" for the main one.

    ``values`` are kept as sent (strings), except the well-known ``date_entered``/``date_modified``
    (aware UTC datetimes) and ``deleted`` (bool), as the poller reports them.
    """
    module = _module(doc)
    record_id = _req_str(doc, "id")
    raw_kind = doc.get("kind")
    try:
        kind = EventKind(raw_kind)
    except ValueError:
        allowed = ", ".join(k.value for k in EventKind)
        raise BadRequest(f"kind: must be one of {allowed}, got {str(raw_kind)[:40]!r}") from None
    relation = kind in (EventKind.RELATED, EventKind.UNRELATED)
    raw_time = doc.get("date_modified")
    if raw_time in (None, ""):
        if not relation:
            raise BadRequest("date_modified: required for created/updated/deleted")
        when = received_at
    else:
        try:
            when = parse_datetime(raw_time) if isinstance(raw_time, str) else None
        except (ValueError, OverflowError):  # OverflowError: year 1 moved to UTC
            when = None
        if when is None:
            raise BadRequest(f"date_modified: not a SuiteCRM datetime: {str(raw_time)[:40]!r}")
    if kind is EventKind.CREATED and isinstance(doc.get("date_entered"), str) and doc["date_entered"]:
        # the poller times (and keys) a creation by date_entered; do the same so both de-duplicate
        try:
            when = parse_datetime(doc["date_entered"]) or when
        except (ValueError, OverflowError):
            raise BadRequest(f"date_entered: not a SuiteCRM datetime: {doc['date_entered'][:40]!r}") from None
    changes = {}
    for name, ch in _obj(doc, "changes").items():
        if not isinstance(ch, dict):
            raise BadRequest(f"changes.{name}: expected an object with before/after")
        changes[name] = FieldChange(before=ch.get("before"), after=ch.get("after"))
    link = _opt_str(doc, "link")
    related_id = _opt_str(doc, "related_id")
    raw_values = _obj(doc, "values")
    try:
        values = normalize_values(raw_values, {})
    except (ValueError, OverflowError) as exc:  # e.g. values.date_modified that is not a datetime
        raise BadRequest(f"values: {str(exc)[:200]}") from None
    if relation:
        if not link:
            raise BadRequest(f"link: required for {kind.value}")
        if not related_id:
            raise BadRequest(f"related_id: required for {kind.value}")
    return Event(
        module=module,
        record_id=record_id,
        kind=kind,
        time=when.replace(microsecond=0),
        source="push",
        changes=changes,
        values=values,
        user_id=_opt_str(doc, "user_id"),
        link=link,
        related_module=_opt_str(doc, "related_module"),
        related_id=related_id,
        origin=origin,
    )


def change_from_push(doc: Mapping[str, Any]) -> RecordChange:
    """The RecordChange for a /validate body. Raises BadRequest naming the field."""
    return RecordChange(
        module=_module(doc),
        record_id=_opt_str(doc, "id"),
        before=_obj(doc, "before"),
        after=_obj(doc, "after", required=True),
        user_id=_opt_str(doc, "user_id"),
    )


