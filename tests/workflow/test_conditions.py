"""The safe condition language: evaluation (table-driven), explanations, hostile input, config lines."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel, ConfigDict

from suitecrm_ext.config import ConfigError, load_config_text
from suitecrm_ext.workflow import (
    ALWAYS,
    ConditionError,
    Facts,
    Predicates,
    check_condition,
    condition_type,
    parse_condition,
)

OPP = {
    "amount": "150000.00",
    "discount_c": "12.5",
    "sales_stage": "Negotiation/Review",
    "name": "Big deal",
    "probability": 80,
    "date_closed": dt.date(2026, 3, 31),
    "assigned_user_id": "u1",
    "empty_c": "",
    "won_c": True,
    "threshold_c": "10",
}
BEFORE = OPP | {"sales_stage": "Proposal/Price Quote", "discount_c": "5"}


@pytest.mark.parametrize(
    "cond,expected",
    [
        ({"field": "discount_c", "gt": 10}, True),
        ({"field": "discount_c", "gt": 12.5}, False),
        ({"field": "discount_c", "gte": 12.5}, True),
        ({"field": "amount", "lt": 150000}, False),
        ({"field": "amount", "lte": 150000}, True),
        ({"field": "probability", "eq": 80}, True),
        ({"field": "probability", "eq": "80"}, True),
        ({"field": "sales_stage", "eq": "Negotiation/Review"}, True),
        ({"field": "sales_stage", "eq": "negotiation/review"}, False),  # enum keys are exact
        ({"field": "sales_stage", "ne": "Closed Won"}, True),
        ({"field": "sales_stage", "in": ["Closed Won", "Negotiation/Review"]}, True),
        ({"field": "sales_stage", "not_in": ["Closed Won", "Closed Lost"]}, True),
        ({"field": "empty_c", "empty": True}, True),
        ({"field": "missing_c", "empty": True}, True),
        ({"field": "name", "empty": False}, True),
        ({"field": "name", "contains": "deal"}, True),
        ({"field": "name", "starts_with": "Big"}, True),
        ({"field": "name", "ends_with": "Big"}, False),
        ({"field": "date_closed", "lt": dt.date(2026, 4, 1)}, True),
        ({"field": "date_closed", "gt": dt.date(2026, 4, 1)}, False),
        ({"field": "won_c", "eq": True}, True),
        ({"field": "discount_c", "gt": {"field": "threshold_c"}}, True),
        ({"field": "name", "gt": 5}, False),  # not a number: comparisons fail
        ({"field": "name", "ne": 5}, True),
        ({"field": "empty_c", "lt": 5}, False),  # empty compares to nothing
        # before/after
        ({"field": "sales_stage", "changed": True}, True),
        ({"field": "amount", "changed": True}, False),
        ({"field": "amount", "changed": False}, True),
        ({"field": "sales_stage", "from": "Proposal/Price Quote", "to": "Negotiation/Review"}, True),
        ({"field": "sales_stage", "to": ["Closed Won"]}, False),
        ({"field": "amount", "to": "150000.00"}, False),  # unchanged: no "to"
        ({"field": "discount_c", "before": {"lte": 10}, "gt": 10}, True),  # crossed the threshold
        ({"field": "discount_c", "before": {"gt": 10}}, False),
        # combinators
        ({"all": [{"field": "discount_c", "gt": 10}, {"field": "sales_stage", "changed": True}]}, True),
        ({"all": [{"field": "discount_c", "gt": 10}, {"field": "amount", "changed": True}]}, False),
        ({"any": [{"field": "discount_c", "gt": 50}, {"field": "amount", "gte": 100000}]}, True),
        ({"any": []}, False),
        ({"all": []}, True),
        ({"not": {"field": "sales_stage", "eq": "Closed Won"}}, True),
        (True, True),
        (False, False),
    ],
)
def test_conditions_evaluate(cond, expected):
    c = parse_condition(cond)
    assert c.holds(Facts(OPP, BEFORE)) is expected
    assert (c.why_not(Facts(OPP, BEFORE)) is None) is expected


def test_new_record_and_unknown_before():
    c = parse_condition({"field": "sales_stage", "to": "Negotiation/Review"})
    assert c.holds(Facts(OPP, {}))  # a new record: every set field changed from empty
    assert not c.holds(Facts(OPP, None))  # nothing known about "before": no change can be seen
    assert parse_condition({"field": "sales_stage", "from": ""}).holds(Facts(OPP, {}))


def test_why_not_names_the_failing_part_and_the_values():
    c = parse_condition({"all": [{"field": "amount", "gte": 100}, {"field": "discount_c", "gt": 20}]})
    assert c.why_not(Facts(OPP, BEFORE)) == "discount_c > 20 does not hold (discount_c is '12.5')"
    c = parse_condition({"field": "sales_stage", "to": "Closed Won"})
    assert "sales_stage changed to 'Closed Won' does not hold" in c.why_not(Facts(OPP, BEFORE))
    assert c.fields() == {"sales_stage"}


@pytest.mark.parametrize(
    "cond,needle",
    [
        ("discount > 10", "a condition is a mapping"),
        ("__import__('os').system('id')", "a condition is a mapping"),
        ({"field": "discount", "gt": 10, "or": 1}, "unknown test 'or'"),
        ({"field": "a; DROP TABLE users", "eq": 1}, "a field name is letters, digits and _"),
        ({"field": "name", "eq": {"__class__": 1}}, "a value is a scalar or {field: NAME}"),
        ({"field": "name", "eq": [1, 2]}, "a value is text, a number"),
        ({"field": "name", "in": "abc"}, "in takes a list of values"),
        ({"field": "name", "empty": "yes"}, "empty takes true or false"),
        ({"field": "name", "contains": ""}, "non-empty text"),
        ({"field": "name"}, "no test given"),
        ({"field": "name", "eq": "x" * 1001}, "text longer than 1000"),
        ({"field": "name", "in": list(range(201))}, "more than 200 values"),
        ({"field": "name", "gt": float("nan")}, "not a finite number"),
        ({"field": "name", "gt": 10**40}, "number too large"),
        ({"field": "name", "before": {"changed": True}}, "before takes value tests"),
        ({"all": {"field": "a", "eq": 1}}, "needs a list of conditions"),
        ({"all": [], "any": []}, "stands alone"),
        ({"not": {"field": "a", "eq": 1}, "field": "b"}, "'not' stands alone"),
        ({"predicate": "os.system", "args": {}}, "unknown predicate 'os.system'"),
        ({"lambda": 1}, "a condition needs one of all, any, not, field, predicate"),
        ({}, "a condition needs one of"),
    ],
)
def test_hostile_or_wrong_input_is_refused_with_its_path(cond, needle):
    with pytest.raises(ConditionError) as err:
        parse_condition(cond)
    assert needle in str(err.value)


def test_depth_limit_and_paths():
    deep: dict = {"field": "a", "eq": 1}
    for _ in range(20):
        deep = {"not": deep}
    assert "nested more than 16 levels" in str(pytest.raises(ConditionError, parse_condition, deep).value)
    problems = check_condition(
        {"all": [{"field": "a", "eq": 1}, {"field": "b", "gtt": 2}, {"any": [{"field": "c d", "eq": 1}]}]}
    )
    assert problems == [
        "all[1].gtt: unknown test 'gtt'; tests are eq, ne, gt, gte, lt, lte, in, not_in, "
        "empty, contains, starts_with, ends_with, changed, from, to, before",
        "all[2].any[0].field: a field name is letters, digits and _ (got 'c d')",
    ]


def test_known_fields_are_enforced_when_given():
    assert check_condition({"field": "amount", "gt": 1}, fields=["amount"]) == []
    assert check_condition({"field": "amnt", "gt": 1}, fields=["amount"]) == ["field: unknown field 'amnt'"]


def test_predicates_take_declared_arguments_and_may_give_reasons():
    preds = Predicates()
    preds.register(
        "inn_valid",
        lambda facts, field="inn_c": (
            True if len(str(facts.value(field))) in (10, 12) else f"{field} is not a valid INN"
        ),
        args=["field"],
    )
    ok = parse_condition({"predicate": "inn_valid", "args": {"field": "inn_c"}}, predicates=preds)
    assert ok.holds(Facts({"inn_c": "7707083893"}))
    assert ok.why_not(Facts({"inn_c": "1"})) == "inn_c is not a valid INN"
    with pytest.raises(ConditionError, match="takes field"):
        parse_condition({"predicate": "inn_valid", "args": {"path": "/etc"}}, predicates=preds)

    def broken(facts):
        raise RuntimeError("reader down")

    preds.register("broken", broken)
    c = parse_condition({"predicate": "broken"}, predicates=preds)
    assert not c.holds(Facts({}))  # a failing check never holds
    assert "reader down" in c.why_not(Facts({}))


class _Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    when: condition_type() = ALWAYS  # type: ignore[valid-type]


def test_config_errors_name_file_line_and_nested_path():
    from suitecrm_ext.testing import build_registry

    text = """
suitecrm: {url: "http://crm.test"}
plugins:
  demo:
    when:
      all:
        - {field: amount, gt: 10}
        - field: stage
          tto: Won
"""
    cfg = load_config_text(text)

    class Demo:
        @staticmethod
        def ext_settings_schema():
            return _Route

    from suitecrm_ext import hookimpl

    Demo.ext_settings_schema = hookimpl(Demo.ext_settings_schema)
    with pytest.raises(ConfigError) as err:
        cfg.validate_plugin_sections({"demo": _Route})
    [line] = err.value.problems
    assert line.startswith("<config>:9: plugins.demo.when.all[1].tto: unknown test 'tto'")
    assert build_registry  # the kit is importable next to config validation


def test_condition_round_trips_through_settings():
    m = _Route.model_validate({"when": {"field": "amount", "gt": 10}})
    assert m.model_dump() == {"when": {"field": "amount", "gt": 10}}
    assert m.when.holds(Facts({"amount": "11"}))


def test_facts_of_a_validation_call_and_of_an_event():
    from suitecrm_ext import Event, EventKind, FieldChange, RecordChange

    change = RecordChange(
        "Opportunities",
        "o1",
        {"sales_stage": "Prospecting", "amount": "10"},
        {"sales_stage": "Closed Won"},
        user_id="u1",
    )
    f = Facts.of_change(change)
    assert (f.value("sales_stage"), f.old("sales_stage"), f.value("amount"), f.actor) == (
        "Closed Won",
        "Prospecting",
        "10",
        "u1",
    )
    assert parse_condition({"field": "sales_stage", "from": "Prospecting", "to": "Closed Won"}).holds(f)
    new = Facts.of_change(RecordChange("Opportunities", None, {}, {"sales_stage": "Prospecting"}))
    assert new.before == {} and new.changed("sales_stage")
    ev = Event(
        "Opportunities",
        "o1",
        EventKind.UPDATED,
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        "poll",
        {"discount_c": FieldChange("5", "15")},
        {"name": "Deal"},
        user_id="u2",
    )
    f = Facts.of_event(ev, {"amount": "100"})
    assert (f.value("discount_c"), f.old("discount_c"), f.value("amount"), f.changed("amount")) == (
        "15",
        "5",
        "100",
        False,
    )
    assert parse_condition({"field": "discount_c", "before": {"lte": 10}, "gt": 10}).holds(f)
    created = Facts.of_event(
        Event(
            "Opportunities",
            "o2",
            EventKind.CREATED,
            dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            "push",
            {},
            {"discount_c": "20"},
        )
    )
    assert created.before == {} and parse_condition({"field": "discount_c", "to": "20"}).holds(created)
