"""The demo's machinery: an embedded sidecar (the real Runtime) over the in-memory FakeCRM.

:class:`DemoRunner` collects the scenes (``ext_demo_scenes``, the core's opening and closing ones
included), writes a config into the work directory (SQLite state store, push endpoint on loopback
with a generated secret in an 0600 env file, every plugin with a scene enabled, the others off),
seeds the FakeCRM, starts the Runtime in a thread (dispatcher, change feed, push receiver, jobs),
and plays the scenes in order through a :class:`~suitecrm_ext.demo.DemoStage`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from suitecrm_ext.demo.scene import DemoFailure, DemoScene
from suitecrm_ext.demo.stage import DemoStage, LockedCRM, LogicHookStandIn

CONFIG_NAME = "suitecrm-ext.yaml"
ENV_NAME = "demo.env"
SECRET_VAR = "SUITECRM_EXT_PUSH_SECRET"
#: the demo's SuiteCRM URL: nothing answers there, the CRM is the in-process FakeCRM
DEMO_URL = "http://fakecrm.invalid"


@dataclass
class Staged:
    """A scene with the plugin that contributed it."""

    plugin: str
    scene: DemoScene


@dataclass
class DemoResult:
    """How the story went."""

    scenes: int = 0
    failed: list[str] = field(default_factory=list)
    checks: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every scene played and every check held."""
        return not self.failed


class OwnSecondClock:
    """The demo FakeCRM's clock: every write gets a second of its own.

    SuiteCRM stamps ``date_modified`` to the second, and an event's key is made of module, id, kind
    and that second: two saves of one record within one second look like one change (the second one
    is de-duplicated away, in the real sidecar too). A scripted story saves faster than any user, so
    its clock moves on by at least a second per write.
    """

    def __init__(self) -> None:
        self.last: dt.datetime | None = None
        self.lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self.lock:
            now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
            if self.last is not None and now <= self.last:
                now = self.last + dt.timedelta(seconds=1)
            self.last = now
            return now


class DemoError(Exception):
    """The demo could not start (a scene's setup failed, no port, ...); the message says what."""


def collect_scenes(registry: Any) -> tuple[list[Staged], list[str]]:
    """Every scene of every plugin (the core's, the enabled and the disabled installed ones), in play
    order, and the problems (a plugin whose hook failed or returned something else than DemoScenes)."""
    staged: list[Staged] = []
    problems: list[str] = []
    for name in [*registry.builtins, *registry.loaded]:
        try:
            scenes = registry.call_one(name, "ext_demo_scenes") or []
        except Exception as exc:  # noqa: BLE001 - one plugin's broken scene must not stop the demo
            problems.append(f"plugin {name}: ext_demo_scenes failed: {type(exc).__name__}: {exc}")
            continue
        for scene in scenes:
            if not isinstance(scene, DemoScene):
                problems.append(f"plugin {name}: ext_demo_scenes must return DemoScene objects, "
                                f"got {type(scene).__name__}")
                continue
            staged.append(Staged(name, scene))
    staged.sort(key=lambda s: (s.scene.order, s.plugin))
    return staged, problems


class DemoRunner:
    """Builds and runs the demo in ``workdir``; ``out`` prints a line of the story."""

    def __init__(self, workdir: Path, out: Callable[[str], None], *, listen: str = "127.0.0.1:0"):
        self.workdir = Path(workdir)
        self.out = out
        self.listen = listen
        self.config_path = self.workdir / CONFIG_NAME
        self.runtime: Any = None
        self.push_server: Any = None
        self.app: Any = None
        self.registry: Any = None
        self.scenes: list[Staged] = []
        self.plugins: list[str] = []
        self._thread: threading.Thread | None = None
        self._exit: list[int] = []

    # --- building -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Scenes, config, FakeCRM with demo data, app and runtime (not yet started)."""
        from suitecrm_ext.config import load_config
        from suitecrm_ext.context import AppContext
        from suitecrm_ext.crm.fake import FakeCRM
        from suitecrm_ext.demo.data import seed
        from suitecrm_ext.plugins import PluginRegistry

        found = PluginRegistry.discover()
        self.scenes, problems = collect_scenes(found)
        for problem in problems:
            self.out(f"warning: {problem}")
        self.plugins = sorted({s.plugin for s in self.scenes if not found.is_builtin(s.plugin)})
        self._write_config(found)
        config = load_config(self.config_path)
        enabled = {name: section.enabled for name, section in config.settings.plugins.items()}
        self.registry = PluginRegistry.discover(enabled=enabled)
        config.validate_plugin_sections(self.registry.settings_schemas())
        fake = FakeCRM(clock=OwnSecondClock())
        seed(fake)
        for staged in self.scenes:
            if staged.scene.setup is not None:
                try:
                    staged.scene.setup(fake, self.workdir)
                except Exception as exc:  # noqa: BLE001 - named, the demo does not start
                    raise DemoError(f"plugin {staged.plugin}: setup of scene {staged.scene.title!r} failed: "
                                    f"{type(exc).__name__}: {exc}") from exc
        self.crm = LockedCRM(fake)
        self.app = AppContext(config, crm=self.crm, plugin_manager=self.registry)

    def _write_config(self, found: Any) -> None:
        from suitecrm_ext.envfile import write_env_file

        self.workdir.mkdir(parents=True, exist_ok=True)
        sections: dict[str, dict[str, Any]] = {name: {"enabled": False} for name in found.loaded}
        for staged in self.scenes:
            for needed in staged.scene.requires:
                if needed in sections:
                    sections[needed]["enabled"] = True
            if staged.plugin in found.builtins:
                continue
            section = sections.setdefault(staged.plugin, {})
            section["enabled"] = True
            section.update(staged.scene.settings_for(self.workdir))
        write_env_file(self.workdir / ENV_NAME, {SECRET_VAR: secrets.token_hex(32)},
                       header="secrets of the demo sidecar (suitecrm-ext demo)")
        data = {
            "env_file": ENV_NAME,
            "suitecrm": {"url": DEMO_URL},
            "state": {"backend": "sqlite", "path": str(self.workdir / "state.sqlite3")},
            "events": {"poll_interval_seconds": 1, "retry_base_seconds": 0.2, "max_attempts": 3,
                       "push": {"enabled": True, "listen": self.listen, "secret": f"${{{SECRET_VAR}}}"}},
            "logging": {"level": "WARNING"},
            "plugins": sections,
        }
        header = ("# Written by `suitecrm-ext demo`: the demo sidecar's config. Its CRM is the in-memory\n"
                  "# FakeCRM inside the demo process (suitecrm.url reaches nothing); the state store and\n"
                  "# the push endpoint are real.\n")
        self.config_path.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    # --- running ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the sidecar (Runtime.run_forever in a thread) and wait for its push endpoint."""
        from suitecrm_ext.events.push import PushServer
        from suitecrm_ext.runtime import Runtime

        ready = threading.Event()

        def push_factory(rt: Any) -> Any:
            server = PushServer(rt.app, rt.registry, store=rt.store, on_queued=rt.wake)
            original = server.start

            def start() -> Any:
                started = original()
                self.push_server = server
                ready.set()
                return started

            server.start = start  # type: ignore[method-assign]
            return server

        self.runtime = Runtime(self.app, self.registry, worker_id="demo", push_factory=push_factory)
        self._thread = threading.Thread(target=lambda: self._exit.append(self.runtime.run_forever()),
                                        name="demo-sidecar", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not ready.wait(0.05):
            if self._exit or time.monotonic() > deadline:
                raise DemoError("the demo sidecar did not start (see the log lines above)")

    def stage(self) -> DemoStage:
        """The stage the scenes play on."""
        from suitecrm_ext.events.logic_hook import render_for_plugins

        events = self.app.config.settings.events
        try:
            bundle = render_for_plugins(self.registry, self.app.config, sidecar_url=self.push_server.url)
            hooks = bundle.installdefs
        except ValueError:  # no plugin watches anything: SuiteCRM would get no logic hook at all
            hooks = []
        push = sorted({e["module"] for e in hooks if e["hook"] != "before_save"})
        validate = sorted({e["module"] for e in hooks if e["hook"] == "before_save"})
        hook = LogicHookStandIn(self.crm, self.push_server.url, events.push.secret.get_secret_value(),
                                push=push, validate=validate, fail_modes=events.validation_fail_mode)
        return DemoStage(crm=self.crm, hook=hook, app=self.app, runtime=self.runtime, workdir=self.workdir,
                         out=self.out)

    def play(self, stage: DemoStage) -> DemoResult:
        """Play every scene in order; a failing scene is reported and the next one still plays."""
        result = DemoResult()
        started = time.monotonic()
        total = len(self.scenes)
        for i, staged in enumerate(self.scenes, 1):
            stage.plugin = staged.plugin
            owner = "core" if self.registry.is_builtin(staged.plugin) else staged.plugin
            self.out("")
            self.out(f"[{i}/{total}] {staged.scene.title}  ({owner})")
            try:
                staged.scene.play(stage)
            except DemoFailure as exc:
                result.failed.append(staged.scene.title)
                self.out(f"  ✗ FAILED: {exc}")
            except Exception as exc:  # noqa: BLE001 - any error fails the scene, named, with its place
                result.failed.append(staged.scene.title)
                where = traceback.extract_tb(exc.__traceback__)[-1]
                place = f"{Path(where.filename).name}:{where.lineno}"
                self.out(f"  ✗ FAILED: {type(exc).__name__}: {exc} ({place})")
            result.scenes += 1
        result.checks = stage.checks
        result.seconds = time.monotonic() - started
        return result

    def wait(self, stop: threading.Event) -> None:
        """Keep the sidecar running until ``stop`` is set or it ends by itself."""
        while not stop.wait(0.2):
            if self._thread is None or not self._thread.is_alive():
                return

    def stop(self) -> None:
        """Stop the sidecar and close the services."""
        if self.runtime is not None:
            self.runtime.stop.set()
            self.runtime.wake()
        if self._thread is not None:
            self._thread.join(10)
        if self.app is not None:
            self.app.close()
