"""Templates in script settings: Jinja2's sandbox over the record, its relations and earlier steps.

A setting is a template when it holds ``{{`` or ``{%``; it is compiled when the config is loaded (a syntax
error is a config error with the file and line) and rendered when the step runs, with:

``record``     the record the process runs on (``record.name``, ``record.billing_contact_id``)
``related``    its related records by link: ``related.contacts`` is the list, and
               ``related.contacts.phone_mobile`` reads the first one's field (empty when there is none)
``fetch(module, id)``  another record by id (``fetch('Contacts', record.billing_contact_id).phone_mobile``)
``steps``      what earlier steps of this process instance returned (``steps.create_subscription.id``)
``now``/``today``  the time of the step (aware, in the business calendar's time zone) / its date

Filters besides Jinja2's: ``date(fmt='%d.%m.%Y')``, ``add_days(n)``, ``add_months(n)``,
``add_working_days(n)`` (the business calendar), ``phone`` (digits, Russian 8… → 7…), ``money`` (1 234,50).

A missing variable or field raises ``TemplateProblem`` naming the template (StrictUndefined), so a step
never sends a text with a hole in it: the step is parked with that reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

_MARK = re.compile(r"\{\{|\{%")


class TemplateProblem(ValueError):
    """A template does not compile or does not render; the message says which and why."""


def is_template(text: Any) -> bool:
    """Whether a setting's text is a template (holds ``{{`` or ``{%``)."""
    return isinstance(text, str) and bool(_MARK.search(text))


def _parse_date(value: Any) -> dt.date | dt.datetime | None:
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if value in (None, ""):
        return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            parsed = dt.datetime.strptime(text[:19], fmt)
            return parsed.date() if fmt in ("%Y-%m-%d", "%d.%m.%Y") else parsed
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise TemplateProblem(f"{text!r} is not a date") from None


def f_date(value: Any, fmt: str = "%d.%m.%Y") -> str:
    """A date or datetime (or its text) formatted; "" for an empty value."""
    d = _parse_date(value)
    return "" if d is None else d.strftime(fmt)


def f_add_days(value: Any, n: int) -> dt.date | dt.datetime | str:
    """The date ``n`` calendar days later (earlier for a negative ``n``)."""
    d = _parse_date(value)
    return "" if d is None else d + dt.timedelta(days=int(n))


def f_add_months(value: Any, n: int) -> dt.date | dt.datetime | str:
    """The date ``n`` months later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    import calendar

    d = _parse_date(value)
    if d is None:
        return ""
    month = d.month - 1 + int(n)
    year = d.year + month // 12
    month = month % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def f_phone(value: Any) -> str:
    """A phone number as digits only; a Russian 11-digit one starting with 8 becomes 7…; 10 digits get 7."""
    digits = re.sub(r"\D", "", str(value or ""))
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits.startswith("9"):
        digits = "7" + digits
    return digits


def f_money(value: Any, places: int = 2) -> str:
    """A number with a thin-space thousands separator and a decimal comma (Russian style): 1 234,50."""
    try:
        d = Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        raise TemplateProblem(f"{value!r} is not an amount") from None
    text = f"{d:,.{int(places)}f}"
    return text.replace(",", "\u00a0").replace(".", ",")


class Fields(dict):
    """A record's values for templates: ``record.name``; a field it does not have reads as ""."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name, "")


class RelatedRecords(list):
    """Records related through one link: a list; attribute access reads the first record's field."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return Fields(self[0]).get(name, "") if self else ""


class Related:
    """``related.<link>``: the record's related records through that link, read once per rendering."""

    def __init__(self, loader: Callable[[str], list[Mapping[str, Any]]]):
        self._loader = loader
        self._cache: dict[str, RelatedRecords] = {}

    def __getattr__(self, link: str) -> RelatedRecords:
        if link.startswith("_"):
            raise AttributeError(link)
        if link not in self._cache:
            self._cache[link] = RelatedRecords(Fields(r) for r in self._loader(link))
        return self._cache[link]


class TemplateEngine:
    """Compiles and renders setting templates (one sandboxed environment, compiled templates cached)."""

    def __init__(self, calendar: Any = None):
        self.env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        self.env.filters.update(
            date=f_date, add_days=f_add_days, add_months=f_add_months, phone=f_phone, money=f_money
        )
        self.calendar = calendar
        self.env.filters["add_working_days"] = self._add_working_days
        self._cache: dict[str, jinja2.Template] = {}

    def _add_working_days(self, value: Any, n: int) -> Any:
        """``n`` working days later in the business calendar (Russian holidays and transfers)."""
        if self.calendar is None:
            from suitecrm_ext.workflow import BusinessCalendar, CalendarSettings

            self.calendar = BusinessCalendar(CalendarSettings())
        d = _parse_date(value)
        return "" if d is None else self.calendar.add_working_days(_as_datetime(d), int(n))

    def compile(self, text: str) -> jinja2.Template:
        """The compiled template (TemplateProblem with the line on a syntax error)."""
        tpl = self._cache.get(text)
        if tpl is None:
            try:
                tpl = self.env.from_string(text)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateProblem(f"template line {exc.lineno}: {exc.message}") from None
            self._cache[text] = tpl
        return tpl

    def render(self, text: Any, context: Mapping[str, Any]) -> Any:
        """``text`` rendered when it is a template, else returned as it is."""
        if not is_template(text):
            return text
        try:
            return self.compile(text).render(**context)
        except TemplateProblem:
            raise
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"template {_short(text)!r}: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateProblem(f"template {_short(text)!r}: {type(exc).__name__}: {exc}") from None


def _as_datetime(d: Any) -> dt.datetime:
    if isinstance(d, dt.datetime):
        return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)
    return dt.datetime(d.year, d.month, d.day, 9, 0, tzinfo=dt.timezone.utc)


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def record_fields(text: str, env: SandboxedEnvironment | None = None) -> set[str]:
    """Field names a template reads from ``record`` (``record.x`` and ``record['x']``), for config checks."""
    env = env or SandboxedEnvironment()
    try:
        tree = env.parse(text)
    except jinja2.TemplateSyntaxError:
        return set()
    out: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "record":
            if isinstance(node, nodes.Getattr):
                out.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                out.add(node.arg.value)
    return out


__all__ = [
    "Fields",
    "Related",
    "RelatedRecords",
    "TemplateEngine",
    "TemplateProblem",
    "is_template",
    "record_fields",
]
