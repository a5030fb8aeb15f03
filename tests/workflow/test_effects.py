"""Effects on entering a status: notify role members in the record's groups (once), set fields, checks."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel, ConfigDict

from suitecrm_ext.config import ConfigError, load_config_text
from suitecrm_ext.workflow import EffectContext, Effects, StateMachine, Templates, Workflow, machine_model

TEMPLATES = Templates(
    {
        "review_needed": {
            "subject": {
                "en_us": "{{ record.name }}: {{ status }}",
                "ru_ru": "{{ record.name }}: этап {{ status }}",
            },
            "body": {
                "en_us": "Hello {{ user.name }}, {{ actor }} sent it.",
                "ru_ru": "{{ user.name }}, от {{ actor }}.",
            },
        }
    }
)


@pytest.fixture
def wf(org, tmp_path):
    from suitecrm_ext.config import StateSettings
    from suitecrm_ext.state import open_store

    state = open_store(StateSettings(backend="sqlite", path=str(tmp_path / "s.sqlite3")))
    yield Workflow(org[0], state=state)
    state.close()


def test_notify_role_in_record_groups_once_with_due_in_working_hours(org, wf):
    crm, ids = org
    fx = Effects(wf, TEMPLATES)
    flow = StateMachine.load(
        {
            "statuses": ["Draft", "Review"],
            "initial": "Draft",
            "transitions": [{"name": "submit", "from": "Draft", "to": "Review"}],
            "on_enter": {
                "Review": [
                    {
                        "effect": "notify",
                        "args": {
                            "to": {"role": "Security officer", "in_record_groups": True},
                            "template": "review_needed",
                            "email": False,
                            "due": "8h",
                        },
                    },
                    {"effect": "set", "args": {"fields": {"description": "in review"}}},
                ]
            },
        }
    )
    ctx = EffectContext(
        "Accounts",
        ids["acc"],
        {"name": "OOO Romashka"},
        "Review",
        key="ev-1",
        actor="u-mgr",
        now=dt.datetime(2025, 6, 6, 14, 0, tzinfo=dt.timezone.utc),
    )  # Friday 17:00 MSK
    for _ in range(2):  # a redelivered event
        done = fx.run(flow.on_enter("Review"), ctx)
    assert done == ["notified Sergey Security", "set description"]
    [task] = crm.records("Tasks")
    assert task.get("assigned_user_id") == "u-sec1" and task.get("name") == "OOO Romashka: Review"
    assert "Hello Sergey Security, Maria Manager sent it." in task.get("description")
    assert task.get("date_due") == dt.datetime(2025, 6, 9, 13, 0, tzinfo=dt.timezone.utc)  # Mon 16:00 MSK
    assert crm.get("Accounts", ids["acc"]).get("description") == "in review"


def test_effects_are_checked_with_the_machine_at_config_load():
    fx = Effects(templates=TEMPLATES)
    fx.register("open_account", lambda ctx, **kw: ["opened"])

    class Section(BaseModel):
        model_config = ConfigDict(extra="forbid")
        flow: machine_model(None, fx)  # type: ignore[valid-type]

    base = """
suitecrm: {url: "http://crm.test"}
plugins:
  demo:
    flow:
      statuses: [Draft, Review]
      initial: Draft
      on_enter:
        Review:
          - effect: notify
            args:
%s
"""
    to_x = "              to: {role: X}\n"
    cases = [  # (args lines, the line of the bad key, message)
        (to_x + "              template: nope", 13, "args.template: no template 'nope'"),
        (
            "              to: {boss: X}\n              template: review_needed",
            12,
            "args.to.boss: Extra inputs",
        ),
        (
            to_x + "              subject: s\n              body: b\n              due: 3w",
            15,
            "args.due: a working-time duration",
        ),
    ]
    for args, line, needle in cases:
        cfg = load_config_text(base % args)
        with pytest.raises(ConfigError) as err:
            cfg.validate_plugin_sections({"demo": Section})
        [problem] = err.value.problems
        assert (
            problem.startswith(f"<config>:{line}: plugins.demo.flow.on_enter.Review[0].")
            and needle in problem
        ), problem
    ok = load_config_text(base % "              to: {role: X}\n              template: review_needed")
    ok.validate_plugin_sections({"demo": Section})
