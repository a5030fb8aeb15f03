"""The application desk: reads applications and their clients from SuiteCRM and decides, before SuiteCRM
saves anything, whether a change may be saved.

``validate(change)`` is what the ``before_save`` hook asks (``ext_validate_record_change``):

- **applications** (``ao_Applications``): only a personal manager (or an admin) creates one, and it starts
  as Draft; a status change must be a transition of the flow allowed to the acting user's role, whose
  checks pass (requisites complete, a comment for a return/rejection, a number can be given); the content
  (type, account type, currency, card data) can only change while the application is editable (Draft,
  Returned for rework); the account number is never typed in — the sidecar gives it on opening;
- **Accounts, Contacts, Licences, Addresses**: the requisites rules of requisites.py.

After the fact, :mod:`~plugins.account_opening.handlers` keeps decisions, tells the next role, numbers the
account and inherits the client's security groups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from plugins.account_opening import requisites as rq
from plugins.account_opening.identifiers import check_account, clean
from plugins.account_opening.numbering import NumberAllocator, NumberingError, series_for
from plugins.account_opening.settings import APPLICATION_TYPES, Settings
from suitecrm_ext import CRM, NotFound, Record, RecordChange
from suitecrm_ext.workflow import DecisionLog, Facts, StateMachine, Workflow

APPLICATIONS = "ao_Applications"
LICENCES = "ao_Licences"
ADDRESSES = "ao_Addresses"
#: links of schema.yaml's relationships
CLIENT_LINK = "ao_applications_accounts"
HOLDER_LINK = "ao_applications_contacts"
DECISIONS_LINK = "ao_applications_decisions"
ACCOUNT_ADDRESSES_LINK = "ao_addresses_accounts"
CONTACT_ADDRESSES_LINK = "ao_addresses_contacts"
ACCOUNT_LICENCES_LINK = "ao_licences_accounts"

APP_FIELDS = [
    "name",
    "status",
    "application_type",
    "account_type",
    "currency_code",
    "card_type",
    "card_account_number",
    "decision_comment",
    "account_number",
    "opened_on",
    "assigned_user_id",
]
#: what may only change while the application is editable (Draft, Returned for rework)
CONTENT_FIELDS = {
    "application_type": "application type",
    "account_type": "account type",
    "currency_code": "currency",
    "card_type": "card type",
    "card_account_number": "card account",
}


def app_type_of(values: Mapping[str, Any]) -> str:
    """The application's type key (an empty or unknown one is read as account opening)."""
    t = str(values.get("application_type") or "")
    return t if t in APPLICATION_TYPES else "account_opening"


class ApplicationDesk:
    """Applications, clients and requisites over one CRM; the before-save rules.

    ``wf``: the workflow services of the hook call (roles, groups, decisions, notices); ``state``: the state
    store (account numbers); ``crm_url``: SuiteCRM's address for links in notices."""

    def __init__(
        self,
        settings: Settings,
        crm: CRM,
        wf: Workflow,
        state: Any = None,
        *,
        log: Any = None,
        crm_url: str = "",
        today: dt.date | None = None,
    ):
        self.s = settings
        self.crm = crm
        self.wf = wf
        self.state = state
        self.log = log
        self.crm_url = crm_url.rstrip("/")
        self._today = today
        self._clients: dict[str, str] = {}

    @property
    def today(self) -> dt.date:
        """Today's date (UTC), or the one the desk was given (tests)."""
        return self._today or dt.datetime.now(dt.timezone.utc).date()

    # --- reading -------------------------------------------------------------------------------

    @property
    def decisions(self) -> DecisionLog:
        """The core's decision log, relating each entry to the application's Decisions subpanel."""
        base = self.wf.decisions
        return DecisionLog(self.crm, base.module, {**base.links, APPLICATIONS: DECISIONS_LINK})

    def machine(self, values: Mapping[str, Any]) -> StateMachine:
        """The flow of an application (by its type)."""
        return self.s.machines[app_type_of(values)]

    def application(self, app_id: str) -> Record:
        """An application's values (NotFound when it does not exist)."""
        return self.crm.get(APPLICATIONS, app_id, APP_FIELDS)

    def client_id(self, app_id: str) -> str:
        """The id of the application's client (Account), "" when none is set."""
        if not app_id:
            return ""
        if app_id not in self._clients:
            try:
                rec = next(iter(self.crm.related(APPLICATIONS, app_id, CLIENT_LINK, ["id"])), None)
            except NotFound:
                rec = None
            self._clients[app_id] = rec.id if rec is not None else ""
        return self._clients[app_id]

    def client(self, account_id: str) -> Record:
        """The client Account with its requisites."""
        return self.crm.get("Accounts", account_id, ["name", *rq.ACCOUNT_FIELDS])

    def holder(self, app_id: str) -> Record | None:
        """The card holder / representative (Contact) of an application, if set."""
        try:
            rec = next(iter(self.crm.related(APPLICATIONS, app_id, HOLDER_LINK, ["id"])), None)
        except NotFound:
            return None
        if rec is None:
            return None
        return self.crm.get("Contacts", rec.id, ["first_name", "last_name", *rq.CONTACT_FIELDS])

    def addresses(self, account_id: str) -> list[Record]:
        """The client's addresses (ao_Addresses)."""
        return list(
            self.crm.related("Accounts", account_id, ACCOUNT_ADDRESSES_LINK, ["name", *rq.ADDRESS_FIELDS])
        )

    def licences(self, account_id: str) -> list[Record]:
        """The client's licences (ao_Licences)."""
        return list(
            self.crm.related("Accounts", account_id, ACCOUNT_LICENCES_LINK, ["name", *rq.LICENCE_FIELDS])
        )

    def opened_accounts(self, account_id: str) -> list[str]:
        """Account numbers opened for the client (its opened account-opening applications)."""
        out = []
        for rec in self.crm.related(
            "Accounts", account_id, CLIENT_LINK, ["status", "application_type", "account_number"]
        ):
            if (
                rec.get("status") == "opened"
                and app_type_of(rec) == "account_opening"
                and rec.get("account_number")
            ):
                out.append(str(rec.get("account_number")))
        return out

    def allocator(self) -> NumberAllocator:
        """The bank's account-number allocator (NumberingError without a configured BIK)."""
        if not self.s.bank.bik:
            raise NumberingError("the bank's BIK is not configured (plugins.account_opening.bank.bik)")
        return NumberAllocator(self.state, self.s.bank.bik, crm=self.crm, module=APPLICATIONS)

    def url(self, app_id: str) -> str:
        """The application's DetailView in SuiteCRM ("" when the URL is not known)."""
        if not self.crm_url:
            return ""
        return f"{self.crm_url}/index.php?module={APPLICATIONS}&action=DetailView&record={app_id}"

    # --- what the checks of the flow ask ---------------------------------------------------------

    def requisites_report(self, account_id: str) -> list[str]:
        """Everything wrong with or missing from a client's requisites, one line each ([] = complete)."""
        acc = self.client(account_id)
        out = [str(p) for p in rq.account_problems(acc.values) + rq.account_gaps(acc.values)]
        addresses = self.addresses(account_id)
        legal = [a for a in addresses if a.get("kind") == "legal"]
        if not legal:
            out.append("no legal address (an Address of kind Legal on the client)")
        for a in addresses:
            out += [
                f"address {a.get('full_address') or a.get('name') or a.id}: {p}"
                for p in rq.address_problems(a.values)
            ]
        for lic in self.licences(account_id):
            out += [
                f"licence {lic.get('number') or lic.id}: {p}"
                for p in rq.licence_problems(lic.values, self.today)
            ]
        return out

    def requisites_verdict(self, facts: Facts) -> bool | str:
        """True when the client and (for a card) the holder are complete; else the first gap, named."""
        client = self.client_id(facts.record_id)
        if not client:
            return "the application has no client: choose the company (Account) it is for"
        report = self.requisites_report(client)
        if report:
            name = self.client(client).get("name") or client
            more = (
                f" (and {len(report) - 1} more; see account-opening check {client})"
                if len(report) > 1
                else ""
            )
            return f"the requisites of the client {name} are not complete: {report[0]}{more}"
        if app_type_of(facts.after) == "card_issue":
            holder = self.holder(facts.record_id)
            if holder is None:
                return "a card-issue application needs the card holder (a Contact)"
            gaps = rq.contact_problems(holder.values, self.today) + rq.contact_gaps(holder.values)
            if gaps:
                who = (
                    " ".join(p for p in (holder.get("first_name"), holder.get("last_name")) if p) or holder.id
                )
                return f"the card holder {who}: {gaps[0]}"
        return True

    def opening_verdict(self, facts: Facts) -> bool | str:
        """True when the application can be opened now (see predicates.can_open)."""
        if not self.s.bank.bik:
            return (
                "the bank's BIK is not configured (plugins.account_opening.bank.bik); ask the administrator"
            )
        values = facts.after
        if app_type_of(values) == "card_issue":
            number = clean(values.get("card_account_number"))
            if not number:
                return (
                    "a card-issue application names the account the card is for (field card_account_number)"
                )
            reason = check_account(number, self.s.bank.bik)
            if reason:
                return f"{reason} (field card_account_number)"
            client = self.client_id(facts.record_id)
            if number not in self.opened_accounts(client):
                return f"the card account {number} is not an account opened for this client at this bank"
            return True
        currency = str(values.get("currency_code") or "")
        if currency not in self.s.currencies:
            known = ", ".join(self.s.currencies)
            return f"currency {currency or '(none)'} is not one of {known} (field currency_code)"
        client = self.client_id(facts.record_id)
        category = rq.category_of(str(self.client(client).get(rq.LEGAL_FORM) or "")) if client else None
        try:
            series_for(
                self.s.balance_accounts,
                str(values.get("account_type") or ""),
                category,
                currency,
                self.s.bank.branch,
            )
        except NumberingError as exc:
            return str(exc)
        return True

    def facts(self, change: RecordChange, stored: Mapping[str, Any] | None = None) -> Facts:
        """Facts of an application change for the flow (the desk goes into ``extra`` for the checks)."""
        return Facts.of_change(change, stored, extra={"desk": self})

    # --- before save -----------------------------------------------------------------------------

    def validate(self, change: RecordChange) -> str | None:
        """None to allow the change, else the message refusing it."""
        module = change.module
        if module == APPLICATIONS:
            return self.validate_application(change)
        merged = {**dict(change.before or {}), **dict(change.after or {})}
        if module == "Accounts":
            return rq.first_problem(
                rq.account_problems(merged), f"account {merged.get('name') or ''}".strip()
            )
        if module == "Contacts":
            return rq.first_problem(rq.contact_problems(merged, self.today), "contact")
        if module == LICENCES:
            return rq.first_problem(rq.licence_problems(merged, self.today), "licence")
        if module == ADDRESSES:
            return rq.first_problem(rq.address_problems(merged), "address")
        return None

    def validate_application(self, change: RecordChange) -> str | None:
        """The rules for applications (see the module docstring)."""
        access = self.wf.access
        actor = change.user_id or ""
        roles = self.s.roles
        if change.is_new:
            if actor and not access.is_admin(actor) and not access.has_role(actor, roles.manager):
                have = ", ".join(r.name for r in access.user_roles(actor)) or "no role"
                return (
                    f"Only a user with the role {roles.manager} creates applications; "
                    f"{access.user(actor).display} has {have}."
                )
            values = dict(change.after)
            machine = self.machine(values)
            status = str(values.get(machine.field) or "") or machine.initial
            if status != machine.initial:
                return (
                    f"A new application starts as {machine.label_of(machine.initial)}, "
                    f"not {machine.label_of(status)}."
                )
            if clean(values.get("account_number")):
                return "The account number is given when the account is opened; leave it empty."
            return None
        stored = None
        if "status" not in change.before or "application_type" not in change.before:
            stored = self.application(change.record_id).values  # a partial fetched_row: read the rest
        facts = self.facts(change, stored)
        before, after = facts.before or {}, facts.after
        machine = self.machine(before)
        old, new = machine.status_of(before), machine.status_of(after)
        for name, label in CONTENT_FIELDS.items():
            if name in after and str(after.get(name) or "") != str(before.get(name) or ""):
                if old not in self.s.editable_statuses:
                    editable = " or ".join(machine.label_of(s) for s in self.s.editable_statuses)
                    return (
                        f"The {label} of an application can only be changed while it is {editable}; "
                        f"this one is {machine.label_of(old)}."
                    )
        number = clean(after.get("account_number"))
        if number != clean(before.get("account_number")):
            given = (
                self.allocator().number_of(change.record_id)
                if self.state is not None and self.s.bank.bik
                else None
            )
            if number != (given or ""):
                return (
                    "The account number is given by the bank's numbering when the account is opened; "
                    "it cannot be typed in or changed."
                )
        if new != old:
            verdict = machine.check(old, new, facts, access)
            if not verdict.allowed:
                return verdict.reason
        return None


__all__ = ["APPLICATIONS", "APP_FIELDS", "ApplicationDesk", "app_type_of"]
