"""The declarative state machine: role-gated transitions, conditions, checks, vetoes that name the rule."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from suitecrm_ext.config import ConfigError, load_config_text
from suitecrm_ext.workflow import AccessModel, Facts, Predicates, StateMachine, machine_model

FLOW = {
    "field": "status",
    "statuses": ["Draft", "Security review", "Returned", "Rejected", "Approved by security"],
    "initial": "Draft",
    "final": ["Rejected"],
    "transitions": [
        {
            "name": "submit",
            "from": ["Draft", "Returned"],
            "to": "Security review",
            "roles": ["Personal manager"],
            "when": {"field": "inn_c", "empty": False},
            "check": ["requisites_ok"],
        },
        {"name": "return", "from": "Security review", "to": "Returned", "roles": ["Security officer"]},
        {
            "name": "reject",
            "from": "*",
            "to": "Rejected",
            "roles": ["Security officer"],
            "message": "Only the security officer rejects an application",
        },
        {
            "name": "approve",
            "from": "Security review",
            "to": "Approved by security",
            "roles": ["Security officer"],
        },
    ],
    "on_enter": {"Security review": [{"effect": "notify", "args": {"to": {"role": "Security officer"}}}]},
}

PREDS = Predicates()
PREDS.register("requisites_ok", lambda f: True if f.value("kpp_c") else "the client's KPP is missing")


@pytest.fixture
def machine():
    return StateMachine.load(FLOW, PREDS, label="application status")


GOOD = {"inn_c": "7707083893", "kpp_c": "770701001"}


@pytest.mark.parametrize(
    "actor,current,target,allowed,rule",
    [
        ("u-mgr", "Draft", "Security review", True, ""),
        ("u-mgr", "", "Security review", True, ""),  # empty status = initial
        ("u-mgr", "Returned", "Security review", True, ""),
        ("u-sec1", "Draft", "Security review", False, "roles"),
        ("u-sec2", "Security review", "Approved by security", True, ""),  # role through a group
        ("u-mgr", "Security review", "Approved by security", False, "roles"),
        ("u-sec1", "Security review", "Returned", True, ""),
        ("u-sec1", "Draft", "Approved by security", False, "no_transition"),
        ("u-sec1", "Draft", "Rejected", True, ""),  # from "*"
        ("u-sec1", "Rejected", "Draft", False, "final"),
        ("u-mgr", "Draft", "Archived", False, "unknown_status"),
        ("u-mgr", "Draft", "Draft", True, ""),  # no change
    ],
)
def test_every_role_and_transition(org, machine, actor, current, target, allowed, rule):
    v = machine.check(current, target, Facts(GOOD, actor=actor), AccessModel(org[0]))
    assert v.allowed is allowed
    assert v.rule == rule or (allowed and not rule)


def test_vetoes_name_the_transition_and_the_rule(org, machine):
    access = AccessModel(org[0])
    v = machine.check("Draft", "Security review", Facts(GOOD, actor="u-sec1"), access)
    assert v.reason == (
        "Cannot change application status from Draft to Security review (transition submit): "
        "only a user with the role Personal manager may do this; Sergey Security has "
        "Security officer."
    )
    v = machine.check("Draft", "Security review", Facts({"inn_c": "", "kpp_c": "1"}, actor="u-mgr"), access)
    assert v.rule == "when" and "inn_c is not empty does not hold" in v.reason
    v = machine.check("Draft", "Security review", Facts({"inn_c": "1", "kpp_c": ""}, actor="u-mgr"), access)
    assert v.rule == "check:requisites_ok" and v.reason.endswith(": the client's KPP is missing.")
    v = machine.check("Draft", "Rejected", Facts(GOOD, actor="u-mgr"), access)
    assert v.reason.endswith("(transition reject): Only the security officer rejects an application.")
    v = machine.check("Draft", "Approved by security", Facts(GOOD, actor="u-sec1"), access)
    assert v.reason == (
        "Cannot change application status from Draft to Approved by security: no transition "
        "leads there; from Draft the flow goes to Security review (submit), Rejected (reject)."
    )
    v = machine.check("Draft", "Security review", Facts(GOOD, actor=""), access)
    assert "cannot tell who is acting" in v.reason


def test_labels_name_stored_statuses_in_vetoes(org):
    keyed = {
        "statuses": ["draft", "review", "done"],
        "labels": {"draft": "Draft", "review": "Security review"},
        "initial": "draft",
        "final": ["done"],
        "transitions": [{"name": "submit", "from": "draft", "to": "review", "roles": ["Personal manager"]}],
    }
    machine = StateMachine.load(keyed, label="application status")
    access = AccessModel(org[0])
    assert machine.label_of("review") == "Security review" and machine.label_of("done") == "done"
    v = machine.check("draft", "review", Facts({}, actor="u-sec1"), access)
    assert v.reason.startswith(
        "Cannot change application status from Draft to Security review (transition submit)"
    )
    v = machine.check("review", "draft", Facts({}, actor="u-mgr"), access)
    assert v.reason.endswith("from Security review the flow goes to none.")
    assert machine.check("done", "draft", Facts({}, actor="u-mgr"), access).reason.endswith("done is final.")
    assert machine.check("draft", "review", Facts({}, actor="u-mgr"), access)


def test_admin_bypass_only_when_asked(org):
    access = AccessModel(org[0])
    strict = StateMachine.load(FLOW, PREDS)
    loose = StateMachine.load(FLOW | {"admin_bypass": True}, PREDS)
    assert not strict.check("Draft", "Approved by security", Facts(GOOD, actor="1"), access)
    assert loose.check("Draft", "Approved by security", Facts(GOOD, actor="1"), access).rule == "admin_bypass"


def test_allowed_targets_and_effects(org, machine):
    access = AccessModel(org[0])
    assert machine.allowed_targets("Security review", Facts(GOOD, actor="u-sec1"), access) == [
        ("Returned", "return"),
        ("Rejected", "reject"),
        ("Approved by security", "approve"),
    ]
    assert machine.allowed_targets("Draft", Facts(GOOD, actor="u-mgr"), access) == [
        ("Security review", "submit")
    ]
    [effect] = machine.on_enter("Security review")
    assert effect.effect == "notify" and machine.on_enter("Draft") == ()


def test_failing_check_never_allows(org):
    preds = Predicates()

    def down(facts):
        raise ConnectionError("SuiteCRM unreachable")

    preds.register("requisites_ok", down)
    m = StateMachine.load(FLOW, preds)
    v = m.check("Draft", "Security review", Facts(GOOD, actor="u-mgr"), AccessModel(org[0]))
    assert not v and "ConnectionError: SuiteCRM unreachable" in v.reason


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"initial": "Start"}, "'Start' is not one of the statuses"),
        ({"statuses": ["Draft", "Draft"]}, "status 'Draft' is listed twice"),
        ({"final": ["Closed"]}, "'Closed' is not one of the statuses"),
        (
            {"transitions": [{"name": "go", "from": "Nowhere", "to": "Draft"}]},
            "'Nowhere' is not one of the statuses",
        ),
        ({"transitions": [{"name": "go", "from": "Rejected", "to": "Draft"}]}, "'Rejected' is final"),
        (
            {"transitions": [{"name": "go now", "from": "Draft", "to": "Returned"}]},
            "a transition name is letters",
        ),
        (
            {
                "transitions": [
                    {"name": "a", "from": "Draft", "to": "Returned"},
                    {"name": "a", "from": "Draft", "to": "Rejected"},
                ]
            },
            "two transitions are named 'a'",
        ),
        (
            {"transitions": [{"name": "a", "from": "Draft", "to": "Returned", "check": ["rm_rf"]}]},
            "unknown check 'rm_rf'",
        ),
        (
            {"transitions": [{"name": "a", "from": "Draft", "to": "Returned", "when": "amount > 1"}]},
            "a condition is a mapping",
        ),
        ({"on_enter": {"Closed": []}}, "'Closed' is not one of the statuses"),
        ({"field": "status; drop"}, "is not a SuiteCRM field name"),
        ({"labels": {"Closed": "Closed"}}, "'Closed' is not one of the statuses"),
        ({"labels": {"Draft": " "}}, "a label is a non-empty text"),
    ],
)
def test_bad_definitions_are_refused(change, needle):
    with pytest.raises(ValidationError) as err:
        machine_model(PREDS).model_validate(FLOW | change)
    assert needle in str(err.value)


def test_machine_in_a_plugin_section_reports_file_and_line():
    flow_type = machine_model(PREDS, frozenset({"notify"}))

    class Section(BaseModel):
        model_config = ConfigDict(extra="forbid")
        flow: flow_type  # type: ignore[valid-type]

    cfg = load_config_text("""
suitecrm: {url: "http://crm.test"}
plugins:
  demo:
    flow:
      statuses: [Draft, Done]
      initial: Draft
      transitions:
        - name: finish
          from: Draft
          to: Done
          when: {field: amount, gtt: 1}
      on_enter:
        Done: [{effect: explode}]
""")
    with pytest.raises(ConfigError) as err:
        cfg.validate_plugin_sections({"demo": Section})
    assert err.value.problems == [
        "<config>:12: plugins.demo.flow.transitions[0].when.gtt: unknown test 'gtt'; tests are eq, ne, gt, "
        "gte, lt, "
        "lte, in, not_in, empty, contains, starts_with, ends_with, changed, from, to, before"
    ]
