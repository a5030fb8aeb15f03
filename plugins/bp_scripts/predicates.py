"""Predicates bp_scripts adds to the condition language: dates relative to today.

``{predicate: date_reached, args: {field: bp_remind_on_c}}``
    the date in the field is today or earlier (``days_before: 3``: three days before it already);
``{predicate: date_within, args: {field: end_date, days: 30}}``
    the date is between today and 30 days from today (a subscription ending within a month).

An empty or unreadable date never holds (the reason says so). "Today" is the UTC date of the check, or
``facts.extra["today"]`` when the caller gives one (the engine passes the business calendar's date).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from suitecrm_ext.workflow import Facts, Predicates


def _today(facts: Facts) -> dt.date:
    today = facts.extra.get("today")
    return today if isinstance(today, dt.date) else dt.datetime.now(dt.timezone.utc).date()


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()[:10]
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def date_reached(facts: Facts, field: str, days_before: int = 0) -> bool | str:
    """The field's date minus ``days_before`` days is today or past."""
    d = _date(facts.value(field))
    if d is None:
        return f"{field} holds no date"
    due = d - dt.timedelta(days=int(days_before))
    return (
        True if _today(facts) >= due else f"{field} is {d.isoformat()}: not reached until {due.isoformat()}"
    )


def date_within(facts: Facts, field: str, days: int) -> bool | str:
    """The field's date is from today to ``days`` days ahead."""
    d = _date(facts.value(field))
    if d is None:
        return f"{field} holds no date"
    today = _today(facts)
    if today <= d <= today + dt.timedelta(days=int(days)):
        return True
    return f"{field} is {d.isoformat()}, not within {days} days from {today.isoformat()}"


PREDICATES = Predicates()
PREDICATES.register("date_reached", date_reached, args=("field", "days_before"))
PREDICATES.register("date_within", date_within, args=("field", "days"))

__all__ = ["PREDICATES", "date_reached", "date_within"]
