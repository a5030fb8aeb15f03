"""Assignee resolution: every kind, inactive users skipped, managers walked up, record groups."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from suitecrm_ext.workflow import AccessModel, AssigneeContext, AssigneeResolver, AssigneeSpec


@pytest.fixture
def resolve(org):
    crm, ids = org
    r = AssigneeResolver(AccessModel(crm))

    def run(spec, **ctx):
        return [u.id for u in r.resolve(spec, AssigneeContext(**ctx))]

    run.ids = ids
    return run


APP = {"assigned_user_id": "u-mgr", "checker_id": "u-sec1", "left_id": "u-gone"}


@pytest.mark.parametrize(
    "spec,ctx,expected",
    [
        ({"user": "u-sec1"}, {}, ["u-sec1"]),
        ({"user": "sec1"}, {}, ["u-sec1"]),  # by login name
        ({"user": "u-away"}, {}, []),  # inactive
        ({"user": "nobody"}, {}, []),
        ({"role": "Security officer"}, {}, ["u-sec1", "u-sec2"]),  # u-gone is terminated
        ({"role": "Cashier"}, {}, []),
        ({"group": "Branch North"}, {}, ["u-mgr", "u-sec1"]),
        ({"field": "checker_id"}, {"values": APP}, ["u-sec1"]),
        ({"field": "left_id"}, {"values": APP}, []),
        ({"field": "missing"}, {"values": APP}, []),
        ({"manager_of": "assignee"}, {"values": APP}, ["u-head"]),  # u-away skipped
        ({"manager_of": "assignee", "levels": 2}, {"values": APP}, ["u-ceo"]),
        ({"manager_of": "assignee", "levels": 3}, {"values": APP}, []),
        ({"manager_of": {"field": "checker_id"}}, {"values": APP}, ["u-head"]),
        ({"manager_of": "previous_actor"}, {"previous_actor": "u-head"}, ["u-ceo"]),
        ({"previous_actor": True}, {"previous_actor": "u-sec2"}, ["u-sec2"]),
        ({"previous_actor": True}, {}, []),
    ],
)
def test_every_assignee_kind(resolve, spec, ctx, expected):
    assert resolve(spec, **ctx) == expected


def test_role_members_in_the_record_groups(resolve):
    acc = resolve.ids["acc"]
    assert resolve(
        {"role": "Security officer", "in_record_groups": True}, module="Accounts", record_id=acc
    ) == ["u-sec1"]
    assert resolve({"role": "Security officer", "in_record_groups": True}) == []


@pytest.mark.parametrize(
    "spec,needle",
    [
        ({}, "exactly one of"),
        ({"user": "a", "role": "b"}, "exactly one of"),
        ({"manager_of": "boss"}, "use assignee, previous_actor"),
        ({"manager_of": {"fld": "x"}}, "names a field"),
        ({"field": "a b"}, "not a field name"),
        ({"role": "x", "levels": 2}, "levels goes with manager_of"),
        ({"user": "x", "sql": "1"}, "Extra inputs"),
    ],
)
def test_bad_specs(spec, needle):
    with pytest.raises(ValidationError, match=needle):
        AssigneeSpec.model_validate(spec)


def test_describe():
    assert (
        AssigneeSpec(manager_of="assignee", levels=2).describe()
        == "the manager of the assignee (2 levels up)"
    )
    assert AssigneeSpec(role="X", in_record_groups=True).describe() == "the role X in the record's groups"
