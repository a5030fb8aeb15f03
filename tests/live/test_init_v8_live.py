"""`suitecrm-ext init` with a V8 OAuth2 client on a real SuiteCRM, SuiteCRM on "another host" (no
--suitecrm-root): the client is tested, its secret lands in the env file only, packages are built for
Module Loader (none here), and a wrong client secret writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from suitecrm_ext.envfile import read_env_file

ROOT = Path(__file__).parents[2]
CLI = [sys.executable, str(ROOT / "cli.py")]


def init(config: Path, *args: str, secret: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUITECRM_", "PYTEST"))}
    env["SUITECRM_V8_CLIENT_SECRET"] = secret
    return subprocess.run([*CLI, "--config", str(config), "init", "--yes", *args], capture_output=True,
                          text=True, env=env, cwd=config.parent.parent, timeout=300)


def test_init_with_a_v8_client_credentials_login(live_lab, tmp_path):
    config = tmp_path / "etc" / "suitecrm-ext.yaml"
    client = live_lab["SUITECRM_V8_CC_CLIENT_ID"]
    # no plugin: SuiteCRM has none of their packages here, so doctor checks only the connection
    args = ("--url", live_lab.url, "--auth", "v8", "--v8-client-id", client, "--plugins", "none", "--no-push")
    wrong = init(config, *args, secret="not-the-secret")
    assert wrong.returncode == 1 and "FAIL  suitecrm.v8" in wrong.stdout, wrong.stdout + wrong.stderr
    assert "nothing was written" in wrong.stderr and not config.exists()

    out = init(config, *args, secret=live_lab["SUITECRM_V8_CC_CLIENT_SECRET"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok    suitecrm.v8 can read Accounts" in out.stdout
    data = yaml.safe_load(config.read_text())
    assert data["suitecrm"]["write_via"] == "v8"
    assert data["suitecrm"]["v8"] == {"client_id": client, "grant": "client_credentials",
                                      "client_secret": "${SUITECRM_EXT_V8_CLIENT_SECRET}"}
    env_file = read_env_file(config.with_name("suitecrm-ext.env"))
    assert env_file == {"SUITECRM_EXT_V8_CLIENT_SECRET": live_lab["SUITECRM_V8_CC_CLIENT_SECRET"]}
    assert live_lab["SUITECRM_V8_CC_CLIENT_SECRET"] not in out.stdout + out.stderr
    assert not any(on["enabled"] for on in data["plugins"].values())
    assert "push is off: nothing for config_override.php" in out.stdout
    plain = {k: v for k, v in os.environ.items() if not k.startswith("SUITECRM_")}
    doctor = subprocess.run([*CLI, "--config", str(config), "doctor"], capture_output=True, text=True,
                            timeout=300, env=plain)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
