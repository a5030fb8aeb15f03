"""The dispatcher: hands queued events to the plugins that watch them, one isolated delivery each.

An event queued in the state store (by the poller or the push receiver) is *fanned out* into one
delivery per enabled plugin whose ``ext_watch`` specs match it and which implements
``ext_on_record_change``. Deliveries are claimed with a lease (so several ``run`` processes on a MySQL
store never handle the same one at once), handed to the plugin through the registry (never a pluggy
broadcast, so a failure is pinned on its plugin; a delivery reached late in its batch's lease has the
lease renewed first, or is skipped when another worker took it meanwhile), then acknowledged — or
failed and retried after ``events.retry_base_seconds * 2**(attempt-1)`` seconds (with ±50 % jitter,
capped at an hour), and after ``events.max_attempts`` failures moved to the dead-letter list with the
last error.

Delivery is at least once: a crash between a handler's success and its acknowledgement delivers the
event again, so handlers must be idempotent (see ``ext_on_record_change``). There is no ordering
guarantee between workers; within one worker deliveries are handled in queue order.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suitecrm_ext.events.model import Event, WatchSpec

if TYPE_CHECKING:
    from suitecrm_ext.config import EventsSettings
    from suitecrm_ext.context import AppContext
    from suitecrm_ext.plugins import PluginRegistry
    from suitecrm_ext.state.base import Delivery, StateStore

log = logging.getLogger("suitecrm_ext.events.dispatcher")

MAX_BACKOFF_SECONDS = 3600.0
HANDLER_HOOK = "ext_on_record_change"


def collect_watch_specs(
    registry: PluginRegistry, plugin_settings: dict[str, Any]
) -> dict[str, list[WatchSpec]]:
    """Plugin name -> its ``ext_watch`` specs, for enabled plugins that handle record changes.

    A plugin whose ``ext_watch`` raises or returns something other than WatchSpecs is logged and
    gets no events (the others are unaffected).
    """
    out: dict[str, list[WatchSpec]] = {}
    for name in registry.enabled:
        if not registry.implements(name, HANDLER_HOOK):
            continue
        try:
            specs = registry.call_one(name, "ext_watch", settings=plugin_settings.get(name)) or []
            bad = [s for s in specs if not isinstance(s, WatchSpec)]
            if bad:
                raise TypeError(f"ext_watch must return WatchSpec objects, got {type(bad[0]).__name__}")
        except Exception as exc:  # noqa: BLE001 - one plugin's mistake must not stop the others
            log.error("plugin %r: ext_watch failed, it will receive no events: %s", name, exc,
                      extra={"plugin": name})
            continue
        out[name] = list(specs)
    return out


def watched_fields(specs: dict[str, list[WatchSpec]]) -> dict[str, set[str]]:
    """Module -> union of the fields plugins watch on it (empty set: any change), for the change feed."""
    modules: dict[str, set[str]] = {}
    for plugin_specs in specs.values():
        for spec in plugin_specs:
            modules.setdefault(spec.module, set()).update(spec.fields)
    return modules


@dataclass
class DispatchStats:
    """What one dispatcher pass did."""

    fanned_out: int = 0
    handled: int = 0
    failed: int = 0
    dead: int = 0
    released: int = 0

    def add(self, other: DispatchStats) -> None:
        """Accumulate ``other`` into this."""
        for k in self.__dict__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def claimed(self) -> int:
        """Deliveries attempted (handled or failed)."""
        return self.handled + self.failed


class Dispatcher:
    """Fans out, claims and delivers queued events for one worker.

    ``worker_id`` names this worker in leases (``--worker-id``; default ``host:pid``). ``settings`` is
    the config's ``events`` section (max attempts, retry base). ``rng`` and ``clock`` are injectable
    for tests.
    """

    def __init__(
        self,
        app: AppContext,
        registry: PluginRegistry,
        *,
        worker_id: str,
        settings: EventsSettings | None = None,
        store: StateStore | None = None,
        batch_size: int = 20,
        lease_seconds: float = 300.0,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ):
        self.app = app
        self.registry = registry
        self.worker_id = worker_id
        self.settings = settings or app.config.settings.events
        self.store = store if store is not None else app.state
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.rng = rng
        self.clock = clock
        self.specs = collect_watch_specs(registry, app.config.plugin_settings)
        self._contexts: dict[str, Any] = {}

    # --- routing --------------------------------------------------------------------------

    def route(self, event: Event) -> list[str]:
        """Names of the plugins that want ``event`` (sorted)."""
        return sorted(name for name, specs in self.specs.items() if any(s.matches(event) for s in specs))

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure (exponential, jittered, capped)."""
        base = self.settings.retry_base_seconds * (2 ** max(failures - 1, 0))
        return min(base * (0.5 + self.rng()), MAX_BACKOFF_SECONDS)

    # --- delivery -------------------------------------------------------------------------

    def _context(self, plugin: str) -> Any:
        if plugin not in self._contexts:
            self._contexts[plugin] = self.app.for_plugin(plugin)
        return self._contexts[plugin]

    def deliver(self, delivery: Delivery) -> bool:
        """Run one delivery's handler and record the outcome; True when it succeeded."""
        extra = {"plugin": delivery.plugin, "event_key": delivery.event_key}
        try:
            if delivery.plugin not in self.specs:
                raise LookupError(f"plugin {delivery.plugin!r} is not loaded, not enabled, or no longer "
                                  "handles record changes")
            self.registry.call_one(delivery.plugin, HANDLER_HOOK, event=delivery.event,
                                   ctx=self._context(delivery.plugin))
        except Exception as exc:  # noqa: BLE001 - a handler failure is recorded, never propagated
            failures = delivery.attempts + 1
            error = _describe(exc)
            if failures >= self.settings.max_attempts:
                self.store.fail(delivery.id, self.worker_id, error, retry_at=None)
                log.error("delivery %s of %s to %s dead after %d attempts: %s", delivery.id,
                          delivery.event_key, delivery.plugin, failures, error, extra=extra)
            else:
                delay = self.backoff(failures)
                self.store.fail(delivery.id, self.worker_id, error, retry_at=self.clock() + delay)
                log.warning("delivery %s of %s to %s failed (attempt %d/%d), retry in %.1fs: %s",
                            delivery.id, delivery.event_key, delivery.plugin, failures,
                            self.settings.max_attempts, delay, error, extra=extra)
            return False
        self.store.ack(delivery.id, self.worker_id)
        log.debug("delivered %s to %s", delivery.event_key, delivery.plugin, extra=extra)
        return True

    def run_once(self, stop: threading.Event | None = None) -> DispatchStats:
        """Fan out new events, then claim and deliver one batch. Stops between deliveries on ``stop``.

        Deliveries claimed but not started when ``stop`` is set are released at once for others.
        """
        stats = DispatchStats()
        stats.fanned_out = self.store.fan_out(self.route)
        batch = self.store.claim(self.worker_id, limit=self.batch_size, lease_seconds=self.lease_seconds)
        for i, delivery in enumerate(batch):
            if stop is not None and stop.is_set():
                stats.released += self.store.release([d.id for d in batch[i:]], self.worker_id)
                break
            if not self._still_mine(delivery):
                continue
            if self.deliver(delivery):
                stats.handled += 1
            else:
                stats.failed += 1
                if delivery.attempts + 1 >= self.settings.max_attempts:
                    stats.dead += 1
        return stats

    def _still_mine(self, delivery: Delivery) -> bool:
        """Renew the lease of a delivery whose batch has used a tenth of it (slow handlers before it).

        Without this, a delivery reached after its lease ran out could be claimed and handled by
        another worker at the same time. False: another worker has it now; skip it.
        """
        until = delivery.lease_until
        if until is None or self.clock() < until - 0.9 * self.lease_seconds:
            return True
        if self.store.extend_lease(delivery.id, self.worker_id, self.lease_seconds):
            return True
        log.info("delivery %s of %s to %s: lease ran out before it was reached and another worker "
                 "took it; skipped", delivery.id, delivery.event_key, delivery.plugin,
                 extra={"plugin": delivery.plugin, "event_key": delivery.event_key})
        return False

    def drain(self, stop: threading.Event | None = None, max_passes: int | None = None) -> DispatchStats:
        """Run passes until nothing is due now (retries scheduled for later are not waited for)."""
        total = DispatchStats()
        passes = 0
        while not (stop is not None and stop.is_set()):
            stats = self.run_once(stop)
            total.add(stats)
            passes += 1
            if (stats.fanned_out == 0 and stats.claimed == 0) or (max_passes and passes >= max_passes):
                break
        return total


def _describe(exc: BaseException) -> str:
    """``Type: message (at file:line in func)`` for the dead-letter list."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        f = frames[-1]
        text += f" (at {f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name})"
    return text
