"""The plugin kit: choosing the loaded plugins, one-off plugin files, hook tracing, the core's own plugins,
the event builders, the pytest plugin (fixtures only), and `plugin new` whose skeleton passes its own test."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from click.testing import CliRunner
from test_plugins import SHIPPED, install_entry_points

import suitecrm_ext.testing as kit
from suitecrm_ext import EventKind, FieldChange, WatchSpec, hookimpl
from suitecrm_ext.cli import cli
from suitecrm_ext.plugins import DEFAULT_PLUGINS, PluginRegistry, trace_repr
from suitecrm_ext.testing import make_change, make_event

ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def fresh_plugin_commands():
    cli.reset_plugin_commands()
    yield
    cli.reset_plugin_commands()


def run(*args, env=None, input=None):
    return CliRunner().invoke(cli, list(args), env=env or {}, input=input, catch_exceptions=False)


# --- SUITECRM_EXT_LOAD_PLUGINS ------------------------------------------------------------------


def test_load_plugins_variable_chooses_the_plugins_and_empty_loads_none(monkeypatch):
    monkeypatch.setenv("SUITECRM_EXT_LOAD_PLUGINS", "")
    reg = PluginRegistry.discover()
    assert reg.loaded == [] and reg.problems == []
    assert set(reg.builtins) == set(DEFAULT_PLUGINS)  # the core's own always load
    monkeypatch.setenv("SUITECRM_EXT_LOAD_PLUGINS", "routing, onec_bridge")
    assert sorted(PluginRegistry.discover().loaded) == ["onec_bridge", "routing"]


def test_load_plugins_variable_naming_an_unknown_plugin_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("SUITECRM_EXT_LOAD_PLUGINS", "routing,routnig")
    reg = PluginRegistry.discover()
    assert reg.loaded == ["routing"]
    [problem] = reg.problems
    assert "SUITECRM_EXT_LOAD_PLUGINS names routnig" in problem and "routing" in problem
    r = run("--config", str(tmp_path / "none.yaml"), "plugins", "list")
    assert "warning: SUITECRM_EXT_LOAD_PLUGINS names routnig" in r.stderr


def test_load_plugins_keeps_the_sections_of_the_plugins_it_leaves_out(monkeypatch, tmp_path):
    """The config init writes names every installed plugin: it must work with a narrower load, as is."""
    cfg = tmp_path / "c.yaml"
    sections = "".join(f"  {n}:\n    enabled: true\n" for n in sorted(SHIPPED - {"collegial_actions"}))
    cfg.write_text(f"suitecrm:\n  url: http://127.0.0.1:9\nstate:\n  path: {tmp_path / 's.db'}\nplugins:\n"
                   + sections + "  collegial_actions:\n    polling_only: maybe\n")  # invalid, but not loaded
    monkeypatch.setenv("SUITECRM_EXT_LOAD_PLUGINS", "routing")
    r = run("--config", str(cfg), "config", "check")
    assert r.exit_code == 0, r.output
    listed = run("--config", str(cfg), "plugins", "list", "--json")
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert list(rows) == ["routing"] and rows["routing"]["enabled"] and rows["routing"]["config_errors"] == []
    # a section naming no installed plugin at all is still an error
    cfg.write_text(cfg.read_text() + "  routnig:\n    enabled: true\n")
    r = run("--config", str(cfg), "config", "check")
    assert r.exit_code != 0 and "plugins.routnig: no installed plugin of that name" in r.output
    # loaded again, the plugin's section is validated again
    monkeypatch.setenv("SUITECRM_EXT_LOAD_PLUGINS", "routing,collegial_actions")
    r = run("--config", str(cfg), "config", "check")
    assert r.exit_code != 0 and "plugins.collegial_actions.polling_only" in r.output


def test_with_no_plugins_loaded_the_core_commands_still_work(monkeypatch):
    monkeypatch.setenv("SUITECRM_EXT_LOAD_PLUGINS", "")
    r = run("--help")
    for name in ("init", "demo", "doctor", "run", "events", "jobs", "package", "plugin", "plugins"):
        assert f"  {name} " in r.stdout
    assert "collegial" not in r.stdout and "onec" not in r.stdout


# --- --plugins-dir --------------------------------------------------------------------------------

AUDIT = '''
"""Audits Accounts (a one-off plugin file)."""
import click
from suitecrm_ext import hookimpl, WatchSpec

@hookimpl
def ext_watch(settings):
    return [WatchSpec("Accounts")]

@click.command("audit")
def audit():
    click.echo("audited")

@hookimpl
def ext_cli_commands():
    return [audit]
'''


def test_plugins_dir_loads_each_file_as_a_plugin_and_reports_a_broken_one(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "audit.py").write_text(AUDIT)
    (folder / "broken.py").write_text("raise RuntimeError('no luck')\n")
    (folder / "_private.py").write_text("raise RuntimeError('never imported')\n")
    (folder / "routing.py").write_text("")  # the name of an installed plugin
    reg = PluginRegistry.discover(plugins_dir=folder)
    assert reg.infos["audit"].loaded and reg.infos["audit"].source == "plugins dir"
    assert reg.infos["audit"].description == "Audits Accounts (a one-off plugin file)."
    assert "RuntimeError: no luck" in reg.errors["broken"] and "broken.py" in reg.errors["broken"]
    assert "_private" not in reg.infos
    assert any("routing.py: a plugin named 'routing' is already loaded" in p for p in reg.problems)
    assert [s.module for s in reg.call_one("audit", "ext_watch", settings=None)] == ["Accounts"]


def test_plugins_dir_option_adds_commands_and_listing(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "audit.py").write_text(AUDIT)
    assert run("--plugins-dir", str(folder), "audit").stdout.strip() == "audited"
    r = run("--plugins-dir", str(folder), "--config", str(tmp_path / "none.yaml"), "plugins", "list",
            "--json")
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["audit"]["source"] == "plugins dir" and rows["audit"]["watch"] == "Accounts"
    # the next invocation without the option does not see it
    assert "audit" not in run("--help").stdout


def test_plugins_dir_that_is_not_a_folder_is_a_problem(tmp_path):
    reg = PluginRegistry.discover(plugins_dir=tmp_path / "missing")
    assert any("not a directory" in p for p in reg.problems)


# --- SUITECRM_EXT_TRACE_PLUGINS --------------------------------------------------------------------

TRACED = '''
from pydantic import BaseModel, SecretStr
from suitecrm_ext import hookimpl, Check

class Settings(BaseModel):
    url: str = "https://1c.example"
    password: SecretStr = SecretStr("tr4ce-hunter2")

@hookimpl
def ext_settings_schema():
    return Settings

@hookimpl
def ext_doctor_checks(ctx):
    return [Check("traced", True, "token=" + "ok")]

@hookimpl
def ext_jobs(settings):
    raise ValueError("bad schedule table")
'''


def test_trace_logs_each_hook_call_with_arguments_and_result_secrets_masked(tmp_path, monkeypatch, caplog):
    (tmp_path / "traced.py").write_text(TRACED)
    monkeypatch.setenv("SUITECRM_EXT_TRACE_PLUGINS", "1")
    reg = PluginRegistry.discover(plugins_dir=tmp_path)
    schema = reg.settings_schemas()["traced"]
    settings = schema()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="suitecrm_ext.trace"):
        reg.call_one("traced", "ext_watch", settings=settings)  # not implemented: no call, no line
        with pytest.raises(ValueError):
            reg.call_one("traced", "ext_jobs", settings=settings)
    lines = [r.getMessage() for r in caplog.records if r.name == "suitecrm_ext.trace"]
    assert lines[0].startswith("hook ext_jobs [traced] called (settings=Settings(url='https://1c.example', "
                               "password='***'))")
    assert lines[1].startswith("hook ext_jobs [traced] raised ValueError: bad schedule table after ")
    assert not any("tr4ce-hunter2" in line for line in lines)
    assert not any("ext_watch" in line for line in lines)


def test_trace_through_the_cli_shows_results_and_no_secret(tmp_path):
    (tmp_path / "traced.py").write_text(TRACED)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"suitecrm:\n  url: http://127.0.0.1:9\nstate:\n  path: {tmp_path / 's.db'}\n"
                   "plugins:\n  traced:\n    password: ${TRACED_PW}\n")
    env = {**os.environ, "SUITECRM_EXT_TRACE_PLUGINS": "1", "TRACED_PW": "fr0m-env-secret"}
    out = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--plugins-dir", str(tmp_path), "--config",
                          str(cfg), "doctor"], capture_output=True, text=True, env=env, timeout=120)
    assert ("hook ext_doctor_checks [traced] returned [Check(name='traced', ok=True, detail='token=ok'"
            in out.stderr)
    assert "hook ext_doctor_checks [core.checks] called (ctx=<PluginContext core.checks>)" in out.stderr
    assert "fr0m-env-secret" not in out.stderr + out.stdout


def test_trace_repr_masks_secret_keys_nested_and_shortens():
    text = trace_repr({"module": "Users", "values": {"user_hash": "abc", "name": "Max"}, "api_key": "k"})
    assert text == "{'module': 'Users', 'values': {'user_hash': '***', 'name': 'Max'}, 'api_key': '***'}"
    assert trace_repr("x" * 1000).endswith("…") and len(trace_repr("x" * 1000)) == 400


# --- the core's own plugins ------------------------------------------------------------------------


def test_the_core_registers_its_features_through_the_hooks():
    reg = PluginRegistry.discover()
    assert list(reg.builtins) == list(DEFAULT_PLUGINS)
    assert reg.implements("core.commands", "ext_cli_commands")
    assert reg.implements("core.checks", "ext_doctor_checks") and reg.implements("core.checks",
                                                                                 "ext_config_warnings")
    jobs = reg.call_one("core.maintenance", "ext_jobs", settings=None)
    assert [j.name for j in jobs] == ["state-maintenance"]
    assert reg.active[:len(DEFAULT_PLUGINS)] == list(DEFAULT_PLUGINS)
    assert not set(DEFAULT_PLUGINS) & set(reg.loaded)  # `loaded`/`enabled` are the installed plugins
    assert not set(DEFAULT_PLUGINS) & set(reg.settings_schemas())


def test_plugins_list_hides_the_core_plugins_unless_all(tmp_path):
    args = ("--config", str(tmp_path / "none.yaml"), "plugins", "list", "--json")
    names = {row["name"] for row in json.loads(run(*args).stdout)}
    assert SHIPPED <= names and not names & set(DEFAULT_PLUGINS)
    rows = {row["name"]: row for row in json.loads(run(*args, "--all").stdout)}
    assert rows["core.commands"]["builtin"] and "init" in rows["core.commands"]["commands"]
    assert rows["core.maintenance"]["jobs"] == "state-maintenance (1h)"


def test_maintenance_job_purges_old_deliveries_and_expired_keys(tmp_path):
    from suitecrm_ext.builtin.maintenance import RETENTION_SECONDS
    from suitecrm_ext.jobs import Scheduler
    from suitecrm_ext.state.sqlite import SQLiteStore
    from suitecrm_ext.testing import build_app, build_config

    now = [1_000_000.0]
    store = SQLiteStore(tmp_path / "s.db", clock=lambda: now[0])
    store.enqueue([make_event("Accounts", "a1"), make_event("Accounts", "a2")])
    store.fan_out(lambda ev: ["p"])
    [first, second] = store.claim("w")
    store.ack(first.id, "w")  # done: purged once old enough; the pending one stays
    store.kv_set("x", "k", "v", ttl_seconds=10)
    store.kv_set("x", "kept", "v")
    now[0] += RETENTION_SECONDS + 100
    reg = PluginRegistry.from_plugins({}, builtins=True)
    app = build_app(reg, build_config(), state=store)
    outcome = Scheduler(app, reg, owner="t", store=store).run_job("state-maintenance", force=True)
    assert (outcome.status, outcome.summary) == (
        "ok", "purged 1 delivered event(s) older than 7 days, 1 expired key(s)")
    assert store.kv_get("x", "k") is None and store.kv_get("x", "kept") == "v"
    assert store.queue_stats().events == 1
    store.close()


# --- the testing kit -------------------------------------------------------------------------------


def test_the_pytest_plugin_defines_fixtures_only_none_autouse():
    fixtures = [obj for _, obj in inspect.getmembers(kit) if hasattr(obj, "_pytestfixturefunction")
                or type(obj).__name__ == "FixtureFunctionDefinition"]
    assert fixtures, "no fixtures found"
    for path in Path(kit.__file__).parent.glob("*.py"):  # the kit's package, every module
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "fixture":
                assert not any(k.arg == "autouse" for k in node.keywords), (path.name, ast.unparse(node))
    hooks = [n for n in dir(kit) if n.startswith("pytest_")]
    assert hooks == []


def test_caplog_still_sees_records_after_a_cli_invocation(caplog, tmp_path):
    r = run("--config", str(tmp_path / "none.yaml"), "plugins", "list")
    assert r.exit_code == 0
    with caplog.at_level(logging.INFO):
        logging.getLogger("suitecrm_ext.test").info("after the CLI")
    assert "after the CLI" in caplog.text


def test_make_event_builds_what_the_sources_deliver():
    ev = make_event("Accounts", "a1", "updated", changes={"name": ("Old", "New")}, values={"city": "Tver"})
    assert ev.kind is EventKind.UPDATED and ev.changes == {"name": FieldChange("Old", "New")}
    assert ev.values == {"city": "Tver", "name": "New"} and ev.time.tzinfo is not None
    again = make_event("Accounts", "a1", "updated", changes={"name": ("Old", "New")}, time=ev.time)
    assert again.key == ev.key  # a repeated delivery has the same key
    created = make_event("Accounts", kind="created", values={"name": "Initech"})
    assert created.record_id and created.changes == {"name": FieldChange(None, "Initech")}
    with pytest.raises(ValueError, match="link= and related_id="):
        make_event("Accounts", "a1", "related")
    with pytest.raises(TypeError, match="changes"):
        make_event("Accounts", "a1", changes={"name": "New"})


def test_make_change_takes_before_from_the_crm(fake_crm):
    acc = fake_crm.save("Accounts", {"name": "Initech"})
    change = make_change("Accounts", acc, after={"name": "Initrode"}, crm=fake_crm, user_id="u1")
    assert change.before["name"] == "Initech" and change.changed == {"name"} and not change.is_new
    assert make_change("Accounts", after={"name": "X"}).is_new


def test_smtp_server_fixture_receives_what_the_mailer_sends(smtp_server, make_config):
    from suitecrm_ext.mail import Mailer, MailError

    config = make_config(smtp=smtp_server.settings(sender="crm@example.test"))
    mailer = Mailer(config.settings.smtp)
    mailer.send(["Alice@Example.test", "bob@example.test"], "Review needed", "Please review.")
    [mail] = smtp_server.to("alice@example.test")  # the envelope's recipients, case aside
    assert mail["Subject"] == "Review needed" and mail["From"] == "crm@example.test"
    assert smtp_server.to("bob@example.test") == [mail] and smtp_server.to("carol@example.test") == []
    [got] = smtp_server.received
    assert got.mail_from == "crm@example.test" and got.message is mail
    smtp_server.refuse = 1  # a transient refusal: the sender sees it, nothing is kept
    with pytest.raises(MailError, match="451"):
        mailer.send(["alice@example.test"], "Again", "x")
    mailer.send(["alice@example.test"], "Again", "x")
    assert [m["Subject"] for m in smtp_server.messages] == ["Review needed", "Again"]
    smtp_server.clear()
    assert smtp_server.messages == []


def test_smtp_server_starts_on_a_reserved_port_and_stops_after_the_block():
    import smtplib

    port = kit.free_port()
    with kit.smtp_server(port=port) as server:
        assert server.port == port
        with smtplib.SMTP(server.host, port, timeout=10) as client:
            client.sendmail("a@example.test", ["b@example.test"], b"Subject: hi\r\n\r\nbody\r\n")
    assert server.to("b@example.test")[0]["Subject"] == "hi"
    with pytest.raises(OSError):  # stopped: nobody listens any more
        smtplib.SMTP(server.host, port, timeout=5)


def test_the_kit_imports_aiosmtpd_only_when_a_server_starts():
    code = "import sys, suitecrm_ext.testing; print('aiosmtpd' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _Guard:
    """A plugin for the world tests: refuses Accounts named ACME, notes every Account it hears of."""

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts")]

    @hookimpl
    def ext_validate_record_change(self, change, ctx):
        return "no ACME here" if change.after.get("name") == "ACME" else None

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        ctx.crm.save("Notes", {"name": f"{event.kind.value} {event.values.get('name')}",
                               "parent_type": event.module, "parent_id": event.record_id})


def test_world_validates_saves_and_delivers_what_the_plugin_watches(tmp_path, smtp_server):
    crm = kit.FakeCRM()
    world = kit.build_world({"guard": _Guard(), "workflow": "suitecrm_ext.workflow.plugin"}, crm=crm,
                            state_dir=tmp_path, smtp=smtp_server.settings())
    assert world.plugin == "guard" and world.ctx.name == "guard"
    assert world.config.settings.smtp.port == smtp_server.port
    assert world.config.settings.state.path == str(tmp_path / "state.sqlite3")
    refused = world.change_of("u1", "Accounts", {"name": "ACME"})
    assert refused.is_new and world.validate(refused) == "no ACME here"
    assert world.validate(refused, plugins=["workflow"]) is None
    change = world.change_of("u1", "Accounts", {"name": "Initech"})
    assert world.validate(change) is None
    acc = crm.save("Accounts", change.after)
    when = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone.utc)
    assert world.deliver(world.saved_event(change, acc, when))
    rename = world.change_of("u2", "Accounts", {"id": acc, "name": "Initrode"})
    assert rename.before["name"] == "Initech" and not rename.is_new
    crm.save("Accounts", {"id": acc, "name": "Initrode"})
    ev = world.saved_event(rename, acc, when)
    assert ev.kind is EventKind.UPDATED and ev.changes == {"name": FieldChange("Initech", "Initrode")}
    assert ev.user_id == "u2" and ev.source == "push"
    world.deliver(ev)
    note = kit.make_event("Notes", kind="created", values={"name": "x"})
    assert not world.deliver(note)  # not watched: not delivered
    assert [e.kind for e in world.delivered] == [EventKind.CREATED, EventKind.UPDATED]
    assert sorted(n.get("name") for n in crm.find("Notes", {"parent_id": acc})) == [
        "created Initech", "updated Initrode"]
    world.close()


def test_world_settings_are_validated_by_the_plugins_schemas(tmp_path):
    from suitecrm_ext import ConfigError

    with pytest.raises(ConfigError, match="calendar"):
        kit.build_world({"workflow": "suitecrm_ext.workflow.plugin"}, crm=kit.FakeCRM(),
                        settings={"workflow": {"calendar": "nonsense"}})


def test_install_plugin_schema_brings_the_packages_it_requires_and_add_user_its_roles_and_groups():
    from suitecrm_ext.workflow import AccessModel

    crm = kit.FakeCRM()
    schema = kit.install_plugin_schema(crm, "account_opening")
    assert "ao_Applications" in crm.modules() and "sx_Decisions" in crm.modules()  # requires: workflow
    assert schema.plugin == "account_opening" and schema.logic_hooks
    kit.add_user(crm, "u-boss", "boss", "Bella", "Boss")
    kit.add_user(crm, "u-rep", "rep", "Roman", "Rep", manager_id="u-boss", roles=["Sales rep"],
                 groups=["North", "South"], email="roman@corp.test")
    access = AccessModel(crm)
    rep = access.user("u-rep")
    assert rep.active and rep.reports_to_id == "u-boss" and rep.email == "roman@corp.test"
    assert access.user("u-boss").email == "boss@example.test"
    assert access.has_role("u-rep", "sales rep") and not access.has_role("u-boss", "Sales rep")
    assert sorted(g.name for g in access.user_groups("u-rep")) == ["North", "South"]


def test_live_fixtures_are_documented_in_the_kit():
    doc = kit.__doc__
    assert "live_lab" in doc and "live_crm" in doc and "SUITECRM_EXT_LIVE_ENV" in doc


# --- plugin new -------------------------------------------------------------------------------------


def test_plugin_new_writes_a_skeleton_whose_own_test_passes(tmp_path):
    r = run("plugin", "new", "audit-trail", "--dir", str(tmp_path), "--description", "Audits things")
    assert r.exit_code == 0, r.output
    project = tmp_path / "suitecrm-ext-audit-trail"
    assert f"created {project}/" in r.stdout
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    entry = meta["project"]["entry-points"]["suitecrm_ext.plugins"]
    assert entry == {"audit_trail": "suitecrm_ext_audit_trail.plugin"}
    for rel in ("suitecrm_ext_audit_trail/plugin.py", "suitecrm_ext_audit_trail/settings.py",
                "suitecrm_ext_audit_trail/schema.yaml", "tests/test_plugin.py", "README.md"):
        assert (project / rel).is_file(), rel
    # its test, run by pytest in the project folder, as its author would (the kit's fixtures come from
    # the installed suitecrm-ext's pytest11 entry point)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "5 passed" in out.stdout
    for style in (["--isolated"], ["--config", str(ROOT / "pyproject.toml")]):  # ruff's defaults, and ours
        lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *style, "."], cwd=project,
                              capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
    # installed (its entry point seen by importlib.metadata), it loads like any plugin
    install_dir = tmp_path / "site"
    install_dir.mkdir()
    mp = pytest.MonkeyPatch()
    try:
        install_entry_points(install_dir, mp, "suitecrm_ext_audit_trail", meta["project"]["entry-points"]
                             ["suitecrm_ext.plugins"])
        mp.syspath_prepend(str(project))
        reg = PluginRegistry.discover(only=["audit_trail"])
        assert reg.infos["audit_trail"].loaded, reg.errors
        assert reg.infos["audit_trail"].description.startswith("Hook implementations of audit_trail")
        from suitecrm_ext.testing import load_plugin_schema

        assert load_plugin_schema("audit_trail", reg).package.id == "sxt_audit_trail"
        # its package carries the logic hook SuiteCRM calls before saving an Account; without it the
        # plugin's refusals would never be asked for, and `config check` says so (alone: account_opening's
        # package validates Accounts too)
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"suitecrm:\n  url: http://127.0.0.1:9\nstate:\n  path: {tmp_path / 's.db'}\n"
                       "events:\n  push:\n    enabled: true\n    secret: 0123456789abcdef0123456789abcdef\n"
                       "plugins:\n" + "".join(f"  {n}:\n    enabled: false\n" for n in SHIPPED))
        r = run("--config", str(cfg), "config", "check")
        assert r.exit_code == 0 and "plugin audit_trail" not in r.stderr, r.stderr
        schema_file = project / "suitecrm_ext_audit_trail" / "schema.yaml"
        schema_file.write_text(schema_file.read_text().split("logic_hooks:")[0])
        r = run("--config", str(cfg), "config", "check")
        assert "plugin audit_trail refuses forbidden changes of Accounts, but no enabled plugin's package " \
               "has a validating logic hook there" in r.stderr
    finally:
        mp.undo()
        for name in [m for m in sys.modules if m.startswith("suitecrm_ext_audit_trail")]:
            del sys.modules[name]


def test_plugin_new_refuses_bad_names_and_existing_folders(tmp_path):
    r = CliRunner().invoke(cli, ["plugin", "new", "9lives", "--dir", str(tmp_path)])
    assert r.exit_code == 2 and "use lower-case letters" in r.output
    assert run("plugin", "new", "audit", "--dir", str(tmp_path)).exit_code == 0
    r = CliRunner().invoke(cli, ["plugins", "new", "audit", "--dir", str(tmp_path)])  # the alias
    assert r.exit_code == 1 and "already exists" in r.output


# --- docs/hooks.md ----------------------------------------------------------------------------------


def test_docs_hooks_md_is_generated_from_hookspecs_and_current():
    from suitecrm_ext import hookspecs
    from suitecrm_ext.hookdocs import DOC_PATH, hook_names, render

    assert DOC_PATH.read_text(encoding="utf-8") == render(), \
        "docs/hooks.md is out of date: run python -m suitecrm_ext.hookdocs"
    assert set(hook_names()) == {n for n in dir(hookspecs) if n.startswith("ext_")}
    text = DOC_PATH.read_text()
    for name in hook_names():
        assert f"\n## {name}\n" in text
    assert ":class:" not in text
