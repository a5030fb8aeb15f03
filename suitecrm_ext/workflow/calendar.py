"""The business calendar: working hours, Russian public holidays and transfers, deadlines in working time.

Working days are Monday–Friday, except public holidays, plus the Saturdays/Sundays a government decree
makes working days (transferred working days). Both come from the maintained ``holidays`` library
(``holidays.RU``: public holidays and the decreed days off, and ``weekend_workdays``); the config adds
what the library cannot know yet (next year's decree, a company day off) and wins over it::

    workflow:
      calendar:
        country: RU
        timezone: Europe/Moscow
        hours: ["09:00", "18:00"]        # one working interval a day; or several:
        # hours: [["09:00", "13:00"], ["14:00", "18:00"]]
        extra_days_off: [2026-12-30]
        extra_working_days: [2026-12-26]

Deadlines: :meth:`BusinessCalendar.add_working_hours` ("in 4 working hours", counted only inside working
intervals) and :meth:`add_working_days` ("in 2 working days": the same time of day on the 2nd working day
after, or the end of that day's hours when the time is outside them). Times are aware datetimes; naive
ones are read as UTC, the answer is in the calendar's time zone.

A library limit, tested: ``holidays`` knows decreed transfers only for years whose decree it ships; for
other years it gives the fixed holidays only — configure the transfers as extra days.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_MAX_SCAN_DAYS = 3660  # never look further than ten years for the next working day


def _parse_hm(text: str) -> dt.time:
    try:
        h, m = str(text).split(":")
        return dt.time(int(h), int(m))
    except (ValueError, TypeError):
        raise ValueError(f"{text!r} is not a time of day HH:MM") from None


class CalendarSettings(BaseModel):
    """The ``workflow.calendar`` config section."""

    model_config = ConfigDict(extra="forbid")

    #: country code of the ``holidays`` library (RU: Russian public holidays and decreed transfers)
    country: str = "RU"
    #: where the working hours are
    timezone: str = "Europe/Moscow"
    #: working intervals of a day: ["09:00", "18:00"] or [["09:00", "13:00"], ["14:00", "18:00"]]
    hours: list[Any] = Field(default_factory=lambda: ["09:00", "18:00"])
    #: days off the library does not know (a company day off, next year's decree)
    extra_days_off: list[dt.date] = Field(default_factory=list)
    #: weekend days that are working days (transferred working days the library does not know)
    extra_working_days: list[dt.date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd names
            raise ValueError(f"unknown time zone {v!r} (e.g. Europe/Moscow)") from None
        return v

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        if v.upper() not in holidays.list_supported_countries():
            raise ValueError(f"the holidays library has no country {v!r} (e.g. RU)")
        return v.upper()

    @model_validator(mode="after")
    def _intervals(self) -> CalendarSettings:
        self.intervals()
        both = sorted(set(self.extra_days_off) & set(self.extra_working_days))
        if both:
            raise ValueError(f"{both[0].isoformat()} is both an extra day off and an extra working day")
        return self

    def intervals(self) -> list[tuple[dt.time, dt.time]]:
        """The working intervals, checked: each start before its end, in order, not overlapping."""
        raw = self.hours
        pairs = [raw] if len(raw) == 2 and all(isinstance(x, str) for x in raw) else raw
        out: list[tuple[dt.time, dt.time]] = []
        for p in pairs:
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise ValueError(f"hours: {p!r} is not a [start, end] pair like ['09:00', '18:00']")
            start, end = _parse_hm(p[0]), _parse_hm(p[1])
            if not start < end:
                raise ValueError(f"hours: {p[0]}–{p[1]} ends before it starts")
            if out and start < out[-1][1]:
                raise ValueError(f"hours: {p[0]}–{p[1]} overlaps or precedes the interval before it")
            out.append((start, end))
        if not out:
            raise ValueError("hours: at least one working interval is needed")
        return out


class BusinessCalendar:
    """Working days and hours; deadlines in working time (see the module docstring)."""

    def __init__(self, settings: CalendarSettings | None = None):
        self.settings = settings or CalendarSettings()
        self.zone = ZoneInfo(self.settings.timezone)
        self.intervals = self.settings.intervals()
        self._off = set(self.settings.extra_days_off)
        self._on = set(self.settings.extra_working_days)

    @lru_cache(maxsize=64)  # noqa: B019 - calendars live as long as the config
    def _year(self, year: int) -> Any:
        return holidays.country_holidays(self.settings.country, years=year)

    def holiday_name(self, day: dt.date) -> str | None:
        """The library's name of a public holiday or decreed day off (None on other days)."""
        return self._year(day.year).get(day)

    def is_working_day(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day."""
        if day in self._off:
            return False
        if day in self._on:
            return True
        cal = self._year(day.year)
        if day in getattr(cal, "weekend_workdays", ()):
            return True
        return day.weekday() < 5 and day not in cal

    def working_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """The working days from ``start`` to ``end`` inclusive."""
        out, d = [], start
        while d <= end:
            if self.is_working_day(d):
                out.append(d)
            d += dt.timedelta(days=1)
        return out

    def next_working_day(self, day: dt.date, *, include: bool = False) -> dt.date:
        """The first working day after ``day`` (or ``day`` itself when ``include`` and it is one)."""
        d = day if include else day + dt.timedelta(days=1)
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_working_day(d):
                return d
            d += dt.timedelta(days=1)
        raise ValueError(f"no working day within ten years after {day.isoformat()}")  # pragma: no cover

    def local(self, when: dt.datetime) -> dt.datetime:
        """``when`` in the calendar's time zone (naive = UTC)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return when.astimezone(self.zone)

    def _spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        return (
            [
                (dt.datetime.combine(day, a, self.zone), dt.datetime.combine(day, b, self.zone))
                for a, b in self.intervals
            ]
            if self.is_working_day(day)
            else []
        )

    def is_working_time(self, when: dt.datetime) -> bool:
        """Whether ``when`` falls inside working hours of a working day."""
        t = self.local(when)
        return any(a <= t < b for a, b in self._spans(t.date()))

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` working hours after ``start`` (counting only working time)."""
        if hours < 0:
            raise ValueError("hours must be 0 or more")
        left = dt.timedelta(hours=hours)
        t = self.local(start)
        day = t.date()
        for _ in range(_MAX_SCAN_DAYS):
            for a, b in self._spans(day):
                if t >= b:
                    continue
                begin = max(a, t)
                if begin + left <= b:
                    return begin + left if left else begin
                left -= b - begin
            day += dt.timedelta(days=1)
            t = dt.datetime.combine(day, dt.time(0), self.zone)
        raise ValueError("deadline more than ten years ahead")  # pragma: no cover

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The same local time of day ``days`` working days after ``start``'s day, kept inside that day's
        hours (before them: their start; after them: their end; in a break: the end of the interval before).
        ``days=0``: ``start`` itself when it is working time, else the next working moment."""
        if days < 0 or days != int(days):
            raise ValueError("days must be a whole number, 0 or more")
        t = self.local(start)
        if days == 0:
            return self.add_working_hours(t, 0)
        day = t.date()
        for _ in range(int(days)):
            day = self.next_working_day(day)
        spans = self._spans(day)
        moment = dt.datetime.combine(day, t.time(), self.zone)
        if moment <= spans[0][0]:
            return spans[0][0]
        for a, b in spans:
            if a <= moment <= b:
                return moment
        return max(b for _, b in spans if b <= moment)

    def working_hours_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working hours from ``a`` to ``b`` (negative when ``b`` is earlier); for SLA figures."""
        if b < a:
            return -self.working_hours_between(b, a)
        a, b = self.local(a), self.local(b)
        total = dt.timedelta()
        day = a.date()
        while day <= b.date():
            for s, e in self._spans(day):
                lo, hi = max(s, a), min(e, b)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total.total_seconds() / 3600

    def deadline(
        self, start: dt.datetime, *, hours: float | None = None, days: int | None = None
    ) -> dt.datetime:
        """``start`` + working hours or working days (exactly one of them)."""
        if (hours is None) == (days is None):
            raise ValueError("give working hours or working days")
        return (
            self.add_working_hours(start, hours) if hours is not None else self.add_working_days(start, days)
        )


def parse_duration(value: Any) -> tuple[str, float]:
    """``"4h"``, ``"2d"``, ``{hours: 4}``, ``{days: 2}`` → ("hours"|"days", amount); ValueError otherwise."""
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in ("hours", "days"):
            raise ValueError(f"a working-time duration is {{hours: N}} or {{days: N}}, not {value!r}")
        unit, amount = next(iter(value.items()))
    elif isinstance(value, str) and value[-1:] in ("h", "d"):
        unit, amount = ("hours" if value[-1] == "h" else "days"), value[:-1]
    else:
        raise ValueError(
            f"a working-time duration is like '4h', '2d', {{hours: 4}} or {{days: 2}}, not {value!r}"
        )
    try:
        n = float(amount)
    except (TypeError, ValueError):
        raise ValueError(f"not a number of {unit}: {amount!r}") from None
    if n < 0 or n > 10000 or (unit == "days" and n != int(n)):
        raise ValueError(f"{amount!r} {unit}: use 0..10000" + (" whole days" if unit == "days" else ""))
    return unit, n


__all__ = ["BusinessCalendar", "CalendarSettings", "parse_duration"]
