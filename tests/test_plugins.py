"""Plugin discovery through entry points, load errors named per plugin, hook API documentation."""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path

import pytest

from suitecrm_ext import ENTRY_POINT_GROUP, hookspecs
from suitecrm_ext.plugins import PluginRegistry

ROOT = Path(__file__).parent.parent
SHIPPED = {"collegial_actions", "account_opening", "routing", "portal_sync", "onec_bridge", "bp_scripts"}


def install_entry_points(tmp_path: Path, monkeypatch, dist: str, entries: dict[str, str], modules=None):
    """Make a distribution with entry points visible to importlib.metadata, as pip would."""
    info = tmp_path / f"{dist}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = [f"[{ENTRY_POINT_GROUP}]"] + [f"{k} = {v}" for k, v in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, code in (modules or {}).items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
    monkeypatch.syspath_prepend(str(tmp_path))


def test_shipped_plugins_are_discovered_through_entry_points():
    reg = PluginRegistry.discover()
    assert SHIPPED <= set(reg.loaded), reg.errors
    for name in SHIPPED:
        info = reg.infos[name]
        assert info.version, name
        assert info.description, name
        assert info.enabled


def test_disabled_plugin_is_loaded_but_not_enabled():
    reg = PluginRegistry.discover(enabled={"routing": False})
    assert "routing" in reg.loaded
    assert "routing" not in reg.enabled
    assert "collegial_actions" in reg.enabled


BROKEN = """
raise RuntimeError("boom at import")
"""
UNKNOWN_HOOK = """
from suitecrm_ext import hookimpl

@hookimpl
def ext_on_record_chnage(event, ctx):
    pass
"""
BAD_ARG = """
from suitecrm_ext import hookimpl

@hookimpl
def ext_watch(settings, colour):
    return []
"""
GOOD = """
from suitecrm_ext import hookimpl, WatchSpec

@hookimpl
def ext_watch(settings):
    return [WatchSpec("Accounts")]
"""


def test_broken_plugins_are_reported_by_name_and_others_still_load(tmp_path, monkeypatch):
    install_entry_points(
        tmp_path, monkeypatch, "sxt_test_plugins",
        {"broken": "sxt_broken", "typo": "sxt_typo", "badarg": "sxt_badarg", "good": "sxt_good",
         "missing": "sxt_does_not_exist"},
        {"sxt_broken": BROKEN, "sxt_typo": UNKNOWN_HOOK, "sxt_badarg": BAD_ARG, "sxt_good": GOOD},
    )
    reg = PluginRegistry.discover()
    errors = reg.errors
    assert "RuntimeError: boom at import" in errors["broken"] and "'broken'" in errors["broken"]
    assert "ext_on_record_chnage" in errors["typo"] and "'typo'" in errors["typo"]
    assert "colour" in errors["badarg"] and "'badarg'" in errors["badarg"]
    assert "ModuleNotFoundError" in errors["missing"]
    assert "good" in reg.enabled
    assert SHIPPED <= set(reg.enabled)
    assert [s.module for s in reg.call_one("good", "ext_watch", settings=None)] == ["Accounts"]
    assert reg.call_one("broken", "ext_watch", settings=None) is None


def test_example_plugin_loads_through_the_entry_point_mechanism(tmp_path, monkeypatch):
    install_entry_points(tmp_path, monkeypatch, "suitecrm_ext_hello", {"hello": "hello_plugin.plugin"})
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "hello_plugin"))
    reg = PluginRegistry.discover()
    assert "hello" in reg.enabled, reg.errors
    info = reg.infos["hello"]
    assert info.version == "0.1.0"
    assert {"ext_watch", "ext_on_record_change", "ext_jobs", "ext_cli_commands"} <= set(info.hooks)
    schema = reg.settings_schemas()["hello"]
    assert schema.model_validate({}).greeting == "Welcome"


def test_call_one_passes_only_the_arguments_an_implementation_names():
    class Plugin:
        @staticmethod
        def ext_watch(settings):
            return ["called with", settings]

    from suitecrm_ext import hookimpl

    Plugin.ext_watch = staticmethod(hookimpl(Plugin.ext_watch))
    reg = PluginRegistry.from_plugins({"p": Plugin})
    assert reg.call_one("p", "ext_watch", settings=42) == ["called with", 42]
    with pytest.raises(TypeError, match="settings"):
        reg.call_one("p", "ext_watch")


def test_from_plugins_reports_import_errors_by_name():
    reg = PluginRegistry.from_plugins({"nope": "sxt_no_such_module_xyz"})
    assert "'nope'" in reg.errors["nope"]


HOOKS = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("ext_")]


def test_the_hook_api_is_complete():
    expected = {"ext_settings_schema", "ext_suitecrm_artifacts", "ext_watch", "ext_on_record_change",
                "ext_validate_record_change", "ext_jobs", "ext_cli_commands", "ext_doctor_checks"}
    assert expected <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_is_documented_like_an_api_reference(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert doc, f"{name} has no docstring"
    for part in ("When:", "Returns:", "May raise:"):
        assert part in doc, f"{name}'s docstring does not say {part!r}"


def test_hookspec_module_lists_only_documented_hooks():
    undocumented = [
        n for n in dir(hookspecs) if n.startswith("ext_") and not inspect.getdoc(getattr(hookspecs, n))
    ]
    assert undocumented == []


def test_core_never_imports_a_plugin():
    offenders = []
    for path in (ROOT / "suitecrm_ext").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import plugins", "from plugins")):
                offenders.append(f"{path}: {stripped}")
    assert offenders == []


def test_plugins_import_only_the_public_surface_of_suitecrm_ext():
    import ast

    # suitecrm_ext.packaging: the package builder and installer (portal_sync builds the portal's package);
    # suitecrm_ext.demo: a plugin's demo scene; suitecrm_ext.progress: the shared CLI progress bars
    allowed = {"suitecrm_ext", "suitecrm_ext.testing", "suitecrm_ext.cli", "suitecrm_ext.workflow",
               "suitecrm_ext.packaging", "suitecrm_ext.demo", "suitecrm_ext.progress"}
    offenders = []
    for path in (ROOT / "plugins").rglob("*.py"):
        tree = ast.parse(path.read_text())
        own = path.relative_to(ROOT).parts[1] if len(path.relative_to(ROOT).parts) > 2 else None
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for mod in names:
                if mod.startswith("suitecrm_ext") and mod not in allowed:
                    offenders.append(f"{path}: {mod}")
                if mod.startswith("plugins.") and own and not mod.startswith(f"plugins.{own}"):
                    offenders.append(f"{path}: imports another plugin {mod}")
    assert offenders == []


def test_testing_kit_is_registered_as_pytest_plugin():
    assert "suitecrm_ext.testing" in sys.modules


def test_add_loads_a_module_path_with_attribute_and_records_errors():
    reg = PluginRegistry()
    info = reg.add("greeter", "suitecrm_ext.testing:FakeCRM")  # any object: no hooks, loads cleanly
    assert info.loaded and info.hooks == []
    bad = reg.add("bad", "sxt_missing_module:thing")
    assert "'bad'" in bad.error and "sxt_missing_module:thing" in bad.error
    assert reg.add("greeter", "other.module") is info  # a known name is left as it is
