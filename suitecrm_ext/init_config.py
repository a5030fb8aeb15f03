"""What ``suitecrm-ext init`` writes: the YAML config (commented) and the env file with its secrets.

:class:`InitAnswers` holds what the admin chose (flags or prompts); :func:`suitecrm_section` turns it
into the ``suitecrm:`` settings used to test the credentials before anything is written;
:func:`render_config` gives the YAML, which names every secret as ``${SUITECRM_EXT_...}``, and
:func:`env_values` the env file's variables (kept out of the YAML, written with mode 0600).
The variable names carry the ``SUITECRM_EXT_`` prefix so a ``SUITECRM_PASSWORD`` left in an admin's
shell (which would win over the file) does not shadow them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

REST_PASSWORD_VAR = "SUITECRM_EXT_REST_PASSWORD"
V8_SECRET_VAR = "SUITECRM_EXT_V8_CLIENT_SECRET"
V8_PASSWORD_VAR = "SUITECRM_EXT_V8_PASSWORD"
DB_PASSWORD_VAR = "SUITECRM_EXT_DB_PASSWORD"
PUSH_SECRET_VAR = "SUITECRM_EXT_PUSH_SECRET"


@dataclass
class MySQLAnswer:
    """A read-only database user for fast reads (``--mysql-dsn mysql://user:pw@host:port/db``)."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_dsn(cls, dsn: str) -> MySQLAnswer:
        """Parse ``mysql://user:password@host:port/database``; raises ValueError naming what is wrong."""
        parts = urlsplit(dsn)
        if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not parts.username:
            raise ValueError("expected mysql://user:password@host:port/database")
        database = parts.path.lstrip("/")
        if not database:
            raise ValueError("the DSN names no database (mysql://user:password@host:port/DATABASE)")
        try:
            port = parts.port or 3306
        except ValueError:
            raise ValueError("the port is not a number") from None
        return cls(parts.hostname, port, unquote(parts.username), unquote(parts.password or ""), database)


@dataclass
class InitAnswers:
    """Everything ``init`` needs; ``auth`` is ``rest`` (user + password) or ``v8`` (OAuth2 client)."""

    url: str
    auth: str = "rest"
    username: str = "admin"
    password: str = ""
    v8_client_id: str = ""
    v8_client_secret: str = ""
    v8_grant: str = "client_credentials"
    mysql: MySQLAnswer | None = None
    root: str | None = None
    push: bool = True
    listen: str = "127.0.0.1:8765"
    public_url: str | None = None
    push_secret: str = ""
    state_path: str = "var/state.sqlite3"
    plugins: dict[str, bool] = field(default_factory=dict)

    @property
    def sidecar_url(self) -> str:
        """How SuiteCRM reaches the push endpoint (``public_url``, else ``http://<listen>``)."""
        return (self.public_url or f"http://{self.listen}").rstrip("/")


def suitecrm_section(a: InitAnswers, *, with_secrets: bool = True) -> dict[str, Any]:
    """The ``suitecrm:`` section: with the secret values (to test the credentials) or with
    ``${VAR}`` references (for the YAML)."""
    def secret(var: str, value: str) -> str:
        return value if with_secrets else f"${{{var}}}"

    sec: dict[str, Any] = {"url": a.url.rstrip("/")}
    if a.root:
        sec["root"] = a.root
    sec["write_via"] = "v8" if a.auth == "v8" else "rest"
    sec["read_via"] = "mysql" if a.mysql else "api"
    if a.auth == "v8":
        v8: dict[str, Any] = {"client_id": a.v8_client_id,
                              "client_secret": secret(V8_SECRET_VAR, a.v8_client_secret), "grant": a.v8_grant}
        if a.v8_grant == "password":
            v8["username"] = a.username
            v8["password"] = secret(V8_PASSWORD_VAR, a.password)
        sec["v8"] = v8
    else:
        sec["rest"] = {"username": a.username, "password": secret(REST_PASSWORD_VAR, a.password)}
    if a.mysql:
        m = a.mysql
        sec["mysql"] = {"host": m.host, "port": m.port, "user": m.user,
                        "password": secret(DB_PASSWORD_VAR, m.password), "database": m.database}
    return sec


def env_values(a: InitAnswers) -> dict[str, str]:
    """The env file's variables: every secret the YAML references."""
    out: dict[str, str] = {}
    if a.auth == "v8":
        out[V8_SECRET_VAR] = a.v8_client_secret
        if a.v8_grant == "password":
            out[V8_PASSWORD_VAR] = a.password
    else:
        out[REST_PASSWORD_VAR] = a.password
    if a.mysql:
        out[DB_PASSWORD_VAR] = a.mysql.password
    if a.push_secret:
        out[PUSH_SECRET_VAR] = a.push_secret
    return out


def _y(value: Any) -> str:
    """A YAML scalar (JSON's are valid YAML). Strings are quoted, ``${VAR}`` too: a quoted reference
    stays a string whatever the variable holds (a password of digits must not become a number)."""
    return json.dumps(value, ensure_ascii=False)


def _block(data: dict[str, Any], indent: int) -> list[str]:
    pad = "  " * indent
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines.extend(_block(value, indent + 1))
        else:
            lines.append(f"{pad}{key}: {_y(value)}")
    return lines


def render_config(a: InitAnswers, env_file: str, *, notes: dict[str, str] | None = None) -> str:
    """The YAML config ``init`` writes (secrets as ``${VAR}`` from ``env_file``). ``notes``: a comment
    line per plugin (e.g. what it needs next)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"# suitecrm-ext configuration, written by `suitecrm-ext init` ({stamp}).",
        "# Every key is documented in config/suitecrm-ext.example.yaml of suitecrm-ext; check this file with",
        "# `suitecrm-ext config check` and the whole setup with `suitecrm-ext doctor`.",
        "",
        "# the secrets (${SUITECRM_EXT_...} below) live in this env file, mode 0600; variables set in the",
        "# environment win over it (systemd EnvironmentFile=, exports)",
        f"env_file: {_y(env_file)}",
        "",
        "suitecrm:",
        *_block(suitecrm_section(a, with_secrets=False), 1),
        "",
        "# the sidecar's own operational state (cursors, event queue, dead letters, job runs)",
        "state:",
        "  backend: sqlite",
        f"  path: {_y(a.state_path)}",
        "",
        "events:",
        "  push:",
        "    # the endpoint SuiteCRM's logic hook calls: changes after a save, validation before one",
        f"    enabled: {_y(a.push)}",
        f"    listen: {_y(a.listen)}",
        "    # how SuiteCRM reaches it (built into the plugins' logic hooks)",
        f"    public_url: {_y(a.sidecar_url)}",
    ]
    if a.push_secret:
        out.append("    # the same value is in SuiteCRM's config_override.php: "
                   "$sugar_config['suitecrm_ext']['secret']")
        out.append(f"    secret: \"${{{PUSH_SECRET_VAR}}}\"")
    out += ["", "# one section per installed plugin (settings: see each plugin's docs)", "plugins:"]
    for name, enabled in sorted(a.plugins.items()):
        note = (notes or {}).get(name)
        if note:
            out.append(f"  # {note}")
        out.append(f"  {name}:")
        out.append(f"    enabled: {_y(enabled)}")
    return "\n".join(out) + "\n"


def env_file_reference(config_path: Path, env_path: Path) -> str:
    """How the config names the env file: relative when it sits in the config's folder tree."""
    try:
        return str(env_path.resolve().relative_to(config_path.resolve().parent))
    except ValueError:
        return str(env_path.resolve())


def absolute(path: str, base: Path | None = None) -> str:
    """``path`` made absolute against ``base`` (default: the working directory)."""
    p = Path(os.path.expanduser(path))
    return str(p if p.is_absolute() else (base or Path.cwd()) / p)
