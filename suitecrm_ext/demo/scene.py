"""What a plugin contributes to the demo: :class:`DemoScene`; and the demo's exceptions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from suitecrm_ext.crm.fake import FakeCRM
    from suitecrm_ext.demo.stage import DemoStage


class DemoFailure(Exception):
    """A claim of the story (``stage.check``) did not hold, or the sidecar did not finish in time."""


class Refused(Exception):
    """The sidecar refused a save through the validation hook; ``str(exc)`` is the user's message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class DemoScene:
    """One scene of ``suitecrm-ext demo``.

    ``play(stage)`` tells the story (see :class:`~suitecrm_ext.demo.DemoStage`); ``setup(crm, workdir)``
    runs before the sidecar starts (add the plugin's modules with :func:`install_plugin_schema`, seed
    records); ``settings`` is the plugin's section of the demo config (a mapping, or a function of the
    demo's work directory returning one); ``order``: the core's opening scene is 0, its closing 1000,
    plugins default to 100 (ties: by plugin name); ``requires``: other plugins the scene needs enabled
    (e.g. ``("workflow",)``; their SuiteCRM modules are for ``setup`` to add); ``packages``: plugins
    whose SuiteCRM package the plugin needs installed without running them (onec_bridge reads the
    INN/KPP fields account_opening's package adds). ``suitecrm-ext init`` enables ``requires`` with the
    plugin and installs both kinds' packages first.
    """

    title: str
    play: Callable[[DemoStage], None]
    setup: Callable[[FakeCRM, Path], None] | None = None
    settings: Mapping[str, Any] | Callable[[Path], Mapping[str, Any]] = field(default_factory=dict)
    order: int = 100
    requires: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    def settings_for(self, workdir: Path) -> dict[str, Any]:
        """The plugin settings this scene wants, for the demo's work directory."""
        value = self.settings(workdir) if callable(self.settings) else self.settings
        return dict(value or {})


def install_plugin_schema(crm: FakeCRM, plugin: ModuleType | str) -> None:
    """Register a plugin's ``schema.yaml`` (modules, custom fields, links) in a FakeCRM, as installing
    its package does in SuiteCRM. ``plugin``: the plugin module, or an installed plugin's name."""
    from suitecrm_ext.packaging.fake import register_schema
    from suitecrm_ext.packaging.source import load_plugin_schema

    schema = load_plugin_schema(plugin)
    if schema is not None:
        register_schema(crm, schema)
