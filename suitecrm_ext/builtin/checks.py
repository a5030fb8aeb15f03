"""The core's doctor checks and config warnings, contributed through the same hooks as a plugin's.

Doctor: the config, every configured SuiteCRM transport, the push receiver settings, the state store,
one line per installed plugin (loaded / its load error), then the config warnings as ``WARN`` lines.

Config warnings (``config check`` and ``doctor``), for configurations that are valid but quietly do
less than the admin expects:

- a plugin that refuses forbidden changes through ``ext_validate_record_change`` while
  ``events.push.enabled`` is false and the plugin has no other way to enforce its rules
  (``ext_enforces_without_push``): nothing is enforced;
- a plugin that refuses forbidden changes of a module it watches while push is on, but no enabled
  plugin's package carries a validating logic hook on that module (schema.yaml ``logic_hooks:
  {module: M, validate: true}``): SuiteCRM never asks before those saves, so nothing is enforced there;
- ``suitecrm.root`` is set (the sidecar runs on the SuiteCRM host) and push is on, but SuiteCRM's
  config_override.php lacks ``$sugar_config['suitecrm_ext']['secret']`` or has another one: every
  call of the logic hook is refused, and a fail-open module lets every save through unchecked;
- the env file holding the secrets is readable by other users;
- ``$SUITECRM_EXT_LOAD_PLUGINS`` or the plugins directory named something that did not load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suitecrm_ext import Check, hookimpl
from suitecrm_ext.doctor import core_checks, plugin_checks

VALIDATE_HOOK = "ext_validate_record_change"


def config_warnings(config: Any, registry: Any) -> list[str]:
    """Every enabled plugin's ``ext_config_warnings`` (the core's first), as messages."""
    out: list[str] = []
    for name in registry.active:
        try:
            found = registry.call_one(name, "ext_config_warnings", config=config, registry=registry,
                                      settings=config.plugin_settings.get(name)) or []
        except Exception as exc:  # noqa: BLE001 - a broken warning must not hide the others
            found = [f"plugin {name}: ext_config_warnings failed: {type(exc).__name__}: {exc}"]
        out.extend(str(w) for w in found)
    return out


def core_doctor_checks(app: Any, registry: Any) -> list[Check]:
    """The core's doctor lines: services, plugins, then the config warnings."""
    checks = core_checks(app) + plugin_checks(registry)
    checks += [Check.warn("config", w) for w in config_warnings(app.config, registry)]
    return checks


@hookimpl
def ext_doctor_checks(ctx: Any) -> list[Check]:
    """Config, SuiteCRM transports, push receiver, state store, plugins, config warnings."""
    return core_doctor_checks(ctx.app, ctx.app.plugin_manager)


@hookimpl
def ext_config_warnings(config: Any, registry: Any) -> list[str]:
    """Unenforced validation, a missing/different push secret in config_override.php, a readable env
    file, plugin names that did not load."""
    out = list(getattr(registry, "problems", []))
    out += _enforcement(config, registry)
    out += _unhooked_validation(config, registry)
    out += _override_secret(config)
    if config.env_file is not None:
        from suitecrm_ext.envfile import loose_permissions

        problem = loose_permissions(config.env_file)
        if problem:
            out.append(f"{config.where(('env_file',))}: env_file: {problem}")
    return out


def _enforcement(config: Any, registry: Any) -> list[str]:
    push = config.settings.events.push
    if push.enabled:
        return []
    out = []
    for name in registry.enabled:
        if not registry.implements(name, VALIDATE_HOOK):
            continue
        answer = registry.call_one(name, "ext_enforces_without_push",
                                   settings=config.plugin_settings.get(name))
        if answer is True:
            continue
        how = f", or {answer}" if isinstance(answer, str) and answer else ""
        out.append(
            f"{config.where(('events', 'push', 'enabled'))}: plugin {name} refuses forbidden changes "
            "through SuiteCRM's before_save logic hook, but events.push.enabled is false, so no save is "
            f"ever checked: its rules are not enforced. Turn push on (suitecrm-ext init sets it up: "
            f"secret, package, config_override.php){how}")
    return out


def _unhooked_validation(config: Any, registry: Any) -> list[str]:
    if not config.settings.events.push.enabled:
        return []  # _enforcement says it: nothing is validated at all
    from suitecrm_ext.packaging.source import load_plugin_schema

    validated: set[str] = set()
    watched: dict[str, list[str]] = {}
    for name in registry.enabled:
        try:
            schema = load_plugin_schema(name, registry)
        except Exception:  # noqa: BLE001 - a bad schema.yaml is `package check`'s to report
            return []  # its logic hooks are unknown: better no warning than a false one
        if schema is not None:
            validated |= {h.module for h in schema.logic_hooks if h.validate}
        if registry.implements(name, VALIDATE_HOOK):
            specs = registry.call_one(name, "ext_watch", settings=config.plugin_settings.get(name)) or []
            watched[name] = list(dict.fromkeys(s.module for s in specs if not s.origin))
    out = []
    for name, modules in watched.items():
        missing = [m for m in modules if m not in validated]
        if missing:
            hooks = ", ".join(f"{{module: {m}, validate: true}}" for m in missing)
            out.append(
                f"{config.where(('plugins', name))}: plugin {name} refuses forbidden changes of "
                f"{', '.join(missing)}, but no enabled plugin's package has a validating logic hook there, "
                "so SuiteCRM saves them without asking the sidecar: its rules are not enforced on them. Add "
                f"`logic_hooks: [{hooks}]` to its schema.yaml and install the package again "
                f"(suitecrm-ext package install {name})")
    return out


def _override_secret(config: Any) -> list[str]:
    root = config.settings.suitecrm.root
    push = config.settings.events.push
    if not root:
        return []
    where = config.where(("suitecrm", "root"))
    from suitecrm_ext.packaging.installer import ROOT_MARKERS

    if not (Path(root) / ROOT_MARKERS[0]).is_file():
        return [f"{where}: suitecrm.root {root} is not a SuiteCRM root (no config.php there)"]
    if not push.enabled:
        return []
    from suitecrm_ext.config_override import secret_problem

    secret = push.secret.get_secret_value() if push.secret else ""
    if not secret:
        return []  # push_settings_problems reports the missing secret itself
    problem = secret_problem(root, secret)
    if problem is None:
        return []
    return [f"{where}: {problem}. Write it with `suitecrm-ext init --suitecrm-root {root}` or add "
            "$sugar_config['suitecrm_ext']['secret'] = '<events.push.secret>'; to config_override.php"]
