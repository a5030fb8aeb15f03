"""The core's commands, contributed through ``ext_cli_commands`` like a plugin's."""

from __future__ import annotations

from typing import Any

from suitecrm_ext import hookimpl


@hookimpl
def ext_cli_commands() -> list[Any]:
    """version, config, plugins, plugin, doctor, init, demo, run, events, jobs, package."""
    from suitecrm_ext.cli import core, demo, init, package, plugin_kit, runtime

    return [*core.COMMANDS, plugin_kit.plugin, init.init, demo.demo, *runtime.COMMANDS, package.package]
