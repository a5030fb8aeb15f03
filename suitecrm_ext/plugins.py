"""Plugin discovery (entry points), loading, enable/disable, and per-plugin hook calls.

A plugin that fails to import, or that implements a hook that does not exist (or with arguments the
hook does not have), is reported by name in ``PluginRegistry.errors``; the others load normally.

Where plugins come from, in this order (:meth:`PluginRegistry.discover`):

1. the core's own features, registered as plugins like any other (``DEFAULT_PLUGINS``, as datasette
   does): the core commands, doctor checks, config warnings, the maintenance job and the demo's frame
   scenes go through the same hooks a plugin implements. They always load and are not listed by
   ``plugins list`` (``plugins list --all`` shows them);
2. the ``suitecrm_ext.plugins`` entry-point group (installed distributions); ``$SUITECRM_EXT_LOAD_PLUGINS``
   (comma-separated plugin names) loads only those, and an empty value loads none (datasette's and
   llm's ``*_LOAD_PLUGINS``);
3. one-off plugin files: every ``*.py`` in ``--plugins-dir DIR`` (or ``$SUITECRM_EXT_PLUGINS_DIR``),
   named after the file.

``$SUITECRM_EXT_TRACE_PLUGINS=1`` logs every hook call made through the registry (plugin, arguments,
result or exception, time taken) on the ``suitecrm_ext.trace`` logger; values under secret-looking
keys and pydantic secrets are masked, and the log formatter redacts the config's secrets as always.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from suitecrm_ext import ENTRY_POINT_GROUP, PROJECT, hookspecs

log = logging.getLogger("suitecrm_ext.plugins")
trace_log = logging.getLogger("suitecrm_ext.trace")

HOOK_PREFIX = "ext_"
LOAD_PLUGINS_ENV = "SUITECRM_EXT_LOAD_PLUGINS"
TRACE_PLUGINS_ENV = "SUITECRM_EXT_TRACE_PLUGINS"
PLUGINS_DIR_ENV = "SUITECRM_EXT_PLUGINS_DIR"
#: module name prefix of plugins loaded from a plugins directory
PLUGINS_DIR_PACKAGE = "suitecrm_ext_plugins_dir"

#: The core's own hook implementations: plugin name -> module. Registered before any installed plugin.
DEFAULT_PLUGINS: dict[str, str] = {
    "core.commands": "suitecrm_ext.builtin.commands",
    "core.checks": "suitecrm_ext.builtin.checks",
    "core.maintenance": "suitecrm_ext.builtin.maintenance",
    "core.demo": "suitecrm_ext.builtin.demo",
}

_session_plugins_dir: list[str | None] = [None]


def use_plugins_dir(path: str | os.PathLike[str] | None) -> str | None:
    """Make ``path`` the plugins directory of every later :meth:`PluginRegistry.discover` call in
    this process (the CLI's ``--plugins-dir``); returns the previous value, to restore it."""
    previous = _session_plugins_dir[0]
    _session_plugins_dir[0] = os.fspath(path) if path else None
    return previous


def plugins_dir_setting() -> str | None:
    """The plugins directory in force: ``--plugins-dir``, else ``$SUITECRM_EXT_PLUGINS_DIR``, else None."""
    return _session_plugins_dir[0] or os.environ.get(PLUGINS_DIR_ENV, "").strip() or None


def load_plugins_setting() -> set[str] | None:
    """The names in ``$SUITECRM_EXT_LOAD_PLUGINS`` (None when it is not set: load every plugin)."""
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def trace_enabled() -> bool:
    """Whether ``$SUITECRM_EXT_TRACE_PLUGINS`` asks for hook-call tracing."""
    return os.environ.get(TRACE_PLUGINS_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


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
    #: one of the core's own DEFAULT_PLUGINS (always loaded, hidden from ``plugins list``)
    builtin: bool = False
    #: where it came from: "builtin", "entry point", "plugins dir" or "added" (from_plugins / add)
    source: str = "added"

    @property
    def loaded(self) -> bool:
        """True when the plugin imported and registered cleanly."""
        return self.error is None


class SettingsSchemas(dict):
    """Plugin name → settings model, from :meth:`PluginRegistry.settings_schemas` (with its ``registry``)."""

    registry: Any = None


def new_plugin_manager() -> pluggy.PluginManager:
    """A pluggy manager with the hook specifications loaded."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


class PluginRegistry:
    """The loaded plugins and a way to call one plugin's hook, or each enabled plugin's.

    ``infos`` holds the installed plugins (entry points, plugins directory, added ones) and
    ``loaded`` / ``enabled`` name them; ``builtins`` holds the core's own. :attr:`active` is what hooks
    that collect from every plugin iterate (commands, doctor checks, config warnings, jobs, demo
    scenes): the core's own first, then the enabled installed plugins.
    ``problems`` lists what went wrong in discovery beyond one plugin (e.g. an unknown name in
    ``$SUITECRM_EXT_LOAD_PLUGINS``).
    """

    def __init__(self) -> None:
        self.pm = new_plugin_manager()
        self.infos: dict[str, PluginInfo] = {}
        self.builtins: dict[str, PluginInfo] = {}
        self.problems: list[str] = []
        #: installed plugins left out by ``$SUITECRM_EXT_LOAD_PLUGINS``: their config sections are kept
        #: as written (not validated, not errors: the config stays the one the full sidecar runs with)
        self.not_loaded: set[str] = set()
        self.trace = trace_enabled()
        if self.trace and (trace_log.level == logging.NOTSET or trace_log.level > logging.INFO):
            trace_log.setLevel(logging.INFO)

    # --- loading --------------------------------------------------------------------------

    @classmethod
    def discover(
        cls,
        enabled: Mapping[str, bool] | None = None,
        only: Iterable[str] | None = None,
        group: str = ENTRY_POINT_GROUP,
        *,
        plugins_dir: str | os.PathLike[str] | None = None,
        builtins: bool = True,
    ) -> PluginRegistry:
        """The core's DEFAULT_PLUGINS, then every plugin of the entry-point group (or only the names in
        ``only``; ``$SUITECRM_EXT_LOAD_PLUGINS`` narrows it further), then the files of the plugins
        directory (``plugins_dir``, default :func:`plugins_dir_setting`).

        ``enabled`` maps plugin name → enabled flag (from config); missing names are enabled.
        """
        reg = cls()
        enabled = enabled or {}
        if builtins:
            reg.add_builtins()
        wanted = set(only) if only is not None else None
        chosen = load_plugins_setting()
        seen: set[str] = set()
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            if ep.name in seen or (wanted is not None and ep.name not in wanted):
                continue
            seen.add(ep.name)
            if chosen is not None and ep.name not in chosen:
                reg.not_loaded.add(ep.name)
                continue
            reg._load_entry_point(ep, enabled.get(ep.name, True))
        if chosen is not None:
            unknown = sorted(n for n in chosen - seen if wanted is None or n in wanted)
            if unknown:
                reg.problems.append(
                    f"{LOAD_PLUGINS_ENV} names {', '.join(unknown)}, which no installed plugin is called "
                    f"(installed: {', '.join(sorted(seen)) or 'none'})")
        folder = plugins_dir if plugins_dir is not None else plugins_dir_setting()
        if folder:
            reg.load_plugins_dir(folder, enabled=enabled, only=wanted)
        return reg

    @classmethod
    def from_plugins(
        cls, plugins: Mapping[str, ModuleType | Any | str], enabled: Mapping[str, bool] | None = None,
        *, builtins: bool = False,
    ) -> PluginRegistry:
        """Build a registry from explicit plugin objects or module paths (tests, embedding).

        Only the given plugins, unless ``builtins=True`` adds the core's DEFAULT_PLUGINS first.
        """
        reg = cls()
        if builtins:
            reg.add_builtins()
        for name, obj in plugins.items():
            reg.add(name, obj, enabled=(enabled or {}).get(name, True))
        return reg

    def add_builtins(self) -> None:
        """Register the core's own hook implementations (``DEFAULT_PLUGINS``); a failure here is a bug
        of suitecrm-ext, raised as such."""
        for name, module_name in DEFAULT_PLUGINS.items():
            if name in self.builtins:
                continue
            module = importlib.import_module(module_name)
            info = PluginInfo(name=name, module=module_name, builtin=True, source="builtin")
            from suitecrm_ext import __version__

            info.version = __version__
            self.builtins[name] = info
            self._register(info, module)
            if info.error:
                raise PluginLoadError(info.error)

    def load_plugins_dir(self, folder: str | os.PathLike[str], *, enabled: Mapping[str, bool] | None = None,
                         only: Iterable[str] | None = None) -> list[str]:
        """Load every ``*.py`` file of ``folder`` as a plugin named after the file (``audit.py`` is plugin
        ``audit``); returns the names. A file that fails to import is reported like any plugin; a name
        already taken by an installed plugin is an error of the file's plugin."""
        path = Path(folder).expanduser()
        if not path.is_dir():
            self.problems.append(f"plugins directory {folder}: not a directory (--plugins-dir / "
                                 f"{PLUGINS_DIR_ENV})")
            return []
        wanted = set(only) if only is not None else None
        names = []
        for file in sorted(path.glob("*.py")):
            name = file.stem
            if name.startswith("_") or (wanted is not None and name not in wanted):
                continue
            if name in self.infos or name in self.builtins:
                self.problems.append(f"plugins directory {folder}: {file.name}: a plugin named {name!r} is "
                                     "already loaded; rename the file")
                continue
            names.append(name)
            info = PluginInfo(name=name, module=str(file), enabled=(enabled or {}).get(name, True),
                              source="plugins dir")
            self.infos[name] = info
            module_name = f"{PLUGINS_DIR_PACKAGE}.{name}"
            try:
                spec = importlib.util.spec_from_file_location(module_name, file)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {file}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
            except Exception as exc:  # noqa: BLE001 - reported per plugin, like an entry point
                sys.modules.pop(module_name, None)
                info.error = f"plugin {name!r} failed to import {file}: {type(exc).__name__}: {exc}"
                log.error(info.error)
                continue
            info.version = str(getattr(module, "__version__", "") or "")
            self._register(info, module)
        return names

    def add(self, name: str, plugin: ModuleType | Any | str, *, enabled: bool = True) -> PluginInfo:
        """Load one more plugin: an object or module, or a ``"module[:attr]"`` path to import.

        Import and hook errors are recorded in ``infos[name].error`` (and logged), never raised.
        A name already in the registry is left as it is.
        """
        if name in self.infos:
            return self.infos[name]
        if name in self.builtins:
            raise ValueError(f"{name!r} is the name of one of the core's own plugins")
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
        info = PluginInfo(name=ep.name, module=ep.value, enabled=enabled, source="entry point")
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
        """Names of installed plugins that loaded (enabled or not)."""
        return [n for n, i in self.infos.items() if i.loaded]

    @property
    def enabled(self) -> list[str]:
        """Names of installed plugins that loaded and are enabled."""
        return [n for n, i in self.infos.items() if i.loaded and i.enabled]

    @property
    def active(self) -> list[str]:
        """Every plugin whose hooks are called: the core's own (DEFAULT_PLUGINS) first, then
        :attr:`enabled`."""
        return [*self.builtins, *self.enabled]

    def info(self, name: str) -> PluginInfo | None:
        """The PluginInfo of an installed or builtin plugin (None when unknown)."""
        return self.infos.get(name) or self.builtins.get(name)

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` is one of the core's own plugins."""
        return name in self.builtins

    def implements(self, name: str, hook: str) -> bool:
        """Whether plugin ``name`` implements ``hook``."""
        info = self.info(name)
        return bool(info and hook in info.hooks)

    def call_one(self, name: str, hook: str, **kwargs: Any) -> Any:
        """Call one plugin's implementation of ``hook`` (None when it has none).

        Arguments the implementation does not name are not passed, as pluggy does. With
        ``$SUITECRM_EXT_TRACE_PLUGINS=1`` the call, its arguments and its result are logged.
        """
        if not self.implements(name, hook):
            return None
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin_name == name:
                missing = [a for a in impl.argnames if a not in kwargs]
                if missing:
                    raise TypeError(f"hook {hook} called without {', '.join(missing)}")
                args = [kwargs[a] for a in impl.argnames]
                if not self.trace:
                    return impl.function(*args)
                return _traced(name, hook, impl.function, dict(zip(impl.argnames, args, strict=True)))
        return None

    def call_each(self, hook: str, *, include_disabled: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Call ``hook`` on each active plugin (the core's own, then the enabled ones) that implements
        it; name → result.

        Exceptions propagate; callers that must isolate plugins catch per plugin via ``call_one``.
        """
        names = [*self.builtins, *self.loaded] if include_disabled else self.active
        return {n: self.call_one(n, hook, **kwargs) for n in names if self.implements(n, hook)}

    def settings_schemas(self) -> dict[str, Any]:
        """Plugin name → its settings model (or None), for every loaded plugin; ``PLUGIN_NOT_LOADED``
        for the installed ones ``$SUITECRM_EXT_LOAD_PLUGINS`` left out. The mapping knows this registry
        (``.registry``): ``Config.validate_plugin_sections`` hands it to the models' validators."""
        from suitecrm_ext.config import PLUGIN_NOT_LOADED

        out = SettingsSchemas()
        out.registry = self
        out.update({name: PLUGIN_NOT_LOADED for name in sorted(self.not_loaded)})
        for name in self.loaded:
            try:
                out[name] = self.call_one(name, "ext_settings_schema")
            except Exception as exc:  # noqa: BLE001
                self.infos[name].error = f"plugin {name!r}: ext_settings_schema failed: {exc}"
                log.error(self.infos[name].error)
        return out


# --- tracing ------------------------------------------------------------------------------------

_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "hash")
_MASK = "***"
_TRACE_WIDTH = 400


def _traced(plugin: str, hook: str, function: Any, kwargs: dict[str, Any]) -> Any:
    args = ", ".join(f"{k}={trace_repr(v)}" for k, v in kwargs.items())
    trace_log.info("hook %s [%s] called (%s)", hook, plugin, args)
    start = time.perf_counter()
    try:
        result = function(**kwargs)
    except BaseException as exc:
        trace_log.info("hook %s [%s] raised %s: %s after %.1f ms", hook, plugin, type(exc).__name__,
                       _short(str(exc)), (time.perf_counter() - start) * 1000)
        raise
    trace_log.info("hook %s [%s] returned %s in %.1f ms", hook, plugin, trace_repr(result),
                   (time.perf_counter() - start) * 1000)
    return result


def trace_repr(value: Any, key: str = "", depth: int = 0) -> str:
    """A short, secret-masked rendering of a hook argument or result for the trace log."""
    return _short(_render(value, key, depth))


def _short(text: str) -> str:
    return text if len(text) <= _TRACE_WIDTH else text[:_TRACE_WIDTH - 1] + "…"


def _secret_key(key: str) -> bool:
    return any(w in key.lower() for w in _SECRET_WORDS)


def _render(value: Any, key: str = "", depth: int = 0) -> str:
    from pydantic import BaseModel, SecretStr

    if key and _secret_key(key) and value not in (None, ""):
        return repr(_MASK)
    if isinstance(value, SecretStr):
        return repr(_MASK)
    if depth > 4:
        return "…"
    if isinstance(value, BaseModel):
        fields = {k: getattr(value, k) for k in type(value).model_fields}
        fields.update(value.model_extra or {})
        inner = ", ".join(f"{k}={_render(v, k, depth + 1)}" for k, v in fields.items())
        return f"{type(value).__name__}({inner})"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k!r}: {_render(v, str(k), depth + 1)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_render(v, key, depth + 1) for v in value]
        if isinstance(value, tuple):
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    if isinstance(value, type):
        return f"<class {value.__name__}>"
    cls = type(value).__name__
    if cls == "PluginContext":
        return f"<PluginContext {getattr(value, 'name', '?')}>"
    if hasattr(value, "__dataclass_fields__"):
        inner = ", ".join(f"{f}={_render(getattr(value, f, None), f, depth + 1)}"
                          for f in value.__dataclass_fields__)
        return f"{cls}({inner})"
    if callable(value) and hasattr(value, "__name__"):
        return f"<{cls} {value.__name__}>"
    return repr(value)
