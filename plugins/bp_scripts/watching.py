"""Which record changes the plugin listens to (``ext_watch``)."""

from __future__ import annotations

from suitecrm_ext import EventKind, WatchSpec

from .processes import _walk_conditions
from .settings import Settings


def watch_specs(s: Settings) -> list[WatchSpec]:
    """Per process module: the kinds that start processes (and updates, deletes for running ones), with the
    fields every condition of the module's processes reads (any change when a trigger reads none)."""
    fields: dict[str, set[str]] = {}
    anything: set[str] = set()
    for p in s.processes:
        if not p.enabled:
            continue
        own = fields.setdefault(p.module, set())
        trig = p.trigger.when.fields()
        if "updated" in p.trigger.on and not trig:
            anything.add(p.module)
        own |= trig
        for step in p.steps:
            own |= step.when.fields()
            for _, cond in _walk_conditions(step.parsed):
                own |= cond.fields()
    kinds = frozenset({EventKind.CREATED, EventKind.UPDATED, EventKind.DELETED})
    specs = [
        WatchSpec(m, () if m in anything else tuple(sorted(f)), kinds) for m, f in sorted(fields.items())
    ]
    # a creation too: the change feed first sees a Task made and completed between two polls (or while the
    # sidecar was down) as created, already completed
    specs.append(WatchSpec("Tasks", ("status",), kinds))
    return specs
