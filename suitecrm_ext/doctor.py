"""Doctor checks: one line each, ok or FAIL with why and a hint."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """The result of one doctor check. ``hint`` tells the admin what to do when it fails."""

    name: str
    ok: bool
    detail: str = ""
    hint: str = ""

    def line(self) -> str:
        """The one-line form the CLI prints."""
        if self.ok:
            return f"ok    {self.name}" + (f": {self.detail}" if self.detail else "")
        text = f"FAIL  {self.name}: {self.detail or 'failed'}"
        return text + (f" (hint: {self.hint})" if self.hint else "")


def plugin_checks(registry) -> list[Check]:
    """One check per installed plugin: loaded (and enabled or not), or the load error."""
    out = []
    for name, info in sorted(registry.infos.items()):
        if info.error:
            out.append(Check(f"plugin {name}", False, info.error, "fix or uninstall the plugin, "
                             f"or set plugins.{name}.enabled: false"))
        else:
            out.append(Check(f"plugin {name}", True, f"{info.version} " + ("enabled" if info.enabled
                                                                           else "disabled")))
    return out


def core_checks(app) -> list[Check]:
    """Checks of the core services: state store, and each configured SuiteCRM transport."""
    checks: list[Check] = [Check("config", True, str(app.config.path or "<config>"))]
    from suitecrm_ext.crm.gateway import transport_checks  # imported here: the gateway imports Check

    checks.extend(transport_checks(app.config.settings.suitecrm))
    from suitecrm_ext.events.push import push_settings_problems

    for _key, message in push_settings_problems(app.config.settings.events.push):
        checks.append(Check("push receiver", False, message, "fix events.push in the config, or set "
                            "events.push.enabled: false"))
    try:
        app.state.ping()
        checks.append(Check("state store", True, app.config.settings.state.backend))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("state store", False, str(exc), "check the state: section of the config"))
    return checks


def run_checks(app, registry) -> list[Check]:
    """Core checks, plugin load checks, then each enabled plugin's own checks."""
    checks = core_checks(app) + plugin_checks(registry)
    for name in registry.enabled:
        try:
            checks.extend(registry.call_one(name, "ext_doctor_checks", ctx=app.for_plugin(name)) or [])
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(f"plugin {name} checks", False, f"{type(exc).__name__}: {exc}"))
    return checks
