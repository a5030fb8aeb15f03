"""Invitation, registration and disabling of portal logins, reflected on the internal Contact.

The internal Contact's status field (``status_field``, a dropdown of the plugin's package) is both the
manager's action and what they see:

- the manager sets **invite** (or runs ``portal invite CONTACT_ID``): the sidecar publishes the
  organisation, creates the login in the portal (in the organisation's group, with the portal role),
  has the portal e-mail its one-time password link, and sets **invited**;
- the client opens the link and chooses a password: the next ``portal-sync`` run sees it
  (``pwd_last_changed``) and sets **registered**;
- the manager sets **disabled**, or deletes the Contact (or its Account): the login is switched off
  at once (the portal refuses it) — **disabled**. Setting **invite** again switches it back on and
  sends a new link.

A problem the manager must fix (no e-mail address, no Account, the user name taken in the portal) is
recorded as a refusal (``portal status``) and leaves the status at invite; portal outages are retried.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from suitecrm_ext import CRMError, NotFound, TransientError, ValidationError, new_guid

from .adapter import Person
from .engine import LOGIN, SyncProblem
from .validation import check_value

if TYPE_CHECKING:
    from .engine import PortalSync

log = logging.getLogger("suitecrm_ext.plugins.portal_sync")

INVITED, REGISTERED, DISABLED = "invited", "registered", "disabled"


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class LoginSync:
    """Portal logins of internal Contacts (see the module docstring)."""

    def __init__(self, sync: PortalSync):
        self.sync = sync

    def invite_requested(self, contact_id: str) -> None:
        """The manager set the Contact to invite: invite, or record why not (the status stays)."""
        try:
            self.invite(contact_id)
        except SyncProblem as exc:
            self.sync.refuse("Contacts", "", contact_id, [f"invitation: {exc}"], side="internal")

    def invite(self, contact_id: str) -> dict[str, Any]:
        """Create (or re-enable) the Contact's portal login and have the registration link sent.

        Returns what was done (login id, user name, link valid until). SyncProblem when the Contact
        cannot get a login (the message is for the manager)."""
        sync = self.sync
        status_field = sync.s.status_field
        rec = sync.read_internal("Contacts", contact_id, ["first_name", "last_name", "email1", status_field])
        if rec is None:
            raise SyncProblem(f"there is no Contact {contact_id} in the internal CRM")
        email = str(rec.get("email1") or "").strip()
        problem = check_value("email1", email, sync.internal_fields("Contacts").get("email1"))
        if not email or problem is not None:
            raise SyncProblem(
                f"Contact {contact_id} needs a valid e-mail address for the portal login ({email or 'none'})"
            )
        account = sync.orgs.account_of(contact_id)
        if account is None:
            raise SyncProblem(
                f"Contact {contact_id} belongs to no Account; a portal login belongs to a "
                "client organisation: link the Contact to its Account first"
            )
        sync.orgs.publish_account(account)
        group = sync.orgs.ensure_group(account)
        sync.orgs.publish_contact(contact_id, account)
        person = Person(str(rec.get("first_name") or ""), str(rec.get("last_name") or ""), email)
        with sync.lock(LOGIN, contact_id):
            login = sync.ids.entry(LOGIN, contact_id)
            if login is None:
                login = sync.ids.link(
                    LOGIN, contact_id, new_guid(), {"status": "creating", "account": account}
                )
            try:
                sync.portal.create_login(login.right, group, person)
                sync.portal.set_login_active(login.right, True)
                # registration = the password changes after this (the portal's clock, not ours)
                before = sync.portal.login_state(login.right).registered_at
                sync.portal.send_registration(login.right)
            except (TransientError, SyncProblem):
                raise
            except (ValidationError, CRMError) as exc:
                raise SyncProblem(str(exc)) from None
            now = dt.datetime.now(dt.timezone.utc)
            until = now + dt.timedelta(minutes=sync.s.registration.link_valid_minutes)
            data = {
                **login.data,
                "status": INVITED,
                "account": account,
                "invited_at": _iso(now),
                "link_valid_until": _iso(until),
                "user_name": email.lower(),
                "password_before": _iso(before) if before else None,
            }
            data.pop("registered_at", None)
            sync.ids.update(LOGIN, contact_id, data)
        self._set_status(contact_id, INVITED)
        log.info(
            "portal_sync: invited Contact %s as portal user %s (%s); link valid until %s",
            contact_id,
            login.right,
            email.lower(),
            _iso(until),
        )
        return {
            "contact_id": contact_id,
            "login_id": login.right,
            "user_name": email.lower(),
            "account_id": account,
            "link_valid_until": _iso(until),
        }

    def disable(self, contact_id: str, *, reason: str) -> bool:
        """Switch the Contact's login off (True when there was one to switch off)."""
        sync = self.sync
        login = sync.ids.entry(LOGIN, contact_id)
        if login is None:
            return False
        with sync.lock(LOGIN, contact_id):
            login = sync.ids.entry(LOGIN, contact_id)
            if login.data.get("status") == DISABLED:
                return False
            try:
                sync.portal.set_login_active(login.right, False)
            except NotFound:
                pass  # the portal user is gone: nobody can log in with it either
            sync.ids.update(
                LOGIN,
                contact_id,
                {**login.data, "status": DISABLED, "disabled_at": _iso(dt.datetime.now(dt.timezone.utc))},
            )
        log.info("portal_sync: disabled portal user %s of Contact %s (%s)", login.right, contact_id, reason)
        return True

    def disable_organisation(self, account_id: str) -> int:
        """Every login of an organisation off (its Account was deleted)."""
        return sum(
            self.disable(p.left, reason=f"the Account {account_id} was deleted")
            for p in self.sync.ids.pairs(LOGIN)
            if p.data.get("account") == account_id
        )

    def check_registrations(self) -> int:
        """Mark invited logins whose owner chose a password as registered; returns how many."""
        sync = self.sync
        done = 0
        for pair in sync.ids.pairs(LOGIN):
            if pair.data.get("status") != INVITED:
                continue
            state = sync.portal.login_state(pair.right)
            before = _parse(pair.data.get("password_before"))
            if not state.registered_at or (before is not None and state.registered_at <= before):
                continue
            with sync.lock(LOGIN, pair.left):
                current = sync.ids.entry(LOGIN, pair.left)
                if current is None or current.data.get("status") != INVITED:
                    continue
                # the Contact first: a crash before the state write only repeats this next run
                self._set_status(pair.left, REGISTERED)
                sync.ids.update(
                    LOGIN,
                    pair.left,
                    {**current.data, "status": REGISTERED, "registered_at": _iso(state.registered_at)},
                )
            log.info("portal_sync: Contact %s registered in the portal (%s)", pair.left, state.user_name)
            done += 1
        return done

    def _set_status(self, contact_id: str, status: str) -> None:
        sync = self.sync
        try:
            sync.crm.save("Contacts", {"id": contact_id, sync.s.status_field: status})
        except NotFound:
            pass

    def rows(self) -> list[dict[str, Any]]:
        """Every login, for ``portal status``: contact, user name, status (invite expired?), times."""
        now = dt.datetime.now(dt.timezone.utc)
        out = []
        for pair in self.sync.ids.pairs(LOGIN):
            d = pair.data
            status = d.get("status", "")
            until = _parse(d.get("link_valid_until"))
            if status == INVITED and until is not None and until < now:
                status = "invited (link expired: invite again)"
            out.append(
                {
                    "contact_id": pair.left,
                    "login_id": pair.right,
                    "user_name": d.get("user_name", ""),
                    "account_id": d.get("account", ""),
                    "status": status,
                    "invited_at": d.get("invited_at", ""),
                    "registered_at": d.get("registered_at", ""),
                }
            )
        return out
