"""The portal adapter interface: what portal_sync needs from a client portal.

The shipped adapter is :class:`~plugins.portal_sync.suitecrm_portal.SuiteCRMPortal` (a portal that is
itself a SuiteCRM, reached through the gateway). A portal of another kind plugs in by implementing
:class:`PortalAdapter` and naming the class in ``plugins.portal_sync.adapter: package.module:Class``;
the class is built with ``Class(settings, store)`` (the plugin's settings, the state store).

The interface speaks SuiteCRM's data model, as the internal CRM does: modules ``Accounts``,
``Contacts``, ``Cases``, ``AOP_Case_Updates`` (a case's thread; ``internal`` is never sent), ``Notes``
(attachments); field names are the portal's (``portal_field`` in the rules maps them); ids are the
portal's. An adapter for another portal translates to and from its own storage. Rules every adapter
keeps:

- :meth:`create` takes the id the sidecar chose and is repeat-safe (a second call with the same id
  updates the record), so a crash between creating and noting the id never makes a duplicate;
- :meth:`get` returns None for a record that is gone (missing or deleted), and the values it returns
  include ``created_by`` and ``modified_user_id`` as *login* ids (who did it: the sync checks that a
  client changes only their own organisation's records);
- :meth:`poll` queues the portal's changes as events of origin :data:`ORIGIN` (``suitecrm_ext``'s
  ``ChangeFeed(..., origin=ORIGIN)`` does that for any CRM-shaped portal); a portal that can push
  posts them to the sidecar's ``/o/portal/events`` instead;
- every method raises ``suitecrm_ext`` errors (``TransientError`` when the portal is down: the
  sync retries; ``NotFound``, ``ValidationError``, ``PermissionDenied``), never its own.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suitecrm_ext import Attachment, Check, Record, WatchSpec

#: the origin of portal events (``Event.origin``, ``POST /o/portal/events``)
ORIGIN = "portal"


@dataclass(frozen=True)
class Person:
    """Who a portal login is for: name and e-mail (the login name is the e-mail address)."""

    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True)
class LoginState:
    """A portal login as the portal sees it: does it exist, may it log in, has its owner registered."""

    exists: bool
    active: bool = False
    registered_at: dt.datetime | None = None
    user_name: str = ""


class PortalAdapter(abc.ABC):
    """A client portal (see the module docstring for the rules every adapter keeps)."""

    #: a short name for messages and ``portal status``
    name: str = "portal"

    # --- records ------------------------------------------------------------------------------

    @abc.abstractmethod
    def get(self, module: str, portal_id: str, fields: Sequence[str]) -> Record | None:
        """The record with these fields (plus ``created_by``, ``modified_user_id``), or None if gone."""

    @abc.abstractmethod
    def create(self, module: str, portal_id: str, values: Mapping[str, Any]) -> None:
        """Create under ``portal_id`` (chosen by the sidecar); repeat-safe."""

    def create_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`create` for many rows (each with its ``id``); override to batch (initial sync)."""
        for row in rows:
            self.create(module, row["id"], {k: v for k, v in row.items() if k != "id"})

    @abc.abstractmethod
    def update(self, module: str, portal_id: str, values: Mapping[str, Any]) -> None:
        """Change some fields of an existing record (NotFound when it is gone)."""

    @abc.abstractmethod
    def delete(self, module: str, portal_id: str) -> None:
        """Remove a record (NotFound when it is gone)."""

    @abc.abstractmethod
    def relate(self, module: str, portal_id: str, link: str, other_ids: Sequence[str]) -> None:
        """Relate records through a SuiteCRM link (``Contacts`` ``accounts``, ``Cases`` ``contacts``)."""

    @abc.abstractmethod
    def changed_since(
        self, module: str, since: dt.datetime | None, fields: Sequence[str]
    ) -> Iterator[Record]:
        """Live records modified at or after ``since`` (all when None), oldest first (``portal resync``)."""

    # --- files ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_file(self, note_id: str) -> Attachment | None:
        """The file of a Note (None when it has none)."""

    @abc.abstractmethod
    def put_file(self, note_id: str, filename: str, content: bytes) -> None:
        """Attach a file to an existing Note."""

    # --- change detection -----------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The portal's "now" (aware UTC): the sync notes when it first used the portal in its time."""
        return dt.datetime.now(dt.timezone.utc)

    @abc.abstractmethod
    def poll(
        self, store: Any, specs: Sequence[WatchSpec], *, start: dt.datetime, lock_owner: str | None = None
    ) -> int:
        """Queue the portal's changes since the last poll as events of origin ``portal`` (the first
        poll from ``start``: when the sync first used the portal); returns how many."""

    # --- organisations and logins ----------------------------------------------------------------

    @abc.abstractmethod
    def ensure_organisation(self, group_id: str, name: str) -> str:
        """The access group of a client organisation under ``group_id`` (chosen by the sidecar; created
        when missing, repeat-safe; ``name`` is shown); returns its id. Logins in the group see the
        records :meth:`share`\\ d with it, and nothing of other organisations."""

    @abc.abstractmethod
    def rename_organisation(self, group_id: str, name: str) -> None:
        """Give the organisation's group a new display name."""

    @abc.abstractmethod
    def share(self, group_id: str, module: str, portal_ids: Sequence[str]) -> None:
        """Make records visible to the organisation's logins (harmless when already shared)."""

    @abc.abstractmethod
    def create_login(self, login_id: str, group_id: str, person: Person) -> None:
        """Create (repeat-safe, under ``login_id``) an active login for ``person`` in the organisation,
        limited to what the portal role allows; it has no password until its owner registers."""

    @abc.abstractmethod
    def send_registration(self, login_id: str) -> None:
        """Send the login's owner the one-time link to choose a password (registration)."""

    @abc.abstractmethod
    def login_state(self, login_id: str) -> LoginState:
        """Whether the login exists, may log in, and when its owner registered (set a password)."""

    @abc.abstractmethod
    def set_login_active(self, login_id: str, active: bool) -> None:
        """Allow or stop the login (disabling it locks the client out at once)."""

    # --- administration ---------------------------------------------------------------------------

    def setup(self) -> list[str]:
        """Prepare the portal once (roles, ...); returns what was done, one line each."""
        return []

    def checks(self) -> list[Check]:
        """Doctor lines: portal reachable, prepared."""
        return []

    def close(self) -> None:
        """Release connections."""
        return None
