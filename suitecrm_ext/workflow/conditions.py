"""The safe condition language: structured conditions over a record's fields and before/after values.

Routing triggers, bp_scripts triggers and state-machine guards are written in it, in YAML. It is data,
never code: no ``eval``, no expressions, no regular expressions; a condition is a tree of the forms below,
checked when the configuration is loaded (every problem named with its path, and the config line), and
evaluated against :class:`Facts`.

Forms::

    {all: [COND, ...]}                 every one holds (an empty list holds)
    {any: [COND, ...]}                 at least one holds (an empty list does not)
    {not: COND}
    {field: NAME, TEST: ARG, ...}      a field's value passes every TEST given
    {predicate: NAME, args: {...}}     a check a plugin registered by NAME (see :class:`Predicates`)

Tests on a field (the record's value after the change, unless said otherwise)::

    eq / ne / gt / gte / lt / lte: VALUE     compare (numbers as numbers, dates as dates)
    in / not_in: [VALUE, ...]
    empty: true | false                      "" / None / missing count as empty
    contains / starts_with / ends_with: TEXT (text, case-sensitive)
    changed: true | false                    the change touched the field (before != after)
    from: VALUE | [VALUE, ...]               it changed, and the old value is one of these
    to: VALUE | [VALUE, ...]                 it changed, and the new value is one of these
    before: {TEST: ARG, ...}                 value tests on the old value

A VALUE is a scalar (text, number, true/false, a date) or ``{field: OTHER}``, another field's current
value. Comparing with a number reads the field as a number ("12.50" → 12.5; a value that is not a number
makes ``gt``/``lt``... false and ``ne`` true); with a date, as a date; with true/false as SuiteCRM's
bool ("1"/"0"); otherwise as text, exactly (enum keys are case-sensitive).

Limits against hostile input: nesting depth 16, 200 items per list, 1,000 characters per text, names are
SuiteCRM identifiers; with ``fields=`` given to :func:`parse_condition`, field names must be among them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from suitecrm_ext.crm.base import parse_bool

MAX_DEPTH = 16
MAX_ITEMS = 200
MAX_TEXT = 1000
_PRED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,79}$")

COMPARE = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
VALUE_TESTS = (*COMPARE, "in", "not_in", "empty", "contains", "starts_with", "ends_with")
CHANGE_TESTS = ("changed", "from", "to", "before")
FIELD_KEYS = ("field", *VALUE_TESTS, *CHANGE_TESTS)


class ConditionError(ValueError):
    """A condition is not valid. ``problems`` holds (path, message) pairs; ``path`` is a tuple of keys and
    list indexes below the condition's own location (e.g. ``("all", 1, "gt")``)."""

    def __init__(self, problems: list[tuple[tuple, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{_dotted(p) + ': ' if p else ''}{m}" for p, m in problems))

    @property
    def path(self) -> tuple:
        """Path of the first problem."""
        return self.problems[0][0] if self.problems else ()


def _dotted(path: Sequence[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# --- facts ---------------------------------------------------------------------------------------


@dataclass
class Facts:
    """What a condition is evaluated against.

    ``after``: the record's values after the change (for a stored record: its values). ``before``: the
    values before the change, or None when there is no "before" (then ``changed``/``from``/``to`` are false
    and ``before:`` tests fail); for a new record pass ``{}``. ``actor``: the acting user's id.
    ``module``/``record_id`` name the record; ``extra``: whatever a plugin's predicates need.
    """

    after: Mapping[str, Any]
    before: Mapping[str, Any] | None = None
    actor: str = ""
    module: str = ""
    record_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_change(cls, change: Any, record: Mapping[str, Any] | None = None, **kw: Any) -> Facts:
        """Facts of a :class:`~suitecrm_ext.events.model.RecordChange` (before save): the stored values
        (``change.before``, else ``record``) updated with the new ones."""
        before = dict(record or {}) | dict(change.before or {})
        after = before | dict(change.after or {})
        return cls(
            after,
            {} if change.is_new else before,
            actor=change.user_id or "",
            module=change.module,
            record_id=change.record_id or "",
            **kw,
        )

    @classmethod
    def of_event(cls, event: Any, record: Mapping[str, Any] | None = None, **kw: Any) -> Facts:
        """Facts of an :class:`~suitecrm_ext.events.model.Event` (after the fact): ``record`` (the stored
        values, if read) updated with the event's values; before = after with the changed fields' old
        values (None for a deleted record or when the event knows no old values)."""
        after = dict(record or {}) | dict(event.values or {})
        for name, ch in event.changes.items():
            after.setdefault(name, ch.after)
        if getattr(event.kind, "value", event.kind) == "created":
            before: dict[str, Any] | None = {}
        else:
            before = dict(after)
            for name, ch in event.changes.items():
                before[name] = ch.before
        return cls(
            after, before, actor=event.user_id or "", module=event.module, record_id=event.record_id, **kw
        )

    def value(self, name: str) -> Any:
        """The field's value after the change ("" when absent)."""
        return self.after.get(name, "")

    def old(self, name: str) -> Any:
        """The field's value before the change ("" when absent or unknown)."""
        return (self.before or {}).get(name, "")

    def changed(self, name: str) -> bool:
        """Whether the change touched the field."""
        if self.before is None:
            return False
        return _same_text(self.before.get(name)) != _same_text(self.after.get(name))


def _same_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if v.tzinfo else v.isoformat(" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


# --- predicates ----------------------------------------------------------------------------------

#: A plugin predicate: ``fn(facts, **args)`` → True (holds), False (fails) or a str (fails; the reason).
PredicateFn = Callable[..., "bool | str"]


class Predicates:
    """Named checks plugins add to the language: ``{predicate: NAME, args: {...}}``.

    ``register(name, fn, args=("limit",), doc="...")``: ``args`` are the argument names the predicate takes
    (others are refused when the config is loaded); ``fn(facts, **args)`` returns True, False, or a reason
    (str) that says why it does not hold ("the client's INN is not valid").
    """

    def __init__(self, items: Mapping[str, PredicateFn] | None = None):
        self._fns: dict[str, tuple[PredicateFn, tuple[str, ...] | None, str]] = {}
        for name, fn in (items or {}).items():
            self.register(name, fn)

    def register(
        self, name: str, fn: PredicateFn, *, args: Iterable[str] | None = None, doc: str = ""
    ) -> None:
        """Add a predicate (``args``: None = any arguments)."""
        if not _PRED_NAME.match(name):
            raise ValueError(f"bad predicate name {name!r}")
        self._fns[name] = (fn, tuple(args) if args is not None else None, doc or (fn.__doc__ or "").strip())

    def names(self) -> list[str]:
        """Registered predicate names."""
        return sorted(self._fns)

    def get(self, name: str) -> tuple[PredicateFn, tuple[str, ...] | None, str] | None:
        """(fn, accepted args or None, doc) of a predicate, or None."""
        return self._fns.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._fns


# --- the tree ------------------------------------------------------------------------------------


class Condition:
    """A checked condition. ``holds(facts)`` → bool; ``why_not(facts)`` → the first failing part as a
    sentence (None when it holds); ``text`` → the condition written out for people."""

    text: str = ""
    source: Any = None

    def holds(self, facts: Facts) -> bool:  # pragma: no cover - abstract
        """Whether the condition holds for these facts."""
        raise NotImplementedError

    def why_not(self, facts: Facts) -> str | None:
        """None when it holds, else a sentence naming the failing part."""
        return None if self.holds(facts) else f"the condition {self.text} is not met"

    def fields(self) -> set[str]:
        """Every field the condition reads."""
        return set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text})"


class _Const(Condition):
    def __init__(self, value: bool):
        self.value = value
        self.text = "always" if value else "never"

    def holds(self, facts: Facts) -> bool:
        return self.value


ALWAYS: Condition = _Const(True)


class _All(Condition):
    def __init__(self, items: list[Condition]):
        self.items = items
        self.text = "(" + " and ".join(i.text for i in items) + ")" if items else "always"

    def holds(self, facts: Facts) -> bool:
        return all(i.holds(facts) for i in self.items)

    def why_not(self, facts: Facts) -> str | None:
        for i in self.items:
            reason = i.why_not(facts)
            if reason:
                return reason
        return None

    def fields(self) -> set[str]:
        return set().union(*(i.fields() for i in self.items)) if self.items else set()


class _Any(Condition):
    def __init__(self, items: list[Condition]):
        self.items = items
        self.text = "(" + " or ".join(i.text for i in items) + ")" if items else "never"

    def holds(self, facts: Facts) -> bool:
        return any(i.holds(facts) for i in self.items)

    def why_not(self, facts: Facts) -> str | None:
        if self.holds(facts):
            return None
        reasons = [r for i in self.items if (r := i.why_not(facts))]
        return (
            "none of these holds: " + "; ".join(reasons)
            if reasons
            else f"the condition {self.text} is not met"
        )

    def fields(self) -> set[str]:
        return set().union(*(i.fields() for i in self.items)) if self.items else set()


class _Not(Condition):
    def __init__(self, item: Condition):
        self.item = item
        self.text = f"not {item.text}"

    def holds(self, facts: Facts) -> bool:
        return not self.item.holds(facts)

    def fields(self) -> set[str]:
        return self.item.fields()


@dataclass(frozen=True)
class _Ref:
    """``{field: NAME}`` as a value."""

    name: str


def _show(v: Any) -> str:
    if isinstance(v, _Ref):
        return v.name
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    return str(v)


class _FieldTest(Condition):
    def __init__(self, name: str, tests: list[tuple[str, Any]]):
        self.name = name
        self.tests = tests
        self.text = " and ".join(_test_text(name, op, arg) for op, arg in tests)
        if len(tests) > 1:
            self.text = f"({self.text})"

    def fields(self) -> set[str]:
        out = {self.name}
        for _, arg in self.tests:
            for v in arg if isinstance(arg, list) else [arg]:
                if isinstance(v, _Ref):
                    out.add(v.name)
            if isinstance(arg, dict):
                for sub in arg.values():
                    if isinstance(sub, _Ref):
                        out.add(sub.name)
        return out

    def holds(self, facts: Facts) -> bool:
        # no message text on the hot path (routing evaluates every route's trigger per record change)
        return all(_run_test(op, arg, facts, self.name) for op, arg in self.tests)

    def why_not(self, facts: Facts) -> str | None:
        for op, arg in self.tests:
            if not _run_test(op, arg, facts, self.name):
                return f"{_test_text(self.name, op, arg)} does not hold ({_now_text(self.name, op, facts)})"
        return None


class _Predicate(Condition):
    def __init__(self, name: str, fn: PredicateFn, args: dict[str, Any]):
        self.name = name
        self.fn = fn
        self.args = args
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        self.text = f"{name}({shown})"

    def holds(self, facts: Facts) -> bool:
        return self.why_not(facts) is None

    def why_not(self, facts: Facts) -> str | None:
        try:
            result = self.fn(facts, **self.args)
        except Exception as exc:  # noqa: BLE001 - a failing check never counts as holding
            return f"the check {self.name} failed: {type(exc).__name__}: {exc}"
        if result is True:
            return None
        if isinstance(result, str) and result:
            return result
        return f"the check {self.text} does not hold"


def _test_text(name: str, op: str, arg: Any) -> str:
    if op in COMPARE:
        return f"{name} {COMPARE[op]} {_show(arg)}"
    if op == "in":
        return f"{name} in {_show(arg)}"
    if op == "not_in":
        return f"{name} not in {_show(arg)}"
    if op == "empty":
        return f"{name} is {'empty' if arg else 'not empty'}"
    if op in ("contains", "starts_with", "ends_with"):
        return f"{name} {op.replace('_', ' ')} {_show(arg)}"
    if op == "changed":
        return f"{name} {'changed' if arg else 'unchanged'}"
    if op in ("from", "to"):
        shown = _show(arg[0]) if isinstance(arg, list) and len(arg) == 1 else _show(arg)
        return f"{name} changed {op} {shown}"
    if op == "before":
        return " and ".join(_test_text(f"old {name}", k, v) for k, v in arg.items())
    return f"{name} {op} {_show(arg)}"  # pragma: no cover


def _now_text(name: str, op: str, facts: Facts) -> str:
    if op in ("changed", "from", "to", "before"):
        if facts.before is None:
            return f"{name}: no earlier value known"
        return f"{name}: {_show(_plain(facts.old(name)))} → {_show(_plain(facts.value(name)))}"
    return f"{name} is {_show(_plain(facts.value(name)))}"


def _plain(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


# --- evaluation ----------------------------------------------------------------------------------


def _resolve(arg: Any, facts: Facts) -> Any:
    return facts.value(arg.name) if isinstance(arg, _Ref) else arg


def _is_empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def _as_number(v: Any) -> Decimal | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, Decimal)):
        return Decimal(v)
    if isinstance(v, float):
        return Decimal(str(v))
    try:
        text = str(v).strip().replace(" ", "")
        if not text or len(text) > 64:
            return None
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _as_date(v: Any, like: Any) -> Any:
    """v as a date (or an aware datetime when ``like`` is a datetime); None when it is not one."""
    if v is None or v == "":
        return None
    if isinstance(like, dt.datetime):
        if isinstance(v, dt.datetime):
            return v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
        if isinstance(v, dt.date):
            return dt.datetime(v.year, v.month, v.day, tzinfo=dt.timezone.utc)
        try:
            p = dt.datetime.fromisoformat(str(v).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return p if p.tzinfo else p.replace(tzinfo=dt.timezone.utc)
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v).strip()[:10])
    except ValueError:
        return None


def _pair(value: Any, arg: Any) -> tuple[Any, Any] | None:
    """The two sides made comparable, led by the literal's type; None when they cannot be."""
    if isinstance(arg, bool):
        return (parse_bool(value) if not isinstance(value, bool) else value), arg
    if isinstance(arg, (int, float, Decimal)):
        n, m = _as_number(value), _as_number(arg)
        return (n, m) if n is not None and m is not None else None
    if isinstance(arg, (dt.date, dt.datetime)):
        if isinstance(arg, dt.datetime) and arg.tzinfo is None:
            arg = arg.replace(tzinfo=dt.timezone.utc)
        d = _as_date(value, arg)
        return (d, arg) if d is not None else None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        n, m = _as_number(value), _as_number(arg)
        return (n, m) if n is not None and m is not None else None
    if isinstance(value, (dt.date, dt.datetime)):
        d = _as_date(arg, value)
        return (_as_date(value, value), d) if d is not None else None
    return _same_text(value), _same_text(arg)


def _equal(value: Any, arg: Any) -> bool:
    pair = _pair(value, arg)
    if pair is None:
        return False
    return pair[0] == pair[1]


def _value_test(op: str, arg: Any, value: Any, facts: Facts) -> bool:
    if op == "empty":
        return _is_empty(value) == bool(arg)
    if op in ("in", "not_in"):
        found = any(_equal(value, _resolve(a, facts)) for a in arg)
        return found if op == "in" else not found
    if op in ("contains", "starts_with", "ends_with"):
        text, needle = _same_text(value), _same_text(_resolve(arg, facts))
        return (
            needle in text
            if op == "contains"
            else text.startswith(needle)
            if op == "starts_with"
            else text.endswith(needle)
        )
    other = _resolve(arg, facts)
    if op == "eq":
        return _equal(value, other)
    if op == "ne":
        return not _equal(value, other)
    if _is_empty(value) or _is_empty(other):
        return False
    pair = _pair(value, other)
    if pair is None:
        return False
    a, b = pair
    try:
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    except TypeError:
        return False


def _run_test(op: str, arg: Any, facts: Facts, name: str) -> bool:
    if op == "changed":
        return facts.changed(name) == bool(arg)
    if op in ("from", "to"):
        if not facts.changed(name):
            return False
        value = facts.old(name) if op == "from" else facts.value(name)
        return any(_equal(value, _resolve(a, facts)) for a in arg)
    if op == "before":
        if facts.before is None:
            return False
        return all(_value_test(k, v, facts.old(name), facts) for k, v in arg.items())
    return _value_test(op, arg, facts.value(name), facts)


from suitecrm_ext.workflow.condition_syntax import check_condition, parse_condition  # noqa: E402

__all__ = [
    "ALWAYS",
    "Condition",
    "ConditionError",
    "Facts",
    "Predicates",
    "check_condition",
    "parse_condition",
]
