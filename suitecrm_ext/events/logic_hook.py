"""The SuiteCRM side of push events: the generated logic-hook class and its registrations.

:func:`render_logic_hook` returns a :class:`LogicHookBundle` (:func:`render_for_plugins` does it for the
enabled plugins and the configuration):

- ``files``: path inside SuiteCRM -> content. The class file
  ``custom/modules/SuiteCRMExt/SuiteCRMExtHook.php`` (class ``SuiteCRMExtHook`` with ``beforeSave``,
  ``afterSave``, ``afterDelete``, ``afterRelationshipAdd``, ``afterRelationshipDelete``; template
  ``events/php/SuiteCRMExtHook.php.tmpl``), and for admins installing by hand, one extension file per
  module ``custom/Extension/modules/<Module>/Ext/LogicHooks/suitecrm_ext.php`` adding the
  ``$hook_array`` entries (SuiteCRM merges them on Quick Repair and Rebuild).
- ``installdefs``: the Module Loader ``logic_hooks`` entries (``{module, hook, order, description,
  file, class, function}``, as ``ModuleInstaller::enable_logichooks`` reads them), for the package
  builder; the package copies the class file and lists these.

The secret is never written into the PHP: the hook reads ``$sugar_config['suitecrm_ext']['secret']``
(put it in ``config_override.php``); ``$sugar_config['suitecrm_ext']['url']`` may override the
sidecar URL. Requests are signed with Standard Webhooks headers (events/signing.py) and the hook
trusts only a /validate answer the sidecar signed for that request. The generated PHP passes
SuiteCRM's package scan (ModuleScanner). See the template's header for what the hook sends and how a
refusal stops a save through each entry point (web UI, REST v4_1, SOAP, V8, anything else).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from suitecrm_ext import __version__

HOOK_CLASS = "SuiteCRMExtHook"
HOOK_FILE = "custom/modules/SuiteCRMExt/SuiteCRMExtHook.php"
EXT_FILE = "custom/Extension/modules/{module}/Ext/LogicHooks/suitecrm_ext.php"

#: (SuiteCRM hook, method) pairs for push; before_save is added for validated modules.
PUSH_HOOKS: tuple[tuple[str, str], ...] = (
    ("after_save", "afterSave"),
    ("after_delete", "afterDelete"),
    ("after_relationship_add", "afterRelationshipAdd"),
    ("after_relationship_delete", "afterRelationshipDelete"),
)
VALIDATE_HOOK = ("before_save", "beforeSave")

# \Z, not $: "$" also matches before a final newline
_MODULE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}\Z")
_URL_RE = re.compile(r"^https?://[^\s'\"\\]+\Z")
DEFAULT_UNAVAILABLE = "This change cannot be checked right now; please try again later."


@dataclass
class LogicHookBundle:
    """What :func:`render_logic_hook` produces: files to place in SuiteCRM and installdefs entries."""

    files: dict[str, str] = field(default_factory=dict)
    installdefs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def class_file(self) -> str:
        """The PHP source of the hook class."""
        return self.files[HOOK_FILE]


def php_literal(value: Any) -> str:
    """A PHP literal for a JSON-like Python value (strings single-quoted and escaped)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, Mapping):
        items = ", ".join(f"{php_literal(str(k))} => {php_literal(v)}" for k, v in value.items())
        return f"array({items})"
    if isinstance(value, (list, tuple)):
        return "array(" + ", ".join(php_literal(v) for v in value) + ")"
    raise TypeError(f"cannot write a {type(value).__name__} as a PHP literal")


def _modules(what: str, names: Iterable[str]) -> list[str]:
    out = []
    for name in names:
        if not isinstance(name, str) or not _MODULE_RE.match(name):
            raise ValueError(f"{what}: not a SuiteCRM module name: {name!r}")
        if name not in out:
            out.append(name)
    return out


def render_logic_hook(
    modules: Iterable[str],
    sidecar_url: str,
    *,
    validate_modules: Iterable[str] | None = None,
    fail_modes: Mapping[str, str] | None = None,
    default_fail_mode: str = "open",
    push_timeout_ms: int = 2000,
    validate_timeout_ms: int = 3000,
    connect_timeout_ms: int = 1000,
    max_skew_seconds: int = 300,
    order: int = 90,
    unavailable_message: str = DEFAULT_UNAVAILABLE,
) -> LogicHookBundle:
    """Generate the logic-hook class and its registrations.

    ``modules``: modules whose changes are pushed (after_save / after_delete / relationships);
    ``validate_modules``: modules whose saves are validated in before_save (default: none);
    ``sidecar_url``: the push receiver's base URL as SuiteCRM reaches it; ``fail_modes``: module ->
    ``open``/``closed`` when the sidecar cannot answer a validation (``events.validation_fail_mode``);
    timeouts in milliseconds (``validate_timeout_ms`` should exceed ``events.push.validation_budget_ms``);
    ``max_skew_seconds``: how old a signed /validate answer may be (``events.push.max_clock_skew_seconds``);
    ``order``: the hooks' position among the module's other hooks.

    Raises ValueError naming the bad argument (module names, URL, fail modes, timeouts).
    """
    push = _modules("modules", modules)
    validate = _modules("validate_modules", validate_modules or ())
    if not push and not validate:
        raise ValueError("modules: name at least one module to push or validate")
    if not isinstance(sidecar_url, str) or not _URL_RE.match(sidecar_url):
        raise ValueError(f"sidecar_url: expected an http(s) URL, got {sidecar_url!r}")
    modes = dict(fail_modes or {})
    for module, mode in [*modes.items(), ("default_fail_mode", default_fail_mode)]:
        if mode not in ("open", "closed"):
            raise ValueError(f"fail mode of {module}: must be 'open' or 'closed', got {mode!r}")
    _modules("fail_modes", modes)
    for name, ms in (("push_timeout_ms", push_timeout_ms), ("validate_timeout_ms", validate_timeout_ms),
                     ("connect_timeout_ms", connect_timeout_ms)):
        if not isinstance(ms, int) or not 50 <= ms <= 60_000:
            raise ValueError(f"{name}: between 50 and 60000 milliseconds, got {ms!r}")
    if not isinstance(max_skew_seconds, int) or not 1 <= max_skew_seconds <= 86_400:
        raise ValueError(f"max_skew_seconds: between 1 and 86400, got {max_skew_seconds!r}")
    settings = {
        "url": sidecar_url.rstrip("/"),
        "push": push,
        "validate": validate,
        "fail_modes": {m: modes[m] for m in sorted(modes)},
        "default_fail_mode": default_fail_mode,
        "push_timeout_ms": push_timeout_ms,
        "validate_timeout_ms": validate_timeout_ms,
        "connect_timeout_ms": connect_timeout_ms,
        "max_skew_seconds": max_skew_seconds,
        "unavailable_message": unavailable_message,
    }
    template = resources.files("suitecrm_ext.events.php").joinpath("SuiteCRMExtHook.php.tmpl").read_text(
        encoding="utf-8")
    source = template.replace("__SETTINGS__", php_literal(settings)).replace("__VERSION__", __version__)
    bundle = LogicHookBundle()
    bundle.files[HOOK_FILE] = source
    for module in dict.fromkeys([*push, *validate]):
        pairs = ([VALIDATE_HOOK] if module in validate else []) + (list(PUSH_HOOKS) if module in push else [])
        entries = [
            {"module": module, "hook": hook, "order": order,
             "description": f"suitecrm-ext: {hook} -> sidecar", "file": HOOK_FILE, "class": HOOK_CLASS,
             "function": method}
            for hook, method in pairs
        ]
        bundle.installdefs.extend(entries)
        bundle.files[EXT_FILE.format(module=module)] = hook_array_php(entries)
    return bundle


def hook_array_php(entries: Iterable[Mapping[str, Any]]) -> str:
    """``$hook_array`` registrations (logic_hooks.php / Ext/LogicHooks format) for installdefs entries."""
    lines = ["<?php", "// suitecrm-ext logic hooks (generated; regenerate rather than edit)",
             "$hook_version = 1;"]
    for e in entries:
        row = [e["order"], e["description"], e["file"], e["class"], e["function"]]
        hook = php_literal(e["hook"])
        lines.append(f"if (!isset($hook_array[{hook}])) {{ $hook_array[{hook}] = array(); }}")
        lines.append(f"$hook_array[{hook}][] = {php_literal(row)};")
    return "\n".join(lines) + "\n"


def render_for_plugins(registry: Any, config: Any, sidecar_url: str | None = None) -> LogicHookBundle:
    """The bundle for the enabled plugins and the configuration (what ``package build`` ships).

    Pushed modules: those the plugins handling ``ext_on_record_change`` watch; validated modules:
    those the plugins implementing ``ext_validate_record_change`` watch (``ext_watch``). Fail modes
    come from ``events.validation_fail_mode``, the validation timeout is
    ``events.push.validation_budget_ms`` + 1 s. ``sidecar_url`` is how SuiteCRM reaches the sidecar;
    default ``http://<events.push.listen>`` (refused when that is a wildcard address).
    Raises ValueError when no plugin watches anything.
    """
    events = config.settings.events
    push_modules: list[str] = []
    validate_modules: list[str] = []
    for name in registry.enabled:
        handles = registry.implements(name, "ext_on_record_change")
        validates = registry.implements(name, "ext_validate_record_change")
        if not (handles or validates):
            continue
        specs = registry.call_one(name, "ext_watch", settings=config.plugin_settings.get(name)) or []
        modules = [s.module for s in specs if not s.origin]  # a second CRM's specs: not this SuiteCRM
        if handles:
            push_modules.extend(m for m in modules if m not in push_modules)
        if validates:
            validate_modules.extend(m for m in modules if m not in validate_modules)
    if sidecar_url is None:
        host = events.push.listen.rpartition(":")[0]
        if host in ("", "0.0.0.0", "::", "[::]"):
            raise ValueError(f"events.push.listen is {events.push.listen!r}: give the URL SuiteCRM uses to "
                             "reach the sidecar (sidecar_url)")
        sidecar_url = f"http://{events.push.listen}"
    return render_logic_hook(
        push_modules, sidecar_url, validate_modules=validate_modules,
        fail_modes={m: v for m, v in events.validation_fail_mode.items()},
        validate_timeout_ms=min(events.push.validation_budget_ms + 1000, 60_000),
        max_skew_seconds=events.push.max_clock_skew_seconds,
    )
