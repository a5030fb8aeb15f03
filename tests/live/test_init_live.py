"""`suitecrm-ext init` end to end on a real SuiteCRM 7.14.6, as an admin on the SuiteCRM host runs it:
flags only, credentials tested, config + 0600 env file written, the ready plugins' packages installed with
SuiteCRM's ModuleInstaller, the push secret written into config_override.php, doctor passing; then the
one printed command starts the sidecar and SuiteCRM's own logic hook is refused a forbidden change by it.

Uses the shared live kit's push address; the packages stay installed (the kit's convention, it
re-installs its own build when a later test needs one) and config_override.php is restored.
"""

from __future__ import annotations

import os
import shlex
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pymysql
import pytest

from suitecrm_ext import ValidationRefused
from suitecrm_ext.config_override import read_settings
from suitecrm_ext.envfile import read_env_file

ROOT = Path(__file__).parents[2]
CLI = [sys.executable, str(ROOT / "cli.py")]
#: what init enables by default: the ready plugins (those with a demo scene) and the packages they need
#: (the core's workflow package; account_opening's INN/KPP fields on Accounts for onec_bridge)
PLUGINS = ("account_opening", "workflow", "collegial_actions", "onec_bridge")


def clean_env(lab) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUITECRM_", "PYTEST"))}
    env["SUITECRM_PASSWORD"] = lab["SUITECRM_PASSWORD"]  # init reads it instead of a --password flag
    return env


def wait_for_health(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the sidecar exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url}/health did not answer within {timeout} s")


@pytest.fixture
def suitecrm_as_found(live_lab, live_kit):
    """The shared live kit's conventions: packages stay installed (init builds them for the kit's push
    address, so the hooks point where the other live tests' sidecars listen), config_override.php is
    restored (the kit's secret), and the kit re-installs its own build of each package when a later
    test asks for it."""
    override = live_lab.root / "config_override.php"
    original = override.read_bytes() if override.exists() else None
    st = override.stat() if override.exists() else None
    live_kit.wait_free()
    yield live_kit
    if original is None:
        override.unlink(missing_ok=True)
    else:
        override.write_bytes(original)
        if st is not None and os.geteuid() == 0:
            os.chown(override, st.st_uid, st.st_gid)
    for plugin in PLUGINS:
        live_kit.forget(plugin)


def test_init_on_the_suitecrm_host_then_the_printed_command_enforces_the_rules(
        live_lab, suitecrm_as_found, tmp_path, run_tag):
    kit = suitecrm_as_found
    url = kit.push_url
    config = tmp_path / "etc" / "suitecrm-ext.yaml"
    env = clean_env(live_lab)
    started = time.monotonic()
    out = subprocess.run([*CLI, "--config", str(config), "init", "--yes", "--url", live_lab.url,
                          "--username", live_lab["SUITECRM_USER"], "--suitecrm-root", str(live_lab.root),
                          "--listen", kit.push_listen],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    print(f"init took {took:.1f} s")
    assert "ok    suitecrm.rest authenticated: as admin" in text
    for plugin in PLUGINS:
        assert f"installed {plugin} " in out.stdout + out.stderr
    assert "[4/5] push secret written to" in text
    doctor = text.split("[5/5] doctor", 1)[1]
    assert "FAIL" not in doctor and "ok    collegial_actions module ca_CollegialActions" in doctor
    assert env["SUITECRM_PASSWORD"] not in text + out.stderr

    env_path = config.with_name("suitecrm-ext.env")
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    secret = read_env_file(env_path)["SUITECRM_EXT_PUSH_SECRET"]
    assert read_settings(live_lab.root)["secret"] == secret  # what SuiteCRM's hook will sign with
    assert secret not in text

    # the one command init printed
    command = text.strip().splitlines()[-2].strip()
    assert command == f"suitecrm-ext --config {config.resolve()} run"
    argv = shlex.split(command)
    sidecar = subprocess.Popen([*CLI, *argv[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={k: v for k, v in env.items() if k != "SUITECRM_PASSWORD"})
    crm = live_lab.gateway("rest", retries=0)
    doc = None
    try:
        wait_for_health(url, sidecar)
        doc = crm.save("Documents", {"document_name": f"{run_tag} init check", "ca_doc_type_c": "classic",
                                     "ca_status_c": "Preparation"})
        # Classic needs an approval and a signing action before it can move: SuiteCRM's before_save hook
        # asks the sidecar, which refuses; the save is aborted
        with pytest.raises(ValidationRefused) as refused:
            crm.save("Documents", {"id": doc, "ca_status_c": "Archived"})
        assert "Classic" in refused.value.reason, refused.value.reason
        with pymysql.connect(**live_lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
            cur.execute("SELECT ca_status_c FROM documents_cstm WHERE id_c = %s", (doc,))
            assert cur.fetchone() == ("Preparation",)
        # the creation reached the sidecar as a signed push and was delivered to collegial_actions
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tail = subprocess.run([*CLI, "--config", str(config), "events", "tail", "-n", "20"],
                                  capture_output=True, text=True, env=env, timeout=60).stdout
            if f"Documents {doc} created (push)" in tail and "-> collegial_actions: done" in tail:
                break
            time.sleep(0.5)
        assert f"Documents {doc} created (push)" in tail, tail
    finally:
        if doc:
            crm.delete("Documents", doc)
        crm.close()
        sidecar.send_signal(signal.SIGTERM)
        try:
            sidecar.communicate(timeout=30)
        finally:
            if sidecar.poll() is None:
                sidecar.kill()
    assert sidecar.returncode == 0
