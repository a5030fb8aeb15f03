"""Reading the condition language (see conditions.py for the forms): checks YAML data and compiles it
into the condition tree, refusing hostile or wrong input with every problem's path."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from suitecrm_ext.workflow.conditions import (
    CHANGE_TESTS,
    FIELD_KEYS,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_TEXT,
    VALUE_TESTS,
    Condition,
    ConditionError,
    Predicates,
    _All,
    _Any,
    _Const,
    _dotted,
    _FieldTest,
    _Not,
    _Predicate,
    _Ref,
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PRED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,79}$")


class _Parser:
    def __init__(self, fields: Iterable[str] | None, predicates: Predicates | None):
        self.fields = set(fields) if fields is not None else None
        self.predicates = predicates
        self.problems: list[tuple[tuple, str]] = []

    def fail(self, path: tuple, message: str) -> None:
        self.problems.append((path, message))

    def field_name(self, value: Any, path: tuple) -> str | None:
        if not isinstance(value, str) or not _IDENT.match(value):
            self.fail(path, f"a field name is letters, digits and _ (got {_short(value)})")
            return None
        if self.fields is not None and value not in self.fields:
            self.fail(path, f"unknown field {value!r}")
            return None
        return value

    def cond(self, data: Any, path: tuple, depth: int) -> Condition | None:
        if depth > MAX_DEPTH:
            self.fail(path, f"nested more than {MAX_DEPTH} levels deep")
            return None
        if isinstance(data, bool):
            return _Const(data)
        if not isinstance(data, Mapping):
            self.fail(
                path,
                "a condition is a mapping ({all: [...]}, {any: [...]}, {not: ...}, "
                f"{{field: ..., eq: ...}} or {{predicate: ...}}), not {_short(data)}",
            )
            return None
        keys = set(data)
        for combinator, cls in (("all", _All), ("any", _Any)):
            if combinator in keys:
                if keys != {combinator}:
                    self.fail(
                        path,
                        f"{combinator!r} stands alone; also got "
                        f"{', '.join(sorted(map(str, keys - {combinator})))}",
                    )
                    return None
                items = data[combinator]
                if not isinstance(items, list):
                    self.fail(path + (combinator,), f"needs a list of conditions, not {_short(items)}")
                    return None
                if len(items) > MAX_ITEMS:
                    self.fail(path + (combinator,), f"more than {MAX_ITEMS} conditions")
                    return None
                parsed = [self.cond(item, path + (combinator, i), depth + 1) for i, item in enumerate(items)]
                return cls([p for p in parsed if p is not None]) if None not in parsed else None
        if "not" in keys:
            if keys != {"not"}:
                self.fail(path, "'not' stands alone")
                return None
            inner = self.cond(data["not"], path + ("not",), depth + 1)
            return _Not(inner) if inner is not None else None
        if "predicate" in keys:
            return self.predicate(data, path)
        if "field" in keys:
            return self.field_test(data, path, depth)
        self.fail(
            path,
            "a condition needs one of all, any, not, field, predicate "
            f"(got {', '.join(sorted(map(str, keys))) or 'nothing'})",
        )
        return None

    def predicate(self, data: Mapping[str, Any], path: tuple) -> Condition | None:
        extra = set(data) - {"predicate", "args"}
        if extra:
            self.fail(
                path,
                f"unknown key(s) {', '.join(sorted(map(str, extra)))} (a predicate takes predicate, args)",
            )
            return None
        name = data["predicate"]
        if not isinstance(name, str) or not _PRED_NAME.match(name):
            self.fail(path + ("predicate",), f"bad predicate name {_short(name)}")
            return None
        spec = self.predicates.get(name) if self.predicates is not None else None
        if spec is None:
            known = ", ".join(self.predicates.names()) if self.predicates else ""
            self.fail(path + ("predicate",), f"unknown predicate {name!r} (known: {known or 'none'})")
            return None
        fn, accepted, _ = spec
        args = data.get("args") or {}
        if not isinstance(args, Mapping):
            self.fail(path + ("args",), f"args is a mapping of name: value, not {_short(args)}")
            return None
        bad = [
            k
            for k in args
            if not isinstance(k, str) or not _IDENT.match(k) or (accepted is not None and k not in accepted)
        ]
        if bad:
            self.fail(
                path + ("args", bad[0]),
                f"predicate {name} takes "
                f"{', '.join(accepted) if accepted else 'no arguments'}"
                f" (got {', '.join(map(str, bad))})",
            )
            return None
        clean = {}
        for k, v in args.items():
            c = self.scalar(v, path + ("args", k), allow_list=True)
            if c is _BAD:
                return None
            clean[k] = c
        return _Predicate(name, fn, clean)

    def field_test(self, data: Mapping[str, Any], path: tuple, depth: int) -> Condition | None:
        unknown = [k for k in data if k not in FIELD_KEYS]
        if unknown:
            self.fail(
                path + (unknown[0],),
                f"unknown test {str(unknown[0])!r}; tests are {', '.join(VALUE_TESTS + CHANGE_TESTS)}",
            )
            return None
        name = self.field_name(data["field"], path + ("field",))
        if name is None:
            return None
        tests: list[tuple[str, Any]] = []
        ok = True
        for op, arg in data.items():
            if op == "field":
                continue
            parsed = self.test_arg(op, arg, path + (op,), depth)
            if parsed is _BAD:
                ok = False
            else:
                tests.append((op, parsed))
        if not ok:
            return None
        if not tests:
            self.fail(path, f"field {name}: no test given (e.g. eq, gt, in, changed, to)")
            return None
        return _FieldTest(name, tests)

    def test_arg(self, op: str, arg: Any, path: tuple, depth: int) -> Any:
        if op in ("empty", "changed"):
            if not isinstance(arg, bool):
                self.fail(path, f"{op} takes true or false, not {_short(arg)}")
                return _BAD
            return arg
        if op in ("in", "not_in", "from", "to"):
            items = arg if isinstance(arg, list) else ([arg] if op in ("from", "to") else None)
            if items is None:
                self.fail(path, f"{op} takes a list of values, not {_short(arg)}")
                return _BAD
            if len(items) > MAX_ITEMS:
                self.fail(path, f"more than {MAX_ITEMS} values")
                return _BAD
            out = [
                self.scalar(v, path + (i,) if isinstance(arg, list) else path) for i, v in enumerate(items)
            ]
            return _BAD if _BAD in out else out
        if op == "before":
            if not isinstance(arg, Mapping) or not arg:
                self.fail(path, "before takes a mapping of value tests, e.g. {before: {eq: Draft}}")
                return _BAD
            out: dict[str, Any] = {}
            for k, v in arg.items():
                if k not in VALUE_TESTS:
                    self.fail(
                        path + (k,), f"before takes value tests ({', '.join(VALUE_TESTS)}), not {str(k)!r}"
                    )
                    return _BAD
                parsed = self.test_arg(k, v, path + (k,), depth + 1)
                if parsed is _BAD:
                    return _BAD
                out[k] = parsed
            return out
        if op in ("contains", "starts_with", "ends_with"):
            if isinstance(arg, Mapping):
                return self.scalar(arg, path)
            if not isinstance(arg, str) or not arg:
                self.fail(path, f"{op} takes a non-empty text, not {_short(arg)}")
                return _BAD
            return self.scalar(arg, path)
        return self.scalar(arg, path)  # eq, ne, gt, gte, lt, lte

    def scalar(self, v: Any, path: tuple, allow_list: bool = False) -> Any:
        if isinstance(v, Mapping):
            if set(v) != {"field"}:
                self.fail(path, f"a value is a scalar or {{field: NAME}}, not {_short(v)}")
                return _BAD
            name = self.field_name(v["field"], path + ("field",))
            return _Ref(name) if name is not None else _BAD
        if isinstance(v, list) and allow_list:
            if len(v) > MAX_ITEMS:
                self.fail(path, f"more than {MAX_ITEMS} values")
                return _BAD
            out = [self.scalar(x, path + (i,)) for i, x in enumerate(v)]
            return _BAD if _BAD in out else out
        if v is None:
            return ""
        if isinstance(v, str):
            if len(v) > MAX_TEXT:
                self.fail(path, f"text longer than {MAX_TEXT} characters")
                return _BAD
            return v
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            self.fail(path, "not a finite number")
            return _BAD
        if isinstance(v, (bool, int, float, Decimal, dt.date, dt.datetime)):
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 10**30:
                self.fail(path, "number too large")
                return _BAD
            return v
        self.fail(path, f"a value is text, a number, true/false, a date or {{field: NAME}}, not {_short(v)}")
        return _BAD


_BAD = object()


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_condition(
    data: Any, *, fields: Iterable[str] | None = None, predicates: Predicates | None = None
) -> Condition:
    """Check and compile a condition from its YAML data. Raises :class:`ConditionError` naming every
    problem with its path. ``fields``: the field names allowed (None = any identifier); ``predicates``:
    the predicates ``{predicate: ...}`` may name (None = none)."""
    parser = _Parser(fields, predicates)
    cond = parser.cond(data, (), 0)
    if parser.problems or cond is None:
        raise ConditionError(parser.problems or [((), "not a valid condition")])
    cond.source = data
    return cond


def check_condition(data: Any, **kw: Any) -> list[str]:
    """Every problem of a condition as ``path: message`` lines (empty when it is valid)."""
    try:
        parse_condition(data, **kw)
    except ConditionError as exc:
        return [f"{_dotted(p) + ': ' if p else ''}{m}" for p, m in exc.problems]
    return []



__all__ = ["check_condition", "parse_condition"]
