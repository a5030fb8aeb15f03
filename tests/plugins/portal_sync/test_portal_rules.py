"""The three-way merge of a synced pair, table-driven: ownership, conflicts, missing base, held-back input."""

from __future__ import annotations

import datetime as dt

import pytest

from plugins.portal_sync.rules import merge, text
from plugins.portal_sync.settings import FieldRule

BOTH_PORTAL = FieldRule(owner="both", conflict="portal_wins")
BOTH_INTERNAL = FieldRule(owner="both", conflict="internal_wins")
BOTH_TASK = FieldRule(owner="both", conflict="internal_wins_task")
INTERNAL = FieldRule(owner="internal")
PORTAL = FieldRule(owner="portal")

# rule, base, internal, portal -> value both sides end with, write to internal?, write to portal?,
# conflict winner (or None), refused side (or None)
CASES = [
    ("unchanged", BOTH_TASK, "a", "a", "a", "a", False, False, None, None),
    ("echo of our own write", BOTH_TASK, "a", "b", "b", "b", False, False, None, None),
    ("internal changed", BOTH_TASK, "a", "b", "a", "b", False, True, None, None),
    ("portal changed", BOTH_TASK, "a", "a", "c", "c", True, False, None, None),
    ("both, same value", BOTH_TASK, "a", "z", "z", "z", False, False, None, None),
    ("conflict, portal wins", BOTH_PORTAL, "a", "b", "c", "c", True, False, "portal", None),
    ("conflict, internal wins", BOTH_INTERNAL, "a", "b", "c", "b", False, True, "internal", None),
    ("conflict, internal wins + task", BOTH_TASK, "a", "b", "c", "b", False, True, "internal", None),
    ("internal-owned, portal changed: undone", INTERNAL, "a", "a", "c", "a", False, True, None, "portal"),
    ("internal-owned, internal changed", INTERNAL, "a", "b", "a", "b", False, True, None, None),
    ("internal-owned, both changed", INTERNAL, "a", "b", "c", "b", False, True, None, "portal"),
    ("portal-owned, internal changed: undone", PORTAL, "a", "b", "a", "a", True, False, None, "internal"),
    ("portal-owned, portal changed", PORTAL, "a", "a", "c", "c", True, False, None, None),
    ("no base (new field), both", BOTH_PORTAL, None, "b", "c", "b", False, True, None, None),
    ("no base (new field), portal-owned", PORTAL, None, "b", "c", "c", True, False, None, None),
    ("no base, equal", BOTH_PORTAL, None, "b", "b", "b", False, False, None, None),
    ("cleared on the portal", BOTH_PORTAL, "a", "a", "", "", True, False, None, None),
]


@pytest.mark.parametrize(
    "name,rule,base,i,p,value,w_int,w_por,winner,refused", CASES, ids=[c[0] for c in CASES]
)
def test_merge_of_one_field(name, rule, base, i, p, value, w_int, w_por, winner, refused):
    m = merge({"f": rule}, {} if base is None else {"f": base}, {"f": i}, {"f": p})
    assert m.base == {"f": value}
    assert ("f" in m.to_internal) is w_int and ("f" in m.to_portal) is w_por
    if w_int:
        assert m.to_internal["f"] == value
    if w_por:
        assert m.to_portal["f"] == value
    assert [c.winner for c in m.conflicts] == ([winner] if winner else [])
    if winner:
        c = m.conflicts[0]
        assert (c.base, c.internal, c.portal, c.rule) == (base, i, p, rule.conflict)
    assert [r.side for r in m.refusals] == ([refused] if refused else [])


def test_held_back_portal_input_is_neither_applied_nor_overwritten_and_keeps_the_base():
    rules = {"f": BOTH_PORTAL, "g": BOTH_PORTAL}
    m = merge(rules, {"f": "a", "g": "x"}, {"f": "b", "g": "x"}, {"f": "bad\x00", "g": "x"}, invalid={"f"})
    assert m.to_internal == {} and m.to_portal == {} and m.base == {"f": "a", "g": "x"}


def test_fields_are_merged_independently():
    rules = {"name": BOTH_TASK, "phone": BOTH_PORTAL, "city": BOTH_PORTAL}
    m = merge(
        rules,
        {"name": "A", "phone": "1", "city": "X"},
        {"name": "A2", "phone": "1", "city": "X"},
        {"name": "A", "phone": "2", "city": "Y"},
    )
    assert m.to_portal == {"name": "A2"} and m.to_internal == {"phone": "2", "city": "Y"}
    assert m.base == {"name": "A2", "phone": "2", "city": "Y"} and not m.conflicts


def test_a_side_without_the_field_counts_as_unchanged():
    m = merge({"f": BOTH_PORTAL}, {"f": "a"}, {}, {"f": "b"})
    assert m.to_internal == {"f": "b"} and m.to_portal == {}


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, ""),
        (True, "1"),
        (False, "0"),
        (5, "5"),
        ("x", "x"),
        (dt.date(2026, 1, 2), "2026-01-02"),
        (dt.datetime(2026, 1, 2, 6, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=3))), "2026-01-02 03:04:05"),
    ],
)
def test_values_compare_as_suitecrm_stores_them(value, expected):
    assert text(value) == expected
