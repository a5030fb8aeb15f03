"""The demo's frame, contributed through ``ext_demo_scenes`` like a plugin's scenes: the opening
scene (what runs where, the plugins' doctor checks against the FakeCRM) and the closing one (what
went through the event queue)."""

from __future__ import annotations

from suitecrm_ext import Check, hookimpl
from suitecrm_ext.demo import DEMO_ACCOUNTS, DEMO_USERS, DemoScene, DemoStage


def opening(stage: DemoStage) -> None:
    """The sidecar is up: where things are, which plugins play, their doctor checks."""
    app = stage.app
    registry = app.plugin_manager
    push = stage.hook.url
    stage.say(f"SuiteCRM: the in-memory FakeCRM with SuiteCRM's demo users ({len(DEMO_USERS)}) and "
              f"{len(DEMO_ACCOUNTS)} accounts")
    stage.say(f"sidecar: change feed every {app.config.settings.events.poll_interval_seconds:g} s, push "
              f"endpoint {push} (signed), dispatcher, jobs")
    stage.say(f"state store: {app.config.settings.state.path}")
    from suitecrm_ext.demo.runner import collect_scenes

    telling = sorted({s.plugin for s in collect_scenes(registry)[0] if not registry.is_builtin(s.plugin)})
    helping = [n for n in registry.enabled if n not in telling]
    stage.say(f"plugins in the story: {', '.join(telling) or 'none'}"
              + (f" (with {', '.join(helping)}, which they build on)" if helping else ""))
    stage.say("the logic hook SuiteCRM would run: " + (
        f"validates {', '.join(sorted(stage.hook.validate_modules)) or 'nothing'}; "
        f"pushes {', '.join(sorted(stage.hook.push_modules)) or 'nothing'}"))
    checks: list[Check] = []
    try:
        app.state.ping()
        checks.append(Check("state store", True, app.config.settings.state.backend))
    except Exception as exc:  # noqa: BLE001 - shown as a failed check
        checks.append(Check("state store", False, str(exc)))
    for name in registry.enabled:
        checks.extend(registry.call_one(name, "ext_doctor_checks", ctx=app.for_plugin(name)) or [])
    stage.say("doctor:")
    for check in checks:
        stage.say("  " + check.line())
    stage.check(not any(c.failed for c in checks), "every doctor check passes")


def closing(stage: DemoStage) -> None:
    """What went through the sidecar."""
    store = stage.app.state
    stats = store.queue_stats()
    calls = stage.hook.calls
    validated = sum(1 for path, _m, _a in calls if path == "/validate")
    refused = sum(1 for path, _m, a in calls if path == "/validate" and a and not a.get("allow"))
    pushed = sum(1 for path, _m, _a in calls if path == "/events")
    stage.say(f"logic hook calls: {validated} validation(s) ({refused} refused), {pushed} pushed change(s)")
    stage.say(f"event queue: {stats.events} event(s); deliveries: {stats.done} done, "
              f"{stats.pending} pending, "
              f"{stats.dead} dead")
    jobs = store.last_job_runs()
    if jobs:
        stage.say("jobs: " + ", ".join(f"{name} {'ok' if run.ok else 'FAILED'}"
                                       for name, run in sorted(jobs.items())))
    stage.check(stats.dead == 0 and stats.pending == 0, "every event was delivered, none is dead")


@hookimpl
def ext_demo_scenes() -> list[DemoScene]:
    """The opening and closing scenes."""
    return [DemoScene("The sidecar starts against an in-memory SuiteCRM", opening, order=0),
            DemoScene("What went through the sidecar", closing, order=1000)]
