"""Secrets from the config never reach a log line, in text or JSON, in messages, args or tracebacks."""

from __future__ import annotations

import io
import json
import logging

import pytest

from suitecrm_ext.config import load_config_text
from suitecrm_ext.logs import LoggingSnapshot, add_secrets, setup_logging

CONFIG = """
suitecrm:
  url: http://crm.example.com
  rest:
    username: admin
    password: ${PW}
  v8:
    client_id: sidecar
    client_secret: plain-client-secret-42
smtp:
  password: smtp-pass-7
"""


@pytest.fixture(autouse=True)
def _put_logging_back():
    # these tests call setup_logging() directly (the CLI restores logging itself when a command ends)
    snap = LoggingSnapshot.take()
    yield
    snap.restore()


@pytest.fixture
def secrets():
    cfg = load_config_text(CONFIG, env={"PW": "hunter2-from-env"})
    return cfg.secrets


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_password_from_config_never_reaches_a_log_line(secrets, fmt):
    assert {"hunter2-from-env", "plain-client-secret-42", "smtp-pass-7"} <= secrets
    out = io.StringIO()
    setup_logging("DEBUG", fmt, secrets, stream=out)
    log = logging.getLogger("suitecrm_ext.test")
    log.info("login with password hunter2-from-env")
    log.warning("token request %s", {"client_secret": "plain-client-secret-42"})
    try:
        raise RuntimeError("SMTP auth failed for smtp-pass-7")
    except RuntimeError:
        log.exception("mail failed")
    logging.getLogger("urllib3.connectionpool").warning("POST body password=hunter2-from-env")
    text = out.getvalue()
    for s in ("hunter2-from-env", "plain-client-secret-42", "smtp-pass-7"):
        assert s not in text
    assert text.count("***") >= 4
    if fmt == "json":
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert lines[0]["message"] == "login with password ***"
        assert lines[0]["logger"] == "suitecrm_ext.test"


def test_secrets_learned_at_run_time_are_redacted_too():
    out = io.StringIO()
    setup_logging("INFO", "text", (), stream=out)
    add_secrets(["eyJhbGciOiJSUzI1NiJ9.token"])
    logging.getLogger("suitecrm_ext.x").info("Bearer eyJhbGciOiJSUzI1NiJ9.token")
    assert "eyJhbGciOiJSUzI1NiJ9" not in out.getvalue()


def test_plugin_loggers_are_in_the_same_tree():
    out = io.StringIO()
    setup_logging("INFO", "text", ["s3cret"], stream=out)
    logging.getLogger("suitecrm_ext.plugins.hello").info("greeting s3cret")
    assert "suitecrm_ext.plugins.hello: greeting ***" in out.getvalue()
