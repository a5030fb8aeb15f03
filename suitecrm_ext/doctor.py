"""Doctor checks: one line each, ok, WARN or FAIL with why and a hint.

The checks themselves are hook implementations: the core's (config, SuiteCRM transports, push
receiver, state store, plugins, config warnings) are in ``suitecrm_ext.builtin.checks``, a plugin's
in its ``ext_doctor_checks``; :func:`run_checks` asks every enabled plugin, the core's own first.

The doctor asks the gateway: it builds each configured transport with :func:`build_transport` and calls
it like any client would (the gateway does not know about the doctor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suitecrm_ext.crm.base import AuthError, CRMError, NotFound, PermissionDenied, TransientError
from suitecrm_ext.crm.gateway import API_TRANSPORTS, build_transport, configured

if TYPE_CHECKING:
    from suitecrm_ext.config import SuiteCRMSettings


@dataclass(frozen=True)
class Check:
    """The result of one doctor check. ``hint`` tells the admin what to do when it fails.

    A *warning* (``Check.warn(...)``) is something that works but probably not as the admin expects;
    it is printed as ``WARN`` and does not make ``doctor`` fail.
    """

    name: str
    ok: bool
    detail: str = ""
    hint: str = ""
    warning: bool = False

    @classmethod
    def warn(cls, name: str, detail: str, hint: str = "") -> Check:
        """A warning: shown as ``WARN``, never a failure."""
        return cls(name, True, detail, hint, warning=True)

    @property
    def failed(self) -> bool:
        """True for a failed check (not for a warning)."""
        return not self.ok and not self.warning

    def line(self) -> str:
        """The one-line form the CLI prints."""
        if self.warning:
            return f"WARN  {self.name}: {self.detail}" + (f" (hint: {self.hint})" if self.hint else "")
        if self.ok:
            return f"ok    {self.name}" + (f": {self.detail}" if self.detail else "")
        text = f"FAIL  {self.name}: {self.detail or 'failed'}"
        return text + (f" (hint: {self.hint})" if self.hint else "")


def plugin_checks(registry) -> list[Check]:
    """One check per installed plugin: loaded (and enabled or not), or the load error."""
    out = []
    for name, info in sorted(registry.infos.items()):
        if info.error:
            out.append(Check(f"plugin {name}", False, info.error, "fix or uninstall the plugin, "
                             f"or set plugins.{name}.enabled: false"))
        else:
            out.append(Check(f"plugin {name}", True, f"{info.version} " + ("enabled" if info.enabled
                                                                           else "disabled")))
    return out


def core_checks(app) -> list[Check]:
    """Checks of the core services: state store, and each configured SuiteCRM transport."""
    checks: list[Check] = [Check("config", True, str(app.config.path or "<config>"))]
    checks.extend(transport_checks(app.config.settings.suitecrm))
    from suitecrm_ext.events.push import push_settings_problems

    for _key, message in push_settings_problems(app.config.settings.events.push):
        checks.append(Check("push receiver", False, message, "fix events.push in the config, or set "
                            "events.push.enabled: false"))
    try:
        app.state.ping()
        checks.append(Check("state store", True, app.config.settings.state.backend))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("state store", False, str(exc), "check the state: section of the config"))
    return checks


def run_checks(app, registry) -> list[Check]:
    """Every enabled plugin's ``ext_doctor_checks``: the core's own first (core checks, plugin load
    checks, config warnings), then each plugin's. A registry without the core's plugins
    (``PluginRegistry.from_plugins``) gets the core checks all the same."""
    checks: list[Check] = []
    if not registry.builtins:
        from suitecrm_ext.builtin.checks import core_doctor_checks

        checks.extend(core_doctor_checks(app, registry))
    for name in registry.active:
        try:
            checks.extend(registry.call_one(name, "ext_doctor_checks", ctx=app.for_plugin(name)) or [])
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(f"plugin {name} checks", False, f"{type(exc).__name__}: {exc}"))
    return checks


# --- transport checks ------------------------------------------------------------------------------------

_HINTS = {
    ("rest", "reach"): "check suitecrm.url and that {url}/service/v4_1/rest.php answers (network, TLS)",
    ("soap", "reach"): "check suitecrm.url and suitecrm.soap.wsdl; stock 7.14 on PHP 8 breaks SOAP "
                       "(SuiteCRM#9741): prefer rest or v8",
    ("v8", "reach"): "check suitecrm.url and that {url}/Api/access_token answers (V8 needs the OAuth2 keys "
                     "in Api/V8/OAuth2)",
    ("mysql", "reach"): "check suitecrm.mysql.host/port (or unix_socket) and that the server listens",
    ("rest", "auth"): "check suitecrm.rest.username / password (an active SuiteCRM user)",
    ("soap", "auth"): "check suitecrm.soap.username / password (an active SuiteCRM user)",
    ("v8", "auth"): "check suitecrm.v8.client_id / client_secret (Admin -> OAuth2 Clients) and the grant",
    ("mysql", "auth"): "check suitecrm.mysql.user / password / database (GRANT SELECT ON <db>.* TO the user)",
    ("rest", "read"): "the user's role must allow list/view of Accounts",
    ("soap", "read"): "the user's role must allow list/view of Accounts",
    ("v8", "read"): "the OAuth2 client's user must be allowed to list Accounts",
    ("mysql", "read"): "GRANT SELECT on SuiteCRM's tables to the MySQL user; map modules with "
                       "suitecrm.mysql.tables",
}


def transport_checks(s: SuiteCRMSettings) -> list[Check]:
    """Doctor lines for each configured transport: reachable, authenticated, can read Accounts, version.

    Each transport is built with retries off (a doctor should answer now, not after backoff). The
    checks of one transport stop at its first failure; secrets never appear in the lines.
    """
    have = configured(s)
    if not any(n in have for n in API_TRANSPORTS):
        return [Check("suitecrm transports", False, "no API transport is configured",
                      "add a suitecrm.rest: (or v8:, soap:) section; see config/suitecrm-ext.example.yaml")]
    quick = s.model_copy(update={"retries": 0})
    secrets = _secrets(s)
    out: list[Check] = []
    for name in have:
        out.extend(_checks_for(quick, name, secrets))
    return out


def _checks_for(s: SuiteCRMSettings, name: str, secrets: list[str]) -> list[Check]:
    label = f"suitecrm.{name}"
    out: list[Check] = []

    def hint(kind: str) -> str:
        return _HINTS[(name, kind)].format(url=s.url)

    def fail(what: str, exc: BaseException, kind: str) -> list[Check]:
        out.append(Check(f"{label} {what}", False, _redact(_describe(exc), secrets), hint(kind)))
        return out

    try:
        crm = build_transport(s, name)
    except Exception as exc:  # noqa: BLE001 - a bad section must become a line, not a crash
        return fail("configured", exc, "auth")
    try:
        info: dict[str, Any] | None = None
        # 1. reachable (REST/SOAP: get_server_info needs no login; V8 and MySQL answer the login itself)
        probe: Callable[[], Any] = crm.server_info if name in ("rest", "soap") else (
            crm.ping if name == "mysql" else crm.modules)  # type: ignore[attr-defined]
        try:
            result = probe()
            if name in ("rest", "soap"):
                info = result
        except (AuthError, NotFound) as exc:
            if name in ("rest", "soap"):
                return fail("reachable", exc, "reach")
            out.append(Check(f"{label} reachable", True, _where(s, name)))
            return fail("authenticated", exc, "auth")
        except Exception as exc:  # noqa: BLE001
            return fail("reachable", exc, "reach")
        out.append(Check(f"{label} reachable", True, _where(s, name)))
        # 2. authenticated
        try:
            if name in ("rest", "soap"):
                crm.modules()
        except AuthError as exc:
            return fail("authenticated", exc, "auth")
        except Exception as exc:  # noqa: BLE001
            return fail("authenticated", exc, "auth")
        out.append(Check(f"{label} authenticated", True, _user(s, name)))
        # 3. can read Accounts
        try:
            n = crm.count("Accounts")
        except Exception as exc:  # noqa: BLE001
            return fail("can read Accounts", exc, "read")
        out.append(Check(f"{label} can read Accounts", True, f"{n} record(s)"))
        # 4. server version
        try:
            info = info if info is not None else crm.server_info()
        except Exception as exc:  # noqa: BLE001
            out.append(Check(f"{label} server version", False, _redact(_describe(exc), secrets), ""))
            return out
        out.append(Check(f"{label} server version", True, _version(name, info)))
        return out
    finally:
        try:
            crm.close()
        except Exception:  # noqa: BLE001 - closing must not hide the result
            pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CRMError):
        kind = {AuthError: "auth error", PermissionDenied: "permission denied", NotFound: "not found",
                TransientError: "unreachable"}.get(type(exc), type(exc).__name__)
        return f"{kind}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _version(name: str, info: Mapping[str, Any]) -> str:
    if name == "mysql":
        text = f"database {info.get('db_version', '?')}"
        if info.get("sugar_version"):
            text += f", sugar_version {info['sugar_version']}"
        return text
    if name == "v8":
        return "V8 JSON:API (V8 does not report the SuiteCRM version)"
    parts = []
    if info.get("suitecrm_version"):
        parts.append(f"SuiteCRM {info['suitecrm_version']}")
    if info.get("version"):
        parts.append(f"Sugar {info.get('flavor', '')} {info['version']}".replace("  ", " "))
    return ", ".join(parts) or "not reported"


def _where(s: SuiteCRMSettings, name: str) -> str:
    if name == "mysql":
        m = s.mysql
        return f"{m.unix_socket or f'{m.host}:{m.port}'}, database {m.database}"  # type: ignore[union-attr]
    return s.url


def _user(s: SuiteCRMSettings, name: str) -> str:
    sec = getattr(s, name)
    if name == "v8":
        return f"client {sec.client_id} ({sec.grant})"
    return f"as {sec.user if name == 'mysql' else sec.username}"


def _secrets(s: SuiteCRMSettings) -> list[str]:
    from suitecrm_ext.config import _collect_secrets

    return sorted(_collect_secrets(s), key=len, reverse=True)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
