"""The job scheduler: plugins' ``ext_jobs`` on interval or cron schedules, never two runs at once.

A job's schedule is an interval (``"30s"``, ``"5m"``, ``"1h"``, ``"1d"``) or a 5-field cron
expression in UTC (``"*/10 * * * *"``, via croniter). A job is due when its next time after its last
*start* (recorded in the state store, so all processes agree) has come; a job that never ran is due
at once.

A run holds the state store lock ``job:<name>`` — a lease row with an expiry, renewed by a heartbeat
while the job runs — so a job never runs twice at once, also across processes and hosts; the lease of
a holder that crashed expires after ``lock_ttl`` seconds and the job can run again. Under the lock the
scheduler re-reads the last start, so two processes that both saw the job due run it once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from croniter import croniter

from suitecrm_ext.crm.base import CRMError
from suitecrm_ext.jobs_spec import JobSpec

if TYPE_CHECKING:
    from suitecrm_ext.context import AppContext
    from suitecrm_ext.plugins import PluginRegistry
    from suitecrm_ext.state.base import JobRun, StateStore

log = logging.getLogger("suitecrm_ext.jobs")

_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SUMMARY = 500


class ScheduleError(ValueError):
    """A schedule string that is neither an interval nor a valid cron expression."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: ``interval`` seconds, or a cron ``expr``."""

    text: str
    interval: float | None = None
    expr: str | None = None

    def next_after(self, ts: float) -> float:
        """The first due time strictly after epoch ``ts``."""
        if self.interval is not None:
            return ts + self.interval
        start = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
        return float(croniter(self.expr, start).get_next(float))


def parse_schedule(text: str) -> Schedule:
    """``"5m"`` / ``"*/10 * * * *"`` -> Schedule; raises ScheduleError saying what is accepted."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError("schedule is empty; use an interval like '5m' or a cron expression "
                            "like '0 3 * * *'")
    m = _INTERVAL_RE.match(text)
    if m:
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
        if seconds < 1:
            raise ScheduleError(f"schedule {text!r}: the interval must be at least 1s")
        return Schedule(text=text, interval=seconds)
    fields = text.split()
    if len(fields) == 5 and croniter.is_valid(text):
        return Schedule(text=text, expr=text)
    raise ScheduleError(
        f"schedule {text!r} is neither an interval (30s, 5m, 1h, 1d) nor a 5-field cron expression "
        "(minute hour day month weekday, e.g. '*/10 * * * *')"
    )


@dataclass(frozen=True)
class Job:
    """A job declared by a plugin."""

    plugin: str
    spec: JobSpec
    schedule: Schedule

    @property
    def name(self) -> str:
        """The job's global name."""
        return self.spec.name


@dataclass(frozen=True)
class JobOutcome:
    """What happened when the scheduler tried to run a job.

    ``status``: ``ok``, ``failed``, ``busy`` (another run holds the lock), ``not-due`` (another process
    ran it meanwhile).
    """

    job: str
    status: str
    summary: str = ""
    run_id: int | None = None


def collect_jobs(
    registry: PluginRegistry, plugin_settings: dict[str, Any]
) -> tuple[dict[str, Job], list[str]]:
    """Every enabled plugin's jobs by name, and the problems found (each naming plugin and job).

    A job with a bad schedule or a name another plugin already took is left out; the rest load.
    """
    jobs: dict[str, Job] = {}
    problems: list[str] = []
    for plugin in registry.active:
        try:
            specs = registry.call_one(plugin, "ext_jobs", settings=plugin_settings.get(plugin)) or []
        except Exception as exc:  # noqa: BLE001 - one plugin's mistake must not hide the others' jobs
            problems.append(f"plugin {plugin!r}: ext_jobs failed: {type(exc).__name__}: {exc}")
            continue
        for spec in specs:
            if not isinstance(spec, JobSpec):
                problems.append(f"plugin {plugin!r}: ext_jobs must return JobSpec objects, got "
                                f"{type(spec).__name__}")
                continue
            if spec.name in jobs:
                problems.append(f"plugin {plugin!r}: job {spec.name!r} is already declared by plugin "
                                f"{jobs[spec.name].plugin!r}; skipped")
                continue
            try:
                schedule = parse_schedule(spec.schedule)
            except ScheduleError as exc:
                problems.append(f"plugin {plugin!r}: job {spec.name!r}: {exc}")
                continue
            jobs[spec.name] = Job(plugin=plugin, spec=spec, schedule=schedule)
    return jobs, problems


class Scheduler:
    """Runs due jobs for one process (``owner`` names it in locks and run history)."""

    def __init__(
        self,
        app: AppContext,
        registry: PluginRegistry,
        *,
        owner: str,
        store: StateStore | None = None,
        lock_ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
    ):
        self.app = app
        self.registry = registry
        self.owner = owner
        self.store = store if store is not None else app.state
        self.lock_ttl = lock_ttl
        self.clock = clock
        self.jobs, self.problems = collect_jobs(registry, app.config.plugin_settings)
        for problem in self.problems:
            log.error(problem)

    def next_due(self, job: Job, last: JobRun | None) -> float:
        """When ``job`` is next due (now for a job that never ran)."""
        if last is None:
            return float("-inf")
        return job.schedule.next_after(last.started_at)

    def due_jobs(self) -> list[Job]:
        """Jobs due now, by name."""
        now = self.clock()
        last = self.store.last_job_runs()
        return [j for n, j in sorted(self.jobs.items()) if self.next_due(j, last.get(n)) <= now]

    def run_job(self, name: str, *, force: bool = False) -> JobOutcome:
        """Run job ``name`` now if no one else runs it (``force``: even if not due). Never raises for
        a failing job: the failure is recorded and returned."""
        job = self.jobs.get(name)
        if job is None:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise KeyError(f"no job named {name!r} (jobs: {known})")
        lock = f"job:{name}"
        if not self.store.acquire_lock(lock, self.owner, self.lock_ttl):
            holder = self.store.lock_info(lock)
            who = f" by {holder.owner}" if holder else ""
            return JobOutcome(name, "busy", f"already running{who}")
        try:
            if not force:
                last = self.store.last_job_runs().get(name)
                if self.next_due(job, last) > self.clock():
                    return JobOutcome(name, "not-due", "ran meanwhile in another process")
            run_id = self.store.job_started(name, self.owner)
            beat = _Heartbeat(self.store, lock, self.owner, self.lock_ttl)
            beat.start()
            extra = {"job": name, "plugin": job.plugin}
            try:
                result = job.spec.func(self.app.for_plugin(job.plugin))
            except Exception as exc:  # noqa: BLE001 - recorded in the run history
                summary = f"{type(exc).__name__}: {exc}"[:MAX_SUMMARY]
                beat.stop()
                self.store.job_finished(run_id, False, summary)
                # a SuiteCRM failure (unreachable, login refused, ...) is an operating condition: one
                # line (traceback at DEBUG); anything else is a plugin bug and keeps its traceback
                expected = isinstance(exc, CRMError)
                log.error("job %s failed: %s", name, summary, extra=extra, exc_info=not expected)
                if expected:
                    log.debug("job %s traceback", name, exc_info=True)
                return JobOutcome(name, "failed", summary, run_id)
            beat.stop()
            summary = _summarise(result)
            self.store.job_finished(run_id, True, summary)
            log.info("job %s ok%s", name, f": {summary}" if summary else "", extra=extra)
            return JobOutcome(name, "ok", summary, run_id)
        finally:
            self.store.release_lock(lock, self.owner)

    def run_due(self, stop: threading.Event | None = None) -> list[JobOutcome]:
        """Run every due job once, in name order; stops starting new ones when ``stop`` is set."""
        out = []
        for job in self.due_jobs():
            if stop is not None and stop.is_set():
                break
            out.append(self.run_job(job.name))
        return out

    def seconds_until_next(self) -> float | None:
        """Seconds until the earliest job is due (0 when one is due; None without jobs)."""
        if not self.jobs:
            return None
        last = self.store.last_job_runs()
        nxt = min(self.next_due(j, last.get(n)) for n, j in self.jobs.items())
        return max(nxt - self.clock(), 0.0)


class _Heartbeat:
    """Renews a job lock every third of its TTL while the job runs."""

    def __init__(self, store: StateStore, lock: str, owner: str, ttl: float):
        self.store, self.lock, self.owner, self.ttl = store, lock, owner, ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{lock}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if self.store.renew_lock(self.lock, self.owner, self.ttl):
                    continue
                # the lease ran out before this renewal (a stalled store): take it back unless another
                # process took it meanwhile
                if not self.store.acquire_lock(self.lock, self.owner, self.ttl):
                    log.error("lost the lock %s while the job runs (lease expired and taken by another "
                              "process)", self.lock)
                    return
                log.warning("lock %s: lease had expired before its renewal; taken back", self.lock)
            except Exception as exc:  # noqa: BLE001 - keep trying; the lease covers a blip
                log.warning("could not renew lock %s: %s", self.lock, exc)


def _summarise(result: Any) -> str:
    if result is None:
        return ""
    if isinstance(result, dict):
        text = ", ".join(f"{k}={v}" for k, v in result.items())
    else:
        text = str(result)
    return text[:MAX_SUMMARY]
