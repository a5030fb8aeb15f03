"""The scripts a process may name: the shipped ones and those other plugins add (``ext_bp_scripts``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from suitecrm_ext.workflow import Script

log = logging.getLogger("suitecrm_ext.plugins.bp_scripts")


@dataclass(frozen=True)
class Entry:
    """A script and the plugin that added it."""

    script: Script
    plugin: str


class Catalogue(Mapping[str, Script]):
    """Script name → :class:`Script` (a mapping), with who added each and the problems met collecting them."""

    def __init__(self, entries: Iterable[Entry] = ()):
        self.entries: dict[str, Entry] = {}
        self.problems: list[str] = []
        for e in entries:
            self.add(e.script, e.plugin)

    def add(self, script: Any, plugin: str) -> None:
        """Add one script (a clash or a non-Script is recorded in ``problems`` and skipped)."""
        if not isinstance(script, Script):
            self.problems.append(
                f"plugin {plugin}: ext_bp_scripts returned {type(script).__name__}, not a Script"
            )
            return
        if script.name in self.entries:
            first = self.entries[script.name].plugin
            self.problems.append(
                f"plugin {plugin}: script {script.name!r} is already added by plugin {first}; skipped"
            )
            return
        self.entries[script.name] = Entry(script, plugin)

    def __getitem__(self, name: str) -> Script:
        return self.entries[name].script

    def __iter__(self):
        return iter(sorted(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    def plugin_of(self, name: str) -> str:
        """Which plugin added a script."""
        return self.entries[name].plugin


def shipped() -> list[Script]:
    """The scripts bp_scripts ships (scripts/)."""
    from .scripts import SHIPPED

    return list(SHIPPED)


def collect(registry: Any = None) -> Catalogue:
    """Every script: through ``ext_bp_scripts`` of each enabled plugin of ``registry`` (bp_scripts' own
    included), or only the shipped ones without a registry (or when bp_scripts is not in it)."""
    cat = Catalogue()
    if registry is None:
        for s in shipped():
            cat.add(s, "bp_scripts")
        return cat
    names = [n for n in registry.enabled if registry.implements(n, "ext_bp_scripts")]
    if "bp_scripts" not in names:
        for s in shipped():
            cat.add(s, "bp_scripts")
    # bp_scripts' own first: its names win a clash
    for name in sorted(names, key=lambda n: (n != "bp_scripts", n)):
        try:
            scripts = registry.call_one(name, "ext_bp_scripts") or []
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others' scripts
            cat.problems.append(f"plugin {name}: ext_bp_scripts failed: {type(exc).__name__}: {exc}")
            continue
        for s in scripts:
            cat.add(s, name)
    for p in cat.problems:
        log.warning("%s", p)
    return cat


__all__ = ["Catalogue", "Entry", "collect", "shipped"]
