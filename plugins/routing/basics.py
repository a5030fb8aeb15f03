"""What every part of the route engine shares: the plugin's logger, the rework step's name, RouteBusy,
the clock, and field values as the text a run's snapshot keeps."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

log = logging.getLogger("suitecrm_ext.plugins.routing")

REWORK = "rework"


class RouteBusy(RuntimeError):
    """Another worker is moving this run right now; the event is retried later."""


def utcnow() -> dt.datetime:
    """Now, aware UTC, whole seconds (SuiteCRM keeps seconds)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def text(v: Any) -> str:
    """A field value as the text a snapshot keeps."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    s = str(v).strip()
    # decimals come back as "15.00" from SuiteCRM and 15 from a test: one run per value, not per spelling
    try:
        if s and s.replace(".", "", 1).lstrip("-").isdigit() and "." in s:
            s = s.rstrip("0").rstrip(".") or "0"
    except ValueError:  # pragma: no cover
        pass
    return s



__all__ = ["REWORK", "RouteBusy", "log", "text", "utcnow"]
