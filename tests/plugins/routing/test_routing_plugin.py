"""The plugin's hooks as the core calls them: watch specs, the job, doctor checks, the command line."""

from __future__ import annotations

import yaml
from click.testing import CliRunner
from routing_kit import MONDAY, make_crm, route_file

import plugins.routing.plugin as plugin_module
from plugins.routing.settings import Settings
from suitecrm_ext import EventKind
from suitecrm_ext.cli import cli
from suitecrm_ext.context import AppContext
from suitecrm_ext.packaging.requires import requirement_order
from suitecrm_ext.testing import FakeCRM, build_app, build_config, build_registry, load_plugin_schema


def test_watch_specs_cover_decisions_routed_fields_and_related_completions():
    s = Settings(route_files=[route_file("portal_cases.yaml"), route_file("discount_approval.yaml")])
    specs = {sp.module: sp for sp in plugin_module.ext_watch(s)}
    assert set(specs["rt_RouteSteps"].fields) == {"assigned_user_id", "decision"}
    assert {"sxt_portal_case_c", "status", "state", "priority", "type", "assigned_user_id"} <= set(
        specs["Cases"].fields
    )
    assert EventKind.DELETED in specs["Cases"].kinds
    assert {"rt_discount_c", "sales_stage"} <= set(specs["Opportunities"].fields)
    assert {"discount_amount", "total_amt", "stage"} <= set(specs["AOS_Quotes"].fields)
    updates = specs["AOP_Case_Updates"]
    assert set(updates.fields) == {"case_id", "internal", "contact_id"} and updates.kinds == {
        EventKind.CREATED
    }


def test_the_escalation_job_follows_the_configured_schedule():
    (job,) = plugin_module.ext_jobs(Settings(escalation_schedule="*/5 * * * *"))
    assert (job.name, job.schedule) == ("routing-escalate", "*/5 * * * *")


def test_doctor_names_missing_modules_fields_and_roles(tmp_path):
    config = build_config(
        plugins={"routing": {"route_files": [route_file("discount_approval.yaml")]}},
        state={"path": str(tmp_path / "s.sqlite3")},
    )
    reg = build_registry({"routing": plugin_module}, config=config)
    bare = build_app(reg, config=config, crm=FakeCRM())
    checks = {c.name: c for c in plugin_module.ext_doctor_checks(bare.for_plugin("routing"))}
    assert not checks["routing module rt_RouteSteps"].ok
    assert "package install routing" in checks["routing module rt_RouteSteps"].hint
    assert not checks["routing module Opportunities"].ok
    assert "no ACL role(s) Chief executive, Sales director, Sales manager" in checks["routing roles"].detail
    clock = [MONDAY]
    ready = build_app(reg, config=config, crm=make_crm(clock))
    checks = {c.name: c for c in plugin_module.ext_doctor_checks(ready.for_plugin("routing"))}
    assert checks["routing module rt_RouteSteps"].ok and checks["routing module Opportunities"].ok
    assert checks["routing roles"].ok, checks["routing roles"].detail
    assert "routing writes" not in checks


def test_explain_and_steps_through_the_command_line(office_factory, tmp_path, monkeypatch):
    o = office_factory(route_files=[route_file("discount_approval.yaml")])
    opp = o.save(
        "u-seller",
        "Opportunities",
        {
            "name": "Big deal",
            "sales_stage": "Prospecting",
            "rt_discount_c": "15",
            "assigned_user_id": "u-seller",
        },
    )
    cfg = tmp_path / "cli.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "suitecrm": {"url": "http://crm.test"},
                "state": {"path": str(tmp_path / "cli-state.sqlite3")},
                "plugins": {
                    "routing": {
                        "service_user": "sidecar",
                        "route_files": [route_file("discount_approval.yaml")],
                    }
                },
            }
        )
    )
    monkeypatch.setattr(AppContext, "crm", property(lambda self: o.crm))
    cli.reset_plugin_commands()
    try:
        run = CliRunner().invoke(
            cli, ["--config", str(cfg), "routing", "explain", "Opportunities", opp], catch_exceptions=False
        )
        assert run.exit_code == 0, run.output
        out = run.output
        assert "Route opportunity_discount (Discount approval)" in out
        assert "Trigger on created, updated: rt_discount_c > 10 — holds" in out
        assert "seat 1 Max Manager: open; due 2025-12-02 09:00 MSK" in out
        assert "may decide: Max Manager" in out
        assert (
            "next: sales_director" in out
            and "rt_discount_c > 20 does not hold (rt_discount_c is '15')" in out
        )
        assert "Veto: changes of sales_stage until approved — refused now" in out
        case = o.crm.save("Cases", {"name": "a case"})
        other = CliRunner().invoke(cli, ["--config", str(cfg), "routing", "explain", "Cases", case]).output
        assert "No route is configured for Cases (routed modules: AOS_Quotes, Opportunities)." in other
        steps = CliRunner().invoke(cli, ["--config", str(cfg), "routing", "steps", "--overdue"])
        assert steps.exit_code == 0 and "No overdue steps." in steps.output
        listing = CliRunner().invoke(cli, ["--config", str(cfg), "routing", "steps"]).output
        assert "sales_manager" in listing and "Mia Manager" in listing and "8.0 working hours left" in listing
        missing = CliRunner().invoke(
            cli, ["--config", str(cfg), "routing", "explain", "Opportunities", "nope"]
        )
        assert "No Opportunities record with id 'nope'." in missing.output
    finally:
        cli.reset_plugin_commands()


def test_fields_suitecrm_does_not_store_are_left_out_when_the_reader_cannot_give_them(office_factory):
    from suitecrm_ext import ValidationError

    o = office_factory(routes=[{"name": "r", "module": "Documents", "on": ["created"],
                                "when": {"field": "template_type", "eq": "nda"}, "once_per": ["revision"],
                                "steps": [{"name": "a", "assignee": {"user": "max"}}]}])
    real_get = o.crm.get
    refused = []

    def mysql_like_get(module, rid, fields=None):
        # the MySQL reader: non-db fields (Documents.revision) cannot be selected
        infos = o.crm.fields(module)
        if fields and any(infos[f].source == "non-db" for f in fields if f in infos):
            refused.append(module)
            raise ValidationError(f"{module} has no field(s) 'revision'", transport="mysql")
        return real_get(module, rid, fields)

    o.crm.get = mysql_like_get
    doc = o.save("u-author", "Documents", {"document_name": "memo", "template_type": "nda"})
    assert [s.get("assigned_user_id") for s in o.open_steps(doc)] == ["u-mgr1"]
    assert "Documents" in refused  # the engine asked for revision, was refused, and read the rest


def test_the_package_requires_the_core_workflow_package():
    """Deputies and the decision log are the core's modules: Module Loader and init install workflow first."""
    schema = load_plugin_schema("routing")
    assert [r.plugin for r in schema.requires] == ["workflow"]
    assert [s.plugin for s in requirement_order(schema)] == ["workflow", "routing"]
