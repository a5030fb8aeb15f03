"""The files that call the sidecar from SuiteCRM: the push/validation logic hooks (PHP from
``suitecrm_ext.events.logic_hook``, one hook class per package) and the AOW workflow actions
(``suitecrm_ext.packaging.aow``). Both bake the sidecar's URL into the PHP, so both need it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from suitecrm_ext.packaging.model import Labels, Schema
from suitecrm_ext.packaging.package import PackageError

__all__ = ["add_aow_actions", "add_logic_hooks", "need_sidecar_url"]


def need_sidecar_url(schema: Schema, sidecar_url: str | None, what: str) -> None:
    """PackageError unless the sidecar's URL (baked into the generated PHP) was given."""
    if not sidecar_url:
        raise PackageError(
            f"plugin {schema.plugin} {what}: give the sidecar's URL as SuiteCRM reaches it "
            "(package build --sidecar-url URL, or events.push.public_url in the config)"
        )


def add_logic_hooks(
    schema: Schema,
    files: dict[str, str],
    idefs: dict[str, Any],
    sidecar_url: str | None,
    fail_modes: dict[str, str],
    timeouts: dict[str, int],
) -> None:
    """The push/validation hooks: PHP from the events generator (``suitecrm_ext.events.logic_hook``), its
    class file added to ``files`` and its copy and ``logic_hooks`` entries to ``idefs``."""
    if not schema.logic_hooks:
        return
    mods = ", ".join(h.module for h in schema.logic_hooks)
    need_sidecar_url(schema, sidecar_url, f"asks for logic hooks on {mods} ({schema.source}: logic_hooks)")
    from suitecrm_ext.events.logic_hook import HOOK_CLASS, HOOK_FILE, render_logic_hook

    try:
        bundle = render_logic_hook(
            [h.module for h in schema.logic_hooks if h.push],
            sidecar_url,
            validate_modules=[h.module for h in schema.logic_hooks if h.validate],
            fail_modes=fail_modes,
            **timeouts,
        )
    except ValueError as exc:
        raise PackageError(f"plugin {schema.plugin}: logic hooks on {mods}: {exc}") from None
    # One hook class per package: the generated class embeds its module lists, so packages of
    # different plugins must not share (and overwrite, or uninstall) one class file.
    pid = schema.package.id
    cls = f"{HOOK_CLASS}_{pid}"
    target = HOOK_FILE.rsplit("/", 1)[0] + f"/{pid}/{cls}.php"
    source, n = re.subn(rf"^class {HOOK_CLASS}$", f"class {cls}", bundle.files[HOOK_FILE], flags=re.M)
    if n != 1:
        raise PackageError(f"the logic hook template no longer declares 'class {HOOK_CLASS}' once")
    src = f"SugarModules/logic_hooks/{cls}.php"
    files[src] = source
    idefs["copy"].append({"from": f"<basepath>/{src}", "to": target})
    # SuiteCRM installs a hook only when no hook of that module and event has the same description
    # (check_existing_element), so each package's hooks carry its id: equal descriptions left a
    # second package's hooks uninstalled, and uninstalling the first removed the module's hooks.
    for entry in bundle.installdefs:
        desc = f"suitecrm-ext {pid}: {entry['hook']} -> sidecar"
        idefs["logic_hooks"].append({**entry, "file": target, "class": cls, "description": desc})


def add_aow_actions(
    schema: Schema,
    files: dict[str, str],
    idefs: dict[str, Any],
    label: Callable[[str, str, Labels], None],
    sidecar_url: str | None,
) -> None:
    """Workflow actions (``suitecrm_ext.packaging.aow``): each class into AOW's custom actions folder,
    one ``Ext/Actions`` file appending the names to the editor's list (into ``files`` and ``idefs``), their
    labels on AOW_Actions (through ``label(module, key, labels)``)."""
    if not schema.aow_actions:
        return
    names = ", ".join(a.name for a in schema.aow_actions)
    need_sidecar_url(
        schema, sidecar_url, f"ships the workflow action(s) {names} ({schema.source}: aow_actions)"
    )
    from suitecrm_ext.packaging.aow import ACTION_DIR, aow_action_class, aow_list_extension

    pid = schema.package.id
    for a in schema.aow_actions:
        src = f"SugarModules/aow_actions/{a.class_name}.php"
        files[src] = aow_action_class(a, pid, sidecar_url)
        idefs["copy"].append({"from": f"<basepath>/{src}", "to": f"{ACTION_DIR}/{a.class_name}.php"})
        label("AOW_Actions", a.label_key, a.label)
        for q in a.params:
            label("AOW_Actions", a.param_label_key(q), q.label)
    # ModuleInstaller::installExt copies it to custom/Extension/modules/AOW_Actions/Ext/Actions/<id>.php
    ext = f"SugarModules/aow_actions/Ext/{pid}.php"
    files[ext] = aow_list_extension(schema.aow_actions)
    idefs["aow_actions"] = [{"from": f"<basepath>/{ext}", "to_module": "AOW_Actions"}]
