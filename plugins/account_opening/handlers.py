"""After a change was saved: keep the decision, tell the next role, number the account, inherit groups.

Every step is idempotent, so a re-delivered event (at least once) or a retry after a crash ends in the
same state: the decision log and the notices are keyed by the event's key, the account number by the
application (numbering.py), inheriting groups and composing an address write only what is missing.

- An application, licence or address created, or given its client (a relationship event), gets the
  client's security groups: SuiteCRM copies them only for web-UI saves, never for API creates.
- A status change is logged in the decision log (who, when, from, to, decision, comment) and the
  comment box is emptied for the next decision; then the effects of the new status run (flow.yaml,
  ``on_enter``): the core's ``notify`` — a Task and an e-mail for each user the spec names (the next
  role's users in the client's groups; a Note when there is nobody) — and ``open_account`` — the
  account number and opening date.
- ``polling_only``: no validation hook vetoed the change, so it is checked here; a forbidden one is put
  back, with a Note and a decision-log entry saying why.
- An address gets its full text composed from its parts.
"""

from __future__ import annotations

from typing import Any

from plugins.account_opening import requisites as rq
from plugins.account_opening.desk import (
    ACCOUNT_ADDRESSES_LINK,
    ACCOUNT_LICENCES_LINK,
    ADDRESSES,
    APPLICATIONS,
    CLIENT_LINK,
    CONTACT_ADDRESSES_LINK,
    LICENCES,
    ApplicationDesk,
    app_type_of,
)
from plugins.account_opening.identifiers import clean
from plugins.account_opening.numbering import series_for
from plugins.account_opening.predicates import COMMENT_FIELD
from plugins.account_opening.settings import APPLICATION_TYPES, APPLICATION_TYPES_RU
from suitecrm_ext import Cond, Event, EventKind, NotFound, all_of
from suitecrm_ext.workflow import AssigneeContext, AssigneeSpec, EffectContext, Effects, Facts, notice_key

NS = "account_opening"
#: module -> (link, parent module) whose security groups its records inherit
PARENT_LINKS = {
    APPLICATIONS: ((CLIENT_LINK, "Accounts"),),
    LICENCES: ((ACCOUNT_LICENCES_LINK, "Accounts"),),
    ADDRESSES: ((ACCOUNT_ADDRESSES_LINK, "Accounts"), (CONTACT_ADDRESSES_LINK, "Contacts")),
}
#: transition -> the decision word kept in the log
DECISIONS = {
    "submit": "submitted",
    "resubmit": "resubmitted",
    "security_approve": "approved",
    "security_return": "returned",
    "security_reject": "rejected",
    "take": "taken into opening review",
    "open": "opened",
    "opening_return": "returned",
    "opening_reject": "rejected",
}


class ApplicationEvents:
    """The plugin's reactions to saved changes, over an :class:`ApplicationDesk`."""

    def __init__(self, desk: ApplicationDesk):
        self.desk = desk
        self.s = desk.s
        self.crm = desk.crm
        self.wf = desk.wf
        self.state = desk.state
        self.log = desk.log

    def on_event(self, event: Event) -> None:
        """React to a change of an application, a licence or an address (or of their parent's link)."""
        module, kind = event.module, event.kind
        if module not in PARENT_LINKS:
            return
        if kind is EventKind.CREATED or (
            kind is EventKind.RELATED and event.link in dict(PARENT_LINKS[module])
        ):
            self.inherit_groups(module, event.record_id)
        if (
            module == APPLICATIONS
            and kind in (EventKind.CREATED, EventKind.UPDATED)
            and "status" in event.changes
        ):
            self._status(event)
        elif module == ADDRESSES and kind in (EventKind.CREATED, EventKind.UPDATED):
            self.compose_address(event.record_id)

    # --- groups and addresses --------------------------------------------------------------------

    def inherit_groups(self, module: str, record_id: str) -> list[str]:
        """Give an application (licence, address) the inheritable security groups of its client (Account,
        or Contact for an address) that it lacks; returns the names of the groups added."""
        added: list[str] = []
        for link, parent_module in PARENT_LINKS[module]:
            try:
                parents = [r.id for r in self.crm.related(module, record_id, link, ["id"])]
                for parent in parents:
                    added += [
                        g.name
                        for g in self.wf.access.inherit_groups(module, record_id, parent_module, parent)
                    ]
            except NotFound:  # the record or its parent is gone
                continue
        if added and self.log:
            self.log.info("%s %s: inherited the groups %s of its client", module, record_id, ", ".join(added))
        return added

    def compose_address(self, address_id: str) -> None:
        """Write the full address text composed from the parts (and use it as the name when there is none)."""
        try:
            rec = self.crm.get(ADDRESSES, address_id, ["name", *rq.ADDRESS_FIELDS])
        except NotFound:
            return
        full = rq.compose_address(rec.values)
        fix: dict[str, Any] = {}
        if full and str(rec.get("full_address") or "") != full:
            fix["full_address"] = full
        if full and not str(rec.get("name") or "").strip():
            fix["name"] = full[:255]
        if fix:
            self.crm.save(ADDRESSES, {"id": address_id, **fix})

    # --- status changes ----------------------------------------------------------------------------

    def _status(self, event: Event) -> None:
        try:
            app = self.desk.application(event.record_id)
        except NotFound:
            return
        machine = self.desk.machine(app.values)
        change = event.changes["status"]
        after = str(change.after or "") or machine.initial
        before = None if change.before is None else (str(change.before or "") or machine.initial)
        if event.kind is EventKind.CREATED:
            before = machine.initial
        current = machine.status_of(app.values)
        if self.s.polling_only and before is not None and before != after:
            pending = self.state.kv_get(NS, f"revert:{app.id}")
            if pending and pending.get("from") == before and pending.get("to") == after:
                self.state.kv_delete(NS, f"revert:{app.id}")  # our own revert coming back
                return
            if current == after:
                facts = Facts.of_event(event, app.values, extra={"desk": self.desk})
                verdict = machine.check(before, after, facts, self.wf.access)
                if not verdict.allowed:
                    self._revert(event, app, before, after, verdict.reason)
                    return
        if current != after or before == after:
            return  # moved on since (a later event handles the new status), or nothing moved
        candidates = machine.candidates(before, after) if before is not None else []
        transition = candidates[0].name if candidates else ""
        comment = str(event.changes[COMMENT_FIELD].after or "") if COMMENT_FIELD in event.changes else ""
        self.desk.decisions.record(
            APPLICATIONS,
            app.id,
            key=notice_key(event.key, "decision"),
            actor_id=event.user_id or "",
            flow=app_type_of(app.values),
            transition=transition,
            from_status=machine.label_of(before) if before is not None else "",
            to_status=machine.label_of(after),
            decision=DECISIONS.get(transition, transition or "changed"),
            comment=comment,
            at=event.time,
        )
        if comment and " ".join(str(app.get(COMMENT_FIELD) or "").split()) == " ".join(comment.split()):
            self.crm.save(APPLICATIONS, {"id": app.id, COMMENT_FIELD: ""})  # kept in the log; box free
        self.inherit_groups(APPLICATIONS, app.id)
        self.run_effects(event, app, after, comment)

    def run_effects(self, event: Event, app: Any, status: str, comment: str) -> None:
        """The flow's effects of entering ``status`` (the core's notify, and open_account), one by one so
        the account number reaches the notices after it; idempotent by the event's key."""
        machine = self.desk.machine(app.values)
        values = self._notice_values(app, comment)
        fx = Effects(self.wf, self.s.texts)
        fx.register("open_account", lambda ctx, **_: self._opened(app, values))
        base = notice_key(event.key, status)
        for i, effect in enumerate(machine.on_enter(status)):
            if effect.effect == "notify":
                self._warn_if_nobody(event, app, status, effect.args)
            ctx = EffectContext(
                APPLICATIONS,
                app.id,
                dict(values),
                machine.label_of(status),
                key=f"{base}:{i}",
                actor=event.user_id or "",
                previous_actor=event.user_id or "",
                url=self.desk.url(app.id),
            )
            fx.run([effect], ctx)

    def _opened(self, app: Any, values: dict) -> list[str]:
        values["number"] = self.open_account(app)
        return [f"opened {values['number']}"]

    def _notice_values(self, app: Any, comment: str) -> dict[str, Any]:
        """The application's values plus what the templates tell about: client, kind, comment, number."""
        client = self.desk.client_id(app.id)
        acc = self.desk.client(client) if client else None
        app_type = app_type_of(app.values)
        return {
            **app.values,
            "name": app.get("name") or app.id,
            "application_type": app_type,
            "client_name": (acc.get("name") if acc else "") or "(no client)",
            "client_inn": (acc.get(rq.INN) if acc else "") or "",
            "kind": APPLICATION_TYPES[app_type],
            "kind_ru": APPLICATION_TYPES_RU[app_type],
            "comment": comment,
            "number": clean(app.get("account_number")) or clean(app.get("card_account_number")),
        }

    def _warn_if_nobody(self, event: Event, app: Any, status: str, args: dict) -> None:
        """A Note on the application when a notify effect would reach nobody (no officer in its groups)."""
        spec = AssigneeSpec.model_validate(args["to"])
        users = self.wf.assignees.resolve(
            spec, AssigneeContext(APPLICATIONS, app.id, app.values, event.user_id or "")
        )
        if users:
            return
        machine = self.desk.machine(app.values)
        reason = (
            f"Nobody was told that the application is now {machine.label_of(status)}: "
            f"no active user is {spec.describe()}."
        )
        if self.log:
            self.log.warning("application %s: %s", app.id, reason)
        self._note(notice_key(event.key, status, "nobody"), app.id, "Nobody to notify", reason)

    def open_account(self, app: Any) -> str:
        """Give an opened application its account number (a card: its opening date only); returns the
        number of the account (for a card, the card's account)."""
        values = app.values
        today = self.desk.today
        if app_type_of(values) == "card_issue":
            if not values.get("opened_on"):
                self.crm.save(APPLICATIONS, {"id": app.id, "opened_on": today})
            return clean(values.get("card_account_number"))
        client = self.desk.client_id(app.id)
        form = str(self.desk.client(client).get(rq.LEGAL_FORM) or "") if client else ""
        series = series_for(
            self.s.balance_accounts,
            str(values.get("account_type") or ""),
            rq.category_of(form),
            str(values.get("currency_code") or ""),
            self.s.bank.branch,
        )
        number = self.desk.allocator().allocate(app.id, series)
        fix: dict[str, Any] = {}
        if clean(values.get("account_number")) != number:
            fix["account_number"] = number
        if not values.get("opened_on"):
            fix["opened_on"] = today
        if fix:
            self.crm.save(APPLICATIONS, {"id": app.id, **fix})
        if self.log:
            self.log.info("application %s: account %s opened", app.id, number)
        return number

    # --- polling only: put a forbidden change back -------------------------------------------------

    def _revert(self, event: Event, app: Any, before: str, after: str, reason: str) -> None:
        machine = self.desk.machine(app.values)
        # order matters for a crash: the marker, the Note and log entry (idempotent), then the revert
        self.state.kv_set(NS, f"revert:{app.id}", {"from": after, "to": before})
        self._note(
            notice_key(event.key, "revert"),
            app.id,
            f"Status change to {machine.label_of(after)} reverted",
            f"The change of status from {machine.label_of(before)} to {machine.label_of(after)} was "
            f"reverted: {reason}",
        )
        self.desk.decisions.record(
            APPLICATIONS,
            app.id,
            key=notice_key(event.key, "revert"),
            actor_id=event.user_id or "",
            flow=app_type_of(app.values),
            transition="",
            from_status=machine.label_of(before),
            to_status=machine.label_of(after),
            decision="refused (reverted)",
            comment=reason,
            at=event.time,
        )
        self.crm.save(APPLICATIONS, {"id": app.id, "status": before})
        if self.log:
            self.log.info("application %s: reverted %s -> %s: %s", app.id, before, after, reason)

    def _note(self, key: str, app_id: str, subject: str, body: str) -> str:
        """A Note on the application, made once per key (looked up in state, then in SuiteCRM)."""
        skey = f"note:{key}"
        done = self.state.kv_get(NS, skey)
        if done:
            return str(done)
        marker = f"ref: {NS} {key}"
        found = next(
            iter(
                self.crm.find(
                    "Notes",
                    all_of(Cond("parent_id", "eq", app_id), Cond("description", "like", f"%{marker}%")),
                    ["id"],
                    limit=1,
                )
            ),
            None,
        )
        note_id = (
            found.id
            if found is not None
            else self.crm.save(
                "Notes",
                {
                    "name": subject[:255],
                    "parent_type": APPLICATIONS,
                    "parent_id": app_id,
                    "description": f"{body}\n\n{marker}",
                },
            )
        )
        self.state.kv_set(NS, skey, note_id)
        return note_id


__all__ = ["DECISIONS", "NS", "ApplicationEvents"]
