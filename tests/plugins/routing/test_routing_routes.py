"""The route format: what loads, and bad routes refused with the file, the line and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from routing_kit import ROUTE_FILES

import plugins.routing.plugin as plugin_module
from plugins.routing.routes import Completion, Route, RouteFile
from plugins.routing.settings import Settings
from suitecrm_ext import ConfigError, load_yaml_model
from suitecrm_ext.config import load_config_text
from suitecrm_ext.testing import build_registry


def problems_of_file(tmp_path: Path, text: str) -> list[str]:
    p = tmp_path / "route.yaml"
    p.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as exc:
        load_yaml_model(p, RouteFile)
    return [line.replace(str(p), "route.yaml") for line in exc.value.problems]


def problems_of_config(text: str) -> list[str]:
    cfg = load_config_text(textwrap.dedent(text), path=Path("suitecrm-ext.yaml"))
    with pytest.raises(ConfigError) as exc:
        build_registry({"routing": plugin_module}, config=cfg)
    return exc.value.problems


def test_the_shipped_route_files_load_with_every_route():
    s = Settings(route_files=[str(ROUTE_FILES / "*.yaml")])
    assert sorted(r.name for r in s.all_routes()) == [
        "document_approval",
        "opportunity_discount",
        "portal_case",
        "quote_discount",
    ]
    portal = next(r for r in s.all_routes() if r.name == "portal_case")
    assert [st.kind for st in portal.steps] == ["approval", "assign", "task", "task"]
    assert portal.identity_fields() == []
    doc = next(r for r in s.all_routes() if r.name == "document_approval")
    assert doc.steps[1].completion.text() == "percent:50"


def test_a_bad_route_file_names_the_line_and_key_of_each_problem(tmp_path):
    problems = problems_of_file(
        tmp_path,
        """\
        routes:
          - name: x
            module: Opportunities
            when:
              all:
                - {field: amount, gt: 1}
                - {field: amount, tto: 3}
            steps:
              - name: s1
                assignee: {rol: Boss}
              - name: s2
                assignee: {role: Boss}
                mode: sequential
                completion: {at_least: 2}
              - name: s3
                assignee: {role: Boss}
                deadline: 4x
        """,
    )
    assert problems[0].startswith("route.yaml:7: routes[0].when.all[1].tto: unknown test 'tto'")
    assert problems[1].startswith("route.yaml:10: routes[0].steps[0].assignee")
    assert "rol: unknown key" in problems[1]
    assert problems[2] == (
        "route.yaml:11: routes[0].steps[1]: completion goes with mode: parallel (this step is sequential)"
    )
    assert problems[3].startswith("route.yaml:17: routes[0].steps[2].deadline[0].in: a working-time duration")


def test_a_bad_inline_route_is_reported_at_its_line_in_the_main_config():
    problems = problems_of_config("""\
        suitecrm: {url: "http://crm.test"}
        plugins:
          routing:
            routes:
              - name: y
                module: Cases
                steps:
                  - name: a
                    assignee: {user: admin}
                    when: {field: "status; DROP TABLE cases", eq: 1}
        """)
    assert problems == [
        "suitecrm-ext.yaml:10: plugins.routing.routes[0].steps[0].when.field: a field name is "
        "letters, digits and _ (got 'status; DROP TABLE cases')"
    ]


def test_a_broken_route_file_in_the_config_names_both_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  - name: z\n    module: Cases\n    steps: []\n")
    problems = problems_of_config(f"""\
        suitecrm: {{url: "http://crm.test"}}
        plugins:
          routing:
            route_files: ["{bad}", "{tmp_path}/none-*.yaml", "{tmp_path}/missing.yaml"]
        """)
    (text,) = problems
    assert text.startswith("suitecrm-ext.yaml:3: plugins.routing: route_files:")
    assert f"{bad}:4: routes[0].steps: List should have at least 1 item" in text
    assert f"{tmp_path}/none-*.yaml: no route file matches" in text
    assert f"{tmp_path}/missing.yaml: no such route file" in text


HOSTILE = [
    ({"field": "x", "eq": "${jndi:ldap://evil}"}, None),  # just text, compared as text
    ({"field": "__import__('os').system('id')", "eq": 1}, "a field name is letters"),
    ({"predicate": "eval", "args": {"code": "1"}}, "unknown predicate 'eval'"),
    ({"predicate": "share", "args": {"part": "a", "whole": "b", "code": 1}}, "predicate share takes"),
    ({"field": "x", "gt": float("nan")}, "not a finite number"),
    ({"field": "x", "in": list(range(201))}, "more than 200 values"),
    ({"field": "x", "eq": "y" * 1001}, "text longer than 1000"),
    (True, None),
]


@pytest.mark.parametrize(("cond", "error"), HOSTILE)
def test_hostile_trigger_conditions_are_refused_when_loaded(cond, error):
    data = {"name": "r", "module": "Cases", "when": cond, "steps": [{"name": "a", "assignee": {"user": "x"}}]}
    if error is None:
        Route.model_validate(data)
        return
    with pytest.raises(ValueError, match=error):
        Route.model_validate(data)


def test_nesting_deeper_than_the_limit_is_refused():
    cond: dict = {"field": "x", "eq": 1}
    for _ in range(20):
        cond = {"not": cond}
    with pytest.raises(ValueError, match="nested more than 16 levels"):
        Route.model_validate(
            {
                "name": "r",
                "module": "Cases",
                "when": cond,
                "steps": [{"name": "a", "assignee": {"user": "x"}}],
            }
        )


@pytest.mark.parametrize(
    ("given", "text"),
    [
        ("all", "all"),
        ("any", "any"),
        ({"at_least": 2}, "at_least:2"),
        ({"percent": 60}, "percent:60"),
        ({"percent": 66.5}, "percent:66.5"),
    ],
)
def test_completion_rules_round_trip(given, text):
    c = Completion.model_validate(given)
    assert c.text() == text and Completion.from_text(text) == c


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("most", "completion is all, any"),
        ({"at_least": 0}, "1 or more"),
        ({"at_least": 1.5}, "whole number"),
        ({"percent": 0}, "above 0"),
        ({"percent": 101}, "up to 100"),
        ({"percent": "half"}, "needs a number"),
        ({"majority": 1}, "completion is all, any"),
    ],
)
def test_bad_completion_rules_are_refused(given, error):
    with pytest.raises(ValueError, match=error):
        Completion.model_validate(given)


def step(**kw):
    return {"name": "s", "assignee": {"role": "R"}, **kw}


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        ([step(kind="task")], "a task step needs complete_when"),
        ([step(complete_when={"field": "state", "eq": "Closed"}, mode="parallel")], "a task step is single"),
        ([step(kind="assign", deadline="2h")], "an assign step completes at once"),
        ([step(escalate={"to": "manager"})], "needs a deadline"),
        ([step(decisions=["approve", "shrug"])], "'shrug' is not one of"),
        ([step(decisions=["reject"])], "needs approve"),
        ([step(), step()], "two steps are named 's'"),
        ([{**step(), "name": "rework"}], "'rework' is the initiator's step"),
        ([step(complete_on={"module": "Bad Module", "field": "case_id"})], "not a SuiteCRM module name"),
        ([step(escalate={"to": "sideways"}, deadline="1h")], "escalate.to"),
    ],
)
def test_inconsistent_steps_are_refused(steps, error):
    with pytest.raises(ValueError, match=error):
        Route.model_validate({"name": "r", "module": "Cases", "steps": steps})


def test_next_role_escalation_needs_a_role_hierarchy_and_route_names_are_unique():
    route = {"name": "r", "module": "Cases", "steps": [step(deadline="1h", escalate={"to": "next_role"})]}
    with pytest.raises(ValueError, match="needs role_hierarchy"):
        Settings(routes=[route])
    assert Settings(routes=[route], role_hierarchy=["A", "B"]).all_routes()[0].name == "r"
    assert Settings(routes=[{**route, "role_hierarchy": ["A", "B"]}]).all_routes()
    with pytest.raises(ValueError, match="two routes are named 'r'"):
        Settings(routes=[route, route], role_hierarchy=["A"])


def test_deadlines_take_every_shape():
    r = Route.model_validate(
        {
            "name": "r",
            "module": "Cases",
            "steps": [
                step(name="a", deadline="4h"),
                step(name="b", deadline={"days": 2}),
                step(name="c", deadline={"in": "3h", "from": "run"}),
                step(
                    name="d", deadline=[{"when": {"field": "priority", "eq": "P1"}, "in": "4h"}, {"in": "2d"}]
                ),
            ],
        }
    )
    shapes = [[(d.in_.unit, d.in_.amount, d.from_) for d in s.deadline] for s in r.steps]
    assert shapes == [
        [("hours", 4, "step")],
        [("days", 2, "step")],
        [("hours", 3, "run")],
        [("hours", 4, "step"), ("days", 2, "step")],
    ]
