"""Real SuiteCRM instances for live tests: the env files written by ``../shared/suitecrm/lab.sh``.

``lab.sh up --name crm`` provisions a SuiteCRM 7.14.6 and prints the path of an env file of shell
``export NAME=value`` lines (URL, admin password, V8 OAuth2 clients, DB users). :func:`read_lab_env`
parses one into a :class:`LabInstance`, which builds ``suitecrm:`` config sections (and gateways) for
each transport. The testing kit's ``live_lab`` / ``live_crm`` fixtures read the file named by
``$SUITECRM_EXT_LIVE_ENV``; ``$SUITECRM_EXT_LIVE_PORTAL_ENV`` names a second instance (the client portal).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LIVE_ENV_VAR = "SUITECRM_EXT_LIVE_ENV"
LIVE_PORTAL_ENV_VAR = "SUITECRM_EXT_LIVE_PORTAL_ENV"
#: set to 1 (CI does) to make a missing or unreadable env file a test failure instead of a skip
LIVE_REQUIRED_VAR = "SUITECRM_EXT_LIVE_REQUIRED"

_REQUIRED_KEYS = ("SUITECRM_URL", "SUITECRM_USER", "SUITECRM_PASSWORD")
TRANSPORT_FLAVOURS = ("rest", "v8", "v8_password", "soap", "mysql")


class LabEnvError(Exception):
    """The env file is missing, unreadable or lacks a key; the message names the file (and key)."""


@dataclass
class LabInstance:
    """One provisioned SuiteCRM: its env file's variables, with helpers to reach it."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        try:
            return self.env[key]
        except KeyError:
            raise LabEnvError(f"{self.path}: no {key}= line (is it a lab.sh env file?)") from None

    @property
    def name(self) -> str:
        """The instance name given to ``lab.sh up --name``."""
        return self.env.get("SUITECRM_LAB_NAME", self.path.stem)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080``."""
        return self["SUITECRM_URL"].rstrip("/")

    @property
    def root(self) -> Path:
        """The SuiteCRM tree on this host (for package install, config_override.php)."""
        return Path(self["SUITECRM_ROOT"])

    @property
    def soap_patched(self) -> bool:
        """Whether nusoap was patched so SOAP works on PHP 8 (``lab.sh up --patch-soap``)."""
        return self.env.get("SUITECRM_SOAP_PATCHED", "0") == "1"

    def mysql_section(self, *, read_only: bool = True) -> dict[str, Any]:
        """A ``suitecrm.mysql`` section: the read-only user by default, else the app's own user."""
        user_key, pw_key = (("SUITECRM_RO_DB_USER", "SUITECRM_RO_DB_PASSWORD") if read_only
                            else ("SUITECRM_DB_USER", "SUITECRM_DB_PASSWORD"))
        return {"host": self.env.get("SUITECRM_DB_HOST", "127.0.0.1"),
                "port": int(self.env.get("SUITECRM_DB_PORT", "3306")),
                "user": self[user_key], "password": self[pw_key], "database": self["SUITECRM_DB_NAME"]}

    def db_params(self, *, read_only: bool = False) -> dict[str, Any]:
        """pymysql.connect() keyword arguments for the instance's database (the app user by default)."""
        s = self.mysql_section(read_only=read_only)
        return {"host": s["host"], "port": s["port"], "user": s["user"], "password": s["password"],
                "database": s["database"], "charset": "utf8mb4", "autocommit": True}

    def suitecrm_section(self, write_via: str = "rest", *, read_via: str = "api",
                         v8_grant: str = "client_credentials", mysql: bool | None = None,
                         **extra: Any) -> dict[str, Any]:
        """A ``suitecrm:`` config section for this instance with every API transport configured.

        ``write_via`` is rest | v8 | soap; ``read_via`` api | mysql (the read-only DB user). ``mysql``
        forces the MySQL section in or out (default: in when reading from it).
        """
        sec: dict[str, Any] = {
            "url": self.url, "write_via": write_via, "read_via": read_via,
            "rest": {"username": self["SUITECRM_USER"], "password": self["SUITECRM_PASSWORD"]},
            "soap": {"username": self["SUITECRM_USER"], "password": self["SUITECRM_PASSWORD"]},
        }
        if v8_grant == "password":
            sec["v8"] = {"client_id": self["SUITECRM_V8_PASSWORD_CLIENT_ID"],
                         "client_secret": self["SUITECRM_V8_PASSWORD_CLIENT_SECRET"], "grant": "password",
                         "username": self["SUITECRM_USER"], "password": self["SUITECRM_PASSWORD"]}
        else:
            sec["v8"] = {"client_id": self["SUITECRM_V8_CC_CLIENT_ID"],
                         "client_secret": self["SUITECRM_V8_CC_CLIENT_SECRET"]}
        if mysql or (mysql is None and read_via == "mysql"):
            sec["mysql"] = self.mysql_section(read_only=True)
        sec.update(extra)
        return sec

    def settings(self, write_via: str = "rest", **kw: Any):
        """The validated ``SuiteCRMSettings`` for :meth:`suitecrm_section`."""
        from suitecrm_ext.config import SuiteCRMSettings

        return SuiteCRMSettings.model_validate(self.suitecrm_section(write_via, **kw))

    def transport(self, flavour: str = "rest", **kw: Any):
        """One bare transport: rest | v8 (client credentials) | v8_password | soap | mysql (read-only)."""
        from suitecrm_ext.crm.gateway import build_transport

        if flavour not in TRANSPORT_FLAVOURS:
            raise ValueError(f"unknown transport {flavour!r}; expected one of "
                             f"{', '.join(TRANSPORT_FLAVOURS)}")
        if flavour == "mysql":
            return build_transport(self.settings("rest", mysql=True, **kw), "mysql")
        grant = "password" if flavour == "v8_password" else "client_credentials"
        name = "v8" if flavour.startswith("v8") else flavour
        return build_transport(self.settings(name, v8_grant=grant, **kw), name)

    def gateway(self, write_via: str = "rest", **kw: Any):
        """The gateway facade, as ``ctx.crm`` would be with this instance's config."""
        from suitecrm_ext.crm.gateway import build_gateway

        return build_gateway(self.settings(write_via, **kw))


def read_lab_env(path: str | os.PathLike[str]) -> LabInstance:
    """Parse a lab.sh env file (``export NAME=value`` lines, values possibly shell-quoted)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabEnvError(f"cannot read the lab env file {p}: {exc.strerror or exc}") from None
    env: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, raw = line.partition("=")
        if not sep or not key.isidentifier():
            raise LabEnvError(f"{p}:{lineno}: not an 'export NAME=value' line")
        try:
            parts = shlex.split(raw) if raw else [""]
        except ValueError as exc:
            raise LabEnvError(f"{p}:{lineno}: {key}: {exc}") from None
        env[key] = parts[0] if parts else ""
    inst = LabInstance(p, env)
    for key in _REQUIRED_KEYS:
        inst[key]  # noqa: B018 - raises LabEnvError naming the missing key
    return inst


def live_instance(var: str = LIVE_ENV_VAR) -> LabInstance | None:
    """The instance named by the environment variable ``var``, or None when it is not set."""
    path = os.environ.get(var, "").strip()
    return read_lab_env(path) if path else None


def live_required() -> bool:
    """Whether a missing live instance must fail the run (CI) instead of skipping the live layer."""
    return os.environ.get(LIVE_REQUIRED_VAR, "").strip() not in ("", "0", "false", "no")
