"""The business calendar: Russian holidays and transfers (holidays library + config), deadlines."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from suitecrm_ext.workflow import BusinessCalendar, CalendarSettings, parse_duration

MSK = ZoneInfo("Europe/Moscow")
D = dt.date


def at(y, m, d, h=0, mi=0):
    return dt.datetime(y, m, d, h, mi, tzinfo=MSK)


@pytest.fixture(scope="module")
def cal():
    return BusinessCalendar()


@pytest.mark.parametrize(
    "day,working",
    [
        (D(2025, 1, 8), False),  # New Year holidays
        (D(2025, 1, 9), True),
        (D(2025, 5, 2), False),  # day off transferred from 4 January
        (D(2025, 11, 1), True),  # Saturday made a working day (transfer)
        (D(2025, 11, 3), False),  # Monday off, transferred from 1 November
        (D(2025, 11, 4), False),  # Unity Day
        (D(2025, 12, 31), False),  # transferred from 5 January
        (D(2026, 1, 9), False),  # 2026 decree: transferred from 3 January
        (D(2026, 3, 9), False),  # 8 March on a Sunday: Monday off
        (D(2026, 3, 10), True),
        (D(2025, 6, 14), False),  # an ordinary Saturday
    ],
)
def test_russian_working_days(cal, day, working):
    assert cal.is_working_day(day) is working


def test_configured_days_win_over_the_library():
    cal = BusinessCalendar(
        CalendarSettings(extra_days_off=[D(2026, 6, 15)], extra_working_days=[D(2026, 6, 13)])
    )
    assert not cal.is_working_day(D(2026, 6, 15)) and cal.is_working_day(D(2026, 6, 13))


@pytest.mark.parametrize(
    "start,hours,expected",
    [
        (at(2025, 6, 2, 10), 4, at(2025, 6, 2, 14)),  # within a day
        (at(2025, 6, 2, 16), 4, at(2025, 6, 3, 11)),  # over the night
        (at(2025, 6, 6, 17), 2, at(2025, 6, 9, 10)),  # Friday → Monday
        (at(2025, 6, 11, 17), 2, at(2025, 6, 16, 10)),  # 12 June + the weekend
        (at(2025, 12, 30, 17), 4, at(2026, 1, 12, 12)),  # 31 Dec off, New Year holidays
        (at(2025, 10, 31, 17), 2, at(2025, 11, 1, 10)),  # into the working Saturday
        (at(2025, 6, 2, 7), 1, at(2025, 6, 2, 10)),  # before hours: from 09:00
        (at(2025, 6, 2, 20), 0, at(2025, 6, 3, 9)),  # 0 hours after hours: next opening
        (dt.datetime(2025, 6, 2, 7, 0, tzinfo=dt.timezone.utc), 1, at(2025, 6, 2, 11)),  # UTC in, MSK out
    ],
)
def test_working_hours_deadlines(cal, start, hours, expected):
    assert cal.add_working_hours(start, hours) == expected


@pytest.mark.parametrize(
    "start,days,expected",
    [
        (at(2025, 6, 2, 11), 1, at(2025, 6, 3, 11)),
        (at(2025, 6, 6, 11), 1, at(2025, 6, 9, 11)),
        (at(2025, 6, 6, 20), 1, at(2025, 6, 9, 18)),  # after hours: the end of that day's hours
        (at(2025, 6, 7, 8), 2, at(2025, 6, 10, 9)),
        (at(2025, 4, 30, 12), 2, at(2025, 5, 6, 12)),  # 1–4 May, 8–11 May style gaps
    ],
)
def test_working_days_deadlines(cal, start, days, expected):
    assert cal.add_working_days(start, days) == expected


def test_split_hours_and_sla_measurement():
    cal = BusinessCalendar(CalendarSettings(hours=[["09:00", "13:00"], ["14:00", "18:00"]]))
    assert cal.add_working_hours(at(2025, 6, 2, 12), 2) == at(2025, 6, 2, 15)  # lunch does not count
    assert not cal.is_working_time(at(2025, 6, 2, 13, 30)) and cal.is_working_time(at(2025, 6, 2, 14))
    assert cal.working_hours_between(at(2025, 6, 2, 12), at(2025, 6, 3, 10)) == 6
    assert cal.working_hours_between(at(2025, 6, 3, 10), at(2025, 6, 2, 12)) == -6


@pytest.mark.parametrize(
    "bad,needle",
    [
        ({"hours": ["18:00", "09:00"]}, "ends before it starts"),
        ({"hours": [["09:00", "13:00"], ["12:00", "18:00"]]}, "overlaps"),
        ({"hours": ["9am", "6pm"]}, "not a time of day"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"country": "XX"}, "no country"),
        ({"extra_days_off": [D(2026, 1, 1)], "extra_working_days": [D(2026, 1, 1)]}, "both an extra day off"),
    ],
)
def test_bad_calendar_settings(bad, needle):
    with pytest.raises(ValidationError, match=needle):
        CalendarSettings.model_validate(bad)


@pytest.mark.parametrize(
    "value,expected",
    [("4h", ("hours", 4)), ("2d", ("days", 2)), ({"hours": 1.5}, ("hours", 1.5)), ({"days": 3}, ("days", 3))],
)
def test_durations(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["4", "1.5d", {"weeks": 1}, "-1h", "xh"])
def test_bad_durations(value):
    with pytest.raises(ValueError):
        parse_duration(value)
