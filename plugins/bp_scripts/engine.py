"""The process engine: starts processes on record changes and schedules, moves runs on step by step.

One pass over a run (:meth:`Engine.advance`), under a lease on the run so two workers never move it at
once (a worker killed with -9 loses the lease after ``lock_seconds``; the next pass resumes the run):

1. read the record (a deleted record cancels the run);
2. for the current step: a ``when`` that does not hold skips it; otherwise the step is marked
   ``running`` in the state store *before* its script runs, so a crash in the script is seen: the next
   pass runs the same step again with the same key (the scripts are idempotent by key — see
   ``suitecrm_ext.workflow.scripts``);
3. the script's outcome: done (its result is kept; the next step starts), ``Waiting`` (looked at again
   when its record or a watched record changes, and every ``recheck_every``; a ``timeout`` parks or
   skips it), ``RetryLater`` or an unexpected error (retried with backoff, parked after the policy's
   attempts), ``ScriptError`` (parked with the reason);
4. the run's state is saved after every step and mirrored to its ``bp_Runs`` record in SuiteCRM.

A parked run waits for an admin: ``bp replay RUN_ID`` runs the step again (``--skip`` passes it).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from suitecrm_ext import CRMError, Event, EventKind, NotFound, TransientError
from suitecrm_ext.workflow import (
    Facts,
    Memo,
    RetryLater,
    ScriptError,
    ScriptRun,
    Waiting,
    as_result,
    parse_duration,
)

from .admin import AdminMixin
from .processes import ProcessDef, RetryPolicy, StepDef, interval_seconds
from .runs import ADHOC, NS_MEMO, STEP_DONE, Run, RunStore, StepState, run_id_for
from .scheduling import SchedulingMixin
from .templating import Fields, Related, TemplateEngine, TemplateProblem

log = logging.getLogger("suitecrm_ext.plugins.bp_scripts")



def default_owner() -> str:
    """A worker id unique to this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Engine(SchedulingMixin, AdminMixin):
    """Runs the configured processes over a CRM and a state store.

    ``settings``: the plugin's validated settings (processes, catalogue, policies); ``services``: what
    scripts get as ``run.services``; ``mirror``: write each run's state to its ``bp_Runs`` record;
    ``clock``: epoch seconds (tests move it); ``calendar``: the business calendar (deadlines).
    """

    def __init__(
        self,
        crm: Any,
        state: Any,
        settings: Any,
        *,
        services: Mapping[str, Any] | None = None,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        calendar: Any = None,
        mirror: bool = True,
        templates: TemplateEngine | None = None,
    ):
        self.crm = crm
        self.state = state
        self.settings = settings
        self.services = dict(services or {})
        self.owner = owner or default_owner()
        self.clock = clock
        self.calendar = calendar
        self.mirror = mirror
        self.runs = RunStore(state)
        self.templates = templates or TemplateEngine(calendar)
        self.catalogue = settings.catalogue
        self.processes = {p.name: p for p in settings.processes if p.enabled}

    # --- starting ------------------------------------------------------------------------------

    def on_event(self, event: Event) -> list[str]:
        """Start the processes a record change triggers; move on the runs of the record and those
        watching it. Returns a line per thing done."""
        done: list[str] = []
        started: set[str] = set()
        kind = event.kind.value
        record: dict[str, Any] | None = None
        for p in self.processes.values():
            if p.module != event.module or kind not in p.trigger.kinds:
                continue
            if record is None:
                record = self._event_record(event, p)
            facts = Facts.of_event(event, record, extra={"today": self.today()})
            if not p.trigger.when.holds(facts):
                continue
            run = self.start(p, event.record_id, event.key, values=record)
            if run is not None:
                started.add(run.id)
                done.append(f"started {p.name} on {event.module} {event.record_id}")
        if event.kind is not EventKind.DELETED:
            # a run this event started was moved on already; a step waiting out a retry's backoff is not
            # hurried by a change of its record (the provider down is not fixed by an edit)
            now = self.clock()
            ids = {
                r.id
                for r in self.runs.of_record(event.module, event.record_id)
                if r.active and not _backing_off(r, now)
            }
            ids |= set(self.runs.watchers(event.module, event.record_id))
            ids -= started
            for rid in sorted(ids):
                run = self.advance(rid)
                if run is not None:
                    done.append(f"{run.process} {run.id}: {run.status}")
        else:
            for r in self.runs.of_record(event.module, event.record_id):
                if r.active:
                    self.advance(r.id)
        return done

    def _event_record(self, event: Event, p: ProcessDef) -> dict[str, Any]:
        """The values a trigger is evaluated on: the event's, completed from SuiteCRM when the trigger
        needs fields the event did not carry."""
        values = dict(event.values or {})
        for name, ch in event.changes.items():
            values.setdefault(name, ch.after)
        needed = p.trigger.when.fields()
        if event.kind is not EventKind.DELETED and needed - set(values):
            try:
                values = {**self.crm.get(event.module, event.record_id).values, **values}
            except NotFound:
                pass
        return values

    def start(
        self,
        process: ProcessDef | str,
        record_id: str,
        trigger_key: str,
        *,
        values: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        advance: bool = True,
    ) -> Run | None:
        """Start ``process`` on a record (once per trigger key); None when a single-instance process is
        already active on the record. An existing run of the same trigger is moved on and returned."""
        p = self.processes[process] if isinstance(process, str) else process
        rid = run_id or run_id_for(p.name, p.module, record_id, trigger_key)
        existing = self.runs.get(rid)
        if existing is None:
            lock = f"bp:start:{p.name}:{p.module}:{record_id}"
            if not self.state.acquire_lock(lock, self.owner, 30):
                return None
            try:
                existing = self.runs.get(rid)
                if existing is None:
                    if p.concurrency == "single" and any(
                        r.active and r.process == p.name for r in self.runs.of_record(p.module, record_id)
                    ):
                        log.info(
                            "%s is already running on %s %s; not started again", p.name, p.module, record_id
                        )
                        return None
                    now = self.clock()
                    run = Run(
                        rid,
                        p.name,
                        p.module,
                        record_id,
                        trigger_key,
                        created=now,
                        updated=now,
                        steps=[StepState(s.name) for s in p.steps],
                        title=self._title(p, values),
                    )
                    if self.runs.add(run):
                        self._mirror(run)
            finally:
                self.state.release_lock(lock, self.owner)
        return self.advance(rid) if advance else self.runs.get(rid)

    def start_adhoc(
        self,
        run_id: str,
        script: str,
        settings: Mapping[str, Any],
        module: str,
        record_id: str,
        *,
        trigger_key: str = "cli",
        advance: bool = True,
    ) -> Run | None:
        """A one-step run of one script on one record (``bp run``, the AOW action), under ``run_id``;
        a second start under the same id starts nothing. ``advance=False``: only stored (the
        ``bp-advance`` job runs it)."""
        if self.runs.get(run_id) is None:
            now = self.clock()
            run = Run(
                run_id,
                ADHOC,
                module,
                record_id,
                trigger_key,
                created=now,
                updated=now,
                steps=[StepState(script)],
                title=f"BP-script {script}",
                adhoc={"script": script, "settings": dict(settings)},
            )
            if self.runs.add(run) and advance:  # else SuiteCRM waits: the first pass writes its bp_Runs
                self._mirror(run)
        return self.advance(run_id) if advance else self.runs.get(run_id)

    def _title(self, p: ProcessDef, values: Mapping[str, Any] | None) -> str:
        name = str((values or {}).get("name") or "").strip()
        return f"{p.label}: {name}" if name else p.label

    # --- moving on -----------------------------------------------------------------------------

    def advance(self, run_id: str) -> Run | None:
        """Move a run on as far as it goes now (see the module docstring). None when it is unknown or
        another worker holds it (that worker will look again: the run is poked)."""
        lock = f"bp:run:{run_id}"
        fresh = self.services.get("new_workflow")
        if callable(fresh):  # the access model's caches are per pass: a user made active since is seen
            self.services["workflow"] = fresh()
        if not self.state.acquire_lock(lock, self.owner, self.settings.lock_seconds):
            self.state.kv_set("bp_scripts.poke", run_id, True, ttl_seconds=self.settings.lock_seconds)
            return None
        try:
            for _ in range(3):
                self.state.kv_delete("bp_scripts.poke", run_id)
                run = self._advance(run_id)
                if run is None or not self.state.kv_get("bp_scripts.poke", run_id):
                    return run
            return run
        finally:
            self.state.release_lock(lock, self.owner)

    def _advance(self, run_id: str) -> Run | None:
        run = self.runs.get(run_id)
        if run is None or not run.active:
            return run
        p = self._process_of(run)
        if p is None:
            return self._finish(run, "parked", f"process {run.process!r} is not configured (any more)")
        while run.active and run.step < len(run.steps):
            try:
                record = {**self.crm.get(run.module, run.record_id).values, "id": run.record_id}
            except NotFound:
                return self._finish(run, "cancelled", f"{run.module} {run.record_id} was deleted")
            except (TransientError, CRMError) as exc:
                return self._later(run, run.current, f"cannot read the record: {exc}", self._policy(p, None))
            step_def = p.steps[run.step] if run.adhoc is None else None
            st = run.steps[run.step]
            outcome = self._step(run, p, step_def, st, record)
            if outcome != "next":
                return run
            run.step += 1
        if run.active:
            self._finish(run, "done", "")
        return run

    def _process_of(self, run: Run) -> ProcessDef | None:
        if run.adhoc is not None:
            return _ADHOC_PROCESS
        return self.processes.get(run.process)

    def _policy(self, p: ProcessDef, step: StepDef | None) -> RetryPolicy:
        if step is not None and step.retry is not None:
            return step.retry
        if p is not _ADHOC_PROCESS and "retry" in p.model_fields_set:
            return p.retry
        return self.settings.retry

    def _step(self, run: Run, p: ProcessDef, step_def: StepDef | None, st: StepState, record: dict) -> str:
        """Run one step; "next" when it is over (done or skipped)."""
        if st.status in STEP_DONE:
            return "next"
        now = self.clock()
        if step_def is not None and st.status == "pending":
            facts = Facts(
                record, None, module=run.module, record_id=run.record_id, extra={"today": self.today()}
            )
            if not step_def.when.holds(facts):
                st.status, st.summary, st.finished = "skipped", step_def.when.why_not(facts) or "", now
                self._save(run)
                return "next"
        try:
            script, parsed = self._script(run, step_def)
        except ScriptError as exc:
            return self._park(run, st, str(exc))
        before = (st.status, st.summary)
        replayed, st.replayed = st.replayed, False  # saved as used before the script runs: once only
        st.status, st.runs = "running", st.runs + 1
        st.started = st.started or now
        self._save(run, mirror=st.runs == 1)
        sr = self._script_run(run, st, record, replayed=replayed)
        try:
            result = as_result(script.run(sr, parsed))
        except Waiting as w:
            return self._wait(run, step_def, st, str(w), list(w.watch), before)
        except RetryLater as exc:
            return self._later(run, st, str(exc), self._policy(p, step_def), after=exc.after)
        except (ScriptError, TemplateProblem) as exc:
            return self._park(run, st, str(exc))
        except NotFound as exc:
            return self._park(run, st, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is retried, then parked
            log.warning("step %s of %s %s failed: %s", st.name, run.process, run.id, exc, exc_info=True)
            return self._later(run, st, f"{type(exc).__name__}: {exc}", self._policy(p, step_def))
        st.status, st.summary, st.data, st.error = "done", result.summary, _jsonable(result.data), ""
        st.finished, st.next_at, st.waiting_since = self.clock(), None, None
        if st.watch:
            self.runs.watch(run, st, [])
        self._save(run)
        return "next"

    def _script(self, run: Run, step_def: StepDef | None) -> tuple[Any, Any]:
        if run.adhoc is not None:
            name = run.adhoc["script"]
            script = self.catalogue.get(name)
            if script is None:
                raise ScriptError(f"unknown script {name!r} (scripts: {', '.join(self.catalogue)})")
            try:
                parsed = script.parse(run.adhoc.get("settings") or {})
            except Exception as exc:  # noqa: BLE001 - bad settings from SuiteCRM are the admin's to fix
                raise ScriptError(f"settings of {name}: {_first_error(exc)}") from None
            if script.check is not None:
                try:
                    script.check(parsed, {"module": run.module, "fields": None, **self._check_services()})
                except ValueError as exc:
                    raise ScriptError(f"settings of {name}: {exc}") from None
            return script, parsed
        assert step_def is not None
        script = self.catalogue.get(step_def.script)
        if script is None:
            raise ScriptError(f"script {step_def.script!r} is not installed (any more)")
        parsed = step_def.parsed if step_def.parsed is not None else script.parse(step_def.settings)
        return script, parsed

    def _check_services(self) -> dict[str, Any]:
        s = self.settings
        return {
            "sms_providers": set(s.sms.providers),
            "sms_default": s.sms.default,
            "webhooks": set(s.webhooks),
            "documents_dir": s.documents_dir,
        }

    def _script_run(
        self, run: Run, st: StepState, record: dict, *, dry_run: bool = False, replayed: bool = False
    ) -> ScriptRun:
        key = f"{run.id}:{st.name}"
        steps = {s.name: s.data for s in run.steps if s.status == "done"}
        now = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)
        if self.calendar is not None:
            now = now.astimezone(self.calendar.tz) if hasattr(self.calendar, "tz") else now

        def related_loader(link: str) -> list[dict[str, Any]]:
            try:
                return [dict(r.values, id=r.id) for r in self.crm.related(run.module, run.record_id, link)]
            except CRMError as exc:
                raise TemplateProblem(f"related.{link}: {exc}") from None

        def fetch(module: str, rid: str) -> Fields:
            if not rid:
                return Fields()
            try:
                return Fields(self.crm.get(str(module), str(rid)).values, id=str(rid))
            except NotFound:
                return Fields()
            except CRMError as exc:
                raise TemplateProblem(f"fetch({module!r}, ...): {exc}") from None

        context = {
            "record": Fields(record),
            "related": Related(related_loader),
            "fetch": fetch,
            "steps": steps,
            "now": now,
            "today": now.date(),
        }

        def render(text: Any, **extra: Any) -> Any:
            return self.templates.render(text, {**context, **extra})

        return ScriptRun(
            module=run.module,
            record_id=run.record_id,
            record=record,
            key=key,
            crm=self.crm,
            state=self.state,
            memo=Memo(self.state, NS_MEMO, key),
            render=render,
            services=self.services,
            steps=steps,
            dry_run=dry_run,
            attempt=st.failures + 1,
            now=now,
            log=log,
            context=context,
            replayed=replayed,
        )

    def _wait(
        self,
        run: Run,
        step_def: StepDef | None,
        st: StepState,
        reason: str,
        watch: list,
        before: tuple[str, str] = ("", ""),
    ) -> str:
        now = self.clock()
        st.waiting_since = st.waiting_since or now
        if (
            step_def is not None
            and step_def.timeout is not None
            and self._timed_out(st.waiting_since, step_def.timeout)
        ):
            if step_def.on_timeout == "skip":
                st.status, st.summary, st.finished = "skipped", f"timed out: {reason}", now
                self.runs.watch(run, st, [])
                self._save(run)
                return "next"
            self.runs.watch(run, st, [])
            return self._park(run, st, f"timed out after {step_def.timeout}: {reason}")
        changed = before != ("waiting", reason)
        st.status, st.summary, st.error = "waiting", reason, ""
        self.runs.watch(run, st, [tuple(w) for w in watch])
        st.next_at = now + interval_seconds(self.settings.recheck_every)
        run.status = "waiting"
        self._save(run, next_at=st.next_at, mirror=changed)
        return "wait"

    def _timed_out(self, since: float, timeout: Any) -> bool:
        start = dt.datetime.fromtimestamp(since, dt.timezone.utc)
        unit, n = parse_duration(timeout)
        if self.calendar is not None:
            deadline = self.calendar.deadline(start, **{unit: int(n) if unit == "days" else n})
        else:
            deadline = start + (dt.timedelta(days=n) if unit == "days" else dt.timedelta(hours=n))
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc) >= deadline

    def _later(
        self, run: Run, st: StepState | None, reason: str, policy: RetryPolicy, after: float | None = None
    ) -> str:
        if st is None:
            return "stop"
        st.failures += 1
        if st.failures >= policy.attempts:
            return self._park(run, st, f"{reason} (gave up after {st.failures} attempts)")
        delay = max(policy.delay(st.failures), after or 0)
        st.status, st.error = "retry", reason
        st.next_at = self.clock() + delay
        run.status = "retry"
        self._save(run, next_at=st.next_at)
        return "retry"

    def _park(self, run: Run, st: StepState, reason: str) -> str:
        st.status, st.error = "parked", reason
        log.warning("%s %s parked at step %s: %s", run.process, run.id, st.name, reason)
        self._finish(run, "parked", reason)
        return "park"

    def _finish(self, run: Run, status: str, reason: str) -> Run:
        run.status, run.error = status, reason
        if status in ("done", "cancelled") and run.current is not None and run.current.watch:
            self.runs.watch(run, run.current, [])
        self._save(run)
        return run

    def _save(self, run: Run, *, next_at: float | None = None, mirror: bool = True) -> None:
        run.updated = self.clock()
        if run.active and next_at is None:
            st = run.current
            next_at = st.next_at if st is not None and st.status in ("retry", "waiting") else 0
        if run.active and run.current is not None and run.current.status not in ("retry", "waiting"):
            run.status = "running"
        self.runs.save(run, next_at)
        if mirror:
            self._mirror(run)

    # --- SuiteCRM's view -----------------------------------------------------------------------

    def _mirror(self, run: Run) -> None:
        """Write the run's state to its bp_Runs record (created under the run's id; never twice)."""
        if not self.mirror:
            return
        cur = run.current
        values = {
            "name": (run.title or run.process)[:255],
            "process": run.process[:50],
            "status": run.status,
            "current_step": (cur.name if cur is not None else "")[:100],
            "steps_log": "\n".join(run.log_lines()),
            "last_error": run.error or (cur.error if cur is not None else ""),
            "parent_type": run.module,
            "parent_id": run.record_id,
            "trigger_key": run.trigger[:255],
            "started_at": dt.datetime.fromtimestamp(run.created, dt.timezone.utc),
        }
        if run.status in ("done", "cancelled", "parked"):
            values["finished_at"] = dt.datetime.fromtimestamp(run.updated or self.clock(), dt.timezone.utc)
        if run.adhoc is not None:
            values["script"] = str(run.adhoc.get("script", ""))[:50]
        try:
            self.crm.create(self.settings.runs_module, values, id=run.id)
            if not run.linked:  # until it worked once (SuiteCRM busy on the first write: the next one)
                link = self.settings.run_links.get(run.module)
                if link:
                    self.crm.relate(run.module, run.record_id, link, [run.id])
                run.linked = True  # stored with the run's next save (relating again changes nothing)
        except CRMError as exc:  # the state store is where the engine resumes from; SuiteCRM catches up
            log.warning("cannot show %s %s in SuiteCRM: %s", run.process, run.id, exc)

def _backing_off(run: Run, now: float) -> bool:
    st = run.current
    return st is not None and st.status == "retry" and (st.next_at or 0) > now


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(data), default=str))


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            e = errors()[0]
            return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        except Exception:  # noqa: BLE001
            pass
    return str(exc)


# a one-step process for ad-hoc runs (``bp run``; its step is the script named)
_ADHOC_PROCESS = ProcessDef.model_construct(
    name=ADHOC,
    title="BP-script",
    module="",
    steps=[],
    retry=RetryPolicy(),
    concurrency="parallel",
    enabled=True,
)

__all__ = ["ADHOC", "Engine", "default_owner"]
