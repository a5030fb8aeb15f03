"""Find a plugin's schema through its ``ext_suitecrm_artifacts`` hook and load it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from suitecrm_ext.packaging.schema import Schema, SchemaError, load_schema, load_schema_file
from suitecrm_ext.plugins import PluginRegistry

__all__ = ["PluginNotFound", "load_plugin_schema", "schema_from_artifacts"]


class PluginNotFound(LookupError):
    """No installed plugin has this name (or it failed to load)."""


def schema_from_artifacts(plugin: str, value: Any) -> Schema | None:
    """Turn what ``ext_suitecrm_artifacts`` returned (path, dict or None) into a validated Schema."""
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        return load_schema_file(Path(value), plugin)
    if isinstance(value, Mapping):
        return load_schema(value, plugin, source=f"<ext_suitecrm_artifacts of {plugin}>")
    raise SchemaError(
        [
            f"plugin {plugin}: ext_suitecrm_artifacts returned {type(value).__name__}; "
            "expected the path of schema.yaml, a dict, or None"
        ]
    )


def load_plugin_schema(plugin: str | ModuleType, registry: PluginRegistry | None = None) -> Schema | None:
    """The validated schema of a plugin (an installed plugin's name, or a plugin module); None if it
    declares no SuiteCRM artefacts. Raises PluginNotFound or SchemaError."""
    if isinstance(plugin, ModuleType):
        name = plugin.__name__.split(".")[-2] if plugin.__name__.endswith(".plugin") else plugin.__name__
        hook = getattr(plugin, "ext_suitecrm_artifacts", None)
        return schema_from_artifacts(name, hook() if hook else None)
    reg = registry or PluginRegistry.discover(only=[plugin])
    info = reg.infos.get(plugin)
    if info is None:
        installed = (
            ", ".join(sorted(PluginRegistry.discover().infos))
            if registry is None
            else ", ".join(sorted(reg.infos))
        )
        raise PluginNotFound(f"no plugin named {plugin!r} is installed (installed: {installed or 'none'})")
    if not info.loaded:
        raise PluginNotFound(f"plugin {plugin!r} did not load: {info.error}")
    return schema_from_artifacts(plugin, reg.call_one(plugin, "ext_suitecrm_artifacts"))
