"""Plugin discovery (entry points), loading, enable/disable, and per-plugin hook calls.

A plugin that fails to import, or that implements a hook that does not exist (or with arguments the
hook does not have), is reported by name in ``PluginRegistry.errors``; the others load normally.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from suitecrm_ext import ENTRY_POINT_GROUP, PROJECT, hookspecs

log = logging.getLogger("suitecrm_ext.plugins")

HOOK_PREFIX = "ext_"


class PluginLoadError(Exception):
    """A plugin could not be loaded; the message names the plugin and the cause."""


@dataclass
class PluginInfo:
    """What ``plugins list`` shows about one installed plugin."""

    name: str
    version: str = ""
    description: str = ""
    module: str = ""
    enabled: bool = True
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    plugin: Any = None

    @property
    def loaded(self) -> bool:
        """True when the plugin imported and registered cleanly."""
        return self.error is None


def new_plugin_manager() -> pluggy.PluginManager:
    """A pluggy manager with the hook specifications loaded."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


class PluginRegistry:
    """The loaded plugins and a way to call one plugin's hook, or each enabled plugin's."""

    def __init__(self) -> None:
        self.pm = new_plugin_manager()
        self.infos: dict[str, PluginInfo] = {}

    # --- loading --------------------------------------------------------------------------

    @classmethod
    def discover(
        cls,
        enabled: Mapping[str, bool] | None = None,
        only: Iterable[str] | None = None,
        group: str = ENTRY_POINT_GROUP,
    ) -> PluginRegistry:
        """Load every plugin registered in the entry-point group (or only the names in ``only``).

        ``enabled`` maps plugin name → enabled flag (from config); missing names are enabled.
        """
        reg = cls()
        wanted = set(only) if only is not None else None
        seen: set[str] = set()
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            if ep.name in seen or (wanted is not None and ep.name not in wanted):
                continue
            seen.add(ep.name)
            reg._load_entry_point(ep, (enabled or {}).get(ep.name, True))
        return reg

    @classmethod
    def from_plugins(
        cls, plugins: Mapping[str, ModuleType | Any | str], enabled: Mapping[str, bool] | None = None
    ) -> PluginRegistry:
        """Build a registry from explicit plugin objects or module paths (tests, embedding)."""
        reg = cls()
        for name, obj in plugins.items():
            reg.add(name, obj, enabled=(enabled or {}).get(name, True))
        return reg

    def add(self, name: str, plugin: ModuleType | Any | str, *, enabled: bool = True) -> PluginInfo:
        """Load one more plugin: an object or module, or a ``"module[:attr]"`` path to import.

        Import and hook errors are recorded in ``infos[name].error`` (and logged), never raised.
        A name already in the registry is left as it is.
        """
        if name in self.infos:
            return self.infos[name]
        info = PluginInfo(name=name, enabled=enabled)
        self.infos[name] = info
        if isinstance(plugin, str):
            module_name, _, attr = plugin.partition(":")
            try:
                obj = importlib.import_module(module_name)
                if attr:
                    obj = getattr(obj, attr)
            except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
                info.module = plugin
                info.error = f"plugin {name!r} failed to import {plugin!r}: {type(exc).__name__}: {exc}"
                log.error(info.error)
                return info
            plugin = obj
        info.module = getattr(plugin, "__name__", type(plugin).__name__)
        info.version = str(getattr(plugin, "__version__", "") or "")
        self._register(info, plugin)
        return info

    def _load_entry_point(self, ep: EntryPoint, enabled: bool) -> None:
        info = PluginInfo(name=ep.name, module=ep.value, enabled=enabled)
        self.infos[ep.name] = info
        dist = getattr(ep, "dist", None)
        info.version = dist.version if dist is not None else ""
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the others
            info.error = f"plugin {ep.name!r} failed to import {ep.value!r}: {type(exc).__name__}: {exc}"
            log.error(info.error)
            return
        info.version = info.version or str(getattr(module, "__version__", "") or "")
        self._register(info, module)

    def _register(self, info: PluginInfo, module: Any) -> None:
        doc = inspect.getdoc(module) or ""
        info.description = doc.strip().splitlines()[0] if doc.strip() else ""
        info.plugin = module
        try:
            unknown = [
                n for n in dir(module)
                if n.startswith(HOOK_PREFIX)
                and self.pm.parse_hookimpl_opts(module, n) is not None
                and not hasattr(hookspecs, n)
            ]
            if unknown:
                raise PluginLoadError(
                    f"implements unknown hook(s) {', '.join(unknown)}; known hooks: "
                    + ", ".join(sorted(n for n in dir(hookspecs) if n.startswith(HOOK_PREFIX)))
                )
            self.pm.register(module, name=info.name)
        except (pluggy.PluginValidationError, PluginLoadError, ValueError) as exc:
            info.error = f"plugin {info.name!r} registers a bad hook: {exc}"
            log.error(info.error)
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            return
        info.hooks = sorted(
            n for n in dir(module)
            if n.startswith(HOOK_PREFIX) and self.pm.parse_hookimpl_opts(module, n) is not None
        )

    # --- queries --------------------------------------------------------------------------

    @property
    def errors(self) -> dict[str, str]:
        """Plugin name → load error, for plugins that did not load."""
        return {n: i.error for n, i in self.infos.items() if i.error}

    @property
    def loaded(self) -> list[str]:
        """Names of plugins that loaded (enabled or not)."""
        return [n for n, i in self.infos.items() if i.loaded]

    @property
    def enabled(self) -> list[str]:
        """Names of plugins that loaded and are enabled."""
        return [n for n, i in self.infos.items() if i.loaded and i.enabled]

    def implements(self, name: str, hook: str) -> bool:
        """Whether plugin ``name`` implements ``hook``."""
        info = self.infos.get(name)
        return bool(info and hook in info.hooks)

    def call_one(self, name: str, hook: str, **kwargs: Any) -> Any:
        """Call one plugin's implementation of ``hook`` (None when it has none).

        Arguments the implementation does not name are not passed, as pluggy does.
        """
        if not self.implements(name, hook):
            return None
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin_name == name:
                missing = [a for a in impl.argnames if a not in kwargs]
                if missing:
                    raise TypeError(f"hook {hook} called without {', '.join(missing)}")
                return impl.function(*[kwargs[a] for a in impl.argnames])
        return None

    def call_each(self, hook: str, *, include_disabled: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Call ``hook`` on each enabled plugin that implements it; name → result.

        Exceptions propagate; callers that must isolate plugins catch per plugin via ``call_one``.
        """
        names = self.loaded if include_disabled else self.enabled
        return {n: self.call_one(n, hook, **kwargs) for n in names if self.implements(n, hook)}

    def settings_schemas(self) -> dict[str, Any]:
        """Plugin name → its settings model (or None), for every loaded plugin."""
        out: dict[str, Any] = {}
        for name in self.loaded:
            try:
                out[name] = self.call_one(name, "ext_settings_schema")
            except Exception as exc:  # noqa: BLE001
                self.infos[name].error = f"plugin {name!r}: ext_settings_schema failed: {exc}"
                log.error(self.infos[name].error)
        return out
