"""Packages a schema requires (``requires: [workflow]``): finding their schemas, the manifest entry.

A schema may name other plugins whose packages must be installed first; it may then use their modules
as sides of its relationships, in relate fields and logic hooks (e.g. ``ao_Applications -> sx_Decisions``
for a Decisions subpanel). The required schemas come from a :class:`SchemaCatalog`: by default
:class:`InstalledPlugins` (the plugins installed in this Python environment, through their
``ext_suitecrm_artifacts`` hook); tests may give a :class:`StaticCatalog`.

SuiteCRM's Module Loader checks ``$manifest['dependencies']`` (``UpgradeHistory::checkDependencies``,
called by ``UpgradeWizard_prepare.php`` and ``PackageManager::getPackagesInStaging``): each entry's
``id_name`` must have an ``upgrade_history`` row whose version passes
``is_right_version_greater(installed, entry version)``. That comparison is SuiteCRM's own: component by
component on the common prefix, it accepts an installed version LOWER than or equal to the entry's, so
the entry's ``version`` works as an upper bound. :func:`manifest_dependency` therefore writes the
required package's major version (``"0"`` accepts any installed 0.x.y, refuses 1.0.0) and keeps the
version it was built against as ``min_version``, which ``package install`` checks on top (SuiteCRM
ignores the extra key).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from suitecrm_ext.packaging.schema import Schema

__all__ = [
    "InstalledPlugins",
    "SchemaCatalog",
    "StaticCatalog",
    "loading",
    "manifest_dependency",
    "requirement_order",
]


class SchemaCatalog(Protocol):
    """Where the schemas of required packages come from."""

    def schema(self, plugin: str) -> Schema | None:
        """The validated schema of ``plugin``; None when it declares no SuiteCRM artefacts.

        Raises LookupError for a plugin that is not there (the message says which are) and
        :class:`~suitecrm_ext.packaging.schema.SchemaError` for an invalid schema."""
        ...

    def names(self) -> list[str]:
        """Names of the plugins this catalog knows (for messages and hints)."""
        ...


class StaticCatalog:
    """A catalog of given schemas (tests; a plugin author checking a schema against a known set)."""

    def __init__(self, schemas: Iterable[Schema] | Mapping[str, Schema]):
        items = schemas.values() if isinstance(schemas, Mapping) else schemas
        self._by_name = {s.plugin: s for s in items}

    def schema(self, plugin: str) -> Schema | None:
        """The given schema of ``plugin`` (LookupError when none was given)."""
        if plugin not in self._by_name:
            raise LookupError(
                f"no plugin named {plugin!r} (known: {', '.join(sorted(self._by_name)) or 'none'})"
            )
        return self._by_name[plugin]

    def names(self) -> list[str]:
        """The plugins given."""
        return sorted(self._by_name)


class InstalledPlugins:
    """The plugins installed in this Python environment (entry points), their schemas loaded on demand."""

    def __init__(self, registry: Any = None):
        self._registry = registry
        self._all: Any = None
        self._cache: dict[str, Schema | None] = {}

    def schema(self, plugin: str) -> Schema | None:
        """The schema of an installed plugin, loaded through its ``ext_suitecrm_artifacts`` hook."""
        if plugin not in self._cache:
            from suitecrm_ext.packaging.source import PluginNotFound, load_plugin_schema
            from suitecrm_ext.plugins import PluginRegistry

            reg = self._registry
            if reg is None or plugin not in reg.infos:
                reg = PluginRegistry.discover(only=[plugin])
            if plugin not in reg.infos:
                installed = ", ".join(self.names()) or "none"
                raise LookupError(f"no plugin named {plugin!r} is installed (installed: {installed})")
            try:
                self._cache[plugin] = load_plugin_schema(plugin, reg)
            except PluginNotFound as exc:  # installed but failed to load
                raise LookupError(str(exc)) from None
        return self._cache[plugin]

    def names(self) -> list[str]:
        """Names of the installed plugins that loaded."""
        if self._all is None:
            from suitecrm_ext.plugins import PluginRegistry

            self._all = PluginRegistry.discover()
        return sorted(self._all.loaded)


#: the plugins whose schemas are being loaded right now (outermost first), to refuse requires cycles
_LOADING: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("sxt_schema_loading", default=())


@contextmanager
def loading(plugin: str) -> Iterator[tuple[str, ...]]:
    """Mark ``plugin``'s schema as being loaded; yields the chain of schemas loading it (outermost first)."""
    chain = _LOADING.get()
    token = _LOADING.set(chain + (plugin,))
    try:
        yield chain
    finally:
        _LOADING.reset(token)


def loading_chain() -> tuple[str, ...]:
    """The plugins whose schemas are being loaded (outermost first)."""
    return _LOADING.get()


def major_version(version: str) -> str:
    """The first component of a version (``"0.1.0"`` → ``"0"``)."""
    return version.split(".", 1)[0].split("-", 1)[0] or "0"


def manifest_dependency(required: Schema) -> dict[str, str]:
    """The ``$manifest['dependencies']`` entry for a required package (see the module docstring)."""
    return {
        "id_name": required.package.id,
        "version": major_version(required.package.version),
        "min_version": required.package.version,
    }


def requirement_order(schema: Schema) -> list[Schema]:
    """The packages to install for ``schema``, dependencies first, each once, ``schema`` last."""
    out: list[Schema] = []
    seen: set[str] = set()

    def visit(s: Schema) -> None:
        if s.plugin in seen:
            return
        seen.add(s.plugin)
        for r in s.requires:
            visit(r)
        out.append(s)

    visit(schema)
    return out
