"""``suitecrm-ext run``: change feed + push receiver + dispatcher + job scheduler in one process.

Threads: the main thread dispatches queued events; the change feed polls in its own thread every
``events.poll_interval_seconds``; the scheduler runs due jobs in another; the push receiver (when
``events.push.enabled``) serves HTTP in its own. All share one stop flag:

- SIGTERM / SIGINT set it; the dispatcher finishes the delivery in hand, releases the rest of its
  batch for other workers, and the process exits 0 within a few seconds (``SHUTDOWN_GRACE``). Cursors
  need no extra save: the feed writes each cursor in the same transaction as the events it covers.
  A job still running after the grace period is recorded as interrupted and its lock released.
- ``run --once`` (cron): one poll cycle, drain the queue (deliveries due now), run due jobs, exit.

Crash safety (SIGKILL, power loss): queued events and deliveries are durable; a delivery being
handled when the process died is handed out again when its lease expires — at once when the process
restarts with the same ``--worker-id`` — so handlers see every event at least once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# done deliveries are purged after RETENTION_SECONDS by the core's state-maintenance job (hourly,
# also under cron: it is a job like a plugin's, suitecrm_ext/builtin/maintenance.py)
from suitecrm_ext.builtin.maintenance import RETENTION_SECONDS  # noqa: F401 - re-exported
from suitecrm_ext.events.dispatcher import Dispatcher, DispatchStats
from suitecrm_ext.jobs import JobOutcome, Scheduler

if TYPE_CHECKING:
    from suitecrm_ext.context import AppContext
    from suitecrm_ext.plugins import PluginRegistry

log = logging.getLogger("suitecrm_ext.runtime")

#: Seconds ``run`` waits for its threads after SIGTERM before it exits anyway.
SHUTDOWN_GRACE = 5.0
#: Longest idle wait of the dispatcher loop (new events from push/poll are noticed this fast).
IDLE_WAIT = 0.5


def default_worker_id() -> str:
    """``host:pid`` — unique per process; give ``--worker-id`` a stable value to reclaim work at restart."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class OnceSummary:
    """What ``run --once`` did."""

    polled: int = 0
    poll_error: str | None = None
    dispatch: DispatchStats = field(default_factory=DispatchStats)
    jobs: list[JobOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False when the poll or a job failed (cron then sees a non-zero exit)."""
        return self.poll_error is None and all(j.status != "failed" for j in self.jobs)

    def line(self) -> str:
        """One line for the log / cron mail."""
        d = self.dispatch
        jobs = ", ".join(f"{j.job}={j.status}" for j in self.jobs) or "none due"
        poll = f"poll failed ({self.poll_error})" if self.poll_error else f"queued {self.polled} new event(s)"
        return (f"{poll}; delivered {d.handled}, failed {d.failed} (dead {d.dead}); jobs: {jobs}")


class Runtime:
    """The ``run`` process. Build it, then call :meth:`run_once` or :meth:`run_forever`.

    ``poll``/``push`` switch the change feed and the push receiver off (e.g. a dispatch-only worker on
    a second host). ``feed_factory``/``push_factory`` replace how they are built (tests, embedding).
    """

    def __init__(
        self,
        app: AppContext,
        registry: PluginRegistry,
        *,
        worker_id: str | None = None,
        poll: bool = True,
        push: bool = True,
        feed_factory: Callable[[Runtime], Any] | None = None,
        push_factory: Callable[[Runtime], Any] | None = None,
    ):
        self.app = app
        self.registry = registry
        self.worker_id = worker_id or default_worker_id()
        self.settings = app.config.settings.events
        self.store = app.state
        self.stop = threading.Event()
        # set by the push receiver when an event is stored, so the dispatcher does not sit out its idle wait
        self._wake = threading.Event()
        self.dispatcher = Dispatcher(app, registry, worker_id=self.worker_id, store=self.store)
        self.scheduler = Scheduler(app, registry, owner=self.worker_id, store=self.store)
        self.poll_enabled = poll
        self.push_enabled = push and self.settings.push.enabled
        self._feed_factory = feed_factory or _default_feed
        self._push_factory = push_factory or _default_push
        self._feed: Any = None
        self._feed_built = False
        #: why the change feed could not be built (None when it was, or is not wanted)
        self.feed_error: str | None = None

    # --- parts ----------------------------------------------------------------------------

    @property
    def feed(self) -> Any:
        """The change feed (None when polling is off or no plugin watches a module)."""
        if not self._feed_built:
            self._feed_built = True
            if self.poll_enabled and self.dispatcher.specs:
                try:
                    self._feed = self._feed_factory(self)
                except Exception as exc:  # noqa: BLE001 - reported; run exits 1, run --once reports it
                    self.feed_error = f"{type(exc).__name__}: {exc}"
                    log.error("change feed could not start: %s (run with --no-poll to go without it)",
                              self.feed_error)
        return self._feed

    def wake(self, *_: Any) -> None:
        """Cut the dispatcher's idle wait short (new work arrived)."""
        self._wake.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the runtime gracefully (main thread only)."""

        def handler(signum: int, _frame: Any) -> None:
            log.info("%s received: finishing the event in hand, then exiting", signal.Signals(signum).name)
            self.stop.set()
            self._wake.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # --- once (cron) ----------------------------------------------------------------------

    def run_once(self) -> OnceSummary:
        """One poll cycle, drain what is due, run due jobs."""
        summary = OnceSummary()
        self.store.release_owner(self.worker_id)
        feed = self.feed
        summary.poll_error = self.feed_error
        if feed is not None:
            try:
                summary.polled = int(feed.poll_once() or 0)
            except Exception as exc:  # noqa: BLE001 - reported in the summary and the exit code
                summary.poll_error = f"{type(exc).__name__}: {exc}"
        summary.dispatch = self.dispatcher.drain(self.stop)
        if not self.stop.is_set():
            summary.jobs = self.scheduler.run_due(self.stop)
        return summary

    # --- daemon ---------------------------------------------------------------------------

    def run_forever(self) -> int:
        """Serve until stopped; returns the exit status (0; 1 when the push receiver or the change
        feed is wanted but cannot start)."""
        released = self.store.release_owner(self.worker_id)
        if released:
            log.info("reclaimed %d delivery lease(s) held by %s before a restart", released, self.worker_id)
        threads: list[threading.Thread] = []
        push_server = None
        if self.push_enabled:
            # SuiteCRM's hooks depend on it (a fail-closed validation refuses every save without it):
            # a push receiver that is enabled but cannot start is fatal, not a warning
            try:
                push_server = self._push_factory(self)
                push_server.start()
            except OSError as exc:  # the address is taken or not ours: say which, and where it is set
                log.error("push receiver could not listen on %s (events.push.listen): %s; is another "
                          "sidecar running there?", self.settings.push.listen, exc.strerror or exc)
                return 1
            except Exception as exc:  # noqa: BLE001 - reported, exit status 1
                log.error("push receiver could not start: %s: %s", type(exc).__name__, exc)
                return 1
        feed = self.feed
        if self.feed_error is not None:
            # plugins watch modules but no change would reach them: as fatal as a dead push receiver
            if push_server is not None:
                push_server.stop()
            return 1
        if feed is not None:
            interval = self.settings.poll_interval_seconds
            threads.append(_thread("change-feed", feed.run_forever, self.stop, interval))
        if self.scheduler.jobs:
            threads.append(_thread("scheduler", self._jobs_loop))
        for t in threads:
            t.start()
        log.info("running as %s: feed=%s push=%s jobs=%d plugins=%s", self.worker_id,
                 "on" if feed is not None else "off", "on" if push_server else "off",
                 len(self.scheduler.jobs), ",".join(sorted(self.dispatcher.specs)) or "none")
        try:
            while not self.stop.is_set():
                try:
                    stats = self.dispatcher.run_once(self.stop)
                except Exception as exc:  # noqa: BLE001 - a store blip must not end the daemon
                    log.error("dispatcher: %s: %s", type(exc).__name__, exc)
                    self.stop.wait(IDLE_WAIT * 4)
                    continue
                if stats.claimed == 0 and stats.fanned_out == 0:
                    self._wake.wait(self._idle_wait())
                    self._wake.clear()
        finally:
            self.stop.set()
            if push_server is not None:
                try:
                    push_server.stop()
                except Exception as exc:  # noqa: BLE001
                    log.error("push receiver did not stop cleanly: %s", exc)
            deadline = time.monotonic() + SHUTDOWN_GRACE
            for t in threads:
                t.join(max(deadline - time.monotonic(), 0.05))
            self._abandon_running_job()
            log.info("stopped")
        return 0

    def _idle_wait(self) -> float:
        nxt = self.store.next_due_at()
        if nxt is None:
            return IDLE_WAIT
        return min(max(nxt - time.time(), 0.01), IDLE_WAIT)

    _current_job: tuple[str, int | None] | None = None

    def _jobs_loop(self) -> None:
        while not self.stop.is_set():
            try:
                for job in self.scheduler.due_jobs():
                    if self.stop.is_set():
                        break
                    self._current_job = (job.name, None)
                    self.scheduler.run_job(job.name)
                    self._current_job = None
                wait = self.scheduler.seconds_until_next()
            except Exception as exc:  # noqa: BLE001 - keep scheduling
                log.error("scheduler: %s: %s", type(exc).__name__, exc)
                wait = 5.0
            self.stop.wait(min(wait if wait is not None else 60.0, 1.0))

    def _abandon_running_job(self) -> None:
        """After the grace period: record a job still running as interrupted and free its lock."""
        if self._current_job is None:
            return
        name = self._current_job[0]
        runs = self.store.job_runs(name, limit=1)
        if runs and runs[0].owner == self.worker_id and runs[0].finished_at is None:
            self.store.job_finished(runs[0].id, False, "interrupted: the process was stopped")
        self.store.release_lock(f"job:{name}", self.worker_id)
        log.warning("job %s was still running at shutdown; recorded as interrupted", name)


def _thread(name: str, target: Callable[..., Any], *args: Any) -> threading.Thread:
    return threading.Thread(target=target, args=args, name=name, daemon=True)


def _default_feed(rt: Runtime) -> Any:
    """The polling change feed over the configured CRM (events/poller.py)."""
    from suitecrm_ext.events.poller import ChangeFeed

    # specs of a second CRM (``origin``) are polled by the plugin that watches it, not here
    specs = [s for plugin_specs in rt.dispatcher.specs.values() for s in plugin_specs if not s.origin]
    # With a MySQL state store several workers (hosts) share the work: one feed polls at a time under a
    # lease. With SQLite (one host) no lease: a SIGKILLed worker's lease would hold its replacement back,
    # and a second poller only re-finds events that enqueue de-duplicates by key.
    owner = rt.worker_id if rt.app.config.settings.state.backend == "mysql" else None
    return ChangeFeed(rt.app.crm, rt.store, specs, overlap_seconds=rt.settings.overlap_seconds,
                      lock_owner=owner)


def _default_push(rt: Runtime) -> Any:
    """The push receiver and validation endpoint (events/push.py), on ``events.push.listen``."""
    from suitecrm_ext.events.push import PushServer

    return PushServer(rt.app, rt.registry, store=rt.store, on_queued=rt.wake)
