"""The kit's builders: a Config from Python data, a registry of only the plugins under test, an app over
a FakeCRM (the ``make_config`` / ``make_registry`` / ``make_app`` fixtures hand these out)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import yaml

from suitecrm_ext.config import Config, load_config_text
from suitecrm_ext.context import AppContext
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.plugins import PluginRegistry

DEFAULT_SUITECRM = {"url": "http://suitecrm.test", "write_via": "rest"}


def build_config(plugins: Mapping[str, Any] | None = None, **sections: Any) -> Config:
    """A validated Config from Python data (``suitecrm`` defaults to a fake URL)."""
    data: dict[str, Any] = {"suitecrm": copy.deepcopy(DEFAULT_SUITECRM)}
    data.update(copy.deepcopy(sections))
    if plugins:
        data["plugins"] = copy.deepcopy(dict(plugins))
    return load_config_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def build_registry(
    plugins: Mapping[str, ModuleType | Any | str], config: Config | None = None
) -> PluginRegistry:
    """A registry with exactly ``plugins``; validates their config sections (raises ConfigError)."""
    config = config or build_config()
    enabled = {n: config.plugin_enabled(n) for n in plugins}
    reg = PluginRegistry.from_plugins(plugins, enabled=enabled)
    config.validate_plugin_sections(reg.settings_schemas())
    reg.config = config
    return reg


def build_app(
    registry: PluginRegistry, config: Config | None = None, crm: Any = None, **kw: Any
) -> AppContext:
    """An AppContext over ``registry`` with a FakeCRM (or the given CRM)."""
    config = config or getattr(registry, "config", None) or build_config()
    if crm is None:
        crm = FakeCRM()
    return AppContext(config, crm=crm, plugin_manager=registry, **kw)
