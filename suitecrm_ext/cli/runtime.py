"""Runtime commands: ``run``, ``events tail|dead|replay``, ``jobs list|run``.

Test/dev aid: ``SUITECRM_EXT_EXTRA_PLUGINS="name=package.module[:attr],other=..."`` loads plugins that
are not installed through entry points (the attribute, default the module itself, is registered
under ``name``), for every command of this module. Not meant for production: install plugins.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys

import click

from suitecrm_ext.cli.state import CliState
from suitecrm_ext.plugins import PluginRegistry

pass_state = click.make_pass_decorator(CliState)
log = logging.getLogger("suitecrm_ext.cli")

EXTRA_PLUGINS_ENV = "SUITECRM_EXT_EXTRA_PLUGINS"


def parse_extra_plugins(text: str) -> dict[str, str]:
    """``"a=pkg.mod,b=pkg.other:obj"`` -> ``{"a": "pkg.mod", "b": "pkg.other:obj"}``.

    Raises click.UsageError naming the malformed item.
    """
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise click.UsageError(f"{EXTRA_PLUGINS_ENV}: expected name=module[:attr], got {item!r}")
        out[name.strip()] = target.strip()
    return out


def add_extra_plugins(registry: PluginRegistry, extras: dict[str, str], enabled: dict[str, bool]) -> None:
    """Register the plugins of ``SUITECRM_EXT_EXTRA_PLUGINS`` (load errors are recorded per plugin)."""
    for name, target in extras.items():
        registry.add(name, target, enabled=enabled.get(name, True))


def _registry(state: CliState) -> PluginRegistry:
    reg = state.registry
    extras = os.environ.get(EXTRA_PLUGINS_ENV, "")
    if extras and not getattr(reg, "_extras_added", False):
        enabled = {n: s.enabled for n, s in state.config.settings.plugins.items()}
        add_extra_plugins(reg, parse_extra_plugins(extras), enabled)
        state.config.validate_plugin_sections(reg.settings_schemas())
        reg._extras_added = True
    return reg


def _store(state: CliState):
    from suitecrm_ext.state import StateError

    try:
        return state.app.state
    except StateError as exc:
        raise click.ClickException(f"state store: {exc}") from None


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# --- run ------------------------------------------------------------------------------------


@click.command()
@click.option("--once", is_flag=True, help="One poll cycle, deliver what is due, run due jobs, exit (cron).")
@click.option("--worker-id", default=None,
              help="Name of this worker in leases (default host:pid). Keep it stable across restarts "
                   "(e.g. the host name under systemd) so a restart reclaims its unfinished work at once, "
                   "and unique among the workers running at the same time.")
@click.option("--no-poll", is_flag=True, help="Do not run the change feed (a dispatch-only worker).")
@click.option("--no-push", is_flag=True, help="Do not start the push receiver even if events.push.enabled.")
@pass_state
def run(state: CliState, once: bool, worker_id: str | None, no_poll: bool, no_push: bool) -> None:
    """Run the sidecar: change feed + push receiver + dispatcher + jobs. SIGTERM stops it cleanly."""
    from suitecrm_ext.runtime import Runtime

    reg = _registry(state)
    _store(state)
    rt = Runtime(state.app, reg, worker_id=worker_id, poll=not no_poll, push=not no_push)
    rt.install_signal_handlers()
    if once:
        summary = rt.run_once()
        click.echo(summary.line())
        if not summary.ok:
            raise click.exceptions.Exit(1)
        return
    code = rt.run_forever()
    if code:
        raise click.exceptions.Exit(code)


# --- events ---------------------------------------------------------------------------------


@click.group()
def events() -> None:
    """The event queue: recent events, dead letters, replay."""


def _event_dict(q) -> dict:
    from suitecrm_ext.events.codec import event_to_dict

    return {"seq": q.seq, "received_at": _when(q.received_at), "fanned_out": q.fanned_out,
            "event": event_to_dict(q.event),
            "deliveries": [{"id": d.id, "plugin": d.plugin, "status": d.status, "attempts": d.attempts,
                            "last_error": d.last_error} for d in q.deliveries]}


def _event_line(q) -> str:
    e = q.event
    return (f"{_when(q.received_at)}  #{q.seq}  {e.module} {e.record_id} {e.kind.value} ({e.source})"
            + (f" fields: {', '.join(sorted(e.changes))}" if e.changes else ""))


def _delivery_line(d, seq: int | None = None) -> str:
    retry = f", next try {_when(d.next_attempt_at)}" if d.status == "pending" and d.attempts else ""
    err = f" — {d.last_error}" if d.last_error and d.status != "done" else ""
    of = f" (event #{seq})" if seq is not None else ""
    return f"    delivery {d.id}{of} -> {d.plugin}: {d.status}, {d.attempts} failed attempt(s){retry}{err}"


@events.command("tail")
@click.option("-n", "--limit", default=20, show_default=True, help="How many recent events.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output (with -f: one JSON object a line).")
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing events as they arrive, and each delivery's outcome; "
                   "Ctrl-C or SIGTERM stops.")
@click.option("--interval", default=0.5, show_default=True, type=click.FloatRange(0.05, 60),
              help="With --follow: seconds between looks at the queue.")
@pass_state
def events_tail(state: CliState, limit: int, as_json: bool, follow: bool, interval: float) -> None:
    """Recent events (newest first) with each plugin's delivery state; --follow streams new ones."""
    store = _store(state)
    if follow:
        _follow(store, limit, as_json, interval)
        return
    stats = store.queue_stats()
    recent = store.recent_events(limit)
    if as_json:
        click.echo(json.dumps({"stats": stats.__dict__, "events": [_event_dict(q) for q in recent]},
                              indent=2, default=str))
        return
    click.echo(f"queue: {stats.events} event(s), {stats.not_fanned_out} not yet routed; deliveries: "
               f"{stats.pending} pending, {stats.done} done, {stats.dead} dead")
    for q in recent:
        click.echo(_event_line(q))
        if not q.fanned_out:
            click.echo("    (not yet routed to plugins)")
        elif not q.deliveries:
            click.echo("    (no plugin watches it)")
        for d in q.deliveries:
            click.echo(_delivery_line(d))


#: how many events --follow looks back at most when many arrived between two looks
FOLLOW_WINDOW = 10_000


def _follow(store, limit: int, as_json: bool, interval: float) -> None:
    """Print the last ``limit`` events, then every new event (oldest first) and every delivery whose
    state changed, until SIGTERM / SIGINT."""
    import signal
    import threading

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    shown: dict[int, tuple] = {}  # delivery id -> (status, attempts) last printed
    last_seq: int | None = None
    try:
        while True:
            window = max(limit, 1) if last_seq is None else 200
            batch = store.recent_events(window)
            while last_seq is not None and batch and batch[-1].seq > last_seq + 1 and window < FOLLOW_WINDOW:
                window *= 4  # more arrived than one look shows: look further back
                batch = store.recent_events(window)
            newest = batch[0].seq if batch else 0
            if last_seq is None:  # the start: the last `limit` events; the older ones only count as seen
                for q in batch[limit:] if limit else batch:
                    shown.update({d.id: (d.status, d.attempts) for d in q.deliveries})
                batch = batch[:limit] if limit else []
            for q in reversed(batch):
                new_event = last_seq is None or q.seq > last_seq
                changed = [d for d in q.deliveries if shown.get(d.id) != (d.status, d.attempts)]
                if new_event:
                    click.echo(json.dumps(_event_dict(q), default=str) if as_json else _event_line(q))
                    if not as_json:
                        for d in q.deliveries:
                            click.echo(_delivery_line(d))
                elif changed:
                    if as_json:
                        click.echo(json.dumps(_event_dict(q), default=str))
                    else:
                        for d in changed:
                            click.echo(_delivery_line(d, q.seq))
                for d in q.deliveries:
                    shown[d.id] = (d.status, d.attempts)
            last_seq = max(last_seq or 0, newest)
            sys.stdout.flush()
            if stop.wait(interval):
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@events.command("dead")
@click.option("--plugin", default=None, help="Only this plugin's dead letters.")
@click.option("-n", "--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def events_dead(state: CliState, plugin: str | None, limit: int, as_json: bool) -> None:
    """Deliveries that failed ``events.max_attempts`` times, with their last error."""
    dead = _store(state).dead_letters(limit=limit, plugin=plugin)
    if as_json:
        from suitecrm_ext.events.codec import event_to_dict

        click.echo(json.dumps([{"id": d.id, "plugin": d.plugin, "attempts": d.attempts,
                                "last_error": d.last_error, "failed_at": _when(d.updated_at),
                                "event": event_to_dict(d.event)} for d in dead], indent=2, default=str))
        return
    if not dead:
        click.echo("no dead letters")
        return
    for d in dead:
        e = d.event
        click.echo(f"{d.id}  {_when(d.updated_at)}  {d.plugin}  {e.module} {e.record_id} {e.kind.value}  "
                   f"after {d.attempts} attempt(s): {d.last_error}")
    click.echo(f"{len(dead)} dead letter(s); replay with: suitecrm-ext events replay ID... | --all")


@events.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Re-queue every dead letter.")
@click.option("--plugin", default=None, help="With --all: only this plugin's dead letters.")
@pass_state
def events_replay(state: CliState, ids: tuple[int, ...], replay_all: bool, plugin: str | None) -> None:
    """Re-queue dead (or done) deliveries by id, or every dead letter with --all."""
    if bool(ids) == replay_all:
        raise click.UsageError("give delivery ID(s) (see `events dead`) or --all, not both")
    store = _store(state)
    if replay_all:
        n = _replay_all(store, plugin)
        click.echo(f"re-queued {n} dead letter(s)")
        return
    missing = [i for i in ids if store.get_delivery(i) is None]
    if missing:
        raise click.ClickException(f"no delivery with id {', '.join(map(str, missing))} (see `events dead`)")
    pending = [i for i in ids if store.get_delivery(i).status == "pending"]
    n = store.replay([i for i in ids if i not in pending])
    for i in pending:
        click.echo(f"delivery {i} is already pending; left as is")
    click.echo(f"re-queued {n} delivery(ies)")


#: dead letters re-queued per transaction by ``replay --all``
REPLAY_CHUNK = 500


def _replay_all(store, plugin: str | None) -> int:
    """Re-queue every dead letter (of ``plugin``) in chunks, with a progress bar: each chunk is one
    short transaction, and an interrupted run leaves the rest dead for the next one."""
    from suitecrm_ext.progress import progress

    total = None if plugin else store.queue_stats().dead  # per plugin: a spinner with the count
    done = 0
    with progress("re-queueing dead letters", total=total, unit="deliveries") as bar:
        while True:
            ids = [d.id for d in store.dead_letters(limit=REPLAY_CHUNK, plugin=plugin)]
            n = store.replay(ids) if ids else 0
            if not n:
                break
            done += n
            bar.advance(n)
    return done


# --- jobs -----------------------------------------------------------------------------------


@click.group()
def jobs() -> None:
    """Scheduled jobs declared by plugins."""


def _scheduler(state: CliState, worker_id: str | None = None):
    from suitecrm_ext.jobs import Scheduler
    from suitecrm_ext.runtime import default_worker_id

    reg = _registry(state)
    store = _store(state)
    sched = Scheduler(state.app, reg, owner=worker_id or default_worker_id(), store=store)
    for problem in sched.problems:
        click.echo(f"error: {problem}", err=True)
    return sched, store


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def jobs_list(state: CliState, as_json: bool) -> None:
    """Every job: plugin, schedule, last run and result, next due time, and who runs it now."""
    sched, store = _scheduler(state)
    last = store.last_job_runs()
    rows = []
    for name, job in sorted(sched.jobs.items()):
        run_ = last.get(name)
        holder = store.lock_info(f"job:{name}")
        if run_ is None:
            result = "never ran"
        elif run_.ok is None:
            result = f"running on {holder.owner}" if holder else "interrupted (process died)"
        else:
            result = ("ok" if run_.ok else "FAILED") + (f": {run_.summary}" if run_.summary else "")
        nxt = sched.next_due(job, run_)
        rows.append({"job": name, "plugin": job.plugin, "schedule": job.schedule.text,
                     "last_run": _when(run_.started_at) if run_ else "-", "result": result,
                     "next_due": "now" if nxt == float("-inf") else _when(nxt),
                     "description": job.spec.description})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no jobs declared by the enabled plugins")
        return
    for r in rows:
        click.echo(f"{r['job']}  [{r['plugin']}]  {r['schedule']}  last: {r['last_run']}  {r['result']}  "
                   f"next: {r['next_due']}")


def _disabled_owner(state: CliState, job: str) -> str | None:
    """The disabled plugin that declares ``job``, if one does."""
    reg = _registry(state)
    for plugin, info in sorted(reg.infos.items()):
        if not info.loaded or plugin in reg.enabled:
            continue
        try:
            specs = reg.call_one(plugin, "ext_jobs", settings=state.config.plugin_settings.get(plugin)) or []
        except Exception:  # noqa: BLE001 - only used to word an error message
            continue
        if any(getattr(s, "name", None) == job for s in specs):
            return plugin
    return None


@jobs.command("run")
@click.argument("name")
@click.option("--worker-id", default=None, help="Owner name recorded in the lock and the run history.")
@pass_state
def jobs_run(state: CliState, name: str, worker_id: str | None) -> None:
    """Run job NAME now (even if not due). Exit 1 if it fails, 75 if it is already running elsewhere."""
    sched, _ = _scheduler(state, worker_id)
    try:
        out = sched.run_job(name, force=True)
    except KeyError as exc:
        owner = _disabled_owner(state, name)
        if owner:
            raise click.ClickException(f"job {name!r} belongs to plugin {owner}, which is disabled in "
                                       f"{state.config.path} (plugins.{owner}.enabled)") from None
        raise click.ClickException(exc.args[0]) from None
    click.echo(f"{name}: {out.status}" + (f": {out.summary}" if out.summary else ""))
    if out.status == "failed":
        raise click.exceptions.Exit(1)
    if out.status == "busy":
        raise click.exceptions.Exit(75)  # EX_TEMPFAIL: cron may try again later


COMMANDS = (run, events, jobs)


def register(group: click.Group) -> None:
    """Add ``run``, ``events`` and ``jobs`` to a group (the CLI gets them through ``ext_cli_commands``)."""
    for cmd in COMMANDS:
        group.add_command(cmd)


__all__ = ["register", "parse_extra_plugins", "add_extra_plugins", "EXTRA_PLUGINS_ENV"]
