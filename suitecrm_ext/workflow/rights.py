"""Role rights: what an ACL role allows per module (Admin → Role Management's matrix), read and set.

SuiteCRM keeps a role's rights in ``acl_roles_actions.access_override`` for each ``acl_actions`` row
(category = module, name = access | view | list | edit | delete | import | export | massupdate). Neither
REST v4_1 nor V8 can write that column: REST ``set_relationship`` on ``ACLRoles.actions`` drops the value
(the link has no relationship fields; checked on 7.14.6, the row is stored with NULL), V8 relationships
carry no fields. So :class:`RoleRights` does what an admin does: it reads the role's rights matrix (the form
Admin → Role Management edits, ``ACLRoles`` action ``EditRole``, category ``All``) and posts
SuiteCRM's own ``ACLRoles`` Save action from a web-UI session of the configured admin user (the REST
user and password; SuiteCRM's XSRF check wants a Referer on its own host). The action ids come from the
``ACLActions`` module over the gateway. With a :class:`~suitecrm_ext.testing.FakeCRM` the rights are kept
in the fake, which applies them to :meth:`FakeCRM.as_user` views as SuiteCRM does.

Levels by name (``ACL_ALLOW_*``)::

    all 90 · group 80 · owner 75 · none -99 · enabled 89 · disabled -98 · default 0 (not set)

``access`` takes enabled / disabled / default; the other actions all / group / owner / none / default.
"""

from __future__ import annotations

import html.parser
from collections.abc import Mapping
from typing import Any

import requests

from suitecrm_ext.crm.base import CRM, AuthError, Cond, CRMError, ProtocolError, TransientError
from suitecrm_ext.workflow.access import AccessModel, Role

LEVELS: dict[str, int] = {
    "all": 90,
    "group": 80,
    "owner": 75,
    "none": -99,
    "enabled": 89,
    "disabled": -98,
    "default": 0,
}
NAMES: dict[int, str] = {v: k for k, v in LEVELS.items()}
ACTIONS = ("access", "view", "list", "edit", "delete", "import", "export", "massupdate")
_ACCESS_LEVELS = ("enabled", "disabled", "default")
_OTHER_LEVELS = ("all", "group", "owner", "none", "default")

Rights = dict[str, dict[str, str]]


class RightsError(ValueError):
    """A rights table names an unknown module, action or level (the message says which)."""


def check_rights(rights: Mapping[str, Mapping[str, str | int]]) -> dict[tuple[str, str], int]:
    """``{module: {action: level}}`` → ``{(module, action): number}``; RightsError on a bad entry."""
    out: dict[tuple[str, str], int] = {}
    for module, actions in rights.items():
        if not isinstance(actions, Mapping):
            raise RightsError(f"{module}: rights are a mapping of action: level")
        for action, level in actions.items():
            if action not in ACTIONS:
                raise RightsError(f"{module}.{action}: unknown action (actions: {', '.join(ACTIONS)})")
            name = NAMES.get(level) if isinstance(level, int) else level
            allowed = _ACCESS_LEVELS if action == "access" else _OTHER_LEVELS
            if name not in allowed:
                raise RightsError(f"{module}.{action}: level {level!r} is not one of {', '.join(allowed)}")
            out[(module, action)] = LEVELS[name]
    return out


class _Selects(html.parser.HTMLParser):
    """The selected option of every ``act_guid<id>`` select of the role's edit form."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, int] = {}
        self._current: str | None = None
        self._first: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "select" and (a.get("name") or "").startswith("act_guid"):
            self._current = (a.get("name") or "")[len("act_guid") :]
            self._first = None
        elif tag == "option" and self._current is not None:
            if self._first is None:
                self._first = a.get("value")
            if "selected" in a:
                self._set(a.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._current is not None:
            if self._current not in self.values and self._first is not None:
                self._set(self._first)  # no "selected": the browser shows the first option
            self._current = None

    def _set(self, value: str | None) -> None:
        try:
            self.values[self._current] = int(value or 0)  # type: ignore[index]
        except ValueError:
            pass


class WebUI:
    """A logged-in web-UI session of SuiteCRM (the admin's), for what only the UI can do."""

    def __init__(self, url: str, username: str, password: str, *, timeout: float = 30.0, verify: bool = True):
        self.url = url.rstrip("/")
        self.username = username
        self._password = password
        self.timeout = timeout
        self.http = requests.Session()
        self.http.verify = verify
        self._logged_in = False

    def _login(self) -> None:
        try:
            r = self.http.post(
                f"{self.url}/index.php",
                data={
                    "module": "Users",
                    "action": "Authenticate",
                    "user_name": self.username,
                    "username_password": self._password,
                },
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise TransientError(
                f"SuiteCRM web UI unreachable: {type(exc).__name__}", transport="webui"
            ) from None
        if r.status_code >= 500:
            raise TransientError(f"SuiteCRM web UI login: HTTP {r.status_code}", transport="webui")
        if "action=Login" in r.url or 'name="username_password"' in r.text:
            raise AuthError(f"SuiteCRM web UI refused the login of {self.username}", transport="webui")
        self._logged_in = True

    def request(self, method: str, params: Mapping[str, str], data: Mapping[str, str] | None = None) -> str:
        """GET/POST ``index.php`` with ``params`` (and form ``data``); the answer's text."""
        if not self._logged_in:
            self._login()
        referer = f"{self.url}/index.php?module={params.get('module', 'Home')}&action=index"
        try:
            r = self.http.request(
                method,
                f"{self.url}/index.php",
                params=params,
                data=data,
                headers={"Referer": referer},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise TransientError(
                f"SuiteCRM web UI unreachable: {type(exc).__name__}", transport="webui"
            ) from None
        if r.status_code >= 500:
            raise TransientError(f"SuiteCRM web UI: HTTP {r.status_code}", transport="webui")
        if "Cross Site Request Forgery" in r.text:
            raise ProtocolError("SuiteCRM refused the request as cross-site (XSRF check)", transport="webui")
        if "action=Login" in r.url:
            raise AuthError("SuiteCRM web UI session ended", transport="webui")
        return r.text


class RoleRights:
    """Read and set role rights (see the module docstring). ``web``: a :class:`WebUI` (real SuiteCRM);
    without it the CRM itself must keep rights (FakeCRM)."""

    def __init__(self, crm: CRM, web: WebUI | None = None):
        self.crm = crm
        self.web = web
        self.access = AccessModel(crm)
        self._actions: dict[str, dict[str, str]] = {}

    @classmethod
    def for_context(cls, ctx: Any) -> RoleRights:
        """Rights over a plugin context: the web UI of ``suitecrm.url`` as the REST user (FakeCRM: none)."""
        crm = ctx.crm
        if hasattr(crm, "acl_role_rights"):
            return cls(crm)
        s = ctx.app.config.settings.suitecrm
        if s.rest is None:
            raise CRMError(
                "setting role rights needs the suitecrm.rest section (its admin user logs in to "
                "the web UI: SuiteCRM's APIs cannot write role rights)",
                transport="webui",
            )
        return cls(
            crm,
            WebUI(
                s.url,
                s.rest.username,
                s.rest.password.get_secret_value(),
                timeout=s.timeout,
                verify=s.verify_tls,
            ),
        )

    def _role(self, role: str | Role) -> Role:
        return self.access._need_role(role)

    def action_ids(self, module: str) -> dict[str, str]:
        """action name → ``acl_actions`` id of a module (module-type actions)."""
        if module not in self._actions:
            api = getattr(self.crm, "writer", self.crm)  # acl_actions is no module table MySQL knows
            found = {
                str(r.get("name")): r.id
                for r in api.find(
                    "ACLActions", Cond("category", "eq", module), ["name", "category", "acltype"]
                )
                if str(r.get("acltype") or "module") == "module" and str(r.get("category")) == module
            }
            if not found:
                raise RightsError(f"SuiteCRM has no ACL actions for module {module!r} (is it installed?)")
            self._actions[module] = found
        return self._actions[module]

    def get(self, role: str | Role, modules: list[str] | None = None) -> Rights:
        """``{module: {action: level name}}`` as the role's edit form shows it (``default`` = not set)."""
        r = self._role(role)
        if self.web is None:
            raw = self.crm.acl_role_rights(r.id)  # type: ignore[attr-defined]
            out: Rights = {}
            for (module, action), n in raw.items():
                if modules is None or module in modules:
                    out.setdefault(module, {})[action] = NAMES.get(n, str(n))
            return out
        parser = _Selects()
        parser.feed(self.web.request(
            "GET", {"module": "ACLRoles", "action": "EditRole", "record": r.id, "category_name": "All"}
        ))
        out = {}
        for module in modules or []:
            for action, aid in self.action_ids(module).items():
                if aid in parser.values:
                    out.setdefault(module, {})[action] = NAMES.get(
                        parser.values[aid], str(parser.values[aid])
                    )
        return out

    def set(self, role: str | Role, rights: Mapping[str, Mapping[str, str | int]]) -> list[str]:
        """Give the role these rights (other rights stay); returns what changed, as ``Module.action``
        lines. Idempotent: nothing is posted when the role already has them."""
        wanted = check_rights(rights)
        r = self._role(role)
        current = self.get(r, sorted({m for m, _ in wanted}))
        changes = {
            k: v for k, v in wanted.items() if LEVELS.get(current.get(k[0], {}).get(k[1], ""), None) != v
        }
        if not changes:
            return []
        if self.web is None:
            self.crm.set_acl_role_rights(r.id, changes)  # type: ignore[attr-defined]
        else:
            data = {"module": "ACLRoles", "action": "Save", "record": r.id}
            for (module, action), level in changes.items():
                aid = self.action_ids(module).get(action)
                if aid is None:
                    raise RightsError(f"{module}.{action}: SuiteCRM has no such ACL action")
                data[f"act_guid{aid}"] = str(level)
            text = self.web.request("POST", {"module": "ACLRoles", "action": "Save"}, data)
            if "role_id" not in text:
                raise ProtocolError(
                    "SuiteCRM did not confirm the role rights", excerpt=text[:300], transport="webui"
                )
        return sorted(f"{m}.{a}={NAMES[v]}" for (m, a), v in changes.items())


__all__ = ["ACTIONS", "LEVELS", "RightsError", "RoleRights", "WebUI", "check_rights"]
