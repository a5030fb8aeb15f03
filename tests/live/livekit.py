"""Shared live-layer kit: plugin packages installed in the real SuiteCRM, the push secret, a fixed
push address, and a sidecar (``suitecrm-ext run`` or an in-process receiver) to serve it.

One :class:`LiveKit` per pytest session and instance (fixture ``live_kit`` in tests/live/conftest.py).
CI runs every helper's live tests in ONE session against the instance ``crm``, so the kit is built to
be shared:

- :meth:`LiveKit.install` installs a plugin's package as ``suitecrm-ext package install`` does (the
  Module Loader way: package scan, upgrade_history entry, files owned by the web server user) with
  SuiteCRM's package scan **on**; idempotent: once per session and plugin, and a package already
  installed with the same bytes (an earlier run) costs one quick check. Packages stay installed
  after the session (the next run reuses them); a test that uninstalls one reinstalls it before it
  ends (:meth:`LiveKit.forget` makes the next ``install`` do the work again).
- Every package is built with the session's fixed sidecar URL ``http://127.0.0.1:<push_port>``
  (``$SUITECRM_EXT_LIVE_PUSH_PORT``, default 20000 + the instance's port % 1000: crm 8080 -> 20080),
  and ``config_override.php`` carries ``$sugar_config['suitecrm_ext']['secret'] =`` :data:`PUSH_SECRET`
  and ``$sugar_config['moduleInstaller']['packageScan'] = true``.
- :meth:`LiveKit.receiver` serves the push address in-process (a ``PushServer`` with the plugins you
  give) for the length of a ``with`` block; :meth:`LiveKit.sidecar` starts ``suitecrm-ext run`` as a
  process on it (stop with ``.stop()`` / ``.kill()``). Only one of them can hold the address at a
  time: always use them as context managers.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

from suitecrm_ext.lab import LabInstance

#: the push secret the live layer writes into config_override.php and gives every receiver
PUSH_SECRET = "suitecrm-ext-live-push-secret-0123456789"
#: how long the live packages' hooks wait for /validate (the sidecar's budget + its answer)
VALIDATE_TIMEOUT_MS = 9000
PUSH_PORT_VAR = "SUITECRM_EXT_LIVE_PUSH_PORT"
#: packages a plugin needs at run time although its schema does not say ``requires`` (yet)
RUNTIME_NEEDS = {"account_opening": ("workflow",), "routing": ("workflow",)}
#: the keys this kit owns in config_override.php
_OVERRIDE_KEYS = {
    "$sugar_config['suitecrm_ext']['secret']": repr(PUSH_SECRET),
    "$sugar_config['moduleInstaller']['packageScan']": "true",
}


def push_port_for(lab: LabInstance) -> int:
    """The session's fixed push port for an instance (see the module docstring)."""
    given = os.environ.get(PUSH_PORT_VAR, "").strip()
    if given:
        return int(given)
    return 20000 + int(lab.env.get("SUITECRM_LAB_PORT", "8080")) % 1000


def write_config_override(root: Path, values: Mapping[str, str]) -> None:
    """Set ``$sugar_config[...] = value;`` lines in SuiteCRM's config_override.php (created if missing,
    other lines kept, inside the Configurator's markers), owned like config.php."""
    path = root / "config_override.php"
    empty = "<?php\n/***CONFIGURATOR***/\n/***CONFIGURATOR***/\n"
    text = path.read_text(encoding="utf-8") if path.exists() else empty
    lines = [ln for ln in text.splitlines()
             if not any(ln.strip().startswith((key + " ", key + "=")) for key in values)]
    marker = next((i for i, ln in enumerate(lines) if ln.strip() == "/***CONFIGURATOR***/"), None)
    new = [f"{key} = {value};" for key, value in values.items()]
    if marker is None:
        lines += new
    else:
        lines[marker + 1:marker + 1] = new
    tmp = path.with_name(path.name + ".sxt-tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    st = (root / "config.php").stat()
    if os.geteuid() == 0:
        os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class LiveKit:
    """The session's view of one live instance: packages, secret, push address, sidecars."""

    def __init__(self, lab: LabInstance, workdir: Path):
        self.lab = lab
        self.workdir = workdir
        self.secret = PUSH_SECRET
        self.push_port = push_port_for(lab)
        self.push_listen = f"127.0.0.1:{self.push_port}"
        self.push_url = f"http://{self.push_listen}"
        self._installed: dict[str, Any] = {}
        self._lock = threading.Lock()
        write_config_override(lab.root, _OVERRIDE_KEYS)

    # --- packages ---------------------------------------------------------------------------------

    def build(self, plugin: str, out_dir: Path | None = None) -> Path:
        """Build ``plugin``'s package zip with the session's sidecar URL."""
        from suitecrm_ext.packaging.builder import build_package
        from suitecrm_ext.testing import load_plugin_schema

        schema = load_plugin_schema(plugin)
        # the hook waits up to 9 s for /validate, so a sidecar given a larger budget (read_via: api, as
        # the collegial walk-through runs) is heard; a sidecar with the default 2 s answers within it
        return build_package(schema, out_dir or (self.workdir / "packages"), sidecar_url=self.push_url,
                             validate_timeout_ms=VALIDATE_TIMEOUT_MS)

    def install(self, plugin: str) -> Any:
        """Install ``plugin``'s package (package scan on) once per session, after the packages its
        schema ``requires`` (e.g. the core ``workflow`` package); returns the InstallReport."""
        from suitecrm_ext.packaging.installer import run_installer
        from suitecrm_ext.testing import load_plugin_schema

        schema = load_plugin_schema(plugin)
        needs = [r.plugin for r in schema.requires] + list(RUNTIME_NEEDS.get(plugin, ()))
        for needed in dict.fromkeys(needs):
            self.install(needed)
        with self._lock:
            if plugin not in self._installed:
                tables = [m.table for m in schema.modules] + [r.join_table for r in schema.relationships]
                tables += [f"{schema.table_of(mod)}_cstm" for mod in schema.custom_fields]
                report = run_installer(self.build(plugin), self.lab.root, "install", tables=tables)
                missing = [t for t, ok in report.tables.items() if not ok]
                if missing:
                    raise AssertionError(f"{plugin}: tables missing after install: {missing}")
                self._installed[plugin] = report
            return self._installed[plugin]

    def forget(self, plugin: str) -> None:
        """After a test uninstalled ``plugin``: the next :meth:`install` installs it again."""
        with self._lock:
            self._installed.pop(plugin, None)

    # --- sidecars ---------------------------------------------------------------------------------

    _entry_points: list[str] | None = None

    @classmethod
    def plugins_off(cls) -> dict[str, Any]:
        """A ``plugins:`` section disabling every installed (entry-point) plugin, for a sidecar that
        should run only the test plugins given through ``SUITECRM_EXT_EXTRA_PLUGINS``."""
        if cls._entry_points is None:
            out = subprocess.run(
                [sys.executable, "-c", "from suitecrm_ext.plugins import PluginRegistry as R; "
                                       "print(' '.join(R.discover().loaded))"],
                capture_output=True, text=True, check=True, cwd="/").stdout
            cls._entry_points = out.split()
        return {name: {"enabled": False} for name in cls._entry_points}

    def config(self, *, plugins: Mapping[str, Any] | None = None, state_dir: Path | None = None,
               write_via: str = "rest", read_via: str = "api", **sections: Any) -> dict[str, Any]:
        """A config dict for a sidecar on this instance with push on the session's address."""
        state_dir = state_dir or Path(tempfile.mkdtemp(prefix="state-", dir=self.workdir))
        events = dict(sections.pop("events", {}) or {})
        events["push"] = {"enabled": True, "listen": self.push_listen, "secret": self.secret,
                          "public_url": self.push_url, **(events.get("push") or {})}
        cfg: dict[str, Any] = {
            "suitecrm": self.lab.suitecrm_section(write_via, read_via=read_via),
            "state": {"backend": "sqlite", "path": str(state_dir / "state.sqlite3")},
            "events": events,
        }
        if plugins:
            cfg["plugins"] = dict(plugins)
        cfg.update(sections)
        return cfg

    @contextlib.contextmanager
    def receiver(self, plugins: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
                 real_crm: bool = False, **push: Any) -> Iterator[Any]:
        """An in-process ``PushServer`` on the push address with ``plugins`` (name -> plugin object),
        queueing into a fresh SQLite store; yields the server (``.store``, ``.stats``, ``.app``).
        The plugins see a FakeCRM, or with ``real_crm`` the live instance through the config's gateway
        (as ``suitecrm-ext run`` builds it)."""
        from suitecrm_ext.events.push import PushServer
        from suitecrm_ext.state.sqlite import SQLiteStore
        from suitecrm_ext.testing import build_app, build_config, build_registry

        cfg = dict(config or self.config())
        cfg["events"] = dict(cfg.get("events") or {})
        cfg["events"]["push"] = {**cfg["events"]["push"], **push}
        sections = {k: v for k, v in cfg.items() if k != "plugins"}
        conf = build_config(cfg.get("plugins"), **sections)
        registry = build_registry(dict(plugins), config=conf)
        store = SQLiteStore(Path(cfg["state"]["path"]))
        if real_crm:
            from suitecrm_ext.context import AppContext

            app = AppContext(conf, state=store, plugin_manager=registry)
        else:
            app = build_app(registry, config=conf, state=store)
        server = _start_on_fixed_port(lambda: PushServer(app, registry, store=store))
        try:
            yield server
        finally:
            server.stop()
            if real_crm:
                app.close()
            store.close()

    @contextlib.contextmanager
    def sidecar(self, config: Mapping[str, Any], *args: str, env: Mapping[str, str] | None = None,
                wait: bool = True) -> Iterator[SidecarProcess]:
        """``suitecrm-ext -v run ARGS`` with ``config`` (written to a file); stopped (SIGTERM, then
        SIGKILL) when the block ends. ``wait``: return once the push receiver listens."""
        proc = SidecarProcess.start(self.workdir, config, args, env)
        try:
            if wait:
                proc.wait_listening()
            yield proc
        finally:
            proc.stop()

    def wait_free(self, timeout: float = 10.0) -> None:
        """Wait until nothing listens on the push port (e.g. after a killed sidecar)."""
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.push_port)) != 0:
                    return
            time.sleep(0.1)
        raise AssertionError(f"something still listens on {self.push_listen}")


def _start_on_fixed_port(make: Any, timeout: float = 10.0) -> Any:
    """Start a server on the fixed port, retrying while a previous holder releases it."""
    deadline = time.monotonic() + timeout
    while True:
        server = make()
        try:
            return server.start()
        except OSError:
            server.validator.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class SidecarProcess:
    """A running ``suitecrm-ext run``; its output (stdout and stderr) is collected in :attr:`log`."""

    def __init__(self, popen: subprocess.Popen, config_path: Path):
        self.popen = popen
        self.config_path = config_path
        self.lines: list[str] = []
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, workdir: Path, config: Mapping[str, Any], args: tuple[str, ...],
              env: Mapping[str, str] | None) -> SidecarProcess:
        fd, name = tempfile.mkstemp(prefix="sidecar-", suffix=".yaml", dir=workdir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(dict(config), f, allow_unicode=True, sort_keys=False)
        full_env = {**os.environ, "SUITECRM_EXT_CONFIG": name, **(env or {})}
        cmd = [sys.executable, "-c", "from suitecrm_ext.cli import main; main()", "-v", "run", *args]
        popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=full_env, cwd=workdir)
        return cls(popen, Path(name))

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)
            if "push receiver listening on " in line:
                self._listening.set()

    @property
    def log(self) -> str:
        """What the process wrote so far."""
        return "".join(self.lines)

    def wait_listening(self, timeout: float = 30.0) -> None:
        """Block until the push receiver listens (AssertionError with the log when the run exits)."""
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.1):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"suitecrm-ext run did not start listening:\n{self.log[-3000:]}")

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until a stderr line matches ``pattern``."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = rx.search(line)
                if m:
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{self.log[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._reader.join(timeout=5)
        return self.popen.returncode


def health(url: str) -> dict[str, Any]:
    """GET /health of a receiver."""
    return requests.get(url + "/health", timeout=5).json()
