"""The shipped portal adapter: a client portal that is itself a SuiteCRM 7 (seed: "Личный кабинет основан
на SuiteCRM"), reached through the gateway with the ``plugins.portal_sync.portal`` connection section.

In the portal SuiteCRM a client organisation is a **security group** (its Account, Contacts, Cases and
Notes are shared with it), a client login is a regular **user** (not "portal only": SuiteCRM refuses
password links to those) in that group with the **role** of ``access.role``, which disables every
module but the portal's and limits those to the group's records. ``portal setup`` creates the role
and sets its levels; SuiteCRM's APIs cannot set role levels (the REST ``set_relationship`` drops
``access_override``), so setup sets them with the core's ``RoleRights``: Role Management (``ACLRoles``
``Save``) in a web-UI session of the portal admin, the way the admin's browser would.

Registration uses SuiteCRM's own password link: the sidecar asks the portal's ``GeneratePassword``
entry point (the "forgot password" form, ``link=1``) for the login; the portal stores a one-time
link (``users_password_link``, key hashed) and e-mails it with its outbound mail settings and its
"forgot password" template. ``Changenewpassword`` lets the client choose a password once while the
link is valid (``passwordsetting.linkexpiration*``) and records ``pwd_last_changed``: that is the
moment of registration the sidecar picks up. The portal's change feed runs with ``origin="portal"``
over its own gateway (the feed runs in the job thread; MySQL connections are not shared).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import requests

from suitecrm_ext import (
    Attachment,
    ChangeFeed,
    Check,
    Cond,
    CRMError,
    NotFound,
    Record,
    TransientError,
    ValidationError,
    WatchSpec,
    build_gateway,
    transport_checks,
)
from suitecrm_ext.workflow import AccessModel, Role, RoleRights, WebUI

from .adapter import ORIGIN, LoginState, Person, PortalAdapter

log = logging.getLogger("suitecrm_ext.plugins.portal_sync")

ACTOR_FIELDS = ("created_by", "modified_user_id")


class PortalSetupError(RuntimeError):
    """``portal setup`` could not do its work; the message says what and where."""


def portal_rights(modules: Mapping[str, str], categories: Sequence[str]) -> dict[str, dict[str, str]]:
    """The portal role's rights (core ``RoleRights`` level names): the portal modules as configured,
    every other module of ``categories`` disabled.

    ``edit``: view/list/edit the organisation's records (group); ``create_own``: view/list/edit own
    records only (for modules without security groups, e.g. AOP_Case_Updates, whose thread the case
    view shows); ``view``: view/list the organisation's records. Delete, import, export and mass update
    are never allowed.
    """
    out: dict[str, dict[str, str]] = {}
    for module in categories:
        mode = modules.get(module)
        if mode is None:
            out[module] = {"access": "disabled"}
            continue
        seen = "owner" if mode == "create_own" else "group"
        edit = {"edit": "group", "create_own": "owner"}.get(mode, "none")
        out[module] = {
            "access": "enabled",
            "view": seen,
            "list": seen,
            "edit": edit,
            "delete": "none",
            "import": "none",
            "export": "none",
            "massupdate": "none",
        }
    return out


def _page_text(body: str) -> str:
    """The readable text of an HTML answer (for error messages)."""
    body = re.sub(r"(?is)<(script|style).*?</\1>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


class SuiteCRMPortal(PortalAdapter):
    """A SuiteCRM 7 client portal (see the module docstring). ``crm``/``feed_crm`` may be given
    (tests: FakeCRMs; the feed's own so the job thread never shares a connection)."""

    name = "suitecrm"

    def __init__(
        self,
        settings: Any,
        store: Any = None,
        *,
        crm: Any = None,
        feed_crm: Any = None,
        http: requests.Session | None = None,
        clock: Any = None,
    ):
        self.settings = settings
        self.store = store
        self._crm = crm
        self._feed_crm = feed_crm
        self._http = http
        self._role_id: str | None = None
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    # --- plumbing -----------------------------------------------------------------------------

    @property
    def portal_settings(self) -> Any:
        """The ``plugins.portal_sync.portal`` section (PortalSetupError when it is missing)."""
        if self.settings.portal is None:
            raise PortalSetupError(
                "plugins.portal_sync.portal is not configured: give the portal SuiteCRM's "
                "url and rest (or soap) credentials, like the suitecrm section"
            )
        return self.settings.portal

    @property
    def crm(self) -> Any:
        """The portal's gateway."""
        if self._crm is None:
            self._crm = build_gateway(self.portal_settings)
        return self._crm

    @property
    def feed_crm(self) -> Any:
        """A second gateway for the change feed (its own connections)."""
        if self._feed_crm is None:
            self._feed_crm = (
                self._crm if self.settings.portal is None else build_gateway(self.portal_settings)
            )
        return self._feed_crm

    @property
    def url(self) -> str:
        """The portal's base URL."""
        return self.portal_settings.url.rstrip("/")

    @property
    def http(self) -> requests.Session:
        """An HTTP session for the portal's entry points (own cookie jar: lab instances share a host)."""
        if self._http is None:
            self._http = requests.Session()
            self._http.verify = self.portal_settings.verify_tls
        return self._http

    def close(self) -> None:
        """Log out of the portal."""
        for crm in {id(c): c for c in (self._crm, self._feed_crm) if c is not None}.values():
            crm.close()
        if self._http is not None:
            self._http.close()

    # --- records -----------------------------------------------------------------------------

    def get(self, module: str, portal_id: str, fields: Sequence[str]) -> Record | None:
        """The record (None when missing or deleted), with who created and last changed it."""
        wanted = list(dict.fromkeys([*fields, *ACTOR_FIELDS]))
        try:
            return self.crm.get(module, portal_id, wanted)
        except NotFound:
            return None

    def create(self, module: str, portal_id: str, values: Mapping[str, Any]) -> None:
        """Create under the sidecar's id (the gateway's ``create``: a repeat updates)."""
        self.crm.create(module, dict(values), id=portal_id)

    def create_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Batched creates (REST ``set_entries`` with ``new_with_id``)."""
        self.crm.create_many(module, [dict(r) for r in rows])

    def update(self, module: str, portal_id: str, values: Mapping[str, Any]) -> None:
        """Save changed fields."""
        if values:
            self.crm.save(module, {"id": portal_id, **values})

    def delete(self, module: str, portal_id: str) -> None:
        """Soft delete."""
        self.crm.delete(module, portal_id)

    def relate(self, module: str, portal_id: str, link: str, other_ids: Sequence[str]) -> None:
        """Relationship rows through a link."""
        self.crm.relate(module, portal_id, link, list(other_ids))

    def changed_since(
        self, module: str, since: dt.datetime | None, fields: Sequence[str]
    ) -> Iterator[Record]:
        """Live records modified since ``since``, oldest first."""
        where = Cond("date_modified", "gte", since) if since is not None else None
        wanted = list(dict.fromkeys([*fields, *ACTOR_FIELDS, "date_modified"]))
        return self.crm.find(module, where=where, fields=wanted, order=["date_modified", "id"])

    def get_file(self, note_id: str) -> Attachment | None:
        """A Note's file."""
        return self.crm.get_attachment(note_id)

    def put_file(self, note_id: str, filename: str, content: bytes) -> None:
        """Attach a file to a Note."""
        self.crm.set_attachment(note_id, filename, content)

    # --- change detection ---------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The portal's "now" (aware UTC)."""
        return self.clock()

    def poll(
        self, store: Any, specs: Sequence[WatchSpec], *, start: dt.datetime, lock_owner: str | None = None
    ) -> int:
        """One pass of the portal's change feed (events of origin ``portal``) from ``start`` on."""
        feed = ChangeFeed(
            self.feed_crm,
            store,
            specs,
            origin=ORIGIN,
            start=start,
            clock=self.clock,
            overlap_seconds=self.settings.overlap_seconds,
            lock_owner=lock_owner,
        )
        return feed.poll_once()

    # --- organisations and logins -------------------------------------------------------------

    def ensure_organisation(self, group_id: str, name: str) -> str:
        """The organisation's security group under ``group_id`` (created when missing)."""
        self.crm.create(
            "SecurityGroups",
            {
                "name": self._group_name(name),
                "noninheritable": False,
                "description": "client organisation (suitecrm-ext portal_sync)",
            },
            id=group_id,
        )
        return group_id

    def rename_organisation(self, group_id: str, name: str) -> None:
        """A new display name for the group."""
        self.crm.save("SecurityGroups", {"id": group_id, "name": self._group_name(name)})

    def _group_name(self, name: str) -> str:
        return (self.settings.access.group_prefix + name)[:255]

    def share(self, group_id: str, module: str, portal_ids: Sequence[str]) -> None:
        """Put records into the organisation's group."""
        for pid in portal_ids:
            self.crm.relate(module, pid, "SecurityGroups", [group_id])

    def role_id(self) -> str:
        """The id of the portal role (``access.role``); PortalSetupError when ``portal setup`` has not run."""
        if self._role_id is None:
            role = AccessModel(self.crm).role(self.settings.access.role)
            if role is None:
                name = self.settings.access.role
                raise PortalSetupError(
                    f"the portal has no role {name!r} (plugins.portal_sync.access.role): "
                    "run `suitecrm-ext portal setup` once"
                )
            self._role_id = role.id
        return self._role_id

    def create_login(self, login_id: str, group_id: str, person: Person) -> None:
        """A regular, non-admin user named after the e-mail, in the group, with the portal role."""
        user_name = person.email.strip().lower()
        taken = [
            r.id
            for r in self.crm.find("Users", Cond("user_name", "eq", user_name), ["id"], limit=5)
            if r.id != login_id
        ]
        if taken:
            raise ValidationError(
                f"the portal already has a user named {user_name!r} ({taken[0]}); "
                "rename or remove it there first",
                fields=["user_name"],
            )
        role = self.role_id()
        self.crm.create(
            "Users",
            {
                "user_name": user_name,
                "first_name": person.first_name,
                "last_name": person.last_name or user_name,
                "email1": person.email.strip(),
                "status": "Active",
                "employee_status": "Active",
                "is_admin": False,
                "portal_only": False,
                "is_group": False,
                "show_on_employees": False,
                "receive_notifications": False,
            },
            id=login_id,
        )
        # the group by id: AccessModel's group lookups read every group, and a portal has one per client
        self.crm.relate("Users", login_id, "SecurityGroups", [group_id])
        AccessModel(self.crm).add_user_to_role(Role(role, self.settings.access.role), login_id)

    def send_registration(self, login_id: str) -> None:
        """SuiteCRM's own one-time password link, e-mailed by the portal (``GeneratePassword``)."""
        user = self.crm.get("Users", login_id, ["user_name", "email1", "status"])
        email, user_name = str(user.get("email1") or ""), str(user.get("user_name") or "")
        if not email:
            raise ValidationError(
                f"portal user {user_name or login_id} has no e-mail address", fields=["email1"]
            )
        try:
            r = self.http.post(
                f"{self.url}/index.php",
                params={"entryPoint": "GeneratePassword"},
                data={"user_name": user_name, "Users0emailAddress0": email, "link": "1"},
                timeout=self.portal_settings.timeout,
            )
        except requests.RequestException as exc:
            raise TransientError(f"portal {self.url} unreachable for GeneratePassword: {exc}") from None
        if r.status_code >= 500 or r.status_code == 429:
            raise TransientError(f"portal GeneratePassword answered HTTP {r.status_code}")
        answer = _page_text(r.text)
        if r.status_code != 200 or answer != "1":
            raise CRMError(
                f"the portal did not send the password link to {email}: "
                f"{answer[:200] or f'HTTP {r.status_code}'} (check the portal's outbound e-mail "
                "settings: Admin -> Email Settings)"
            )

    def login_state(self, login_id: str) -> LoginState:
        """From the portal user: status, and ``pwd_last_changed`` (set when the client chose a password)."""
        try:
            user = self.crm.get("Users", login_id, ["user_name", "status", "pwd_last_changed"])
        except NotFound:
            return LoginState(False)
        registered = user.get("pwd_last_changed")
        return LoginState(
            True,
            active=user.get("status") == "Active",
            registered_at=registered if isinstance(registered, dt.datetime) else None,
            user_name=str(user.get("user_name") or ""),
        )

    def set_login_active(self, login_id: str, active: bool) -> None:
        """Users.status Active / Inactive (SuiteCRM refuses logins of inactive users)."""
        self.crm.save("Users", {"id": login_id, "status": "Active" if active else "Inactive"})

    # --- administration -----------------------------------------------------------------------

    def setup(self) -> list[str]:
        """Create the portal role when missing and set its module levels (see the module docstring)."""
        done = []
        name = self.settings.access.role
        self._role_id = None
        access = AccessModel(self.crm)
        if access.role(name) is None:
            done.append(f"created role {name!r}")
        role = access.ensure_role(name, "client portal users (suitecrm-ext portal_sync)").id
        self._role_id = role
        api = getattr(self.crm, "writer", self.crm)  # acl_actions is not a module table MySQL knows
        actions = list(api.find("ACLActions", Cond("acltype", "eq", "module"), ["name", "category"]))
        categories = sorted({str(a.get("category")) for a in actions if a.get("category")})
        if not categories:
            raise PortalSetupError("the portal lists no ACL actions (is the portal user an administrator?)")
        unknown = sorted(set(self.settings.access.modules) - set(categories))
        if unknown:
            raise PortalSetupError(
                f"plugins.portal_sync.access.modules: the portal has no module(s) {', '.join(unknown)}"
            )
        changed = self.role_rights().set(role, portal_rights(self.settings.access.modules, categories))
        enabled = ", ".join(f"{m} ({mode})" for m, mode in self.settings.access.modules.items())
        done.append(f"role {name!r}: {enabled}; every other module disabled ({len(changed)} rights changed)")
        return done

    def role_rights(self) -> RoleRights:
        """The core's RoleRights over the portal: SuiteCRM's APIs cannot set role rights, so they go
        through Role Management in a web-UI session of the portal admin (the rest/soap user)."""
        if hasattr(self.crm, "acl_role_rights"):  # a FakeCRM keeps rights itself
            return RoleRights(self.crm)
        s = self.portal_settings
        section = s.rest or s.soap
        if section is None:
            raise PortalSetupError(
                "portal setup signs in to the portal's Role Management as its admin: give "
                "plugins.portal_sync.portal.rest (username, password)"
            )
        return RoleRights(
            self.crm,
            WebUI(
                s.url,
                section.username,
                section.password.get_secret_value(),
                timeout=s.timeout,
                verify=s.verify_tls,
            ),
        )

    def checks(self) -> list[Check]:
        """The portal's transports, and the portal role."""
        if self.settings.portal is None:
            return [
                Check(
                    "portal_sync: portal",
                    False,
                    "plugins.portal_sync.portal is not configured",
                    "add the portal SuiteCRM's connection (same keys as the suitecrm section)",
                )
            ]
        out = [
            Check(f"portal_sync: portal {c.name}", c.ok, c.detail, c.hint)
            for c in transport_checks(self.portal_settings)
        ]
        if all(c.ok for c in out):
            try:
                out.append(
                    Check("portal_sync: portal role", True, f"{self.settings.access.role} ({self.role_id()})")
                )
            except PortalSetupError as exc:
                out.append(
                    Check("portal_sync: portal role", False, str(exc), "run `suitecrm-ext portal setup`")
                )
        return out
